/**
 * The differential check: the same promtool test file through Debian's `promtool test
 * rules` 2.42 (the truth) and through our runner, each case written with no expected
 * samples so that both report what they got ("got: ..." or "err: ..."); an empty result
 * passes silently on both sides. Results are compared label set by label set, values within
 * promtool's own tolerance (relative 1e-9; Go's math library and JavaScript's differ in the
 * last bits of pow/exp/log), NaN equal to NaN. Errors must agree in being errors.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { runRuleTests } from '../../../../src/prometheus/promtool/test-rules.ts'
import {
  expression,
  generateSeries,
  type InputSeries,
  type Node,
  Rng,
  show,
  shrinkCandidates,
} from './generator.ts'

export interface Case {
  expr: string
  /** promtool duration, e.g. `7m30s`. */
  evalTime: string
}

export interface Scenario {
  /** The test group's `interval`: the spacing of the input samples. */
  interval: string
  /**
   * The last eval time, a multiple of every evaluation interval drawn (default 30m after a
   * 1m interval, else 15m): a case there makes promtool load the samples up to it.
   */
  end?: string
  /**
   * The test file's evaluation_interval (default 1m): promtool steps subqueries written
   * without a step by it (unittest.go `suite.SubqueryInterval = evalInterval`).
   */
  evaluationInterval?: string
  series: InputSeries[]
  cases: Case[]
}

/** What one side reported for a case: an error, or the samples by label set. */
export type Outcome = { error: string } | { samples: Map<string, number> }

const EMPTY: Outcome = { samples: new Map() }

export function testFile(s: Scenario): string {
  return stringify(
    {
      rule_files: [],
      evaluation_interval: s.evaluationInterval ?? '1m',
      tests: [
        {
          interval: s.interval,
          input_series: s.series,
          // promtool loads input samples only up to its last rule-evaluation step before the
          // latest eval_time; a case at the end of the data makes it load them all, so
          // negative offsets and @ see the same samples on both sides.
          promql_expr_test: [
            ...s.cases,
            { expr: 'vector(1) > 1', evalTime: s.end ?? (s.interval === '1m' ? '30m' : '15m') },
          ].map((c) => ({ expr: c.expr, eval_time: c.evalTime, exp_samples: [] })),
        },
      ],
    },
    { lineWidth: 0 },
  )
}

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY
  if (text === '-Inf') return Number.NEGATIVE_INFINITY
  return Number(text)
}

/** Parses the failure report (`expr: "...", time: ..., err: ...` / `got: ...`) per case. */
export function parseReport(report: string): Map<string, Outcome> {
  const out = new Map<string, Outcome>()
  const lines = report.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const m = /^ {4}expr: (".*"), time: (\S+?),(?: err: (.*))?$/.exec(lines[i] as string)
    if (!m) continue
    const key = `${JSON.parse(m[1] as string)}@${m[2]}`
    if (m[3] !== undefined) {
      out.set(key, { error: m[3] })
      continue
    }
    const got = /^ {8}got: (.*)$/.exec(lines[i + 2] ?? '')
    const samples = new Map<string, number>()
    if (got && got[1] !== 'nil') {
      for (const item of (got[1] as string).split(/, (?=\{)/)) {
        const space = item.lastIndexOf(' ')
        samples.set(item.slice(0, space), parseValue(item.slice(space + 1)))
      }
    }
    out.set(key, { samples })
  }
  return out
}

export function runPromtool(file: string): string {
  const proc = Bun.spawnSync(['promtool', 'test', 'rules', file], { stdout: 'pipe', stderr: 'pipe' })
  return proc.stderr.toString()
}

export function runEngine(file: string): string {
  let stderr = ''
  runRuleTests([file], {
    stdout: () => {},
    stderr: (t) => {
      stderr += t
    },
  })
  return stderr
}

/**
 * Below this absolute difference two values agree. promtool hands an aggregation its series
 * in an order that changes from run to run (Go's map iteration; see `difference`), so a sum
 * that cancels to about zero rounds differently from run to run: seed 2009's
 * `stdvar(tanh(c{job=~"(?i:A)"}))` at 10m, over 1 and 0.9999999999999999, read 0 in 1 of 10
 * promtool runs of one file and 6.162975822039155e-33 in the other 9. The generator's samples
 * are at most a few hundred, whose rounding errors are under 10^3 · 2^-52 ≈ 2.3e-13; a wrong
 * result of our own is off by far more than that.
 */
const ABSOLUTE_TOLERANCE = 1e-12

function close(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b)
  if (a === b) return true
  const d = Math.abs(a - b)
  return d <= ABSOLUTE_TOLERANCE || d <= 1e-9 * Math.max(Math.abs(a), Math.abs(b))
}

/**
 * Why two outcomes disagree, or undefined when they agree. `tiesOpen`: the expression has
 * topk/bottomk, whose choice among equal values follows the storage's series order, which
 * promtool's loader leaves to Go's map iteration (it changes from run to run); then only
 * the values are compared.
 */
export function difference(truth: Outcome, ours: Outcome, tiesOpen = false): string | undefined {
  if ('error' in truth || 'error' in ours) {
    if ('error' in truth && 'error' in ours) return undefined
    return `promtool: ${describe(truth)}; ours: ${describe(ours)}`
  }
  if (tiesOpen) {
    const a = [...truth.samples.values()].sort()
    const b = [...ours.samples.values()].sort()
    const same = a.length === b.length && a.every((v, i) => close(v, b[i] as number))
    return same ? undefined : `promtool: ${describe(truth)}; ours: ${describe(ours)}`
  }
  const keys = new Set([...truth.samples.keys(), ...ours.samples.keys()])
  for (const k of keys) {
    const a = truth.samples.get(k)
    const b = ours.samples.get(k)
    if (a === undefined || b === undefined || !close(a, b)) {
      return `promtool: ${describe(truth)}; ours: ${describe(ours)}`
    }
  }
  return undefined
}

