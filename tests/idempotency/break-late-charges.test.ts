/**
 * A payment's Idempotency-Key once its provider reports the charge late (`restateAnsweredOn`),
 * as an adversarial bot would hit it: retries racing the report, reports racing the request
 * still holding the key, reconciliation finding the charge while a webhook declines it, the
 * order cancelled meanwhile, a charge of another amount after a decline. Every retry answers
 * the stored response before the report or the one after it, byte for byte.
 */
import { describe, expect, test } from 'bun:test'
import { payments } from '../../src/db/schema.ts'
import type { ChargeResult, PaymentProvider } from '../../src/payments/providers.ts'
import { toPaymentView } from '../../src/payments/service.ts'
import { fileDatabase } from '../helpers/db.ts'
import { hooksProvider, latePaymentApp } from '../payments/late-fixture.ts'

// Reconciliation leases every stale pending payment of its database.
const ownDatabase = fileDatabase()

const setup = async () => latePaymentApp(await ownDatabase())

/**
 * A reconciler past the lease whose provider finds `found` for every payment, but only once
 * `answer()` is called: `asked` resolves when the provider is being asked.
 */
function heldReconciler(
  app: Awaited<ReturnType<typeof setup>>,
  found: (paymentId: string) => ChargeResult | undefined,
) {
  let asked!: () => void
  const askedNow = new Promise<void>((resolve) => {
    asked = resolve
  })
  let answer!: () => void
  const answered = new Promise<void>((resolve) => {
    answer = resolve
  })
  const provider: PaymentProvider = {
    ...hooksProvider,
    async retrieve(paymentId) {
      asked()
      await answered
      return found(paymentId)
    },
  }
  const reconciler = app.pastLeaseReconciler(provider)
  return { tick: () => reconciler.tick(), asked: askedNow, answer }
}

/** The error envelope of a payment's 402 or 502 as the route sends it, with the first request id. */
const envelope = (code: string, message: string, payment: unknown, requestId: string) =>
  JSON.stringify({ error: { code, message, details: { payment }, requestId } })

describe('reconciliation racing a webhook', () => {
  test('the success is recorded late: the order is paid and the key answered 402 replays the 201', async () => {
    const app = await setup()
    const key = crypto.randomUUID()
    const first = await app.pay('tok_timeout', key)
    expect(first.status).toBe(503)
    const id = await app.paymentIdOf(first)
    const held = heldReconciler(app, (paymentId) => app.success(paymentId))
    const tick = held.tick()
    await held.asked
    // The decline arrives while the provider is being asked: the payment is settled `failed`.
    expect((await app.report(id, app.decline)).outcome).toBe('failed')
    expect((await app.retry('tok_timeout', key)).status).toBe(402)
    held.answer()
    // Settled by the webhook first: not counted again as processed by reconciliation.
    expect(await tick).toEqual(['already_settled'])

    const settled = await app.row(id)
    expect(app.fields(settled)).toEqual(['succeeded', `ch_${id.slice(0, 8)}`, null])
    expect(await app.orderStatus()).toBe('paid')
    expect(await app.retry('tok_timeout', key)).toEqual({
      status: 201,
      replayed: 'true',
      text: JSON.stringify(toPaymentView(settled)),
    })
    expect(await app.scrape(`payments_processed_total{tenant_id="${app.tenant.id}"`)).toEqual([
      `payments_processed_total{tenant_id="${app.tenant.id}",provider="hooks",status="failed"} 1`,
    ])
    const logged = app.logs.lines.filter((l) => l.event === 'payment_late_report')
    expect(logged.map((l) => [l.level, l.paymentId, l.from, l.to, l.reported])).toEqual([
      ['warn', id, 'failed', 'succeeded', 'succeeded'],
    ])
  })

  test('nothing found while a webhook reports the charge: left as the webhook recorded it, nothing logged for review', async () => {
    const app = await setup()
    const key = crypto.randomUUID()
    const first = await app.pay('tok_timeout', key)
    const id = await app.paymentIdOf(first)
    const held = heldReconciler(app, () => undefined)
    const tick = held.tick()
    await held.asked
    expect((await app.report(id, app.success(id))).outcome).toBe('paid')
    const settled = await app.row(id)
    held.answer()
    expect(await tick).toEqual(['already_settled'])

    expect(await app.row(id)).toEqual(settled)
    expect(app.logs.lines.filter((l) => l.event === 'payment_late_report')).toEqual([])
    expect(await app.retry('tok_timeout', key)).toEqual({
      status: 201,
      replayed: 'true',
      text: JSON.stringify(toPaymentView(settled)),
    })
  })

  test('a charge of another amount: error amount_mismatch, counted once, and the key replays its 502', async () => {
    const app = await setup()
    const key = crypto.randomUUID()
    const first = await app.pay('tok_timeout', key)
    const id = await app.paymentIdOf(first)
    const held = heldReconciler(app, (paymentId) => app.success(paymentId, { amountMinor: 300 }))
    const tick = held.tick()
    await held.asked
    expect((await app.report(id, app.decline)).outcome).toBe('failed')
    const declined = JSON.parse((await app.retry('tok_timeout', key)).text)
    held.answer()
    expect(await tick).toEqual(['already_settled'])

    const settled = await app.row(id)
    expect(app.fields(settled)).toEqual([
      'error',
      `ch_${id.slice(0, 8)}`,
      'amount_mismatch: the provider reported a charge of 300 KES for a payment of 3000 KES; the order was not marked paid, refund the charge',
    ])
    expect(await app.orderStatus()).toBe('pending')
    expect(await app.retry('tok_timeout', key)).toEqual({
      status: 502,
      replayed: 'true',
      text: envelope(
        'PROVIDER_ERROR',
        'Payment provider hooks reported a charge that does not match the payment; the order was not marked paid',
        toPaymentView(settled),
        declined.error.requestId,
      ),
    })
    expect(await app.scrape('payments_amount_mismatch_total{')).toEqual([
      'payments_amount_mismatch_total{provider="hooks"} 1',
    ])
  })
})

