/**
 * A provider's report of a charge that arrives after we settled the payment without it
 * (webhooks and callbacks, or the charge's own late answer): reconciliation found nothing and
 * settled it `error`, the provider declined first, the order was cancelled meanwhile, the
 * report is delivered twice or out of order. The provider's success for the payment's amount
 * and currency is recorded with its reference; the order is paid when it still can be, and the
 * charge is flagged `refund_required:` and counted when it cannot; nothing un-pays a payment.
 */
import { describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { AppError } from '../../src/core/errors.ts'
import { orders, payments } from '../../src/db/schema.ts'
import { amountMismatchMetrics } from '../../src/payments/metrics.ts'
import {
  type ChargeResult,
  type PaymentProvider,
  PROVIDER_CALL_TIMEOUT_MS,
} from '../../src/payments/providers.ts'
import { createPaymentReconciler } from '../../src/payments/reconciler.ts'
import type { PaymentRow } from '../../src/payments/repository.ts'
import { lateTransition } from '../../src/payments/service.ts'
import { buildTestApp } from '../helpers/app.ts'
import { createOrder, createProduct, createTenant } from '../helpers/commerce.ts'
import { fileDatabase } from '../helpers/db.ts'
import { hooksProvider, latePaymentApp } from './late-fixture.ts'
import { clockAhead, LEASE_MS, stalledSandbox } from './providers.ts'

// Reconciliation leases every stale pending payment of its database.
const ownDatabase = fileDatabase()

const setup = async () => latePaymentApp(await ownDatabase())

const REFUND_CANCELLED =
  'refund_required: the provider charged 3000 KES for an order that is cancelled; the order was not marked paid, refund the charge'

describe('a provider success after reconciliation found nothing', () => {
  test('error → succeeded with the reference, the order paid; the same webhook again changes nothing', async () => {
    const app = await setup()
    const id = await app.givenUp()
    expect(await app.orderStatus()).toBe('pending')

    const first = await app.report(id, app.success(id))
    expect(first.outcome).toBe('paid')
    const after = await app.row(id)
    expect(app.fields(after)).toEqual(['succeeded', `ch_${id.slice(0, 8)}`, null])
    expect(first.payment).toMatchObject({ status: 'succeeded', providerReference: `ch_${id.slice(0, 8)}` })
    expect(await app.orderStatus()).toBe('paid')

    // Redelivered: nothing moves, not even updated_at.
    const again = await app.report(id, app.success(id))
    expect(again.outcome).toBe('unchanged')
    expect(await app.row(id)).toEqual(after)
    expect(await app.orderStatus()).toBe('paid')

    // Counted once, as the reconciler's error: the late success is no second payment.
    expect(await app.scrape(`payments_processed_total{tenant_id="${app.tenant.id}"`)).toEqual([
      `payments_processed_total{tenant_id="${app.tenant.id}",provider="hooks",status="error"} 1`,
    ])
    expect(await app.scrape('payments_refund_required_total{')).toEqual([
      'payments_refund_required_total{provider="hooks"} 0',
    ])
    const logged = app.logs.lines.filter((l) => l.event === 'payment_late_report')
    expect(logged.map((l) => [l.level, l.paymentId, l.from, l.to])).toEqual([
      ['warn', id, 'error', 'succeeded'],
      ['info', id, 'succeeded', 'succeeded'],
    ])
  })

  test('the order was cancelled meanwhile: succeeded and flagged refund_required, counted once, the order stays cancelled', async () => {
    const app = await setup()
    const id = await app.givenUp()
    expect((await app.cancel()).status).toBe(200)

    const first = await app.report(id, app.success(id))
    expect(first.outcome).toBe('refund_required')
    const after = await app.row(id)
    expect(app.fields(after)).toEqual(['succeeded', `ch_${id.slice(0, 8)}`, REFUND_CANCELLED])
    expect(await app.orderStatus()).toBe('cancelled')
    expect((await app.report(id, app.success(id))).outcome).toBe('unchanged')
    expect(await app.row(id)).toEqual(after)
    expect(await app.scrape('payments_refund_required_total{')).toEqual([
      'payments_refund_required_total{provider="hooks"} 1',
    ])
    expect(app.logs.lines.filter((l) => l.event === 'payment_for_unpayable_order')).toEqual([
      expect.objectContaining({
        level: 'warn',
        paymentId: id,
        status: 'cancelled',
        failureReason: REFUND_CANCELLED,
      }),
    ])
  })

  test('the customer paid again meanwhile: the first charge is recorded and flagged, the order paid once', async () => {
    const app = await setup()
    const id = await app.givenUp()
    const second = await app.pay('tok_success')
    expect(second.status).toBe(201)
    expect(await app.orderStatus()).toBe('paid')

    expect((await app.report(id, app.success(id))).outcome).toBe('refund_required')
    expect(app.fields(await app.row(id))).toEqual([
      'succeeded',
      `ch_${id.slice(0, 8)}`,
      'refund_required: the provider charged 3000 KES for an order that is paid; the order was not marked paid, refund the charge',
    ])
    expect(await app.orderStatus()).toBe('paid')
    expect(await app.scrape('payments_refund_required_total{')).toEqual([
      'payments_refund_required_total{provider="hooks"} 1',
    ])
  })

  test('it lands while the customer pays again: the order paid by it, the second charge flagged', async () => {
    const app = await setup()
    const id = await app.givenUp()
    const second = app.pay('tok_gate')
    let secondId: string | undefined
    while (!secondId) {
      const rows = await app.database.db.select().from(payments).where(eq(payments.orderId, app.order.id))
      secondId = rows.find((r) => r.status === 'pending')?.id
    }
    expect((await app.report(id, app.success(id))).outcome).toBe('paid')
    expect(await app.orderStatus()).toBe('paid')
    app.open()
    const answered = await second
    expect(answered.status).toBe(201)
    expect(app.fields(await app.row(secondId))).toEqual([
      'succeeded',
      `ch_${secondId.slice(0, 8)}`,
      'refund_required: the provider charged 3000 KES for an order that is paid; the order was not marked paid, refund the charge',
    ])
    expect(app.fields(await app.row(id))).toEqual(['succeeded', `ch_${id.slice(0, 8)}`, null])
    expect(await app.scrape('payments_refund_required_total{')).toEqual([
      'payments_refund_required_total{provider="hooks"} 1',
    ])
  })

  test('another amount: error with the reference and amount_mismatch, counted; the order stays payable', async () => {
    const app = await setup()
    const id = await app.givenUp()
    const mismatched = app.success(id, { amountMinor: 300 })
    expect((await app.report(id, mismatched)).outcome).toBe('amount_mismatch')
    const after = await app.row(id)
    expect(app.fields(after)).toEqual([
      'error',
      `ch_${id.slice(0, 8)}`,
      'amount_mismatch: the provider reported a charge of 300 KES for a payment of 3000 KES; the order was not marked paid, refund the charge',
    ])
    expect(await app.orderStatus()).toBe('pending')
    expect((await app.report(id, mismatched)).outcome).toBe('unchanged')
    // The same charge reported for the right amount contradicts the recorded one: left for review.
    expect((await app.report(id, app.success(id))).outcome).toBe('unchanged')
    expect(await app.row(id)).toEqual(after)
    expect(await app.scrape('payments_amount_mismatch_total{')).toEqual([
      'payments_amount_mismatch_total{provider="hooks"} 1',
    ])
  })

  test('five deliveries of one webhook at once: one applies, four change nothing', async () => {
    const app = await setup()
    const id = await app.givenUp()
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => app.report(id, app.success(id))))
    expect(outcomes.map((o) => o.outcome).sort()).toEqual([
      'paid',
      'unchanged',
      'unchanged',
      'unchanged',
      'unchanged',
    ])
    expect(app.fields(await app.row(id))).toEqual(['succeeded', `ch_${id.slice(0, 8)}`, null])
    expect(await app.orderStatus()).toBe('paid')
  })
})

