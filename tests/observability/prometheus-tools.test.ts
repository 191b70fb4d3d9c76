import { describe, expect } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Elysia } from 'elysia'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { buildTestApp } from '../helpers/app.ts'
import { testWithBinary } from '../helpers/ops-tools.ts'
import { freePort } from '../helpers/process.ts'
import { exemplars } from '../helpers/scrape.ts'

const TOKEN = 'prometheus-scrape-token-42'
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const traced = { headers: { traceparent: `00-${TRACE}-00f067aa0ba902b7-01` } }
const OPEN_METRICS = 'application/openmetrics-text; version=1.0.0'

/** The app with traffic in every family it defines. */
async function busyApp(env: Record<string, string> = {}) {
  const built = await buildTestApp({ env })
  built.app.use(
    new Elysia()
      .get('/probe/items/:id', ({ params }) => ({ id: params.id }))
      .get('/probe/boom', () => {
        throw new Error('boom')
      }),
  )
  const token = env.METRICS_TOKEN
  // Traced, so the OpenMetrics scrape has exemplars on buckets and on the 5xx counter.
  await built.call('/probe/items/1', traced)
  await built.call('/probe/boom', traced)
  await built.call('/no/such/path')
  await built.call('/probe/items/1', { method: 'PURGE' })
  const { business, observeQuery } = built.deps.metrics
  business.orderCreated({ tenantId: 'tenant-a', channel: 'whatsapp' })
  business.paymentProcessed({ tenantId: 'tenant-a', provider: 'sandbox', status: 'succeeded' })
  business.paymentProviderDuration({ provider: 'sandbox', seconds: 0.02, traceId: TRACE, requestId: 'r-1' })
  business.productViewed({ tenantId: 'tenant-a', productId: 'p-"1"', channel: 'web' })
  observeQuery!({ operation: 'select', table: 'products' }, 0.0012)
  await built.call('/metrics', { token })
  return built
}

function promtool(path: string, text: string) {
  const run = Bun.spawnSync([path, 'check', 'metrics'], { stdin: new TextEncoder().encode(text) })
  return { exitCode: run.exitCode, output: (run.stdout.toString() + run.stderr.toString()).trim() }
}

