import { describe, expect, test } from 'bun:test'
import { parseTestFile } from '../../../src/prometheus/promtool/test-rules.ts'
import {
  goQuotedBytes,
  goStringFromBytes,
  goStringToBytes,
  isValidGoUtf8,
  toValidUtf8,
} from '../../../src/prometheus/rules/go-bytes.ts'
import { GoDecoder, parseGoYaml } from '../../../src/prometheus/rules/go-yaml.ts'
import { readGoYaml } from '../../../src/prometheus/rules/go-yaml-reader.ts'
import { parseRuleFile } from '../../../src/prometheus/rules/rulefmt.ts'
import { NEXT_DOCUMENT_SCANS, nextDocumentFiles } from '../promtool/rule-test-files.ts'

const rule = (labels: string, annotations = '{}') =>
  `groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n        labels: ${labels}\n        annotations: ${annotations}\n`
const labelsOf = (text: string, i = 0) =>
  (parseRuleFile(text, 'f.yml')[0]?.rules[i] as { labels: unknown }).labels
const annotationsOf = (text: string) =>
  (parseRuleFile(text, 'f.yml')[0]?.rules[0] as { annotations: unknown }).annotations

// Each expectation was checked against promtool 2.42 (yaml.v3 for rule files, yaml.v2 for test files).
describe('merge keys in rule files (yaml.v3)', () => {
  test('an alias merged into a later rule labels', () => {
    const text = `groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n        labels: &cl {severity: page}\n      - alert: B\n        expr: x\n        labels: {<<: *cl, team: x}\n`
    expect(labelsOf(text, 1)).toEqual({ severity: 'page', team: 'x' })
  })

  test("the mapping's own keys win over merged ones, wherever the << stands", () => {
    expect(labelsOf(rule('{<<: {severity: page, team: a}, severity: warn}'))).toEqual({
      severity: 'warn',
      team: 'a',
    })
    expect(labelsOf(rule('{severity: warn, <<: {severity: page}}'))).toEqual({ severity: 'warn' })
  })

  test('in a sequence of maps the earlier maps win, each before its nested merges', () => {
    const text = `groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n        labels: &a {a: a1, b: a2}\n        annotations: &b {<<: *a, b: b2, c: b3}\n      - alert: B\n        expr: x\n        labels: {c: x, <<: [{d: m1}, *b, {a: m2, b: m3, c: m4, d: m5, e: m6}]}\n`
    expect(labelsOf(text, 1)).toEqual({ c: 'x', d: 'm1', b: 'b2', a: 'a1', e: 'm6' })
  })

  test('a plain true/False key does not shadow the merged string key', () => {
    expect(labelsOf(rule('{true: a, False: c, c: d, <<: {true: b, False: e, c: f}}'))).toEqual({
      true: 'b',
      False: 'e',
      c: 'd',
    })
  })

  test('merged fields of a rule, and unknown merged fields named at their line', () => {
    const text = `groups:\n  - name: g\n    rules:\n      - &base\n        alert: A\n        expr: up\n      - <<: *base\n        alert: B\n`
    expect(parseRuleFile(text, 'f.yml')[0]?.rules.map((r) => [r.name, r.expr])).toEqual([
      ['A', 'up'],
      ['B', 'up'],
    ])
    expect(() =>
      parseRuleFile(
        `groups:\n  - name: g\n    rules:\n      - <<: {alert: C, expr: x,\n          nope: 1}\n`,
        'f.yml',
      ),
    ).toThrow('f.yml: yaml: unmarshal errors:\n  line 5: field nope not found in type rulefmt.RuleNode')
  })

  test('merging a non-map is fatal and drops the other errors', () => {
    for (const labels of ['{<<: foo, x: "1"}', '{<<: [{a: b}, foo], x: [1]}'])
      expect(() => parseRuleFile(rule(labels), 'f.yml')).toThrow(
        /^f\.yml: yaml: map merge requires map or sequence of maps as the value$/,
      )
  })

  test('two << keys are a duplicate key; a quoted "<<" is an ordinary key', () => {
    expect(() => parseRuleFile(rule('{<<: {a: "1"},\n          <<: {b: "2"}}'), 'f.yml')).toThrow(
      /^f\.yml: yaml: unmarshal errors:\n {2}line 7: mapping key "<<" already defined at line 6$/,
    )
    expect(() => parseRuleFile(rule('{"<<": {a: b}}'), 'f.yml')).toThrow(
      /^f\.yml: yaml: unmarshal errors:\n {2}line 6: cannot unmarshal !!map into string$/,
    )
  })
})

