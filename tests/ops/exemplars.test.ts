/**
 * Exemplars end to end with the real Prometheus (Debian's 2.42): the shipped prometheus.yml
 * (its storage section and the convo-commerce job's token) and the feature flags of the
 * compose stack's start command, scraping a fake target on 127.0.0.1 that answers like the
 * service will (OpenMetrics with `trace_id`/`request_id` exemplars when asked for it, the
 * classic text format otherwise). Every exemplar-enabled query of the dashboards is then run
 * through Prometheus' exemplar API, as Grafana runs it. A second Prometheus without the
 * flags shows that the flag is what makes them appear. Every process started is stopped by
 * its handle.
 */
import { afterAll, describe, expect, setDefaultTimeout } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify as toYaml } from 'yaml'
import { freePort, spawnPrometheus, waitFor } from '../helpers/process.ts'
import {
  dashboardFiles,
  expandGrafanaVariables,
  type Json,
  readYaml,
  repoPath,
  withBinary,
} from './ops-files.ts'

setDefaultTimeout(90_000)

const prometheusTest = withBinary('prometheus', 'apt-get install -y prometheus')
const cleanups: Array<() => Promise<void> | void> = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

const SHIPPED = readYaml(repoPath('ops', 'prometheus', 'prometheus.yml')) as Json
const COMPOSE = readYaml(repoPath('ops', 'compose.yaml')) as Json
const TOKEN_FILE = repoPath('ops', 'prometheus', 'secrets', 'metrics-token')
const TOKEN = (await Bun.file(TOKEN_FILE).text()).trim()

/** The `--enable-feature=…` flags of the compose stack's Prometheus start command. */
const composeFeatureFlags = (): string[] =>
  String(COMPOSE.services.prometheus.command[0]).match(/--enable-feature=\S+/g) ?? []

// The exemplars the fake target exposes. Explicit timestamps: Prometheus then stores each
// once, instead of once per scrape with the scrape's time.
const NOW = Math.floor(Date.now() / 1000)
const SLOW = { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', request_id: 'req-slow-1' }
const FAILED = { trace_id: '0af7651916cd43dd8448eb211c80319c', request_id: 'req-502-1' }
const PAYMENT = { trace_id: 'a3ce929d0e0e47364bf92f3577b34da6', request_id: 'req-pay-1' }
const exemplar = (labels: Record<string, string>, value: number) =>
  ` # {${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}} ${value} ${NOW}`

/** The service's exposition in OpenMetrics (with exemplars) or in the classic text format (without). */
function exposition(openMetrics: boolean): string {
  const ex = (labels: Record<string, string>, value: number) => (openMetrics ? exemplar(labels, value) : '')
  const lines = [
    // OpenMetrics names a counter family without `_total`; the text format names the series.
    `# TYPE ${openMetrics ? 'http_requests' : 'http_requests_total'} counter`,
    `http_requests_total{method="GET",endpoint="/products/:id",status="200"} 40`,
    `http_requests_total{method="POST",endpoint="/orders/:id/payments",status="502"} 3${ex(FAILED, 1)}`,
    '# TYPE http_request_duration_seconds histogram',
    `http_request_duration_seconds_bucket{method="POST",endpoint="/orders/:id/payments",le="0.5"} 1`,
    `http_request_duration_seconds_bucket{method="POST",endpoint="/orders/:id/payments",le="2.5"} 3${ex(SLOW, 2.2)}`,
    `http_request_duration_seconds_bucket{method="POST",endpoint="/orders/:id/payments",le="+Inf"} 3`,
    `http_request_duration_seconds_sum{method="POST",endpoint="/orders/:id/payments"} 4.7`,
    `http_request_duration_seconds_count{method="POST",endpoint="/orders/:id/payments"} 3`,
    '# TYPE payment_processing_duration_seconds histogram',
    `payment_processing_duration_seconds_bucket{provider="sandbox",le="1"} 2${ex(PAYMENT, 0.8)}`,
    `payment_processing_duration_seconds_bucket{provider="sandbox",le="+Inf"} 2`,
    `payment_processing_duration_seconds_sum{provider="sandbox"} 1.1`,
    `payment_processing_duration_seconds_count{provider="sandbox"} 2`,
  ]
  return `${lines.join('\n')}\n${openMetrics ? '# EOF\n' : ''}`
}

/** A /metrics endpoint that requires the shipped token and negotiates the format by Accept. */
function startTarget() {
  const accepts: string[] = []
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(request) {
      if (new URL(request.url).pathname !== '/metrics') return new Response('not found', { status: 404 })
      if (request.headers.get('authorization') !== `Bearer ${TOKEN}`)
        return new Response('unauthorized', { status: 401 })
      const accept = request.headers.get('accept') ?? ''
      accepts.push(accept)
      const openMetrics = accept.includes('application/openmetrics-text')
      return new Response(exposition(openMetrics), {
        headers: {
          'content-type': openMetrics
            ? 'application/openmetrics-text; version=1.0.0; charset=utf-8'
            : 'text/plain; version=0.0.4; charset=utf-8',
        },
      })
    },
  })
  return { server, accepts }
}

interface ApiAnswer {
  status: string
  data: Json
}

interface Started {
  api: (path: string) => Promise<ApiAnswer>
  selfMetrics: () => Promise<string>
}

/**
 * Prometheus with the shipped config, pointed at `target` every second: the global section
 * (scrape interval shortened), the storage section and the convo-commerce job as committed,
 * the token file by absolute path; rules and Alertmanager left out (not under test).
 */
