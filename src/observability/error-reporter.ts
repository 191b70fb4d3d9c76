/**
 * What the app reports to error tracking. The HTTP boundary (src/http/error-envelope.ts and
 * src/http/error-reporting.ts) and the payment code talk to this interface only; the Sentry
 * implementation (src/observability/sentry.ts) is built by the entry file from whichever
 * Sentry SDK the runtime uses, and `noErrorReporter` stands in when Sentry is off.
 */

import type { MetricsRegistry } from './metrics.ts'

/** A 5xx or unexpected error seen at the HTTP boundary. */
export interface ServerErrorReport {
  /** What was thrown; undefined when a handler returned a 5xx without throwing. */
  error?: unknown
  request: Request
  /** The status sent to the client. */
  status: number
  /** Route template (`/orders/:id/payments`); empty or undefined when no route matched. */
  route?: string
}

/**
 * What the HTTP layer knows of a request it is serving (its id and, once authenticated, its
 * tenant); undefined for a request it is not serving. Injected by the entry file, so that
 * error tracking sits below HTTP and reads its state through this one function.
 */
export type RequestLookup = (
  request: Request,
) => { requestId: string; traceId: string; parentSpanId?: string; tenantId?: string } | undefined

/** A payment that failed because its provider did (outage, bad answer), not a decline. */
export interface PaymentProviderFailure {
  provider: string
  paymentId: string
  orderId: string
  /** Amount in minor units (cents). */
  amountMinor: number
  /** ISO 4217 code. */
  currency: string
  /** What the provider raised; its message is reported as `error_details`, scrubbed. */
  error: unknown
}

export interface ErrorReporter {
  /** False for the no-op reporter: the app then installs no reporting hooks at all. */
  readonly enabled: boolean
  /**
   * Reports one 5xx or unexpected error. The boundary calls it at most once per request
   * (guarded by `requestState(request).errorReported`); never for 4xx.
   */
  captureServerError(report: ServerErrorReport): void
  /**
   * Reports a payment that failed with a provider error: tag `payment_provider`, context
   * `payment_data` {paymentId, orderId, amountMinor, currency}, extras `payment_state: "failed"`
   * and `error_details`. Inside a request the report is held until the request ends so that
   * the request produces one event carrying both the payment context and the status sent
   * (merged with the 5xx when the request fails); with `request` undefined (background work)
   * it is sent at once.
   */
  capturePaymentProviderError(request: Request | undefined, failure: PaymentProviderFailure): void
  /**
   * The trace id (32 hex) of the error tracker's active trace for the code running now (with
   * Sentry, the request's root span its runtime integration started), or undefined. The
   * HTTP layer gives it to a request that brought no `traceparent`, so that the request's
   * log lines, exemplars and events share one trace id.
   */
  activeTraceId(): string | undefined
  /** The request matched `route`: names its trace after the route template. */
  requestRouted(request: Request, route: string): void
  /** The response has been sent with `status`: sends a held payment report, if any. */
  requestFinished(request: Request, status: number, route: string | undefined): void
  /**
   * Registers the reporter's own families in `metrics`: `sentry_events_capped_total`, the
   * events the client-side cap on an error storm dropped (sentry.ts `createEventCap`: at most
   * 30 a minute per error class and route), counted from the reporter's start. createApp calls
   * it once per registry. Absent where nothing is dropped (the no-op reporter, test stand-ins).
   * @throws Error when the registry holds the family already (metrics.ts `register`)
   */
  instrument?(metrics: MetricsRegistry): void
  /** Waits at most `timeoutMs` for queued events to be delivered; false when some were not. */
  flush(timeoutMs: number): Promise<boolean>
}

/** Sentry off: every call is a no-op. */
export const noErrorReporter: ErrorReporter = {
  enabled: false,
  captureServerError() {},
  capturePaymentProviderError() {},
  activeTraceId: () => undefined,
  requestRouted() {},
  requestFinished() {},
  flush: async () => true,
}
