import { describe, expect, test } from 'bun:test'
import {
  createTraceIds,
  formatTraceparent,
  isTraceId,
  parseTraceparent,
  parseTracestate,
  randomHexSource,
  TRACESTATE_MAX_LENGTH,
} from '../../src/core/trace-context.ts'

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const PARENT = '00f067aa0ba902b7'

describe('parseTraceparent (W3C Trace Context §3.2, §4.3)', () => {
  test('a version-00 value: trace id, parent id and flags', () => {
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-01`)).toEqual({
      traceId: TRACE,
      parentId: PARENT,
      flags: '01',
    })
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-00`)).toEqual({
      traceId: TRACE,
      parentId: PARENT,
      flags: '00',
    })
  })

  test('a later version is read by its first four fields, longer only after a dash', () => {
    expect(parseTraceparent(`cc-${TRACE}-${PARENT}-01`)?.traceId).toBe(TRACE)
    expect(parseTraceparent(`cc-${TRACE}-${PARENT}-01-what-the-future-brings`)?.traceId).toBe(TRACE)
    expect(parseTraceparent(`cc-${TRACE}-${PARENT}-01x`)).toBeUndefined()
  })

  test.each([
    ['absent', null],
    ['empty', ''],
    ['version ff', `ff-${TRACE}-${PARENT}-01`],
    ['version 00 with more fields', `00-${TRACE}-${PARENT}-01-extra`],
    ['upper-case hex', `00-${TRACE.toUpperCase()}-${PARENT}-01`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${PARENT}-01`],
    ['all-zero parent id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['short trace id', `00-${TRACE.slice(1)}-${PARENT}-01`],
    ['not hex', `00-${TRACE.slice(0, 31)}g-${PARENT}-01`],
    ['two headers joined by a comma', `00-${TRACE}-${PARENT}-01, 00-${TRACE}-${PARENT}-01`],
    ['a sentry-trace value', `${TRACE}-${PARENT}-1`],
  ])('invalid: %s', (_name, value) => {
    expect(parseTraceparent(value)).toBeUndefined()
  })
})

describe('trace and span ids', () => {
  test('formatTraceparent writes version 00, sampled by default', () => {
    expect(formatTraceparent(TRACE, PARENT)).toBe(`00-${TRACE}-${PARENT}-01`)
    expect(formatTraceparent(TRACE, PARENT, '00')).toBe(`00-${TRACE}-${PARENT}-00`)
    expect(parseTraceparent(formatTraceparent(TRACE, PARENT))).toEqual({
      traceId: TRACE,
      parentId: PARENT,
      flags: '01',
    })
  })

  test.each([
    ['ff', '01'],
    ['09', '01'],
    ['fe', '00'],
    // Level 2's random-trace-id bit is not a version-00 flag of the Recommendation.
    ['02', '00'],
    ['03', '01'],
  ])('formatTraceparent sends flags %s as %s: every bit but sampled set to zero (§3.2.2.5.2, §4.3)', (given, sent) => {
    expect(formatTraceparent(TRACE, PARENT, given)).toBe(`00-${TRACE}-${PARENT}-${sent}`)
  })

  test('ids are lowercase hex of 16 and 8 random bytes, drawn from the pool in order', () => {
    let fills = 0
    const hex = randomHexSource((bytes) => {
      fills++
      bytes.forEach((_, i) => {
        bytes[i] = i & 0xff
      })
    })
    const ids = createTraceIds(hex)
    expect(ids.traceId()).toBe('000102030405060708090a0b0c0d0e0f')
    expect(ids.spanId()).toBe('1011121314151617')
    // 4 096 bytes hold 255 more trace ids (minus the 8 bytes taken) before the pool refills.
    for (let i = 0; i < 254; i++) ids.traceId()
    expect(fills).toBe(1)
    ids.traceId()
    expect(fills).toBe(2)
  })

  test('an all-zero draw is drawn again (an all-zero id is invalid)', () => {
    let call = 0
    const hex = (bytes: number) => (call++ === 0 ? '0'.repeat(bytes * 2) : 'f'.repeat(bytes * 2))
    expect(createTraceIds(hex).traceId()).toBe('f'.repeat(32))
  })

  test('real ids are distinct and well-formed', () => {
    const ids = createTraceIds()
    const many = new Set(Array.from({ length: 1000 }, () => ids.traceId()))
    expect(many.size).toBe(1000)
    for (const id of many) expect(id).toMatch(/^[0-9a-f]{32}$/)
    expect(ids.spanId()).toMatch(/^[0-9a-f]{16}$/)
  })
})

test('isTraceId: 32 lowercase hex digits, not all zero', () => {
  expect(isTraceId(TRACE)).toBe(true)
  expect(isTraceId('0'.repeat(32))).toBe(false)
  expect(isTraceId(TRACE.toUpperCase())).toBe(false)
  expect(isTraceId(TRACE.slice(1))).toBe(false)
  expect(isTraceId(`${TRACE}0`)).toBe(false)
})

describe('parseTracestate (W3C Trace Context §3.3; the W3C test suite, strict level 2)', () => {
  // Every printable ASCII character but `,` and `=`, as test_tracestate_all_allowed_characters builds it.
  const ALL_VALUE = Array.from({ length: 0x7e - 0x20 + 1 }, (_, i) => String.fromCharCode(0x20 + i))
    .filter((c) => c !== ',' && c !== '=')
    .join('')
  const KEY_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789_-*/'
  const members = (from: number, to: number) =>
    Array.from(
      { length: to - from + 1 },
      (_, i) => `bar${String(from + i).padStart(2, '0')}=${String(from + i).padStart(2, '0')}`,
    )
  // Several header lines arrive combined by `, ` (Headers.get, RFC 7230 §3.2.2).
  const lines = (...values: string[]) => values.join(', ')
  /** Members 1…`last` as the test suite sends them: four header lines, ten members a line. */
  const overFourLines = (last: number) =>
    lines(
      members(1, 10).join(','),
      members(11, 20).join(','),
      members(21, 30).join(','),
      members(31, last).join(','),
    )

  test.each<[string, string, string | undefined]>([
    // Valid lists keep their order, without optional whitespace.
    ['single member', 'rojo=00f067aa0ba902b7', 'rojo=00f067aa0ba902b7'],
    ['two vendors', 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE', 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE'],
    [
      'multiple lines, order kept',
      lines('foo=1,bar=2', 'rojo=1,congo=2', 'baz=3'),
      'foo=1,bar=2,rojo=1,congo=2,baz=3',
    ],
    ['an empty line after', lines('foo=1', ''), 'foo=1'],
    ['an empty line before', lines('', 'foo=1'), 'foo=1'],
    ['empty members', ',foo=1,, ,\t,bar=2,', 'foo=1,bar=2'],
    ['OWS around members', 'foo=1 \t , \t bar=2, \t baz=3', 'foo=1,bar=2,baz=3'],
    ['tabs and spaces', 'foo=1\t \t,\t \tbar=2,\t \tbaz=3', 'foo=1,bar=2,baz=3'],
    ['leading space', ' foo=1', 'foo=1'],
    ['leading tab', '\tfoo=1', 'foo=1'],
    ['trailing space', 'foo=1 ', 'foo=1'],
    ['trailing tab', 'foo=1\t', 'foo=1'],
    ['both', '\t foo=1 \t', 'foo=1'],
    ['a leading space of a value is part of it', 'foo= 1', 'foo= 1'],
    ['all key and value characters', `${KEY_CHARS}=${ALL_VALUE}`, `${KEY_CHARS}=${ALL_VALUE}`],
    ['multi-tenant key', `${KEY_CHARS}@a-z0-9_-*/=${ALL_VALUE}`, `${KEY_CHARS}@a-z0-9_-*/=${ALL_VALUE}`],
    ['tenant id may start with a digit', '0tenant@vendor=x', '0tenant@vendor=x'],
    ['256-character key', lines('foo=1', `${'z'.repeat(256)}=1`), `foo=1,${'z'.repeat(256)}=1`],
    [
      '241-character tenant, 14-character system',
      lines('foo=1', `${'t'.repeat(241)}@${'v'.repeat(14)}=1`),
      `foo=1,${'t'.repeat(241)}@${'v'.repeat(14)}=1`,
    ],
    ['256-character value', `foo=${'v'.repeat(256)}`, `foo=${'v'.repeat(256)}`],
    ['32 members over four lines', overFourLines(32), members(1, 32).join(',')],
    // Nothing to forward.
    ['absent', '', undefined],
    ['only empty members', ' , ,\t', undefined],
    // Invalid: the whole header is dropped.
    ['duplicate key', 'foo=1,foo=1', undefined],
    ['duplicate key, other value', 'foo=1,foo=2', undefined],
    ['duplicate key across lines', lines('foo=1', 'foo=2'), undefined],
    ['space inside the key', 'foo =1', undefined],
    ['upper-case key', 'FOO=1', undefined],
    ['dot in the key', 'foo.bar=1', undefined],
    ['simple key starting with a digit', '1foo=1', undefined],
    ['empty system id', 'foo@=1,bar=2', undefined],
    ['empty tenant id', '@foo=1,bar=2', undefined],
    ['two at signs', 'foo@@bar=1,bar=2', undefined],
    ['two tenants', 'foo@bar@baz=1,bar=2', undefined],
    ['system id starting with a digit', 'foo@1bar=1', undefined],
    ['257-character key', lines('foo=1', `${'z'.repeat(257)}=1`), undefined],
    ['242-character tenant', lines('foo=1', `${'t'.repeat(242)}@v=1`), undefined],
    ['15-character system', lines('foo=1', `t@${'v'.repeat(15)}=1`), undefined],
    ['= in the value', 'foo=bar=baz', undefined],
    ['empty value', 'foo=,bar=3', undefined],
    ['blank value', 'foo= ,bar=3', undefined],
    ['257-character value', `foo=${'v'.repeat(257)}`, undefined],
    ['non-ASCII value', 'foo=caf\u00e9', undefined],
    ['control character in the value', 'foo=a\u0001b', undefined],
    ['tab inside the value', 'foo=a\tb', undefined],
    ['a member without =', 'foo=1,bar', undefined],
    ['empty key', '=1', undefined],
    ['33 members', overFourLines(33), undefined],
  ])('%s', (_name, input, expected) => {
    expect(parseTracestate(input)).toBe(expected)
  })

  test('absent or null: nothing', () => {
    expect(parseTracestate(undefined)).toBeUndefined()
    expect(parseTracestate(null)).toBeUndefined()
  })

  test('over 512 characters: entries over 128 characters go first, the right-most first', () => {
    const long = (key: string) => `${key}=${'x'.repeat(200)}` // 202 characters
    const short = (i: number) => `k${String(i).padStart(2, '0')}=${'y'.repeat(40)}` // 44 characters
    // 3 long + 4 short = 606 + 176 + 6 commas = 788; dropping the right-most long entry (l3)
    // leaves 585, then the next right-most long one (l2) leaves 382.
    const input = [long('l1'), short(1), long('l2'), short(2), short(3), long('l3'), short(4)].join(',')
    expect(parseTracestate(input)).toBe([long('l1'), short(1), short(2), short(3), short(4)].join(','))
  })

  test('over 512 characters with no long entries: entries go from the end', () => {
    // 12 entries of 44 characters: 528 + 11 commas = 539; 11 of them make 494.
    const entries = Array.from({ length: 12 }, (_, i) => `k${String(i).padStart(2, '0')}=${'y'.repeat(40)}`)
    const kept = parseTracestate(entries.join(' , '))!
    expect(kept).toBe(entries.slice(0, 11).join(','))
    expect(kept.length).toBeLessThanOrEqual(TRACESTATE_MAX_LENGTH)
  })

  test('exactly 512 characters is kept whole', () => {
    // 7 entries of 63 characters, one of 64 and 7 commas: 512; one character more drops the last.
    const entries = Array.from({ length: 7 }, (_, i) => `k${i}=${'y'.repeat(60)}`)
    entries.push(`k7=${'y'.repeat(61)}`)
    const input = entries.join(',')
    expect(input.length).toBe(TRACESTATE_MAX_LENGTH)
    expect(parseTracestate(input)).toBe(input)
    expect(parseTracestate(`${input}z`)).toBe(entries.slice(0, 7).join(','))
  })
})