describe('reports while the request still holds its key', () => {
  test("a decline, then the success, then the request's own success: 402, then 201, and the request answers the same 201", async () => {
    const app = await setup()
    const key = crypto.randomUUID()
    const request = app.pay('tok_gate', key)
    let pending: { id: string } | undefined
    while (!pending) {
      pending = (await app.database.db.select().from(payments))
        .filter((p) => p.orderId === app.order.id)
        .at(0)
      await Bun.sleep(5)
    }
    const id = pending.id
    expect((await app.report(id, app.decline)).outcome).toBe('failed')
    const declined = await app.retry('tok_gate', key)
    expect([declined.status, declined.replayed, JSON.parse(declined.text).error.code]).toEqual([
      402,
      'true',
      'PAYMENT_DECLINED',
    ])
    expect((await app.report(id, app.success(id))).outcome).toBe('paid')
    const settled = await app.row(id)
    const paid = { status: 201, replayed: 'true', text: JSON.stringify(toPaymentView(settled)) }
    expect(await app.retry('tok_gate', key)).toEqual(paid)

    app.open()
    const res = await request
    // The request's own success is the charge recorded already: nothing moves.
    expect([res.status, await res.text()]).toEqual([201, paid.text])
    expect(await app.row(id)).toEqual(settled)
    expect(await app.retry('tok_gate', key)).toEqual(paid)
    expect((await app.keyRow(key))!.lockToken).toBeNull()
  })
})

describe('retries while the success is reported', () => {
  test('40 retries around the report: each answers the 402 or the 201 whole, the last ones the 201', async () => {
    const app = await setup()
    const key = crypto.randomUUID()
    const first = await app.pay('tok_declined', key)
    const declined = await first.text()
    expect(first.status).toBe(402)
    const id = JSON.parse(declined).error.details.payment.id as string
    const retries: ReturnType<typeof app.retry>[] = []
    let reported: ReturnType<typeof app.report> | undefined
    for (let i = 0; i < 40; i++) {
      if (i === 10) reported = app.report(id, app.success(id))
      retries.push(app.retry('tok_declined', key))
      await Bun.sleep(2)
    }
    const answers = await Promise.all(retries)
    expect((await reported!).outcome).toBe('paid')
    const paid = JSON.stringify(toPaymentView(await app.row(id)))
    const seen = answers.map((a) =>
      a.status === 402 && a.text === declined && a.replayed === 'true'
        ? 'declined'
        : a.status === 201 && a.text === paid && a.replayed === 'true'
          ? 'paid'
          : `${a.status} ${a.text}`,
    )
    expect(seen.filter((s) => s !== 'declined' && s !== 'paid')).toEqual([])
    expect(await app.retry('tok_declined', key)).toEqual({ status: 201, replayed: 'true', text: paid })
    // One payment for the order: no retry charged again.
    expect(
      (await app.database.db.select().from(payments)).filter((p) => p.orderId === app.order.id).length,
    ).toBe(1)
  }, 60_000)
})

