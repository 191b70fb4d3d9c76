import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
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
export async function bothReports(rules: string | Uint8Array, tests: string | Uint8Array) {
  const file = writeSuite(rules, tests)
  try {
    const real = await promtoolTest(file)
    const mine = runOurs([file])
    return { real, mine: { code: mine.code, stdout: mine.stdout, stderr: mine.stderr } }
  } finally {
    // Thousands of suites per run went through here, each leaving its folder in the temp dir.
    rmSync(dirname(file), { recursive: true, force: true })
  }
}

/** Writes a throwaway rules file and test file into a temp dir; returns the test file path. */
export function writeSuite(rules: string | Uint8Array, tests: string | Uint8Array): string {
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
  // Found by fuzzing the series notation: promtool 2.42 prints only the first of several
  // errors, and a label value's escapes are checked as the expression lexer checks them.
  ['two bad numbers: only the first is reported', series('x 1 2 1e 1e 1e')],
  ['a bad number, then a bad token', series('x stale 1e 0b1 3-0.5x2')],
  ['an escape with too few hex digits', series('x{a="\\x4"} 1')],
  ['an escape that is no escape', series('x{a="\\q"} 1')],
  ['an escape past U+10FFFF', series('x{a="\\U00110000"} 1')],
  [
    'a bad escape in exp_samples labels',
    `${header}    promql_expr_test:\n      - expr: 1\n        eval_time: 0m\n        exp_samples: [{labels: 'x{a="\\400"}', value: 1}]\n`,
  ],
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
  // record, alert and expr are yaml.Nodes: a collection there is an empty value, not a type error.
  [
    'an expr that is a list',
    'groups:\n  - name: g\n    rules:\n      - alert: B\n        expr: [x]\n',
    probe,
  ],
  [
    'an alert name that is a list, a record that is a map',
    'groups:\n  - name: g\n    rules:\n      - alert: [B]\n        expr: x\n      - record: {a: b}\n        expr: x\n',
    probe,
  ],
  // An alias with no anchor before it: Go's composer refuses the document.
  [
    'an alias to an anchor never defined',
    'groups:\n- name: g\n  rules:\n  - alert: B\n    expr: vector(1)\n    labels:\n      <<: *l\n',
    probe,
  ],
  [
    'an alias before its anchor',
    'groups:\n- name: g\n  rules:\n  - alert: B\n    expr: vector(1)\n    labels: *l\n    annotations: &l {a: b}\n',
    probe,
  ],
  // An alias inside the collection its anchor names: decoded as a collection, Go's fatal error.
  [
    'an anchored mapping merging itself',
    'groups:\n- name: g\n  rules:\n  - alert: B\n    expr: vector(1)\n    labels: &l\n      a: x\n      <<: *l\n',
    probe,
  ],
  [
    'a lone CR moving an anchored key to the top, its alias merged inside it',
    '# c\ngroups:\n- name: g\n  interval: 1m\n  rules:\n  - alert: B\n    expr: vector(1)\n    for: 0s\n    \rlabels: &l\n    a: x\n    annotations:\n      <<: *l\n      d: "multi\n        line"\n',
    probe,
  ],
  // A YAML null there is its text as written: `alert: null` is an alert named "null".
  [
    'null, ~ and nothing as rule names',
    'groups:\n  - name: g\n    rules:\n      - alert: null\n        expr: vector(1)\n      - alert: ~\n        expr: vector(1)\n      - record: ~\n        expr: vector(1)\n      - alert:\n        expr: vector(1)\n',
    probe,
  ],
  [
    'an alert named null, firing, and an expr of null',
    'groups:\n  - name: g\n    rules:\n      - alert: NULL\n        expr: vector(1)\n      - record: r\n        expr: null\n',
    "rule_files: [rules.yml]\ntests:\n  - interval: 1m\n    input_series:\n      - series: 'null'\n        values: '3'\n    alert_rule_test:\n      - eval_time: 0m\n        alertname: 'NULL'\n        exp_alerts: []\n    promql_expr_test:\n      - expr: r\n        eval_time: 0m\n        exp_samples: []\n",
  ],
  // Errors in the order Go decodes: entries in document order, a mapping's merged keys after its own.
  [
    'a type error after an unknown field, and a long value cut at 7 bytes',
    'groups:\n  - name: g\n    rules:\n      - alert: B\n        bogus: 1\n        labels: severity=page and more\n        for: [1]\n',
    probe,
  ],
  [
    "errors in a merged anchor after the mapping's own",
    'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n        labels: &l\n          a: [1]\n      - alert: B\n        expr: x\n        labels:\n          <<: *l\n          b: [2]\n',
    probe,
  ],
  // rulefmt.Parse reads the file a second time into its node types (ruleGroups, []yaml.Node).
  ['a document that is a word', 'hello\n', probe],
  ['a document that is a list', '- a\n', probe],
  ['a document that is an empty string', '""\n', probe],
  ['groups that are a number', 'groups: 5\n', probe],
  ['groups that are a map, and an unknown field', 'bogus: 1\ngroups: {a: b}\n', probe],
  // Hunt 119 (a rule-field probe): a recording rule's bad annotation name, a map for an interval.
  [
    "a recording rule's annotation with a bad name",
    'groups:\n  - name: g\n    rules:\n      - record: r:x\n        expr: vector(1)\n        labels:\n          a.b: x\n        annotations:\n          é: y\n',
    probe,
  ],
  ['a group interval that is a map', 'groups:\n  - name: g\n    interval: {a: b}\n    rules: []\n', probe],
  ['a group interval that is a list', 'groups:\n  - name: g\n    interval: [1m]\n    rules: []\n', probe],
]

