import { describe, expect, test } from 'bun:test'
import { CompiledQuery, evaluateInstant } from '../../../src/prometheus/promql/engine.ts'
import { labelsFrom } from '../../../src/prometheus/promql/labels.ts'
import { SampleStore } from '../../../src/prometheus/promql/store.ts'
import { testWithBinary } from '../../helpers/ops-tools.ts'
import { bothReports, runOurs, writeSuite } from './rule-test-files.ts'

// promtool's test engine holds at most 10 000 samples per query (`MaxSamples` in promql/test.go),
// counted as Prometheus' promql/engine.go counts them (`currentSamples`). Each case sits just
// under or just over that cap; promtool and rules:test must print the same report.

const TOO_MANY = 'query processing would load too many samples into memory in query execution'

/**
 * A test file of one group with `series` (each with `values`, at `interval`) and one
 * promql_expr_test expecting `value` with no labels, or nothing when undefined.
 */
function exprTest(
  series: string[],
  interval: string,
  expr: string,
  evalTime: string,
  value: number | undefined,
  values = '1x10000',
): string {
  const input = series.map((s) => `      - series: '${s}'\n        values: '${values}'\n`).join('')
  const expected = value === undefined ? '[]' : `[{labels: '{}', value: ${value}}]`
  return (
    `evaluation_interval: 1m\ntests:\n  - interval: ${interval}\n    input_series:\n${input}` +
    `    promql_expr_test:\n      - expr: '${expr}'\n        eval_time: ${evalTime}\n        exp_samples: ${expected}\n`
  )
}

/** The report line of a promql_expr_test that held too many samples. */
const tooManyReport = (expr: string, time: string) =>
  `  FAILED:\n    expr: ${JSON.stringify(expr)}, time: ${time}, err: ${TOO_MANY}\n`

