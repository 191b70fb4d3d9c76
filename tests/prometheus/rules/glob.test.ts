import { afterAll, describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expandRuleFiles } from '../../../src/alerting/rules/manager.ts'
import { GlobPatternError, glob, match } from '../../../src/prometheus/rules/glob.ts'
import { RuleFileError } from '../../../src/prometheus/rules/rulefmt.ts'

// Go 1.19 path/filepath's Match and Glob on Unix (cases from match_test.go, and ones promtool
// 2.42 was run on in promtool.test.ts).
describe('match, as filepath.Match', () => {
  test.each([
    ['abc', 'abc', true],
    ['*', 'abc', true],
    ['*c', 'abc', true],
    ['a*/b', 'abc/b', true],
    ['a*/b', 'a/c/b', false],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false],
    ['ab[c]', 'abc', true],
    ['ab[b-d]', 'abc', true],
    ['ab[e-g]', 'abc', false],
    ['ab[^c]', 'abc', false],
    ['ab[^b-d]', 'abe', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'ab', false],
    ['a?b', 'a☺b', true],
    ['a[^a]b', 'a☺b', true],
    ['a???b', 'a☺b', false],
    ['[\\-]', '-', true],
    ['[x\\-]', 'z', false],
    ['[!r]*', 'rules.yml', true],
    ['a?b', 'a/b', false],
    ['a*b', 'a/b', false],
    ['rules.\\yml', 'rules.yml', true],
  ])('%s against %s: %p', (pattern, name, expected) => {
    expect(match(pattern, name)).toBe(expected)
  })

  test.each([
    '[',
    '[^',
    '[^bc',
    'a[',
    'a\\',
    '[]a]',
    '[-]',
    '[x-]',
    '[-x]',
    '[\\',
    '[a-b-c]',
    '*x[',
    'a[]',
  ])('malformed %s: syntax error in pattern, whatever the name', (pattern) => {
    expect(() => match(pattern, 'a')).toThrow(GlobPatternError)
    expect(() => match(pattern, '')).toThrow('syntax error in pattern')
  })
})

describe('glob, as filepath.Glob', () => {
  const dir = mkdtempSync(join(tmpdir(), 'glob-'))
  mkdirSync(join(dir, 'b'))
  mkdirSync(join(dir, 'a'))
  for (const f of ['a/x.yml', 'a/y.yaml', 'b/x.yml', 'top.yml']) writeFileSync(join(dir, f), '')
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test('folder patterns first, each folder sorted; a plain path when it exists', () => {
    expect(glob(join(dir, '*/x.yml'))).toEqual([join(dir, 'a/x.yml'), join(dir, 'b/x.yml')])
    expect(glob(join(dir, '[ab]/*'))).toEqual([
      join(dir, 'a/x.yml'),
      join(dir, 'a/y.yaml'),
      join(dir, 'b/x.yml'),
    ])
    expect(glob(join(dir, 'top.yml'))).toEqual([join(dir, 'top.yml')])
    expect(glob(join(dir, 'none.yml'))).toEqual([])
    expect(glob(join(dir, 't\\op.yml'))).toEqual([join(dir, 'top.yml')])
  })

  test('a malformed folder part is refused before anything is read', () => {
    expect(() => glob(join(dir, '[/]x'))).toThrow(GlobPatternError)
  })

  test('ALERT_RULES_FILES: a malformed pattern fails loading in Prometheus words', () => {
    expect(() => expandRuleFiles(`${join(dir, 'top.yml')}, ${join(dir, 'a/[')}`)).toThrow(RuleFileError)
    expect(() => expandRuleFiles(join(dir, 'a/['))).toThrow(
      `error retrieving rule files for ${join(dir, 'a/[')}: syntax error in pattern`,
    )
    expect(expandRuleFiles(`${join(dir, 'a/*')},${join(dir, 'missing.yml')}`)).toEqual([
      join(dir, 'a/x.yml'),
      join(dir, 'a/y.yaml'),
      join(dir, 'missing.yml'),
    ])
  })
})
