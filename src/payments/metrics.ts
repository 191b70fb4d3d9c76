import type { BusinessMetrics } from '../observability/business-metrics.ts'
import { Counter, Histogram, traceExemplar } from '../observability/instruments.ts'
import type { MetricsRegistry } from '../observability/metrics.ts'
import type { ProviderReportOutcome } from './service.ts'

const REFUND_REQUIRED = 'payments_refund_required_total'

/** A provider call takes tens of milliseconds to tens of seconds; 2 s and 5 s are alert thresholds. */
export const PAYMENT_DURATION_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10, 30] as const

/**
 * Builds and registers `payments_processed_total{tenant_id,provider,status}`,
 * `payment_processing_duration_seconds{provider}`, `payments_refund_required_total{provider}`
 * (counted through `amountMismatchMetrics`) and `payment_webhook_reports_total{provider,result}`
 * (counted through `webhookMetrics`); a duration reported with a `traceId` becomes the
 * exemplar (`trace_id`, `request_id`) of the bucket it fell in, and a failed or errored payment
 * the exemplar of its `payments_processed_total` series.
 */
export function createPaymentMetrics(
  metrics: MetricsRegistry,
): Pick<BusinessMetrics, 'paymentProcessed' | 'paymentProviderDuration'> {
  const paymentsProcessed = metrics.register(
    new Counter({
      name: 'payments_processed_total',
      help: 'Payments processed, by tenant, provider and outcome (succeeded, failed, error).',
      labelNames: ['tenant_id', 'provider', 'status'],
      clock: metrics.clock,
      ...metrics.budget('payments_processed_total'),
    }),
  )
  const paymentDuration = metrics.register(
    new Histogram({
      name: 'payment_processing_duration_seconds',
      help: 'Time spent in the payment provider call, whatever its outcome, by provider.',
      labelNames: ['provider'],
      buckets: PAYMENT_DURATION_BUCKETS,
      clock: metrics.clock,
      ...metrics.budget('payment_processing_duration_seconds'),
    }),
  )
  // Exposed from the first scrape, with its budget, like the families above; counted by
  // amountMismatchMetrics, which the payment service and the reconciler are given.
  refundRequiredCounter(metrics)
  webhookReportsCounter(metrics)
  return {
    paymentProcessed: ({ tenantId, provider, status, traceId, requestId }) => {
      const series = paymentsProcessed.labels(tenantId, provider, status)
      // Only failures: they are what the payment alerts fire on and name an example of.
      const exemplar =
        status === 'succeeded' || traceId === undefined ? undefined : traceExemplar(traceId, requestId)
      if (exemplar) series.incWithExemplar(1, exemplar)
      else series.inc()
    },
    paymentProviderDuration: ({ provider, seconds, traceId, requestId }) => {
      const series = paymentDuration.labels(provider)
      const exemplar = traceId === undefined ? undefined : traceExemplar(traceId, requestId)
      if (exemplar) series.observeWithExemplar(seconds, exemplar)
      else series.observe(seconds)
    },
  }
}

/**
 * `payments_refund_required_total{provider}` in `metrics`' registry: registered (with its
 * series budget) on the first call, the same instance on later calls.
 */
function refundRequiredCounter(metrics: MetricsRegistry): Counter<'provider'> {
  const existing = metrics.registry.getSingleMetric(REFUND_REQUIRED) as unknown as
    | Counter<'provider'>
    | undefined
  if (existing) return existing
  return metrics.register(
    new Counter<'provider'>({
      name: REFUND_REQUIRED,
      help: 'Charges a provider reported succeeded for an order that could no longer be paid (cancelled, or paid by another payment): recorded succeeded with a refund_required failureReason, the order untouched; each one needs a refund.',
      labelNames: ['provider'],
      ...metrics.budget(REFUND_REQUIRED),
    }),
  )
}

/**
 * Counts provider successes that need a refund instead of paying their order: a charge of
 * another amount or currency (service.ts `chargeMismatch`), or a charge for an order that
 * could no longer be paid (service.ts `REFUND_REQUIRED`).
 */
