import { describe, expect, test } from 'bun:test'
import { recordSkip } from '../../helpers/skips.ts'
import { bothReports, NEXT_DOCUMENT_SCANS, nextDocumentFiles, writeSuite } from './rule-test-files.ts'

// Merge keys, multi-document files and !!binary through promtool 2.42 and rules:test: the same
// rule file and test file must give the same exit status and report. Needs promtool on PATH.
const promtool = Bun.which('promtool')
const required = process.env.REQUIRE_OPS_TOOLS === '1'
if (!promtool && !required) recordSkip('go-yaml agreement with promtool', 'promtool is not on PATH')

const alerts = (rules: string) => `groups:\n  - name: g\n    rules:\n${rules}`
// A wrong expectation on purpose: both print the labels and annotations they decoded.
const showB =
  'rule_files: [rules.yml]\ntests:\n  - interval: 1m\n    alert_rule_test:\n      - eval_time: 0m\n        alertname: B\n        exp_alerts: [{exp_labels: {}}]\n'

const CASES: [string, string, string][] = [
  [
    'a merged alias, the own key winning, a sequence of maps',
    alerts(
      '      - alert: A\n        expr: vector(1)\n        labels: &cl {severity: page, team: a}\n        annotations: &an {s: one}\n      - alert: B\n        expr: vector(1)\n        labels: {<<: *cl, severity: warn, x: "1"}\n        annotations:\n          <<: [*an, {s: two, t: three}]\n',
    ),
    showB,
  ],
  [
    'nested merges and a plain true key',
    alerts(
      '      - alert: A\n        expr: vector(1)\n        labels: &a {a: a1, b: a2}\n        annotations: &b {<<: *a, b: b2, c: b3}\n      - alert: B\n        expr: vector(1)\n        labels: {true: t, c: x, <<: [{d: m1}, *b, {a: m2, true: m3, e: m6}]}\n',
    ),
    showB,
  ],
  [
    'a merged rule with an unknown field',
    alerts(
      '      - &base\n        alert: A\n        expr: vector(1)\n      - <<: *base\n        alert: B\n        bogus: 3\n',
    ),
    showB,
  ],
  [
    'a merge of a scalar',
    alerts('      - alert: B\n        expr: vector(1)\n        labels: {<<: foo}\n'),
    showB,
  ],
  [
    'two << keys',
    alerts('      - alert: B\n        expr: vector(1)\n        labels: {<<: {a: "1"}, <<: {b: "2"}}\n'),
    showB,
  ],
  [
    'merges in the test file: map clashes and struct overwrites',
    alerts('      - alert: B\n        expr: vector(1)\n        labels: {severity: warn, team: a}\n'),
    'rule_files: [rules.yml]\ntests:\n  - interval: 1m\n    alert_rule_test:\n      - &case\n        eval_time: 0m\n        alertname: B\n        exp_alerts: [{exp_labels: &l {severity: warn, team: a}}]\n      - <<: *case\n        exp_alerts: [{exp_labels: {<<: *l, x: y}}]\n      - <<: *case\n        exp_alerts: [{exp_labels: {<<: *l, severity: page}}]\n',
  ],
  [
    'a second document in the rule and the test file, the first malformed after ...',
    `${alerts('      - alert: B\n        expr: vector(1)\n')}---\ngroups: [\n`,
    `${showB}...\n]]]\n`,
  ],
  [
    '!!binary labels and annotations',
    alerts(
      '      - alert: B\n        expr: vector(1)\n        labels:\n          a: !!binary aGVsbG8=\n          b: !!binary "aGVs\\r\\nbG8="\n          c: !!binary |\n            aGVs\n            bG8=\n',
    ),
    showB,
  ],
  [
    'bad !!binary base64',
    alerts('      - alert: B\n        expr: vector(1)\n        labels: {a: [1], b: !!binary aGVsbG8}\n'),
    showB,
  ],
]

describe.skipIf(!promtool && !required)('go-yaml agreement with promtool 2.42', () => {
  test.each(CASES)('%s: same report', async (_name, rules, tests) => {
    const { mine, real } = await bothReports(rules, tests)
    expect(mine).toEqual(real)
  })

  // Past the first document Go scans a token or two more (yaml.v3 more than yaml.v2): each row
  // in the rule file, loaded by a test group, and in the test file itself.
  test.each(NEXT_DOCUMENT_SCANS)('past the first document, %s: same reports', async (_name, first, rest) => {
    const { rules, tests } = nextDocumentFiles(first, rest)
    const probe = 'rule_files: [rules.yml]\ntests:\n  - interval: 1m\n'
    const inRules = await bothReports(rules, probe)
    expect(inRules.mine).toEqual(inRules.real)
    const inTests = await bothReports('groups: []\n', tests)
    expect(inTests.mine).toEqual(inTests.real)
  })

  test('check rules: the probe file with a merged label set has 2 rules under both', async () => {
    const rules = alerts(
      '      - alert: A\n        expr: up == 0\n        labels: &cl {severity: page}\n      - alert: B\n        expr: up == 0\n        labels: {<<: *cl, team: x}\n',
    )
    const file = writeSuite(rules, showB).replace('suite.test.yml', 'rules.yml')
    const proc = Bun.spawn(['promtool', 'check', 'rules', file], { stdout: 'pipe', stderr: 'pipe' })
    const [code, stdout] = await Promise.all([proc.exited, new Response(proc.stdout).text()])
    expect({ code, stdout }).toEqual({ code: 0, stdout: `Checking ${file}\n  SUCCESS: 2 rules found\n\n` })
    const { parseRuleFile } = await import('../../../src/prometheus/rules/rulefmt.ts')
    expect(parseRuleFile(rules, file)[0]?.rules.map((r) => r.labels)).toEqual([
      { severity: 'page' },
      { severity: 'page', team: 'x' },
    ])
  })
})
