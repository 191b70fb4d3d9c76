import { describe, expect, test } from 'bun:test'
import { formatLabels } from '../../../src/prometheus/promql/labels.ts'
import { goQuote } from '../../../src/prometheus/promql/strings.ts'
import { goStringFromBytes } from '../../../src/prometheus/rules/go-bytes.ts'

// Go 1.19's strconv.Quote, which Labels.String() and promtool's reports use (checked against
// promtool 2.42 in tests/prometheus/promtool/rule-test-files.ts LINE_BREAK_CASES).
describe('goQuote, as strconv.Quote', () => {
  test('keeps what unicode.IsPrint calls printable, escapes the rest', () => {
    expect(goQuote('é 😀 e\u0301 "q" \\')).toBe('"é 😀 e\u0301 \\"q\\" \\\\"')
    expect(goQuote('a\u00a0b\u200dc\u2028d\u2029\ufeff\ue000')).toBe(
      '"a\\u00a0b\\u200dc\\u2028d\\u2029\\ufeff\\ue000"',
    )
    expect(goQuote('\x07\b\f\n\r\t\v\x01\x7f')).toBe('"\\a\\b\\f\\n\\r\\t\\v\\x01\\x7f"')
    expect(goQuote('\u{E0001}')).toBe('"\\U000e0001"')
  })
  test('writes a byte that is not UTF-8 as \\x', () => {
    expect(goQuote(goStringFromBytes(Uint8Array.from([0x68, 0x69, 0xff])))).toBe('"hi\\xff"')
  })
  test('is what label sets print with', () => {
    expect(formatLabels({ a: 'x\u2028y', b: 'z\u00a0' })).toBe('{a="x\\u2028y", b="z\\u00a0"}')
  })
})
