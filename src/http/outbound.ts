import { createTraceIds, formatTraceparent, SAMPLED_FLAGS, type TraceIds } from '../core/trace-context.ts'

export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

export interface OutboundInit extends RequestInit {
  /** Correlates the call with the request (or job) that made it: sent as x-request-id. */
  requestId?: string
  /**
   * The W3C trace id (32 hex) of the request (or job) making the call, sent in `traceparent`
   * with a new span id; without one the call starts a trace of its own.
   */
  traceId?: string
  /** Trace flags to propagate with `traceId` (2 hex; default `01`, sampled). */
  traceFlags?: string
  /**
   * The request's `tracestate` (trace-context.ts parseTracestate's value), sent with `traceId`
   * only: a call that starts a trace of its own carries no `tracestate` (W3C Trace Context
   * §3.5, "Vendors SHOULD clean up tracestate collection on traceparent restart").
   */
  traceState?: string
  timeoutMs?: number
}

/** How long an outbound call may take unless its caller says otherwise (ms). */
export const DEFAULT_OUTBOUND_TIMEOUT_MS = 10_000

export type HttpClient = (url: string | URL, init?: OutboundInit) => Promise<Response>

/**
 * The service's only way out to other HTTP services. Every call carries the caller's
 * request id, as the original design asks ("use request IDs for correlating errors across
 * services"), a W3C `traceparent` (the caller's trace, or a new one; a `traceparent` the
 * caller set itself is kept), the caller's `tracestate` when the call continues its trace,
 * and a timeout so that a hanging peer cannot hold a request
 * forever.
 */
export function createHttpClient(
  fetchImpl: FetchLike,
  defaultTimeoutMs = DEFAULT_OUTBOUND_TIMEOUT_MS,
  traceIds: TraceIds = createTraceIds(),
): HttpClient {
  return (url, init = {}) => {
    const { requestId, traceId, traceFlags, traceState, timeoutMs, ...rest } = init
    const headers = new Headers(rest.headers)
    if (requestId) headers.set('x-request-id', requestId)
    // A caller's own traceparent goes with whatever tracestate the caller set beside it.
    if (!headers.has('traceparent')) {
      headers.set(
        'traceparent',
        formatTraceparent(traceId ?? traceIds.traceId(), traceIds.spanId(), traceFlags ?? SAMPLED_FLAGS),
      )
      if (traceId !== undefined && traceState) headers.set('tracestate', traceState)
      else headers.delete('tracestate')
    }
    const timeout = AbortSignal.timeout(timeoutMs ?? defaultTimeoutMs)
    const signal = rest.signal ? AbortSignal.any([rest.signal, timeout]) : timeout
    return fetchImpl(url, { ...rest, headers, signal })
  }
}
