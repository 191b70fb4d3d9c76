import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RuleManager } from '../../../src/alerting/rules/manager.ts'
import { ruleManagerRoutes } from '../../../src/alerting/rules/routes.ts'
import { formatExpr } from '../../../src/prometheus/promql/format.ts'
import { parsePromQL } from '../../../src/prometheus/promql/parser.ts'
import { freePort, spawnPrometheus, waitFor } from '../../helpers/process.ts'
import { withBinary } from '../../ops/ops-files.ts'

const promTest = withBinary('prometheus', 'apt-get install -y prometheus')
const cleanups: Array<() => Promise<void> | void> = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

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
  ['-0', '-0'],
  ['1e21', '1e+21'],
  ['123456789', '1.23456789e+08'],
  ['0.1', '0.1'],
  ['foo[1500ms]', 'foo[1s500ms]'],
  ['foo @ 1.5', 'foo @ 1.500'],
  ['foo @ end() offset 1w', 'foo @ end() offset 1w'],
  ['rate(foo[5m:] @ 100)', 'rate(foo[5m:] @ 100.000)'],
  ['sum by () (foo)', 'sum(foo)'],
  ['sum without () (foo)', 'sum without () (foo)'],
  ['bottomk(1, foo) by (a)', 'bottomk by (a) (1, foo)'],
  ['foo == bool on(a) bar', 'foo == bool on (a) bar'],
  ['count_values without(a) ("v", foo)', 'count_values without (a) ("v", foo)'],
  ['1 + 2 * 3', '1 + 2 * 3'],
  ['(1)', '(1)'],
  ['-(-foo)', '-(-foo)'],
  ['- -1', '1'],
  ['"a\\tb\\u00e9\\x01"', '"a\\tbé\\x01"'],
  ['foo{a="\\"q\\""}', 'foo{a="\\"q\\""}'],
  ['foo{a=~"b|c",a!~"d"}', 'foo{a!~"d",a=~"b|c"}'],
  ['foo / ignoring(b) group_left() bar', 'foo / ignoring (b) group_left () bar'],
  ['foo / on() group_right(x) bar', 'foo / on () group_right (x) bar'],
  ['time()', 'time()'],
  ['vector(1) > bool 0', 'vector(1) > bool 0'],
  ['absent(nonexistent{job="x"})', 'absent(nonexistent{job="x"})'],
  ['foo[1y]', 'foo[1y]'],
  ['foo[52w]', 'foo[52w]'],
  ['foo[366d]', 'foo[366d]'],
  [
    'sum(rate(foo{code=~"5.."}[5m])) / sum(rate(foo[5m])) > 0.05',
    'sum(rate(foo{code=~"5.."}[5m])) / sum(rate(foo[5m])) > 0.05',
  ],
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

  // The same rule file loaded by Prometheus 2.42 (no scrape: the rules load at start-up):
  // each rule's query as it prints it, and the fields of a group, an alerting rule and a
  // recording rule, which ours must all carry (ours may add `warnings`).
  promTest('the same rules in a real Prometheus: the same queries and every field it prints', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-rules-format-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const rules = [
      { alert: 'A', expr: 'foo   >  0', for: '2s', labels: { z: '1', a: '2' }, annotations: { s: 'x' } },
      ...PRINTED_BY_PROMETHEUS.map(([expr], i) => ({ record: `r${i}`, expr })),
    ]
    const file = join(dir, 'rules.yml')
    writeFileSync(file, JSON.stringify({ groups: [{ name: 'g', interval: '1h', limit: 3, rules }] }))
    writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify({ rule_files: [file] }))
    const prometheus = spawnPrometheus(dir, await freePort())
    cleanups.push(() => prometheus.stop())
    type Group = Record<string, unknown> & { rules: Array<Record<string, unknown>> }
    const theirs = await waitFor(
      'the rules in Prometheus',
      async () => {
        const body = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as {
          data: { groups: Group[] }
        }
        return body.data.groups[0]
      },
      15_000,
    )
    const ruleManager = {
      groups: [
        {
          group: { name: 'g', file, limit: 3 },
          key: 'g',
          intervalMs: 3_600_000,
          rules: [
            {
              rule: {
                type: 'alerting',
                name: 'A',
                expr: 'foo   >  0',
                forMs: 2000,
                keepFiringForMs: 0,
                labels: { z: '1', a: '2' },
                annotations: { s: 'x' },
              },
              stateKey: 'A',
              health: 'unknown',
            },
            ...PRINTED_BY_PROMETHEUS.map(([expr], i) => ({
              rule: { type: 'recording', name: `r${i}`, expr, labels: { k: 'v' } },
              stateKey: `r${i}`,
              health: 'unknown',
            })),
          ],
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
    const ours = ((await response.json()) as { data: { groups: Group[] } }).data.groups[0]!
    expect(ours.rules.map((r) => r.query)).toEqual(theirs.rules.map((r) => r.query))
    const missing = (their: Record<string, unknown>, our: Record<string, unknown>) =>
      Object.keys(their).filter((k) => !(k in our))
    expect([
      missing(theirs, ours),
      missing(theirs.rules[0]!, ours.rules[0]!),
      missing(theirs.rules[1]!, ours.rules[1]!),
    ]).toEqual([[], [], []])
    const pick = (g: Group) => [
      g.name,
      g.interval,
      g.limit,
      g.lastEvaluation,
      g.rules[0]!.state,
      g.rules[0]!.labels,
      g.rules[0]!.lastEvaluation,
      g.rules[0]!.health,
    ]
    expect(pick(ours)).toEqual(pick(theirs))
  })
})