describe('aliases inside the collection their anchor names', () => {
  // The tree of such a file is endless: it was a stack overflow (RangeError) here.
  const refused = (text: string) => {
    try {
      parseRuleFile(text, 'f.yml')
    } catch (err) {
      return (err as Error).message
    }
    return 'loaded'
  }

  test("merged into itself it is yaml.v3's fatal error, as promtool 2.42 reports it", () => {
    expect(refused(rule('&l {a: x, <<: *l}'))).toBe("f.yml: yaml: anchor 'l' value contains itself")
    // yaml.v3 merges an alias only to a mapping: the sequence (holding the merge) is refused first.
    expect(refused('groups: &g\n- name: g\n  rules: []\n- <<: *g\n')).toBe(
      'f.yml: yaml: map merge requires map or sequence of maps as the value',
    )
  })

  test('decoded as a string it is a type error', () => {
    expect(refused(rule('&l {a: x, b: *l}'))).toBe(
      'f.yml: yaml: unmarshal errors:\n  line 6: cannot unmarshal !!map into string',
    )
  })
})

describe('merge keys in promtool test files (yaml.v2)', () => {
  const tests = (labels: string) =>
    `rule_files: [r.yml]\ntests:\n  - alert_rule_test:\n      - eval_time: 0m\n        alertname: B\n        exp_alerts: [{exp_labels: &l {severity: page, team: a}}]\n      - eval_time: 0m\n        alertname: B\n        exp_alerts: [{exp_labels: ${labels}}]\n`
  const expLabels = (labels: string) =>
    parseTestFile(tests(labels)).tests[0]?.alert_rule_test[1]?.exp_alerts[0]?.exp_labels

  test('merged into a map without clashes', () => {
    expect(expLabels('{<<: *l, x: y}')).toEqual({ severity: 'page', team: 'a', x: 'y' })
  })

  test('a key set twice through << is an error at the later value', () => {
    expect(() => parseTestFile(tests('{<<: *l,\n          severity: warn}'))).toThrow(
      /^yaml: unmarshal errors:\n {2}line 10: key "severity" already set in map$/,
    )
    expect(() => parseTestFile(tests('{severity: warn, <<: *l}'))).toThrow(
      /^yaml: unmarshal errors:\n {2}line 6: key "severity" already set in map$/,
    )
  })

  test('in a struct the later write wins', () => {
    const file = parseTestFile(
      `tests:\n  - alert_rule_test:\n      - &case\n        eval_time: 1m\n        alertname: X\n      - <<: *case\n        alertname: B\n      - alertname: B\n        <<: *case\n`,
    )
    expect(file.tests[0]?.alert_rule_test.map((a) => [a.alertname, a.evalTimeMs])).toEqual([
      ['X', 60_000],
      ['B', 60_000],
      ['X', 60_000],
    ])
  })
})

