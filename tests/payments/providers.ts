import { eq } from 'drizzle-orm'
import type { Clock } from '../../src/core/clock.ts'
import { createLogger } from '../../src/core/logger.ts'
import type { Database } from '../../src/db/client.ts'
import { sandboxCharges } from '../../src/db/schema.ts'
import { type PaymentProvider, ProviderError } from '../../src/payments/providers.ts'
import { createSandboxProvider } from '../../src/payments/sandbox.ts'

/** The default PAYMENT_PENDING_LEASE (2m), as the reconciliation tests lease. */
export const LEASE_MS = 120_000

/** A logger that writes nothing, for the services the tests build by hand. */
export const quiet = createLogger({ level: 'silent', pretty: false })

/** Wall-clock time `offsetMs` ahead of now: payments' timestamps come from the database. */
export const clockAhead = (offsetMs: number): Clock => ({
  now: () => new Date(Date.now() + offsetMs),
  monotonic: () => performance.now(),
})

/** The real sandbox provider, counting the calls the service makes to it. */
export function countingSandbox(db: Database, latencyMs = 0) {
  const sandbox = createSandboxProvider({ db, latencyMs })
  const calls = { charge: 0, retrieve: 0 }
  const provider: PaymentProvider = {
    name: 'sandbox',
    charge(request, context) {
      calls.charge++
      return sandbox.charge(request, context)
    },
    retrieve(key, context) {
      calls.retrieve++
      return sandbox.retrieve(key, context)
    },
  }
  return { provider, calls }
}

/**
 * The sandbox provider, except that its first charge never answers until the test says so: what the
 * service sees when its process dies during the provider call. `charged` says whether the
 * provider received (and entered) the charge before going silent; `retrieveFails` makes the
 * provider unable to say what happened; `chargesLate` makes it charge when it answers. Not
 * charged, the call ends in a timeout (an ambiguous ProviderError), or with `refuses` in the
 * provider's definite refusal.
 */
export function stalledSandbox(
  db: Database,
  options: { charged: boolean; retrieveFails?: boolean; chargesLate?: boolean; refuses?: boolean },
) {
  const sandbox = createSandboxProvider({ db, latencyMs: 0 })
  let answer!: () => void
  const silence = new Promise<void>((resolve) => {
    answer = resolve
  })
  let arrived!: () => void
  const reached = new Promise<void>((resolve) => {
    arrived = resolve
  })
  let stalls = 1
  const provider: PaymentProvider = {
    name: 'sandbox',
    async charge(request, context) {
      // Only the first charge stalls; later payments of the order go through normally.
      if (stalls-- <= 0) return sandbox.charge(request, context)
      const result = options.charged ? await sandbox.charge(request, context) : undefined
      arrived()
      await silence
      // A provider slower than the lease: it processes the charge only after going silent.
      if (options.chargesLate) return sandbox.charge(request, context)
      if (!result && options.refuses)
        throw new ProviderError('sandbox: charge refused (simulated outage)', { ambiguous: false })
      if (!result) throw new ProviderError('sandbox: no answer (simulated timeout)')
      return result
    },
    async retrieve(key, context) {
      if (options.retrieveFails) throw new ProviderError('sandbox: status query unavailable')
      return sandbox.retrieve(key, context)
    },
  }
  return { provider, reached, answer }
}

/** The sandbox ledger's entries for one payment (the provider's idempotency key). */
export async function ledger(db: Database, paymentId: string) {
  return db.select().from(sandboxCharges).where(eq(sandboxCharges.idempotencyKey, paymentId))
}
