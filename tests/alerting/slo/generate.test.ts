import { describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml, stringify } from 'yaml'
import { sloRuleGroups, sloRulesFileText } from '../../../scripts/slo/generate.ts'
import { loadSlothSpec, parseSlothSpec } from '../../../src/alerting/slo/spec.ts'
import { repoPath, run, withBinary } from '../../ops/ops-files.ts'
import { runOurs } from '../../prometheus/promtool/rule-test-files.ts'
import type { SloRule } from './slo-rule.ts'

const SPEC = repoPath('ops', 'slo', 'slos.yml')
const RULES = repoPath('ops', 'prometheus', 'rules', 'slo.yml')

type Rule = SloRule

describe('ops/slo/slos.yml → ops/prometheus/rules/slo.yml', () => {
  test('the committed rules are what `bun run ops:slo` generates from the committed spec', () => {
    expect(readFileSync(RULES, 'utf8')).toBe(sloRulesFileText(loadSlothSpec(SPEC)))
  })

  test('ships the four objectives of the issue', () => {
    const spec = loadSlothSpec(SPEC)
    expect(spec.slos.map((s) => [s.name, s.objective])).toEqual([
      ['api-availability', 99.9],
      ['api-latency', 99],
      ['payment-success', 99.5],
      ['alert-delivery', 99],
    ])
  })

  test("Sloth's groups, recording names and labels for every SLO", () => {
    const groups = parseYaml(readFileSync(RULES, 'utf8')).groups as Array<{ name: string; rules: Rule[] }>
    const availability = groups.filter((g) => g.name.endsWith('-convo-commerce-api-availability'))
    expect(availability.map((g) => g.name)).toEqual([
      'sloth-slo-sli-recordings-convo-commerce-api-availability',
      'sloth-slo-meta-recordings-convo-commerce-api-availability',
      'sloth-slo-alerts-convo-commerce-api-availability',
    ])
    const [sli, meta, alerts] = availability as [(typeof groups)[0], (typeof groups)[0], (typeof groups)[0]]
    const ids = {
      sloth_id: 'convo-commerce-api-availability',
      sloth_service: 'convo-commerce',
      sloth_slo: 'api-availability',
    }
    expect(sli.rules.map((r) => [r.record, r.labels.sloth_window])).toEqual(
      ['5m', '30m', '1h', '2h', '6h', '1d', '3d', '30d'].map((w) => [`slo:sli_error:ratio_rate${w}`, w]),
    )
    for (const rule of [...sli.rules, ...meta.rules]) expect(rule.labels).toMatchObject(ids)
    expect(meta.rules.map((r) => r.record)).toEqual([
      'slo:objective:ratio',
      'slo:error_budget:ratio',
      'slo:time_period:days',
      'slo:current_burn_rate:ratio',
      'slo:period_burn_rate:ratio',
      'slo:period_error_budget_remaining:ratio',
      'sloth_slo_info',
    ])
    expect(meta.rules[0]!.expr).toBe('0.999')
    // Only the period averages the 5m recording (Sloth's optimized SLI rules); 1d and 3d read
    // the counters, as every alert window does in Sloth.
    expect(sli.rules[7]!.expr).toBe(
      'sum_over_time(slo:sli_error:ratio_rate5m{sloth_id="convo-commerce-api-availability", sloth_service="convo-commerce", sloth_slo="api-availability"}[30d])\n' +
        '/ ignoring (sloth_window)\n' +
        'count_over_time(slo:sli_error:ratio_rate5m{sloth_id="convo-commerce-api-availability", sloth_service="convo-commerce", sloth_slo="api-availability"}[30d])\n',
    )
    expect(sli.rules.slice(0, 7).every((r) => r.expr.includes('http_requests_total'))).toBe(true)
    expect(alerts.rules.map((r) => [r.alert, r.labels.sloth_severity, r.labels.severity])).toEqual([
      ['ApiAvailabilityBudgetBurn', 'page', 'critical'],
      ['ApiAvailabilityBudgetBurn', 'ticket', 'warning'],
    ])
  })

  test("the workbook's windows and factors: page 14.4× (1h, 5m) or 6× (6h, 30m); ticket 3× (1d, 2h) or 1× (3d, 6h)", () => {
    const spec = loadSlothSpec(SPEC)
    const alerts = sloRuleGroups(spec)
      .filter((g) => g.name === 'sloth-slo-alerts-convo-commerce-api-availability')
      .flatMap((g) => g.rules) as Rule[]
    const conditions = (expr: string) =>
      [...expr.matchAll(/slo:sli_error:ratio_rate(\w+)\{[^}]*\} > \(([\d.]+) \* ([\d.]+)\)/g)].map(
        (m) => `${m[1]}>${m[2]}*${m[3]}`,
      )
    expect(alerts.map((a) => conditions(a.expr))).toEqual([
      ['5m>14.4*0.001', '1h>14.4*0.001', '30m>6*0.001', '6h>6*0.001'],
      ['2h>3*0.001', '1d>3*0.001', '6h>1*0.001', '3d>1*0.001'],
    ])
    expect(alerts[0]!.expr.startsWith('100 * max(slo:period_error_budget_remaining:ratio{')).toBe(true)
    // Below zero, how many times over the month would spend its budget (the period's burn
    // rate, through `query`: templates have no arithmetic), not a negative percentage left.
    expect(alerts[0]!.annotations?.description).toBe(
      'API availability 99.9 %: burning the error budget faster than 14.4× over 1 h and 5 m, or 6× over 6 h and 30 m — ' +
        '{{ if ne $value $value }}the budget left is unknown: a 5-minute window without traffic (0/0) in the last 30 days made the 30-day error ratio NaN' +
        "{{ else if lt $value 0.0 }}this month's budget is overspent" +
        '{{ with query `slo:period_burn_rate:ratio{sloth_id="convo-commerce-api-availability", sloth_service="convo-commerce", sloth_slo="api-availability"}` }}' +
        '{{ with . | first | value }}: at the error ratio recorded so far, the month would spend it ' +
        '{{ if lt . 10.0 }}{{ printf "%.1f" . }}{{ else }}{{ printf "%.0f" . }}{{ end }} times over{{ end }}{{ end }}' +
        '{{ else }}{{ printf "%.0f" $value }} % of this month\'s budget left{{ end }} (30-day SLO convo-commerce-api-availability).',
    )
  })

  test('a disabled ticket alert is left out', () => {
    const spec = loadSlothSpec(SPEC)
    const slo = { ...spec.slos[0]!, alerting: { ...spec.slos[0]!.alerting, ticket_alert: { disable: true } } }
    const groups = sloRuleGroups({ ...spec, slos: [slo] })
    expect(groups.at(-1)!.rules.map((r) => (r as Rule).labels.sloth_severity)).toEqual(['page'])
  })

  test.each([
    [99.9, '0.999', '1 - 0.999', '(14.4 * 0.001)', '99.9'],
    // 1 at the 12 significant digits the rules are written with: no budget, in the recordings
    // and the alerts alike (the alerts once multiplied a budget the recordings said was 0).
    [99.99999999995, '1', '1 - 1', '(14.4 * 0)', '99.99999999995'],
    // Sloth's sloth_objective is strconv.FormatFloat(…, 'f', -1, 64): never an exponent.
    [0.0000001, '1e-9', '1 - 1e-9', '(14.4 * 0.999999999)', '0.0000001'],
  ])('objective %p: the recordings and the alerts use one budget; sloth_objective as Sloth writes it', (objective, ratio, budget, pageFactor, label) => {
    const spec = loadSlothSpec(SPEC)
    const groups = sloRuleGroups({ ...spec, slos: [{ ...spec.slos[0]!, objective }] })
    const meta = groups[1]!.rules as Rule[]
    const expr = (record: string) => meta.find((r) => r.record === record)!.expr
    expect([expr('slo:objective:ratio'), expr('slo:error_budget:ratio')]).toEqual([ratio, budget])
    expect(meta.find((r) => r.record === 'sloth_slo_info')!.labels.sloth_objective).toBe(label)
    const page = (groups[2]!.rules as Array<Rule & { expr: string; annotations: Record<string, string> }>)[0]!
    expect(page.expr).toContain(`> ${pageFactor})`)
    // No budget: no "+Inf times over" in the message.
    expect(
      String(page.annotations.description).includes(
        'this objective has no error budget: any error spends it',
      ),
    ).toBe(pageFactor === '(14.4 * 0)')
  })

  test('a bad spec is an error naming the SLO', () => {
    const base = readFileSync(SPEC, 'utf8')
    expect(() => parseSlothSpec(base.replace('version: prometheus/v1', 'version: v2'))).toThrow(
      'version must be prometheus/v1',
    )
    expect(() => parseSlothSpec(base.replace('objective: 99.9', 'objective: 100.1'))).toThrow(
      'slo "api-availability": objective must be a percentage above 0 and at most 100',
    )
    expect(() =>
      parseSlothSpec(
        base.replace('total_query: sum(rate(payments_processed_total[{{.window}}])) > 0', 'total_query: x'),
      ),
    ).toThrow('slo "payment-success": sli.events.total_query must be a query containing {{.window}}')
    expect(() => parseSlothSpec(base.replace('name: api-latency', 'name: api-availability'))).toThrow(
      'slo "api-availability": duplicate name',
    )
  })
})