describe('multi-document files', () => {
  const one = 'groups:\n  - name: a\n    rules:\n      - record: a\n        expr: up\n'

  test('only the first document is decoded; faults in later ones are ignored', () => {
    for (const rest of ['---\ngroups:\n  - name: b\n', '---\ngroups: [\n', '---\na: b: c\n', '...\n]]]\n'])
      expect(parseRuleFile(`${one}${rest}`, 'f.yml').map((g) => g.name)).toEqual(['a'])
  })

  test('an empty first document is an empty file', () => {
    expect(parseGoYaml('---\n---\ngroups: []\n')).toBeUndefined()
    expect(parseRuleFile('---\n---\ngroups: [{name: b}]\n', 'f.yml')).toEqual([])
  })

  test('a fault in the first document that runs into the --- is still reported', () => {
    // promtool 2.42 on `groups: [` in place of `a: [`: the `---` is where a node should be, and a
    // parser error names its 0-based line.
    expect(() => parseGoYaml('a: [\n---\nb: 1\n')).toThrow(
      /^yaml: line 1: did not find expected node content$/,
    )
  })
})

describe('what Go scans past the first document', () => {
  const outcome = (text: string, yamlPackage: 'yaml.v2' | 'yaml.v3') => {
    try {
      parseGoYaml(text, yamlPackage)
      return 'ok'
    } catch (err) {
      return (err as Error).message
    }
  }

  test.each(NEXT_DOCUMENT_SCANS)('%s', (_name, first, rest, v3, v2) => {
    const { rules, tests } = nextDocumentFiles(first, rest)
    expect([outcome(rules, 'yaml.v3'), outcome(tests, 'yaml.v2')]).toEqual([v3, v2])
  })

  test('a rule file reports the syntax error twice, as rulefmt.Parse decodes the file twice', () => {
    expect(() => parseRuleFile('groups: []\n--- "unterminated', 'f.yml')).toThrow(
      /^f\.yml: yaml: line 2: found unexpected end of stream\nf\.yml: yaml: line 2: found unexpected end of stream$/,
    )
  })

  test('the first document ends at a directive or after a flow root, and decodes alone', () => {
    expect(parseRuleFile('groups: [{name: a}]\n%YAML 1.1\n---\nb: 1\n', 'f.yml').map((g) => g.name)).toEqual([
      'a',
    ])
    expect(parseRuleFile('{groups: [{name: a}]} {b: 1} c\nd: e\n', 'f.yml').map((g) => g.name)).toEqual(['a'])
  })
})

describe('!!binary', () => {
  test('decoded into a string, ignoring \\r and \\n, even when it reads null', () => {
    const text = `groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n        annotations:\n          a: !!binary aGVsbG8=\n          b: !!binary "aGVs\\r\\nbG8="\n          c: !!binary |\n            aGVs\n            bG8=\n          d: !!binary null\n          e: !!binary ""\n`
    expect(annotationsOf(text)).toEqual({ a: 'hello', b: 'hello', c: 'hello', d: '\uFFFD\uFFFDe', e: '' })
  })

  test('bad base64 (spaces, missing padding, a folded line) is fatal', () => {
    for (const v of ['aGVsbG8', '"aGVs bG8="', '"aGVs\\tbG8="', "'aGVs\\nbG8='", '~'])
      expect(() => parseRuleFile(rule('{a: [1]}', `{y: !!binary ${v}}`), 'f.yml')).toThrow(
        /^f\.yml: yaml: !!binary value contains invalid base64 data$/,
      )
  })

  test('keeps bytes that are not UTF-8, as Go does: each as a lone surrogate, printed as the byte', () => {
    const d = new GoDecoder()
    const value = d.string(d.struct(parseGoYaml('v: !!binary aGn/\n'), 'main.x', ['v']).get('v'))
    expect(value).toBe('hi\uDCFF')
    expect([...goStringToBytes(value)]).toEqual([0x68, 0x69, 0xff])
    expect(isValidGoUtf8(value)).toBe(false)
    expect(goQuotedBytes(`"${value}"`)).toBe('"hi\\xff"')
    // Go's utf8.DecodeRune: an overlong form, a surrogate and a code point past U+10FFFF are
    // invalid byte by byte; valid sequences, 4-byte ones too, stay text.
    const bytes = [
      0xc0, 0x80, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0xf0, 0x9f, 0x98, 0x80, 0xe2, 0x82, 0xac,
    ]
    const s = goStringFromBytes(Uint8Array.from(bytes))
    expect(s).toBe('\uDCC0\uDC80\uDCED\uDCA0\uDC80\uDCF4\uDC90\uDC80\uDC80\u{1F600}\u20AC')
    expect([...goStringToBytes(s)]).toEqual(bytes)
    expect(toValidUtf8(s)).toBe(`${'\uFFFD'.repeat(9)}\u{1F600}\u20AC`)
  })

  test('a label value that is not UTF-8 is refused, as Prometheus refuses it; annotations keep or replace the bytes', () => {
    expect(() => parseRuleFile(rule('{l: !!binary aGn/}'), 'f.yml')).toThrow(
      'f.yml: group "g", rule 1, "A": invalid label value: hi\uDCFF',
    )
    const text = rule('{}', '{a: !!binary aGn/}')
    expect(annotationsOf(text)).toEqual({ a: 'hi\uFFFD' })
    expect(parseRuleFile(text, 'f.yml', { keepGoBytes: true })[0]?.rules[0]).toMatchObject({
      annotations: { a: 'hi\uDCFF' },
    })
  })

  test('is no number', () => {
    const d = new GoDecoder()
    const v = parseGoYaml('v: !!binary MTI=\n')
    expect(d.float(d.struct(v, 'main.sample', ['v']).get('v'))).toBe(0)
    expect(() => d.check()).toThrow(
      'yaml: unmarshal errors:\n  line 1: cannot unmarshal !!binary `MTI=` into float64',
    )
  })
})

