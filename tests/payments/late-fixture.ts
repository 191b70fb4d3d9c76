/**
 * The app both late-report tests run on (late-reports.test.ts: the service's
 * recordProviderReport; webhook.test.ts: the signed route in front of it): a `hooks` provider
 * whose status API never finds anything, a tenant with one order of 3000 KES, and the ways to
 * pay it, read it and have reconciliation give up on a payment.
 */
import { expect } from 'bun:test'
import { eq } from 'drizzle-orm'
import type { DatabaseHandle } from '../../src/db/client.ts'
import { payments } from '../../src/db/schema.ts'
import { amountMismatchMetrics } from '../../src/payments/metrics.ts'
import {
  type PaymentProvider,
  PROVIDER_CALL_TIMEOUT_MS,
  ProviderError,
} from '../../src/payments/providers.ts'
import { createPaymentReconciler, reconcilerMetrics } from '../../src/payments/reconciler.ts'
import type { PaymentRow } from '../../src/payments/repository.ts'
import { buildTestApp } from '../helpers/app.ts'
import { createOrder, createProduct, createTenant } from '../helpers/commerce.ts'
import { clockAhead, LEASE_MS } from './providers.ts'

/**
 * A provider whose charge answers by its source: `tok_success` charges, `tok_declined`
 * declines, `tok_timeout` gives no outcome (503 PAYMENT_PENDING). Its status query never finds
 * anything (a status API lagging behind its webhooks), so reconciliation settles a pending
 * payment as `error`.
 */
export const hooksProvider: PaymentProvider = {
  name: 'hooks',
  async charge(request) {
    if (request.source === 'tok_timeout') throw new ProviderError('hooks: no answer (simulated timeout)')
    if (request.source === 'tok_declined')
      return {
        outcome: 'declined',
        reason: 'card_declined',
        reference: `dec_${request.paymentId.slice(0, 8)}`,
      }
    return {
      outcome: 'succeeded',
      reference: `ch_${request.paymentId.slice(0, 8)}`,
      amountMinor: request.amountMinor,
      currency: request.currency,
    }
  },
  async retrieve() {
    return undefined
  },
}

/** The app on `database` with `env`, its `hooks` provider also taking `tok_gate`, which charges once `open()` is called. */
export async function latePaymentApp(database: DatabaseHandle, env?: Record<string, string>) {
  let open!: () => void
  const gate = new Promise<void>((resolve) => {
    open = resolve
  })
  const provider: PaymentProvider = {
    ...hooksProvider,
    async charge(request, context) {
      if (request.source !== 'tok_gate') return hooksProvider.charge(request, context)
      await gate
      return hooksProvider.charge({ ...request, source: 'tok_success' }, context)
    },
  }
  const built = await buildTestApp({ database, paymentProviders: [provider], env })
  const tenant = await createTenant(built.call)
  const product = await createProduct(built.call, tenant.apiKey, { priceMinor: 1500, stock: 10 })
  const order = await createOrder(built.call, tenant.apiKey, [{ productId: product.id, quantity: 2 }])
  const pay = (source: string, key: string = crypto.randomUUID()) =>
    built.call(`/orders/${order.id}/payments`, {
      method: 'POST',
      token: tenant.apiKey,
      headers: { 'idempotency-key': key },
      json: { provider: 'hooks', source },
    })
  /** The payment's id in a payment answer, settled (its body) or not (the error's details). */
  const paymentIdOf = async (res: Response) => {
    const body = (await res.json()) as { id?: string; error?: { details: { payment: { id: string } } } }
    return body.id ?? body.error!.details.payment.id
  }
  const orderStatus = async () =>
    ((await (await built.call(`/orders/${order.id}`, { token: tenant.apiKey })).json()) as { status: string })
      .status
  const cancel = () =>
    built.call(`/orders/${order.id}/status`, {
      method: 'PATCH',
      token: tenant.apiKey,
      json: { status: 'cancelled' },
    })
  const row = async (id: string) => (await database.db.select().from(payments).where(eq(payments.id, id)))[0]!
  const fields = (p: PaymentRow) => [p.status, p.providerReference, p.failureReason]
  const scrape = async (name: string) =>
    (await (await built.call('/metrics')).text())
      .split('\n')
      .filter((line) => line.startsWith(name))
      .sort()
  /** A payment the provider gave no outcome for, settled `error` by reconciliation (`not_found`). */
  async function givenUp() {
    const res = await pay('tok_timeout')
    expect(res.status).toBe(503)
    const id = await paymentIdOf(res)
    const reconciler = createPaymentReconciler({
      db: database.db,
      providers: [hooksProvider],
      clock: clockAhead(LEASE_MS + 1000),
      log: built.logs.log,
      leaseMs: LEASE_MS,
      providerTimeoutMs: PROVIDER_CALL_TIMEOUT_MS,
      metrics: reconcilerMetrics(built.deps.metrics, ['hooks']),
      business: built.deps.metrics.business,
      mismatches: amountMismatchMetrics(built.deps.metrics, ['hooks']),
    })
    expect(await reconciler.tick()).toContain('not_found')
    expect(fields(await row(id))).toEqual([
      'error',
      null,
      'the provider never received the charge (settled by reconciliation)',
    ])
    return id
  }
  return {
    ...built,
    database,
    tenant,
    order,
    open,
    pay,
    paymentIdOf,
    orderStatus,
    cancel,
    row,
    fields,
    scrape,
    givenUp,
  }
}