/**
 * What Go's YAML scanner reads past the first document, each [name, first document, the rest,
 * yaml.v3's outcome (rule files), yaml.v2's (test files)], as promtool 2.42 reports them: 'ok', or
 * the syntax error. The first document is `groups: []` / `tests: []` in block style, or
 * `{groups: []}` / `{tests: []}` in flow style. Past the root, Go's parser peeks one token and
 * yaml.v3's scanner queues two more behind it; yaml.v2's stops at the `---` or `...`.
 */
export const NEXT_DOCUMENT_SCANS: [string, 'block' | 'flow', string, string, string][] = [
  [
    'an unterminated quote after ---',
    'block',
    '--- "unterminated',
    'yaml: line 2: found unexpected end of stream',
    'ok',
  ],
  [
    'an unterminated quote on the line after ---',
    'block',
    '---\n"unterminated\n\n',
    'yaml: line 3: found unexpected end of stream',
    'ok',
  ],
  ['an unterminated single quote', 'block', "--- 'x", 'yaml: line 2: found unexpected end of stream', 'ok'],
  [
    'a mapping on the --- line',
    'block',
    '--- a: b',
    'yaml: line 2: mapping values are not allowed in this context',
    'ok',
  ],
  [
    'a tab starting a line',
    'block',
    '---\n\tx',
    'yaml: line 3: found character that cannot start any token',
    'ok',
  ],
  ['a tab after ---', 'block', '--- \tx', 'ok', 'ok'],
  ['an unclosed [', 'block', '--- [', 'ok', 'ok'],
  ['an unclosed {', 'block', '--- {', 'ok', 'ok'],
  ['a bad indentation (a parser error)', 'block', '---\n  a: b\n c: d', 'ok', 'ok'],
  ['a valid mapping', 'block', '---\ngroups:\n  - name: b\n', 'ok', 'ok'],
  ['a %YAML directive before the next ---', 'block', '%YAML 1.1\n---\n', 'ok', 'ok'],
  [
    'a third document two tokens on',
    'block',
    '---\n---\n"x',
    'yaml: line 4: found unexpected end of stream',
    'ok',
  ],
  ['a third document three tokens on', 'block', '---\n---\n---\n"x', 'ok', 'ok'],
  ['a quote inside a plain scalar', 'block', '--- a\n"x', 'ok', 'ok'],
  [
    'a quote after a block scalar',
    'block',
    '--- |\n  a\n"x',
    'yaml: line 4: found unexpected end of stream',
    'ok',
  ],
  [
    'a block scalar indentation of 0',
    'block',
    '--- |0\n',
    'yaml: line 2: found an indentation indicator equal to 0',
    'ok',
  ],
  ['a quote three tokens on', 'block', '--- [a, "x', 'ok', 'ok'],
  [
    'a %YAML directive without a version',
    'block',
    '%YAML x\n',
    'yaml: line 2: did not find expected version number',
    'yaml: line 2: did not find expected version number',
  ],
  [
    'an unknown directive',
    'block',
    '%FOO x\n',
    'yaml: line 2: found unknown directive name',
    'yaml: line 2: found unknown directive name',
  ],
  [
    'a quote after a directive',
    'block',
    '%YAML 1.1\n"x',
    'yaml: line 3: found unexpected end of stream',
    'ok',
  ],
  ['a quote after ...', 'block', '...\n"x', 'yaml: line 3: found unexpected end of stream', 'ok'],
  ['a quote on the ... line', 'block', '... "x', 'yaml: line 2: found unexpected end of stream', 'ok'],
  ['an unclosed verbatim tag', 'block', '--- !<x "x', "yaml: line 2: did not find the expected '>'", 'ok'],
  ['a quote after a tag', 'block', '--- !!str\n"x', 'yaml: line 3: found unexpected end of stream', 'ok'],
  ['a quote after an anchor', 'block', '--- &a "x', 'yaml: line 2: found unexpected end of stream', 'ok'],
  [
    'an alias without a name',
    'block',
    '--- *\n',
    'yaml: line 2: did not find expected alphabetic or numeric character',
    'ok',
  ],
  ['an unknown escape', 'block', '--- "\\q"\n', 'yaml: line 2: found unknown escape character', 'ok'],
  ['an @', 'block', '--- @', 'yaml: line 2: found character that cannot start any token', 'ok'],
  [
    'a - on the --- line',
    'block',
    '--- - "x',
    'yaml: line 2: block sequence entries are not allowed in this context',
    'ok',
  ],
  ['a sequence entry', 'block', '---\n- "x', 'ok', 'ok'],
  [
    'an empty document, then a quote',
    'block',
    '---\n--- "x',
    'yaml: line 3: found unexpected end of stream',
    'ok',
  ],
  [
    'a line of a tab after the document',
    'block',
    '\t\n',
    'yaml: line 2: found character that cannot start any token',
    'yaml: line 2: found character that cannot start any token',
  ],
  [
    'a tab before a comment',
    'block',
    '\t# c\n',
    'yaml: line 2: found character that cannot start any token',
    'yaml: line 2: found character that cannot start any token',
  ],
  [
    'a tab before a second comment line',
    'block',
    '# a\n\t# b\n',
    'ok',
    'yaml: line 3: found character that cannot start any token',
  ],
  ['a word after a flow root', 'flow', '\nfoo', 'ok', 'ok'],
  [
    'a quote after a flow root',
    'flow',
    ' "x',
    'yaml: found unexpected end of stream',
    'yaml: found unexpected end of stream',
  ],
  [
    'a quote on the line after a flow root',
    'flow',
    '\n"x\n\n',
    'yaml: line 2: found unexpected end of stream',
    'yaml: line 4: found unexpected end of stream',
  ],
  [
    'a quote behind a flow root on its line',
    'flow',
    ' [a] "x',
    'yaml: found unexpected end of stream',
    'yaml: found unexpected end of stream',
  ],
  ['a comment right after a flow root', 'flow', ' #c\n', 'ok', 'ok'],
  [
    'a directive after a flow root',
    'flow',
    '\n%YAML 1.1\n--- "x',
    'yaml: line 3: found unexpected end of stream',
    'ok',
  ],
]