export interface AmountMismatchMetrics {
  amountMismatch(provider: string): void
  refundRequired(provider: string): void
}

const AMOUNT_MISMATCH = 'payments_amount_mismatch_total'

/**
 * `payments_amount_mismatch_total{provider}` and `payments_refund_required_total{provider}` in
 * the app's registry: registered on the first call, the same instances on later calls (the
 * request's path, the reconciler's and provider reports all count into them), with every
 * provider's series from the start so that increase() sees the first one. A no-op when metrics
 * are disabled.
 */
export function amountMismatchMetrics(
  metrics: MetricsRegistry,
  providers: readonly string[] = [],
): AmountMismatchMetrics {
  if (!metrics.enabled) return { amountMismatch() {}, refundRequired() {} }
  const { registry } = metrics
  let counter = registry.getSingleMetric(AMOUNT_MISMATCH) as unknown as Counter<'provider'> | undefined
  if (!counter) {
    counter = new Counter<'provider'>({
      name: AMOUNT_MISMATCH,
      help: 'Charges a provider reported succeeded for another amount or currency than the payment: settled as error, the order not paid; each one needs a refund.',
      labelNames: ['provider'],
    })
    registry.registerMetric(counter as never)
  }
  const refunds = refundRequiredCounter(metrics)
  for (const provider of providers) {
    counter.labels(provider)
    refunds.labels(provider)
  }
  const series = counter
  const refundSeries = refunds
  return {
    amountMismatch: (provider) => series.labels(provider).inc(),
    refundRequired: (provider) => refundSeries.labels(provider).inc(),
  }
}

/**
 * What a webhook delivery came to, as counted (`payment_webhook_reports_total{result}`): what
 * the report did to its payment (ProviderReportOutcome), or why it was refused: `unauthorized`
 * (401: no valid, fresh signature), `invalid` (400/415/422: not a report), `unknown_payment`
 * (404) or `disabled` (503: no secret configured).
 */
export type WebhookResult =
  | ProviderReportOutcome
  | 'unauthorized'
  | 'invalid'
  | 'unknown_payment'
  | 'disabled'

const WEBHOOK_RESULTS: readonly WebhookResult[] = [
  'paid',
  'refund_required',
  'amount_mismatch',
  'failed',
  'error',
  'unchanged',
  'unauthorized',
  'invalid',
  'unknown_payment',
  'disabled',
]

const WEBHOOK_REPORTS = 'payment_webhook_reports_total'

/**
 * `payment_webhook_reports_total{provider,result}` in `metrics`' registry: registered (with its
 * series budget) on the first call, the same instance on later calls.
 */
function webhookReportsCounter(metrics: MetricsRegistry): Counter<'provider' | 'result'> {
  const existing = metrics.registry.getSingleMetric(WEBHOOK_REPORTS) as unknown as
    | Counter<'provider' | 'result'>
    | undefined
  if (existing) return existing
  return metrics.register(
    new Counter<'provider' | 'result'>({
      name: WEBHOOK_REPORTS,
      help: 'Payment provider webhook deliveries, by provider and result: what the report did (paid, refund_required, amount_mismatch, failed, error, unchanged) or why it was refused (unauthorized, invalid, unknown_payment, disabled).',
      labelNames: ['provider', 'result'],
      clock: metrics.clock,
      ...metrics.budget(WEBHOOK_REPORTS),
    }),
  )
}

/** Counts webhook deliveries by provider and `WebhookResult`. */
export type WebhookMetrics = (provider: string, result: WebhookResult) => void

/**
 * Counts into `payment_webhook_reports_total{provider,result}`, with every provider's series at
 * 0 from the start so that increase() sees the first one. Providers come from the registry,
 * never from a request's path: a delivery for an unknown provider is not counted. A no-op
 * when metrics are disabled.
 */
export function webhookMetrics(metrics: MetricsRegistry, providers: readonly string[]): WebhookMetrics {
  if (!metrics.enabled) return () => {}
  const counter = webhookReportsCounter(metrics)
  for (const provider of providers) for (const result of WEBHOOK_RESULTS) counter.labels(provider, result)
  return (provider, result) => counter.labels(provider, result).inc()
}