// Sloth's getting-started spec divides by `sum(rate(…))` unguarded: five quiet minutes record
// 0/0 = NaN, and the 30-day average (sum_over_time of the 5m ratio) stays NaN for 30 days.
// The page must still fire then, as Sloth's does, and its message must not read "NaN % of
// this month's budget left". Held against promtool, and the embedded engine against it.
describe('an alert while the 30-day error ratio is NaN (a quiet 5m window in the period)', () => {
  const GETTING_STARTED = readFileSync(
    new URL('./fixtures/sloth/multifile.yml', import.meta.url),
    'utf8',
  ).split(/^---$/m)[1]!
  const id = 'myservice-requests-availability'
  const series = (code: string, values: string) => ({
    series: `http_request_duration_seconds_count{job="myservice",code="${code}"}`,
    values,
  })
  function suite(dir: string): string {
    const spec = parseSlothSpec(GETTING_STARTED)
    writeFileSync(join(dir, 'slo.yml'), sloRulesFileText(spec))
    const file = join(dir, 'slo.test.yml')
    const alert = (severity: string, severityLabel: string, rates: string) => ({
      exp_labels: {
        category: 'availability',
        // The spec's labels, carried from the SLI recordings through `max(…) without (sloth_window)`.
        owner: 'myteam',
        repo: 'myorg/myservice',
        tier: '2',
        severity: severityLabel,
        sloth_id: id,
        sloth_service: 'myservice',
        sloth_slo: 'requests-availability',
        sloth_severity: severity,
        ...(severity === 'page' ? { routing_key: 'myteam' } : { slack_channel: '#alerts-myteam' }),
      },
      exp_annotations: {
        summary: "High error rate on 'myservice' requests responses",
        description: `Common SLO based on availability for HTTP request responses. 99.9 %: burning the error budget faster than ${rates} — the budget left is unknown: a 5-minute window without traffic (0/0) in the last 30 days made the 30-day error ratio NaN (30-day SLO ${id}).`,
      },
    })
    writeFileSync(
      file,
      stringify({
        rule_files: ['slo.yml'],
        evaluation_interval: '1m',
        group_eval_order: sloRuleGroups(spec).map((g) => g.name),
        tests: [
          {
            interval: '1m',
            // 20 quiet minutes, then every request fails.
            input_series: [series('200', '0x40'), series('500', '0x20 0+600x20')],
            alert_rule_test: [
              {
                eval_time: '30m',
                alertname: 'MyServiceHighErrorRate',
                exp_alerts: [
                  alert('page', 'pageteam', '14.4× over 1 h and 5 m, or 6× over 6 h and 30 m'),
                  alert('ticket', 'slack', '3× over 1 d and 2 h, or 1× over 3 d and 6 h'),
                ],
              },
            ],
          },
        ],
      }),
    )
    return file
  }

  passesOnBoth('fires, and says the budget left is unknown', 'slo-nan-', suite)
})

