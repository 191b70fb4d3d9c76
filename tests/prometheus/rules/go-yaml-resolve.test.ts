import { describe, expect, test } from 'bun:test'
import { goResolve, isGoTimestamp } from '../../../src/prometheus/rules/go-yaml-resolve.ts'

// Expectations as promtool 2.42 decodes them (go-yaml-agreement.test.ts runs the same kinds
// through promtool itself); these hold without promtool on PATH.
const summary = (tag: string | undefined, text: string, v3 = true) => {
  const r = goResolve(tag, text, v3)
  if ('failure' in r) return r.failure
  const v = r.value
  return `${r.tag} ${v.kind}${'value' in v ? ` ${String(v.value)}` : ''}`
}

describe('resolve.go resolve', () => {
  test.each([
    ['1', '!!int int 1'],
    ['1_000', '!!int int 1000'],
    ['+0x1F', '!!int int 31'],
    ['0x_1F', '!!int int 31'],
    ['017', '!!int int 15'],
    ['0o17', '!!int int 15'],
    ['-0o7', '!!int int -7'],
    ['0b-1', '!!int int -1'],
    ['08', '!!float float 8'],
    ['09.5', '!!float float 9.5'],
    ['1_0.5', '!!float float 10.5'],
    ['5.', '!!float float 5'],
    ['.5e1', '!!float float 5'],
    ['.5_0', '!!str string'],
    ['1e', '!!str string'],
    ['1e999', '!!str string'],
    ['1e-999', '!!float float 0'],
    ['9223372036854775807', '!!int int 9223372036854775807'],
    ['9223372036854775808', '!!int uint 9223372036854775808'],
    ['18446744073709551616', '!!float float 18446744073709552000'],
    ['-9223372036854775809', '!!float float -9223372036854776000'],
    ['-.inf', '!!float float -Infinity'],
    ['.NaN', '!!float float NaN'],
    ['.iNf', '!!str string'],
    ['~', '!!null null'],
    ['', '!!null null'],
    ['True', '!!bool bool true'],
    // In resolveMap, but '<' has no hint: resolve never looks it up (merges are told apart by isMerge).
    ['<<', '!!str string'],
    ['2001-01-02', '!!timestamp timestamp'],
    ['é1', '!!str string'],
  ])('%s in yaml.v3 is %s', (text, expected) => {
    expect(summary(undefined, text)).toBe(expected)
  })

  test('yaml.v2 alone resolves YAML 1.1 booleans', () => {
    expect(summary(undefined, 'yes', false)).toBe('!!bool bool true')
    expect(summary(undefined, 'Off', false)).toBe('!!bool bool false')
    expect(summary(undefined, 'yes', true)).toBe('!!str string')
  })

  test.each([
    ['!!int', 'x', 'yaml: cannot decode !!str `x` as a !!int'],
    ['!!int', '1.5', 'yaml: cannot decode !!float `1.5` as a !!int'],
    ['!!timestamp', 'x', 'yaml: cannot decode !!str `x` as a !!timestamp'],
    ['!!timestamp', '1', 'yaml: cannot decode !!int `1` as a !!timestamp'],
    ['!!timestamp', '~', 'yaml: cannot decode !!null `~` as a !!timestamp'],
    ['!!null', 'x', 'yaml: cannot decode !!str `x` as a !!null'],
    ['!!float', '18446744073709551615', 'yaml: cannot decode !!int `18446744073709551615` as a !!float'],
    ['!!int', '2001-01-02', 'yaml: cannot decode !!str `2001-01-02` as a !!int'],
    ['!!float', '1', '!!float float 1'],
    ['!!timestamp', '2001-01-02', '!!timestamp timestamp'],
    ['!!str', '1', '!!str string'],
    ['!!str', '~', '!!str string'],
    ['!!null', '', '!!null null'],
    ['!foo', '1', '!foo string'],
  ])('%s %s: %s', (tag, text, expected) => {
    expect(summary(tag, text)).toBe(expected)
  })
})

describe('resolve.go parseTimestamp', () => {
  test.each([
    ['2001-01-02', true],
    ['2001-1-2', true],
    ['2000-02-29', true],
    ['2001-02-29', false],
    ['1900-02-29', false],
    ['2001-13-01', false],
    ['2001-00-01', false],
    ['2001-01-00', false],
    ['2001-001-01', false],
    ['20011-01-01', false],
    ['2001-1-2T3:4:5Z', true],
    ['2001-01-02t03:04:05+05:00', true],
    ['2001-01-02T03:04:05-00:99', true],
    ['2001-01-02T03:04:05+5:00', false],
    ['2001-01-02T03:04:05z', false],
    ['2001-01-02T03:04:05', false],
    ['2001-01-02T03:04:05.123456789Z', true],
    ['2001-01-02T03:04:05.1234567891Z', false],
    ['2001-01-02T03:04:05,5Z', true],
    ['2001-01-02T24:00:00Z', false],
    ['2001-01-02T23:60:00Z', false],
    ['2001-01-02T23:59:60Z', false],
    ['2001-01-02 03:04:05', true],
    ['2001-01-02   03:04:05.5', true],
    ['2001-01-02 03:04:05.', false],
    ['2001-01-02 03:04:05Z', false],
    ['2001-01-02x', false],
  ])('%s: %p', (text, expected) => {
    expect(isGoTimestamp(text)).toBe(expected)
  })
})
