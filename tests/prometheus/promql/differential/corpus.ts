/**
 * The differential check over a real-world rule corpus (`../shared/reference/rule-corpus/`,
 * read in place, never copied: it is third-party data): every distinct rule expression gets
 * synthetic input series derived from its own selectors (two instances per selector, the
 * selector's equality matchers and the first alternative of simple regex matchers, classic
 * `le` buckets for `_bucket` series; counters with a reset, gauges with a gap and a stale
 * marker) and is evaluated at three times through promtool and the engine.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { walkSelectors } from '../../../../src/prometheus/promql/ast.ts'
import { parsePromQL } from '../../../../src/prometheus/promql/parser.ts'
import { difference, type Outcome, parseReport, runEngine, runPromtool } from './differential.ts'

export const CORPUS = join(
  import.meta.dir,
  '..',
  '..',
  '..',
  '..',
  '..',
  'shared',
  'reference',
  'rule-corpus',
)

const EVAL_TIMES = ['25m', '33m30s', '40m']
const COMMON: Record<string, string> = {
  job: 'j',
  namespace: 'ns',
  cluster: 'c',
  node: 'n1',
  container: 'app',
  service: 'svc',
}

/** Every distinct expression of the corpus' rule files. */
export function corpusExpressions(dir = CORPUS): string[] {
  const exprs = new Set<string>()
  for (const f of readdirSync(dir).filter((name) => name.endsWith('.rules.yml'))) {
    const doc = parse(readFileSync(join(dir, f), 'utf8')) as { groups: { rules: { expr: unknown }[] }[] }
    for (const g of doc.groups) for (const r of g.rules) exprs.add(String(r.expr).trim())
  }
  return [...exprs]
}

function inputFor(expr: string): { series: string; values: string }[] {
  const series = new Map<string, string>()
  let k = 0
  walkSelectors(parsePromQL(expr), (sel) => {
    const name = sel.name
    if (!name) return
    const base: Record<string, string> = { ...COMMON }
    for (const m of sel.matchers) {
      if (m.name === '__name__') continue
      if (m.type === '=') base[m.name] = m.value
      else if (m.type === '=~') {
        const first = m.value.split('|')[0] ?? ''
        if (/^[\w.:/-]*$/.test(first) && m.regex?.test(first)) base[m.name] = first
        else delete base[m.name]
      } else if (m.regex ? m.regex.test(base[m.name] ?? '') : base[m.name] === m.value) {
        delete base[m.name]
      }
    }
    for (let i = 0; i < 2; i++) {
      const labels = { ...base, instance: `i${i}`, pod: `p${i}` }
      const bounds = name.endsWith('_bucket') ? ['0.1', '1', '+Inf'] : [undefined]
      bounds.forEach((le, j) => {
        const all: Record<string, string> = le ? { ...labels, le } : labels
        const text = `${name}{${Object.entries(all)
          .filter(([, v]) => v !== '')
          .map(([l, v]) => `${l}=${JSON.stringify(v)}`)
          .join(', ')}}`
        k++
        const counter = le !== undefined || /_(total|count|sum)$/.test(name)
        series.set(
          text,
          counter
            ? `${k}+${(k % 5) + 1 + j}x20 ${3 + i}+${(k % 3) + 1}x20`
            : `${(k * 7) % 13} ${(k * 3) % 11}+${i + 1}x15 _ ${(k * 5) % 17}-1x10 stale 4x10`,
        )
      })
    }
  })
  return [...series].map(([s, values]) => ({ series: s, values }))
}

export interface CorpusRun {
  expressions: number
  cases: number
  agree: number
  /** Cases where promtool returned samples (the rest are empty results or errors). */
  withSamples: number
  disagreements: string[]
}

/** Runs every corpus expression through both sides, `perFile` test groups per test file. */
export function compareCorpus(workDir: string, dir = CORPUS, perFile = 200): CorpusRun {
  const groups = corpusExpressions(dir).map((expr) => ({
    interval: '1m',
    input_series: inputFor(expr),
    promql_expr_test: [
      ...EVAL_TIMES.map((t) => ({ expr, eval_time: t, exp_samples: [] })),
      // promtool loads samples only up to its last evaluation step: this loads them all.
      { expr: 'vector(1) > 1', eval_time: '41m', exp_samples: [] },
    ],
  }))
  const run: CorpusRun = { expressions: groups.length, cases: 0, agree: 0, withSamples: 0, disagreements: [] }
  for (let i = 0; i < groups.length; i += perFile) {
    const part = groups.slice(i, i + perFile)
    const file = join(workDir, `corpus-${i}.test.yml`)
    writeFileSync(
      file,
      stringify({ rule_files: [], evaluation_interval: '1m', tests: part }, { lineWidth: 0 }),
    )
    const truth = parseReport(runPromtool(file))
    const ours = parseReport(runEngine(file))
    for (const g of part) {
      for (const c of g.promql_expr_test.slice(0, EVAL_TIMES.length)) {
        const key = `${c.expr}@${c.eval_time}`
        const expected: Outcome = truth.get(key) ?? { samples: new Map() }
        run.cases++
        if (!('error' in expected) && expected.samples.size > 0) run.withSamples++
        const why = difference(
          expected,
          ours.get(key) ?? { samples: new Map() },
          /\b(topk|bottomk)\b/.test(c.expr),
        )
        if (why) run.disagreements.push(`${key}: ${why}`)
        else run.agree++
      }
    }
  }
  return run
}
