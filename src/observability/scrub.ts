/**
 * Removes customer data and credentials from what is sent to Sentry. The SDK is already
 * configured to collect as little as possible (src/observability/sentry.ts); this is the
 * last line: it runs on every error event (beforeSend) and every span (beforeSendSpan).
 */

import { SENSITIVE_KEY } from '../core/sensitive.ts'

export const FILTERED = '[Filtered]'

// Keys whose values are never sent, wherever they appear (headers, contexts, extras, span
// attributes): the service-wide list in core/sensitive.ts.

/** Request parts that carry customer input or credentials wholesale. */
const DROPPED_REQUEST_FIELDS = ['data', 'cookies', 'query_string', 'env'] as const

// A run of 8–15 digits with optional +, spaces, dashes, dots or brackets: an E.164-like phone
// number. Candidates are checked in `replacePhone` to spare dates, IP addresses and versions.
// A candidate must not continue into a word, directly or after a dash: the leading groups of
// a UUID are all digits in about one UUID of 280 (`73534038-1250-443f-…`).
const PHONE_CANDIDATE = /(?:(?<![\w+])\+|(?<![\w.+-]))\(?\d[\d ().-]{6,22}\d(?!\w|-\w)/g

const CREDENTIAL_PATTERNS: Array<[RegExp, string]> = [
  // Authorization schemes: "Bearer abc…", "Basic dXNl…".
  [/\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=-]{6,}/gi, `$1$2${FILTERED}`],
  // key=value and "key": "value" forms.
  [
    /\b(api[-_]?key|apikey|access[-_]?token|auth[-_]?token|token|secret|client[-_]?secret|password|passwd)(["']?\s*[:=]\s*["']?)[^\s"'&,;}]+/gi,
    `$1$2${FILTERED}`,
  ],
  // Well-known key shapes: Stripe-style sk_/pk_/rk_, webhook secrets, GitHub, Slack, AWS.
  [/\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{6,}/g, FILTERED],
  [/\bwhsec_[A-Za-z0-9]{6,}/g, FILTERED],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}/g, FILTERED],
  [/\bxox[abprs]-[A-Za-z0-9-]{10,}/g, FILTERED],
  [/\bAKIA[0-9A-Z]{16}\b/g, FILTERED],
]

function replacePhone(candidate: string): string {
  const digits = candidate.replace(/\D/g, '').length
  const international = candidate.startsWith('+')
  if (digits > 15 || digits < (international ? 8 : 9)) return candidate
  // Without a +, dotted runs are IP addresses or versions, and yyyy-mm-dd… is a date.
  if (!international && (candidate.includes('.') || /^\d{4}-\d{2}-\d{2}/.test(candidate))) return candidate
  return '[phone]'
}

/** Words without which none of CREDENTIAL_PATTERNS can match. */
const MAYBE_CREDENTIAL = /bearer|basic|token|secret|passw|key|_(?:live|test)_|whsec_|gh[pousr]_|xox|AKIA/i

function digitCount(text: string): number {
  let digits = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 48 && c <= 57) digits++
  }
  return digits
}

/** Replaces phone numbers, bearer tokens and API keys inside free text. */
export function scrubText(text: string): string {
  // Spans carry dozens of harmless strings (SDK, OS, integration names): skip them cheaply.
  const credentials = MAYBE_CREDENTIAL.test(text)
  const phones = digitCount(text) >= 8
  if (!credentials && !phones) return text
  // URL-encoded "+" would hide a phone number from the pattern.
  let out = text.includes('%2') ? text.replace(/%2B/gi, '+') : text
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

interface EventShape {
  request?: { url?: string; headers?: Record<string, unknown> } & Record<string, unknown>
  user?: Record<string, unknown>
  exception?: { values?: Array<{ stacktrace?: { frames?: Array<Record<string, unknown>> } }> }
  [key: string]: unknown
}

/**
 * `beforeSend`: drops request bodies, cookies, query strings and local variables, keeps only
 * the user id (the tenant id), then scrubs phone numbers and credentials from every field.
 */
export function scrubEvent<T extends object>(event: T): T {
  const e = event as EventShape
  if (e.request) {
    for (const field of DROPPED_REQUEST_FIELDS) delete e.request[field]
    if (typeof e.request.url === 'string') e.request.url = e.request.url.split('?')[0]
  }
  if (e.user) e.user = typeof e.user.id === 'string' ? { id: e.user.id } : {}
  for (const value of e.exception?.values ?? []) {
    for (const frame of value.stacktrace?.frames ?? []) delete frame.vars
  }
  return scrubDeep(event)
}

/** `beforeSendSpan`: the span name and attributes (URLs, headers, SQL) get the same scrubbing. */
export function scrubSpan<T extends object>(span: T): T {
  const s = span as { name?: unknown; attributes?: Record<string, unknown> }
  if (typeof s.name === 'string') s.name = scrubText(s.name)
  if (s.attributes) scrubDeep(s.attributes)
  return span
}
