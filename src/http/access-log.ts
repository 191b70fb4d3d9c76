import { Elysia, StatusMap } from 'elysia'
import { fixedLineWriter, type Logger } from '../core/logger.ts'
import { type RequestState, requestState, SAFE_REQUEST_ID } from './request-context.ts'

/** The subset of Elysia's after-response context that tells what was actually sent. */
export interface SentContext {
  request: Request
  set: { status?: number | string }
  response?: unknown
  responseValue?: unknown
}

/**
 * Where the HTTP metrics hook leaves the status it resolved while the response was produced,
 * on Elysia's per-request context.
 */
export const SENT_STATUS = Symbol('sentStatus')
/**
 * Where the HTTP metrics hook leaves the duration it observed, in milliseconds, so that the
 * access line's `durationMs` is that very measurement (its exemplar's value, × 1000) and
 * the request's end is read from the clock once, not once per hook.
 */
export const SENT_DURATION_MS = Symbol('sentDurationMs')
/**
 * Where the HTTP metrics hook leaves the wall-clock milliseconds it stamped the request's
 * duration exemplar with, so that the access line carries that very instant as its `time`:
 * the line and the exemplar of one request agree, and the clock (about 40 ns a reading) is
 * read once for both. Absent when no exemplar was recorded.
 */
export const SENT_TIME_MS = Symbol('sentTimeMs')
export type StatusStamped = {
  [SENT_STATUS]?: number
  [SENT_DURATION_MS]?: number
  [SENT_TIME_MS]?: number
}

/** Status recorded for a request whose client went away before the response (nginx's convention). */
export const CLIENT_CLOSED_REQUEST = 499

/** The route of every request that matched no route (in metrics and in the access log). */
export const UNMATCHED_ENDPOINT = '<unmatched>'

/**
 * Requests answered faster than this are not checked for a client disconnect (499), and are
 * recorded with the status they were answered with even if their client has gone.
 *
 * Why: reading `request.signal` makes Bun build an AbortSignal. For a request still in
 * flight after an await (a database read) that cost 1.8 µs of CPU per request served, 4 % of
 * `GET /products/:id` on PostgreSQL (paired bursts, 10 × 3 s, median); at a 1 ms threshold
 * every such request under load paid it. A client that gives up within 100 ms is rare (no
 * common client timeout is that short, and a person does not navigate away that fast), and
 * its request was served all the same; the ones that matter, timeouts and abandoned slow
 * requests, are all slower than this.
 */
export const DISCONNECT_CHECK_SECONDS = 0.1

/**
 * The status of the response actually sent. Elysia's `set.status` is not reliable for this
 * (it stays 200 for 404s and for handlers that return a Response), so prefer, in order: 499
 * when the client disconnected before the response, the status our error handler chose,
 * then what the handler's result says (`responseStatus`).
 */
export function sentStatus(ctx: SentContext): number {
  if (ctx.request.signal.aborted) return CLIENT_CLOSED_REQUEST
  return requestState(ctx.request)?.errorStatus ?? responseStatus(ctx)
}

/**
 * sentStatus() in the order that is cheap on the request path, for a mapResponse hook:
 * `request.signal` (Bun creates an AbortSignal on first read, see DISCONNECT_CHECK_SECONDS)
 * only once the request has taken long enough to have been given up on, and the per-request
 * state only on the error path. The context's fields come one by one, as arguments: a hook
 * handing its whole context to a function makes Elysia parse headers, query and cookies of
 * every request (Elysia reads hook sources, about 3 µs), and an object literal of them would
 * be an allocation per request.
 */
export function decidedStatus(
  request: Request,
  set: SentContext['set'],
  response: unknown,
  responseValue: unknown,
  error: unknown,
  elapsedSeconds: number,
): number {
  if (elapsedSeconds >= DISCONNECT_CHECK_SECONDS && request.signal.aborted) return CLIENT_CLOSED_REQUEST
  return error === undefined
    ? resultStatus(set, response, responseValue)
    : (requestState(request)?.errorStatus ?? resultStatus(set, response, responseValue))
}

/**
 * The status the handler's result gives, for a request that did not go through the error
 * handler: the Response object, a returned `status(...)`, then `set`.
 */
export function responseStatus(ctx: Omit<SentContext, 'request'>): number {
  return resultStatus(ctx.set, ctx.response, ctx.responseValue)
}

