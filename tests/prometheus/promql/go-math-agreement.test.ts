import { describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { recordSkip } from '../../helpers/skips.ts'
import { parseReport, runEngine, runPromtool } from './differential/differential.ts'

// The element-wise functions and `^`, through promtool 2.42 and our engine, compared bit for
// bit (the differential test allows 1e-9): JavaScript's Math differs from Go's in the last bit
// for about one argument in ten, which `% 100`, round() or an alert's `{{ $value }}` shows.
const promtool = Bun.which('promtool')
const required = process.env.REQUIRE_OPS_TOOLS === '1'
if (!promtool && !required) recordSkip("Go's math agreement with promtool", 'promtool is not on PATH')

const FUNCTIONS = ['exp', 'ln', 'log2', 'log10', 'sqrt', 'sin', 'cos', 'tan', 'asin', 'acos', 'atan'].concat([
  'sinh',
  'cosh',
  'tanh',
  'asinh',
  'acosh',
  'atanh',
])

/** A seeded linear congruential generator of numbers in [0, 1). */
function lcg(seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648
    return state / 2147483648
  }
}

function argumentsFor(count: number): number[] {
  const random = lcg(7)
  const out: number[] = []
  for (let i = 0; i < count; i++) {
    const kind = i % 4
    out.push(
      kind === 0
        ? random() * 2 - 1
        : kind === 1
          ? random() * 40 - 20
          : kind === 2
            ? random() * 1400 - 700
            : Math.round(random() * 300 - 100) / 4,
    )
  }
  // Range edges: overflow, subnormal results, the polynomial/exponential switch points, and
  // arguments past 2^29, which Go's trig functions reduce by Payne and Hanek's method.
  return out
    .concat([709.78, 709.79, -708.4, -720, -745.1, -1e10, 5e-324, 1e-310, 0.5, 0.625, 21.0001, 88.7])
    .concat([2 ** 29, 2 ** 29 - 1, 1e15, -1e22, 1.7e308, 123456789012.5])
}

function powers(count: number): string[] {
  const random = lcg(11)
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    const base = [random() * 10, random() * 2, 1 + random() * 1e-6, random() * 1e6, -random() * 10][i % 5]
    const exponent = [
      Math.round(random() * 60 - 20),
      random() * 8 - 4,
      Math.round(random() * 8) / 2,
      random() * 300 - 150,
    ][i % 4]
    out.push(`vector(${base}) ^ ${exponent}`)
  }
  return out
}

describe.skipIf(!promtool && !required)("Go's math agreement with promtool 2.42", () => {
  test('element-wise functions and ^ give the same float64, bit for bit', () => {
    expect(promtool).not.toBeNull()
    const cases = [
      ...new Set([
        ...FUNCTIONS.flatMap((f) => argumentsFor(120).map((a) => `${f}(vector(${a}))`)),
        ...powers(300),
        'cosh(vector(108)) % 100',
      ]),
    ]
    const dir = mkdtempSync(join(tmpdir(), 'go-math-'))
    try {
      const file = join(dir, 'math.test.yml')
      const tests = cases.map((e) => `      - expr: '${e}'\n        eval_time: 0m\n        exp_samples: []\n`)
      writeFileSync(
        file,
        `rule_files: []\ntests:\n  - interval: 1m\n    promql_expr_test:\n${tests.join('')}`,
      )
      const real = parseReport(runPromtool(file))
      const ours = parseReport(runEngine(file))
      const value = (o: ReturnType<typeof real.get>) =>
        o === undefined ? 'missing' : 'error' in o ? `error ${o.error}` : [...o.samples.values()][0]
      const differing = cases
        .map((e) => ({ expr: e, go: value(real.get(`${e}@0s`)), ours: value(ours.get(`${e}@0s`)) }))
        .filter(({ go, ours }) => !Object.is(go, ours))
      expect(real.size).toBe(cases.length)
      expect(differing).toEqual([])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)
})
