import { eq } from 'drizzle-orm'
import type { Database } from '../db/client.ts'
import { sandboxCharges } from '../db/schema.ts'
import {
  type CallContext,
  type ChargeRequest,
  type ChargeResult,
  type PaymentProvider,
  ProviderError,
  providerCallError,
} from './providers.ts'

type ChargeRow = typeof sandboxCharges.$inferSelect

const resultOf = (row: ChargeRow): ChargeResult =>
  row.outcome === 'succeeded'
    ? {
        outcome: 'succeeded',
        reference: row.reference ?? '',
        amountMinor: row.amountMinor,
        currency: row.currency,
      }
    : {
        outcome: 'declined',
        reason: row.reason ?? 'declined',
        ...(row.reference ? { reference: row.reference } : {}),
      }

/**
 * A provider that behaves like a real one for development, demos, load and crash tests:
 * `tok_success` succeeds, `tok_declined` is declined, `tok_error` fails with a definite provider
 * error (an outage refusing the charge: nothing is charged); anything else is declined as an invalid source.
 *
 * Like a real provider it keeps a ledger, in its own table of the service's database so that
 * it outlives a crash of the service: a charge is entered when the request arrives and
 * answered after `latencyMs`, so a service killed during that wait has charged the customer
 * without knowing it (reconciliation finds out through `retrieve`), and so has a caller that
 * aborts the call (`context.signal`) during that wait. Charges are idempotent
 * on `idempotencyKey`: a repeat answers the first outcome and enters nothing.
 */
export function createSandboxProvider(options: { db: Database; latencyMs: number }): PaymentProvider {
  const { db } = options
  /**
   * The simulated latency, cut short when the caller aborts: the caller then gets what an HTTP
   * client gets from an aborted fetch (providerCallError, ambiguous), while a charge already
   * entered stays in the ledger, as a real provider goes on processing a request whose client
   * went away (reconciliation finds it through `retrieve`).
   */
  const wait = (signal: AbortSignal | undefined) => {
    if (signal?.aborted) return Promise.reject(providerCallError('sandbox', signal.reason))
    if (options.latencyMs <= 0) return undefined
    return new Promise<void>((resolve, reject) => {
      const aborted = () => {
        clearTimeout(timer)
        reject(providerCallError('sandbox', signal?.reason))
      }
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', aborted)
        resolve()
      }, options.latencyMs)
      signal?.addEventListener('abort', aborted, { once: true })
    })
  }

  async function enter(request: ChargeRequest, result: ChargeResult): Promise<ChargeResult> {
    await db
      .insert(sandboxCharges)
      .values({
        idempotencyKey: request.idempotencyKey,
        outcome: result.outcome,
        reference: result.reference ?? null,
        reason: result.outcome === 'declined' ? result.reason : null,
        amountMinor: request.amountMinor,
        currency: request.currency,
      })
      .onConflictDoNothing()
    const [row] = await db
      .select()
      .from(sandboxCharges)
      .where(eq(sandboxCharges.idempotencyKey, request.idempotencyKey))
    return resultOf(row!)
  }

  return {
    name: 'sandbox',
    async charge(request: ChargeRequest, context?: CallContext): Promise<ChargeResult> {
      const signal = context?.signal
      // Aborted before it went out, the request never reaches the provider: nothing is entered.
      if (signal?.aborted) throw providerCallError('sandbox', signal.reason)
      let result: ChargeResult
      switch (request.source) {
        case 'tok_success':
          result = {
            outcome: 'succeeded',
            reference: `sbx_${request.idempotencyKey.slice(0, 8)}`,
            amountMinor: request.amountMinor,
            currency: request.currency,
          }
          break
        case 'tok_declined':
          result = { outcome: 'declined', reason: 'card_declined: insufficient funds' }
          break
        case 'tok_error':
          await wait(signal)
          // Refused before anything was processed: a definite failure, settled at once.
          throw new ProviderError('sandbox provider unavailable (simulated upstream 503)', {
            ambiguous: false,
          })
        default:
          result = { outcome: 'declined', reason: 'invalid_source: unknown sandbox token' }
      }
      const entered = await enter(request, result)
      await wait(signal)
      return entered
    },
    async retrieve(idempotencyKey: string): Promise<ChargeResult | undefined> {
      const [row] = await db
        .select()
        .from(sandboxCharges)
        .where(eq(sandboxCharges.idempotencyKey, idempotencyKey))
      return row ? resultOf(row) : undefined
    },
  }
}

/**
 * The start-up warning for a sandbox slower than the payment deadline (SANDBOX_LATENCY_MS ≥
 * PAYMENT_PROVIDER_TIMEOUT_MS, both ms), or undefined: every sandbox payment then answers 503
 * PAYMENT_PENDING and stays pending until reconciliation settles it. Allowed, since that is a
 * demo of the ambiguous path, but said once rather than found out.
 */
export function sandboxLatencyWarning(latencyMs: number, providerTimeoutMs: number): string | undefined {
  if (latencyMs < providerTimeoutMs) return undefined
  return `SANDBOX_LATENCY_MS (${latencyMs}) is not below PAYMENT_PROVIDER_TIMEOUT_MS (${providerTimeoutMs}): every sandbox payment answers 503 PAYMENT_PENDING and stays pending until reconciliation settles it (after PAYMENT_PENDING_LEASE)`
}