/** The rule file and the test file of a NEXT_DOCUMENT_SCANS row. */
export function nextDocumentFiles(first: 'block' | 'flow', rest: string): { rules: string; tests: string } {
  return first === 'block'
    ? { rules: `groups: []\n${rest}`, tests: `tests: []\n${rest}` }
    : { rules: `{groups: []}${rest}`, tests: `{tests: []}${rest}` }
}

const bytes = (...parts: (string | number[])[]): Uint8Array =>
  Buffer.concat(
    parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'utf8') : Buffer.from(part))),
  )
/** A rule file whose one recording rule has label `a` set to these bytes inside double quotes. */
const labelled = (...value: (string | number[])[]) =>
  bytes(
    'groups:\n  - name: g\n    rules:\n      - record: x:y\n        expr: vector(1)\n        labels:\n          a: "',
    ...value,
    '"\n',
  )
const READER_RULES =
  'groups:\n  - name: g\n    rules:\n      - record: x:y\n        expr: vector(1)\n        labels:\n          a: "z"\n'
/** Passes when the rule file loads as READER_RULES does; prints what it got otherwise. */
const READER_PROBE =
  'rule_files: [rules.yml]\ntests:\n  - interval: 1m\n    promql_expr_test:\n      - expr: x:y\n        eval_time: 0m\n        exp_samples: [{labels: \'x:y{a="z"}\', value: 1}]\n'
/** A comment line of `n` bytes, newline included. */
const padding = (n: number) => `# ${'p'.repeat(n - 3)}\n`
const utf16 = (text: string, littleEndian: boolean) => {
  const units = Buffer.from(text, 'utf16le')
  if (!littleEndian) units.swap16()
  return Buffer.concat([Buffer.from(littleEndian ? [0xff, 0xfe] : [0xfe, 0xff]), units])
}

