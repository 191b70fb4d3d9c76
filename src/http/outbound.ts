export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

export interface OutboundInit extends RequestInit {
  /** Correlates the call with the request (or job) that made it: sent as x-request-id. */
  requestId?: string
  timeoutMs?: number
}

export type HttpClient = (url: string | URL, init?: OutboundInit) => Promise<Response>

/**
 * The service's only way out to other HTTP services. Every call carries the caller's
 * request id, as the original design asks ("use request IDs for correlating errors across
 * services"), and a timeout so that a hanging peer cannot hold a request forever.
 */
export function createHttpClient(fetchImpl: FetchLike, defaultTimeoutMs = 10_000): HttpClient {
  return (url, init = {}) => {
    const { requestId, timeoutMs, ...rest } = init
    const headers = new Headers(rest.headers)
    if (requestId) headers.set('x-request-id', requestId)
    const timeout = AbortSignal.timeout(timeoutMs ?? defaultTimeoutMs)
    const signal = rest.signal ? AbortSignal.any([rest.signal, timeout]) : timeout
    return fetchImpl(url, { ...rest, headers, signal })
  }
}