describe('promtool check metrics', () => {
  testWithBinary('promtool', 'a real scrape has no parse error and no lint problem', async (path) => {
    const { call } = await busyApp()
    const text = await (await call('/metrics')).text()
    // Every family the project defines has samples in this scrape.
    for (const name of [
      'http_requests_total',
      'http_request_duration_seconds',
      'db_query_duration_seconds',
      'orders_created_total',
      'payments_processed_total',
      'payment_processing_duration_seconds',
      'product_views_total',
      'metrics_scrape_duration_seconds',
      'metrics_series',
    ]) {
      expect({ name, present: text.includes(`\n${name}`) }).toEqual({ name, present: true })
    }
    expect(promtool(path, text)).toEqual({ exitCode: 0, output: '' })
    // The text format cannot carry exemplars, and has none; the OpenMetrics scrape has them
    // (Prometheus parses those in the test below).
    expect(text.split('\n').filter((line) => !line.startsWith('#') && line.includes(' # '))).toEqual([])
    const openMetrics = await (await call('/metrics', { headers: { accept: OPEN_METRICS } })).text()
    // Every request has a trace (a new one without traceparent); these were sent with TRACE.
    const ours = Object.entries(exemplars(openMetrics))
      .filter(([, exemplar]) => exemplar.labels.trace_id === TRACE)
      .map(([key]) => key.replace(/,?le="[^"]*"/, ''))
    expect(ours.sort()).toEqual([
      'http_request_duration_seconds_bucket{method="GET",endpoint="/probe/boom"}',
      'http_request_duration_seconds_bucket{method="GET",endpoint="/probe/items/:id"}',
      'http_requests_total{method="GET",endpoint="/probe/boom",status="500"}',
      'payment_processing_duration_seconds_bucket{provider="sandbox"}',
    ])
  })

  testWithBinary(
    'promtool',
    'promtool 2.42 reads only the text format: an OpenMetrics exemplar is a parse error to it, so it lints the text scrape',
    async (path) => {
      const { call } = await busyApp()
      const openMetrics = await (await call('/metrics', { headers: { accept: OPEN_METRICS } })).text()
      const result = promtool(path, openMetrics)
      const line = /text format parsing error in line (\d+): expected integer as timestamp, got "#"/.exec(
        result.output,
      )
      expect({ exitCode: result.exitCode, parseError: line !== null }).toEqual({
        exitCode: 1,
        parseError: true,
      })
      expect(openMetrics.split('\n')[Number(line![1]) - 1]).toContain(` # {trace_id="${TRACE}"`)
    },
  )

  testWithBinary(
    'promtool',
    "prom-client's nodejs_active_*_total gauges, which we drop on Bun, fail the lint",
    async (path) => {
      const registry = new Registry()
      collectDefaultMetrics({ register: registry })
      expect(promtool(path, await registry.metrics())).toEqual({
        exitCode: 3,
        output: [
          'nodejs_active_handles_total non-counter metrics should not have "_total" suffix',
          'nodejs_active_requests_total non-counter metrics should not have "_total" suffix',
          'nodejs_active_resources_total non-counter metrics should not have "_total" suffix',
        ].join('\n'),
      })
    },
  )
})

describe('Prometheus', () => {
  testWithBinary(
    'prometheus',
    'scrapes /metrics with the bearer token, negotiates OpenMetrics and ingests every family',
    async (path) => {
      const { app } = await busyApp({ METRICS_TOKEN: TOKEN })
      const served: Array<string | null> = []
      const target = Bun.serve({
        port: 0,
        hostname: '127.0.0.1',
        fetch: async (request) => {
          const response = await app.handle(request)
          served.push(response.headers.get('content-type'))
          return response
        },
      })
      const dir = mkdtempSync(join(tmpdir(), 'cc-prometheus-'))
      const port = await freePort()
      writeFileSync(
        join(dir, 'prometheus.yml'),
        [
          'global:',
          '  scrape_interval: 1s',
          'scrape_configs:',
          '  - job_name: app',
          '    authorization:',
          `      credentials: ${TOKEN}`,
          '    static_configs:',
          `      - targets: ['127.0.0.1:${target.port}']`,
        ].join('\n'),
      )
      const prometheus = Bun.spawn(
        [
          path,
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        { stdout: 'ignore', stderr: 'ignore' },
      )
      const api = async (query: string) => {
        const response = await fetch(
          `http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`,
        )
        return ((await response.json()) as { data: { result: Array<{ metric: Record<string, string> }> } })
          .data.result
      }
      try {
        const deadline = performance.now() + 25_000
        let ingested: Array<{ metric: Record<string, string> }> = []
        while (performance.now() < deadline) {
          await Bun.sleep(250)
          ingested = await api('product_views_total').catch(() => [])
          if (ingested.length > 0) break
        }
        expect(ingested.map((r) => r.metric.product_id)).toEqual(['p-"1"'])
        expect(served[0]).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8')
        // Those OpenMetrics scrapes carried exemplars, and Prometheus' parser took them.
        const scraped = await app.handle(
          new Request('http://localhost/metrics', {
            headers: { authorization: `Bearer ${TOKEN}`, accept: OPEN_METRICS },
          }),
        )
        expect(Object.keys(exemplars(await scraped.text())).length).toBeGreaterThan(2)
        const targets = (await (await fetch(`http://127.0.0.1:${port}/api/v1/targets`)).json()) as {
          data: { activeTargets: Array<{ health: string; lastError: string }> }
        }
        expect(targets.data.activeTargets.map((t) => [t.health, t.lastError])).toEqual([['up', '']])
        // Every series name of the exposition reached Prometheus' storage.
        const ingestedNames = new Set((await api('{job="app"}')).map((r) => r.metric.__name__!))
        const scrape = await app.handle(
          new Request('http://localhost/metrics', { headers: { authorization: `Bearer ${TOKEN}` } }),
        )
        const exposedNames = new Set(
          (await scrape.text())
            .split('\n')
            .filter((line) => line && !line.startsWith('#'))
            .map((line) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]),
        )
        expect(exposedNames.size).toBeGreaterThan(40)
        expect([...exposedNames].filter((name) => !ingestedNames.has(name))).toEqual([])
      } finally {
        prometheus.kill()
        await prometheus.exited
        target.stop(true)
        rmSync(dir, { recursive: true, force: true })
      }
    },
    40_000,
  )
})
