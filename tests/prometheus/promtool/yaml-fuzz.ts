/**
 * `bun tests/prometheus/promtool/yaml-fuzz.ts [--seed N] [--cases N] [--show N] [--test-files]`: the seeded
 * mutation fuzzer for rule files' YAML. It takes three valid rule files (block style with
 * anchors, merges, folded and literal blocks; flow style), inserts, deletes and re-indents at
 * random (indicators, quotes, comments, tabs, NEL, U+2028, CR, document markers, tags, numbers,
 * timestamps and nulls), and runs each
 * through Debian's `promtool test rules` 2.42 (the truth) and through our `runRuleTests`, with a
 * test file whose expectation prints what the rules decoded.
 *
 * With `--test-files` it mutates test files instead (read with yaml.v2), the rule file fixed.
 *
 * A case agrees when the exit status and the report lines are the same. When both refuse the
 * file with a YAML syntax error (`yaml: line N: …`, no unmarshal errors) but word or place it
 * differently, it is counted apart (none since Go's parser was ported, go-yaml-parser.ts).
 * Prints `seed S: N agree, N syntax-error wording, N differ` and the first differences.
 */
import { rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { numberArg as arg, Rng } from '../promql/differential/generator.ts'
import { promtoolTest, runOurs, writeSuite } from './rule-test-files.ts'

const BASES = [
  `groups:\n  - name: g\n    rules:\n      - alert: B\n        expr: vector(1)\n        labels:\n          severity: page\n          team: "a b"\n        annotations:\n          summary: 'sum {{ $value }}'\n          description: >\n            folded\n            text\n      - record: r:x\n        expr: |\n          sum(up)\n`,
  `groups: [{name: g, rules: [{alert: B, expr: vector(1), labels: {a: x, b: "y"}, annotations: {s: 'z'}}]}]\n`,
  `# c\ngroups:\n- name: g\n  interval: 1m\n  rules:\n  - alert: B\n    expr: vector(1)\n    for: 0s\n    labels: &l\n      a: x\n    annotations:\n      <<: *l\n      d: "multi\n        line"\n`,
  `---\ngroups:\n  - name: "g"\n    limit: 0\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n        labels: {tier: '1'}\n      - alert: B\n        expr: |-\n          vector(1)\n            > 0\n        keep_firing_for: 0s\n        labels:\n          ? team\n          : !!str a\n        annotations:\n          summary: "{{ $labels.team }} \\u00e9"\n          runbook_url: https://x/y?a=b#c\n...\n`,
]

const FRAGMENTS = [
  ' ',
  '  ',
  '\t',
  '\n',
  '#',
  ': ',
  ':',
  '- ',
  '"',
  "'",
  '[',
  ']',
  '{',
  '}',
  ', ',
  '|',
  '>',
  '&a ',
  '*a',
  '!!str ',
  '!!int ',
  '!!null ',
  '!!float ',
  '!!bool ',
  '!!timestamp ',
  '!x ',
  '! ',
  '2001-01-02',
  '0x1F',
  '1.5',
  '~',
  '%',
  '@',
  '`',
  '? ',
  '\u0085',
  '\u2028',
  '\r\n',
  '\r',
  '---\n',
  '...\n',
  'x',
  '\\',
  '\\n',
  '  # c\n',
  '\n\n',
]

/** Test file whose expectation is wrong on purpose: both tools print what they decoded. */
const PROBE =
  'rule_files: [rules.yml]\ntests:\n  - interval: 1m\n    alert_rule_test:\n      - eval_time: 0m\n        alertname: B\n        exp_alerts: [{exp_labels: {}}]\n'

/**
 * Test files mutated with `--test-files` (promtool reads them with yaml.v2, rule files with
 * yaml.v3): series and samples in block style with anchors and a folded block, and flow style.
 */
const TEST_BASES = [
  PROBE,
  `rule_files:
  - rules.yml
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="a"}'
        values: '1 0 1'
      - series: &s 'x{a="b"}'
        values: >
          1+1x3
    alert_rule_test:
      - eval_time: 1m
        alertname: B
        exp_alerts:
          - exp_labels: &l
              severity: page
            exp_annotations:
              summary: "sum 1"
    promql_exp_test:
      - expr: up
        eval_time: 2m
        exp_samples:
          - labels: *s
            value: 1
`,
  `{rule_files: [rules.yml], tests: [{interval: 1m, input_series: [{series: 'up', values: '1'}], promql_expr_test: [{expr: up, eval_time: 0m, exp_samples: [{labels: 'up', value: 2}]}]}]}
`,
]

function mutate(rng: Rng, text: string): string {
  let t = text
  for (let k = 1 + rng.int(3); k > 0; k--) {
    const at = rng.int(t.length)
    const op = rng.next()
    if (op < 0.5) t = t.slice(0, at) + rng.pick(FRAGMENTS) + t.slice(at)
    else if (op < 0.8) t = t.slice(0, at) + t.slice(at + 1 + rng.int(3))
    else {
      const lines = t.split('\n')
      const i = rng.int(lines.length)
      lines[i] = (rng.next() < 0.5 ? ' ' : '') + (lines[i] ?? '').replace(/^ /, rng.next() < 0.5 ? '' : ' ')
      t = lines.join('\n')
    }
  }
  return t
}

const seed = arg('--seed', 1)
const cases = arg('--cases', 200)
const show = arg('--show', 5)
const rng = new Rng(seed)
const lines = (report: { stdout: string; stderr: string }) =>
  `${report.stdout}\n${report.stderr}`.split('\n').filter(Boolean).sort().join('\n')
const syntaxError = (report: string) =>
  /yaml: (line \d+: )?/.test(report) && !report.includes('unmarshal errors')
let agree = 0
let wording = 0
let differ = 0
const testFiles = process.argv.includes('--test-files')
for (let i = 0; i < cases; i++) {
  const rules = testFiles ? (BASES[0] as string) : mutate(rng, rng.pick(BASES))
  const tests = testFiles ? mutate(rng, rng.pick(TEST_BASES)) : PROBE
  const file = writeSuite(rules, tests)
  const real = await promtoolTest(file)
  const mine = runOurs([file])
  rmSync(dirname(file), { recursive: true, force: true })
  if (real.code === mine.code && lines(real) === lines(mine)) agree++
  else if (real.code === mine.code && syntaxError(lines(real)) && syntaxError(lines(mine))) wording++
  else {
    differ++
    if (differ <= show) {
      console.log(`\n${JSON.stringify(testFiles ? tests : rules)}`)
      console.log(`  promtool (${real.code}): ${JSON.stringify(lines(real))}`)
      console.log(`  ours     (${mine.code}): ${JSON.stringify(lines(mine))}`)
    }
  }
}
console.log(`seed ${seed}: ${agree} agree, ${wording} syntax-error wording, ${differ} differ`)
