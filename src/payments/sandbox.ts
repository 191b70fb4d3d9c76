import { type ChargeRequest, type ChargeResult, type PaymentProvider, ProviderError } from './providers.ts'

/**
 * A provider that behaves like a real one for development, demos and load tests:
 * `tok_success` succeeds, `tok_declined` is declined, `tok_error` fails with a provider
 * error; anything else is declined as an invalid source. Answers after `latencyMs`.
 */
export function createSandboxProvider(options: { latencyMs: number }): PaymentProvider {
  const wait = () => new Promise((resolve) => setTimeout(resolve, options.latencyMs))
  return {
    name: 'sandbox',
    async charge(request: ChargeRequest): Promise<ChargeResult> {
      if (options.latencyMs > 0) await wait()
      switch (request.source) {
        case 'tok_success':
          return { outcome: 'succeeded', reference: `sbx_${request.paymentId.slice(0, 8)}` }
        case 'tok_declined':
          return { outcome: 'declined', reason: 'card_declined: insufficient funds' }
        case 'tok_error':
          throw new ProviderError('sandbox provider unavailable (simulated upstream 503)')
        default:
          return { outcome: 'declined', reason: 'invalid_source: unknown sandbox token' }
      }
    },
  }
}