describe('late charges of a key answered 402 PAYMENT_DECLINED', () => {
  test('the order was cancelled meanwhile: 201 with the charge flagged refund_required, the order cancelled', async () => {
    const app = await setup()
    const key = crypto.randomUUID()
    const first = await app.pay('tok_declined', key)
    const id = JSON.parse(await first.text()).error.details.payment.id as string
    expect((await app.cancel()).status).toBe(200)
    expect((await app.report(id, app.success(id))).outcome).toBe('refund_required')

    const settled = await app.row(id)
    expect(app.fields(settled)).toEqual([
      'succeeded',
      `ch_${id.slice(0, 8)}`,
      'refund_required: the provider charged 3000 KES for an order that is cancelled; the order was not marked paid, refund the charge',
    ])
    expect(await app.retry('tok_declined', key)).toEqual({
      status: 201,
      replayed: 'true',
      text: JSON.stringify(toPaymentView(settled)),
    })
    expect(await app.orderStatus()).toBe('cancelled')
  })

  test('a charge of another amount: the 402 becomes the exact 502 PROVIDER_ERROR naming the mismatch', async () => {
    const app = await setup()
    const key = crypto.randomUUID()
    const first = await app.pay('tok_declined', key)
    const declined = JSON.parse(await first.text())
    const id = declined.error.details.payment.id as string
    expect((await app.report(id, app.success(id, { amountMinor: 300 }))).outcome).toBe('amount_mismatch')

    const settled = await app.row(id)
    expect(await app.retry('tok_declined', key)).toEqual({
      status: 502,
      replayed: 'true',
      text: envelope(
        'PROVIDER_ERROR',
        'Payment provider hooks reported a charge that does not match the payment; the order was not marked paid',
        {
          ...toPaymentView(settled),
          status: 'error',
          providerReference: `ch_${id.slice(0, 8)}`,
          failureReason:
            'amount_mismatch: the provider reported a charge of 300 KES for a payment of 3000 KES; the order was not marked paid, refund the charge',
        },
        declined.error.requestId,
      ),
    })
    expect(await app.orderStatus()).toBe('pending')
  })
})

describe('reports racing one another', () => {
  test('a success twice and a decline at once on a key answered 402: one change, the key replays the 201', async () => {
    const app = await setup()
    const key = crypto.randomUUID()
    const first = await app.pay('tok_declined', key)
    const id = JSON.parse(await first.text()).error.details.payment.id as string
    const outcomes = await Promise.all([
      app.report(id, app.success(id)),
      app.report(id, app.decline),
      app.report(id, app.success(id)),
    ])
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(['paid', 'unchanged', 'unchanged'])
    const settled = await app.row(id)
    expect(app.fields(settled)).toEqual(['succeeded', `ch_${id.slice(0, 8)}`, null])
    expect(await app.retry('tok_declined', key)).toEqual({
      status: 201,
      replayed: 'true',
      text: JSON.stringify(toPaymentView(settled)),
    })
    expect(await app.orderStatus()).toBe('paid')
  })

  test('a key answered 201 keeps its bytes: another reference, another amount and a decline change nothing', async () => {
    const app = await setup()
    const key = crypto.randomUUID()
    const first = await app.pay('tok_success', key)
    const paid = await first.text()
    const id = JSON.parse(paid).id as string
    const outcomes = await Promise.all([
      app.report(id, { ...app.success(id), reference: 'ch_other' }),
      app.report(id, app.success(id, { amountMinor: 300 })),
      app.report(id, app.decline),
    ])
    expect(outcomes.map((o) => o.outcome)).toEqual(['unchanged', 'unchanged', 'unchanged'])
    expect(await app.retry('tok_success', key)).toEqual({ status: 201, replayed: 'true', text: paid })
  })
})