function resultStatus(set: SentContext['set'], response: unknown, responseValue: unknown): number {
  if (response instanceof Response) return response.status
  const value = responseValue as { code?: unknown } | undefined
  if (value instanceof Response) return value.status
  if (value && typeof value === 'object' && value.constructor?.name === 'ElysiaCustomStatusResponse') {
    if (typeof value.code === 'number') return value.code
  }
  const status = set.status
  if (typeof status === 'number') return status
  if (typeof status === 'string') return (StatusMap as Record<string, number>)[status] ?? 200
  return 200
}

/** A predicate for route templates to leave out: exact matches, or prefixes when written with a trailing `*`. */
export function pathExcluder(patterns: readonly string[]): (path: string) => boolean {
  const exact = new Set(patterns.filter((p) => !p.endsWith('*')))
  const prefixes = patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1))
  if (exact.size === 0 && prefixes.length === 0) return () => false
  return (path) => {
    if (exact.has(path)) return true
    for (const prefix of prefixes) if (path.startsWith(prefix)) return true
    return false
  }
}

/**
 * Probe routes whose requests are not in the access log unless configured otherwise
 * (`ACCESS_LOG_PROBES=true`): load balancers and Prometheus call them every few seconds, and
 * their lines would bury the traffic. They stay counted in http_requests_in_flight.
 */
export const DEFAULT_UNLOGGED_PATHS = ['/metrics', '/health*'] as const

export interface AccessLogOptions {
  /** The root logger; lines go to its destination with its bindings, at `info`. */
  log: Logger
  /** Monotonic milliseconds, the clock of RequestState.startedAt. */
  now: () => number
  /** Route templates whose requests are not logged (default DEFAULT_UNLOGGED_PATHS; `[]` logs all). */
  excludePaths?: readonly string[]
  /** Where the plugin adds its AnswerRecorder, for answers given outside Elysia (escapedErrors). */
  answerRecorders?: AnswerRecorder[]
}

/**
 * Records a request answered outside Elysia's lifecycle, where no mapResponse hook ran:
 * its route template ('' when none matched), the status sent and the milliseconds since its
 * start. Each plugin's recorder does nothing for a request it has recorded already.
 */
export type AnswerRecorder = (request: Request, route: string, status: number, elapsedMs: number) => void

/** The HTTP methods of RFC 9110 and PATCH: the ones kept by name in metrics and log caches. */
export const STANDARD_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
])

/**
 * One `request` line at `info` per request, written when the response is decided:
 *
 *   {"level":"info","time":"…","name":"convo-commerce","requestId":"…","trace_id":"…",
 *    "method":"GET","route":"/products/:id","status":200,"durationMs":1.234,"tenantId":"…",
 *    "msg":"request"}
 *
 * `route` is the route template (`<unmatched>` when no route matched), never the path, so no
 * path parameter or query string (a phone number, a token) can reach the line; `tenantId` is
 * there once tenant authentication succeeded. `trace_id` is the request's W3C trace id (always
 * 32 hex digits, so written unescaped), the one its exemplars and Sentry events carry. The
 * line's fields are fixed, so it is written by a FixedLineWriter, past pino's redaction and
 * serialisation (several µs per line), in pieces that are encoded straight into the log
 * destination's buffer: no string per line.
 *
 * From mapResponse, as the HTTP metrics are (see httpMetrics for the hook's contract), not
 * onAfterResponse: Elysia runs after-response hooks through a `setImmediate(async …)` per
 * request, which costs about as much CPU as a bare request. `durationMs` is therefore the time
 * until the response was decided: with metrics on, the very duration
 * http_request_duration_seconds observed (SENT_DURATION_MS), else the same span from the
 * request state's start; a streamed body's transfer is not in it. `time` is the timestamp of
 * the request's duration exemplar when it has one (SENT_TIME_MS), so that a line and its
 * exemplar name the same instant. Responses an `onRequest` hook returns by itself (a CORS
 * preflight) do not pass mapResponse and are not logged.
 */