// readerc.go `yaml_parser_update_buffer`: 512-byte blocks, decoded as the scanner reaches them.
describe("Go's YAML reader", () => {
  const ascii = (text: string, ...tail: number[]) => Buffer.concat([Buffer.from(text), Buffer.from(tail)])

  test('text Go decodes has no fault; a byte order mark stays as U+FEFF, UTF-16 included', () => {
    expect(readGoYaml(ascii('a: caf\u00e9\n'))).toEqual({ text: 'a: café\n' })
    expect(readGoYaml('a: b\n')).toEqual({ text: 'a: b\n' })
    expect(readGoYaml(Buffer.from([0xff, 0xfe, 0x61, 0x00, 0x3a, 0x00, 0x0a, 0x00]))).toEqual({
      text: '\uFEFFa:\n',
    })
    expect(readGoYaml(Buffer.from([0xfe, 0xff, 0x00, 0x61, 0x00, 0x3a]))).toEqual({ text: '\uFEFFa:' })
  })

  test('a fault is met at the first character of its block: 0 in the first, the characters of the earlier blocks after', () => {
    expect(readGoYaml(ascii('a: caf', 0xe9, 0x20, 0x0a)).fault).toEqual({
      problem: 'invalid trailing UTF-8 octet',
      at: 0,
    })
    // Too few bytes left for the sequence 0xe9 starts: Go waits for more, and meets the end.
    expect(readGoYaml(ascii('a: caf', 0xe9, 0x0a)).fault).toEqual({
      problem: 'incomplete UTF-8 octet sequence',
      at: 6,
    })
    expect(readGoYaml(ascii(`# ${'p'.repeat(598)}\n`, 0xff)).fault).toEqual({
      problem: 'invalid leading UTF-8 octet',
      at: 512,
    })
    // A three-byte € at bytes 510–512 is decoded with the second block, which starts at byte 510
    // and ends at 1021 (510 characters each); the control character at byte 1113 is in the third.
    const straddling = Buffer.concat([ascii('x'.repeat(510)), Buffer.from('€'), ascii('y'.repeat(600), 0x01)])
    expect(readGoYaml(straddling).fault).toEqual({ problem: 'control characters are not allowed', at: 1020 })
    // The last byte starts a sequence it does not finish: met after everything else.
    expect(readGoYaml(ascii('a: b\n', 0xc3)).fault).toEqual({
      problem: 'incomplete UTF-8 octet sequence',
      at: 5,
    })
    expect(readGoYaml(Buffer.from([0xff, 0xfe, 0x61, 0x00, 0x00, 0xdc])).fault).toEqual({
      problem: 'unexpected low surrogate area',
      at: 0,
    })
  })

  test('a rule file and a test file that are not UTF-8 fail as promtool words it, once per reading', () => {
    const latin1 = ascii('groups:\n  - name: caf', 0xe9, 0x20, 0x0a)
    expect(() => parseRuleFile(latin1, 'f.yml')).toThrow(
      'f.yml: yaml: invalid trailing UTF-8 octet\nf.yml: yaml: invalid trailing UTF-8 octet',
    )
    expect(() => parseTestFile(ascii('tests: []\n# ', 0x7f))).toThrow(
      'yaml: control characters are not allowed',
    )
    // Past the first document and the tokens Go peeks after it, in a block Go never decodes
    // (checked with promtool check rules: SUCCESS, 0 rules).
    const far = ascii(`groups: []\n---\na: b\nc: d\ne: f\n# ${'p'.repeat(1200)}\n`, 0xff)
    expect(parseRuleFile(far, 'f.yml')).toEqual([])
  })
})

