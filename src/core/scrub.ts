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

/**
 * A phone number candidate: an optional `+` (maybe in brackets; URL-encoded once or twice, or
 * JSON-escaped as `\u002B`), then at least 8 characters of digits and separators (space,
 * no-break and thin spaces, brackets, dot, dash, and `%20`, `%28`, `%29`, `%2D`, `%2E`,
 * `%C2%A0` once or twice encoded) from a digit to a digit. It starts after anything but a digit
 * or a decimal's dot (its fraction), so also right after a letter, `_` or another dot (`wa_2547…`,
 * `customer2547…`); it does not run on into a letter or digit, directly or after a dash (a
 * unit, `123456789ms`; a dash-joined id's next group). One flat loop, no nested quantifier:
 * it runs on every span and error line. `judgeCandidate` decides.
 */
const PHONE_CANDIDATE =
  /(?<!\d|\d\.)\(?(?:(?:\+|%(?:25)?2[Bb]|\\u002[Bb])\)?(?:[ (\u00a0]|%(?:25)?20)?)?\d(?:[\d ().\u00a0\u2009\u202f-]|%(?:25)?(?:2[0589DdEe]|[Cc]2%(?:25)?[Aa]0))(?:[\d ().\u00a0\u2009\u202f-]|%(?:25)?(?:2[0589DdEe]|[Cc]2%(?:25)?[Aa]0)){5,60}\d(?!-?[A-Za-z0-9])/g

/** URL escapes (once or twice encoded) and JSON `\u00XX` escapes, decoded for judging. */
const ESCAPE = /%(?:25)?([0-9A-Fa-f]{2})|\\u(00[0-9A-Fa-f]{2})/g
/** Blanks between groups (`+254 711`, `%20`): where a run of numbers may be cut in two. */
const BLANKS = /((?:[ \u00a0\u2009\u202f]|%(?:25)?20|%(?:25)?[Cc]2%(?:25)?[Aa]0)+)/
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}$/
const DATE = /^(?:\d{4}([-./])\d{1,2}\1\d{1,2}|\d{1,2}([-./])\d{1,2}\2\d{4})(?!\d)/
/** Ids whose digits are no phone number, tried where a word or a dash-joined part starts. */
const ID_AT =
  /(?:[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}|(?:0x)?[0-9A-Fa-f]{16,})(?![0-9A-Za-z])/y

function isWordCode(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45
}

const LEADING_SEPARATORS = /^(?:[ ).\u00a0\u2009\u202f-]|%(?:25)?(?:2[09DdEe]|[Cc]2%(?:25)?[Aa]0))*/

function decodeEscapes(text: string): string {
  if (!text.includes('%') && !text.includes('\\')) return text
  return text.replace(ESCAPE, (_, url: string | undefined, json: string | undefined) =>
    String.fromCharCode(Number.parseInt(url ?? json ?? '20', 16)),
  )
}

/**
 * Whether a candidate, its escapes decoded, is a phone number (ITU-T E.164: at most 15 digits):
 * - 8–15 digits with a `+`, 9–15 without (8 bare digits are too often counts and amounts);
 * - a first digit other than 1, or exactly 11 digits: E.164's country code 1 is the NANP
 *   (1 + 10 digits, area codes never starting with 1) and China's mobiles are 11 digits from 1;
 *   so epoch seconds (10 digits, 1…) and epoch milliseconds (13 digits, 1…) are kept;
 * - without a `+`: not a date (2026-12-05 23, 05.12.2026 23), and dots, if any, at least two
 *   (one is a decimal) and not an IPv4 address or 4-part version (`192.168.0.10`,
 *   `14.6.202.34`); `0711.000.200` is a number.
 * So a bare 9–15 digit integer not starting with 1 (an amount in minor units of 10⁸ or more, a
 * byte count) is taken for a phone number: a lost value is better than a leaked number.
 */
