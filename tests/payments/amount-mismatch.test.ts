/**
 * A provider's "paid" settles the order only for the payment's own amount and currency: a
 * success reported for another amount (integer minor units) or currency is settled as `error`,
 * the order stays unpaid, and the charge is counted and logged for a refund.
 */
import { describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { payments } from '../../src/db/schema.ts'
import { amountMismatchMetrics } from '../../src/payments/metrics.ts'
import type { ChargeResult, PaymentProvider } from '../../src/payments/providers.ts'
import { createPaymentReconciler, reconcilerMetrics } from '../../src/payments/reconciler.ts'
import { buildTestApp } from '../helpers/app.ts'
import { createOrder, createProduct, createTenant } from '../helpers/commerce.ts'
import { fileDatabase } from '../helpers/db.ts'
import { clockAhead, LEASE_MS, quiet } from './providers.ts'

// The reconciliation test leases every stale pending payment of its database.
const ownDatabase = fileDatabase()

/** A provider answering `succeeded` with what `reported` makes of the request's amount and currency. */
function reportingProvider(
  reported: (request: { amountMinor: number; currency: string }) => { amountMinor: number; currency: string },
): PaymentProvider {
  const charged = new Map<string, ChargeResult>()
  return {
    name: 'liar',
    async charge(request) {
      const result: ChargeResult = { outcome: 'succeeded', reference: 'ref-liar-1', ...reported(request) }
      charged.set(request.idempotencyKey, result)
      return result
    },
    async retrieve(key) {
      return charged.get(key)
    },
  }
}

async function setup(provider: PaymentProvider) {
  const database = await ownDatabase()
  const built = await buildTestApp({ database, paymentProviders: [provider] })
  const tenant = await createTenant(built.call)
  const product = await createProduct(built.call, tenant.apiKey, { priceMinor: 5000, stock: 10 })
  const order = await createOrder(built.call, tenant.apiKey, [{ productId: product.id, quantity: 2 }])
  const pay = () =>
    built.call(`/orders/${order.id}/payments`, {
      method: 'POST',
      token: tenant.apiKey,
      headers: { 'x-request-id': 'req-mismatch' },
      json: { provider: provider.name, source: 'tok_any' },
    })
  const orderStatus = async () =>
    ((await (await built.call(`/orders/${order.id}`, { token: tenant.apiKey })).json()) as { status: string })
      .status
  const scrape = async (name: string) =>
    (await (await built.call('/metrics')).text())
      .split('\n')
      .filter((line) => line.startsWith(name))
      .sort()
  return { ...built, database, tenant, order, pay, orderStatus, scrape }
}

const MISMATCH_100 =
  'amount_mismatch: the provider reported a charge of 100 KES for a payment of 10000 KES; the order was not marked paid, refund the charge'

describe('a provider reporting another amount or currency than the payment', () => {
  test('paid 100 for 10 000: 502 with the payment as error, the order not paid, counted and logged', async () => {
    const app = await setup(reportingProvider((r) => ({ amountMinor: 100, currency: r.currency })))
    const res = await app.pay()
    expect(res.status).toBe(502)
    const body = (await res.json()) as { error: Record<string, unknown> }
    const payment = (body.error.details as { payment: Record<string, unknown> }).payment
    expect([body.error.code, body.error.message]).toEqual([
      'PROVIDER_ERROR',
      'Payment provider liar reported a charge that does not match the payment; the order was not marked paid',
    ])
    expect([payment.status, payment.amountMinor, payment.currency, payment.providerReference]).toEqual([
      'error',
      10000,
      'KES',
      'ref-liar-1',
    ])
    expect(payment.failureReason).toBe(MISMATCH_100)
    expect(await app.orderStatus()).toBe('pending')
    expect(await app.scrape('payments_amount_mismatch_total{')).toEqual([
      'payments_amount_mismatch_total{provider="liar"} 1',
    ])
    expect(await app.scrape(`payments_processed_total{tenant_id="${app.tenant.id}"`)).toEqual([
      `payments_processed_total{tenant_id="${app.tenant.id}",provider="liar",status="error"} 1`,
    ])
    const warned = app.logs.lines.filter((l) => l.event === 'payment_amount_mismatch')
    expect(warned.map((l) => [l.level, l.paymentId, l.orderId, l.failureReason])).toEqual([
      ['warn', payment.id, app.order.id, MISMATCH_100],
    ])
    // Not the "charged after reconciliation" warning: nothing reconciled it.
    expect(app.logs.lines.filter((l) => l.event === 'payment_charged_after_reconciliation')).toEqual([])
  }, 30_000)

  test('the right amount in another currency is a mismatch; the same code in lower case is not', async () => {
    const other = await setup(reportingProvider((r) => ({ amountMinor: r.amountMinor, currency: 'usd' })))
    const res = await other.pay()
    expect(res.status).toBe(502)
    const payment = ((await res.json()) as { error: { details: { payment: Record<string, unknown> } } }).error
      .details.payment
    expect([payment.status, payment.failureReason]).toEqual([
      'error',
      'amount_mismatch: the provider reported a charge of 10000 USD for a payment of 10000 KES; the order was not marked paid, refund the charge',
    ])
    expect(await other.orderStatus()).toBe('pending')

    const lower = await setup(
      reportingProvider((r) => ({ amountMinor: r.amountMinor, currency: r.currency.toLowerCase() })),
    )
    const paid = await lower.pay()
    expect(paid.status).toBe(201)
    expect(((await paid.json()) as { status: string }).status).toBe('succeeded')
    expect(await lower.orderStatus()).toBe('paid')
  }, 30_000)

  test('an amount that is no integer, or a currency that is no code, is named without its text', async () => {
    const app = await setup(reportingProvider(() => ({ amountMinor: 10000.5, currency: 'K€S <script>' })))
    const res = await app.pay()
    const payment = ((await res.json()) as { error: { details: { payment: Record<string, unknown> } } }).error
      .details.payment
    expect(payment.failureReason).toBe(
      'amount_mismatch: the provider reported a charge of a non-integer amount in an unknown currency for a payment of 10000 KES; the order was not marked paid, refund the charge',
    )
    expect(await app.orderStatus()).toBe('pending')
  })

  test('reconciliation finding a success of another amount: amount_mismatch, the payment error, the order not paid', async () => {
    // The charge never answers: the payment is left pending, as when the process died in the call.
    const liar = reportingProvider((r) => ({ amountMinor: 100, currency: r.currency }))
    const silent: PaymentProvider = {
      name: 'liar',
      async charge(request, context) {
        await liar.charge(request, context)
        return new Promise<never>(() => {})
      },
      retrieve: (key, context) => liar.retrieve(key, context),
    }
    const app = await setup(silent)
    void app.pay()
    let payment: typeof payments.$inferSelect | undefined
    while (!payment) {
      ;[payment] = await app.database.db.select().from(payments).where(eq(payments.orderId, app.order.id))
      await Bun.sleep(5)
    }
    const reconciler = createPaymentReconciler({
      db: app.database.db,
      providers: [silent],
      clock: clockAhead(LEASE_MS + 1000),
      log: quiet,
      leaseMs: LEASE_MS,
      providerTimeoutMs: 1000,
      metrics: reconcilerMetrics(app.deps.metrics, ['liar']),
      mismatches: amountMismatchMetrics(app.deps.metrics, ['liar']),
    })
    expect(await reconciler.tick()).toEqual(['amount_mismatch'])
    const [settled] = await app.database.db.select().from(payments).where(eq(payments.id, payment.id))
    expect([settled!.status, settled!.providerReference, settled!.failureReason]).toEqual([
      'error',
      'ref-liar-1',
      MISMATCH_100,
    ])
    expect(await app.orderStatus()).toBe('pending')
    expect(await app.scrape('payments_amount_mismatch_total{')).toEqual([
      'payments_amount_mismatch_total{provider="liar"} 1',
    ])
    expect(await app.scrape('payments_reconciled_total{provider="liar",outcome="amount_mismatch"}')).toEqual([
      'payments_reconciled_total{provider="liar",outcome="amount_mismatch"} 1',
    ])
  })
})
