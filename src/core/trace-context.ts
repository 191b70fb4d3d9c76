/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): reading an incoming `traceparent`,
 * writing an outgoing one, and making new trace and span ids. Web-standard (Web Crypto only),
 * so every runtime shares it.
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