function isPhone(plain: string): boolean {
  const international = /^\(?\+/.test(plain)
  let digits = 0
  let first = -1
  for (let i = 0; i < plain.length; i++) {
    const c = plain.charCodeAt(i)
    if (c >= 48 && c <= 57) {
      if (first < 0) first = c
      digits++
    }
  }
  if (digits > 15 || digits < (international ? 8 : 9)) return false
  if (first === 49 && digits !== 11) return false
  if (international) return true
  if (DATE.test(plain)) return false
  if (!plain.includes('.')) return true
  return plain.indexOf('.') !== plain.lastIndexOf('.') && !IPV4.test(plain)
}

/** The last group (an even index) of the widest phone number starting at group `i`, or -1. */
function widestFrom(parts: string[], i: number): number {
  let widest = -1
  let plain = ''
  for (let j = i; j < parts.length; j += 2) {
    plain += decodeEscapes((j > i ? (parts[j - 1] as string) : '') + (parts[j] as string))
    const digits = digitCount(plain)
    if (digits > 15) break
    if (isPhone(plain)) widest = j
  }
  return widest
}

/**
 * Replaces the phone numbers in a run of numbers: the whole run if it is one, else, left to
 * right, spans of its blank-separated groups (`order 12345 254711000200`, `2026-12-05 254…`
 * join into one run): the widest span from the first group that starts one. Each step looks
 * at most 15 groups ahead (a phone number has at most 15 digits), and the candidate scan cuts
 * runs at about 60 characters, so a long run of numbers costs linear time.
 */
function judgeRun(run: string): string {
  if (run === '' || isPhone(decodeEscapes(run))) return run === '' ? run : '[phone]'
  // [group, blanks, group, …]
  const parts = run.split(BLANKS)
  if (parts.length < 3) return run
  let out = ''
  let i = 0
  while (i < parts.length) {
    const end = widestFrom(parts, i)
    if (end < 0) {
      out += parts[i] + (parts[i + 1] ?? '')
      i += 2
      continue
    }
    out += `[phone]${parts[end + 1] ?? ''}`
    i = end + 2
  }
  return out
}

/**
 * `PHONE_CANDIDATE`'s replacer. Digits that end an id are not a phone number's start: the last
 * group of a UUID (`…-446655440000`), the tail of 16 or more hex digits (a trace or span id, a
 * Prometheus or Alertmanager fingerprint, a hash: `…e929d012345678`), the two hex digits of the
 * `%XX` escape the run starts in; what follows them is still judged.
 */
function replacePhone(match: string, offset: number, text: string): string {
  let kept = 0
  const before = offset > 0 ? text.charCodeAt(offset - 1) : 0
  if (before === 37) {
    // `%20254…`: the escape's own two digits (four for `%2520`).
    kept = /^25(?:2[0589DdEe]|[Cc]2)/.test(match) ? 4 : 2
  } else if (isWordCode(before)) {
    // The word (letters, digits, dashes) the run starts in: an id in it may cover the run's start.
    let start = offset
    while (start > 0 && isWordCode(text.charCodeAt(start - 1))) start--
    for (let at = start; at < offset; ) {
      ID_AT.lastIndex = at
      const id = ID_AT.exec(text)
      if (id && at + id[0].length > offset) {
        kept = at + id[0].length - offset
        break
      }
      const dash = text.indexOf('-', at)
      if (dash < 0 || dash >= offset) break
      at = dash + 1
    }
  }
  if (!kept) return judgeRun(match)
  // The separators after the id stay as they are.
  kept += LEADING_SEPARATORS.exec(match.slice(kept))?.[0].length ?? 0
  return match.slice(0, kept) + judgeRun(match.slice(kept))
}

/**
 * A tenant API key as auth/keys.ts makes them, anywhere in a text. Not bounded by `\b` at its
 * end: base64url may end the key with `-` or `_`.
 */
export const API_KEY_SHAPE = /\bck_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/
const API_KEY_SHAPE_GLOBAL = new RegExp(API_KEY_SHAPE.source, 'g')

const CREDENTIAL_PATTERNS: Array<[RegExp, string]> = [
  // Authorization schemes: "Bearer abc…", "Basic dXNl…".
  // Also URL-encoded (`Bearer%20…`, a form's `Bearer+…`).
  [/\b(bearer|basic|token)(\s+|%20|\+)[A-Za-z0-9._~+/=-]{6,}/gi, `$1$2${FILTERED}`],
  // key=value and "key": "value" forms, also as the last word of a longer name joined by `_`,
  // `.` or `-` (`WHATSAPP_ACCESS_TOKEN=`, `hub.verify_token=`, `app_secret:`, `sentry_key=`,
  // `X-Hub-Signature-256:`), URL-encoded (`token%3D…`) or JSON-escaped (`{\"token\":\"…\"}`).
  // The value ends where a query string's next pair (`&`, `%26`) or an escaped quote begins.
  [
    /((?:\b|(?<=_))(?:api[-_]?key|apikey|access[-_]?token|auth[-_]?token|token|secret|client[-_]?secret|password|passwd|sentry[-_]key|signature(?:-256)?)(?:\\?["'])?\s*(?:[:=]|%3[AaDd])\s*(?:\\?["'])?)(?:(?!%26|\\["'])[^\s"'&,;}])+/gi,
    `$1${FILTERED}`,
  ],
  // This service's own tenant API keys (auth/keys.ts: `ck_` and 43 base64url characters): a
  // client that puts its key in a path, a User-Agent or a request id must not see it in an event.
  [API_KEY_SHAPE_GLOBAL, FILTERED],
  // The same key with its `_` URL-encoded, as a path segment or query value may carry it.
  [/\bck%5[Ff][A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g, FILTERED],
  // A Meta (WhatsApp Cloud API) access token: `EAA` and some hundred letters and digits.
  [/\bEAA[A-Za-z0-9]{30,}/g, FILTERED],
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

/**
 * `scheme://<32 hex digits>@`: a Sentry DSN's key (`https://<key>@o1.ingest.sentry.io/2`), the
 * one user name without a password that is a credential; other user names are kept.
 */
const URL_DSN_KEY = /(\b[a-z][a-z0-9+.-]*:\/\/)[0-9a-f]{32}@/gi

/** Words without which none of CREDENTIAL_PATTERNS can match. */
const MAYBE_CREDENTIAL =
  /bearer|basic|token|secret|passw|key|signature|ck_|ck%5f|EAA|_(?:live|test)_|whsec_|gh[pousr]_|xox|AKIA/i

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

/**
 * Whether `text` holds a phone number scrubText would replace: for a value that is passed on
 * whole or not at all, such as a client's request id.
 */
export function hasPhone(text: string): boolean {
  return digitCount(text) >= 8 && text.replace(PHONE_CANDIDATE, replacePhone) !== text
}

/** Replaces phone numbers, bearer tokens, API keys and URL passwords inside free text. */
export function scrubText(text: string): string {
  // Spans carry dozens of harmless strings (SDK, OS, integration names): skip them cheaply.
  const credentials = MAYBE_CREDENTIAL.test(text)
  const phones = digitCount(text) >= 8
  const urls = text.includes('://')
  if (!credentials && !phones && !urls) return text
  let out = text
  if (urls) out = out.replace(URL_PASSWORD, `$1${FILTERED}@`).replace(URL_DSN_KEY, `$1${FILTERED}@`)
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