// [name, series, interval, expr, eval_time, expected value when under the cap (undefined: over),
// series values]
const EXPR_CASES: [string, string[], string, string, string, number | undefined, string?][] = [
  // A range selector: its window (9 999 samples, one each 500ms) and the function's output.
  ['range selector under', ['g'], '500ms', 'count_over_time(g[4999s])', '2h46m', 9999, '1x20000'],
  // 10 000 in the window, and the output makes 10 001.
  ['range selector over', ['g'], '500ms', 'count_over_time(g[4999500ms])', '2h46m', undefined, '1x20000'],
  // A subquery's points are held twice: as its result (4 999) and as the function's window
  // (4 999), plus the output: 9 999.
  ['subquery under', ['g'], '1m', 'count_over_time(g[4998ms:1ms])', '10m', 4999],
  ['subquery over', ['g'], '1m', 'count_over_time(g[4999ms:1ms])', '10m', undefined],
  // promtool's own example of the cap: a 60 001-point subquery.
  ['60 001-point subquery', ['g'], '1m', 'count_over_time(g[1m:1ms])', '2m', undefined],
  // Inside the subquery `g * 2` holds both operands for all 3 332 steps (6 664) plus its outputs
  // so far and the step's two inputs: 6 664 + 3 332 + 2 = 9 998.
  ['nested binary under', ['g'], '1m', 'max_over_time((g * 2)[3331ms:1ms])', '10m', 2],
  // 3 333 steps: 6 666 + 3 333 + 2 = 10 001.
  ['nested binary over', ['g'], '1m', 'max_over_time((g * 2)[3332ms:1ms])', '10m', undefined],
  // topk's parameter is a sample at every step as well (3 × 3 333 + 2 = 10 001).
  [
    'aggregation with a parameter over',
    ['g'],
    '1m',
    'count_over_time(topk(1, g)[3332ms:1ms])',
    '10m',
    undefined,
  ],
  ['aggregation with a parameter under', ['g'], '1m', 'count_over_time(topk(1, g)[3331ms:1ms])', '10m', 3332],
  // count_values' string parameter holds nothing: 2 × 4 999 + 1 = 9 999.
  [
    'string parameter under',
    ['g'],
    '1m',
    'count(count_over_time(count_values("v", g)[4998ms:1ms]))',
    '10m',
    1,
  ],
  [
    'string parameter over',
    ['g'],
    '1m',
    'count(count_over_time(count_values("v", g)[4999ms:1ms]))',
    '10m',
    undefined,
  ],
  // With `@` the inside is step invariant (`StepInvariantExpr`): evaluated once, then copied
  // to the 4 999 steps one sample at a time, so `g @ 600 * 2` holds no operands for each step.
  ['step invariant under', ['g'], '1m', 'max_over_time((g @ 600 * 2)[4998ms:1ms])', '10m', 2],
  ['step invariant over', ['g'], '1m', 'max_over_time((g @ 600 * 2)[4999ms:1ms])', '10m', undefined],
  // Without `@` a function of literals is step invariant too: `vector(1) * 2` is evaluated once
  // and copied to the 4 999 steps (4 999 + 4 999 + 1), where `g * 2` fails from 3 333 steps.
  ['literals only under', ['g'], '1m', 'count_over_time((vector(1) * 2)[4998ms:1ms])', '10m', 4999],
  ['literals only over', ['g'], '1m', 'count_over_time((vector(1) * 2)[4999ms:1ms])', '10m', undefined],
  // absent_over_time counts a sample for each series with samples (funcAbsentOverTime), then
  // drops them: 5 000 + 5 000 + 1 fails, though its result is empty.
  ['absent_over_time over', ['g'], '1m', 'absent_over_time(g[4999ms:1ms])', '10m', undefined],
  // Its result of 5 000 points is not counted as held, so the outer window fits: 5 000 + 1.
  [
    'absent_over_time result uncounted',
    ['g'],
    '1m',
    'count_over_time(absent_over_time(nope[5m])[4999ms:1ms])',
    '10m',
    5000,
  ],
  // A subquery inside a subquery is evaluated once for all 21 outer steps: 4 999 points held,
  // a window of 4 979 and 21 outputs make 9 999.
  [
    'nested subquery under',
    ['g'],
    '1m',
    'max_over_time(count_over_time(g[4978ms:1ms])[20ms:1ms])',
    '10m',
    4979,
  ],
  // 5 001 + 4 980 + 21 = 10 002.
  [
    'nested subquery over',
    ['g'],
    '1m',
    'max_over_time(count_over_time(g[4979ms:1ms])[20ms:1ms])',
    '10m',
    undefined,
  ],
]

/** `n` series `x{i="0"}`…: an instant vector of many series. */
const many = (n: number) => Array.from({ length: n }, (_, i) => `x{i="${i}"}`)

describe('promtool MaxSamples: promql_expr_test', () => {
  for (const [name, series, interval, expr, evalTime, value, values] of EXPR_CASES) {
    testWithBinary('promtool', `${name}: ${expr} gives promtool's report`, async () => {
      const file = exprTest(series, interval, expr, evalTime, value, values)
      const { real, mine } = await bothReports('groups: []\n', file)
      expect(mine).toEqual(real)
      expect(mine.code).toBe(value === undefined ? 1 : 0)
      if (value === undefined) {
        expect(mine.stderr).toBe(tooManyReport(expr, evalTime))
      }
    })
  }

  // An aggregation holds its input (4 999 series) while it runs: 2 × 4 999 + 1 = 9 999; with
  // 5 000 series, 10 001.
  testWithBinary(
    'promtool',
    'sum over 4 999 series passes, over 5 000 fails',
    async () => {
      const under = await bothReports('groups: []\n', exprTest(many(4999), '1m', 'sum(x)', '1m', 4999, '1'))
      expect(under.mine).toEqual(under.real)
      expect(under.mine.code).toBe(0)
      const over = await bothReports(
        'groups: []\n',
        exprTest(many(5000), '1m', 'sum(x)', '1m', undefined, '1'),
      )
      expect(over.mine).toEqual(over.real)
      expect(over.mine.code).toBe(1)
    },
    60_000,
  )
})

const RULES = `groups:
  - name: g
    rules:
      - record: rec
        expr: count_over_time(g[1m:1ms])
      - alert: A
        expr: count_over_time(g[1m:1ms]) > 0
`

