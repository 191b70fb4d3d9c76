/**
 * What the commerce services report about business events. Services call these after the
 * transaction that made the event real has committed. The Prometheus implementation lives
 * with the metrics registry; tests and METRICS_ENABLED=false use `noBusinessMetrics`.
 */
export interface BusinessMetrics {
  orderCreated(event: { tenantId: string; channel: string }): void
  /**
   * A payment settled with `status`; a failed or errored one with `traceId` (and `requestId`)
   * becomes its series' exemplar, so a payment-failure alert can name a failing request.
   */
  paymentProcessed(event: {
    tenantId: string
    provider: string
    status: 'succeeded' | 'failed' | 'error'
    traceId?: string
    requestId?: string
  }): void
  /**
   * Time spent in the payment provider call, whatever its outcome; `traceId` and `requestId`
   * (of the request that paid) become the observation's exemplar.
   */
  paymentProviderDuration(event: {
    provider: string
    seconds: number
    traceId?: string
    requestId?: string
  }): void
  productViewed(event: { tenantId: string; productId: string; channel: string }): void
}

export const noBusinessMetrics: BusinessMetrics = {
  orderCreated() {},
  paymentProcessed() {},
  paymentProviderDuration() {},
  productViewed() {},
}
