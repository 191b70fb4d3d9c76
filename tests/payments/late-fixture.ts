/**
 * The app the late-report tests run on (late-reports.test.ts: the service's
 * recordProviderReport; webhook.test.ts: the signed route in front of it; late-payments and
 * break-late-charges: what a payment's Idempotency-Key replays after such a report): a `hooks`
 * provider whose status API never finds anything, a tenant with one order of 3000 KES, and the
 * ways to pay it, report on it, read it and its key, and have reconciliation give up on it.
 */
import { expect } from 'bun:test'
import { and, eq } from 'drizzle-orm'
import type { Database, DatabaseHandle } from '../../src/db/client.ts'
import { idempotencyKeys, payments } from '../../src/db/schema.ts'
import { tenantScope } from '../../src/idempotency/service.ts'
import { amountMismatchMetrics } from '../../src/payments/metrics.ts'
import {
  type ChargeResult,
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
/** The Idempotency-Key row `key` stored under `tenantId`'s scope, or undefined. */
export async function storedKeyRow(db: Database, tenantId: string, key: string) {
  const rows = await db
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.scope, tenantScope(tenantId)), eq(idempotencyKeys.key, key)))
  return rows[0]
}

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
  /** A reconciler whose clock is past the lease, asking `provider` (default hooksProvider, which finds nothing). */
  const pastLeaseReconciler = (provider: PaymentProvider = hooksProvider) =>
    createPaymentReconciler({
      db: database.db,
      providers: [provider],
      clock: clockAhead(LEASE_MS + 1000),
      log: built.logs.log,
      leaseMs: LEASE_MS,
      providerTimeoutMs: PROVIDER_CALL_TIMEOUT_MS,
      metrics: reconcilerMetrics(built.deps.metrics, ['hooks']),
      business: built.deps.metrics.business,
      mismatches: amountMismatchMetrics(built.deps.metrics, ['hooks']),
    })
  /** A payment the provider gave no outcome for, settled `error` by reconciliation (`not_found`). */
  async function givenUp() {
    const res = await pay('tok_timeout')
    expect(res.status).toBe(503)
    const id = await paymentIdOf(res)
    expect(await pastLeaseReconciler().tick()).toContain('not_found')
    expect(fields(await row(id))).toEqual([
      'error',
      null,
      'the provider never received the charge (settled by reconciliation)',
    ])
    return id
  }
  /** `provider`'s report of the payment's charge, through the service (what a webhook or late answer calls). */
  const report = (paymentId: string, result: ChargeResult, provider = 'hooks') =>
    built.deps.services.payments.recordProviderReport(provider, paymentId, result, built.logs.log)
  /** The provider's success for the order's 3000 KES, with `overrides`. */
  const success = (paymentId: string, overrides: Partial<ChargeResult> = {}): ChargeResult => ({
    outcome: 'succeeded',
    reference: `ch_${paymentId.slice(0, 8)}`,
    amountMinor: 3000,
    currency: 'KES',
    ...(overrides as object),
  })
  const decline: ChargeResult = { outcome: 'declined', reason: 'card_declined' }
  const keyRow = (key: string) => storedKeyRow(database.db, tenant.id, key)
  /** A payment retried under `key`: status, replay header and body text. */
  const retry = async (source: string, key: string) => {
    const res = await pay(source, key)
    return { status: res.status, replayed: res.headers.get('idempotent-replayed'), text: await res.text() }
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
    pastLeaseReconciler,
    report,
    success,
    decline,
    keyRow,
    retry,
  }
}
