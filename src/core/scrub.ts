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
 * Phone number characters beyond ASCII, as libphonenumber lists them (PLUS_CHARS, DASHES,
 * DOTS, WHITESPACE, BRACKETS): the fullwidth plus, dashes and minus, the katakana long
 * vowel mark written as a dash, the fullwidth full stop, the ideographic space, fullwidth
 * brackets. Each is one UTF-16 unit; `plainOf` writes it in ASCII.
 */
const WIDE_PLUS = '\\uff0b'
const WIDE_SEPARATORS = '\\u3000\\u2010-\\u2015\\u2212\\u30fc\\uff08\\uff09\\uff0d\\uff0e'

/**
 * A phone number candidate: an optional `+` (maybe in brackets; fullwidth; URL-encoded once or
 * twice, or JSON-escaped as `\u002B`), then at least 8 characters of digits and separators
 * (space, no-break, thin and ideographic spaces, brackets, dot, dash, a form's `+` for a space,
 * their fullwidth forms, and `%20`, `%28`, `%29`, `%2D`, `%2E`, `%C2%A0` once or twice encoded)
 * from a digit to a digit. It starts after anything but a digit or a decimal's dot (its
 * fraction), so also right after a letter, `_` or another dot (`wa_2547…`, `customer2547…`); it
 * does not run on into a digit, nor into a letter or digit after a dash (a dash-joined id's next
 * group). A letter right after it is judged by `replacePhone` (`254711000200ms` is a duration,
 * `tel254711000200abc` a number). One flat loop, no nested quantifier: it runs on every span and
 * error line. `digit` is `\d` for ASCII text, the common case, and `\p{Nd}` (any script's
 * decimal digits, with the `u` flag) for text with other characters.
 */
function phoneCandidate(digit: string, flags: string): RegExp {
  const separator = `(?:[${digit} +().\\u00a0\\u2009\\u202f${WIDE_SEPARATORS}-]|%(?:25)?(?:2[0589DdEe]|[Cc]2%(?:25)?[Aa]0))`
  const plus = `(?:[+${WIDE_PLUS}]|%(?:25)?2[Bb]|\\\\u002[Bb])`
  return new RegExp(
    `(?<!${digit}|${digit}\\.)[(\\uff08]?(?:${plus}[)\\uff09]?(?:[ (\\u00a0\\u3000\\uff08]|%(?:25)?20)?)?` +
      `${digit}${separator}${separator}{5,60}${digit}(?!${digit}|-[A-Za-z0-9])`,
    flags,
  )
}

const PHONE_CANDIDATE = phoneCandidate('\\d', 'g')
const PHONE_CANDIDATE_WIDE = phoneCandidate('\\p{Nd}', 'gu')
const NON_ASCII = /[\u0080-\uffff]/
const WIDE_DIGIT = /\p{Nd}/gu
const IS_DIGIT = /^\p{Nd}$/u
/** What `plainOf` rewrites: other scripts' digits and the wide punctuation above. */
const WIDE_CHAR = new RegExp(`\\p{Nd}|[${WIDE_PLUS}${WIDE_SEPARATORS}]`, 'gu')
const WIDE_PUNCTUATION: Record<string, string> = {
  '\uff0b': '+',
  '\u3000': ' ',
  '\uff08': '(',
  '\uff09': ')',
  '\uff0e': '.',
}

/** URL escapes (once or twice encoded) and JSON `\u00XX` escapes, decoded for judging. */
const ESCAPE = /%(?:25)?([0-9A-Fa-f]{2})|\\u(00[0-9A-Fa-f]{2})/g
/** Blanks between groups (`+254 711`, `%20`, a form's `+`): where a run of numbers may be cut. */
const BLANKS = /((?:[ +\u00a0\u2009\u202f\u3000]|%(?:25)?20|%(?:25)?[Cc]2%(?:25)?[Aa]0)+)/
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}$/
const DATE = /^(?:\d{4}([-./])\d{1,2}\1\d{1,2}|\d{1,2}([-./])\d{1,2}\2\d{4})(?!\d)/
/**
 * The time and UTC offset of an ISO 8601 basic-format timestamp (`20261205T233226+0300`), which
 * the candidate scan takes from after its `T` once a form's `+` counts as a separator.
 */
