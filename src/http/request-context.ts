import { Elysia } from 'elysia'
import { invalidJson, payloadTooLarge, unsupportedMediaType } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { scrubText } from '../core/scrub.ts'
import {
  createTraceIds,
  parseTraceparent,
  parseTracestate,
  SAMPLED_FLAGS,
  type TraceIds,
} from '../core/trace-context.ts'
import { DECIMAL_QUERY_PARAMETERS, fieldError } from '../shared/models.ts'
import { parseJsonText, type UnstorableText, unstorableText, unstorableTextError } from './json-body.ts'

/** What the service knows about one request while serving it. */
export interface RequestState {
  requestId: string
  /**
   * W3C trace id (32 lowercase hex): the incoming `traceparent`'s when it is valid, else the
   * error tracker's trace when it has one for this request (Sentry), else a new one. On every
   * log line of the request, on its exemplars and on its outbound calls' `traceparent`.
   */
  traceId: string
  /** The trace flags to propagate (2 hex; `01` = sampled for a trace this service started). */
  traceFlags: string
  /** The caller's span id from `traceparent` (16 hex), when the trace was continued. */
  parentSpanId?: string
  /**
   * The incoming `tracestate` to forward on the request's outbound calls (parseTracestate's
   * value: valid, at most 32 members and 512 characters), only when the trace was continued
   * from a valid `traceparent`. Opaque vendor data: never logged, never reported.
   */
  traceState?: string
  /**
   * The request's logger: the root logger bound to `requestId` and `trace_id`, and to
   * `tenantId` once it is set. Created on first use, so a request that logs nothing but its
   * access line costs no pino child.
   */
  log: Logger
  /** Monotonic milliseconds when the request arrived. */
  startedAt: number
  /** Status of the error envelope sent, when the error handler produced the response. */
  errorStatus?: number
  /** Set once the error has been reported (Sentry), so it is reported exactly once. */
  errorReported?: boolean
  /** The authenticated tenant (tenantAuth); the request logger is bound to it from then on. */
  tenantId?: string
  /** The raw request body as text, kept for signature checks (webhooks). */
  rawBody?: string
  /**
   * A string in the JSON body that PostgreSQL cannot store (U+0000, an unpaired surrogate),
   * found while parsing and refused (422) once the request is authenticated.
   */
  unstorableBody?: UnstorableText
  /** Set when the access-log line is written, so that it is written once. */
  accessLogged?: true
  /** Set when the HTTP metrics have recorded the request, so that it is counted once. */
  counted?: true
}

/** The request ids accepted from clients; such an id needs no escaping in JSON. */
export const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

const UUID_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * Accepts an incoming x-request-id only when it is short, made of safe characters and holds
 * nothing the scrubber (core/scrub.ts scrubText) would replace: a bot that names its requests
 * by the sender's wa_id (`wa-254711000200`, `customer254711000200`, `0711.000.200`), a client
 * that sends its `ck_…` API key or a card number (`4242424242424242`) as the id, would have it
 * in every log line, error body, exemplar and Sentry tag of the request. Any other is replaced
 * by `generate()`. A UUID, the common id, skips the scrubber.
 */
export function pickRequestId(incoming: string | null, generate: () => string): string {
  return incoming && isSafeRequestId(incoming) ? incoming : generate()
}

/**
 * Whether `id` may be shown as a request id: SAFE_REQUEST_ID's characters and length, and
 * nothing in it that scrubText would change (phone number, card number, credential; a UUID is
 * always safe). The scrubber's own judgement, so that what it learns to hide is refused here
 * too. pickRequestId's test, for ids that come back from another system (an exemplar's
 * `request_id` read from Prometheus).
 */
export function isSafeRequestId(id: string): boolean {
  return SAFE_REQUEST_ID.test(id) && (UUID_ID.test(id) || scrubText(id) === id)
}

/**
 * RequestState whose logger is made on first use: pino's child() serialises its bindings
 * and copies the logger (about 0.5 µs, 1.5 µs through pino's redactor), which most requests,
 * logging only their access line, never need. Authentication only sets `tenantId`; the
 * logger made afterwards carries it, and one made before it gets a child with it.
 */
class LazyLogState implements RequestState {
  traceFlags = SAMPLED_FLAGS
  parentSpanId?: string
  traceState?: string
  errorStatus?: number
  errorReported?: boolean
  tenantId?: string
  rawBody?: string
  unstorableBody?: UnstorableText
  accessLogged?: true
  counted?: true
  #log: Logger | undefined
  /** The tenantId `#log` is bound to. */
  #logTenant: string | undefined
  readonly #root: Logger

