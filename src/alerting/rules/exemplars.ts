import type { HttpClient } from '../../http/outbound.ts'
import { type LabelMatcher, walkSelectors } from '../../prometheus/promql/ast.ts'
import type { Labels } from '../../prometheus/promql/labels.ts'
import { parsePromQL } from '../../prometheus/promql/parser.ts'
import { matchesAll } from '../../prometheus/promql/store.ts'
import { parseSampleValue, QueryError } from './prometheus-source.ts'

/**
 * One exemplar with the series it belongs to, as Prometheus' `GET /api/v1/query_exemplars`
 * reports it (`data[].seriesLabels` and one of `data[].exemplars[]`), with its timestamp in
 * milliseconds and its value as a number.
 */
export interface SeriesExemplar {
  /** The exemplar's own labels (OpenMetrics: `trace_id`, `request_id`, …). */
  labels: Record<string, string>
  /** The labels of the series it was exposed on (with `__name__`, e.g. `…_bucket` with `le`). */
  seriesLabels: Record<string, string>
  /** The observed value (a histogram observation, a counter increment). */
  value: number
  /** When it was observed, in milliseconds since the epoch. */
  timestampMs: number
}

/** A closed time range in milliseconds since the epoch; both ends included, as Prometheus'. */
export interface TimeRange {
  startMs: number
  endMs: number
}

/**
 * Where alerts find an example request: the exemplars of the series a PromQL expression
 * selects, as Prometheus' `GET /api/v1/query_exemplars` (web/api/v1/api.go `queryExemplars`)
 * answers them. The expression is parsed and reduced to its selectors
 * (`promql/parser.ExtractSelectors`: every vector selector's matchers, ranges, offsets and
 * functions ignored); an exemplar qualifies when its series matches any of the selectors and
 * its timestamp lies within `range`, ends included. `latest` returns the one with the highest
 * timestamp (the first of equals), or undefined when none qualifies.
 * Rejects (QueryError) when the expression does not parse or the source cannot answer.
 */
export interface ExemplarSource {
  latest(expr: string, range: TimeRange): Promise<SeriesExemplar | undefined>
}

/**
 * The label matchers of every vector selector in `expr`, as Prometheus'
 * `parser.ExtractSelectors`. Throws the parser's error for an expression Prometheus refuses.
 */
export function extractSelectors(expr: string): LabelMatcher[][] {
  const selectors: LabelMatcher[][] = []
  walkSelectors(parsePromQL(expr), (selector) => {
    selectors.push([...selector.matchers])
  })
  return selectors
}

const newer = (candidate: SeriesExemplar, best: SeriesExemplar | undefined) =>
  best === undefined || candidate.timestampMs > best.timestampMs

/**
 * The embedded engine's exemplar storage: the latest exemplar of each series the registry
 * sampler scrapes (one per series, so memory is bounded by the number of series; a series
 * that leaves the registry is forgotten with it). Prometheus keeps a circular buffer of
 * several per series; the latest is all an alert's example needs.
 */
export class ExemplarStore implements ExemplarSource {
  private readonly bySeries = new Map<string, SeriesExemplar>()

  /** Records the exemplar a scrape found on the series `key` (labelsKey of `seriesLabels`). */
  observe(
    key: string,
    seriesLabels: Labels,
    exemplar: { labels: Record<string, string>; value: number; timestampMs: number },
  ): void {
    const previous = this.bySeries.get(key)
    // Scrapes repeat the same exemplar until a newer observation replaces it.
    if (previous && previous.timestampMs >= exemplar.timestampMs) return
    this.bySeries.set(key, {
      labels: { ...exemplar.labels },
      seriesLabels,
      value: exemplar.value,
      timestampMs: exemplar.timestampMs,
    })
  }

  /** Forgets the exemplar of a series that left the registry. */
  forget(key: string): void {
    this.bySeries.delete(key)
  }

