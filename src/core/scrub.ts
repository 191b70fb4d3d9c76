/**
 * Removes phone numbers and credentials from free text and from whole values: the last line
 * for what this service writes about a failure it did not shape itself (a driver's error
 * message that quotes a statement's parameters, a constraint violation's detail). The log's
 * error serializer (core/logger.ts) and the Sentry hooks (observability/scrub.ts) both use it.
 */

import { SENSITIVE_KEY } from './sensitive.ts'

export const FILTERED = '[Filtered]'

// Keys whose values are never sent, wherever they appear (headers, contexts, extras, span
// attributes): the service-wide list in core/sensitive.ts.

// A run of 8–15 digits with optional +, spaces, dashes, dots or brackets: an E.164-like phone
// number. Candidates are checked in `replacePhone` to spare dates, IP addresses and versions.
// A candidate must not continue into a word, directly or after a dash: the leading groups of
// a UUID are all digits in about one UUID of 280 (`73534038-1250-443f-…`).
const PHONE_CANDIDATE = /(?:(?<![\w+])\+|(?<![\w.+-]))\(?\d[\d ().-]{6,22}\d(?!\w|-\w)/g

/**
 * A tenant API key as auth/keys.ts makes them, anywhere in a text. Not bounded by `\b` at its
 * end: base64url may end the key with `-` or `_`.
 */
export const API_KEY_SHAPE = /\bck_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/
const API_KEY_SHAPE_GLOBAL = new RegExp(API_KEY_SHAPE.source, 'g')

const CREDENTIAL_PATTERNS: Array<[RegExp, string]> = [
  // Authorization schemes: "Bearer abc…", "Basic dXNl…".
  [/\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=-]{6,}/gi, `$1$2${FILTERED}`],
  // key=value and "key": "value" forms.
  [
    /\b(api[-_]?key|apikey|access[-_]?token|auth[-_]?token|token|secret|client[-_]?secret|password|passwd)(["']?\s*[:=]\s*["']?)[^\s"'&,;}]+/gi,
    `$1$2${FILTERED}`,
  ],
  // This service's own tenant API keys (auth/keys.ts: `ck_` and 43 base64url characters): a
  // client that puts its key in a path, a User-Agent or a request id must not see it in an event.
  [API_KEY_SHAPE_GLOBAL, FILTERED],
  // Well-known key shapes: Stripe-style sk_/pk_/rk_, webhook secrets, GitHub, Slack, AWS.
  [/\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{6,}/g, FILTERED],
  [/\bwhsec_[A-Za-z0-9]{6,}/g, FILTERED],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}/g, FILTERED],
  [/\bxox[abprs]-[A-Za-z0-9-]{10,}/g, FILTERED],
  [/\bAKIA[0-9A-Z]{16}\b/g, FILTERED],
]

/**
 * `scheme://user:password@`: a URL's password, as an error may quote it (Node's
 * ERR_INVALID_URL carries the whole URL in `input`, a driver its connection string). Greedy up
 * to the last `@` of the authority, as URL parsers read `postgres://u:p@ss@host`.
 */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s/]*@/gi

function replacePhone(candidate: string): string {
  const digits = candidate.replace(/\D/g, '').length
  const international = candidate.startsWith('+')
  if (digits > 15 || digits < (international ? 8 : 9)) return candidate
  // Without a +, dotted runs are IP addresses or versions, and yyyy-mm-dd… is a date.
  if (!international && (candidate.includes('.') || /^\d{4}-\d{2}-\d{2}/.test(candidate))) return candidate
  return '[phone]'
}

/** Words without which none of CREDENTIAL_PATTERNS can match. */
const MAYBE_CREDENTIAL = /bearer|basic|token|secret|passw|key|ck_|_(?:live|test)_|whsec_|gh[pousr]_|xox|AKIA/i

function digitCount(text: string): number {
  let digits = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 48 && c <= 57) digits++
  }
  return digits
}

/**
 * Whether `text` holds a credential scrubText would filter (a known key shape, `token:…`,
 * `Bearer …`): for a value that is passed on whole or not at all, such as a client's request id.
 */
export function hasCredential(text: string): boolean {
  if (!MAYBE_CREDENTIAL.test(text)) return false
  for (const [pattern] of CREDENTIAL_PATTERNS) {
    // The patterns are global (for replace): test() from the start, not from a previous match.
    pattern.lastIndex = 0
    if (pattern.test(text)) return true
  }
  return false
}

/** Replaces phone numbers, bearer tokens, API keys and URL passwords inside free text. */
export function scrubText(text: string): string {
  // Spans carry dozens of harmless strings (SDK, OS, integration names): skip them cheaply.
  const credentials = MAYBE_CREDENTIAL.test(text)
  const phones = digitCount(text) >= 8
  const urls = text.includes('://')
  if (!credentials && !phones && !urls) return text
  // URL-encoded "+" would hide a phone number from the pattern.
  let out = text.includes('%2') ? text.replace(/%2B/gi, '+') : text
  if (urls) out = out.replace(URL_PASSWORD, `$1${FILTERED}@`)
  if (credentials)
    for (const [pattern, replacement] of CREDENTIAL_PATTERNS) out = out.replace(pattern, replacement)
  return phones ? out.replace(PHONE_CANDIDATE, replacePhone) : out
}

function scrubValue(value: unknown, seen: WeakSet<object>, depth: number): unknown {
  if (typeof value === 'string') return scrubText(value)
  if (value === null || typeof value !== 'object' || depth > 30 || seen.has(value)) return value
  seen.add(value)
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = scrubValue(value[i], seen, depth + 1)
    return value
  }
  const record = value as Record<string, unknown>
  for (const key of Object.keys(record)) {
    const current = record[key]
    const next =
      current !== null && current !== undefined && SENSITIVE_KEY.test(key)
        ? FILTERED
        : scrubValue(current, seen, depth + 1)
    // Only what changed is written back: an SDK's getter-only property would throw on assignment.
    if (next !== current) record[key] = next
  }
  return value
}

/** Scrubs every string and every sensitive key of `value`, in place. */
export function scrubDeep<T>(value: T): T {
  return scrubValue(value, new WeakSet(), 0) as T
}