/**
 * Files Go's YAML reader decodes or refuses (readerc.go): bytes that are not UTF-8, control
 * characters, UTF-16 with a byte order mark, and where in the file a fault is met (Go decodes
 * 512-byte blocks as its scanner needs them, and one document). Each is [name, rule file, test
 * file]; the agreement test runs them through promtool and rules:test.
 */
export const READER_CASES: [string, Uint8Array, Uint8Array][] = [
  ['a Latin-1 é in a label value', labelled('caf', [0xe9]), bytes(READER_PROBE)],
  ['a Latin-1 é as the last byte', bytes(READER_RULES, '# caf', [0xe9]), bytes(READER_PROBE)],
  ['a byte that starts no UTF-8 sequence', labelled([0xff]), bytes(READER_PROBE)],
  ['an overlong sequence', labelled([0xc0, 0x80]), bytes(READER_PROBE)],
  ['a surrogate in UTF-8', labelled([0xed, 0xa0, 0x80]), bytes(READER_PROBE)],
  ['a code point above U+10FFFF', labelled([0xf4, 0x90, 0x80, 0x80]), bytes(READER_PROBE)],
  ['a control character in a comment', bytes(READER_RULES, '# a', [0x01], '\n'), bytes(READER_PROBE)],
  ['DEL in a value', labelled([0x7f]), bytes(READER_PROBE)],
  ['a C1 control character', labelled([0xc2, 0x80]), bytes(READER_PROBE)],
  ['U+FFFE', labelled([0xef, 0xbf, 0xbe]), bytes(READER_PROBE)],
  ['NUL', labelled([0x00]), bytes(READER_PROBE)],
  [
    'a valid é, and a UTF-8 byte order mark',
    bytes([0xef, 0xbb, 0xbf], READER_RULES, '# caf', [0xc3, 0xa9], '\n'),
    bytes(READER_PROBE),
  ],
  ['UTF-16LE with its byte order mark', utf16(READER_RULES, true), bytes(READER_PROBE)],
  ['UTF-16BE with its byte order mark', utf16(READER_RULES, false), bytes(READER_PROBE)],
  [
    'UTF-16LE: a lone low surrogate',
    Buffer.concat([utf16(READER_RULES, true), Buffer.from([0x00, 0xdc])]),
    bytes(READER_PROBE),
  ],
  [
    'UTF-16LE: an odd byte at the end',
    Buffer.concat([utf16(READER_RULES, true), Buffer.from([0x41])]),
    bytes(READER_PROBE),
  ],
  [
    'UTF-16BE: a high surrogate without its low one',
    Buffer.concat([utf16(READER_RULES, false), Buffer.from([0xd8, 0x00, 0x00, 0x41])]),
    bytes(READER_PROBE),
  ],
  [
    'a fault in the second document, reached through a long comment',
    bytes(READER_RULES, padding(600), '---\n# ', [0xff], '\n'),
    bytes(READER_PROBE),
  ],
  [
    'a fault in a block Go never decodes',
    bytes(READER_RULES, '---\na: b\nc: d\ne: f\n', padding(1200), [0xff]),
    bytes(READER_PROBE),
  ],
  [
    'a fault in the second document, in the first block',
    bytes(READER_RULES, '---\n# ', [0xff], '\n'),
    bytes(READER_PROBE),
  ],
  [
    'a fault in the second block of the first document',
    bytes(READER_RULES, padding(500), '# ', [0xff], '\n'),
    bytes(READER_PROBE),
  ],
  [
    'a scanner error on line 2 and a fault four blocks on',
    bytes('groups:\n  - name: @g\n', padding(2000), '# ', [0xff], '\n'),
    bytes(READER_PROBE),
  ],
  [
    'a scanner error on line 2 and a fault in the same block',
    bytes('groups: [\n  "g\n', padding(50), '# ', [0xff], '\n'),
    bytes(READER_PROBE),
  ],
  [
    'a valid é across the first block boundary',
    bytes(READER_RULES, padding(510 - READER_RULES.length), '#', [0xc3, 0xa9], '\n'),
    bytes(READER_PROBE),
  ],
  [
    "a Latin-1 é as the test file's last line",
    bytes(READER_RULES),
    bytes(READER_PROBE, '# caf', [0xe9], '\n'),
  ],
  ['a control character in the test file', bytes(READER_RULES), bytes(READER_PROBE, '#', [0x02], '\n')],
  ['a UTF-16LE test file', bytes(READER_RULES), utf16(READER_PROBE, true)],
  [
    "a fault in the test file's second document, reached through a long comment",
    bytes(READER_RULES),
    bytes(READER_PROBE, padding(600), '---\n', [0xff]),
  ],
  [
    'a fault in a block Go never decodes, in the test file',
    bytes(READER_RULES),
    bytes(READER_PROBE, '---\na: b\nc: d\ne: f\n', padding(1200), [0xff]),
  ],
  // The first document ends near the end of the first block; Go peeks past it.
  ...[440, 480, 500, 504, 508, 512, 516].flatMap((n): [string, Uint8Array, Uint8Array][] => [
    [
      `a fault after --- at byte ${n + 4} of the rule file`,
      bytes(READER_RULES, padding(n - READER_RULES.length), '---\n', [0xff], '\n'),
      bytes(READER_PROBE),
    ],
    [
      `a fault after --- at byte ${n + 4} of the test file`,
      bytes(READER_RULES),
      bytes(READER_PROBE, padding(n - READER_PROBE.length), '---\n', [0xff], '\n'),
    ],
  ]),
]