describe('a success for an order no longer payable while its payment was pending', () => {
  test('reconciliation records it succeeded, flagged refund_required and counted; the order untouched', async () => {
    const app = await setup()
    const res = await app.pay('tok_timeout')
    expect(res.status).toBe(503)
    const id = ((await res.json()) as { error: { details: { payment: { id: string } } } }).error.details
      .payment.id
    // The API refuses to cancel an order whose payment is pending; a race past that check (or
    // an operator's hand) is what this stands for.
    await app.database.db.update(orders).set({ status: 'cancelled' }).where(eq(orders.id, app.order.id))
    const charged: PaymentProvider = { ...hooksProvider, retrieve: async (key) => app.success(key) }
    const reconciler = createPaymentReconciler({
      db: app.database.db,
      providers: [charged],
      clock: clockAhead(LEASE_MS + 1000),
      log: app.logs.log,
      leaseMs: LEASE_MS,
      providerTimeoutMs: PROVIDER_CALL_TIMEOUT_MS,
      mismatches: amountMismatchMetrics(app.deps.metrics, ['hooks']),
    })
    expect(await reconciler.tick()).toEqual(['succeeded'])
    expect(app.fields(await app.row(id))).toEqual(['succeeded', `ch_${id.slice(0, 8)}`, REFUND_CANCELLED])
    expect(await app.orderStatus()).toBe('cancelled')
    expect(await app.scrape('payments_refund_required_total{')).toEqual([
      'payments_refund_required_total{provider="hooks"} 1',
    ])
    // Its webhook, delivered after: nothing more to do.
    expect((await app.report(id, app.success(id))).outcome).toBe('unchanged')
    expect(await app.scrape('payments_refund_required_total{')).toEqual([
      'payments_refund_required_total{provider="hooks"} 1',
    ])
  })
})