const ALERT_ONLY = `groups:
  - name: g
    rules:
      - alert: A
        expr: count_over_time(g[1m:1ms]) > 0
`

const TEMPLATE_QUERY = `groups:
  - name: g
    rules:
      - alert: A
        expr: g > 0
        annotations:
          n: '{{ with query "count_over_time(g[1m:1ms])" }}{{ . | first | value }}{{ end }}'
          m: '{{ with query "count_over_time(g[4998ms:1ms])" }}{{ . | first | value }}{{ end }}'
`

/** One group at 1m over `g`, its alert A tested at 2m, and `exprs` as promql_expr_tests at 2m. */
const ruleTest = (alerts: string, ...exprs: string[]) =>
  `rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n` +
  `      - series: g\n        values: 1x5\n    alert_rule_test:\n      - eval_time: 2m\n        alertname: A\n` +
  `        exp_alerts: ${alerts}\n    promql_expr_test:\n` +
  exprs.map((e) => `      - expr: '${e}'\n        eval_time: 2m\n        exp_samples: []\n`).join('')

describe('promtool MaxSamples: rules', () => {
  // A rule over the cap fails its evaluation: promtool reports each failed rule of that step
  // (`rule: rec, time: 1m0s, err: …`) and stops the group there, before its alert and
  // expression tests.
  testWithBinary('promtool', 'a recording and an alerting rule over the cap', async () => {
    const { real, mine } = await bothReports(RULES, ruleTest('[]', 'count_over_time(g[1m:1ms])'))
    expect(mine).toEqual(real)
    expect(mine.code).toBe(1)
    expect(mine.stderr).toBe(
      `  FAILED:\n    rule: rec, time: 1m0s, err: ${TOO_MANY}\n    rule: A, time: 1m0s, err: ${TOO_MANY}\n`,
    )
  })

  testWithBinary('promtool', 'an alerting rule over the cap', async () => {
    const { real, mine } = await bothReports(ALERT_ONLY, ruleTest('[]', 'count_over_time(g[1m:10ms])'))
    expect(mine).toEqual(real)
    expect(mine.stderr).toBe(`  FAILED:\n    rule: A, time: 1m0s, err: ${TOO_MANY}\n`)
  })

  // A template's `query` runs in the same engine: over the cap, the annotation holds the
  // expansion error.
  testWithBinary('promtool', "a template's query over the cap", async () => {
    const { real, mine } = await bothReports(
      TEMPLATE_QUERY,
      ruleTest('[{exp_annotations: {n: "x", m: "4999"}}]'),
    )
    expect(mine).toEqual(real)
    expect(mine.code).toBe(1)
  })

  // A range vector as a promql_expr_test is evaluated before it is refused: too many samples
  // is the error then.
  testWithBinary('promtool', 'a range vector over the cap as an expression test', async () => {
    const { real, mine } = await bothReports(
      'groups: []\n',
      exprTest(['g'], '1m', 'g[1m:1ms]', '2m', undefined),
    )
    expect(mine).toEqual(real)
    expect(mine.stderr).toBe(tooManyReport('g[1m:1ms]', '2m'))
  })
})

test('rules:test holds 10 000 samples per query; the embedded engine 50 000 000', () => {
  const file = writeSuite(
    'groups: []\n',
    exprTest(['g'], '1m', 'count_over_time(g[1m:1ms])', '2m', undefined),
  )
  expect(runOurs([file]).stderr).toBe(tooManyReport('count_over_time(g[1m:1ms])', '2m'))
  const store = new SampleStore()
  store.append(labelsFrom({ __name__: 'g' }), 0, 1)
  const query = new CompiledQuery('count_over_time(g[1m:1ms])')
  expect(evaluateInstant(query, store, 60_000)).toEqual({
    resultType: 'vector',
    samples: [{ labels: {}, value: 60_001 }],
  })
  expect(() => evaluateInstant(query, store, 60_000, undefined, { maxSamples: 10_000 })).toThrow(TOO_MANY)
})
