/**
 * The rule manager gives a newly firing error alert one example request, taken from an
 * exemplar of its failing series at evaluation time (the embedded engine's exemplars, or
 * Prometheus' query_exemplars with PROMETHEUS_URL), stores it with the outbox row and sends it
 * on WhatsApp; a retry sends the very same example, and a failed lookup costs only the example.
 */
import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import type { NotifiedAlert } from '../../../src/alerting/notify/render.ts'
import { createEmbeddedEngine } from '../../../src/alerting/rules/embedded.ts'
import { setupRuleManager } from '../../../src/alerting/rules/setup.ts'
import { loadConfig } from '../../../src/config.ts'
import { alertOutbox, alertRuleStates } from '../../../src/db/schema.ts'
import { createHttpClient } from '../../../src/http/outbound.ts'
import { alertingFor, alertTestContext, ONCALL } from '../../helpers/alerts.ts'
import { captureLogs } from '../../helpers/logs.ts'

setDefaultTimeout(30_000)

const ctx = alertTestContext()
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const OLDER_TRACE = '0af7651916cd43dd8448eb211c80319c'
const SENTRY = 'https://acme.sentry.io/performance/trace/'

const RULES = `
groups:
  - name: service
    rules:
      - alert: HighErrorRate
        expr: sum(rate(http_requests_total{status=~"5.."}[1m])) / sum(rate(http_requests_total[1m])) > 0.05
        labels:
          severity: critical
        annotations:
          description: 'HTTP 5xx ratio {{ $value }}'
      - alert: QueueJobsFailing
        expr: sum by (queue) (rate(jobs_total{status="failed"}[1m])) > 0
        labels:
          severity: critical
        annotations:
          description: 'jobs of {{ $labels.queue }} fail'
          exemplar_query: 'jobs_total{status="failed",queue="{{ $labels.queue }}"}'
`

function ruleFile() {
  const dir = mkdtempSync(join(tmpdir(), 'cc-alert-example-'))
  writeFileSync(join(dir, 'rules.yml'), RULES)
  return join(dir, 'rules.yml')
}

type Sample = {
  value: number
  labels: Record<string, string | number>
  exemplar?: { labels: Record<string, string>; value: number; timestampMs: number }
}

/** A counter registered as the service's instruments register, its samples carrying exemplars. */
function counter(registry: Registry, name: string, samples: () => Sample[]) {
  const data = async () => ({ name, help: 'h', type: 'counter', aggregator: 'sum', values: samples() })
  const metric = { name, help: 'h', type: 'counter', aggregator: 'sum', get: data, reset() {} }
  registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0])
}

/** The embedded engine sampling `registry`, and a rule manager on it evaluating RULES. */
function embeddedRuleManager(
  registry: Registry,
  { alerting, clock }: ReturnType<typeof alertingFor>,
  env: Record<string, string> = {},
) {
  const engine = createEmbeddedEngine({ registry, intervalMs: 15_000, now: () => clock.now().getTime() })
  const manager = setupRuleManager({
    config: loadConfig({ NODE_ENV: 'test', ALERT_RULES_FILES: ruleFile(), ...env }),
    db: ctx.database.db,
    http: createHttpClient(fetch),
    clock,
    log: captureQuiet(),
    dispatcher: alerting.dispatcher,
    embedded: engine,
  })!
  return { engine, manager }
}

// alertTestContext empties the delivery tables; the rule state is this file's to empty.
beforeEach(async () => {
  await ctx.database.db.delete(alertRuleStates)
})

const stops: Array<() => void> = []
afterEach(() => {
  for (const stop of stops.splice(0)) stop()
})

async function outboxAlerts() {
  const rows = await ctx.database.db.select().from(alertOutbox)
  return rows.flatMap((row) => (row.content.alerts ?? []) as NotifiedAlert[])
}

const sentBodies = () => ctx.fake.requests.map((r) => (r.body.text as { body: string } | undefined)?.body)

