import { describe, expect, test } from 'bun:test'
import { exposedTypeLines, selectableNames, seriesNames } from './metric-names.ts'
import {
  alertRules,
  dashboardFiles,
  expandGrafanaVariables,
  inspectPromQL,
  outsideEmbeddedSubset,
  panelQueries,
  ruleGroups,
  ruleTestFiles,
} from './ops-files.ts'

/** Recording rules (ops/prometheus/rules/slo.yml); the series they write are selectable too. */
const recordingRules = ruleGroups()
  .flatMap((g) => g.rules as Array<{ record?: string; expr: string }>)
  .filter((r): r is { record: string; expr: string } => r.record !== undefined)
// ALERTS is written by Prometheus (and promtool) for every alerting rule; the SLOs dashboard reads it.
const selectable = new Set([...(await selectableNames()), ...recordingRules.map((r) => r.record), 'ALERTS'])
const unknownMetrics = (expr: string) => inspectPromQL(expr).metrics.filter((m) => !selectable.has(m))

describe('the PromQL checks themselves', () => {
  test('report syntax errors, unknown metrics and constructs outside the embedded subset', () => {
    expect(inspectPromQL('sum(rate(http_requests_total[5m])').errors).not.toEqual([])
    expect(inspectPromQL('rate(x[$__rate_interval])').errors).not.toEqual([])
    expect(inspectPromQL('sum by (le) (rate(x_bucket{a="b"}[5m]))')).toMatchObject({
      errors: [],
      metrics: ['x_bucket'],
    })
    expect(inspectPromQL('{__name__="db_up"} == 0').metrics).toEqual(['db_up'])
    expect(inspectPromQL('{job="x"}').errors).toEqual(['selector without a metric name: {job="x"}'])
    expect(unknownMetrics('rate(http_requests_totl[5m]) / db_up')).toEqual(['http_requests_totl'])
    expect(unknownMetrics('http_request_duration_seconds_bucket + http_request_duration_seconds')).toEqual([
      'http_request_duration_seconds',
    ])
    expect(outsideEmbeddedSubset('topk(3, x)')).toEqual(['Topk'])
    expect(outsideEmbeddedSubset('x offset 5m')).toEqual(['OffsetExpr', 'Offset', 'OffsetDurationExpr'])
    expect(outsideEmbeddedSubset('a / on (k) group_left b')).toEqual([])
    expect(outsideEmbeddedSubset('label_replace(x, "a", "$1", "b", "(.*)")')).toEqual(['LabelReplace'])
    expect(outsideEmbeddedSubset('max_over_time(x[1h:5m])')).toContain('SubqueryExpr')
    expect(outsideEmbeddedSubset('-x')).toEqual(['UnaryExpr', 'UnaryOp'])
    expect(outsideEmbeddedSubset('histogram_quantile(-0.5, x) * -1')).toEqual([])
    expect(
      outsideEmbeddedSubset(
        '(sum without (a) (irate(x{a!="1",b=~"2",c!~"3"}[1m])) != bool 0) and on (k) absent(y) or delta(z[5m]) unless count(w) ^ 2 % 3',
      ),
    ).toEqual([])
  })

  test('expand Grafana variables the way Grafana does before querying', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
    const expr = 'rate(x{tenant_id=~"$tenant",i=~"${instance}"}[$__rate_interval])'
    expect(expandGrafanaVariables(expr)).toBe('rate(x{tenant_id=~".*",i=~".*"}[5m])')
  })

  test('derive series names from # TYPE lines (histograms have _bucket, _sum, _count)', async () => {
    expect([
      ...seriesNames('# TYPE a_seconds histogram\n# TYPE b counter\n# TYPE c_total counter\n# TYPE d gauge'),
    ]).toEqual(['a_seconds_bucket', 'a_seconds_sum', 'a_seconds_count', 'b_total', 'c_total', 'd'])
    expect(await exposedTypeLines()).toContain('# TYPE db_up gauge')
  })
})

describe('alert rule expressions', () => {
  for (const rule of alertRules()) {
    test(`${rule.alert}: parses, selects exposed metrics only, stays in the embedded subset`, () => {
      expect(inspectPromQL(rule.expr).errors).toEqual([])
      expect(unknownMetrics(rule.expr)).toEqual([])
      expect(outsideEmbeddedSubset(rule.expr)).toEqual([])
    })
  }
})

describe('recording rule expressions', () => {
  test('parse, select exposed or recorded series only, stay in the embedded subset', () => {
    expect(recordingRules.length).toBeGreaterThan(0)
    for (const rule of recordingRules) {
      expect({
        rule: rule.record,
        errors: inspectPromQL(rule.expr).errors,
        unknown: unknownMetrics(rule.expr),
        outside: outsideEmbeddedSubset(rule.expr),
      }).toEqual({ rule: rule.record, errors: [], unknown: [], outside: [] })
    }
  })
})

describe('promql_expr_test expressions (shared with the embedded engine)', () => {
  test('parse and stay in the embedded subset', () => {
    const exprs = ruleTestFiles().flatMap(({ content }) =>
      content.tests.flatMap((t) => (t.promql_expr_test ?? []).map((c) => c.expr)),
    )
    expect(exprs.length).toBeGreaterThan(100)
    for (const expr of exprs) {
      // A YAML number (`expr: 1.5e3`) would reach another YAML reader as a number, not as PromQL.
      expect(typeof expr).toBe('string')
      expect({ expr, errors: inspectPromQL(expr).errors, outside: outsideEmbeddedSubset(expr) }).toEqual({
        expr,
        errors: [],
        outside: [],
      })
    }
  })
})

describe('dashboard queries', () => {
  for (const { name, json } of dashboardFiles()) {
    test(`${name}: every panel query parses and selects exposed metrics only`, () => {
      const queries = panelQueries(json)
      expect(queries.length).toBeGreaterThan(5)
      for (const { panel, expr } of queries) {
        const promql = expandGrafanaVariables(expr)
        expect({
          panel: panel.title,
          errors: inspectPromQL(promql).errors,
          unknown: unknownMetrics(promql),
        }).toEqual({
          panel: panel.title,
          errors: [],
          unknown: [],
        })
      }
    })

    test(`${name}: template variables query exposed metrics`, () => {
      for (const variable of json.templating.list) {
        if (variable.type !== 'query') continue
        const match = /^label_values\((\w+), (\w+)\)$/.exec(variable.query.query)
        expect(match).not.toBeNull()
        expect(selectable.has(match![1]!)).toBe(true)
      }
    })
  }
})
