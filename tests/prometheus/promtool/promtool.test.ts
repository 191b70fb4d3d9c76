import { describe, expect, test } from 'bun:test'
import { recordSkip } from '../../helpers/skips.ts'
import {
  BROKEN_RULES,
  BROKEN_TESTS,
  REFUSED_RULE_FILES,
  REFUSED_TEST_FILES,
  ruleTestFiles,
  runOurs,
  writeSuite,
} from './rule-test-files.ts'

// Agreement with Prometheus: the same promtool test files must pass under Debian's real
// `promtool test rules` and under our runner (and fail alike). Needs promtool on PATH;
// without it these tests skip with a message, unless REQUIRE_OPS_TOOLS=1.
const promtool = Bun.which('promtool')
const required = process.env.REQUIRE_OPS_TOOLS === '1'
if (!promtool && !required) {
  recordSkip('agreement with promtool test rules', 'promtool is not on PATH (apt-get install prometheus)')
}

async function promtoolTest(files: string[]) {
  const proc = Bun.spawn(['promtool', 'test', 'rules', ...files], { stdout: 'pipe', stderr: 'pipe' })
  const [code, stdout, stderr] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ])
  return { code, stdout, stderr }
}

const ours = runOurs

describe.skipIf(!promtool && !required)('agreement with promtool test rules', () => {
  test('promtool is on PATH', () => {
    expect(promtool).not.toBeNull()
  })

  // ops/prometheus/tests/slo.test.yml evaluates 68 SLO rules for hours of test time: ~2 s of CPU.
  test.each(ruleTestFiles())('%s passes under promtool and under rules:test', async (file) => {
    const real = await promtoolTest([file])
    expect({ code: real.code, stderr: real.stderr }).toEqual({ code: 0, stderr: '' })
    expect(ours([file]).code).toBe(0)
  }, 60_000)

  test('a wrong expectation fails under both, with the same report', async () => {
    const file = writeSuite(BROKEN_RULES, BROKEN_TESTS)
    const real = await promtoolTest([file])
    const mine = ours([file])
    expect(real.code).toBe(1)
    expect(mine.code).toBe(1)
    expect(mine.stderr).toBe(real.stderr)
    expect(mine.stdout).toBe(real.stdout)
  })

  // What promtool refuses, rules:test refuses with the same report: same exit status, same
  // stdout, and stderr equal byte for byte (promtool's own parse-error wording and positions).
  test.each(REFUSED_TEST_FILES)('refused alike, same report: %s', async (_name, tests) => {
    const file = writeSuite('groups: []\n', tests)
    const real = await promtoolTest([file])
    const mine = ours([file])
    expect(real.code).toBe(1)
    expect({ code: mine.code, stdout: mine.stdout, stderr: mine.stderr }).toEqual(real)
  })

  test.each(REFUSED_RULE_FILES)('refused rule file, same report: %s', async (_name, rules, tests) => {
    const file = writeSuite(rules, tests)
    const real = await promtoolTest([file])
    const mine = ours([file])
    expect(real.code).toBe(1)
    expect({ code: mine.code, stdout: mine.stdout, stderr: mine.stderr }).toEqual(real)
  })

  // A test file's rule_files go through Go 1.19's filepath.Glob: `\` escapes, `[^…]` classes,
  // ranges, and malformed patterns, which fail the file with `syntax error in pattern`.
  test.each([
    'rules.\\yml',
    'rules.[y]ml',
    'rules.[^x]ml',
    'rules.[\\y]ml',
    '[!r]*',
    'rules.y?l',
    'r*s.y*',
    '*/rules.yml',
    'x/../rules.yml',
    'nothing*',
    'rules.[',
    'rules.yml\\',
    '[]',
    'rules.[a-]',
    '[z-a]*',
    '*[',
    '[/]x',
  ])('rule_files pattern %s: same report', async (pattern) => {
    const file = writeSuite(
      'groups:\n  - name: g\n    rules:\n      - alert: B\n        expr: vector(1)\n',
      `rule_files: [${JSON.stringify(pattern)}]\ntests:\n  - interval: 1m\n    alert_rule_test:\n      - eval_time: 0m\n        alertname: B\n        exp_alerts: [{exp_labels: {}}]\n`,
    )
    const real = await promtoolTest([file])
    const mine = ours([file])
    expect({ code: mine.code, stdout: mine.stdout, stderr: mine.stderr }).toEqual(real)
  })

  // YAML syntax errors: Go's scanner and parser are ported (go-yaml-scanner.ts,
  // go-yaml-parser.ts), so the report is promtool's, its line included (a parser error names the
  // 0-based line, as yaml.v2's decoder does).
  test('a YAML syntax error is refused by both with the same report', async () => {
    const file = writeSuite(
      'groups: []\n',
      'rule_files: [rules.yml]\ntests:\n  - interval: 1m\n    input_series:\n      - series: x\n         values: "1"\n',
    )
    const real = await promtoolTest([file])
    const mine = ours([file])
    expect(real.code).toBe(1)
    expect(real.stderr).toMatch(/^ {2}FAILED:\nyaml: line \d+: /)
    expect({ code: mine.code, stdout: mine.stdout, stderr: mine.stderr }).toEqual(real)
  })

  // exp_samples naming one series more than once: promtool sorts them with sort.Slice and a
  // `<= 0` comparison, which reverses equal label sets, so its report lists them in that order.
  test.each([
    ['m', 'm', 'm', '{}'],
    ['m', '{__name__="m"}', 'x', 'm', 'x', 'x'],
    Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? 'x' : 'm')),
    // Past 12, pdqsort: pivots, partial insertion sort, and (unbalanced partitions) breakPatterns.
    Array.from({ length: 14 }, () => 'm'),
    Array.from({ length: 60 }, (_, i) => ['m', 'x', 'y', '{}'][(i * 7) % 4] as string),
    Array.from({ length: 120 }, (_, i) => ['a', 'b', 'c', 'd', 'e'][Math.trunc((120 - i) / 25)] as string),
  ])('exp_samples repeating a series: same report (%#)', async (...labels) => {
    const samples = labels.map((l, i) => `          - labels: '${l}'\n            value: ${i}\n`).join('')
    const file = writeSuite(
      'groups: []\n',
      `tests:\n  - interval: 1m\n    input_series:\n      - series: m\n        values: 1x3\n    promql_expr_test:\n      - expr: m\n        eval_time: 1m\n        exp_samples:\n${samples}`,
    )
    const real = await promtoolTest([file])
    const mine = ours([file])
    expect(real.code).toBe(1)
    expect({ code: mine.code, stdout: mine.stdout, stderr: mine.stderr }).toEqual(real)
  })
})