  /** Series holding an exemplar. */
  get size(): number {
    return this.bySeries.size
  }

  async latest(expr: string, range: TimeRange): Promise<SeriesExemplar | undefined> {
    let selectors: LabelMatcher[][]
    try {
      selectors = extractSelectors(expr)
    } catch (error) {
      throw new QueryError((error as Error).message)
    }
    let best: SeriesExemplar | undefined
    for (const exemplar of this.bySeries.values()) {
      if (exemplar.timestampMs < range.startMs || exemplar.timestampMs > range.endMs) continue
      if (!newer(exemplar, best)) continue
      if (selectors.some((matchers) => matchesAll(exemplar.seriesLabels, matchers))) best = { ...exemplar }
    }
    return best
  }
}

interface ExemplarsResponse {
  status?: string
  error?: string
  errorType?: string
  data?: Array<{
    seriesLabels?: Record<string, string>
    exemplars?: Array<{ labels?: Record<string, string>; value?: string; timestamp?: number }>
  }> | null
}

export interface PrometheusExemplarSourceOptions {
  /** PROMETHEUS_URL (Prometheus, Thanos, Mimir: they serve the same query_exemplars API). */
  url: string
  bearerToken?: string
  /** Bounds the call: an alert never waits longer than this for its example. */
  timeoutMs: number
}

/**
 * Exemplars from Prometheus' `GET /api/v1/query_exemplars?query=…&start=…&end=…` (times in
 * seconds). No exemplar (`data: []`, `data: null`, or 204 for a query without selectors) is
 * undefined. Any failure (network, timeout, HTTP status, `status: "error"`, a malformed body)
 * is a QueryError; the caller decides that an alert then goes out without an example.
 */
export function createPrometheusExemplarSource(
  options: PrometheusExemplarSourceOptions,
  http: HttpClient,
): ExemplarSource {
  const endpoint = `${options.url.replace(/\/$/, '')}/api/v1/query_exemplars`
  return {
    async latest(expr, range) {
      const params = new URLSearchParams({
        query: expr,
        start: (range.startMs / 1000).toFixed(3),
        end: (range.endMs / 1000).toFixed(3),
      })
      let response: Response
      try {
        response = await http(`${endpoint}?${params}`, {
          method: 'GET',
          timeoutMs: options.timeoutMs,
          requestId: `alerts-exemplars-${range.endMs}`,
          headers: options.bearerToken ? { authorization: `Bearer ${options.bearerToken}` } : {},
        })
      } catch (error) {
        const timedOut =
          error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
        throw new QueryError(
          timedOut
            ? `exemplar query timed out after ${options.timeoutMs} ms`
            : `Prometheus unreachable: ${(error as Error).message}`,
        )
      }
      // A query without any selector: Prometheus' handler returns no data, which it answers
      // with 204 and no body.
      if (response.status === 204) return undefined
      let body: ExemplarsResponse
      try {
        body = (await response.json()) as ExemplarsResponse
      } catch {
        throw new QueryError(`Prometheus answered HTTP ${response.status} without a JSON body`)
      }
      if (body.status !== 'success') {
        throw new QueryError(
          `${body.errorType ?? `HTTP ${response.status}`}: ${body.error ?? 'exemplar query failed'}`,
        )
      }
      let best: SeriesExemplar | undefined
      for (const series of body.data ?? []) {
        for (const e of series.exemplars ?? []) {
          if (typeof e.timestamp !== 'number' || typeof e.value !== 'string') {
            throw new QueryError('malformed exemplar in the query_exemplars answer')
          }
          const candidate: SeriesExemplar = {
            labels: e.labels ?? {},
            seriesLabels: series.seriesLabels ?? {},
            value: parseSampleValue(e.value),
            timestampMs: Math.round(e.timestamp * 1000),
          }
          if (newer(candidate, best)) best = candidate
        }
      }
      return best
    },
  }
}