const BASIC_TIME = /^\d{4}(?:\d{2})?[+-]\d{2}(?:\d{2})?$/
const BASIC_DATE_BEFORE = /(?<!\d)\d{8}T$/
/** Ids whose digits are no phone number, tried where a word or a dash-joined part starts. */
const ID_AT =
  /(?:[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}|(?:0x)?[0-9A-Fa-f]{16,})(?![0-9A-Za-z])/y
/** A phone extension right after the number (`…200x`, `…200x12`, `…200ext.12`), as libphonenumber reads them. */
const EXTENSION = /(?:x|ext(?:n|\.)?)\d*(?![A-Za-z])/iy
/** A candidate that starts with a `+` (maybe bracketed, fullwidth or escaped). */
const INTERNATIONAL = /^[(\uff08]?(?:[+\uff0b]|%(?:25)?2[Bb]|\\u002[Bb])/
/** The international call prefix `00` and a country code's first digit (2–9), as `isPhone` sees it. */
const IDD = /^\(?00\)? ?[2-9]/

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

/** ASCII digits of other scripts' digits, by code point, as `plainOf` meets them. */
const FOLDED_DIGITS = new Map<number, string>()

/**
 * A digit's value: Unicode encodes every script's decimal digits (\p{Nd}) as runs of ten
 * consecutive code points from 0 to 9 (its stability policy), some runs back to back (the five
 * styles of mathematical digits), so the value is the distance from the start of the run, mod 10.
 */
function asciiDigit(digit: string): string {
  const code = digit.codePointAt(0) as number
  let folded = FOLDED_DIGITS.get(code)
  if (folded === undefined) {
    let start = code
    while (IS_DIGIT.test(String.fromCodePoint(start - 1))) start--
    folded = String((code - start) % 10)
    FOLDED_DIGITS.set(code, folded)
  }
  return folded
}

/**
 * A candidate as `isPhone` judges it: escapes decoded, other scripts' digits (`٢٥٤`, `۰۷۱۱`,
 * `０７１１`) and wide punctuation (`＋`, `－`, the ideographic space) written in ASCII.
 */
function plainOf(text: string): string {
  const decoded = decodeEscapes(text)
  if (!NON_ASCII.test(decoded)) return decoded
  // What is neither a digit nor in WIDE_PUNCTUATION is one of the dashes.
  return decoded.replace(WIDE_CHAR, (c) => WIDE_PUNCTUATION[c] ?? (IS_DIGIT.test(c) ? asciiDigit(c) : '-'))
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
 * - 16–17 digits written with the international call prefix `00` (ITU-T E.164 annex A's
 *   recommended prefix, most of the world's) instead of `+` and a country code from 2 to 9
 *   (`0049 151 1234567890` is `+49 151 1234567890`; `001` and NANP's 10 digits are 13).
 *   Other 16-digit runs (`4915112345678901`) are no E.164 number: an order or card-like id,
 *   for the card rule to judge.
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
  if (digits > (IDD.test(plain) ? 17 : 15) || digits < (international ? 8 : 9)) return false
  if (first === 49 && digits !== 11) return false
  // Past 15 digits only with the `00` prefix: 16–17 digits are `00` and a whole E.164 number.
  if (international || digits > 15) return true
  if (DATE.test(plain)) return false
  if (!plain.includes('.')) return true
  return plain.indexOf('.') !== plain.lastIndexOf('.') && !IPV4.test(plain)
}

/** The last group (an even index) of the widest phone number starting at group `i`, or -1. */
function widestFrom(parts: string[], i: number): number {
  let widest = -1
  let plain = ''
  for (let j = i; j < parts.length; j += 2) {
    plain += plainOf((j > i ? (parts[j - 1] as string) : '') + (parts[j] as string))
    const digits = digitCount(plain)
    // 17: `00` and 15 digits (`isPhone`).
    if (digits > 17) break
    if (isPhone(plain)) widest = j
  }
  return widest
}

/**
 * Replaces the phone numbers in a run of numbers: the whole run if it is one, else, left to
 * right, spans of its blank-separated groups (`order 12345 254711000200`, `2026-12-05 254…`
 * join into one run): the widest span from the first group that starts one. Each step looks
 * at most 17 groups ahead (a phone number has at most 17 digits, `00` included), and the candidate scan cuts
 * runs at about 60 characters, so a long run of numbers costs linear time.
 */
function judgeRun(run: string, quantity = false): string {
  if (!quantity && (run === '' || isPhone(plainOf(run)))) return run === '' ? run : '[phone]'
  // [group, blanks, group, …]
  const parts = run.split(BLANKS)
  if (parts.length < 3) return run
  if (quantity) {
    // The last group is a quantity's number (`… 234567890ns`): what comes before is judged alone.
    const last = parts.length - 1
    return judgeRun(parts.slice(0, last - 1).join('')) + parts[last - 1] + parts[last]
  }
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
 * `%XX` escape the run starts in; what follows them is still judged. A run glued to a letter
 * after it is a quantity and its unit (`254711000200ms`, `234567890ns`), its last group kept,
 * unless it starts with a `+`, the letter starts an extension (`254711000200x`), or the run is
 * inside a word (`tel254711000200abc`, `wa-254711000200abc`), as a wa_id in a name is.
 */
function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
}

/** Whether the candidate `match` at `offset` ends in a quantity: see `replacePhone`. */
function isQuantity(match: string, offset: number, text: string): boolean {
  const end = offset + match.length
  const next = text.charCodeAt(end)
  // Only Latin letters and the micro sign write units; `０７１１…です` is a number in a sentence.
  const unit = isAsciiLetter(next) || next === 0xb5 || next === 0x3bc
  if (!unit || INTERNATIONAL.test(match)) return false
  EXTENSION.lastIndex = end
  if (EXTENSION.test(text)) return false
  let before = text.charCodeAt(offset - 1)
  // `wa-2547…`: a dash joins the run to the word before it; `-234567890ns` is a negative one.
  if (before === 45 && offset > 1) before = text.charCodeAt(offset - 2)
  return !(isAsciiLetter(before) || before === 95 || (before >= 48 && before <= 57))
}

/**
 * The ids of the word (letters, digits, dashes) a candidate last started in, each `[start, end)`
 * found by ID_AT where the word or one of its dash-joined parts starts. A word holds many
 * candidates now that a run may be glued to a letter (`a2547…b` repeated): it is read once.
 */
interface WordIds {
  text: string
  start: number
  scanned: number
  offset: number
  next: number
  ids: number[]
}

/** The end of the first id of its word that covers `offset` (one inside the word), or -1. */
function idEndAt(w: WordIds, text: string, offset: number): number {
  // replace() hands candidates over left to right: a later one in the same word reuses its ids.
  let same = text === w.text && offset >= w.offset
  for (let i = w.offset; same && i < offset; i++) same = isWordCode(text.charCodeAt(i))
  if (!same) {
    let start = offset
    while (start > 0 && isWordCode(text.charCodeAt(start - 1))) start--
    w.text = text
    w.start = w.scanned = start
    w.next = w.ids.length = 0
  }
  w.offset = offset
  // [start, end, start, end, …] of the ids where the word or a dash-joined part starts.
  for (let at = w.scanned; at < offset; at++) {
    if (at > w.start && text.charCodeAt(at - 1) !== 45) continue
    ID_AT.lastIndex = at
    const id = ID_AT.exec(text)
    if (id) w.ids.push(at, at + id[0].length)
  }
  w.scanned = Math.max(w.scanned, offset)
  // Ids that end before this candidate end before every later one.
  while (w.next < w.ids.length && (w.ids[w.next + 1] as number) <= offset) w.next += 2
  return w.next < w.ids.length && (w.ids[w.next] as number) < offset ? (w.ids[w.next + 1] as number) : -1
}

/**
 * `replacePhone` for one `String.replace` pass: the word state lives for that pass only, so that
 * no module-level state holds on to a scrubbed text.
 */
function phoneReplacer(): (match: string, offset: number, text: string) => string {
  const w: WordIds = { text: '', start: 0, scanned: 0, offset: 0, next: 0, ids: [] }
  return (match, offset, text) => replacePhone(w, match, offset, text)
}

function replacePhone(w: WordIds, match: string, offset: number, text: string): string {
  if (BASIC_TIME.test(match) && BASIC_DATE_BEFORE.test(text.slice(Math.max(0, offset - 10), offset)))
    return match
  let kept = 0
  const before = offset > 0 ? text.charCodeAt(offset - 1) : 0
  if (before === 37) {
    // `%20254…`: the escape's own two digits (four for `%2520`).
    kept = /^25(?:2[0589DdEe]|[Cc]2)/.test(match) ? 4 : 2
  } else if (isWordCode(before)) {
    // The word (letters, digits, dashes) the run starts in: an id in it may cover the run's start.
    kept = Math.max(0, idEndAt(w, text, offset) - offset)
  }
  const quantity = isQuantity(match, offset, text)
  if (!kept) return judgeRun(match, quantity)
  // The separators after the id stay as they are.
  kept += LEADING_SEPARATORS.exec(match.slice(kept))?.[0].length ?? 0
  return match.slice(0, kept) + judgeRun(match.slice(kept), quantity)
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
  // `X-Hub-Signature-256:`, `Idempotency-Key:`: a client's retry key replays its order), URL-encoded (`token%3D…`) or JSON-escaped (`{\"token\":\"…\"}`).
  // The value ends where a query string's next pair (`&`, `%26`) or an escaped quote begins.
  [
    /((?:\b|(?<=_))(?:api[-_]?key|apikey|idempotency[-_]?key|access[-_]?token|auth[-_]?token|token|secret|client[-_]?secret|password|passwd|sentry[-_]key|signature(?:-256)?)(?:\\?["'])?\s*(?:[:=]|%3[AaDd])\s*(?:\\?["'])?)(?:(?!%26|\\["'])[^\s"'&,;}])+/gi,
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

/** Whether `text` has `least` digits, of any script: 8 for a phone number, 16 for a card. */
function enoughDigits(text: string, least = 8): boolean {
  if (digitCount(text) >= least) return true
  if (!NON_ASCII.test(text)) return false
  WIDE_DIGIT.lastIndex = 0
  let digits = 0
  while (digits < least && WIDE_DIGIT.test(text)) digits++
  return digits >= least
}

/** The candidate scan for `text`: the `u` one only where other scripts' characters may be. */
function phoneCandidates(text: string): RegExp {
  return NON_ASCII.test(text) ? PHONE_CANDIDATE_WIDE : PHONE_CANDIDATE
}

/**
 * What may join a card number's groups: a space (plain, no-break, thin, narrow no-break,
 * ideographic), a dash (ASCII, Unicode's, fullwidth), a dot (ASCII, fullwidth), a form's `+`
 * for a space, and `%20`, `%2D`, `%2E`, `%C2%A0` once or twice URL-encoded (a card in a logged
 * URL or query string).
 */
const CARD_SEPARATOR = `(?:[ .+\\u00a0\\u2009\\u202f\\u3000\\u2010-\\u2015\\u2212\\uff0d\\uff0e-]|%(?:25)?(?:2[0DdEe]|[Cc]2%(?:25)?[Aa]0))`

/**
 * A payment card number candidate: 16–19 digits, as one run or in groups joined by one
 * CARD_SEPARATOR (`4242 4242 4242 4242`, `3782-822463-10005`, `4242%204242%20…`). It starts
 * outside a word, or right after a `%XX` escape (`card%3D4242…`), and ends outside one, so a
 * digit run inside a hex id (`…ab4242424242424242cd`) is not one. `digit` is `[2-6]`-led `\d`
 * for ASCII text, the common case, and `\p{Nd}` (any script's decimal digits, with the `u`
 * flag: `٤٢٤٢…`, `４２４２…`) for text with other characters, whose first digit `isCard` checks.
 * `isCard` judges the digits.
 */
function cardCandidate(first: string, digit: string, flags: string): RegExp {
  return new RegExp(
    `(?:(?<=%(?:25)?[0-9A-Fa-f]{2})|(?<![${digit === '\\d' ? '0-9' : '\\p{Nd}'}A-Za-z.%]))` +
      `${first}(?:${CARD_SEPARATOR}?${digit}){15,18}(?!${digit}|[A-Za-z]|${CARD_SEPARATOR}${digit})`,
    flags,
  )
}

// The ISO/IEC 7812 major industry identifiers 2–6: Mastercard 2-series, Amex and Diners, Visa,
// Mastercard, Discover and UnionPay.
const CARD_CANDIDATE = cardCandidate('[2-6]', '\\d', 'g')
const CARD_CANDIDATE_WIDE = cardCandidate('\\p{Nd}', '\\p{Nd}', 'gu')

/**
 * Whether a candidate, its escapes decoded and its digits in ASCII (`plainOf`), is a card
 * number: 16–19 digits from 2–6 whose Luhn checksum (ISO/IEC 7812-1 annex B) holds. Shorter
 * cards (Amex's 15, Diners' 14) are phone-shaped and the phone rule takes them; 16 digits are
 * more than E.164's 15, so without this a Visa number went out whole (`4242-4242-4242-4242`)
 * or with its last group (`[phone] 4242`). Epoch nanoseconds (19 digits from 1) are not
 * candidates; a bigint id of 16–19 digits from 2–6 passes one time in ten and is lost: a lost
 * id is better than a leaked card.
 */
function isCard(plain: string): boolean {
  let sum = 0
  let digits = 0
  let first = 0
  for (let i = plain.length - 1; i >= 0; i--) {
    const c = plain.charCodeAt(i)
    if (c < 48 || c > 57) continue
    let d = c - 48
    first = d
    if (digits % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2
    sum += d
    digits++
  }
  return digits >= 16 && digits <= 19 && first >= 2 && first <= 6 && sum % 10 === 0
}

export const CARD = '[card]'

const FIRST_CARD_SEPARATOR = new RegExp(CARD_SEPARATOR)

function scrubCards(text: string): string {
  const candidates = NON_ASCII.test(text) ? CARD_CANDIDATE_WIDE : CARD_CANDIDATE
  return text.replace(candidates, replaceCard)
}

/**
 * A candidate is the longest run it can take, so a number before the card (`qty 3 4532 0151 …`,
 * `ref ٧ ٤٥٣٢…`) makes it fail Luhn: the card may then start after one of its separators. At
 * most 18 retries, each on a shorter run, and only for a run of 16 or more digits.
 */
function replaceCard(match: string): string {
  if (isCard(plainOf(match))) return CARD
  const separator = FIRST_CARD_SEPARATOR.exec(match)
  if (!separator) return match
  const rest = separator.index + separator[0].length
  return match.slice(0, rest) + scrubCards(match.slice(rest))
}

/** Replaces card numbers, phone numbers, bearer tokens, API keys and URL passwords inside free text. */
export function scrubText(text: string): string {
  // Spans carry dozens of harmless strings (SDK, OS, integration names): skip them cheaply.
  const credentials = MAYBE_CREDENTIAL.test(text)
  const phones = enoughDigits(text)
  const urls = text.includes('://')
  if (!credentials && !phones && !urls) return text
  let out = text
  if (urls) out = out.replace(URL_PASSWORD, `$1${FILTERED}@`).replace(URL_DSN_KEY, `$1${FILTERED}@`)
  if (credentials)
    for (const [pattern, replacement] of CREDENTIAL_PATTERNS) out = out.replace(pattern, replacement)
  if (!phones) return out
  // Before phone numbers: a card's first 12 digits in groups would pass for one, leaving the rest.
  if (enoughDigits(out, 16)) out = scrubCards(out)
  return out.replace(phoneCandidates(out), phoneReplacer())
}

/**
 * The ids an event or span is linked by (trace, span, parent and segment span, event): 16 or 32
 * hex digits, all of them decimal one time in a few thousand, when a 16-digit one may pass the
 * card rule. Kept as they are, so that no event loses its trace.
 */
const STRUCTURAL_ID_KEY = /^(?:trace_id|span_id|parent_span_id|segment_id|event_id)$/
const HEX_ID = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/

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
        : STRUCTURAL_ID_KEY.test(key) && typeof current === 'string' && HEX_ID.test(current)
          ? current
          : scrubValue(current, seen, depth + 1)
    // A key is data too: a thrown plain object (`{ '+2547…': … }`, Sentry's `__serialized__`
    // extra), a map keyed by phone number or card, a header named by a client.
    const name = scrubText(key)
    if (name !== key) {
      delete record[key]
      record[name] = next
    } else if (next !== current) {
      // Only what changed is written back: an SDK's getter-only property would throw on assignment.
      record[key] = next
    }
  }
  return value
}

/** Scrubs every string and every sensitive key of `value`, in place. */
export function scrubDeep<T>(value: T): T {
  return scrubValue(value, new WeakSet(), 0) as T
}
