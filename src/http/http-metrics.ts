import { Elysia } from 'elysia'
import {
  type CounterSeries,
  type ExemplarLabels,
  type HistogramSeries,
  traceExemplar,
} from '../observability/instruments.ts'
import {
  type AnswerRecorder,
  DISCONNECT_CHECK_SECONDS,
  decidedStatus,
  pathExcluder,
  SENT_DURATION_MS,
  SENT_STATUS,
  SENT_TIME_MS,
  type SentContext,
  STANDARD_METHODS,
  type StatusStamped,
  UNMATCHED_ENDPOINT,
} from './access-log.ts'
import type { HttpInstruments } from './http-instruments.ts'
import { requestState } from './request-context.ts'

// The `endpoint` of every request that matched no route (scanners cannot create series) and the
// template matcher are shared with the access log, which needs them whether metrics are on or off.
export { DISCONNECT_CHECK_SECONDS, pathExcluder, UNMATCHED_ENDPOINT }
/** The `method` of anything outside the standard methods (a client controls that string). */
export const OTHER_METHOD = '_OTHER'
/** Routes not counted unless configured otherwise; a trailing `*` matches any continuation. */
export const DEFAULT_EXCLUDED_PATHS = ['/metrics', '/health*'] as const

const METHODS: Record<string, string> = Object.assign(
  Object.create(null),
  Object.fromEntries([...STANDARD_METHODS].map((method) => [method, method])),
)

/** The method label: a standard method as sent, anything else `_OTHER`. */
export function normaliseMethod(method: string): string {
  return METHODS[method] ?? OTHER_METHOD
}

export interface HttpMetricsOptions {
  instruments: HttpInstruments
  /** Monotonic milliseconds. */
  now?: () => number
  /**
   * Route templates not counted (default `/metrics` and `/health*`). Matched against the
   * template, not the raw path: reading the path in onRequest costs Bun ~0.3 µs per request.
   */
  excludePaths?: readonly string[]
  /**
   * The exemplar labels of a request, or undefined for none. Default: `trace_id` and
   * `request_id` from the request's state (requestContext), via `traceExemplar`.
   */
  exemplarOf?: (request: Request) => ExemplarLabels | undefined
  /**
   * Where a request's start is already read, on the `now` clock (createApp: the request
   * state's `startedAt`, from requestContext's onRequest). Given, onRequest reads no clock:
   * at about 40 ns a reading, the clock was the costliest step of the hook. Undefined from it
   * (no request state) makes the duration 0. Default: the hook reads `now` itself.
   */
  startedAt?: (request: Request) => number | undefined
  /** Where the plugin adds its AnswerRecorder, for answers given outside Elysia (escapedErrors). */
  answerRecorders?: AnswerRecorder[]
}

/** `trace_id` and `request_id` of a request that requestContext has seen; undefined before it. */
export function requestExemplar(request: Request): ExemplarLabels | undefined {
  const state = requestState(request)
  return state ? traceExemplar(state.traceId, state.requestId) : undefined
}

/** Series of one (method, endpoint): its histogram series and its counter series per status. */
interface EndpointSeries {
  excluded: false
  duration: HistogramSeries
  byStatus: Array<CounterSeries | undefined>
  cached: boolean
}

const STARTED = Symbol('httpMetricsStarted')
/** The start in monotonic milliseconds, or `true` when `startedAt` tells it. */
type Stamped = { [STARTED]?: number | true }

/**
 * Records http_requests_total, http_request_duration_seconds and http_requests_in_flight
 * from Elysia's lifecycle: the start in onRequest, the rest in mapResponse, which Elysia
 * runs once per request when the response is decided (handler results, returned and thrown
 * errors, validation failures and 404s alike, since the app has an onError handler).
 *
 * Why mapResponse and not onAfterResponse: Elysia runs after-response hooks through a
 * `setImmediate(async () => …)` per request, which alone costs about as much CPU as the
 * rest of a bare request; mapResponse runs inline. Register this plugin first, so that its
 * onRequest stamps requests an earlier hook rejects (413), and after any plugin whose
 * onRequest answers by itself (such answers skip mapResponse, so they must not be stamped).
 *
 * Every request is in http_requests_in_flight, excluded routes too (which route a request
 * takes is only known after onRequest); the /metrics route leaves its own scrape out.
 *
 * Series are resolved once per (method, route, status) and kept, so a request costs a few
 * field updates.
 *
 * Exemplars (OpenMetrics only): every counted request becomes the exemplar of the duration
 * bucket it fell in, and a 5xx also of its http_requests_total series, with the request's
 * `trace_id` and `request_id`, so a latency spike or an error rate links to a trace.
 */
