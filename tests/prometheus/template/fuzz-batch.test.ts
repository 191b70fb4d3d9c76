import { describe, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { dirname } from 'node:path'
import { runOurs } from '../promtool/rule-test-files.ts'
import { type Case, type Disagreement, got, type Report, runBatch, type Tools } from './fuzz-batch.ts'

// The fuzzer's runner is checked with our runRuleTests standing in for promtool (it agrees with
// promtool 2.42 on these templates) and a copy of it that renders one value differently, so a
// disagreement exists only where the test puts it.
const refusedAtLoad: Case = { template: '{{ end }}', expr: 'vector(1)' }
const urlquery: Case = { template: '{{ urlquery "a\\x80 \\u2028" }}', expr: 'vector(1)' }
const plain: Case = { template: 'v={{ $value }}', expr: 'vector(2)' }

const ours = (file: string): Report => runOurs([file])
/** Ours, but urlquery escaping U+0080 as encodeURIComponent does (the bug c36af93 fixed). */
const utf8Escaping = (file: string): Report => {
  const r = ours(file)
  return { ...r, stderr: r.stderr.replace('a%80+', 'a%C2%80+') }
}
const tools = (mine: (file: string) => Report): Tools => ({ promtool: async (f) => ours(f), ours: mine })

async function run(cases: Case[], t: Tools): Promise<Disagreement[]> {
  const found: Disagreement[] = []
  await runBatch(cases, found, t)
  return found
}

describe('template fuzzer batches', () => {
  test('the same tool on both sides agrees, a template refused at load included', async () => {
    expect(await run([refusedAtLoad, urlquery, plain], tools(ours))).toEqual([])
  })

  test('a template both refuse at load does not hide what the others render', async () => {
    // Both refuse {{ end }} with the same line, so the first reports are equal; the batch must
    // still be re-run without it, where urlquery's output differs.
    const found = await run([refusedAtLoad, urlquery, plain], tools(utf8Escaping))
    expect(found.map((d) => d.case)).toEqual([urlquery])
    expect(got(found[0]?.promtool ?? '')).toBe('"a%80+%E2%80%A8"')
    expect(got(found[0]?.ours ?? '')).toBe('"a%C2%80+%E2%80%A8"')
  })

  test('a template only one tool refuses is reported with its load error line', async () => {
    const loadsAll = (file: string): Report => {
      const r = ours(file)
      return { ...r, stderr: r.stderr.replace(/^.*"T0": .*\n/m, '') }
    }
    const found = await run([refusedAtLoad, plain], tools(loadsAll))
    expect(found).toEqual([
      {
        case: refusedAtLoad,
        promtool: 'group "g", rule 1, "T0": annotation "a": template: __alert_T0:1: unexpected {{end}}\n',
        ours: '(loads)',
      },
    ])
  })

  test('equal reports in which an alert has no block are not counted as agreement', async () => {
    // A load failure perCase cannot pin on a case: neither tool evaluated anything.
    const failed = (): Report => ({
      code: 1,
      stdout: '',
      stderr: '  FAILED:\nrules.yml: yaml: line 3: mapping values are not allowed in this context\n',
    })
    const found = await run([plain, urlquery], { promtool: async () => failed(), ours: failed })
    expect(found.map((d) => d.case)).toEqual([plain])
  })

  test('each batch removes the directory it wrote its files to', async () => {
    const dirs: string[] = []
    const recording = (file: string): Report => {
      dirs.push(dirname(file))
      expect(existsSync(file)).toBe(true)
      return ours(file)
    }
    // A refused template makes a second batch, in a directory of its own.
    expect(await run([refusedAtLoad, plain], tools(recording))).toEqual([])
    expect(dirs.length).toBe(2)
    expect(dirs.filter((d) => existsSync(d))).toEqual([])
  })
})