const NEL = '\u0085'
const annotated = (annotations: string) =>
  `groups:\n  - name: g\n    rules:\n      - alert: B\n        expr: vector(1)\n        annotations:\n${annotations}`
const ALERT_B = 'groups:\n  - name: g\n    rules:\n      - alert: B\n        expr: vector(1)\n'
const SHOW_B =
  'rule_files: [rules.yml]\ntests:\n  - interval: 1m\n    alert_rule_test:\n      - eval_time: 0m\n        alertname: B\n        exp_alerts: [{exp_labels: {}}]\n'

/**
 * Line breaks where Go's YAML 1.1 and the JavaScript parser's 1.2 part: NEL (U+0085), a lone
 * CR, U+2028 and U+2029, breaks to Go (which keeps the last two in its values) and characters
 * to 1.2, in each kind of scalar, ending a comment, in a quoted key, beside blanks and escapes; quoted scalars whose continuation lines are indented
 * no deeper than their key, and flow collections in a block whose lines are (Go reads both,
 * 1.2 refuses them). Each is [name, rule file, test file]; the test file prints the labels and
 * annotations Go decoded.
 */
export const LINE_BREAK_CASES: [string, string, string][] = [
  ['NEL in a double-quoted value', annotated(`          a: "x${NEL}y"\n`), SHOW_B],
  ['NEL in a single-quoted value', annotated(`          a: 'x${NEL}y'\n`), SHOW_B],
  ['NEL in a plain value, the next line indented', annotated(`          a: x${NEL}           y\n`), SHOW_B],
  ['NEL ending a comment, a key after it', annotated(`          a: x # c${NEL}          b: y\n`), SHOW_B],
  ['NEL in a literal block', annotated(`          a: |\n            x${NEL}            y\n`), SHOW_B],
  ['NEL twice in a double-quoted value', annotated(`          a: "x${NEL}${NEL}y"\n`), SHOW_B],
  ['NEL with blanks around it in quotes', annotated(`          a: "x  ${NEL}  y"\n`), SHOW_B],
  ['NEL first and last in quotes', annotated(`          a: "${NEL}x${NEL}"\n`), SHOW_B],
  ['NEL in a quoted key', annotated(`          "k${NEL}k": v\n`), SHOW_B],
  ['NEL beside escaped tabs', annotated(`          a: "x\\t${NEL}\\ty"\n`), SHOW_B],
  ['NEL in !!binary, twice', annotated(`          a: !!binary "aGVs${NEL}${NEL}bG8="\n`), SHOW_B],
  [
    'NEL in !!binary, once (a space: bad base64)',
    annotated(`          a: !!binary "aGVs${NEL}bG8="\n`),
    SHOW_B,
  ],
  [
    'NEL three in single quotes, a blank between',
    annotated(`          a: 'x${NEL} ${NEL}${NEL}y'\n`),
    SHOW_B,
  ],
  ['NEL then a key at column 0', annotated(`          a: x${NEL}b: y\n`), SHOW_B],
  [
    "a quoted continuation line at its key's indentation",
    annotated('          a: "line one\n          continues"\n'),
    SHOW_B,
  ],
  ['a quoted continuation line at column 0', annotated("          a: 'line one\ncontinues'\n"), SHOW_B],
  [
    'a quoted expression continued at a lower indentation',
    'groups:\n  - name: g\n    rules:\n      - alert: B\n        expr: "vector(1)\n      + 0"\n',
    SHOW_B,
  ],
  [
    'an escaped break, the next line at column 0',
    annotated('          a: "line one\\\ncontinues"\n'),
    SHOW_B,
  ],
  [
    'a multi-line quoted value in a CR LF file',
    annotated('          a: "line one\r\n          continues\r\n\r\n   third"\r\n').replaceAll(
      /(?<!\r)\n/g,
      '\r\n',
    ),
    SHOW_B,
  ],
  [
    'an unknown field after a multi-line quoted value',
    annotated('          a: "line one\n  two\n\n  three"\n        bogus: 1\n'),
    SHOW_B,
  ],
  [
    'a bad expression after multi-line quoted values',
    'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: vector(1)\n        annotations:\n          a: "x\n  y"\n      - alert: B\n        expr: "sum(\n  rate(x[5m])"\n',
    SHOW_B,
  ],
  [
    'a bad template after a multi-line quoted value',
    annotated('          a: \'x\n  y\'\n          b: "{{ .Foo"\n'),
    SHOW_B,
  ],
  ['lines ended by a lone CR', annotated('          a: x\r          b: y\r        bogus: 1\r'), SHOW_B],
  [
    "a flow map whose lines sit at its key's indentation",
    `${ALERT_B}        labels: {\n        severity: page\n        }\n`,
    SHOW_B,
  ],
  [
    'a flow sequence of rules closed at column 0',
    'groups:\n  - name: g\n    rules: [\n      {alert: B, expr: vector(1)}\n]\n',
    SHOW_B,
  ],
  [
    'JSON-like groups at column 0',
    'groups: [\n{\n"name": "g",\n"rules": [\n{"alert": "B", "expr": "vector(1)"}\n]\n}\n]\n',
    SHOW_B,
  ],
  [
    'comments in an under-indented flow map',
    `${ALERT_B}        labels: {\n  a: x, # a comment, with: colon\n  b: y # another\n}\n`,
    SHOW_B,
  ],
  [
    'a plain value over three lines in a flow map',
    `${ALERT_B}        labels: {\n  a: one\n    two\n\n   three, b: y}\n`,
    SHOW_B,
  ],
  [
    'quoted values over lines in a flow map',
    `${ALERT_B}        labels: {\na: "one\ntwo", b: 'x\n\ny'}\n`,
    SHOW_B,
  ],
  [
    'an anchor and a merge in under-indented flow maps',
    `${ALERT_B}        labels: &l {\na: x}\n        annotations: {\n<<: *l, b: y}\n`,
    SHOW_B,
  ],
  [
    'a # inside a plain value and a quoted one in a flow map',
    `${ALERT_B}        labels: {\na: x#y, b: "#z"}\n`,
    SHOW_B,
  ],
  [
    'an under-indented flow map in a CR LF file',
    `${ALERT_B}        labels: {\r\n  a: x,\r\n  b: y\r\n}\r\n`.replaceAll(/(?<!\r)\n/g, '\r\n'),
    SHOW_B,
  ],
  [
    'an unknown field after an under-indented flow map',
    `${ALERT_B}        labels: {\na: x}\n        bogus: 1\n`,
    SHOW_B,
  ],
  [
    'a bad expression in an under-indented flow',
    'groups:\n  - name: g\n    rules: [{alert: B,\nexpr: "sum(",\nlabels: {}}]\n',
    SHOW_B,
  ],
  [
    'a plain expression over two lines in an under-indented flow',
    'groups:\n  - name: g\n    rules: [\n{alert: B, expr: vector(1)\n  + 0}\n]\n',
    SHOW_B,
  ],
  ['a comment right after a closing brace', `${ALERT_B}        labels: {a: x}#c\n`, SHOW_B],
  [
    'a comment right after a closing quote',
    `${ALERT_B}        labels:\n          a: 'x'#c\n          b: y\n`,
    SHOW_B,
  ],
  ['a comment right after an empty rule list', 'groups:\n  - name: g\n    rules: []#z\n', SHOW_B],
  [
    'U+2028 in a double-quoted value, kept as itself',
    `${ALERT_B}        annotations:\n          a: "x\u2028y"\n`,
    SHOW_B,
  ],
  [
    'U+2029 in a plain value, the next line indented',
    `${ALERT_B}        annotations:\n          a: x\u2029            y\n`,
    SHOW_B,
  ],
  [
    'U+2028 and \\n together in quotes',
    `${ALERT_B}        annotations:\n          a: "x\u2028\n   y"\n          b: "x\n\u2028   y"\n`,
    SHOW_B,
  ],
  [
    'characters strconv.Quote escapes, in a label and an annotation',
    `${ALERT_B}        labels:\n          l: "a\\u00a0b\\u200dc"\n        annotations:\n          a: "x\\u00a0y\\u200dz 😀 e\\u0301 \\u2029 \\ufeff \\ue000 \\U000E0001"\n`,
    SHOW_B,
  ],
  [
    'comments right after block scalar indicators',
    `${ALERT_B}        annotations:\n          a: |#c\n            x\n          b: >-#c\n            y\n            z\n          c: |2#c\n             w\n`,
    SHOW_B,
  ],
  // A `:` on a later line than its key in a flow collection: Go's parser refuses it.
  ['a flow key whose : is on the next line', `${ALERT_B}        labels: {\n"a"\n: x}\n`, SHOW_B],
  [
    'a flow key whose : follows a NEL',
    'groups: [{name: g, rules: [{alert: B, expr: vector(1), labels\u0085: {a: x}}]}]\n',
    SHOW_B,
  ],
  ['a plain flow key over two lines', 'groups: [{nam\n\ne: g, rules: []}]\n', SHOW_B],
  // A `:` with no key before it: YAML 1.2 reads an empty key, Go's parser refuses it.
  ['a block mapping entry with no key', `${ALERT_B}        labels:\n          a: y\n          : x\n`, SHOW_B],
  ['a block mapping starting with no key', `${ALERT_B}        labels:\n          : x\n`, SHOW_B],
  ['a value with no key in the test file', ALERT_B, 'rule_files: [rules.yml]\n: x\ntests: []\n'],
  ['an explicit key and its value', `${ALERT_B}        labels:\n          ? a\n          : x\n`, SHOW_B],
  ['a flow mapping entry with no key', `${ALERT_B}        labels: {a: b, : x}\n`, SHOW_B],
  ['a flow mapping starting with no key', `${ALERT_B}        labels: {: x}\n`, SHOW_B],
  ['a second : after a flow value', `${ALERT_B}        labels: {a: b\n  : c}\n`, SHOW_B],
  [
    'a flow sequence entry followed by : on the next line',
    `${ALERT_B}        labels: {a: [x\n: y]}\n`,
    SHOW_B,
  ],
  [
    'a ? ending a plain flow key',
    'groups: [{name: g, rules: [{alert: B, expr: vector(1), las? : {a: x}}]}]\n',
    SHOW_B,
  ],
  ['a ? inside a plain flow value', `${ALERT_B}        labels: {a: x?y}\n`, SHOW_B],
  [
    'a comment splitting a plain flow value',
    'groups: [{name: g, rules: [{alert: B, expr: vecto  # c\nr(1)}]}]\n',
    SHOW_B,
  ],
  ['two quoted values in one flow entry', `${ALERT_B}        labels: {a: "x" "y"}\n`, SHOW_B],
  [
    'an anchor, a collection, an alias and a tag after a flow value',
    `${ALERT_B}        labels: {a: x &y z}\n        annotations: {a: x [y]}\n`,
    SHOW_B,
  ],
  [
    'anchors, aliases and tags where they belong in flow',
    'groups: [{name: g, rules: [{alert: B, expr: &e vector(1), labels: {&k a: *e, b: !!str y}}]}]\n',
    SHOW_B,
  ],
  [
    'a flow sequence the stream ends in',
    `${ALERT_B}        labels:\n          a: "x\n  y"\n          b: [a, b\n`,
    SHOW_B,
  ],
  [
    'a rule field set twice',
    'groups:\n  - name: g\n    rules:\n      - alert: B\n        expr: vector(1)\n        expr: vector(2)\n        bogus: 1\n',
    SHOW_B,
  ],
  [
    'a label, a group field, a top-level key and a flow key set twice',
    'groups:\n  - name: g\n    name: h\n    rules:\n      - alert: B\n        expr: x\n        labels:\n          a: x\n          "a": y\n        annotations: {b: x, b: y, b: z}\ngroups: []\n',
    SHOW_B,
  ],
  [
    'a test case field and an expected label set twice',
    ALERT_B,
    'rule_files: [rules.yml]\ntests:\n  - interval: 1m\n    alert_rule_test:\n      - eval_time: 0m\n        eval_time: 1m\n        alertname: B\n        exp_alerts: [{exp_labels: {a: x, a: y}}]\n',
  ],
  [
    'an explicit ? key whose : is on the next line (allowed)',
    `${ALERT_B}        labels: {? a\n : x}\n`,
    SHOW_B,
  ],
  [
    'NEL in the test file',
    annotated('          a: x y\n'),
    `${SHOW_B.replace('exp_labels: {}', `exp_annotations: {a: "x${NEL}y"}`)}`,
  ],
]