describe('embedded engine', () => {
  test('the alert names the latest failing request of the window; a retried send names the same one', async () => {
    const context = alertingFor(ctx.database, ctx.fake.url)
    const { alerting, clock } = context
    const t0 = clock.now().getTime()
    const registry = new Registry()
    let ok = 0
    let failed = 0
    let exemplar: Sample['exemplar']
    counter(registry, 'http_requests_total', () => [
      { value: ok, labels: { method: 'GET', endpoint: '/products', status: 200 } },
      { value: failed, labels: { method: 'POST', endpoint: '/orders/:id/payments', status: 502 }, exemplar },
    ])
    counter(registry, 'jobs_total', () => [])
    const { engine, manager } = embeddedRuleManager(registry, context, { TRACE_BASE_URL: SENTRY })

    await engine.sampler.sampleOnce()
    clock.advance(30_000)
    ok = 20
    failed = 1
    exemplar = {
      labels: { trace_id: OLDER_TRACE, request_id: 'req-older' },
      value: 1,
      timestampMs: t0 + 20_000,
    }
    await engine.sampler.sampleOnce()
    clock.advance(30_000)
    ok = 40
    failed = 5
    exemplar = { labels: { trace_id: TRACE, request_id: 'req-latest' }, value: 1, timestampMs: t0 + 55_000 }
    await engine.sampler.sampleOnce()
    await manager.evaluateAll()

    const stored = await outboxAlerts()
    expect(stored.map((a) => [a.alertname, a.example])).toEqual([
      ['HighErrorRate', { requestId: 'req-latest', traceId: TRACE, traceUrl: `${SENTRY}${TRACE}` }],
    ])

    // The first send fails (HTTP 500, retried); the retry goes out with the very same example.
    ctx.fake.answer({ kind: 'error', httpStatus: 500, code: 131000 })
    await alerting.tick()
    clock.advance(2_000)
    await alerting.tick()
    const expected = [
      '🔔 *CRITICAL ALERT*: HighErrorRate',
      // 5 of 45 requests in the last minute.
      'HTTP 5xx ratio 0.1111111111111111',
      'Example request: req-latest',
      `Trace: ${SENTRY}${TRACE}`,
      `ref: ${stored[0]!.fingerprint}`,
    ].join('\n')
    expect(sentBodies()).toEqual([expected, expected])
    expect(ctx.fake.requests.map((r) => r.body.to)).toEqual([ONCALL.slice(1), ONCALL.slice(1)])
  })

  test("an exemplar_query annotation is templated with the alert's labels: each queue names its own failing job", async () => {
    const context = alertingFor(ctx.database, undefined)
    const { clock } = context
    const t0 = clock.now().getTime()
    const registry = new Registry()
    let n = 0
    counter(registry, 'http_requests_total', () => [])
    counter(registry, 'jobs_total', () =>
      ['mail', 'sms'].map((queue) => ({
        value: n,
        labels: { queue, status: 'failed' },
        exemplar: n
          ? { labels: { request_id: `job-${queue}` }, value: 1, timestampMs: t0 + 10_000 }
          : undefined,
      })),
    )
    const { engine, manager } = embeddedRuleManager(registry, context)
    await engine.sampler.sampleOnce()
    clock.advance(30_000)
    n = 3
    await engine.sampler.sampleOnce()
    await manager.evaluateAll()
    const stored = await outboxAlerts()
    expect(stored.map((a) => [a.detail, a.example]).sort()).toEqual([
      ['jobs of mail fail', { requestId: 'job-mail' }],
      ['jobs of sms fail', { requestId: 'job-sms' }],
    ])
  })
})

describe('with PROMETHEUS_URL', () => {
  function fakePrometheus(exemplars: () => Response) {
    const asked: URL[] = []
    const server = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      async fetch(req) {
        const url = new URL(req.url)
        asked.push(url)
        if (url.pathname === '/api/v1/query_exemplars') return exemplars()
        const query = new URLSearchParams(await req.text()).get('query') ?? ''
        const result = query.includes('http_requests_total')
          ? [{ metric: {}, value: [Number(url.searchParams.get('time') ?? 0), '0.25'] }]
          : []
        return Response.json({ status: 'success', data: { resultType: 'vector', result } })
      },
    })
    stops.push(() => server.stop(true))
    return { url: `http://127.0.0.1:${server.port}`, asked }
  }

  function managerFor(url: string, log = captureQuiet()) {
    const { alerting, clock } = alertingFor(ctx.database, undefined)
    const manager = setupRuleManager({
      config: loadConfig({
        NODE_ENV: 'test',
        ALERT_RULES_FILES: ruleFile(),
        PROMETHEUS_URL: url,
        PROMETHEUS_QUERY_TIMEOUT: '1s',
      }),
      db: ctx.database.db,
      http: createHttpClient(fetch),
      clock,
      log,
      dispatcher: alerting.dispatcher,
    })!
    return { manager, clock }
  }

  test("the example comes from query_exemplars over the rule's window (no TRACE_BASE_URL: no link)", async () => {
    const prometheus = fakePrometheus(() =>
      Response.json({
        status: 'success',
        data: [
          {
            seriesLabels: { __name__: 'http_requests_total', status: '500' },
            exemplars: [
              { labels: { request_id: 'req-p', trace_id: TRACE }, value: '1', timestamp: 1772445590.5 },
            ],
          },
        ],
      }),
    )
    const { manager, clock } = managerFor(prometheus.url)
    await manager.evaluateAll()
    expect((await outboxAlerts()).map((a) => [a.alertname, a.example])).toEqual([
      ['HighErrorRate', { requestId: 'req-p', traceId: TRACE }],
    ])
    const exemplarCalls = prometheus.asked.filter((u) => u.pathname === '/api/v1/query_exemplars')
    const end = clock.now().getTime() / 1000
    expect(exemplarCalls.map((u) => Object.fromEntries(u.searchParams))).toEqual([
      { query: 'http_requests_total{status=~"5.."}', start: (end - 60).toFixed(3), end: end.toFixed(3) },
    ])
  })

  test('a failing exemplar query costs only the example: the alert is notified without one', async () => {
    const prometheus = fakePrometheus(() => new Response('boom', { status: 500 }))
    const logs = captureLogs()
    const { manager } = managerFor(prometheus.url, logs.log)
    await manager.evaluateAll()
    const stored = await outboxAlerts()
    expect(stored.map((a) => [a.alertname, a.example])).toEqual([['HighErrorRate', undefined]])
    expect(
      logs.lines.filter((l) => l.msg === 'no example request for the alert: the exemplar query failed'),
    ).toMatchObject([{ rule: 'HighErrorRate', error: 'Prometheus answered HTTP 500 without a JSON body' }])
  })
})

function captureQuiet() {
  return captureLogs('silent').log
}
