import { describe, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { CORPUS, corpusExpressions } from './differential/corpus.ts'
import { workDir } from './differential/differential.ts'
import { compareMistypes, mistypedExpressions } from './differential/mistypes.ts'

// The rule corpus' expressions with typos (differential/mistypes.ts): promtool 2.42 and the
// engine must refuse the same ones with the same error at the same position. The corpus is
// read in place (CI has it beside the clone); without it, or without promtool, this skips with
// a message unless REQUIRE_OPS_TOOLS=1. More seeds: `bun tests/prometheus/promql/differential/mistypes.ts --seed N`.
const promtool = Bun.which('promtool')
const present = existsSync(CORPUS)
const required = process.env.REQUIRE_OPS_TOOLS === '1'
if (!required && (!promtool || !present)) {
  console.warn(
    `skipping the mistyped-corpus test: ${!promtool ? 'promtool not on PATH' : `no corpus at ${CORPUS}`}`,
  )
}

describe('mistyped expressions', () => {
  test('are reproducible from their seed and differ from what they were made of', () => {
    const exprs = ['sum by (job) (rate(http_requests_total{code=~"5.."}[5m])) > 0.1']
    const a = mistypedExpressions(exprs, 7, 20)
    expect(a).toEqual(mistypedExpressions(exprs, 7, 20))
    expect(new Set(a).size).toBe(20)
    expect(a).not.toContain(exprs[0])
  })
})

describe.skipIf(!required && (!promtool || !present))('mistyped corpus expressions against promtool', () => {
  test(
    'are refused as promtool refuses them, word for word',
    () => {
      expect(present).toBe(true)
      const run = compareMistypes(mistypedExpressions(corpusExpressions(), 1, 1500), workDir())
      // Most typos break the expression; a run where few did would prove little.
      expect(run.refused).toBeGreaterThan(run.cases * 0.5)
      expect(run.differing.slice(0, 10)).toEqual([])
    },
    { timeout: 120_000 },
  )
})
