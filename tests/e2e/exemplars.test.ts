/**
 * Exemplars end to end with the real Prometheus (Debian's package, 2.42): the service as a
 * process, Prometheus with `--enable-feature=exemplar-storage` scraping it every second, and
 * requests sent with a known W3C `traceparent`. Prometheus only stores exemplars that came
 * over OpenMetrics (the text format cannot carry them), so finding them through
 * `GET /api/v1/query_exemplars` also shows that the scrape negotiated OpenMetrics. Bounded in
 * time; both processes are stopped by PID.
 */
import { afterAll, describe, expect } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HTTP_DURATION_BUCKETS } from '../../src/http/http-instruments.ts'
import { ADMIN_TOKEN } from '../helpers/app.ts'
import { testWithBinary } from '../helpers/ops-tools.ts'
import { freePort, spawnPrometheus, startServer, waitFor } from '../helpers/process.ts'

const LATENCY_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const ERROR_TRACE = '0af7651916cd43dd8448eb211c80319c'
const traceparent = (traceId: string) => `00-${traceId}-00f067aa0ba902b7-01`

interface ExemplarResult {
  seriesLabels: Record<string, string>
  exemplars: Array<{ labels: Record<string, string>; value: string; timestamp: number }>
}

const cleanups: Array<() => Promise<void> | void> = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

describe('exemplars with the real Prometheus', () => {
  testWithBinary(
    'prometheus',
    'query_exemplars returns the latency bucket and the 5xx counter with the trace id sent in traceparent',
    async (prometheusPath) => {
      const dir = mkdtempSync(join(tmpdir(), 'cc-exemplars-'))
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
      const service = await startServer({ ADMIN_TOKEN, SANDBOX_LATENCY_MS: '0' })
      cleanups.push(() => service.cleanup())
      const promPort = await freePort()
      writeFileSync(
        join(dir, 'prometheus.yml'),
        [
          'global:',
          '  scrape_interval: 1s',
          'scrape_configs:',
          '  - job_name: convo-commerce',
          '    static_configs:',
          `      - targets: ['127.0.0.1:${service.port}']`,
        ].join('\n'),
      )
      const prometheus = spawnPrometheus(dir, promPort, ['--enable-feature=exemplar-storage'], prometheusPath)
      cleanups.push(() => prometheus.stop())
      const api = async (path: string) =>
        (await (await fetch(`http://127.0.0.1:${promPort}${path}`)).json()) as {
          status: string
          data: unknown
        }

      await waitFor(
        'the scrape target to be up',
        async () => {
          const targets = await api('/api/v1/targets')
          const { activeTargets } = targets.data as { activeTargets: Array<{ health: string }> }
          return activeTargets.some((t) => t.health === 'up') ? true : undefined
        },
        30_000,
      )

      // A traced request to no route (404 under endpoint="<unmatched>")…
      const sentAt = Date.now()
      const probe = await fetch(`${service.url}/e2e/no-such-route`, {
        headers: { traceparent: traceparent(LATENCY_TRACE), 'x-request-id': 'e2e-latency-1' },
      })
      expect(probe.status).toBe(404)
      // …and a traced payment the provider fails (502: an http_requests_total exemplar too).
      const call = async (
        path: string,
        token: string,
        body: unknown,
        headers: Record<string, string> = {},
      ) => {
        const res = await fetch(`${service.url}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
          body: JSON.stringify(body),
        })
        return { status: res.status, body: (await res.json()) as { id: string; apiKey: string } }
      }
      const tenant = (await call('/tenants', ADMIN_TOKEN, { name: 'Exemplars', ownerPhone: '+254711000800' }))
        .body
      const product = (
        await call('/products', tenant.apiKey, { name: 'Tea', priceMinor: 100, currency: 'KES' })
      ).body
      const order = (
        await call('/orders', tenant.apiKey, {
          customer: { phone: '+254711000801' },
          items: [{ productId: product.id, quantity: 1 }],
        })
      ).body
      const failed = await call(
        `/orders/${order.id}/payments`,
        tenant.apiKey,
        { provider: 'sandbox', source: 'tok_error' },
        { traceparent: traceparent(ERROR_TRACE), 'x-request-id': 'e2e-error-1' },
      )
      expect(failed.status).toBe(502)
      const sentUntil = Date.now()

      const exemplarsOf = async (query: string, traceId: string) => {
        const now = Date.now() / 1000
        const found = await api(
          `/api/v1/query_exemplars?query=${encodeURIComponent(query)}&start=${now - 300}&end=${now + 60}`,
        )
        const matching = (found.data as ExemplarResult[]).flatMap((series) =>
          series.exemplars
            .filter((e) => e.labels.trace_id === traceId)
            .map((exemplar) => ({ series: series.seriesLabels, exemplar })),
        )
        return matching.length > 0 ? matching : undefined
      }

      const latency = await waitFor(
        'the latency exemplar in Prometheus',
        () => exemplarsOf('http_request_duration_seconds_bucket{endpoint="<unmatched>"}', LATENCY_TRACE),
        30_000,
      )
      expect(latency).toHaveLength(1)
      const [{ series, exemplar }] = latency as [(typeof latency)[number]]
      expect({ ...series, le: undefined } as Record<string, string | undefined>).toEqual({
        __name__: 'http_request_duration_seconds_bucket',
        job: 'convo-commerce',
        instance: `127.0.0.1:${service.port}`,
        method: 'GET',
        endpoint: '<unmatched>',
        le: undefined,
      })
      expect(exemplar.labels).toEqual({ trace_id: LATENCY_TRACE, request_id: 'e2e-latency-1' })
      // On the bucket the request fell in: the lowest bound at or above its duration.
      const value = Number(exemplar.value)
      const expectedLe = HTTP_DURATION_BUCKETS.find((bound) => value <= bound)
      expect(series.le).toBe(expectedLe === undefined ? '+Inf' : String(expectedLe))
      expect(value).toBeGreaterThan(0)
      // Stamped when the service recorded it, not when Prometheus scraped it.
      expect(exemplar.timestamp * 1000).toBeGreaterThanOrEqual(sentAt - 1)
      expect(exemplar.timestamp * 1000).toBeLessThanOrEqual(sentUntil + 1)

      const errors = await waitFor(
        'the 5xx counter exemplar in Prometheus',
        () => exemplarsOf('http_requests_total{status=~"5.."}', ERROR_TRACE),
        30_000,
      )
      expect(
        errors.map((e) => [e.series.endpoint, e.series.status, e.exemplar.labels, e.exemplar.value]),
      ).toEqual([['/orders/:id/payments', '502', { trace_id: ERROR_TRACE, request_id: 'e2e-error-1' }, '1']])
    },
    90_000,
  )
})
