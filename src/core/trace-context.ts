/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): reading an incoming `traceparent`
 * and `tracestate`, writing an outgoing `traceparent`, and making new trace and span ids.
 * Web-standard (Web Crypto only), so every runtime shares it.
 */

/** A trace as a request carries it: the 32-hex trace id and the 2-hex trace flags. */
export interface TraceContext {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string
  /** 16 lowercase hex digits of the caller's span (the parent of ours); absent for a trace we started. */
  parentId?: string
  /** 2 lowercase hex digits; bit 0 is `sampled`. */
  flags: string
}

/**
 * Flags of a trace this service starts: `sampled`, because every request it serves is
 * recorded (its access-log line, its exemplars and, with Sentry on, its events).
 */
export const SAMPLED_FLAGS = '01'

const ZERO_TRACE_ID = '0'.repeat(32)
const ZERO_PARENT_ID = '0'.repeat(16)
// version "-" trace-id "-" parent-id "-" trace-flags, lowercase hex only (§3.2.2).
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})/

/**
 * Parses a `traceparent` header value as the W3C Trace Context §3.2 and §4.3 ("versioning of
 * traceparent") read it: version `00` is exactly 55 characters; a later version is at least
 * that long and its first four fields are read, the next character being `-` when there is
 * more; version `ff`, an all-zero trace id or parent id, upper-case hex or any other shape is
 * invalid. Returns undefined for an invalid or absent value, and the caller then starts a new
 * trace (§4.3: "the vendor MUST ignore the traceparent").
 */
export function parseTraceparent(value: string | null | undefined): TraceContext | undefined {
  if (!value || value.length < 55) return undefined
  const match = TRACEPARENT.exec(value)
  if (!match) return undefined
  const [, version, traceId, parentId, flags] = match as unknown as [string, string, string, string, string]
  if (version === 'ff') return undefined
  if (version === '00' ? value.length !== 55 : value.length > 55 && value[55] !== '-') return undefined
  if (traceId === ZERO_TRACE_ID || parentId === ZERO_PARENT_ID) return undefined
  return { traceId, parentId, flags }
}

/** Whether `value` is a valid W3C trace-id: 32 lowercase hex digits, not all zero (§3.2.2.3). */
export function isTraceId(value: string): boolean {
  return value.length === 32 && value !== ZERO_TRACE_ID && /^[0-9a-f]{32}$/.test(value)
}

/**
 * The `traceparent` value (version 00) of a call made in `trace` from our span `spanId`, with
 * `flags` (2 hex) reduced to the one bit version 00 defines, `sampled`: §3.2.2.5.2 ("Other
 * Flags ... Vendors MUST set those to zero") and §4.3 ("Vendors will set all unparsed / unknown
 * trace-flags to 0 on outgoing requests"), as OpenTelemetry Go's TraceContext.Inject masks
 * with FlagsSampled. So a caller's `ff`, or a later version's flags, leave as `01`.
 */
export function formatTraceparent(traceId: string, spanId: string, flags: string = SAMPLED_FLAGS): string {
  return `00-${traceId}-${spanId}-${Number.parseInt(flags, 16) & 1 ? '01' : '00'}`
}

/** At most this many list-members in a `tracestate` (§3.3.1.1, the ABNF's `0*31`). */
export const TRACESTATE_MAX_MEMBERS = 32
/**
 * The longest `tracestate` this service forwards (characters, commas included): the 512 the
 * specification asks a vendor to propagate at least (§3.3.1.5, "tracestate Limits").
 */
export const TRACESTATE_MAX_LENGTH = 512
/** Entries longer than this are the first to go when the list is cut to length (§3.3.1.5). */
const TRACESTATE_LONG_ENTRY = 128
// §3.3.1.3.1 (Level 1): simple-key = lcalpha 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/");
// multi-tenant-key = tenant-id "@" system-id, tenant-id = (lcalpha / DIGIT) 0*240(…),
// system-id = lcalpha 0*13(…). The W3C test suite's tracestate.py has the same expressions.
const TRACESTATE_KEY = /^(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})$/
// §3.3.1.3.2: value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr; nblk-chr = %x21-2B /
// %x2D-3C / %x3E-7E. So 1 to 256 printable ASCII characters, no `,` or `=`, no trailing space.
const TRACESTATE_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/
// OWS (RFC 7230 §3.2.3) around a list-member: spaces and horizontal tabs.
const OWS_AROUND = /^[ \t]+|[ \t]+$/g

