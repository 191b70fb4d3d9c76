/**
 * Real-world rule expressions, mistyped: each expression of the rule corpus (corpus.ts) gets
 * one to three random edits (a character or a few deleted, two swapped, or a piece inserted
 * from PromQL's own vocabulary: brackets, quotes, operators, keywords, durations, modifiers,
 * escapes), and goes through promtool 2.42 and rules:test as a `promql_expr_test`. The two
 * must refuse the same expressions with the same error, position included, and accept the
 * same ones: what a person sees when a rule file they edited by hand has a typo.
 *
 *   bun tests/prometheus/promql/differential/mistypes.ts [--seed N] [--cases N]
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { corpusExpressions } from './corpus.ts'
import { parseReport, runEngine, runPromtool, testFile, workDir } from './differential.ts'
import { numberArg as arg, Rng } from './generator.ts'

/** What an edit may insert: the tokens and near-tokens people mistype in PromQL. */
const PIECES = [
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  ':',
  '"',
  "'",
  '`',
  '=',
  '=~',
  '!=',
  '!~',
  '@',
  '+',
  '-',
  '*',
  '/',
  '^',
  '%',
  '>',
  '<',
  '==',
  '!',
  '~',
  ' by ',
  ' without ',
  ' on ',
  ' ignoring ',
  ' group_left ',
  ' bool ',
  ' offset ',
  ' and ',
  ' or ',
  ' unless ',
  ' atan2 ',
  ' > bool ',
  ' / on() ',
  '5m',
  '1h30m',
  '1y2w',
  '5m5m',
  '0s',
  '1ms',
  '0x1F',
  '0b1',
  '0o7',
  '1_000',
  '.5',
  '5.',
  '1e',
  '1e3',
  'Inf',
  '+Inf',
  'NaN',
  ' sum ',
  'rate',
  'topk(',
  'quantile(',
  'label_replace(',
  'histogram_quantile(0.9, ',
  '#',
  '\\',
  '\n',
  '\t',
  '  ',
  '\u00a0',
  'é',
  '.',
  '_',
  '$',
  'start()',
  'end()',
  ' @ 100',
  '[5m:1m]',
  '[5m]',
  '[1ms:0s]',
  ' offset -1m',
  '1.5',
  'ms',
  'y',
  'foo',
  '__name__',
  '{}',
  '{__name__=~".+"}',
  'x{y="z"}',
  '"a\\x"',
  '"\\u00e9"',
  '"\\"',
  "'\\''",
]

function mistype(rng: Rng, expr: string): string {
  let out = expr
  const edits = 1 + rng.int(3)
  for (let k = 0; k < edits; k++) {
    const at = rng.int(out.length + 1)
    const r = rng.next()
    if (r < 0.35 && out.length > 0) out = out.slice(0, at) + out.slice(at + 1 + rng.int(3))
    else if (r < 0.8) out = out.slice(0, at) + rng.pick(PIECES) + out.slice(at)
    else {
      const other = rng.int(out.length + 1)
      const [i, j] = at < other ? [at, other] : [other, at]
      out =
        out.slice(0, i) + out.slice(j, j + 1) + out.slice(i + 1, j) + out.slice(i, i + 1) + out.slice(j + 1)
    }
  }
  return out
}

/** `count` distinct mistyped expressions, reproducible from `seed`. */
export function mistypedExpressions(exprs: readonly string[], seed: number, count: number): string[] {
  const rng = new Rng(seed)
  const out = new Set<string>()
  while (out.size < count) {
    const e = mistype(rng, rng.pick(exprs))
    if (e.trim() !== '') out.add(e)
  }
  return [...out]
}

export interface MistypeRun {
  cases: number
  /** Expressions promtool refused (parse errors and errors of evaluation). */
  refused: number
  /** Each expression whose outcome differs: promtool's error and ours (undefined: accepted). */
  differing: Array<{ expr: string; promtool?: string; ours?: string }>
}

/**
 * Each expression at 0s over one series, through promtool and rules:test, 200 to a file.
 * Only the error (or its absence) is compared: a typo's values are the valid-expression
 * differential's business.
 */
export function compareMistypes(exprs: readonly string[], dir: string): MistypeRun {
  const run: MistypeRun = { cases: exprs.length, refused: 0, differing: [] }
  const errorOf = (o: ReturnType<ReturnType<typeof parseReport>['get']>) =>
    o !== undefined && 'error' in o ? o.error : undefined
  for (let b = 0; b < exprs.length; b += 200) {
    const part = exprs.slice(b, b + 200).map((expr) => ({ expr, evalTime: '0s' }))
    const file = join(dir, `mistypes-${b}.test.yml`)
    writeFileSync(
      file,
      testFile({ interval: '1m', series: [{ series: 'up{job="a"}', values: '1 1 1' }], cases: part }),
    )
    const real = parseReport(runPromtool(file))
    const ours = parseReport(runEngine(file))
    for (const c of part) {
      // The report names the time as Go prints a duration.
      const key = `${c.expr}@0s`
      const promtool = errorOf(real.get(key))
      const mine = errorOf(ours.get(key))
      if (promtool !== undefined) run.refused++
      if (promtool !== mine) run.differing.push({ expr: c.expr, promtool, ours: mine })
    }
  }
  return run
}

if (import.meta.main) {
  const seed = arg('--seed', 1)
  const count = arg('--cases', 1000)
  const run = compareMistypes(mistypedExpressions(corpusExpressions(), seed, count), workDir())
  for (const d of run.differing.slice(0, 20)) {
    console.log(
      `\n${JSON.stringify(d.expr)}\n  promtool: ${d.promtool ?? '(accepted)'}\n  ours:     ${d.ours ?? '(accepted)'}`,
    )
  }
  console.log(
    `seed ${seed}: ${run.cases} mistyped expressions, ${run.refused} refused by promtool, ${run.differing.length} differ`,
  )
}
