import { describe, expect, test } from 'bun:test'
import { parseSeriesValues } from '../../../src/prometheus/promtool/series-notation.ts'
import { valuesMatch } from '../../../src/prometheus/promtool/test-rules.ts'
import { BROKEN_RULES, BROKEN_TESTS, ruleTestFiles, runOurs, writeSuite } from './rule-test-files.ts'

const run = runOurs

describe('bun run rules:test (the TypeScript promtool test rules)', () => {
  test.each(ruleTestFiles())('%s passes', (file) => {
    const result = run([file])
    expect(result.stderr).toBe('')
    expect(result.stdout).toBe(`Unit Testing:  ${file}\n  SUCCESS\n\n`)
    expect(result.code).toBe(0)
  })

  test('reports failing expectations with the values got, like promtool, and exits 1', () => {
    const file = writeSuite(BROKEN_RULES, BROKEN_TESTS)
    const result = run([file])
    expect(result.code).toBe(1)
    expect(result.stdout).toBe(`Unit Testing:  ${file}\n\n\n\n`)
    expect(result.stderr).toBe(
      [
        '  FAILED:',
        '    name: wrong on purpose,',
        '    alertname: Busy, time: 3m, ',
        '        exp:[',
        '            0:',
        '              Labels:{alertname="Busy", host="a", severity="page"}',
        '              Annotations:{summary="load 4 on b"}',
        '            ], ',
        '        got:[',
        '            0:',
        '              Labels:{alertname="Busy", host="a", severity="page"}',
        '              Annotations:{summary="load 4 on a"}',
        '            ]',
        '    expr: "sum(load)", time: 2m,',
        '        exp: {} 2E+00',
        '        got: {} 3E+00',
        '',
      ].join('\n'),
    )
  })

  test('one failing file among passing ones fails the run', () => {
    const [good] = ruleTestFiles()
    const result = run([good as string, writeSuite(BROKEN_RULES, BROKEN_TESTS)])
    expect(result.code).toBe(1)
    expect(result.stdout).toContain('  SUCCESS')
  })

  test('a rule promtool refuses fails the file, naming the rule and the parse error', () => {
    const file = writeSuite(
      'groups:\n  - name: g\n    rules:\n      - alert: Odd\n        expr: label_replace(up, "a", "b", "c") == 0\n',
      'rule_files: [rules.yml]\ntests:\n  - interval: 1m\n    input_series: []\n',
    )
    const result = run([file])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(
      'rules.yml: group "g", rule "Odd": 1:1: parse error: expected 5 argument(s) in call to "label_replace", got 4',
    )
  })

  test('unknown fields are errors, as with promtool', () => {
    const file = writeSuite('groups: []\n', 'rule_files: [rules.yml]\ntests:\n  - intervall: 1m\n')
    const result = run([file])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('field intervall not found in type main.testGroup')
  })

  test('sample values compare with a relative tolerance of 1e-9; NaN never matches', () => {
    expect(valuesMatch(0.1 + 0.2, 0.3)).toBe(true)
    expect(valuesMatch(1e12, 1e12 + 1)).toBe(true)
    expect(valuesMatch(1, 1 + 1e-6)).toBe(false)
    expect(valuesMatch(0, 1e-300)).toBe(false)
    expect(valuesMatch(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY)).toBe(true)
    expect(valuesMatch(Number.NaN, Number.NaN)).toBe(false)
  })
})

describe('input_series expanding notation', () => {
  const values = (text: string): unknown[] =>
    parseSeriesValues(text).map((v) => (v.kind === 'value' ? v.value : v.kind === 'stale' ? 'stale' : '_'))

  test.each([
    ['1+2x3', [1, 3, 5, 7]],
    ['10-1x2', [10, 9, 8]],
    ['5x2', [5, 5, 5]],
    ['1 _x3 stale', [1, '_', '_', '_', 'stale']],
    ['-1+0.5x2 _ Inf', [-1, -0.5, 0, '_', Number.POSITIVE_INFINITY]],
    ['0.1+0.1x2', [0.1, 0.2, 0.30000000000000004]],
  ] as [string, unknown[]][])('%s', (text, expected) => {
    expect(values(text)).toEqual(expected)
  })

  test('rejects what promtool rejects', () => {
    expect(() => parseSeriesValues('1 two 3')).toThrow('invalid value "two"')
  })
})

describe('the command', () => {
  test('exits 0 when all files pass and 1 on a failure', async () => {
    const [good] = ruleTestFiles()
    const ok = Bun.spawn(['bun', 'scripts/rules-test.ts', good as string], { stdout: 'pipe', stderr: 'pipe' })
    expect(await ok.exited).toBe(0)
    const bad = Bun.spawn(['bun', 'scripts/rules-test.ts', writeSuite(BROKEN_RULES, BROKEN_TESTS)], {
      stdout: 'pipe',
      stderr: 'pipe',
    })
    expect(await bad.exited).toBe(1)
    expect(await new Response(bad.stderr).text()).toContain('got: {} 3E+00')
  })
})
