import { isTraceId } from '../../core/trace-context.ts'
import { HTTP_DURATION_BUCKETS } from '../../http/http-instruments.ts'
import { isSafeRequestId } from '../../http/request-context.ts'
import { walkSelectors } from '../../prometheus/promql/ast.ts'
import { DEFAULT_LOOKBACK_MS } from '../../prometheus/promql/engine.ts'
import { parsePromQL } from '../../prometheus/promql/parser.ts'
import type { ExemplarSource, SeriesExemplar } from './exemplars.ts'

/**
 * One request that shows what an alert is about, taken from an exemplar: its `request_id`
 * (the `requestId` of its access-log line) and, when the exemplar carries one, its W3C trace
 * id and the link TRACE_BASE_URL makes of it. Stored with the outbox row, so every attempt
 * to send the message names the same request.
 */
export interface AlertExample {
  requestId: string
  /** 32 lowercase hex digits (W3C Trace Context `trace-id`). */
  traceId?: string
  /** `${TRACE_BASE_URL}${traceId}`; absent without a base URL or a trace id. */
  traceUrl?: string
}

/**
 * The annotation naming the series an alert's example comes from: a PromQL expression whose
 * selectors Prometheus' query_exemplars reduces it to. Like every annotation it is a template
 * (`{{ $labels.tenant_id }}` narrows it to the alert's shop); an empty value turns the example off.
 */
export const EXEMPLAR_QUERY_ANNOTATION = 'exemplar_query'

const FAILED_HTTP = 'http_requests_total{status=~"5.."}'
// Each payment alert's example comes from its own numerator: PaymentFailureRate counts declines
// (`failed`, answered 402), the payment-success SLO counts provider errors (`error`, and the
// route's 5xx answers, a 503 PAYMENT_PENDING among them), where a decline spends no budget.
const DECLINED_PAYMENTS = 'payments_processed_total{status="failed"}'
const ERRORED_PAYMENTS =
  'payments_processed_total{status="error"} or http_requests_total{status=~"5..",endpoint="/orders/:id/payments"}'

/**
 * The duration buckets that only hold requests slower than `seconds` (a bucket's exemplar is a
 * request observed in it, between the bucket below and its `le`), as an `le` matcher.
 */
export function slowerThan(seconds: number): string {
  const uppers = [...HTTP_DURATION_BUCKETS.map(String), '[+]Inf']
  // Bucket i holds (bound i-1, bound i]: all slower when its lower bound is at least `seconds`.
  const slow = uppers.filter((_, i) => i > 0 && HTTP_DURATION_BUCKETS[i - 1]! >= seconds)
  return `le=~"${slow.join('|')}"`
}

/**
 * Exemplar queries of the shipped alerts about failing or slow requests
 * (ops/prometheus/rules), used when the rule has no `exemplar_query` annotation: failed HTTP
 * requests for the error-rate and availability alerts, declined payments for PaymentFailureRate,
 * payments the provider errored on (and 5xx answers of the payment route) for the payment SLO, requests slower than the threshold for the latency ones
 * (2 s for SlowResponseTime, the SLO's 0.5 s for ApiLatencyBudgetBurn). Only such series are
 * named, so an example is never a request that went well.
 */
export const SHIPPED_EXEMPLAR_QUERIES: Readonly<Record<string, string>> = {
  HighErrorRate: FAILED_HTTP,
  ApiAvailabilityBudgetBurn: FAILED_HTTP,
  PaymentFailureRate: DECLINED_PAYMENTS,
  PaymentSuccessBudgetBurn: ERRORED_PAYMENTS,
  SlowResponseTime: `http_request_duration_seconds_bucket{${slowerThan(2)}}`,
  ApiLatencyBudgetBurn: `http_request_duration_seconds_bucket{${slowerThan(0.5)},endpoint!~"/health.*|/metrics"}`,
}

const quote = (value: string) => JSON.stringify(value)

/**
 * The exemplar query of a firing alert, from its (templated) annotations and labels: the
 * `exemplar_query` annotation when present (empty = none), else the shipped query for its
 * alert name. A shop's alert (TenantPaymentFailureRate) only ever gets an example of that
 * shop's own payments: it goes to the shop owner, who must not see another shop's requests.
 */
export function exemplarQueryFor(
  labels: Readonly<Record<string, string>>,
  annotations: Readonly<Record<string, string>>,
): string | undefined {
  const annotated = annotations[EXEMPLAR_QUERY_ANNOTATION]
  if (annotated !== undefined) return annotated.trim() || undefined
  const name = labels.alertname ?? ''
  if (name === 'TenantPaymentFailureRate' && labels.tenant_id) {
    return `payments_processed_total{status!="succeeded",tenant_id=${quote(labels.tenant_id)}}`
  }
  return SHIPPED_EXEMPLAR_QUERIES[name]
}

/** Longest window an example is looked for in: a recent request, and a cheap query. */
export const MAX_EXAMPLE_WINDOW_MS = 3_600_000

/**
 * How far back an alert's example may lie: the longest range its rule expression reads (the
 * window that made it fire), or the 5-minute lookback without a range; at most an hour.
 * An expression that does not parse gets the lookback.
 */
export function exampleWindowMs(ruleExpr: string): number {
  let longest = 0
  try {
    walkSelectors(parsePromQL(ruleExpr), (_, rangeMs) => {
      longest = Math.max(longest, rangeMs ?? 0)
    })
  } catch {
    return DEFAULT_LOOKBACK_MS
  }
  return Math.min(MAX_EXAMPLE_WINDOW_MS, longest || DEFAULT_LOOKBACK_MS)
}

/**
 * The example an exemplar names, or undefined when it carries no usable `request_id`. The
 * labels come from another system (Prometheus, which may hold series of other jobs or of an
 * older version of the service), so only ids the service itself would accept from a client
 * pass (isSafeRequestId: nothing the scrubber would hide): nothing else reaches a message.
 */
export function exampleFromExemplar(
  exemplar: Pick<SeriesExemplar, 'labels'>,
  traceBaseUrl: string | undefined,
): AlertExample | undefined {
  const requestId = exemplar.labels.request_id
  if (!requestId || !isSafeRequestId(requestId)) return undefined
  const traceId = exemplar.labels.trace_id
  if (!traceId || !isTraceId(traceId)) return { requestId }
  return { requestId, traceId, ...(traceBaseUrl ? { traceUrl: `${traceBaseUrl}${traceId}` } : {}) }
}

/**
 * The example of one alert: the latest exemplar of `query`'s series between `endMs - windowMs`
 * and `endMs`, as an AlertExample. Rejects when the source fails (callers send the alert
 * without an example).
 */
export async function findExample(
  source: ExemplarSource,
  query: string,
  endMs: number,
  windowMs: number,
  traceBaseUrl: string | undefined,
): Promise<AlertExample | undefined> {
  const exemplar = await source.latest(query, { startMs: endMs - windowMs, endMs })
  return exemplar ? exampleFromExemplar(exemplar, traceBaseUrl) : undefined
}
