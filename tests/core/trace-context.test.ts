import { describe, expect, test } from 'bun:test'
import {
  createTraceIds,
  formatTraceparent,
  isTraceId,
  parseTraceparent,
  randomHexSource,
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