export function accessLog(options: AccessLogOptions) {
  // Every line's fields open with the request id's: part of the line's cached start.
  const line = fixedLineWriter(options.log, 'info', 'request', ',"requestId":"')
  const excluded = pathExcluder(options.excludePaths ?? DEFAULT_UNLOGGED_PATHS)
  // Per route template: undefined when excluded, else per standard method and status the JSON
  // from the trace id's closing quote to `"durationMs":`, one append where it took three.
  // Templates are the app's routes plus `<unmatched>` and statuses are three digits, so this
  // stays as small as the route table times the nine methods times the statuses answered.
  const routes = new Map<string, Map<string, Map<number, string>> | undefined>()
  const middleOf = (method: string, template: string, status: number) =>
    `","method":${JSON.stringify(method)},"route":${JSON.stringify(template)},"status":${status},"durationMs":`
  // Most lines under load are one tenant's after another's: keep the last one's field.
  let lastTenant: string | undefined
  let lastTenantField = ''

  /** Writes the line of one request under `template` (already known not to be excluded). */
  const write = (
    state: RequestState,
    byMethod: Map<string, Map<number, string>>,
    method: string,
    template: string,
    status: number,
    elapsedMs: number,
    timeMs: number | undefined,
  ) => {
    let byStatus = byMethod.get(method)
    // Any method string a client sends would grow the map: only the standard ones stay.
    if (byStatus === undefined && STANDARD_METHODS.has(method)) {
      byStatus = new Map()
      byMethod.set(method, byStatus)
    }
    let middle = byStatus?.get(status)
    if (middle === undefined) {
      middle = middleOf(method, template, status)
      if (Number.isInteger(status) && status >= 100 && status <= 999) byStatus?.set(status, middle)
    }
    const id = state.requestId
    line.begin(timeMs)
    // Between the quotes the writer's lead opened and the one after: escaped if it must be.
    line.text(SAFE_REQUEST_ID.test(id) ? id : JSON.stringify(id).slice(1, -1))
    line.text('","trace_id":"')
    line.text(state.traceId)
    line.text(middle)
    line.decimal(elapsedMs)
    const tenantId = state.tenantId
    if (tenantId !== undefined) {
      if (tenantId !== lastTenant) {
        lastTenant = tenantId
        lastTenantField = `,"tenantId":${JSON.stringify(tenantId)}`
      }
      line.text(lastTenantField)
    }
    line.end()
  }
  /** The per-method caches of a route template, undefined when the template is not logged. */
  const routeCaches = (template: string) => {
    let byMethod = routes.get(template)
    if (byMethod === undefined && !routes.has(template)) {
      byMethod = excluded(template) ? undefined : new Map()
      routes.set(template, byMethod)
    }
    return byMethod
  }
  /**
   * Logs a request answered outside Elysia's lifecycle (escapedErrors), unless its line was
   * written already: under `route` (empty: no route matched), with `status`, `elapsedMs`.
   */
  const recordAnswer: AnswerRecorder = (request, route, status, elapsedMs) => {
    const state = requestState(request)
    if (state === undefined || state.accessLogged !== undefined || !line.enabled()) return
    state.accessLogged = true
    const template = route || UNMATCHED_ENDPOINT
    const byMethod = routeCaches(template)
    if (byMethod !== undefined) write(state, byMethod, request.method, template, status, elapsedMs, undefined)
  }

  const plugin = new Elysia({ name: 'access-log' }).mapResponse({ as: 'global' }, (context) => {
    const error = (context as { error?: unknown }).error
    const request = context.request
    const state = requestState(request)
    // Once per request, even if a later mapResponse hook throws and Elysia maps the error again.
    if (state !== undefined && state.accessLogged === undefined && line.enabled()) {
      state.accessLogged = true
      const template = context.route || UNMATCHED_ENDPOINT
      const byMethod = routeCaches(template)
      if (byMethod !== undefined) {
        // `context` is read field by field, never held under another name: Elysia reads the
        // hook's source, and an alias of the context makes it parse the body, headers, query
        // and cookies of every request (about 2 µs; tests/http/hook-inference.test.ts).
        const elapsedMs = (context as StatusStamped)[SENT_DURATION_MS] ?? options.now() - state.startedAt
        const status =
          (context as StatusStamped)[SENT_STATUS] ??
          decidedStatus(
            request,
            context.set,
            context.response,
            (context as SentContext).responseValue,
            error,
            elapsedMs / 1000,
          )
        write(
          state,
          byMethod,
          request.method,
          template,
          status,
          elapsedMs,
          (context as StatusStamped)[SENT_TIME_MS],
        )
      }
    }
    // As in httpMetrics: on the error path hand the response back, elsewhere return nothing.
    return error === undefined ? undefined : (context.response as never)
  })
  options.answerRecorders?.push(recordAnswer)
  return plugin
}
