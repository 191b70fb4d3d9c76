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
