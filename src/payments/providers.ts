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
  | { outcome: 'succeeded'; reference: string }
  | { outcome: 'declined'; reason: string; reference?: string }

/** Thrown by a provider when it could not process the charge at all (outage, bad answer). */
export class ProviderError extends Error {
  override name = 'ProviderError'
}

/**
 * Context of the call, for correlation with the provider's own logs and traces. A provider
 * that calls out over HTTP passes all of it to its `OutboundInit` (`requestId`, `traceId`,
 * `traceFlags`, `traceState`), so the call carries `x-request-id`, a W3C `traceparent`
 * continuing the request's trace with the caller's sampling decision, and the caller's
 * `tracestate`.
 */
export interface CallContext {
  requestId: string
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
   * Resolves with the outcome, or throws ProviderError when the provider failed. Must be
   * idempotent on `request.idempotencyKey`: a repeat returns the first outcome, never a
   * second charge.
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
