import { describe, expect, test } from 'bun:test'
import { compareScenarios, generateScenarios, shrink, workDir } from './differential/differential.ts'

// The seeded differential test: random expressions over the whole grammar and random input
// series, each case through Debian's promtool 2.42 (the truth) and our engine. Any
// disagreement is shrunk to a minimal expression and printed, to be pinned as a fixture in
// tests/prometheus/promql/fixtures. DIFFERENTIAL_CASES and DIFFERENTIAL_SEED override the
// CI size (3000 cases, seed 15). Needs promtool; skips with a message without it unless
// REQUIRE_OPS_TOOLS=1.
const promtool = Bun.which('promtool')
const required = process.env.REQUIRE_OPS_TOOLS === '1'
if (!promtool && !required) {
  console.warn('promtool not on PATH (apt-get install prometheus): skipping the PromQL differential test')
}
const CASES = Number(process.env.DIFFERENTIAL_CASES ?? 3000)
const SEED = Number(process.env.DIFFERENTIAL_SEED ?? 15)

describe.skipIf(!promtool && !required)('differential: our engine against promtool test rules', () => {
  test(
    `${CASES} random cases (seed ${SEED}) agree`,
    () => {
      expect(promtool).not.toBeNull()
      const dir = workDir()
      const scenarios = generateScenarios(SEED, CASES)
      const tally = { results: 0, empty: 0, errors: 0 }
      const found = compareScenarios(scenarios, dir, tally)
      // A run where promtool mostly errs or returns nothing would prove little.
      expect(tally.results).toBeGreaterThan(CASES * 0.6)
      const shrunk = found.slice(0, 5).map((d) => {
        const s = scenarios.find((x) => x.cases.includes(d.case))
        const tree = s?.trees[s.cases.indexOf(d.case)]
        const small = s && tree ? shrink(s, tree, d.case.evalTime, dir, 40) : d
        return `${small.case.expr} @ ${small.case.evalTime}: ${small.why}`
      })
      expect(shrunk).toEqual([])
      expect(found.length).toBe(0)
    },
    { timeout: 120_000 },
  )
})