// Checked with promtool 2.42 (tests/prometheus/promtool/rule-test-files.ts LINE_BREAK_CASES).
describe('NEL (U+0085): a line break in YAML 1.1', () => {
  const annotations = (value: string) =>
    annotationsOf(
      `groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n        annotations:\n${value}`,
    )
  test('folds as a break in quoted and plain scalars, blanks around it dropped, escapes kept', () => {
    expect(
      annotations(
        '          a: "x  \u0085  y"\n          b: \'x\u0085\u0085y\'\n          c: x\u0085           y\n',
      ),
    ).toEqual({
      a: 'x y',
      b: 'x\ny',
      c: 'x y',
    })
    expect(annotations('          a: "x\\t\u0085\\ty"\n')).toEqual({ a: 'x\t \ty' })
  })
  test('ends a comment and a line', () => {
    expect(annotations('          a: x # c\u0085          b: y\n')).toEqual({ a: 'x', b: 'y' })
    expect(annotations('          a: |\n            x\u0085            y\n')).toEqual({ a: 'x\ny\n' })
  })
})

// Checked with promtool 2.42 (LINE_BREAK_CASES): Go folds a quoted scalar's lines whatever their indentation.
describe('quoted scalars continued at or below their key', () => {
  const annotation = (value: string) =>
    annotationsOf(
      `groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n        annotations:\n          a: ${value}\n`,
    )
  test('fold into the value, as Go folds them', () => {
    expect(annotation('"line one\n          continues"')).toEqual({ a: 'line one continues' })
    expect(annotation("'line one\ncontinues\n\n  third'")).toEqual({ a: 'line one continues\nthird' })
    expect(annotation('"line one\\\ncontinues"')).toEqual({ a: 'line onecontinues' })
  })
  test('and later lines keep their numbers', () => {
    expect(() =>
      parseRuleFile(
        'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n        annotations:\n          a: "x\n  y"\n        bogus: 1\n',
        'f.yml',
      ),
    ).toThrow('f.yml: yaml: unmarshal errors:\n  line 9: field bogus not found in type rulefmt.RuleNode')
  })
})

// Checked with promtool 2.42 (LINE_BREAK_CASES): Go reads a flow collection whatever the indentation of its lines.
describe('flow collections in a block, their lines indented no deeper than their key', () => {
  const head = 'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n'
  test('are read as Go reads them: comments dropped, plain values folded', () => {
    expect(
      labelsOf(`${head}        labels: {\n  a: one\n    two, # a comment, with: colon\n  b: y\n}\n`),
    ).toEqual({
      a: 'one two',
      b: 'y',
    })
    expect(
      parseRuleFile('groups: [\n{"name": "g", "rules": [\n{"record": "r", "expr": "x"}\n]}\n]\n', 'f.yml')[0]
        ?.name,
    ).toBe('g')
  })
  test('a key whose `:` is on a later line is still refused, as Go refuses it', () => {
    expect(() => parseRuleFile(`${head}        labels: {\n"a"\n: x}\n`, 'f.yml')).toThrow(
      /^f\.yml: yaml: line \d+: /,
    )
  })
})

