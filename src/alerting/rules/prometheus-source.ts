import type { HttpClient } from '../../http/outbound.ts'
import type { InstantResult, QuerySource, Sample } from '../../prometheus/promql/query-source.ts'

/** A query Prometheus (or Thanos, Mimir, VictoriaMetrics) refused or could not run. */
export class QueryError extends Error {
  override name = 'QueryError'
}

/** Prometheus encodes sample values as strings because JSON has no NaN or infinities. */
export function parseSampleValue(text: string): number {
  if (text === 'NaN') return Number.NaN
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY
  if (text === '-Inf') return Number.NEGATIVE_INFINITY
  const value = Number(text)
  if (Number.isNaN(value)) throw new QueryError(`not a sample value: ${JSON.stringify(text)}`)
  return value
}

interface ApiResponse {
  status?: string
  error?: string
  errorType?: string
  data?: { resultType?: string; result?: unknown }
}

export interface PrometheusSourceOptions {
  url: string
  bearerToken?: string
  timeoutMs: number
}

/**
 * Instant queries against Prometheus' HTTP API (`POST /api/v1/query`, form-encoded), which
 * Thanos, Mimir and VictoriaMetrics serve unchanged. Errors of any kind (network, timeout,
 * HTTP status, `status: "error"`) are thrown as QueryError with a short message.
 */
export function createPrometheusSource(options: PrometheusSourceOptions, http: HttpClient): QuerySource {
  const endpoint = `${options.url.replace(/\/$/, '')}/api/v1/query`
  return {
    async instantQuery(expr: string, at: Date): Promise<InstantResult> {
      let response: Response
      try {
        response = await http(endpoint, {
          method: 'POST',
          timeoutMs: options.timeoutMs,
          requestId: `alerts-eval-${at.getTime()}`,
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            ...(options.bearerToken ? { authorization: `Bearer ${options.bearerToken}` } : {}),
          },
          body: new URLSearchParams({ query: expr, time: (at.getTime() / 1000).toFixed(3) }).toString(),
        })
      } catch (error) {
        const timedOut =
          error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
        throw new QueryError(
          timedOut
            ? `query timed out after ${options.timeoutMs} ms`
            : `Prometheus unreachable: ${(error as Error).message}`,
        )
      }
      let body: ApiResponse
      try {
        body = (await response.json()) as ApiResponse
      } catch {
        throw new QueryError(`Prometheus answered HTTP ${response.status} without a JSON body`)
      }
      if (body.status !== 'success' || !body.data) {
        throw new QueryError(
          `${body.errorType ?? `HTTP ${response.status}`}: ${body.error ?? 'query failed'}`,
        )
      }
      const { resultType, result } = body.data
      if (resultType === 'scalar') {
        const [, value] = result as [number, string]
        return { resultType: 'scalar', value: parseSampleValue(value) }
      }
      if (resultType === 'vector') {
        const samples: Sample[] = (
          result as Array<{ metric: Record<string, string>; value: [number, string] }>
        ).map((r) => ({
          labels: r.metric,
          value: parseSampleValue(r.value[1]),
        }))
        return { resultType: 'vector', samples }
      }
      throw new QueryError(`unsupported result type for an alerting rule: ${resultType}`)
    },
  }
}