const syntaxGroup = (rules: string) => `groups:\n  - name: g\n    rules:\n${rules}`
const syntaxB = (extra: string) => syntaxGroup(`      - alert: B\n        expr: vector(1)\n${extra}`)

/**
 * YAML syntax errors, one of each kind the YAML fuzzer found worded or placed differently before
 * Go's parser was ported (go-yaml-parser.ts): Go's scanner and parser errors with their lines,
 * the composer's unknown anchor, directives and tag handles, a scanner error met in the
 * lookahead of a parser error, in rule files (yaml.v3) and test files (yaml.v2). Each is
 * [name, rule file, test file]; promtool 2.42 and rules:test must print the same report.
 */
export const SYNTAX_ERROR_CASES: [string, string, string][] = [
  ['a value after a value on one line', syntaxB('        labels:\n          a: b: c\n'), SHOW_B],
  [
    'a key indented less than its siblings',
    syntaxB('        labels:\n          a: x\n         b: y\n'),
    SHOW_B,
  ],
  [
    'a rule indented less than the one before',
    syntaxGroup('      - alert: A\n        expr: vector(1)\n     - alert: B\n        expr: vector(1)\n'),
    SHOW_B,
  ],
  ['a flow sequence left open', syntaxB('        labels: {a: [x y}\n'), SHOW_B],
  // The `{` becomes a simple key only at the `:`, when the parser is past it: Go appends the
  // KEY after the queued tokens (yaml_insert_token with a negative place), so the flow
  // sequence meets `name` where it wants `,` or `]` (yaml-fuzz seed 4243 found it).
  ['an empty flow mapping run into a key, under a key', syntaxB('        labels: [{}name: g]\n'), SHOW_B],
  [
    'an empty flow sequence run into a key, in a flow mapping',
    syntaxB('        labels: {[]name: g}\n'),
    SHOW_B,
  ],
  [
    'a `:` right after a `,` in a flow mapping',
    'groups: [{name: g, rules: [{alert: B,: expr: vector(1)}]}]\n',
    SHOW_B,
  ],
  ['an entry with no `,` in a flow mapping', 'groups: [{name: g rules: [], x]}]\n', SHOW_B],
  ['a line starting with `:` after a key', syntaxB('        labels:\n          a: x\n: y\n'), SHOW_B],
  [
    'an alias before its anchor, a parser error after it',
    syntaxB('        labels: {a: *l}\n        annotations: &l {b: c}\n     x: y\n'),
    SHOW_B,
  ],
  [
    'an unterminated quote within the lookahead of a parser error',
    'groups:\n- name: g\n  rules: []\n: c\n"x',
    SHOW_B,
  ],
  ['an undefined tag handle', syntaxB('        labels: {a: !e!x y}\n'), SHOW_B],
  ['%YAML 1.2', `%YAML 1.2\n---\n${syntaxB('')}`, SHOW_B],
  ['%YAML twice', `%YAML 1.1\n%YAML 1.1\n---\n${syntaxB('')}`, SHOW_B],
  ['a %TAG handle twice', `%TAG !e! tag:e,2000:\n%TAG !e! tag:f,2000:\n---\n${syntaxB('')}`, SHOW_B],
  [
    'a declared %TAG handle',
    `%TAG !e! tag:yaml.org,2002:\n---\n${syntaxB('        labels: {a: !e!str y}\n')}`,
    SHOW_B,
  ],
  ['a directive with no document start', `%YAML 1.1\n${syntaxB('')}`, SHOW_B],
  ['`? :` in a flow sequence', syntaxB('        annotations: {a: [? : x]}\n'), SHOW_B],
  [
    'a block sequence item at a mapping key indentation',
    syntaxB('        labels:\n          a: x\n        - y\n'),
    SHOW_B,
  ],
  [
    'a test file with a key indented less than its siblings',
    syntaxB(''),
    SHOW_B.replace('        alertname: B\n', '       alertname: B\n'),
  ],
  [
    'a test file with a flow mapping left open',
    syntaxB(''),
    SHOW_B.replace('[{exp_labels: {}}]', '[{exp_labels: {}]'),
  ],
]
