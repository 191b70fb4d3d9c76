import { DEFAULT_OUTBOUND_TIMEOUT_MS } from '../http/outbound.ts'

/** What a payment provider is asked to do. */
export interface ChargeRequest {
  paymentId: string
  /**
   * Sent as the provider's idempotency key (Stripe's `Idempotency-Key`, M-Pesa's originator
   * id): the payment id, so a repeated charge of one payment is charged once.
   */
  idempotencyKey: string
  orderId: string
  amountMinor: number
  currency: string
  /** Provider-specific payment source (a card token, a mobile-money reference…). */
  source: string
}

export type ChargeResult =
  | {
      outcome: 'succeeded'
      reference: string
      /**
       * What the provider says it charged, in integer minor units of `currency` (Stripe's
       * `amount_received`, M-Pesa's `TransAmount` scaled): checked against the payment's own
       * before the order is paid (`chargeMismatch`), so a provider answering "paid" for another
       * amount or currency never settles the order.
       */
      amountMinor: number
      /** ISO 4217 code of what was charged, any letter case (Stripe answers `usd`). */
      currency: string
    }
  | { outcome: 'declined'; reason: string; reference?: string }

/**
 * Thrown by a provider when the call did not produce an outcome. `ambiguous` says whether the
 * provider may have charged anyway, and decides what the payment becomes:
 *
 * - `true` (the default, the safe side): the call timed out or was aborted, the connection
 *   dropped after the request went out, or the provider answered 5xx, 408 or 429. Stripe's
 *   "Advanced error handling" (docs.stripe.com/error-low-level) says a network error's and a
 *   500's result is indeterminate and is to be retried under the same idempotency key, never a
 *   new one. The payment stays `pending` (the order cannot be paid again) until reconciliation
 *   asks `retrieve` after PAYMENT_PENDING_LEASE.
 * - `false`: the provider said it did not and will not charge (a 4xx refusing the request, an
 *   outage answered before anything was processed). The payment settles as `error` at once and
 *   the order can be paid again under a new payment.
 *
 * `providerCallError` and `providerStatusError` build it from the outbound client's failures.
 */
export class ProviderError extends Error {
  override name = 'ProviderError'
  /** Whether the provider may have charged despite the error (see the class). */
  readonly ambiguous: boolean
  constructor(message: string, options: { ambiguous?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.ambiguous = options.ambiguous ?? true
  }
}

/**
 * How long the payment service waits for `charge` unless told otherwise (ms; the app passes
 * PAYMENT_PROVIDER_TIMEOUT_MS, whose default this is): the outbound client's default timeout,
 * which a provider calling out over HTTP inherits. Past it the call counts as an ambiguous
 * failure. Config refuses a PAYMENT_PENDING_LEASE shorter than the timeout plus a margin, or
 * reconciliation would ask `retrieve` while the charge is still in flight, hear "never
 * received", and settle as `error` a charge that then lands.
 */
export const PROVIDER_CALL_TIMEOUT_MS = DEFAULT_OUTBOUND_TIMEOUT_MS

/**
 * The ProviderError for an outbound call that threw instead of answering (the client's timeout
 * or abort, a refused or reset connection): ambiguous, since the request may have reached the
 * provider. The message names the failure's kind only: a fetch error may quote the URL.
 */
export function providerCallError(provider: string, error: unknown): ProviderError {
  const kind =
    error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
      ? 'no answer in time'
      : 'the connection failed'
  return new ProviderError(`${provider}: ${kind}; the charge may have gone through`, {
    ambiguous: true,
    cause: error,
  })
}

/**
 * The ProviderError for a provider's HTTP error status: ambiguous for 5xx, 408 and 429 (the
 * provider, or a proxy in front of it, may have processed the charge), definite for any other
 * 4xx (the provider refused the request).
 */
export function providerStatusError(provider: string, status: number, message: string): ProviderError {
  const ambiguous = status >= 500 || status === 408 || status === 429
  return new ProviderError(`${provider} answered ${status}: ${message}`, { ambiguous })
}

/**
 * Context of the call, for correlation with the provider's own logs and traces, and its
 * cancellation. A provider that calls out over HTTP passes all of it to its `OutboundInit`
 * (`requestId`, `traceId`, `traceFlags`, `traceState`, `signal`), so the call carries
 * `x-request-id`, a W3C `traceparent` continuing the request's trace with the caller's sampling
 * decision and the caller's `tracestate`, and ends when the caller stops waiting.
 */
export interface CallContext {
  requestId: string
  /**
   * Aborted when the caller stops waiting for the answer: the payment service aborts it at
   * PAYMENT_PROVIDER_TIMEOUT_MS, with a `TimeoutError` DOMException as its reason. A provider
   * ends its call then (the outbound client merges it with its own timeout) and rejects, as
   * `providerCallError` builds it; what the provider already processed stays processed, and
   * reconciliation finds it through `retrieve`. Absent: nobody cancels the call.
   */
  signal?: AbortSignal
  /** W3C trace-id (32 lowercase hex) of the request, or of the background job, making the call. */
  traceId?: string
  /**
   * W3C trace-flags (2 lowercase hex) of that trace: the incoming `traceparent`'s, so that a
   * caller's "not sampled" (`00`) is not turned into "sampled"; absent for a trace we started.
   */
  traceFlags?: string
  /**
   * The paying request's W3C `tracestate` (validated and bounded, trace-context.ts
   * parseTracestate), to forward with the trace; absent when the request brought none or did
   * not continue a trace, and for background jobs. Opaque: a provider must not log it.
   */
  traceState?: string
}

/**
 * A payment provider: one method per operation, so a real provider (M-Pesa, Stripe…) plugs
 * in by implementing this interface and registering under its name.
 */
export interface PaymentProvider {
  readonly name: string
  /**
   * Resolves with the outcome, or throws ProviderError when there is none: with `ambiguous:
   * false` only when the provider said it did not charge (see ProviderError); a timeout, a
   * dropped connection, a 5xx or a 429 is ambiguous (`providerCallError`,
   * `providerStatusError`). Anything else thrown counts as ambiguous too. The service stops
   * waiting after PAYMENT_PROVIDER_TIMEOUT_MS and aborts `context.signal` then: an HTTP
   * provider passes that signal to its `OutboundInit.signal`, so its call does not run on
   * until the outbound client's own timeout. Must be idempotent on `request.idempotencyKey`: a
   * repeat returns the first outcome, never a second charge.
   */
  charge(request: ChargeRequest, context: CallContext): Promise<ChargeResult>
  /**
   * What the provider did with the charge sent under `idempotencyKey` (Stripe: list
   * PaymentIntents by metadata; M-Pesa: transaction status query): its outcome, or undefined
   * when the provider never received it. Throws ProviderError when the provider cannot say
   * now (reconciliation asks again later).
   */
  retrieve(idempotencyKey: string, context: CallContext): Promise<ChargeResult | undefined>
}

export type ProviderRegistry = ReadonlyMap<string, PaymentProvider>

export function createProviderRegistry(providers: PaymentProvider[]): ProviderRegistry {
  return new Map(providers.map((p) => [p.name, p]))
}
