import { timingSafeEqual } from 'node:crypto'
import { sha256, sha256Hex } from '../core/hash.ts'

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

/**
 * Constant-time string comparison. Both sides are hashed first so that neither the
 * content nor the length of the secret leaks through timing.
 */
export function secretsEqual(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected))
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | null | undefined): string | undefined {
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header ?? '')
  return match?.[1]
}
