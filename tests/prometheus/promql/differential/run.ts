/**
 * `bun tests/prometheus/promql/differential/run.ts [--seed N] [--cases N]`: the seeded
 * differential run against promtool, printing each disagreement shrunk to a minimal case.
 */
import { compareScenarios, generateScenarios, shrink, workDir } from './differential.ts'
import { numberArg as arg } from './generator.ts'

const seed = arg('--seed', 15)
const count = arg('--cases', 3000)
const dir = workDir()
const started = performance.now()
const scenarios = generateScenarios(seed, count)
const tally = { results: 0, empty: 0, errors: 0 }
const found = compareScenarios(scenarios, dir, tally)
const seconds = ((performance.now() - started) / 1000).toFixed(1)
console.log(
  `seed ${seed}: ${count} cases, ${count - found.length} agree, ${found.length} disagree (${seconds} s); promtool: ${tally.results} non-empty results, ${tally.empty} empty, ${tally.errors} errors`,
)
const shown = new Set<string>()
for (const d of found.slice(0, Number(process.env.SHRINK ?? 20))) {
  const s = scenarios.find((x) => x.cases.includes(d.case))
  const tree = s?.trees[s.cases.indexOf(d.case)]
  const small = s && tree ? shrink(s, tree, d.case.evalTime, dir) : d
  if (shown.has(small.case.expr)) continue
  shown.add(small.case.expr)
  console.log(`\n${small.case.expr} @ ${small.case.evalTime}\n  ${small.why}\n  from: ${d.case.expr}`)
  if (process.env.SERIES) console.log(JSON.stringify(small.scenario.series))
}
