import { describe, expect, test } from 'bun:test'
import { secretsEqual, sha256, sha256Hex } from '../../src/core/hash.ts'

const subtleHex = async (text: string) =>
  Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('')

describe('sha256', () => {
  test('FIPS 180-2 vectors', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(sha256('abc')).toHaveLength(32)
    expect(Buffer.from(sha256('abc')).toString('hex')).toBe(sha256Hex('abc'))
  })

  test('the digests crypto.subtle gave before (stored key hashes and fingerprints stay valid), non-ASCII included', async () => {
    for (const text of [
      'ck_live_abc',
      'POST\n/orders\n{"items":[]}',
      'Café ☕ +254 7…',
      '\u0000\uffff',
      'x'.repeat(10_000),
    ]) {
      expect(sha256Hex(text)).toBe(await subtleHex(text))
    }
  })
})

describe('secretsEqual', () => {
  test.each([
    ['s3cret-token', 's3cret-token', true],
    ['s3cret-token', 's3cret-tokem', false],
    ['s3cret', 's3cret-token', false],
    ['', 's3cret-token', false],
    ['', '', true],
  ])('%p vs %p is %p', (given, expected, equal) => {
    expect(secretsEqual(given, expected)).toBe(equal)
  })
})
