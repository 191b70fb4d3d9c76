/**
 * End to end with the real Prometheus (Debian's package): the service on the embedded
 * database, Prometheus scraping it every second with the shipped rules and exemplar storage
 * on, sandbox traffic with deliberate tok_error 5xx, and the service's own ruleManager
 * pointed at Prometheus with a test copy of HighErrorRate (short window and `for`),
 * delivering to a fake WhatsApp Cloud API. Traced requests (a known W3C `traceparent`) show
 * the exemplars Prometheus stores (which only come over OpenMetrics, so this also shows the
 * scrape negotiated it), and the alert message's example request comes from Prometheus'
 * query_exemplars. Bounded in time; every process it starts is stopped by PID.
 */
import { afterAll, describe, expect, setDefaultTimeout } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { HTTP_DURATION_BUCKETS } from '../../src/http/http-instruments.ts'
import { ADMIN_TOKEN } from '../helpers/app.ts'
import { freePort, spawnPrometheus, startServer, waitFor } from '../helpers/process.ts'
import { startWhatsAppFake } from '../helpers/whatsapp-fake.ts'
import {
  dashboardFiles,
  expandGrafanaVariables,
  panelQueries,
  repoPath,
  withBinary,
} from '../ops/ops-files.ts'

setDefaultTimeout(120_000)

const e2eTest = withBinary('prometheus', 'apt-get install -y prometheus')

const LATENCY_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const ERROR_TRACE = '0af7651916cd43dd8448eb211c80319c'
const TRACE_BASE_URL = 'https://acme.sentry.io/performance/trace/'
const traceparent = (traceId: string) => `00-${traceId}-00f067aa0ba902b7-01`

interface ExemplarResult {
  seriesLabels: Record<string, string>
  exemplars: Array<{ labels: Record<string, string>; value: string; timestamp: number }>
}
const cleanups: Array<() => Promise<void> | void> = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

/** HighErrorRate as shipped, with a 15 s window and `for: 2s` so a test can see it fire and resolve. */
function testRules(dir: string): string {
  const shipped = parseYaml(readFileSync(repoPath('ops/prometheus/rules/alerts.yml'), 'utf8')) as {
    groups: Array<{
      rules: Array<{ alert?: string; expr: string; for?: string; labels?: Record<string, string> }>
    }>
  }
  const rule = shipped.groups[0]!.rules.find((r) => r.alert === 'HighErrorRate')!
  // A label of its own: the shipped rule, loaded too, writes ALERTS series with the same name;
  // two groups writing one series at their own instants fail one with "out of order sample".
  const fast = {
    ...rule,
    expr: rule.expr.replaceAll('[5m]', '[15s]'),
    for: '2s',
    labels: { ...rule.labels, rule_copy: 'e2e' },
  }
  const file = join(dir, 'e2e-rules.yml')
  writeFileSync(file, toYaml({ groups: [{ name: 'E2E', interval: '1s', rules: [fast] }] }))
  return file
}

