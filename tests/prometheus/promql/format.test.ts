import { describe, expect, test } from 'bun:test'
import type { RuleManager } from '../../../src/alerting/rules/manager.ts'
import { ruleManagerRoutes } from '../../../src/alerting/rules/routes.ts'
import { formatExpr } from '../../../src/prometheus/promql/format.ts'
import { parsePromQL } from '../../../src/prometheus/promql/parser.ts'

// Each expression loaded as a recording rule into Prometheus 2.42, and the `query` its
// /api/v1/rules printed for it (`expr.String()`).
const PRINTED_BY_PROMETHEUS: Array<[string, string]> = [
  ['foo   >  0', 'foo > 0'],
  ['foo / on() bar', 'foo / on () bar'],
  ['sum by(job)(foo)', 'sum by (job) (foo)'],
  ['sum by (z, a) (foo)', 'sum by (z, a) (foo)'],
  ['sum without(instance)(rate(foo[5m]))', 'sum without (instance) (rate(foo[5m]))'],
  ['topk(3, foo)', 'topk(3, foo)'],
  ['{__name__="foo"}', '{__name__="foo"}'],
  ['{__name__="foo", a="b"}', '{__name__="foo",a="b"}'],
  ['foo{z="1", a=~"x.*", b!="é\\n"}', 'foo{a=~"x.*",b!="é\\n",z="1"}'],
  ['foo offset 5m', 'foo offset 5m'],
  ['foo offset -90m', 'foo offset -1h30m'],
  ['rate(foo[1h30m] offset 1d)', 'rate(foo[1h30m] offset 1d)'],
  ['foo @ 1609746000', 'foo @ 1609746000.000'],
  ['foo @ start()', 'foo @ start()'],
  ['max_over_time(rate(foo[5m])[1h:1m])', 'max_over_time(rate(foo[5m])[1h:1m])'],
  ['max_over_time(foo[1w:] offset 2w)', 'max_over_time(foo[1w:] offset 2w)'],
  ['foo * ignoring(a) group_left(c, b) bar', 'foo * ignoring (a) group_left (c, b) bar'],
  ['foo * ignoring() group_left bar', 'foo * bar'],
  ['foo + on(b, a) group_right bar', 'foo + on (b, a) group_right () bar'],
  ['foo and on(b) bar', 'foo and on (b) bar'],
  ['foo > bool 1', 'foo > bool 1'],
  ['-foo', '-foo'],
  ['- 1', '-1'],
  ['+1', '1'],
  ['1e6', '1e+06'],
  ['100000', '100000'],
  ['0.00001', '1e-05'],
  ['1.5e-3', '0.0015'],
  ['-(foo)', '-(foo)'],
  ['(foo + bar) * 2', '(foo + bar) * 2'],
  ['label_replace(bar, "instance", "", "", "")', 'label_replace(bar, "instance", "", "", "")'],
  ["'single'", '"single"'],
  ['foo unless bar or baz', 'foo unless bar or baz'],
  ['sum(foo) by (b, a)', 'sum by (b, a) (foo)'],
  ['count_values("v", foo)', 'count_values("v", foo)'],
  ['quantile(0.9, foo)', 'quantile(0.9, foo)'],
  ['Inf', '+Inf'],
  ['-inf', '-Inf'],
  ['NaN', 'NaN'],
  ['0x10', '16'],
  [
    'histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))',
    'histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))',
  ],
  ['foo[5m]', 'foo[5m]'],
]

describe('formatExpr', () => {
  test('prints every expression as Prometheus 2.42 printed it in /api/v1/rules', () => {
    const got = PRINTED_BY_PROMETHEUS.map(([expr]) => [expr, formatExpr(parsePromQL(expr))])
    expect(got).toEqual(PRINTED_BY_PROMETHEUS)
  })

  test('GET /alerts/rules reports the printed query, and an expression it cannot parse as written', async () => {
    const rule = (expr: string) => ({
      rule: { type: 'recording', name: 'r', expr, labels: {} },
      stateKey: 'r',
      health: 'unknown',
    })
    const ruleManager = {
      groups: [
        {
          group: { name: 'g', file: 'rules.yml', limit: 0 },
          key: 'g',
          intervalMs: 60_000,
          rules: [rule('sum by(job)(foo)'), rule('foo{')],
        },
      ],
      activeAlerts: async () => [],
    } as unknown as RuleManager
    const app = ruleManagerRoutes({ ruleManager, adminToken: 'admin-token-0123456789' })
    const response = await app.handle(
      new Request('http://localhost/alerts/rules', {
        headers: { authorization: 'Bearer admin-token-0123456789' },
      }),
    )
    const body = (await response.json()) as { data: { groups: Array<{ rules: Array<{ query: string }> }> } }
    expect(body.data.groups[0]!.rules.map((r) => r.query)).toEqual(['sum by (job) (foo)', 'foo{'])
  })
})
