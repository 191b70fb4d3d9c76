/**
 * The template fuzzer's runner: writes a batch of generated templates as one rules file and
 * test file, runs it through both tools and matches their reports back to the cases, so that
 * `fuzz.ts` only generates and prints. Apart so its matching can be tested without promtool.
 */
import { rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { promtoolTest, runOurs, writeSuite } from '../promtool/rule-test-files.ts'

/** The two tools a batch runs through: promtool (the truth) and ours, each given the test file. */
export interface Tools {
  promtool: (file: string) => Promise<Report>
  ours: (file: string) => Report
}

/** `promtool test rules` and our `runRuleTests`. */
export const realTools: Tools = {
  promtool: promtoolTest,
  ours: (file) => runOurs([file]),
}

/** One generated template and the expression of the alert it annotates. */
export interface Case {
  template: string
  expr: string
}

/** The rules file: alert `T<i>` for `cases[i]`, its template as annotation `a`. */
export function rulesFile(cases: Case[]): string {
  const rules = cases.map(
    (c, i) =>
      `      - alert: T${i}\n        expr: ${JSON.stringify(c.expr)}\n        annotations:\n          a: ${JSON.stringify(c.template)}\n`,
  )
  return `groups:\n  - name: g\n    rules:\n${rules.join('')}`
}

/** The test file: every alert at 0m expecting none, so both tools print what each rendered. */
export function testFile(n: number): string {
  const alerts = Array.from(
    { length: n },
    (_, i) => `      - eval_time: 0m\n        alertname: T${i}\n        exp_alerts: []\n`,
  )
  return `rule_files: [rules.yml]\ntests:\n  - interval: 1m\n    external_labels:\n      env: prod\n      region: eu\n    external_url: http://example.com:9090/prom/\n    alert_rule_test:\n${alerts.join('')}`
}

/** A tool's run: exit status and both streams. */
export interface Report {
  code: number
  stdout: string
  stderr: string
}

/** Splits a report into per-alert blocks (`alertname: T3, …`) and load error lines by alert. */
export function perCase(report: Report): { blocks: Map<number, string>; loadErrors: Map<number, string> } {
  const blocks = new Map<number, string>()
  const loadErrors = new Map<number, string>()
  const text = report.stderr
  for (const m of text.matchAll(/^.*rule (\d+), "T(\d+)": .*$/gm)) {
    const i = Number(m[2])
    loadErrors.set(i, `${loadErrors.get(i) ?? ''}${m[0].replace(/^.*?rules\.yml: /, '')}\n`)
  }
  const parts = text.split(/^(?= {4}alertname: T\d+, )/m)
  for (const part of parts) {
    const m = /^ {4}alertname: T(\d+), /.exec(part)
    if (m) blocks.set(Number(m[1]), part)
  }
  return { blocks, loadErrors }
}

/** A case the tools disagree on, with what each printed for it. */
export interface Disagreement {
  case: Case
  promtool: string
  ours: string
}

/**
 * Runs `cases` through both tools and pushes each disagreement onto `found`. A template either
 * tool refuses at load stops the whole rules file from loading, so neither tool evaluates any
 * alert: equal reports then prove only that the load errors agree. Those cases are compared by
 * their load error lines and the rest re-run without them, whether or not the reports matched.
 * Equal reports count as agreement only when every case has its alert block in them.
 */
export async function runBatch(cases: Case[], found: Disagreement[], tools: Tools): Promise<void> {
  if (cases.length === 0) return
  const file = writeSuite(rulesFile(cases), testFile(cases.length))
  let real: Report
  let mine: Report
  try {
    real = await tools.promtool(file)
    mine = tools.ours(file)
  } finally {
    // writeSuite makes a directory per batch: a fuzz run of 1000 cases left 25 of them in /tmp.
    rmSync(dirname(file), { recursive: true, force: true })
  }
  const r = perCase(real)
  const o = perCase(mine)
  const refused = new Set([...r.loadErrors.keys(), ...o.loadErrors.keys()])
  if (refused.size > 0) {
    for (const i of refused) {
      const a = r.loadErrors.get(i) ?? '(loads)'
      const b = o.loadErrors.get(i) ?? '(loads)'
      if (a !== b) found.push({ case: cases[i] as Case, promtool: a, ours: b })
    }
    await runBatch(
      cases.filter((_, i) => !refused.has(i)),
      found,
      tools,
    )
    return
  }
  if (real.code === mine.code && real.stdout === mine.stdout && real.stderr === mine.stderr) {
    // Every alert fires, so promtool prints a block for each: one missing means the file did
    // not load for a reason perCase cannot pin on a case, and equal reports prove nothing.
    const unseen = cases.findIndex((_, i) => !r.blocks.has(i))
    if (unseen >= 0) found.push({ case: cases[unseen] as Case, promtool: real.stderr, ours: mine.stderr })
    return
  }
  let any = false
  for (let i = 0; i < cases.length; i++) {
    const a = r.blocks.get(i) ?? '(no block)'
    const b = o.blocks.get(i) ?? '(no block)'
    if (a !== b) {
      any = true
      found.push({ case: cases[i] as Case, promtool: a, ours: b })
    }
  }
  if (!any) found.push({ case: cases[0] as Case, promtool: JSON.stringify(real), ours: JSON.stringify(mine) })
}

/** What a report block shows for annotation `a`: its quoted value, else the whole block. */
export const got = (block: string) => /Annotations:\{a=(".*")\}/.exec(block)?.[1] ?? block.trim()