describe('with the real Prometheus', () => {
  e2eTest(
    'scrape, rules, dashboards, and an error-rate alert that fires and resolves over WhatsApp exactly once each',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cc-e2e-'))
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
      const rules = testRules(dir)
      const fake = startWhatsAppFake()
      cleanups.push(() => fake.stop())
      const promPort = await freePort()

      const service = await startServer({
        ADMIN_TOKEN,
        SANDBOX_LATENCY_MS: '0',
        ALERTS_ENABLED: 'true',
        PROMETHEUS_URL: `http://127.0.0.1:${promPort}`,
        ALERT_RULES_FILES: rules,
        ALERT_EVAL_INTERVAL: '1s',
        ALERT_NOTIFY_INTERVAL: '500ms',
        ALERT_PHONES: '+254700000042',
        WHATSAPP_API_BASE: fake.url,
        WHATSAPP_PHONE_NUMBER_ID: '1065',
        WHATSAPP_ACCESS_TOKEN: 'e2e-token',
        TRACE_BASE_URL,
      })
      cleanups.push(() => service.cleanup())

      writeFileSync(
        join(dir, 'prometheus.yml'),
        toYaml({
          global: { scrape_interval: '1s', evaluation_interval: '1s' },
          // slo.yml too: the SLOs dashboard's queries read its recordings.
          rule_files: [
            repoPath('ops/prometheus/rules/alerts.yml'),
            repoPath('ops/prometheus/rules/slo.yml'),
            rules,
          ],
          scrape_configs: [
            { job_name: 'convo-commerce', static_configs: [{ targets: [`127.0.0.1:${service.port}`] }] },
          ],
        }),
      )
      const prometheus = spawnPrometheus(dir, promPort, ['--enable-feature=exemplar-storage'])
      cleanups.push(() => prometheus.stop())
      const api = async (path: string, form?: Record<string, string>) => {
        const res = await fetch(`http://127.0.0.1:${promPort}${path}`, {
          method: form ? 'POST' : 'GET',
          headers: form ? { 'content-type': 'application/x-www-form-urlencoded' } : {},
          body: form ? new URLSearchParams(form).toString() : undefined,
        })
        return (await res.json()) as { status: string; error?: string; data: any }
      }

      // The target is up.
      await waitFor(
        'the scrape target to be up',
        async () => {
          const targets = await api('/api/v1/targets')
          return targets.data.activeTargets.some((t: { health: string }) => t.health === 'up')
            ? true
            : undefined
        },
        30_000,
      )

      // A traced request to no route (404 under endpoint="<unmatched>"): its latency exemplar.
      const sentAt = Date.now()
      const probe = await fetch(`${service.url}/e2e/no-such-route`, {
        headers: { traceparent: traceparent(LATENCY_TRACE), 'x-request-id': 'e2e-latency-1' },
      })
      expect(probe.status).toBe(404)
      const sentUntil = Date.now()

      // Traffic: normal requests, then a burst of tok_error payments (502), the last one traced,
      // then normal again.
      const call = async (
        path: string,
        token: string,
        body?: unknown,
        headers: Record<string, string> = {},
      ) => {
        const res = await fetch(`${service.url}${path}`, {
          method: body === undefined ? 'GET' : 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
          body: body === undefined ? undefined : JSON.stringify(body),
        })
        return { status: res.status, body: (await res.json()) as Record<string, any> }
      }
      const tenant = (await call('/tenants', ADMIN_TOKEN, { name: 'E2E', ownerPhone: '+254711000700' })).body
      const product = (
        await call('/products', tenant.apiKey, { name: 'Tea', priceMinor: 100, currency: 'KES' })
      ).body
      let stopNormal = false
      const normal = (async () => {
        while (!stopNormal) {
          await call(`/products/${product.id}?channel=whatsapp`, tenant.apiKey)
          await Bun.sleep(50)
        }
      })()
      const order = () =>
        call('/orders', tenant.apiKey, {
          customer: { phone: '+254711000701' },
          items: [{ productId: product.id, quantity: 1 }],
        })
      for (let i = 0; i < 3; i++) {
        const o = (await order()).body
        expect(
          (
            await call(`/orders/${o.id}/payments`, tenant.apiKey, {
              provider: 'sandbox',
              source: 'tok_success',
            })
          ).status,
        ).toBe(201)
      }
      for (let i = 0; i < 40; i++) {
        const o = (await order()).body
        // The last failure is traced: it stays the 502 series' exemplar (the latest request).
        const traced: Record<string, string> =
          i === 39 ? { traceparent: traceparent(ERROR_TRACE), 'x-request-id': 'e2e-error-1' } : {}
        expect(
          (
            await call(
              `/orders/${o.id}/payments`,
              tenant.apiKey,
              { provider: 'sandbox', source: 'tok_error' },
              traced,
            )
          ).status,
        ).toBe(502)
        await Bun.sleep(50)
      }

      // Prometheus stores the exemplars: the traced 404 on the latency bucket it fell in, the
      // traced 502 on its http_requests_total series.
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

      // Prometheus' side: rules loaded and healthy, the test copy of HighErrorRate firing.
      await waitFor(
        'HighErrorRate to fire in Prometheus',
        async () => {
          const alerts = await api('/api/v1/alerts')
          return alerts.data.alerts.some(
            (a: any) => a.labels.alertname === 'HighErrorRate' && a.state === 'firing',
          )
            ? true
            : undefined
        },
        40_000,
      )
      const ruleGroups = (await api('/api/v1/rules')).data.groups as Array<{
        name: string
        rules: Array<{ name: string; health: string; lastError?: string }>
      }>
      expect(
        ruleGroups
          .map((g) => g.name)
          .filter((n) => !n.startsWith('sloth-slo-'))
          .sort(),
      ).toEqual(['ConversationalCommerce', 'E2E'])
      expect(ruleGroups.filter((g) => g.name.startsWith('sloth-slo-')).length).toBe(12)
      for (const group of ruleGroups) {
        for (const rule of group.rules)
          expect({ rule: rule.name, health: rule.health, error: rule.lastError ?? '' }).toEqual({
            rule: rule.name,
            health: 'ok',
            error: '',
          })
      }

      // Every Grafana panel query runs without error; the core ones return data.
      const empty: string[] = []
      for (const { name, json } of dashboardFiles()) {
        for (const { panel, expr } of panelQueries(json)) {
          const result = await api('/api/v1/query', { query: expandGrafanaVariables(expr) })
          expect({
            dashboard: name,
            panel: panel.title,
            status: result.status,
            error: result.error ?? '',
          }).toEqual({
            dashboard: name,
            panel: panel.title,
            status: 'success',
            error: '',
          })
          if (result.data.result.length === 0) empty.push(`${name}: ${panel.title}`)
        }
      }
      // The System dashboard's Rule manager row shows the service's own rule group, E2E (the
      // only one it loads, one rule), from the alert_rule_* families Prometheus scraped.
      const system = dashboardFiles().find((f) => f.name === 'system')!.json
      const ruleManager = panelQueries(system).filter(({ expr }) => expr.includes('alert_rule_'))
      expect(ruleManager.length).toBe(9)
      for (const { panel, expr } of ruleManager) {
        const result = await api('/api/v1/query', { query: expandGrafanaVariables(expr) })
        const series = result.data.result as Array<{
          metric: Record<string, string>
          value: [number, string]
        }>
        // Time series draw one line per rule_group; stats are one number for all groups.
        const perGroup = panel.type === 'timeseries'
        expect({
          panel: panel.title,
          shows: perGroup ? series.map((s) => s.metric.rule_group) : series.map((s) => s.value[1]),
        }).toEqual({
          panel: panel.title,
          shows: perGroup
            ? ['E2E']
            : [['Rule groups', 'Rules'].includes(panel.title) ? '1' : expect.any(String)],
        })
      }
      for (const core of [
        'sum(rate(http_requests_total[1m]))',
        'sum by (channel) (increase(orders_created_total[5m]))',
        'sum by (status) (rate(payments_processed_total[1m]))',
        'sum(rate(product_views_total[1m]))',
        'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))',
        'process_resident_memory_bytes',
      ]) {
        const result = await api('/api/v1/query', { query: core })
        expect({ core, series: result.data.result.length > 0 }).toEqual({ core, series: true })
      }

      // The service's ruleManager, querying Prometheus, sends exactly one firing message…
      const messagesFor = (marker: string) =>
        fake.requests.filter((r) =>
          String((r.body.text as { body?: string } | undefined)?.body ?? '').startsWith(marker),
        )
      await waitFor(
        'the firing WhatsApp message',
        async () => (messagesFor('🔔 *CRITICAL ALERT*: HighErrorRate').length > 0 ? true : undefined),
        40_000,
      )
      // It names an example request from Prometheus' query_exemplars: a failing request of the
      // access log, with its trace link (issue #19).
      const firing = String(
        (messagesFor('🔔 *CRITICAL ALERT*: HighErrorRate')[0]!.body.text as { body: string }).body,
      )
      expect(firing).toMatch(new RegExp(`\nExample request: \\S+\nTrace: ${TRACE_BASE_URL}[0-9a-f]{32}\n`))
      const exampleId = /\nExample request: (\S+)\n/.exec(firing)![1]
      const exampleTrace = /\nTrace: \S+\/([0-9a-f]{32})\n/.exec(firing)![1]
      const exampleLines = service.lines.filter((l) => l.msg === 'request' && l.requestId === exampleId)
      expect(exampleLines).toHaveLength(1)
      expect(Number(exampleLines[0]!.status)).toBeGreaterThanOrEqual(500)
      expect(exampleLines[0]!.trace_id).toBe(exampleTrace)

      // …and, once traffic is normal again, exactly one resolved message.
      await waitFor(
        'the resolved WhatsApp message',
        async () => (messagesFor('✅ *RESOLVED*: HighErrorRate').length > 0 ? true : undefined),
        60_000,
      )
      await Bun.sleep(2000)
      stopNormal = true
      await normal
      expect(messagesFor('🔔 *CRITICAL ALERT*: HighErrorRate')).toHaveLength(1)
      expect(messagesFor('✅ *RESOLVED*: HighErrorRate')).toHaveLength(1)
      expect(fake.requests.every((r) => r.body.to === '254700000042')).toBe(true)
      if (empty.length > 0) console.log(`panels with no data yet (a fresh service): ${empty.join('; ')}`)
    },
  )
})
