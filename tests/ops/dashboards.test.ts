import { describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify as toYaml } from 'yaml'
import {
  ACTIVE_SHOPS,
  buildDashboards,
  DEFAULT_TRACE_BASE_URL,
  dashboardFileText,
  EXEMPLAR_METRICS,
  ORDERS_CREATED,
} from '../../scripts/grafana/dashboards.ts'
import {
  alertRules,
  dashboardFiles,
  expandGrafanaVariables,
  inspectPromQL,
  type Json,
  panelQueries,
  repoPath,
  run,
  withBinary,
} from './ops-files.ts'

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
const VIA_VARIABLE = { type: 'prometheus', uid: '${datasource}' }
const UNITS = new Set(['reqps', 'ops', 'opm', 'percentunit', 's', 'bytes', 'short', 'none'])
const files = dashboardFiles()
const byUid = new Map(files.map((f) => [f.json.uid as string, f.json]))

/** Every object in a JSON tree (to find datasource references wherever Grafana put them). */
function* objects(value: Json): Generator<Json> {
  if (value && typeof value === 'object') {
    if (!Array.isArray(value)) yield value
    for (const child of Object.values(value)) yield* objects(child)
  }
}

describe('Grafana dashboards', () => {
  test('the five dashboards exist with stable uids', () => {
    expect(files.map((f) => [f.name, f.json.uid, f.json.title])).toEqual([
      ['business', 'convo-business', 'Business'],
      ['orders', 'orders-dashboard', 'Order Monitoring'],
      ['performance', 'convo-performance', 'Performance'],
      ['slo', 'convo-slo', 'SLOs'],
      ['system', 'convo-system', 'System'],
    ])
  })

  test('the committed JSON is what scripts/grafana/dashboards.ts builds (run `bun run ops:dashboards`)', () => {
    const built = buildDashboards()
    expect(Object.keys(built).sort()).toEqual(files.map((f) => f.name))
    for (const { name, file } of files) {
      expect({ name, text: readFileSync(file, 'utf8') }).toEqual({
        name,
        text: dashboardFileText(built[name]),
      })
    }
  })

  for (const { name, json } of files) {
    describe(name, () => {
      test('has the fields Grafana needs to import it', () => {
        // A copy: bun 1.4.5's toMatchObject writes asymmetric matchers into the object it checks.
        expect(structuredClone(json)).toMatchObject({
          uid: expect.stringMatching(/^[a-z0-9-]{1,40}$/),
          title: expect.any(String),
          schemaVersion: expect.any(Number),
          version: expect.any(Number),
          refresh: expect.stringMatching(/^\d+[smh]$/),
          time: { from: expect.stringMatching(/^now-\d+[mhd]$/), to: 'now' },
          templating: { list: expect.any(Array) },
          panels: expect.any(Array),
        })
        const ids = json.panels.map((p: Json) => p.id)
        expect(new Set(ids).size).toBe(ids.length)
        for (const panel of json.panels) {
          expect(structuredClone(panel)).toMatchObject({
            id: expect.any(Number),
            type: expect.any(String),
            title: expect.any(String),
          })
          expect(panel.title.length).toBeGreaterThan(0)
        }
      })

      test('selects its datasource through a datasource variable, never by name', () => {
        const variable = json.templating.list.find((v: Json) => v.type === 'datasource')
        expect(variable).toMatchObject({ name: 'datasource', query: 'prometheus' })
        for (const object of objects(json)) {
          if (!('datasource' in object) || object.type === 'dashboard') continue
          expect(object.datasource).toEqual(VIA_VARIABLE)
        }
        for (const panel of json.panels.filter((p: Json) => p.type !== 'row')) {
          expect(panel.datasource).toEqual(VIA_VARIABLE)
          expect(panel.targets.length).toBeGreaterThan(0)
          for (const target of panel.targets) {
            expect(target.datasource).toEqual(VIA_VARIABLE)
            expect(target.refId).toMatch(/^[A-Z]$/)
            expect(target.expr.length).toBeGreaterThan(0)
          }
        }
      })

      test('panels lie inside the 24-column grid without overlapping', () => {
        const boxes = json.panels.map((p: Json) => ({ title: p.title, ...p.gridPos }))
        for (const b of boxes) {
          expect(b.x).toBeGreaterThanOrEqual(0)
          expect(b.y).toBeGreaterThanOrEqual(0)
          expect(b.w).toBeGreaterThan(0)
          expect(b.h).toBeGreaterThan(0)
          expect(b.x + b.w).toBeLessThanOrEqual(24)
        }
        const overlaps: string[] = []
        boxes.forEach((a: Json, i: number) => {
          for (const b of boxes.slice(i + 1)) {
            if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) {
              overlaps.push(`${a.title} / ${b.title}`)
            }
          }
        })
        expect(overlaps).toEqual([])
      })

      test('every panel has a description and a sensible unit', () => {
        for (const panel of json.panels.filter((p: Json) => p.type !== 'row')) {
          const unit = panel.fieldConfig.defaults.unit
          expect({
            panel: panel.title,
            unit: UNITS.has(unit),
            described: panel.description.length > 10,
          }).toEqual({
            panel: panel.title,
            unit: true,
            described: true,
          })
          const exprs = panel.targets.map((t: Json) => t.expr).join('\n')
          if (exprs.includes('histogram_quantile'))
            expect({ panel: panel.title, unit }).toEqual({ panel: panel.title, unit: 's' })
          if (/rate\(http_requests_total[^/]*$/.test(exprs) && !exprs.includes('/')) {
            expect({ panel: panel.title, unit }).toEqual({ panel: panel.title, unit: 'reqps' })
          }
        }
      })
    })
  }

  test('System shows request rate, error rate, in-flight, CPU, memory and event-loop lag', () => {
    const exprs = panelQueries(byUid.get('convo-system'))
      .map((q) => q.expr)
      .join('\n')
    for (const metric of [
      'rate(http_requests_total',
      'status=~"5.."',
      'http_requests_in_flight',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(exprs).toContain(metric)
    }
  })

  test('Business has the tenant variable, active shops and per-tenant breakdowns', () => {
    const business = byUid.get('convo-business')
    const tenant = business.templating.list.find((v: Json) => v.name === 'tenant')
    expect(tenant).toMatchObject({ type: 'query', multi: true, includeAll: true, allValue: '.*' })
    const queries = panelQueries(business)
    expect(queries.map((q) => q.expr)).toContain(ACTIVE_SHOPS)
    expect(ACTIVE_SHOPS).toBe('count(sum by (tenant_id) (increase(orders_created_total[1h])) > 0)')
    const perTenant = queries.filter(
      (q) => q.expr.includes('sum by (tenant_id)') && q.expr.includes('$tenant'),
    )
    expect(new Set(perTenant.map((q) => q.panel.title))).toEqual(
      new Set(['Orders per shop', 'Payment failure rate per shop', 'Shops (24h)']),
    )
    for (const metric of ['orders_created_total', 'payments_processed_total', 'product_views_total']) {
      expect(queries.some((q) => q.expr.includes(metric))).toBe(true)
    }
  })

  test('Performance has p50/p95/p99 by endpoint, slowest endpoints, database latency and pool size', () => {
    const queries = panelQueries(byUid.get('convo-performance'))
    for (const q of [0.5, 0.95, 0.99]) {
      expect(
        queries.some((x) => x.expr.startsWith(`histogram_quantile(${q}, sum by (le, method, endpoint)`)),
      ).toBe(true)
    }
    expect(queries.find((x) => x.panel.title === 'Slowest endpoints (p95, 1h)')?.expr).toStartWith('topk(10,')
    expect(
      queries.some((x) =>
        x.expr.includes('sum by (le, operation, table) (rate(db_query_duration_seconds_bucket'),
      ),
    ).toBe(true)
    expect(queries.some((x) => x.expr.includes('db_connection_pool_size'))).toBe(true)
  })

  test('SLOs has, per objective, the SLI, the burn rate of every window, the budget left and the alert state', () => {
    const slo = byUid.get('convo-slo')
    const rows = slo.panels.filter((p: Json) => p.type === 'row').map((p: Json) => p.title)
    expect(rows).toEqual([
      'API availability (99.9 %)',
      'API latency (99 %)',
      'Payment success (99.5 %)',
      'WhatsApp alert delivery (99 %)',
    ])
    const queries = panelQueries(slo)
    const sel = 'sloth_id="convo-commerce-api-availability"'
    const of = (title: string) =>
      queries.filter((q) => q.panel.title === title && q.expr.includes(sel)).map((q) => q.expr)
    expect(of('SLI (5m)')).toEqual([`1 - slo:sli_error:ratio_rate5m{${sel}}`])
    expect(of('Error budget left (30 days)')).toEqual([`slo:period_error_budget_remaining:ratio{${sel}}`])
    expect(of('Burn rate per window')).toEqual(
      ['5m', '30m', '1h', '2h', '6h', '1d', '3d', '30d'].map(
        (w) =>
          `slo:sli_error:ratio_rate${w}{${sel}} / on(sloth_id, sloth_slo, sloth_service) slo:error_budget:ratio{${sel}}`,
      ),
    )
    expect(of('Burn-rate alerts firing')).toEqual(
      ['page', 'ticket'].map(
        (s) => `count(ALERTS{${sel}, sloth_severity="${s}", alertstate="firing"}) or on() vector(0)`,
      ),
    )
  })

  test('Order Monitoring keeps the original design: uid, title, refresh and the Orders Created panel', () => {
    const orders = byUid.get('orders-dashboard')
    expect(orders).toMatchObject({ title: 'Order Monitoring', refresh: '10s' })
    const panel = orders.panels.find((p: Json) => p.title === 'Orders Created')
    expect(panel.targets.map((t: Json) => t.expr)).toEqual([ORDERS_CREATED])
    expect(ORDERS_CREATED).toBe('sum(increase(orders_created_total[24h])) by (channel)')
    expect(orders.panels.filter((p: Json) => p.type !== 'row').length).toBeGreaterThan(5)
  })
})

/** The metrics a panel's queries select (Grafana variables expanded first). */
const metricsOf = (panel: Json): string[] =>
  (panel.targets as Json[]).flatMap((t) => inspectPromQL(expandGrafanaVariables(t.expr)).metrics)

/**
 * Latency panels: quantiles of a histogram the service attaches exemplars to. Error panels:
 * http_requests_total split by status or restricted to 5xx (its exemplars are on 5xx series).
 */
function isLatencyOrErrorTimeSeries(panel: Json): boolean {
  if (panel.type !== 'timeseries') return false
  const exprs = (panel.targets as Json[]).map((t) => t.expr as string)
  const metrics = metricsOf(panel)
  const latency =
    exprs.every((e) => e.includes('histogram_quantile(')) &&
    metrics.some((m) => m !== 'http_requests_total' && (EXEMPLAR_METRICS as readonly string[]).includes(m))
  const errors =
    metrics.includes('http_requests_total') &&
    exprs.some((e) => e.includes('status=~"5.."') || e.includes('by (status)'))
  return latency || errors
}

/**
 * Grafana's interpolation of a data link URL: dashboard variables by name, and
 * `${__data.fields.<name>}` from the row of the field the link is on.
 */
function interpolateLink(
  url: string,
  variables: Record<string, string>,
  row: Record<string, string>,
): string {
  return url.replace(/\$\{([\w.]+)\}/g, (match, name: string) => {
    if (name.startsWith('__data.fields.')) return row[name.slice('__data.fields.'.length)] ?? match
    return variables[name] ?? match
  })
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
const TRACE_LINK_URL = '${trace_base_url}${__data.fields.trace_id}'

describe('exemplars on the dashboards', () => {
  const exemplarPanels = files.map(({ name, json }) => ({
    name,
    panels: (json.panels as Json[])
      .filter((p) => (p.targets ?? []).some((t: Json) => t.exemplar === true))
      .map((p) => p.title as string),
  }))

  test('exactly the latency and error time series of Performance and System ask for exemplars', () => {
    expect(exemplarPanels).toEqual([
      { name: 'business', panels: [] },
      { name: 'orders', panels: [] },
      {
        name: 'performance',
        panels: [
          'Latency p50 / p95 / p99',
          'p50 latency by endpoint',
          'p95 latency by endpoint',
          'p99 latency by endpoint',
          'Payment provider latency p95',
        ],
      },
      { name: 'slo', panels: [] },
      { name: 'system', panels: ['Request rate by status', 'Error rate (5xx share)'] },
    ])
    // The same set by rule, so a new latency or error panel without exemplars fails too.
    for (const uid of ['convo-performance', 'convo-system']) {
      const dashboard = byUid.get(uid)
      const byRule = (dashboard.panels as Json[]).filter(isLatencyOrErrorTimeSeries).map((p) => p.title)
      const flagged = (dashboard.panels as Json[])
        .filter((p) => (p.targets ?? []).some((t: Json) => t.exemplar === true))
        .map((p) => p.title)
      expect({ uid, panels: flagged }).toEqual({ uid, panels: byRule })
    }
  })

  test('on those panels every query asks for exemplars of a metric that carries them, as a range query', () => {
    for (const { json } of files) {
      for (const panel of json.panels as Json[]) {
        const targets = (panel.targets ?? []) as Json[]
        if (!targets.some((t) => t.exemplar === true)) continue
        expect({
          panel: panel.title,
          type: panel.type,
          targets: targets.map((t) => ({ exemplar: t.exemplar, range: t.range, instant: t.instant })),
        }).toEqual({
          panel: panel.title,
          type: 'timeseries',
          targets: targets.map(() => ({ exemplar: true, range: true, instant: false })),
        })
        const carrying = metricsOf(panel).filter((m) => (EXEMPLAR_METRICS as readonly string[]).includes(m))
        expect({ panel: panel.title, carrying: carrying.length > 0 }).toEqual({
          panel: panel.title,
          carrying: true,
        })
      }
    }
  })

  test('Performance and System have the trace_base_url text box with the Sentry default; the others do not', () => {
    expect(DEFAULT_TRACE_BASE_URL).toBe('https://acme.sentry.io/performance/trace/')
    for (const { name, json } of files) {
      const variable = (json.templating.list as Json[]).find((v) => v.name === 'trace_base_url')
      if (name !== 'performance' && name !== 'system') {
        expect({ name, variable }).toEqual({ name, variable: undefined })
        continue
      }
      expect(structuredClone(variable)).toMatchObject({
        type: 'textbox',
        label: 'Trace UI',
        query: DEFAULT_TRACE_BASE_URL,
        current: { text: DEFAULT_TRACE_BASE_URL, value: DEFAULT_TRACE_BASE_URL },
        options: [{ selected: true, text: DEFAULT_TRACE_BASE_URL, value: DEFAULT_TRACE_BASE_URL }],
        hide: 0,
      })
    }
  })

  test("every exemplar panel links an exemplar's trace_id to trace_base_url + the trace id, and no other panel does", () => {
    const traceLink = [
      {
        matcher: { id: 'byName', options: 'trace_id' },
        properties: [
          { id: 'links', value: [{ title: 'Open trace', url: TRACE_LINK_URL, targetBlank: true }] },
        ],
      },
    ]
    for (const { json } of files) {
      for (const panel of (json.panels as Json[]).filter((p) => p.type !== 'row')) {
        const exemplars = (panel.targets as Json[]).some((t) => t.exemplar === true)
        expect({ panel: panel.title, overrides: panel.fieldConfig.overrides }).toEqual({
          panel: panel.title,
          overrides: exemplars ? traceLink : [],
        })
        // Only on the exemplar's field: series fields have no trace id to link.
        expect(panel.fieldConfig.defaults.links).toBeUndefined()
      }
    }
    const variables = { trace_base_url: DEFAULT_TRACE_BASE_URL }
    const row = { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', request_id: 'req-1' }
    expect(interpolateLink(TRACE_LINK_URL, variables, row)).toBe(
      'https://acme.sentry.io/performance/trace/4bf92f3577b34da6a3ce929d0e0e4736',
    )
    expect(interpolateLink(TRACE_LINK_URL, { trace_base_url: 'http://tempo:3200/trace/' }, row)).toBe(
      'http://tempo:3200/trace/4bf92f3577b34da6a3ce929d0e0e4736',
    )
  })
})

/** The panels under a row of a dashboard, in grid order (rows are never collapsed here). */
function sectionPanels(dashboard: Json, row: string): Json[] {
  const panels = dashboard.panels as Json[]
  const start = panels.findIndex((p) => p.type === 'row' && p.title === row)
  if (start < 0) return []
  const end = panels.findIndex((p, i) => i > start && p.type === 'row')
  return panels.slice(start + 1, end < 0 ? undefined : end)
}

const promtoolTest = withBinary('promtool', 'apt-get install -y prometheus')

/** Runs promtool on YAML files written to a temporary folder, removed afterwards. */
function promtool(args: string[], files: Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), 'dashboards-promtool-'))
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), toYaml(content))
    return run(['promtool', ...args.map((a) => (a in files ? join(dir, a) : a))])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe("System's Rule manager row", () => {
  const system = byUid.get('convo-system')
  const panels = sectionPanels(system, 'Rule manager')
  const exprOf = (title: string) => {
    const panel = panels.find((p) => p.title === title)
    expect({ title, found: panel !== undefined }).toEqual({ title, found: true })
    return panel.targets.map((t: Json) => t.expr as string)
  }

  test("has the rule-evaluation panels of Prometheus' overview dashboards, by rule_group, with their units", () => {
    expect(panels.map((p) => [p.title, p.type, p.fieldConfig.defaults.unit])).toEqual([
      ['Rule groups', 'stat', 'none'],
      ['Rules', 'stat', 'none'],
      ['Groups with failing rules (5m)', 'stat', 'none'],
      ['Groups missing evaluations (5m)', 'stat', 'none'],
      ['Rule evaluations by group', 'timeseries', 'ops'],
      ['Rule evaluation failures by group (5m)', 'timeseries', 'short'],
      ['Missed evaluations by group (5m)', 'timeseries', 'short'],
      ['Evaluation duration / interval', 'timeseries', 'percentunit'],
      ['Time since last evaluation', 'timeseries', 's'],
    ])
    for (const panel of panels) {
      const exprs: string[] = panel.targets.map((t: Json) => t.expr as string)
      // Every query reads the rule manager's families, on the selected instances only.
      for (const expr of exprs) {
        const others = inspectPromQL(expandGrafanaVariables(expr)).metrics.filter(
          (m) => !m.startsWith('alert_rule_'),
        )
        expect({ panel: panel.title, others }).toEqual({ panel: panel.title, others: [] })
        const selectors = expr.match(/\{[^}]*\}/g) ?? []
        expect({
          panel: panel.title,
          filtered: selectors.every((s) => s === '{instance=~"$instance"}'),
        }).toEqual({
          panel: panel.title,
          filtered: true,
        })
      }
      if (panel.type === 'timeseries')
        expect({
          panel: panel.title,
          legends: panel.targets.map((t: Json) => t.legendFormat),
          by: exprs.every((e: string) => e.includes('by (rule_group)')),
        }).toEqual({ panel: panel.title, legends: ['{{rule_group}}'], by: true })
    }
    // Counters over $__rate_interval as the other rate panels; the alerted values over the rule's 5m.
    expect(exprOf('Rule evaluations by group')).toEqual([
      'sum by (rule_group) (rate(alert_rule_evaluations_total{instance=~"$instance"}[$__rate_interval]))',
    ])
    expect(exprOf('Evaluation duration / interval')).toEqual([
      'sum by (rule_group) (rate(alert_rule_evaluation_duration_seconds_sum{instance=~"$instance"}[$__rate_interval])) / sum by (rule_group) (rate(alert_rule_evaluation_duration_seconds_count{instance=~"$instance"}[$__rate_interval])) / max by (rule_group) (alert_rule_group_interval_seconds{instance=~"$instance"})',
    ])
    expect(
      panels.find((p) => p.title === 'Evaluation duration / interval').fieldConfig.defaults.thresholds.steps,
    ).toEqual([
      { color: 'green', value: null },
      { color: 'red', value: 1 },
    ])
  })

  test('the failure and missed-slot panels show the value their alert compares with > 0', () => {
    const alerted = [
      ['AlertRuleEvaluationFailures', 'Rule evaluation failures by group (5m)'],
      ['AlertRuleGroupMissedEvaluations', 'Missed evaluations by group (5m)'],
    ] as const
    for (const [alert, title] of alerted) {
      const rule = alertRules().find((r) => r.alert === alert)!
      const [expr] = exprOf(title)
      expect({ alert, panel: `${expr.replace('{instance=~"$instance"}', '')} > 0` }).toEqual({
        alert,
        panel: rule.expr,
      })
      expect(panels.find((p) => p.title === title).description).toContain(alert)
    }
  })

  test("the two rule-manager alerts' runbook sections point to this row, and every panel they name exists", () => {
    const runbook = readFileSync(repoPath('ops', 'runbooks', 'alerts.md'), 'utf8')
    const titles = new Set(files.flatMap(({ json }) => (json.panels as Json[]).map((p) => p.title as string)))
    for (const alert of ['AlertRuleEvaluationFailures', 'AlertRuleGroupMissedEvaluations']) {
      const section = runbook.split(/^## /m).find((s) => s.startsWith(`${alert}\n`)) ?? ''
      // Quoted text outside code spans is a dashboard panel or row title.
      const named = [...section.replace(/`[^`]*`/g, '').matchAll(/"([^"\n]+)"/g)].map((m) => m[1]!)
      expect({ alert, row: named.includes('Rule manager') }).toEqual({ alert, row: true })
      expect({ alert, missing: named.filter((t) => !titles.has(t)) }).toEqual({ alert, missing: [] })
      // Each names the panel that shows its own value.
      const own =
        alert === 'AlertRuleEvaluationFailures'
          ? 'Rule evaluation failures by group (5m)'
          : 'Missed evaluations by group (5m)'
      expect({ alert, own: named.includes(own) }).toEqual({ alert, own: true })
    }
  })

  test('every panel or row a runbook\'s "Look at." paragraph names exists, in both runbooks', () => {
    const titles = new Set(
      files.flatMap(({ json }) => [
        json.title as string,
        ...(json.panels as Json[]).map((p) => p.title as string),
      ]),
    )
    const named: Array<{ runbook: string; title: string }> = []
    for (const runbook of ['alerts.md', 'slo.md']) {
      const text = readFileSync(repoPath('ops', 'runbooks', runbook), 'utf8')
      for (const paragraph of text.split(/\n\s*\n/).filter((p) => p.startsWith('**Look at.**'))) {
        // Quoted text outside code spans is a panel or row title; a title may wrap a line.
        for (const m of paragraph.replace(/`[^`]*`/g, '').matchAll(/"([^"]+)"/g)) {
          named.push({ runbook, title: m[1]!.replace(/\s+/g, ' ') })
        }
      }
    }
    expect(named.length).toBeGreaterThan(20)
    expect(named.filter(({ title }) => !titles.has(title))).toEqual([])
  })

  promtoolTest('every panel query of every dashboard parses in promtool (as a recording rule)', () => {
    const rules = files.flatMap(({ name, json }) =>
      panelQueries(json).map(({ expr }, i) => ({
        record: `dashboard:${name}_${i}`,
        expr: expandGrafanaVariables(expr),
      })),
    )
    expect(rules.length).toBeGreaterThan(50)
    const { exitCode, output } = promtool(['check', 'rules', 'panels.yml'], {
      'panels.yml': { groups: [{ name: 'panels', rules }] },
    })
    expect(output).toContain(`SUCCESS: ${rules.length} rules found`)
    expect(exitCode).toBe(0)
  })

  promtoolTest(
    'its queries compute, in promtool, what the panels say they show (two replicas, two groups)',
    () => {
      const series = (name: string, instance: string, group: string, values: string) => ({
        series: `${name}{instance="${instance}",rule_group="${group}"}`,
        values,
      })
      const input_series = [
        ...['a', 'b'].flatMap((i) => [
          series('alert_rule_group_rules', i, 'G', '3x10'),
          series('alert_rule_group_rules', i, 'H', '2x10'),
          series('alert_rule_group_interval_seconds', i, 'G', '30x10'),
          series('alert_rule_group_interval_seconds', i, 'H', '15x10'),
          // H has not been evaluated yet on either replica (its gauge reads 0 until then).
          series('alert_rule_group_last_evaluation_timestamp_seconds', i, 'H', '0x10'),
        ]),
        // Both replicas fail G's rules; only replica a misses H's slots.
        series('alert_rule_evaluation_failures_total', 'a', 'G', '0+1x10'),
        series('alert_rule_evaluation_failures_total', 'b', 'G', '0+2x10'),
        series('alert_rule_evaluation_failures_total', 'a', 'H', '0x10'),
        series('alert_rule_group_iterations_missed_total', 'a', 'G', '0x10'),
        series('alert_rule_group_iterations_missed_total', 'a', 'H', '0+1x10'),
        series('alert_rule_evaluations_total', 'a', 'G', '0+120x10'),
        series('alert_rule_evaluations_total', 'b', 'G', '0+60x10'),
        series('alert_rule_evaluations_total', 'a', 'H', '0+30x10'),
        // G: replica a leads, 2 evaluations a minute of 1.5s each (5% of 30s); b never leads.
        series('alert_rule_evaluation_duration_seconds_sum', 'a', 'G', '0+3x10'),
        series('alert_rule_evaluation_duration_seconds_count', 'a', 'G', '0+2x10'),
        series('alert_rule_evaluation_duration_seconds_sum', 'b', 'G', '0x10'),
        series('alert_rule_evaluation_duration_seconds_count', 'b', 'G', '0x10'),
        // H: one 45s evaluation a minute, three times its 15s interval.
        series('alert_rule_evaluation_duration_seconds_sum', 'a', 'H', '0+45x10'),
        series('alert_rule_evaluation_duration_seconds_count', 'a', 'H', '0+1x10'),
        // G's last evaluation on a: 20s before each minute from 2m; b led it once, at 50s.
        series('alert_rule_group_last_evaluation_timestamp_seconds', 'a', 'G', '0 0 100+60x8'),
        series('alert_rule_group_last_evaluation_timestamp_seconds', 'b', 'G', '50x10'),
      ]
      const expected: Array<[string, Array<[string, number]>]> = [
        ['Rule groups', [['{}', 2]]],
        ['Rules', [['{}', 5]]],
        ['Groups with failing rules (5m)', [['{}', 1]]],
        ['Groups missing evaluations (5m)', [['{}', 1]]],
        [
          'Rule evaluations by group',
          [
            ['{rule_group="G"}', 3],
            ['{rule_group="H"}', 0.5],
          ],
        ],
        [
          'Rule evaluation failures by group (5m)',
          [
            ['{rule_group="G"}', 15],
            ['{rule_group="H"}', 0],
          ],
        ],
        [
          'Missed evaluations by group (5m)',
          [
            ['{rule_group="G"}', 0],
            ['{rule_group="H"}', 5],
          ],
        ],
        [
          'Evaluation duration / interval',
          [
            ['{rule_group="G"}', 0.05],
            ['{rule_group="H"}', 3],
          ],
        ],
        // The latest start across replicas, 580s at 600s; H, never evaluated, has no line.
        ['Time since last evaluation', [['{rule_group="G"}', 20]]],
      ]
      const promql_expr_test = expected.map(([title, samples]) => {
        const [expr] = exprOf(title)
        return {
          expr: expandGrafanaVariables(expr),
          eval_time: '10m',
          exp_samples: samples.map(([labels, value]) => ({ labels, value })),
        }
      })
      const { exitCode, output } = promtool(['test', 'rules', 'panels.test.yml'], {
        'panels.yml': { groups: [] },
        'panels.test.yml': {
          rule_files: ['panels.yml'],
          evaluation_interval: '1m',
          tests: [{ interval: '1m', input_series, promql_expr_test }],
        },
      })
      if (exitCode !== 0) console.error(output)
      expect(output).toContain('SUCCESS')
      expect(exitCode).toBe(0)
    },
  )
})
