import { describe, expect, test } from 'bun:test'
import { bearerMatches, bearerToken } from '../../src/core/bearer.ts'

describe('bearerToken', () => {
  test.each([
    ['Bearer abc.def-123', 'abc.def-123'],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['Bearer    abc', 'abc'],
    ['Bearer abc  ', 'abc'],
    ['Bearer abc\t', 'abc'],
    ['Bearer abc def', undefined],
    ['Bearer', undefined],
    ['Bearer ', undefined],
    ['Bearerabc', undefined],
    ['Bearer\tabc', undefined],
    [' Bearer abc', undefined],
    ['xBearer abc', undefined],
    ['Basic abc', undefined],
    ['', undefined],
    [null, undefined],
    [undefined, undefined],
  ])('%p gives %p', (header, token) => {
    expect(bearerToken(header)).toBe(token)
  })
})

describe('bearerMatches', () => {
  test.each([
    ['Bearer s3cret-token', true],
    ['bearer s3cret-token', true],
    ['Bearer s3cret-token  ', true],
    ['Bearer s3cret-toke', false],
    ['Bearer s3cret-token2', false],
    ['Bearer S3CRET-TOKEN', false],
    ['Basic s3cret-token', false],
    ['s3cret-token', false],
    ['', false],
    [null, false],
    [undefined, false],
  ])('%p against s3cret-token: %p', (header, matches) => {
    expect(bearerMatches(header, 's3cret-token')).toBe(matches)
  })
})