// A per-route SLI (`sum by (route) (…)`, common in specs others write) records one ratio per
// route. Sloth's burn-rate recordings divide `group_left`; ours once divided one-to-one, which
// Prometheus refuses at every evaluation ("multiple matches for labels"), so such an SLO had no
// burn rate, no budget left and never alerted. Each route must page on its own burn, under
// promtool and the embedded engine alike.
describe('a per-route SLI (sum by (route)): each route burns and alerts on its own, as in Sloth', () => {
  const PER_ROUTE = `version: prometheus/v1
service: shop
slos:
  - name: per-route
    objective: 99.9
    sli:
      events:
        error_query: sum by (route) (rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum by (route) (rate(http_requests_total[{{.window}}]))
    alerting:
      name: PerRouteBurn
      annotations:
        summary: burning
        description: too fast
`
  function suite(dir: string): string {
    const spec = parseSlothSpec(PER_ROUTE)
    writeFileSync(join(dir, 'slo.yml'), sloRulesFileText(spec))
    const ids = { sloth_id: 'shop-per-route', sloth_service: 'shop', sloth_slo: 'per-route' }
    const requests = (route: string, code: string, values: string) => ({
      series: `http_requests_total{route="${route}",code="${code}"}`,
      values,
    })
    const file = join(dir, 'slo.test.yml')
    writeFileSync(
      file,
      stringify({
        rule_files: ['slo.yml'],
        evaluation_interval: '1m',
        group_eval_order: sloRuleGroups(spec).map((g) => g.name),
        tests: [
          {
            interval: '1m',
            // Route a fails a third of its requests; route b none.
            input_series: [
              requests('a', '200', '0+100x30'),
              requests('a', '500', '0+50x30'),
              requests('b', '200', '0+100x30'),
              requests('b', '500', '0x30'),
            ],
            promql_expr_test: [
              {
                expr: 'slo:current_burn_rate:ratio',
                eval_time: '10m',
                exp_samples: [
                  {
                    labels: `slo:current_burn_rate:ratio{route="a", sloth_id="shop-per-route", sloth_service="shop", sloth_slo="per-route", sloth_window="5m"}`,
                    value: 333.3333333333331,
                  },
                  {
                    labels: `slo:current_burn_rate:ratio{route="b", sloth_id="shop-per-route", sloth_service="shop", sloth_slo="per-route", sloth_window="5m"}`,
                    value: 0,
                  },
                ],
              },
            ],
            alert_rule_test: [
              {
                eval_time: '10m',
                alertname: 'PerRouteBurn',
                exp_alerts: ['page', 'ticket'].map((severity) => ({
                  exp_labels: { route: 'a', ...ids, sloth_severity: severity },
                  exp_annotations: { summary: 'burning', description: 'too fast' },
                })),
              },
            ],
          },
        ],
      }),
    )
    return file
  }

  passesOnBoth('route a pages and tickets, route b does not', 'slo-route-', suite)
})

/**
 * Registers the rule test file `suite` writes into a fresh directory as two tests: through the
 * real promtool (skipped without it, unless CI requires it) and through `rules:test`. Both must
 * pass it, silently for ours.
 */
function passesOnBoth(title: string, prefix: string, suite: (dir: string) => string) {
  const inFreshDir = (check: (dir: string) => void) => () => {
    const dir = mkdtempSync(join(tmpdir(), prefix))
    try {
      check(dir)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  withBinary('promtool', 'apt-get install -y prometheus')(
    `promtool: ${title}`,
    inFreshDir((dir) => {
      const { exitCode, output } = run(['promtool', 'test', 'rules', suite(dir)])
      expect(output).toContain('SUCCESS')
      expect(exitCode).toBe(0)
    }),
  )
  test(
    'the embedded engine (rules:test): the same',
    inFreshDir((dir) => {
      const { code, stderr } = runOurs([suite(dir)])
      expect(stderr).toBe('')
      expect(code).toBe(0)
    }),
  )
}
