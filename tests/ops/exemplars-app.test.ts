/**
 * The payment exemplars, end to end: the service (its own process, its database) scraped by
 * the real Prometheus with `--enable-feature=exemplar-storage`, traced payments (a W3C
 * `traceparent` and an `x-request-id` each), and what `/api/v1/query_exemplars` then answers.
 * tests/e2e/prometheus.test.ts follows the latency bucket and the 502 counter; this one the
 * payment families the README lists (`payments_processed_total` failed and error,
 * `payment_processing_duration_seconds_bucket`) and the 128-character limit at its edge, which
 * only Prometheus' own OpenMetrics parser can hold us to (an exemplar over it fails the whole
 * scrape). Every process it starts is stopped by PID.
 */
import { afterAll, describe, expect } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify as toYaml } from 'yaml'
import { PAYMENT_DURATION_BUCKETS } from '../../src/payments/metrics.ts'
import { ADMIN_TOKEN } from '../helpers/app.ts'
import { freePort, spawnPrometheus, startServer, waitFor } from '../helpers/process.ts'
import { withBinary } from './ops-files.ts'

const prometheusTest = withBinary('prometheus', 'apt-get install -y prometheus')

const cleanups: Array<() => Promise<void> | void> = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

const SUCCEEDED = '5a1e5a1e5a1e5a1e5a1e5a1e5a1e5a1e'
const ERRORED = 'e7707e7707e7707e7707e7707e7707e7'
const DECLINED = 'dec11dec11dec11dec11dec11dec11de'
// trace_id (8 + 32) and request_id (10 + 78) are OpenMetrics' 128 characters exactly; one more
// and the request id is left out, the trace id kept.
const LONGEST_KEPT = `r-${'k'.repeat(76)}`
const ONE_TOO_LONG = `r-${'x'.repeat(77)}`

interface Exemplar {
  labels: Record<string, string>
  value: string
  timestamp: number
}
interface SeriesExemplars {
  seriesLabels: Record<string, string>
  exemplars: Exemplar[]
}