async function startPrometheus(target: string, flags: string[]): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), 'cc-exemplars-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const job = structuredClone(SHIPPED.scrape_configs.find((j: Json) => j.job_name === 'convo-commerce'))
  job.static_configs = [{ targets: [target] }]
  job.authorization.credentials_file = TOKEN_FILE
  const config = {
    global: { ...SHIPPED.global, scrape_interval: '1s', scrape_timeout: '1s' },
    storage: SHIPPED.storage,
    scrape_configs: [job],
  }
  writeFileSync(join(dir, 'prometheus.yml'), toYaml(config))
  const port = await freePort()
  const prometheus = spawnPrometheus(dir, port, flags)
  cleanups.push(() => prometheus.stop())
  const base = `http://127.0.0.1:${port}`
  const api = async (path: string) => (await (await fetch(`${base}${path}`)).json()) as ApiAnswer
  await waitFor(
    'the fake target to be scraped successfully',
    async () => {
      const targets = await api('/api/v1/targets')
      return targets.data.activeTargets.some((t: Json) => t.health === 'up') ? true : undefined
    },
    30_000,
  )
  return { api, selfMetrics: async () => (await fetch(`${base}/metrics`)).text() }
}

/** Every exemplar-enabled target of the dashboards: what Grafana sends to the exemplar API. */
const exemplarQueries = dashboardFiles().flatMap(({ name, json }) =>
  (json.panels as Json[]).flatMap((panel) =>
    ((panel.targets ?? []) as Json[])
      .filter((t) => t.exemplar === true)
      .map((t) => ({ dashboard: name, panel: panel.title as string, expr: expandGrafanaVariables(t.expr) })),
  ),
)

/** What /api/v1/query_exemplars answers for `expr` around now, in a stable order. */
async function exemplarsOf(prometheus: Started, expr: string) {
  const query = new URLSearchParams({ query: expr, start: String(NOW - 300), end: String(NOW + 300) })
  const answer = await prometheus.api(`/api/v1/query_exemplars?${query}`)
  expect(answer.status).toBe('success')
  return (answer.data as Json[])
    .map((s) => ({ series: s.seriesLabels, exemplars: s.exemplars }))
    .sort((a, b) => JSON.stringify(a.series).localeCompare(JSON.stringify(b.series)))
}

describe('exemplars with the real Prometheus', () => {
  prometheusTest(
    "the shipped config and the compose stack's flags store the exemplars every exemplar panel asks for",
    async () => {
      expect(composeFeatureFlags()).toEqual(['--enable-feature=exemplar-storage'])
      const { server, accepts } = startTarget()
      cleanups.push(() => server.stop(true))
      const target = `127.0.0.1:${server.port}`
      const prometheus = await startPrometheus(target, composeFeatureFlags())

      // Prometheus asks for OpenMetrics first: nothing in the shipped job forces the text format.
      expect(accepts[0]!.split(',')[0]).toBe('application/openmetrics-text;version=1.0.0')
      // The ring buffer has the size the shipped storage section gives it.
      expect(await prometheus.selfMetrics()).toContain(
        `prometheus_tsdb_exemplar_max_exemplars ${SHIPPED.storage.exemplars.max_exemplars}\n`,
      )

      const instance = { instance: target, job: 'convo-commerce' }
      const slow = {
        series: {
          __name__: 'http_request_duration_seconds_bucket',
          endpoint: '/orders/:id/payments',
          ...instance,
          le: '2.5',
          method: 'POST',
        },
        exemplars: [{ labels: SLOW, value: '2.2', timestamp: NOW }],
      }
      const failed = {
        series: {
          __name__: 'http_requests_total',
          endpoint: '/orders/:id/payments',
          ...instance,
          method: 'POST',
          status: '502',
        },
        exemplars: [{ labels: FAILED, value: '1', timestamp: NOW }],
      }
      const payment = {
        series: {
          __name__: 'payment_processing_duration_seconds_bucket',
          ...instance,
          le: '1',
          provider: 'sandbox',
        },
        exemplars: [{ labels: PAYMENT, value: '0.8', timestamp: NOW }],
      }
      await waitFor(
        'the first exemplars to be stored',
        async () => ((await exemplarsOf(prometheus, 'http_requests_total')).length > 0 ? true : undefined),
        20_000,
      )
      // A few more scrapes: the same exemplars again must not be stored twice.
      await Bun.sleep(2_500)

      const expected = (expr: string) =>
        expr.includes('payment_processing_duration_seconds_bucket')
          ? [payment]
          : expr.includes('http_request_duration_seconds_bucket')
            ? [slow]
            : [failed]
      expect(exemplarQueries.length).toBe(9)
      for (const { dashboard, panel, expr } of exemplarQueries) {
        expect({ dashboard, panel, expr, answer: await exemplarsOf(prometheus, expr) }).toEqual({
          dashboard,
          panel,
          expr,
          answer: expected(expr),
        })
      }
    },
  )

  prometheusTest('without --enable-feature=exemplar-storage the same scrapes store no exemplar', async () => {
    const { server, accepts } = startTarget()
    cleanups.push(() => server.stop(true))
    const prometheus = await startPrometheus(`127.0.0.1:${server.port}`, [])
    await waitFor('a few scrapes', async () => (accepts.length >= 3 ? true : undefined), 20_000)
    expect(accepts[0]!.split(',')[0]).toBe('application/openmetrics-text;version=1.0.0')
    expect(await exemplarsOf(prometheus, 'http_requests_total')).toEqual([])
    expect(await exemplarsOf(prometheus, 'http_request_duration_seconds_bucket')).toEqual([])
  })
})