function describe(o: Outcome): string {
  if ('error' in o) return `error ${o.error}`
  return `[${[...o.samples].map(([k, v]) => `${k} ${v}`).join(', ')}]`
}

/** How the truth's outcomes split: non-empty results, empty results, errors. */
export interface Tally {
  results: number
  empty: number
  errors: number
}

export interface Disagreement {
  scenario: Scenario
  case: Case
  why: string
}

/** Runs the scenarios through both sides; returns the disagreeing cases. */
export function compareScenarios(
  scenarios: readonly Scenario[],
  dir: string,
  tally: Tally = { results: 0, empty: 0, errors: 0 },
): Disagreement[] {
  const found: Disagreement[] = []
  scenarios.forEach((s, i) => {
    const file = join(dir, `case-${i}.test.yml`)
    writeFileSync(file, testFile(s))
    const truth = parseReport(runPromtool(file))
    const ours = parseReport(runEngine(file))
    for (const c of s.cases) {
      const key = `${c.expr}@${c.evalTime}`
      const expected = truth.get(key) ?? EMPTY
      if ('error' in expected) tally.errors++
      else if (expected.samples.size === 0) tally.empty++
      else tally.results++
      const why = difference(expected, ours.get(key) ?? EMPTY, /\b(topk|bottomk)\b/i.test(c.expr))
      if (why) found.push({ scenario: s, case: c, why })
    }
  })
  return found
}

export interface GeneratedScenario extends Scenario {
  trees: Node[]
}

const EVALUATION_INTERVALS = ['1m', '1m', '30s', '20s', '90s']

/**
 * Sample spacings that replace the main stream's 1m or 30s (undefined keeps it): spacings
 * that miss the eval times and subquery steps (45s, 50s, 70s), the series ending early
 * (20s: 31 samples end at 10m), and gaps wider than the 5m lookback delta (6m), where an
 * instant selector finds nothing between samples. The eval times stay the main stream's.
 */
const SAMPLE_INTERVALS = [undefined, undefined, undefined, '20s', '45s', '50s', '70s', '2m', '6m']

/** `count` cases in scenarios of `perScenario`, reproducible from `seed`. */
export function generateScenarios(seed: number, count: number, perScenario = 100): GeneratedScenario[] {
  const rng = new Rng(seed)
  const out: GeneratedScenario[] = []
  for (let made = 0; made < count; ) {
    const interval = rng.pick(['1m', '1m', '30s'])
    const points = 31
    const series = generateSeries(rng, points)
    const n = Math.min(perScenario, count - made)
    const seen = new Set<string>()
    const side = new Rng(seed * 15485863 + out.length)
    const cases: Case[] = []
    const trees: Node[] = []
    while (cases.length < n) {
      const tree = expression(rng, 1 + rng.int(Number(process.env.DEPTH ?? 3)))
      const seconds = 60 + rng.int(interval === '1m' ? 29 * 60 : 14 * 60)
      // Off the millisecond grid now and then, from a side stream so each seed keeps its cases.
      const ms = side.chance(0.05) ? 1 + side.int(999) : 0
      const evalTime = formatSeconds(rng.chance(0.5) ? seconds - (seconds % 60) : seconds, ms)
      const c = { expr: show(tree), evalTime }
      const key = `${c.expr}@${c.evalTime}`
      if (seen.has(key)) continue
      seen.add(key)
      cases.push(c)
      trees.push(tree)
    }
    // Drawn apart from the main stream, so that each seed keeps its series and expressions.
    // Each divides the last eval time (15m or 30m), so promtool loads every sample.
    const evaluationInterval = new Rng(seed * 7919 + out.length).pick(EVALUATION_INTERVALS)
    const end = interval === '1m' ? '30m' : '15m'
    const spacing = new Rng(seed * 104729 + out.length).pick(SAMPLE_INTERVALS) ?? interval
    out.push({ interval: spacing, end, evaluationInterval, series, cases, trees })
    made += n
  }
  return out
}

/** `total` seconds and `ms` milliseconds as Prometheus' model.Duration prints them (`7m30s5ms`). */
function formatSeconds(total: number, ms = 0): string {
  const m = Math.floor(total / 60)
  const s = total % 60
  return `${m}m${s === 0 ? '' : `${s}s`}${ms === 0 ? '' : `${ms}ms`}`
}

/**
 * Shrinks a disagreeing expression greedily: the first smaller candidate of the same type
 * that still disagrees replaces it, until none does (or `budget` promtool runs are spent).
 */
export function shrink(
  scenario: Scenario,
  tree: Node,
  evalTime: string,
  dir: string,
  budget = 80,
): Disagreement {
  let current = tree
  let why = ''
  let spent = 0
  const check = (candidate: Node): string | undefined => {
    spent++
    const c = { expr: show(candidate), evalTime }
    const [d] = compareScenarios([{ ...scenario, cases: [c] }], dir)
    return d?.why
  }
  why = check(current) ?? ''
  let progress = true
  while (progress && spent < budget) {
    progress = false
    for (const candidate of shrinkCandidates(current)) {
      if (spent >= budget) break
      const w = check(candidate)
      if (w) {
        current = candidate
        why = w
        progress = true
        break
      }
    }
  }
  return { scenario, case: { expr: show(current), evalTime }, why }
}

export function workDir(): string {
  return mkdtempSync(join(tmpdir(), 'promql-differential-'))
}