export function httpMetrics(options: HttpMetricsOptions) {
  const { requests, duration, inFlight } = options.instruments
  const now = options.now ?? (() => performance.now())
  const excluded = pathExcluder(options.excludePaths ?? DEFAULT_EXCLUDED_PATHS)
  const inFlightSeries = inFlight.unlabelled
  const exemplarOf = options.exemplarOf ?? requestExemplar
  const startedAt = options.startedAt

  const EXCLUDED = { excluded: true } as const
  const byMethod = new Map<string, Map<string, EndpointSeries | typeof EXCLUDED>>()

  function endpointSeries(method: string, endpoint: string): EndpointSeries | typeof EXCLUDED {
    let endpoints = byMethod.get(method)
    if (!endpoints) {
      endpoints = new Map()
      byMethod.set(method, endpoints)
    }
    const known = endpoints.get(endpoint)
    if (known) return known
    if (excluded(endpoint)) {
      endpoints.set(endpoint, EXCLUDED)
      return EXCLUDED
    }
    const series = duration.labels(method, endpoint)
    // Past the budget the lookup is repeated per request, so the overflow counter counts
    // each folded recording and this cache stays within the budget too.
    const entry: EndpointSeries = {
      excluded: false,
      duration: series,
      byStatus: [],
      cached: !duration.isOverflow(series),
    }
    if (entry.cached) endpoints.set(endpoint, entry)
    return entry
  }

  function counterSeries(entry: EndpointSeries, method: string, endpoint: string, status: number) {
    const known = entry.byStatus[status]
    if (known) return known
    const series = requests.labels(method, endpoint, String(status))
    if (entry.cached && !requests.isOverflow(series) && status >= 0 && status < 1000) {
      entry.byStatus[status] = series
    }
    return series
  }

  /**
   * Records a request answered outside Elysia's lifecycle (escapedErrors), unless this
   * plugin's mapResponse hook already did: it leaves http_requests_in_flight and is counted
   * under `route` with `status`, its duration `elapsedMs` milliseconds.
   */
  const recordAnswer: AnswerRecorder = (request, route, status, elapsedMs) => {
    const state = requestState(request)
    // Without a state the request never passed onRequest, so it is not in flight either.
    if (state === undefined || state.counted) return
    state.counted = true
    inFlightSeries.value--
    const method = METHODS[request.method] ?? OTHER_METHOD
    const endpoint = route || UNMATCHED_ENDPOINT
    const entry = endpointSeries(method, endpoint)
    if (entry.excluded) return
    const exemplar = exemplarOf(request)
    const counter = counterSeries(entry, method, endpoint, status)
    if (exemplar === undefined) entry.duration.observe(elapsedMs / 1000)
    else entry.duration.observeWithExemplar(elapsedMs / 1000, exemplar)
    if (exemplar !== undefined && status >= 500 && status < 600) counter.incWithExemplar(1, exemplar)
    else counter.value++
  }

  const plugin = new Elysia()
    .onRequest((context) => {
      ;(context as Stamped)[STARTED] = startedAt === undefined ? now() : true
      inFlightSeries.value++
    })
    .mapResponse({ as: 'global' }, (context) => {
      const started = (context as Stamped)[STARTED]
      const error = (context as { error?: unknown }).error
      if (started !== undefined) {
        // Recorded once even if a later mapResponse hook throws and Elysia maps the error again.
        ;(context as Stamped)[STARTED] = undefined
        inFlightSeries.value--
        const request = context.request
        const state = requestState(request)
        if (state !== undefined) state.counted = true
        const end = now()
        const elapsedMs = end - (started === true ? (startedAt!(request) ?? end) : started)
        const seconds = elapsedMs / 1000
        const method = METHODS[request.method] ?? OTHER_METHOD
        const endpoint = context.route || UNMATCHED_ENDPOINT
        const entry = endpointSeries(method, endpoint)
        const status = decidedStatus(
          request,
          context.set,
          context.response,
          (context as SentContext).responseValue,
          error,
          seconds,
        )
        // Later hooks (the access log) reuse it, for excluded routes too: Deno aborts the
        // request signal once the response is sent, which an after-response hook would take
        // for a disconnect. Kept on Elysia's per-request context: no lookup per request.
        ;(context as StatusStamped)[SENT_STATUS] = status
        ;(context as StatusStamped)[SENT_DURATION_MS] = elapsedMs
        if (!entry.excluded) {
          const exemplar = exemplarOf(request)
          const counter = counterSeries(entry, method, endpoint, status)
          if (exemplar === undefined) {
            entry.duration.observe(seconds)
            counter.value++
          } else {
            ;(context as StatusStamped)[SENT_TIME_MS] = entry.duration.observeWithExemplar(seconds, exemplar)
            // Only 5xx: the error rate is what alerts fire on, and every request's trace is
            // on its duration bucket already.
            if (status >= 500 && status < 600) counter.incWithExemplar(1, exemplar)
            else counter.value++
          }
        }
      }
      // Elysia 1.4's shared error handler (unknown routes) sends whatever a mapResponse hook
      // returns, even undefined, so on the error path hand back the response unchanged.
      // Elsewhere return nothing, which leaves the response and later hooks alone.
      return error === undefined ? undefined : (context.response as never)
    })
  options.answerRecorders?.push(recordAnswer)
  return plugin
}