/**
 * Reads an incoming `tracestate` (W3C Trace Context Level 1 §3.3) and returns the value to
 * forward: its list-members in their order, joined by `,` without optional whitespace, or
 * undefined when there is nothing to forward. `value` is the combined field: the Fetch
 * `Headers.get` joins several `tracestate` lines with `, ` as RFC 7230 §3.2.2 and §3.3.1.1
 * ask. Call it only for a request whose `traceparent` is valid (§3.3: "If the vendor failed to
 * parse traceparent, it MUST NOT attempt to parse tracestate").
 *
 * The rules, mirroring the W3C test suite (test/test.py, STRICT_LEVEL 2) where the spec lets
 * a vendor choose:
 * - empty and whitespace-only list-members are dropped (§3.3.1.1); OWS around a member is
 *   dropped, a space inside it is not (`foo =1` is an invalid key, `foo= 1` keeps its value);
 * - a key or value outside the grammar above, a member without `=`, a key given twice (in one
 *   line or across lines) or more than 32 members: the whole header is invalid and dropped,
 *   as test_tracestate_duplicated_keys, _key_illegal_*, _value_illegal_characters and
 *   _member_count_limit expect (OpenTelemetry JS's TraceState instead keeps the valid members
 *   and the first 32, and drops a header over 512 characters whole; the test suite is the
 *   conformance test, so it wins);
 * - a valid list longer than TRACESTATE_MAX_LENGTH is cut by whole entries (§3.3.1.5):
 *   entries longer than 128 characters go first, the right-most of them first, then entries
 *   from the end, until it fits.
 *
 * The value is opaque vendor data, which may hold anything a vendor chose to put there: it is
 * forwarded to the calls that continue the trace and never logged or reported.
 */
export function parseTracestate(value: string | null | undefined): string | undefined {
  if (!value) return undefined
  const entries: string[] = []
  const keys = new Set<string>()
  for (const raw of value.split(',')) {
    const member = raw.replace(OWS_AROUND, '')
    if (member === '') continue
    const equals = member.indexOf('=')
    if (equals < 0) return undefined
    const key = member.slice(0, equals)
    if (!TRACESTATE_KEY.test(key) || !TRACESTATE_VALUE.test(member.slice(equals + 1))) return undefined
    if (keys.has(key)) return undefined
    keys.add(key)
    entries.push(member)
    if (entries.length > TRACESTATE_MAX_MEMBERS) return undefined
  }
  if (entries.length === 0) return undefined
  return truncateTracestate(entries).join(',') || undefined
}

/** `entries` cut by whole entries to TRACESTATE_MAX_LENGTH joined, as §3.3.1.5 orders. */
function truncateTracestate(entries: string[]): string[] {
  // Joined length: the entries plus one comma between each two.
  let length = entries.reduce((sum, entry) => sum + entry.length, -1) + entries.length
  while (length > TRACESTATE_MAX_LENGTH && entries.length > 0) {
    let drop = entries.length - 1
    for (let i = entries.length - 1; i >= 0; i--) {
      if (entries[i]!.length > TRACESTATE_LONG_ENTRY) {
        drop = i
        break
      }
    }
    length -= entries[drop]!.length + 1
    entries.splice(drop, 1)
  }
  return entries
}

const HEX_DIGITS = new TextEncoder().encode('0123456789abcdef')
const POOL_BYTES = 4096

/**
 * Random lowercase hex strings from a pool of random bytes refilled 4 KiB at a time (one
 * `getRandomValues` call per 256 trace ids instead of one per request). The digits are
 * written as ASCII bytes and decoded once: a string built by 16 concatenations is a rope
 * that costs as much again to flatten when the log line is joined (about 400 ns against 170).
 */
export function randomHexSource(
  fill: (bytes: Uint8Array) => unknown = (bytes) => crypto.getRandomValues(bytes),
) {
  const pool = new Uint8Array(POOL_BYTES)
  let position = POOL_BYTES
  const decoder = new TextDecoder()
  // One digits array per length, decoded whole: a subarray view per call cost about 90 ns,
  // almost half of the id (211 against 118 ns).
  const digitsOf: Array<Uint8Array | undefined> = []
  // `bytes` is at most 32 (trace ids take 16, span ids 8).
  return (bytes: number): string => {
    if (position + bytes > POOL_BYTES) {
      fill(pool)
      position = 0
    }
    let digits = digitsOf[bytes]
    if (digits === undefined) {
      digits = new Uint8Array(2 * bytes)
      digitsOf[bytes] = digits
    }
    for (let i = 0; i < bytes; i++) {
      const byte = pool[position++]!
      digits[2 * i] = HEX_DIGITS[byte >> 4]!
      digits[2 * i + 1] = HEX_DIGITS[byte & 15]!
    }
    return decoder.decode(digits)
  }
}

/** Makes trace ids (16 random bytes) and span ids (8 random bytes), as §3.2.2.3 and §3.2.2.4 ask. */
export interface TraceIds {
  /** 32 lowercase hex digits; never all zero. */
  traceId(): string
  /** 16 lowercase hex digits; never all zero. */
  spanId(): string
}

/** TraceIds from `randomHexSource`; an all-zero draw (probability 2^-64 or less) is drawn again. */
export function createTraceIds(hex: (bytes: number) => string = randomHexSource()): TraceIds {
  return {
    traceId() {
      let id = hex(16)
      while (id === ZERO_TRACE_ID) id = hex(16)
      return id
    },
    spanId() {
      let id = hex(8)
      while (id === ZERO_PARENT_ID) id = hex(8)
      return id
    },
  }
}
