/**
 * Real-world alert annotations, mistyped: each template of the rule corpus' annotations (the
 * ones with an action) gets one to three random edits (a character or a few deleted, two
 * neighbours swapped, or a piece of text/template's vocabulary inserted: delimiters, trim
 * markers, brackets, quotes, key words, variables, fields, pipes, comments), and goes as the
 * annotation of a firing alert through Debian's `promtool test rules` 2.42 (the truth) and our
 * `runRuleTests` (fuzz-batch.ts). Both must refuse the same templates with the same load
 * error, line included, and expand the others alike: what a person sees after a typo in a
 * rule file they edited by hand. The generated fuzzer (fuzz.ts) writes its templates from a
 * grammar, so it rarely puts a key word, a `)` or a delimiter where the corpus' text has none.
 *
 *   bun tests/prometheus/template/mistypes.ts [--seed N] [--cases N] [--show N]
 *
 * Prints `seed S: N cases, N agree, N disagree` and the first disagreements, promtool's then ours.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { CORPUS } from '../promql/differential/corpus.ts'
import { numberArg as arg, Rng } from '../promql/differential/generator.ts'
import { type Case, type Disagreement, got, realTools, runBatch } from './fuzz-batch.ts'

/** What an edit may insert: the tokens and near-tokens people mistype in Go templates. */
const PIECES = [
  '{{',
  '}}',
  '{{-',
  '-}}',
  '{{ ',
  ' }}',
  '{',
  '}',
  '(',
  ')',
  '|',
  ' | ',
  '$',
  '.',
  '"',
  '`',
  "'",
  ' ',
  ':=',
  '=',
  ',',
  '-',
  '\\',
  '\n',
  '\t',
  '/*',
  '*/',
  'end',
  ' end ',
  'else',
  'if ',
  'range ',
  'with ',
  'define',
  'template',
  'block',
  'break',
  'continue',
  'and',
  'or',
  'not',
  'eq',
  'index',
  'len',
  'nil',
  '1',
  '1.5',
  '0x',
  "'a'",
  '1i',
  '$value',
  '$labels',
  '$labels.',
  '.Labels',
  '.Value',
  '$externalLabels',
  'printf',
  'printf "%.2f" ',
  '%',
  ' humanize',
  ' | humanize ',
  'query ',
  'first',
  'é',
]

/** The templates of the corpus' annotations, each once. */
export function corpusTemplates(dir = CORPUS): string[] {
  const out = new Set<string>()
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yml'))) {
    const doc = parse(readFileSync(join(dir, file), 'utf8')) as {
      groups: Array<{ rules: Array<{ annotations?: Record<string, unknown> }> }>
    }
    for (const group of doc.groups) {
      for (const rule of group.rules) {
        for (const value of Object.values(rule.annotations ?? {})) {
          if (String(value).includes('{{')) out.add(String(value))
        }
      }
    }
  }
  return [...out]
}

function mistype(rng: Rng, template: string): string {
  let out = template
  const edits = 1 + rng.int(3)
  for (let k = 0; k < edits; k++) {
    const at = rng.int(out.length + 1)
    const r = rng.next()
    if (r < 0.35 && out.length > 0) out = out.slice(0, at) + out.slice(at + 1 + rng.int(3))
    else if (r < 0.8) out = out.slice(0, at) + rng.pick(PIECES) + out.slice(at)
    else if (at + 1 < out.length) out = out.slice(0, at) + out[at + 1] + out[at] + out.slice(at + 2)
  }
  return out
}

/**
 * The alerts' expressions: `$labels.instance` and `$labels.job` are set, as most corpus
 * templates print them.
 */
const EXPRS = [
  'label_replace(label_replace(vector(0.0731), "instance", "web-1:9090", "", ""), "job", "api", "", "")',
  'label_replace(vector(1234.5), "instance", "db-2", "", "")',
  'vector(0)',
]

/** `count` mistyped corpus templates, reproducible from `seed`, each with an alert expression. */
export function mistypedTemplates(templates: readonly string[], seed: number, count: number): Case[] {
  const rng = new Rng(seed)
  return Array.from({ length: count }, () => ({
    template: mistype(rng, rng.pick(templates)),
    expr: rng.pick(EXPRS),
  }))
}

if (import.meta.main) {
  const seed = arg('--seed', 1)
  const count = arg('--cases', 1000)
  const cases = mistypedTemplates(corpusTemplates(), seed, count)
  const started = performance.now()
  const found: Disagreement[] = []
  for (let i = 0; i < cases.length; i += 40) await runBatch(cases.slice(i, i + 40), found, realTools)
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  console.log(
    `seed ${seed}: ${count} cases, ${count - found.length} agree, ${found.length} disagree (${seconds} s)`,
  )
  for (const d of found.slice(0, arg('--show', 20))) {
    console.log(
      `\n${JSON.stringify(d.case.template)}  [${d.case.expr}]\n  promtool: ${got(d.promtool)}\n  ours:     ${got(d.ours)}`,
    )
  }
}