  constructor(
    public requestId: string,
    public traceId: string,
    public startedAt: number,
    root: Logger,
  ) {
    this.#root = root
  }

  get log(): Logger {
    const log = this.#log
    const tenantId = this.tenantId
    if (log !== undefined && this.#logTenant === tenantId) return log
    this.#logTenant = tenantId
    this.#log =
      log !== undefined
        ? log.child({ tenantId })
        : this.#root.child(
            tenantId === undefined
              ? { requestId: this.requestId, trace_id: this.traceId }
              : { requestId: this.requestId, trace_id: this.traceId, tenantId },
          )
    return this.#log
  }

  set log(log: Logger) {
    this.#log = log
    this.#logTenant = this.tenantId
  }
}

/**
 * Where the state hangs on the Request object: a property lookup, where a WeakMap entry per
 * request cost two to ten times as much (and its clean-up falls to the garbage collector).
 */
const STATE = Symbol('requestState')
type WithState = Request & { [STATE]?: RequestState }

/**
 * The per-request state. Kept on the Request object so that it is available in every
 * lifecycle hook, including errors raised before Elysia's derive/resolve hooks run.
 */
export function requestState(request: Request): RequestState | undefined {
  return (request as WithState)[STATE]
}

/**
 * Reads a request body's bytes, refusing to buffer more than `limit`.
 * @throws AppError 413 PAYLOAD_TOO_LARGE past `limit` (declared or streamed).
 */
export async function readBodyLimited(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length')
  if (declared !== null && Number(declared) > limit) throw payloadTooLarge(limit)
  if (!request.body) return new Uint8Array(0)
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel().catch(() => {})
      throw payloadTooLarge(limit)
    }
    chunks.push(value)
  }
  const body = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    body.set(chunk, offset)
    offset += chunk.byteLength
  }
  return body
}

/**
 * A body's text, its bytes read as UTF-8 (a leading BOM dropped).
 * @throws AppError 400 INVALID_JSON when the bytes are not UTF-8 (RFC 8259 §8.1): a lenient
 *   decode would put U+FFFD in place of each bad byte, and the service would store and
 *   acknowledge a text other than the one sent.
 */
export function bodyText(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw invalidJson('Request body is not UTF-8 text; JSON must be encoded in UTF-8')
  }
}

export interface RequestContextOptions {
  log: Logger
  maxBodyBytes: number
  newId: () => string
  /** Where new trace ids come from (default: trace-context.ts createTraceIds()). */
  traceIds?: TraceIds
  /**
   * The error tracker's trace id for the request being served, when it runs one (Sentry's
   * active span): used when the request brought no valid `traceparent`, so that the log lines,
   * the exemplars and the Sentry event share one id.
   */
  activeTraceId?: () => string | undefined
  now: () => number
  /** Routes whose handler gets the raw body text (signature checks happen before parsing). */
  rawBodyPaths?: string[]
  /**
   * Routes whose handler reads `request.body` as a stream itself, each with its own size limit
   * (bytes) instead of `maxBodyBytes`; their body reaches the handler as `STREAMED_BODY`.
   */
  streamedBodies?: Record<string, number>
  /**
   * The query parameters the matched route declares (method, path template), or undefined
   * for a route without a query schema: those are checked for repetition and decimal integers.
   */
  queryParameters?: (method: string, route: string) => ReadonlySet<string> | undefined
}

/** The parsed body of a `streamedBodies` route: the handler reads the request stream itself. */
export const STREAMED_BODY: Readonly<Record<string, never>> = Object.freeze({})

/**
 * Request id, trace context, per-request state (with its logger, made on first use) and bounded
 * JSON body parsing. Registered before every hook that reads the state (access log, errors,
 * and securityHeaders, which echoes the request id as `x-request-id`).
 *
 * The trace: an incoming W3C `traceparent` is continued (its trace id and flags, and its
 * `tracestate` as parseTracestate keeps it), an invalid one is ignored with its `tracestate`
 * as the specification says; otherwise the request joins the error tracker's
 * trace (`activeTraceId`) or starts a new one.
 *
 * Bodies over `maxBodyBytes` are refused with 413 in the parse step, by their declared
 * length before a byte is read, or once the streamed size passes the limit. Not earlier, in
 * onRequest: that runs before routing, so the refusal would be counted and logged under no
 * route (`<unmatched>`) instead of the route's template. Elysia parses the body of every
 * routed request except GET and HEAD, whose bodies are never read. JSON bodies are parsed by
 * parseJsonText (http/json-body.ts): text that is not JSON, or nests past MAX_JSON_DEPTH, is
 * a 400 before authentication; U+0000 or an unpaired surrogate in a string is a 422 naming the
 * field, after authentication and the schema, as the schema's own 422s are.
 */
