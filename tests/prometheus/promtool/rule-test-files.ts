import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runRuleTests } from '../../../src/prometheus/promtool/test-rules.ts'

export const FIXTURES = 'tests/prometheus/fixtures'
const OPS_TESTS = 'ops/prometheus/tests'

/** Every promtool test file both engines must pass: ours and the ops rule tests. */
export function ruleTestFiles(): string[] {
  const files = readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.test.yml'))
    .map((f) => join(FIXTURES, f))
  if (existsSync(OPS_TESTS)) {
    for (const f of readdirSync(OPS_TESTS)) if (/\.ya?ml$/.test(f)) files.push(join(OPS_TESTS, f))
  }
  return files.sort()
}

/** `promtool test rules <file>`: its exit status and both streams, to compare with `runOurs`. */
export async function promtoolTest(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(['promtool', 'test', 'rules', file], { stdout: 'pipe', stderr: 'pipe' })
  const [code, stdout, stderr] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ])
  return { code, stdout, stderr }
}

/**
 * The same rules file and test file through `promtool test rules` and `rules:test`: both
 * reports (exit status, stdout, stderr), for a differential test to compare.
 */
export async function bothReports(rules: string, tests: string) {
  const file = writeSuite(rules, tests)
  const real = await promtoolTest(file)
  const mine = runOurs([file])
  return { real, mine: { code: mine.code, stdout: mine.stdout, stderr: mine.stderr } }
}

/** Writes a throwaway rules file and test file into a temp dir; returns the test file path. */
export function writeSuite(rules: string, tests: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'rules-test-'))
  writeFileSync(join(dir, 'rules.yml'), rules)
  const file = join(dir, 'suite.test.yml')
  writeFileSync(file, tests)
  return file
}

export const BROKEN_RULES = `groups:
  - name: g
    rules:
      - alert: Busy
        expr: load > 1
        for: 1m
        labels:
          severity: page
        annotations:
          summary: "load {{ $value }} on {{ $labels.host }}"
`

/** Two wrong expectations: a value and an alert's annotation. */
export const BROKEN_TESTS = `rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - name: wrong on purpose
    interval: 1m
    input_series:
      - series: 'load{host="a"}'
        values: '0.5 2 3 4'
    promql_expr_test:
      - expr: sum(load)
        eval_time: 2m
        exp_samples:
          - labels: '{}'
            value: 2
    alert_rule_test:
      - eval_time: 3m
        alertname: Busy
        exp_alerts:
          - exp_labels:
              host: a
              severity: page
            exp_annotations:
              summary: "load 4 on b"
`

/** Runs our promtool-compatible runner on `files`, capturing its exit code and output. */
export function runOurs(files: string[]) {
  let stdout = ''
  let stderr = ''
  const code = runRuleTests(files, {
    stdout: (t) => {
      stdout += t
    },
    stderr: (t) => {
      stderr += t
    },
  })
  return { code, stdout, stderr }
}

const header = 'rule_files: [rules.yml]\ntests:\n  - interval: 1m\n'
const series = (line: string) => `${header}    input_series:\n      - series: '${line}'\n        values: ''\n`

/**
 * Test files promtool 2.42 refuses (issue #22): bad series descriptions, bad exp_samples
 * labels, unknown fields, type mismatches and bad durations. Each is [name, test file text];
 * the agreement test runs them through promtool and rules:test and compares the reports.
 */
export const REFUSED_TEST_FILES: [string, string][] = [
  ['a word in series values', series('x{quantile="0.50"} 1 two 3')],
  ['a number followed by letters', series('x 1 2 017 1_000')],
  ['an unclosed label set', series('x{a="b" 1 2')],
  ['a label without "="', series('x{a} 1')],
  ['a regex matcher in a series', series('x{a=~"b"} 1')],
  ['a missing comma between labels', series('x{a="b" c="d"} 1')],
  ['a keyword as a metric name', series('on 1')],
  ['no space before the values', series('x{a="b"}1')],
  ['a fractional repetition', series('x 1x2.5')],
  ['a number out of range', series('x 1e999')],
  ['an exponent without digits', series('x 1e')],
  ['an aggregator among the values', series('x sum')],
  ['two signs', series('x 1 +-1x2')],
  ['a comment after the values', series('x 1 _x2 3 #c')],
  ['a space before the labels', series('x {a="b"}')],
  ['a stray character', series('x 1 2 ! 3')],
  ['a negative repetition', series('x 1x-2')],
  ['a lone x', series('x 1 2 x')],
  ['a value that starts the series', series('1x 1 2 3')],
  [
    'bad exp_samples labels',
    `${header}    promql_expr_test:\n      - expr: 1\n        eval_time: 0m\n        exp_samples: [{labels: '{a=}', value: 1}]\n`,
  ],
  ['an unknown field', 'rule_files: [rules.yml]\ntests:\n  - intervall: 1m\n'],
  [
    'a quoted sample value',
    `${header}    promql_expr_test:\n      - expr: 1\n        eval_time: 0m\n        exp_samples: [{labels: '{}', value: "1"}]\n`,
  ],
  ['a bad evaluation_interval', 'rule_files: [rules.yml]\nevaluation_interval: 1x\ntests: []\n'],
  [
    'an octal input value against its decimal reading',
    `${header}    input_series:\n      - series: x\n        values: '017'\n    promql_expr_test:\n      - expr: x\n        eval_time: 0m\n        exp_samples: [{labels: x, value: 17}]\n`,
  ],
]

const probe =
  'rule_files: [rules.yml]\ntests:\n  - interval: 1m\n    input_series:\n      - series: x\n        values: 1\n'
const alertRule = (extra: string) => `groups:\n  - name: g\n    rules:\n      - alert: A\n${extra}`

/**
 * Rule files promtool 2.42 refuses, each [name, rule file, test file]: rulefmt's unmarshal
 * errors, bad durations and every validation with its node position. Expression parse errors
 * are left out: their text after "could not parse expression: " comes from the PromQL parser.
 */
export const REFUSED_RULE_FILES: [string, string, string][] = [
  ['an unknown rule field', alertRule('        expr: x\n        severity: page\n'), probe],
  ['a bad for duration', alertRule('        expr: x\n        for: 5 minutes\n'), probe],
  [
    'an unclosed template action',
    alertRule('        expr: x\n        annotations:\n          s: "{{ $value"\n'),
    probe,
  ],
  ['a missing expr', alertRule(''), probe],
  ['both record and alert', alertRule('        record: b\n        expr: x\n'), probe],
  ['bad label names', alertRule('        expr: x\n        labels:\n          bad-name: x\n'), probe],
  [
    'fields a recording rule cannot have',
    'groups:\n  - name: g\n    rules:\n      - record: b\n        expr: x\n        annotations:\n          a: b\n        for: 1m\n',
    probe,
  ],
  [
    'a bad recording rule name',
    'groups:\n  - name: g\n    rules:\n      - record: a b\n        expr: x\n',
    probe,
  ],
  ['empty and repeated group names', 'groups:\n  - name: ""\n    rules: []\n  - interval: 1m\n', probe],
  ['a group name used twice', 'groups:\n  - name: g\n  - name: g\n', probe],
]
