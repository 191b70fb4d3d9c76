import { describe, expect, test } from 'bun:test'
import { generateApiKey, hashApiKey } from '../../src/auth/keys.ts'

describe('hashApiKey', () => {
  test('is the lowercase hex SHA-256 of the key, zero-padded to 64 digits', async () => {
    // FIPS 180-2 test vector: SHA-256("abc"); its digest has bytes below 0x10 (0x01, 0x03…).
    expect(await hashApiKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(await hashApiKey('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })
})

describe('generateApiKey', () => {
  test('is ck_ and 43 base64url characters (32 bytes, unpadded), new every time', () => {
    const keys = Array.from({ length: 200 }, generateApiKey)
    for (const key of keys) expect(key).toMatch(/^ck_[A-Za-z0-9_-]{43}$/)
    expect(new Set(keys).size).toBe(keys.length)
    // Over 200 keys every base64url character appears, so '-' and '_' (from '+' and '/') must show up.
    const alphabet = new Set(keys.join(''))
    expect(alphabet.has('-')).toBe(true)
    expect(alphabet.has('_')).toBe(true)
  })

  test('decodes back to 32 random bytes', () => {
    const key = generateApiKey().slice(3)
    const bytes = Buffer.from(key, 'base64url')
    expect(bytes.length).toBe(32)
    expect(Buffer.from(bytes).toString('base64url')).toBe(key)
  })
})
