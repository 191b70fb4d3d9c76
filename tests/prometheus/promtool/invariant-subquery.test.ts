import { describe, expect } from 'bun:test'
import { testWithBinary } from '../../helpers/ops-tools.ts'
import { bothReports } from './rule-test-files.ts'

// A subquery whose range holds none of its steps (`[1m:3m]` at 14m7s: its first aligned step,
// 15m, is past its end) still evaluates a step-invariant inside once, at that first step: as
// Prometheus' promql/engine.go StepInvariantExpr case, which runs whatever its evaluator's end.
// So that evaluation's errors fail the query in promtool, where no step would have run it.

/** A test file over g{a="1"} and h{a="1"}, each `exprs` expected to give nothing at `at`. */
function exprTests(exprs: [string, string][]): string {
  const input = ['g{a="1"}', 'h{a="1"}']
    .map((s) => `      - series: '${s}'\n        values: '1x20'\n`)
    .join('')
  const tests = exprs
    .map(([e, at]) => `      - expr: '${e}'\n        eval_time: ${at}\n        exp_samples: []\n`)
    .join('')
  return `evaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n${input}    promql_expr_test:\n${tests}`
}

const BAD_REGEX = 'label_replace(vector(1), "a", "b", "c", "(")'
const REGEX_ERROR = 'invalid regular expression in label_replace(): ('

describe('a subquery with no step in range evaluates its step-invariant inside once', () => {
  testWithBinary(
    'promtool',
    'literal-only inside, an invalid regexp: the error, as with a step',
    async () => {
      const exprs: [string, string][] = [
        [`count_over_time(${BAD_REGEX}[1m:3m])`, '14m7s'],
        [`count_over_time(${BAD_REGEX}[1m:3m])`, '15m'],
        [`max_over_time(max_over_time(${BAD_REGEX}[1m:3m])[1m:1m])`, '14m7s'],
        // An invariant operand of a binary operation that is not: wrapped on its own.
        [`count_over_time((g + ${BAD_REGEX})[1m:3m])`, '14m7s'],
      ]
      const { real, mine } = await bothReports('groups: []\n', exprTests(exprs))
      expect(mine).toEqual(real)
      expect(mine.stderr).toBe(
        `  FAILED:\n${exprs.map(([e, at]) => `    expr: ${JSON.stringify(e)}, time: ${at}, err: ${REGEX_ERROR}\n`).join('')}`,
      )
    },
  )

  testWithBinary('promtool', 'an @ inside: its duplicate label sets fail the query', async () => {
    const exprs: [string, string][] = [
      ['present_over_time(sum_over_time({__name__=~"g|h"}[2m] @ 300)[1m:3m])', '14m7s'],
      // Series that stay distinct: nothing, the window holding no point.
      ['present_over_time(sum_over_time(g[2m] @ 300)[1m:3m])', '14m7s'],
    ]
    const { real, mine } = await bothReports('groups: []\n', exprTests(exprs))
    expect(mine).toEqual(real)
    expect(mine.stderr).toBe(
      `  FAILED:\n    expr: ${JSON.stringify(exprs[0]?.[0])}, time: 14m7s, err: vector cannot contain metrics with the same labelset\n`,
    )
  })
})
