/**
 * `bun tests/prometheus/promtool/series-fuzz.ts [--seed N] [--cases N] [--show N]`: the seeded
 * differential fuzzer for promtool's series notation. Each case is a test file whose one
 * `input_series` line and whose `exp_samples` labels are drawn from good and broken pieces
 * (expanding notation `a+bxn`, `_xn`, `stale`, numbers in every base and spelling, label sets
 * with escapes, keywords, matchers, stray commas), with `promql_expr_test` cases at five
 * times, through Debian's `promtool test rules` 2.42 (the truth) and our `runRuleTests`. The
 * exit status and the whole report must be the same: the values loaded, or the first parse
 * error at its position. Prints `seed S: N cases, N agree, N differ` and the first differences.
 */
import { numberArg as arg, Rng } from '../promql/differential/generator.ts'
import { bothReports } from './rule-test-files.ts'

const VALUES = [
  '1',
  '0',
  '-1',
  '2.5',
  '1e3',
  '0x10',
  '010',
  '1_0',
  'Inf',
  '-Inf',
  '+Inf',
  'NaN',
  '_',
  'stale',
  '1+2x3',
  '5-1x4',
  '_x3',
  '1x2',
  '1+0x0',
  '3-0.5x2',
  '1+1x-1',
  '1e2+1e1x2',
  '+1',
  '.5',
  '1.',
  '0b1',
  '1x',
  'x3',
  '1+x3',
  '1++2x3',
  '1 +2x3',
  '_x0',
  'stalex2',
  '1+2x3x4',
  '1e',
  '0x',
  '9223372036854775807',
  '1+2x1000',
  '-_',
  'NaN+1x2',
  'Inf-1x2',
]
const LABEL_SETS = [
  'm{a="1"}',
  'm{a="1",}',
  'm{}',
  '{__name__="m"}',
  'm{a=1}',
  'm{a="\\x"}',
  'm 1',
  '',
  'm{a="\\u00e9"}',
  'm{a="\\U0001F600"}',
  'm{a="\\777"}',
  'm{a="\\400"}',
  "m{a=\\'b\\'}",
  'm{a=`x\\y`}',
  'm{a="\\ud800"}',
  'm{a="\\q"}',
  'm{a="x}',
  'm{a="\\"}',
  'm{é="x"}',
  'm{,}',
  'm{a="1" b="2"}',
  'sum{a="1"}',
  'm{a!="1"}',
  'm{a=~"1"}',
  'm:x{a="1"}',
  'offset',
  'm{a="\\x4"}',
  'm{a="\\xzz"}',
  'm{a="\\t\\n"}',
]
const TIMES = ['0m', '1m', '2m', '5m', '10m']

/** `count` test files, reproducible from `seed`. */
export function seriesTestFiles(seed: number, count: number): string[] {
  const rng = new Rng(seed)
  const quote = (text: string) => `'${text.replaceAll("'", "''")}'`
  return Array.from({ length: count }, () => {
    const values = Array.from({ length: 1 + rng.int(6) }, () => rng.pick(VALUES)).join(
      rng.chance(0.1) ? '  ' : ' ',
    )
    const series = rng.chance(0.4) ? rng.pick(LABEL_SETS) : 'm{a="1"}'
    const expected = rng.chance(0.3) ? rng.pick(LABEL_SETS) : 'm{a="1"}'
    const cases = TIMES.map(
      (t) => `      - {expr: 'm', eval_time: ${t}, exp_samples: [{labels: ${quote(expected)}, value: 1}]}`,
    )
    return `rule_files: [rules.yml]\ntests:\n  - interval: 1m\n    input_series:\n      - series: ${quote(series)}\n        values: ${quote(values)}\n    promql_expr_test:\n${cases.join('\n')}\n`
  })
}

if (import.meta.main) {
  const seed = arg('--seed', 1)
  const count = arg('--cases', 100)
  let agree = 0
  let shown = 0
  const report = (r: { code: number; stdout: string; stderr: string }) =>
    `exit ${r.code}\n${r.stderr}${r.stdout}`.replace(/\/\S*rules-test-\w+\//g, '')
  for (const tests of seriesTestFiles(seed, count)) {
    const { mine, real } = await bothReports('groups: []\n', tests)
    if (report(mine) === report(real)) agree++
    else if (shown++ < arg('--show', 4)) {
      console.log(`\n${tests}--- promtool\n${report(real)}--- ours\n${report(mine)}`)
    }
  }
  console.log(`seed ${seed}: ${count} cases, ${agree} agree, ${count - agree} differ`)
}
