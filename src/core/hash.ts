import { createHash, timingSafeEqual } from 'node:crypto'

// node:crypto's one-shot hash (in Bun, Deno and Node alike), not crypto.subtle: the request
// path hashes API keys and idempotent request bodies, and for a short input the promise round
// trip of `crypto.subtle.digest` plus a hex join cost ~10 µs of CPU, `createHash` ~0.9 µs.

/** SHA-256 of `text`'s UTF-8 bytes: 32 bytes. */
export function sha256(text: string): Uint8Array {
  return createHash('sha256').update(text).digest()
}

/** SHA-256 of `text`'s UTF-8 bytes as 64 lower-case hex digits. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/**
 * Constant-time string comparison for secrets (tokens, verify tokens, signatures). Both sides
 * are hashed first so that neither the content nor the length of the secret leaks through
 * timing.
 */
export function secretsEqual(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected))
}
