import { Counter, Gauge, Histogram } from '../observability/instruments.ts'
import type { MetricsRegistry } from '../observability/metrics.ts'

/** Has a boundary at every latency threshold the alert rules use (2 s: SlowResponseTime). */
export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10] as const

/** The RED families `httpMetrics()` records into, one series object per label set kept by callers. */
export interface HttpInstruments {
  /**
   * `http_requests_total{method,endpoint,status}`: answered requests, route template not path;
   * a 5xx series carries the latest 5xx request's exemplar.
   */
  requests: Counter<'method' | 'endpoint' | 'status'>
  /**
   * `http_request_duration_seconds{method,endpoint}`: receipt to response ready, in seconds;
   * each bucket carries the exemplar of the latest request that fell in it.
   */
  duration: Histogram<'method' | 'endpoint'>
  /** `http_requests_in_flight`: requests being served right now. */
  inFlight: Gauge
}

/** Builds and registers the HTTP families in the app's registry. */
export function createHttpInstruments(metrics: MetricsRegistry): HttpInstruments {
  return {
    requests: metrics.register(
      new Counter({
        name: 'http_requests_total',
        help: 'HTTP requests answered, by method, route template and status sent.',
        labelNames: ['method', 'endpoint', 'status'],
        clock: metrics.clock,
        ...metrics.budget('http_requests_total'),
      }),
    ),
    duration: metrics.register(
      new Histogram({
        name: 'http_request_duration_seconds',
        help: 'Time from receiving a request to having its response ready, by method and route template.',
        labelNames: ['method', 'endpoint'],
        buckets: HTTP_DURATION_BUCKETS,
        clock: metrics.clock,
        ...metrics.budget('http_request_duration_seconds'),
      }),
    ),
    inFlight: metrics.register(
      new Gauge({ name: 'http_requests_in_flight', help: 'HTTP requests being served right now.' }),
    ),
  }
}