describe('provider reports of a payment already settled by its request', () => {
  test('declined, then succeeded: failed → succeeded with the success reference, the order paid', async () => {
    const app = await setup()
    const res = await app.pay('tok_declined')
    expect(res.status).toBe(402)
    const id = ((await res.json()) as { error: { details: { payment: { id: string } } } }).error.details
      .payment.id
    expect(app.fields(await app.row(id))).toEqual(['failed', `dec_${id.slice(0, 8)}`, 'card_declined'])
    // The declined webhook repeats what is recorded.
    expect((await app.report(id, { outcome: 'declined', reason: 'card_declined' })).outcome).toBe('unchanged')
    expect((await app.report(id, app.success(id))).outcome).toBe('paid')
    expect(app.fields(await app.row(id))).toEqual(['succeeded', `ch_${id.slice(0, 8)}`, null])
    expect(await app.orderStatus()).toBe('paid')
  })

  test('succeeded, then failed or another reference: never un-paid, warned for review', async () => {
    const app = await setup()
    const res = await app.pay('tok_success')
    expect(res.status).toBe(201)
    const id = ((await res.json()) as { id: string }).id
    const paid = await app.row(id)
    expect(app.fields(paid)).toEqual(['succeeded', `ch_${id.slice(0, 8)}`, null])
    expect((await app.report(id, { outcome: 'declined', reason: 'card_declined' })).outcome).toBe('unchanged')
    expect((await app.report(id, app.success(id, { reference: 'ch_other' }))).outcome).toBe('unchanged')
    expect((await app.report(id, app.success(id))).outcome).toBe('unchanged')
    expect(await app.row(id)).toEqual(paid)
    expect(await app.orderStatus()).toBe('paid')
    const logged = app.logs.lines.filter((l) => l.event === 'payment_late_report')
    expect(logged.map((l) => [l.level, l.reported, l.to])).toEqual([
      ['warn', 'declined', 'succeeded'],
      ['warn', 'succeeded', 'succeeded'],
      ['info', 'succeeded', 'succeeded'],
    ])
  })

  test("another provider's report, or an unknown payment: 404, nothing changes", async () => {
    const app = await setup()
    const res = await app.pay('tok_declined')
    const id = ((await res.json()) as { error: { details: { payment: { id: string } } } }).error.details
      .payment.id
    const before = await app.row(id)
    for (const [provider, paymentId] of [
      ['sandbox', id],
      ['hooks', crypto.randomUUID()],
      ['hooks', 'pi_3Mtw'],
    ] as const) {
      const error = await app.report(paymentId, app.success(paymentId), provider).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(AppError)
      expect((error as AppError).status).toBe(404)
    }
    expect(await app.row(id)).toEqual(before)
  })
})

