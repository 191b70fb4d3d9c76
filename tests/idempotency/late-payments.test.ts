/**
 * What a payment's Idempotency-Key replays once its provider reports a charge after the key's
 * response was stored: 402 PAYMENT_DECLINED, or 502 PROVIDER_ERROR after reconciliation found
 * nothing, then the provider's success (a webhook, a late answer). The retry of a bot that was
 * told "not charged" learns that the customer paid: the key replays what the request would
 * answer now (`restateAnsweredOn`), as Stripe's API v2 and Worldline's and bePaid's
 * idempotency layers answer a payment's current state.
 */
import { describe, expect, test } from 'bun:test'
import { toPaymentView } from '../../src/payments/service.ts'
import { fileDatabase } from '../helpers/db.ts'
import { latePaymentApp } from '../payments/late-fixture.ts'

// Reconciliation leases every stale pending payment of its database.
const ownDatabase = fileDatabase()

async function setup() {
  const app = await latePaymentApp(await ownDatabase())
  /** A reconciliation tick past the lease: the hooks provider finds nothing, so `error`. */
  const reconcile = () => app.pastLeaseReconciler().tick()
  return { ...app, reconcile }
}

describe('a key answered "not charged" whose provider reports the charge later', () => {
  test('402 PAYMENT_DECLINED, then the success: the retry replays 201 with the succeeded payment', async () => {
    const app = await setup()
    const key = crypto.randomUUID()
    const first = await app.pay('tok_declined', key)
    expect(first.status).toBe(402)
    const id = await app.paymentIdOf(first)
    const keyBefore = await app.keyRow(key)
    expect((await app.report(id, app.success(id))).outcome).toBe('paid')

    const settled = await app.row(id)
    expect(app.fields(settled)).toEqual(['succeeded', `ch_${id.slice(0, 8)}`, null])
    expect(await app.retry('tok_declined', key)).toEqual({
      status: 201,
      replayed: 'true',
      text: JSON.stringify(toPaymentView(settled)),
    })
    expect(await app.orderStatus()).toBe('paid')
    // Only the answer changed: the key keeps its expiry, request id and fingerprint.
    const keyAfter = await app.keyRow(key)
    expect({ ...keyAfter, responseStatus: 0, responseBody: '' }).toEqual({
      ...keyBefore,
      responseStatus: 0,
      responseBody: '',
    })
  })

  test('503, reconciliation settles 502 PROVIDER_ERROR, then the success: 502 replayed before, 201 after', async () => {
    const app = await setup()
    const key = crypto.randomUUID()
    const first = await app.pay('tok_timeout', key)
    expect(first.status).toBe(503)
    const id = await app.paymentIdOf(first)
    expect(await app.reconcile()).toEqual(['not_found'])
    const before = await app.retry('tok_timeout', key)
    expect(before.status).toBe(502)
    expect(JSON.parse(before.text).error.details.payment).toEqual(
      JSON.parse(JSON.stringify(toPaymentView(await app.row(id)))),
    )

    expect((await app.report(id, app.success(id))).outcome).toBe('paid')
    expect(await app.retry('tok_timeout', key)).toEqual({
      status: 201,
      replayed: 'true',
      text: JSON.stringify(toPaymentView(await app.row(id))),
    })
  })

  test('a charge of another amount reported late: the 502 replayed names the mismatch, with the first request id', async () => {
    const app = await setup()
    const key = crypto.randomUUID()
    const first = await app.pay('tok_timeout', key)
    const id = await app.paymentIdOf(first)
    expect(await app.reconcile()).toEqual(['not_found'])
    const before = JSON.parse((await app.retry('tok_timeout', key)).text)
    expect((await app.report(id, app.success(id, { amountMinor: 300 }))).outcome).toBe('amount_mismatch')

    const settled = await app.row(id)
    const after = await app.retry('tok_timeout', key)
    expect({ status: after.status, replayed: after.replayed }).toEqual({ status: 502, replayed: 'true' })
    expect(JSON.parse(after.text)).toEqual({
      error: {
        code: 'PROVIDER_ERROR',
        message:
          'Payment provider hooks reported a charge that does not match the payment; the order was not marked paid',
        details: { payment: JSON.parse(JSON.stringify(toPaymentView(settled))) },
        requestId: before.error.requestId,
      },
    })
    expect(JSON.parse(after.text).error.details.payment.failureReason).toBe(
      'amount_mismatch: the provider reported a charge of 300 KES for a payment of 3000 KES; the order was not marked paid, refund the charge',
    )
  })

  test('a report that changes nothing leaves the stored answer byte for byte', async () => {
    const app = await setup()
    const key = crypto.randomUUID()
    const first = await app.pay('tok_success', key)
    const firstText = await first.text()
    expect(first.status).toBe(201)
    const id = JSON.parse(firstText).id as string
    expect((await app.report(id, { outcome: 'declined', reason: 'card_declined' })).outcome).toBe('unchanged')
    expect(await app.retry('tok_success', key)).toEqual({ status: 201, replayed: 'true', text: firstText })
  })
})
