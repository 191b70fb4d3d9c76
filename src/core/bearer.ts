import { secretsEqual } from './hash.ts'

/** The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1), or undefined. */
export function bearerToken(header: string | null | undefined): string | undefined {
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header ?? '')
  return match?.[1]
}

/**
 * Whether an `Authorization` header carries `Bearer <expected>`, compared in constant time
 * (secretsEqual). False for a missing or malformed header.
 */
export function bearerMatches(header: string | null | undefined, expected: string): boolean {
  const token = bearerToken(header)
  return token !== undefined && secretsEqual(token, expected)
}
