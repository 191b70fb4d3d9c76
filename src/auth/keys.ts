import { sha256Hex } from '../core/hash.ts'

/** SHA-256 of an API key, hex: what the database stores instead of the key. */
export function hashApiKey(key: string): string {
  return sha256Hex(key)
}

/** A new tenant API key: 32 random bytes, base64url, with a recognisable prefix. */
export function generateApiKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32))
  return `ck_${btoa(String.fromCharCode(...bytes))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replaceAll('=', '')}`
}