/**
 * What a route's query schema cannot see of the parameters it declares: one given twice
 * (Elysia keeps the last, so `?status=paid&status=pending` silently meant pending) and an
 * integer not in decimal digits. Parameters a route does not declare are the schema's
 * business (refused as unknown) or nobody's (a route without a query schema ignores them: a
 * scrape's repeated `collect[]` must not fail /metrics). Throws 422 VALIDATION naming it.
 */
function checkQueryText(query: string, declared: ReadonlySet<string>): void {
  const seen = new Set<string>()
  for (const [key, value] of new URLSearchParams(query)) {
    if (!declared.has(key)) continue
    if (seen.has(key)) throw fieldError(key, 'must be given once', 'query')
    seen.add(key)
    if (DECIMAL_QUERY_PARAMETERS.has(key) && !/^[0-9]+$/.test(value))
      throw fieldError(key, 'Expected integer in decimal digits', 'query')
  }
}

const UNCOMPRESSED = 'Request body must be sent uncompressed: no content-encoding is accepted'

export function requestContext(options: RequestContextOptions) {
  const activeTraceId = options.activeTraceId
  const traceIds = options.traceIds ?? createTraceIds()
  return new Elysia({ name: 'request-context' })
    .onRequest(({ request }) => {
      const headers = request.headers
      const requestId = pickRequestId(headers.get('x-request-id'), options.newId)
      const incoming = parseTraceparent(headers.get('traceparent'))
      const traceId = incoming?.traceId ?? activeTraceId?.() ?? traceIds.traceId()
      const state = new LazyLogState(requestId, traceId, options.now(), options.log)
      if (incoming) {
        state.traceFlags = incoming.flags
        state.parentSpanId = incoming.parentId
        // Read only with a valid traceparent (§3.3); one without it starts a trace of its own.
        const traceState = parseTracestate(headers.get('tracestate'))
        if (traceState !== undefined) state.traceState = traceState
      }
      ;(request as WithState)[STATE] = state
    })
    .onParse({ as: 'global' }, async ({ request, contentType }) => {
      // RFC 9110 §15.5.16: a content coding the server does not decode is a 415. Read as is,
      // a gzip body was a 400 about bytes that are not UTF-8, which sends the client astray.
      const coding = request.headers.get('content-encoding')?.trim().toLowerCase()
      if (coding && coding !== 'identity') throw unsupportedMediaType(UNCOMPRESSED)
      const path = pathOf(request.url)
      const streamedLimit = options.streamedBodies?.[path]
      if (streamedLimit !== undefined) {
        // The handler reads the stream under this limit; a declared length over it is refused now.
        const declared = request.headers.get('content-length')
        if (declared !== null && Number(declared) > streamedLimit) throw payloadTooLarge(streamedLimit)
        return STREAMED_BODY
      }
      const bytes = await readBodyLimited(request, options.maxBodyBytes)
      const state = requestState(request)
      const raw = options.rawBodyPaths?.includes(path) === true
      const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase()
      // A body in another media type is 415 whatever its bytes; JSON's must be UTF-8.
      if (!raw && type !== '' && type !== 'application/json' && !type.endsWith('+json'))
        throw unsupportedMediaType()
      const text = bodyText(bytes)
      if (state) state.rawBody = text
      if (raw) return text
      if (text.trim() === '') throw invalidJson('Request body is empty; expected a JSON document')
      const value = parseJsonText(text)
      const found = unstorableText(text, value)
      if (found !== undefined) {
        if (!state) throw unstorableTextError(found)
        state.unstorableBody = found
      }
      return value
    })
    .onBeforeHandle({ as: 'global' }, ({ request, route }) => {
      // A content fault, like the schema's 422s: answered after authentication (a wrong key
      // is a 401 whatever the body holds), and before any handler could store the text.
      const found = (request as WithState)[STATE]?.unstorableBody
      if (found !== undefined) throw unstorableTextError(found)
      const start = request.url.indexOf('?')
      if (start >= 0) {
        const declared = options.queryParameters?.(request.method, route)
        if (declared) checkQueryText(request.url.slice(start + 1), declared)
      }
    })
}

/**
 * A request's path as the route table knows it: Elysia serves `/alerts/alertmanager/` with
 * the route of `/alerts/alertmanager` (its paths are not strict), so a body rule keyed by the
 * route must find it too. A receiver's URL written with the slash was refused above the
 * general body limit (413 on a storm), and a signed WhatsApp body parsed before its check.
 */
function pathOf(url: string): string {
  const path = new URL(url).pathname
  return path.length > 1 && path.endsWith('/') ? path.replace(/\/+$/, '') || '/' : path
}