describe('payment exemplars through the real Prometheus', () => {
  prometheusTest(
    'the trace ids of the payments made, on the series the README names, and the 128-character edge',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cc-exemplars-app-'))
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
      const service = await startServer({ ADMIN_TOKEN, SANDBOX_LATENCY_MS: '0' })
      cleanups.push(() => service.cleanup())
      writeFileSync(
        join(dir, 'prometheus.yml'),
        toYaml({
          global: { scrape_interval: '1s' },
          scrape_configs: [
            { job_name: 'convo-commerce', static_configs: [{ targets: [`127.0.0.1:${service.port}`] }] },
          ],
        }),
      )
      const prometheus = spawnPrometheus(dir, await freePort(), ['--enable-feature=exemplar-storage'])
      cleanups.push(() => prometheus.stop())

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
        await call('/products', tenant.apiKey, { name: 'Tea', priceMinor: 100, currency: 'USD', stock: 10 })
      ).body
      const sentAt = Date.now()
      const pay = async (source: string, traceId: string, requestId: string) => {
        const order = await call('/orders', tenant.apiKey, {
          customer: { phone: '+254711000801' },
          items: [{ productId: product.id, quantity: 1 }],
        })
        expect(order.status).toBe(201)
        return (
          await call(
            `/orders/${order.body.id}/payments`,
            tenant.apiKey,
            { provider: 'sandbox', source },
            { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, 'x-request-id': requestId },
          )
        ).status
      }
      expect(await pay('tok_success', SUCCEEDED, 'pay-ok')).toBe(201)
      expect(await pay('tok_error', ERRORED, LONGEST_KEPT)).toBe(502)
      expect(await pay('tok_declined', DECLINED, ONE_TOO_LONG)).toBe(402)
      const sentUntil = Date.now()

      const exemplarsOf = async (query: string): Promise<SeriesExemplars[]> => {
        const now = Date.now() / 1000
        const params = new URLSearchParams({ query, start: String(now - 600), end: String(now + 60) })
        const answer = (await (await fetch(`${prometheus.url}/api/v1/query_exemplars?${params}`)).json()) as {
          status: string
          data: SeriesExemplars[]
        }
        expect(answer.status).toBe('success')
        return answer.data
      }
      const targetHealth = async () =>
        (
          (await (await fetch(`${prometheus.url}/api/v1/targets`)).json()) as {
            data: { activeTargets: Array<{ health: string; lastError: string }> }
          }
        ).data.activeTargets.map((t) => [t.health, t.lastError])
      const counters = await waitFor(
        'the payment counter exemplars in Prometheus',
        async () => {
          // A failed scrape (an exemplar over 128 characters fails the whole page) says why at once.
          const [[health, lastError] = []] = await targetHealth()
          if (health === 'down') throw new Error(`the scrape failed: ${lastError}`)
          const found = await exemplarsOf('payments_processed_total')
          return found.length === 2 ? found : undefined
        },
        30_000,
      )
      const instance = { instance: `127.0.0.1:${service.port}`, job: 'convo-commerce' }
      const payments = { ...instance, provider: 'sandbox', tenant_id: tenant.id }
      const stamped = (e: Exemplar) => e.timestamp * 1000 >= sentAt - 1 && e.timestamp * 1000 <= sentUntil + 1
      // A decline (failed) and a provider error; a success has none.
      expect(
        counters
          .map((s) => ({
            series: s.seriesLabels,
            exemplars: s.exemplars.map(({ labels, value }) => ({ labels, value })),
          }))
          .sort((a, b) => a.series.status!.localeCompare(b.series.status!)),
      ).toEqual([
        {
          series: { __name__: 'payments_processed_total', ...payments, status: 'error' },
          exemplars: [{ labels: { trace_id: ERRORED, request_id: LONGEST_KEPT }, value: '1' }],
        },
        {
          series: { __name__: 'payments_processed_total', ...payments, status: 'failed' },
          exemplars: [{ labels: { trace_id: DECLINED }, value: '1' }],
        },
      ])
      expect(counters.flatMap((s) => s.exemplars).every(stamped)).toBe(true)

      // Only the 5xx series of http_requests_total carry one: the 502, not the 402 or the 201s.
      const requests = await exemplarsOf('http_requests_total{endpoint="/orders/:id/payments"}')
      expect(
        requests.map((s) => [
          s.seriesLabels.status,
          s.exemplars.map(({ labels, value }) => ({ labels, value })),
        ]),
      ).toEqual([['502', [{ labels: { trace_id: ERRORED, request_id: LONGEST_KEPT }, value: '1' }]]])

      // Each provider call on the bucket it fell in (the lowest `le` at or above its duration),
      // the latest call of a bucket replacing the one before: the last payment's is there.
      const buckets = await exemplarsOf('payment_processing_duration_seconds_bucket')
      const byTrace = new Map(
        buckets.flatMap((s) =>
          s.exemplars.map((e) => [e.labels.trace_id!, { le: s.seriesLabels.le!, ...e }]),
        ),
      )
      expect([...byTrace.keys()].every((id) => [SUCCEEDED, ERRORED, DECLINED].includes(id))).toBe(true)
      const declined = byTrace.get(DECLINED)
      expect(declined?.labels).toEqual({ trace_id: DECLINED })
      for (const { le, value } of byTrace.values()) {
        const lowest = PAYMENT_DURATION_BUCKETS.find((bound) => Number(value) <= bound)
        expect(le).toBe(lowest === undefined ? '+Inf' : String(lowest))
      }
      // One exemplar a bucket, never the same call twice.
      expect(buckets.map((s) => s.exemplars.length)).toEqual(buckets.map(() => 1))
      expect(byTrace.size).toBe(buckets.length)
      expect([...byTrace.values()].every(stamped)).toBe(true)
      expect(await targetHealth()).toEqual([['up', '']])
    },
    90_000,
  )
})