// Checked with promtool 2.42 (go-yaml-agreement.test.ts): in a flow collection Go ends a plain
// scalar at a `:` only before a blank, so a `:` before `,`, `]` or `}` is part of it (YAML 1.2
// reads it as a value indicator there).
describe('a `:` ending a plain scalar in a flow collection', () => {
  test('is part of a value', () => {
    expect(annotationsOf(rule('{}', '{u: http://x:, b: c, d: "q:", e: a:b}'))).toEqual({
      u: 'http://x:',
      b: 'c',
      d: 'q:',
      e: 'a:b',
    })
    expect(labelsOf(rule('{team: x:}'))).toEqual({ team: 'x:' })
  })
  test('is part of a key, which is then no valid name', () => {
    expect(() => parseRuleFile(rule('{team:, a: b}'), 'f.yml')).toThrow(
      'f.yml: group "g", rule 1, "A": invalid label name: team:',
    )
    expect(() => parseRuleFile(rule('{}', '{a::, b: c}'), 'f.yml')).toThrow(
      'f.yml: group "g", rule 1, "A": invalid annotation name: a::',
    )
  })
  test('in a test file (yaml.v2) too', () => {
    const suite = parseTestFile(
      'rule_files: [r.yml]\ntests:\n  - interval: 1m\n    alert_rule_test:\n      - eval_time: 0m\n        alertname: B\n        exp_alerts: [{exp_labels: {a: b:}}]\n',
    )
    expect(suite.tests[0]?.alert_rule_test?.[0]?.exp_alerts?.[0]?.exp_labels).toEqual({ a: 'b:' })
  })
})

// Held to promtool 2.42 in tests/prometheus/promtool/go-yaml-agreement.test.ts; here without it.
describe('block scalars and simple keys as Go scans them', () => {
  const annotation = (yaml: string) => {
    const value = parseGoYaml(yaml) as { entries: Array<{ value: { text: string | null } }> }
    return value.entries[0]?.value.text
  }

  test('a block scalar whose last line ends the text has no final newline, kept or clipped', () => {
    expect(['a: |\n  x', 'a: |+\n  x', 'a: >\n  x\n  y', 'a: >+\n  x', 'a: |-\n  x'].map(annotation)).toEqual(
      ['x', 'x', 'x y', 'x', 'x'],
    )
    // A line break after the last line is kept as ever, blanks after it or not.
    expect(['a: |\n  x\n', 'a: |\n  x\n  ', 'a: |+\n  x\n\n', 'a: |\n  x\nb: 1\n'].map(annotation)).toEqual([
      'x\n',
      'x\n',
      'x\n\n',
      'x\n',
    ])
  })

  test('U+2028 and U+2029 end a line of a block scalar and stay in its value as written, never folded', () => {
    expect(
      [
        'a: |\n  x\u2028\n',
        'a: |\n  x\u2029\n  y\n',
        'a: |+\n  x\u2028\n\n',
        'a: >\n  a\n  x\u2028\n  b\n',
      ].map(annotation),
    ).toEqual(['x\u2028', 'x\u2029\ny\n', 'x\u2028\n\n', 'a x\u2028\nb\n'])
  })

  test('a flow collection that becomes a simple key after the parser passed it: the outer collection fails', () => {
    const refusal = (yaml: string) => {
      try {
        parseGoYaml(yaml)
        return 'accepted'
      } catch (error) {
        return (error as Error).message
      }
    }
    expect(['a: [{}name: g]\n', 'a: {[]name: g}\n', '[{}name: g]\n'].map(refusal)).toEqual([
      "yaml: did not find expected ',' or ']'",
      "yaml: did not find expected ',' or '}'",
      "yaml: did not find expected ',' or ']'",
    ])
  })
})
