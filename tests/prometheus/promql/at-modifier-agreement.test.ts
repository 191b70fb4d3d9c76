import { describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { recordSkip } from '../../helpers/skips.ts'
import {
  type Case,
  type Outcome,
  parseReport,
  runEngine,
  runPromtool,
  type Scenario,
  testFile,
} from './differential/differential.ts'

// `@` inside subqueries, through promtool 2.42 and our engine. Prometheus turns every `@`
// into an offset relative to an evaluation start and evaluates step-invariant parts once
// (promql/engine.go `setOffsetForAtModifier`, `StepInvariantExpr`); where a subquery with `@`
// starts at its caller's step the offsets are not recomputed, and selectors read elsewhere
// than their `@` (the differential run's seed 203: `avg_over_time((g @ 450.5)[2m:30s] @ 600)`
// at 8m reads `g` at 330.5 s). Every answer here is promtool's, bugs included.
const promtool = Bun.which('promtool')
const required = process.env.REQUIRE_OPS_TOOLS === '1'
if (!promtool && !required) recordSkip('@ modifier agreement with promtool', 'promtool is not on PATH')

const SERIES: Scenario['series'] = [
  {
    series: 'g{job="a", inst="1"}',
    values: '2 0 10 10 2 7 10 -3 _ -3 -3 0 7 -3 0 -3 0.5 _ -1 _ 7 10 0 10 42 1 stale 2 42 100 -3',
  },
  {
    series: 'g{job="b", inst="2"}',
    values:
      '7 100 1 7 -0.75 -0.75 7 2 100 2.25 _ 10 7 1 _ 2.25 0 stale 100 -1 -1 1 10 100 0.5 stale 42 42 -1 7 0',
  },
  { series: 'c{job="a", inst="2"}', values: '1+2x6 15+0.5x11 _ 21+0.5x6 _ 3+0.5x2' },
  { series: 'c{job="b", inst="2"}', values: '8+10x8 98+5x10 153+2x1 157+5x8' },
]

/** Inner expressions; `T` is replaced by an `@` time. */
const INNER = [
  'g @ T',
  'g @ T offset 1m',
  'g',
  'rate(c[2m] @ T)',
  'timestamp(g @ T)',
  'predict_linear(c[3m] @ T, 60)',
  'sum by (job) (g @ T)',
  'g @ T + g',
  'max_over_time((g @ T)[2m:1m])',
  '-(g @ T offset -30s)',
  'topk(1, g @ T)',
  'vector(scalar(sum(g @ T)))',
  'timestamp(g @ T offset 1m)',
  'label_replace(g @ T, "x", "$1", "job", "(.*)")',
  'g @ T and on () sum(g)',
  // Prometheus resolves start() and end() everywhere but in an aggregation's parameter.
  'topk(scalar(count(g @ end())), g)',
  'quantile(scalar(sum(g @ start())) / 100, g @ T)',
  'g @ end() offset 1m',
]

/** Subquery wrappers; `X` is the inner expression, `U` a subquery `@` time. */
const OUTER = [
  'avg_over_time((X)[2m:30s] @ U)',
  'sum_over_time((X)[5m:1m])',
  'max_over_time((X)[3m:1m] offset 1m @ U)',
  'count_over_time((X)[2m:20s] @ start())',
  'last_over_time((X)[4m:1m] @ U offset -1m)',
  'max_over_time(avg_over_time((X)[2m:30s] @ U)[4m:1m])',
  'min_over_time(sum_over_time((X)[3m:1m])[4m:1m] @ U)',
  'max_over_time(avg_over_time((X)[2m:30s] @ U)[4m:1m] @ 900)',
  'absent_over_time((X)[2m:1m] @ U)',
  'max_over_time((X)[90s:45s] @ end())',
  'rate((X)[3m:1m] @ U)',
  'X',
]

function cases(): Case[] {
  const out: Case[] = []
  for (const outer of OUTER)
    for (const inner of INNER)
      for (const t of ['450.5', '300', '720'])
        for (const u of ['600', '480', '330'])
          for (const evalTime of ['5m', '8m', '10m30s', '13m']) {
            if (!outer.includes('U') && u !== '600') continue
            if (!inner.includes('T') && t !== '450.5') continue
            const expr = outer.replace('X', inner.replaceAll('T', t)).replace('U', u)
            out.push({ expr, evalTime })
          }
  return out
}

/**
 * One outcome as text, error text included. `tiesOpen`: only the sorted values, since
 * topk/bottomk pick among equal values by the storage's series order, which promtool's
 * loader leaves to Go's map iteration (`topk(1, g @ 720)` meets g = 7 on both series and
 * named either one from run to run).
 */
function showOutcome(o: Outcome | undefined, tiesOpen: boolean): string {
  if (o === undefined) return 'empty'
  if ('error' in o) return `error ${o.error}`
  if (tiesOpen) return JSON.stringify([...o.samples.values()].sort((a, b) => a - b))
  return JSON.stringify([...o.samples])
}

const tiesOpen = (expr: string) => /\b(topk|bottomk)\b/.test(expr)

describe('comparing outcomes', () => {
  const samples = (entries: [string, number][]): Outcome => ({ samples: new Map(entries) })
  test('a tie under topk may name either series; any other difference shows', () => {
    const a = samples([['{inst="1"}', 7]])
    const b = samples([['{inst="2"}', 7]])
    expect(showOutcome(a, true)).toBe(showOutcome(b, true))
    expect(showOutcome(a, false)).not.toBe(showOutcome(b, false))
    expect(showOutcome(a, true)).not.toBe(showOutcome(samples([['{inst="1"}', 10]]), true))
    expect(showOutcome({ error: 'x' }, true)).not.toBe(showOutcome({ error: 'y' }, true))
    expect(tiesOpen('topk(1, g @ 720)')).toBe(true)
    expect(tiesOpen('max_over_time((g @ 720)[2m:1m])')).toBe(false)
  })
})

describe.skipIf(!promtool && !required)('@ modifier agreement with promtool 2.42', () => {
  test('@ in and on subqueries reads what promtool reads', () => {
    expect(promtool).not.toBeNull()
    const scenario: Scenario = { interval: '1m', series: SERIES, cases: cases() }
    const dir = mkdtempSync(join(tmpdir(), 'at-modifier-'))
    try {
      const file = join(dir, 'at.test.yml')
      writeFileSync(file, testFile(scenario))
      const real = parseReport(runPromtool(file))
      const ours = parseReport(runEngine(file))
      const differing = scenario.cases
        .map((c) => ({ c, key: `${c.expr}@${c.evalTime}` }))
        .map(({ c, key }) => ({
          case: `${c.expr} @ ${c.evalTime}`,
          promtool: showOutcome(real.get(key), tiesOpen(c.expr)),
          ours: showOutcome(ours.get(key), tiesOpen(c.expr)),
        }))
        .filter((d) => d.promtool !== d.ours)
      expect(differing).toEqual([])
      // A case promtool answers with no samples is not in its report (it expected none).
      expect(real.size).toBeGreaterThan(scenario.cases.length * 0.8)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)
})