describe('a webhook before reconciliation, while the request still waits', () => {
  test('settles the pending payment, answers its waiting key; the request then answers it, counted once', async () => {
    const database = await ownDatabase()
    const stalled = stalledSandbox(database.db, { charged: true })
    const built = await buildTestApp({ database, paymentProviders: [stalled.provider] })
    const tenant = await createTenant(built.call)
    const product = await createProduct(built.call, tenant.apiKey, { priceMinor: 700, stock: 5 })
    const order = await createOrder(built.call, tenant.apiKey, [{ productId: product.id, quantity: 1 }])
    const key = crypto.randomUUID()
    const pay = () =>
      built.call(`/orders/${order.id}/payments`, {
        method: 'POST',
        token: tenant.apiKey,
        headers: { 'idempotency-key': key },
        json: { provider: 'sandbox', source: 'tok_success' },
      })
    const inFlight = pay()
    await stalled.reached
    const [pending] = await database.db.select().from(payments).where(eq(payments.orderId, order.id))
    const id = pending!.id
    const webhook = await built.deps.services.payments.recordProviderReport(
      'sandbox',
      id,
      { outcome: 'succeeded', reference: `sbx_${id.slice(0, 8)}`, amountMinor: 700, currency: 'KES' },
      built.logs.log,
    )
    expect(webhook.outcome).toBe('paid')
    expect(webhook.payment).toMatchObject({ status: 'succeeded', providerReference: `sbx_${id.slice(0, 8)}` })
    // The request's key was waiting on the payment: a retry gets the outcome at once.
    const early = await pay()
    expect([early.status, early.headers.get('idempotent-replayed')]).toEqual([201, 'true'])
    stalled.answer()
    const answered = await inFlight
    expect(answered.status).toBe(201)
    expect(((await answered.json()) as { status: string }).status).toBe('succeeded')
    const retry = await pay()
    expect([retry.status, retry.headers.get('idempotent-replayed')]).toEqual([201, 'true'])
    const text = await (await built.call('/metrics')).text()
    expect(
      text.split('\n').filter((l) => l.startsWith(`payments_processed_total{tenant_id="${tenant.id}"`)),
    ).toEqual([`payments_processed_total{tenant_id="${tenant.id}",provider="sandbox",status="succeeded"} 1`])
  })
})

describe('lateTransition: what a report makes of a settled payment', () => {
  const payment = (status: string, providerReference: string | null, failureReason: string | null = null) =>
    ({ status, providerReference, failureReason, amountMinor: 3000, currency: 'KES' }) as PaymentRow
  const ok: ChargeResult = { outcome: 'succeeded', reference: 'ch_1', amountMinor: 3000, currency: 'kes' }
  const declined: ChargeResult = { outcome: 'declined', reason: 'card_declined' }
  test.each([
    [
      'error without a charge, success',
      payment('error', null),
      ok,
      { to: { status: 'succeeded', providerReference: 'ch_1', failureReason: null } },
    ],
    [
      'failed with a reference, success',
      payment('failed', 'dec_1'),
      ok,
      { to: { status: 'succeeded', providerReference: 'ch_1', failureReason: null } },
    ],
    ['succeeded, the same success', payment('succeeded', 'ch_1'), ok, { unchanged: 'duplicate' }],
    [
      'succeeded and flagged, the same success',
      payment('succeeded', 'ch_1', 'refund_required: …'),
      ok,
      { unchanged: 'duplicate' },
    ],
    ['succeeded, another reference', payment('succeeded', 'ch_2'), ok, { unchanged: 'contradicts' }],
    ['succeeded, a decline', payment('succeeded', 'ch_1'), declined, { unchanged: 'contradicts' }],
    [
      'amount mismatch, the right amount',
      payment('error', 'ch_1', 'amount_mismatch: …'),
      ok,
      { unchanged: 'contradicts' },
    ],
    [
      'amount mismatch, a decline',
      payment('error', 'ch_1', 'amount_mismatch: …'),
      declined,
      { unchanged: 'contradicts' },
    ],
    ['failed, a decline', payment('failed', null), declined, { unchanged: 'duplicate' }],
    ['error without a charge, a decline', payment('error', null), declined, { unchanged: 'duplicate' }],
  ])('%s', (_name, current, result, expected) => {
    expect(lateTransition(current, result)).toEqual(expected as never)
  })
})
