/** What a payment provider is asked to do. */
export interface ChargeRequest {
  paymentId: string
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

/** Context of the call, for correlation with the provider's own logs. */
export interface CallContext {
  requestId: string
}

/**
 * A payment provider: one method per operation, so a real provider (M-Pesa, Stripe…) plugs
 * in by implementing this interface and registering under its name.
 */
export interface PaymentProvider {
  readonly name: string
  /** Resolves with the outcome, or throws ProviderError when the provider failed. */
  charge(request: ChargeRequest, context: CallContext): Promise<ChargeResult>
}

export type ProviderRegistry = ReadonlyMap<string, PaymentProvider>

export function createProviderRegistry(providers: PaymentProvider[]): ProviderRegistry {
  return new Map(providers.map((p) => [p.name, p]))
}