// Labels as parser.ParseMetric builds them (generated_parser.y `metric`, `label_set`): without
// a metric name, labels.New keeps repeated names and empty values; with one, the Builder drops
// empty-valued names (every pair of that name) and its metric name overrides a `__name__` in
// the braces. exp_samples compare and print those pairs as built.
describe.skipIf(!promtool && !required)('label sets as ParseMetric builds them', () => {
  const suite = (series: string, expr: string, labels: string) =>
    writeSuite(
      'groups: []\n',
      `tests:\n  - interval: 1m\n    input_series:\n      - series: '${series}'\n        values: 1x3\n    promql_expr_test:\n      - expr: ${expr}\n        eval_time: 1m\n        exp_samples:\n          - labels: '${labels}'\n            value: 1\n`,
    )

  test.each([
    '{__name__="m",a=""}',
    '{__name__="m",__name__="m"}',
    'm{__name__="x"}',
    'm{a="2",b="x",a="1"}',
    'm{a="",a="1"}',
    'x{__name__="m"}',
    // Past 12 pairs labels.New's sort.Sort is pdqsort, which reorders repeated names.
    `{${Array.from({ length: 14 }, (_, i) => `a="${14 - i}",b="${14 - i}"`).join(',')},c="z"}`,
  ])('exp_samples labels %s: same report', async (labels) => {
    const file = suite('m', 'm', labels)
    const real = await promtoolTest([file])
    const mine = ours([file])
    expect({ code: mine.code, stdout: mine.stdout, stderr: mine.stderr }).toEqual(real)
  })

  // The TSDB head refuses a series left empty once empty values are dropped, or naming a label
  // twice: every evaluation step from its first sample fails with the head's error.
  test.each([
    '{}',
    '{a=""}',
    '{__name__=""}',
    'm{__name__=""}',
    'm{__name__="x"}',
    'm{a="1",a="2"}',
    '{__name__="m",__name__="m"}',
    '{__name__="m",a="1",a="2"}',
  ])('input_series %s: same report', async (series) => {
    const file = suite(series, 'count({__name__=~".+"} or {a=~".+"}) by (__name__, a)', '{}')
    const real = await promtoolTest([file])
    expect(real.code).toBe(1)
    const mine = ours([file])
    expect({ code: mine.code, stdout: mine.stdout, stderr: mine.stderr }).toEqual(real)
  })

  // A refused series whose first sample comes later: the steps before it load and evaluate;
  // from it on, nothing more lands (Go's appendTill returns before Commit), rules are not
  // evaluated, and alert checks still run.
  test('a refused input series among others: same report', async () => {
    const file = writeSuite(
      'groups:\n  - name: g\n    rules:\n      - record: r\n        expr: count({__name__=~"m|n"})\n      - alert: A\n        expr: m > 0\n',
      `rule_files: [rules.yml]\ntests:\n  - interval: 1m\n    input_series:\n      - series: m\n        values: 1x5\n      - series: 'm{a="1",a="2"}'\n        values: _ _ 1 2\n      - series: n\n        values: 1x5\n    alert_rule_test:\n      - eval_time: 1m\n        alertname: A\n      - eval_time: 3m\n        alertname: A\n    promql_expr_test:\n      - expr: r\n        eval_time: 4m\n      - expr: m\n        eval_time: 4m\n`,
    )
    const real = await promtoolTest([file])
    expect(real.code).toBe(1)
    const mine = ours([file])
    expect({ code: mine.code, stdout: mine.stdout, stderr: mine.stderr }).toEqual(real)
  })
})
