import { describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import type { Clock } from '../../src/core/clock.ts'
import { payments } from '../../src/db/schema.ts'
import type { BusinessMetrics } from '../../src/observability/business-metrics.ts'
import { type PaymentProvider, ProviderError } from '../../src/payments/providers.ts'
import { buildTestApp } from '../helpers/app.ts'
import { createOrder, createProduct, createTenant, tenantFootprint } from '../helpers/commerce.ts'
import { sharedDatabase } from '../helpers/db.ts'
import { stalledSandbox } from './providers.ts'

/** A credential as a provider's error may quote it (a URL's query, an upstream's answer). */
const SECRET = 'sk_live_51HabcdefGHIJ12345'

async function setup(business?: BusinessMetrics) {
  const built = await buildTestApp(business ? { business } : {})
  const tenant = await createTenant(built.call)
  const product = await createProduct(built.call, tenant.apiKey, { priceMinor: 1500, stock: 10 })
  const order = await createOrder(built.call, tenant.apiKey, [{ productId: product.id, quantity: 2 }])
  const pay = (source: string, orderId = order.id, provider = 'sandbox') =>
    built.call(`/orders/${orderId}/payments`, {
      method: 'POST',
      token: tenant.apiKey,
      json: { provider, source },
    })
  const orderStatus = async () =>
    ((await (await built.call(`/orders/${order.id}`, { token: tenant.apiKey })).json()) as { status: string })
      .status
  return { ...built, tenant, order, pay, orderStatus }
}

describe('POST /orders/:id/payments', () => {
  test('tok_success: 201 with the payment, and the order becomes paid', async () => {
    const events: string[] = []
    const business: BusinessMetrics = {
      orderCreated() {},
      productViewed() {},
      paymentProcessed: (e) => events.push(`${e.tenantId} ${e.provider} ${e.status}`),
      paymentProviderDuration: (e) => events.push(`duration ${e.provider} ${e.seconds >= 0}`),
    }
    const { pay, order, orderStatus, tenant, logs } = await setup(business)
    const res = await pay('tok_success')
    expect(res.status).toBe(201)
    const payment = (await res.json()) as Record<string, unknown>
    expect(payment).toMatchObject({
      orderId: order.id,
      status: 'succeeded',
      provider: 'sandbox',
      amountMinor: 3000,
      currency: 'KES',
      failureReason: null,
    })
    expect(payment.providerReference).toMatch(/^sbx_/)
    expect(await orderStatus()).toBe('paid')
    expect(events).toEqual(['duration sandbox true', `${tenant.id} sandbox succeeded`])
    expect(logs.lines.find((l) => l.event === 'order_status_change' && l.orderId === order.id)).toMatchObject(
      {
        from: 'pending',
        to: 'paid',
        tenantId: tenant.id,
      },
    )
    // A paid order cannot be paid again.
    const again = await pay('tok_success')
    expect(again.status).toBe(409)
  })

  test('tok_declined: 402 PAYMENT_DECLINED with the recorded payment; the order stays payable', async () => {
    const { pay, order, orderStatus } = await setup()
    const res = await pay('tok_declined')
    expect(res.status).toBe(402)
    const body = (await res.json()) as {
      error: { code: string; details: { payment: Record<string, unknown> } }
    }
    expect(body.error.code).toBe('PAYMENT_DECLINED')
    expect(body.error.details.payment).toMatchObject({
      orderId: order.id,
      status: 'failed',
      amountMinor: 3000,
      failureReason: 'card_declined: insufficient funds',
    })
    expect(await orderStatus()).toBe('pending')
    expect((await pay('tok_success')).status).toBe(201)
  })

  test('tok_error: 502 PROVIDER_ERROR with the recorded payment and an error log line', async () => {
    const { pay, order, orderStatus, logs, tenant, deps } = await setup()
    const res = await pay('tok_error')
    expect(res.status).toBe(502)
    const body = (await res.json()) as {
      error: { code: string; requestId: string; details: { payment: Record<string, unknown> } }
    }
    expect(body.error.code).toBe('PROVIDER_ERROR')
    expect(body.error.details.payment).toMatchObject({
      orderId: order.id,
      status: 'error',
      amountMinor: 3000,
    })
    expect(await orderStatus()).toBe('pending')
    expect(logs.lines.find((l) => l.requestId === body.error.requestId && l.level === 'error')).toMatchObject(
      {
        msg: 'request failed',
        status: 502,
      },
    )
    expect(await tenantFootprint(deps.database.db, tenant.id)).toMatchObject({
      payments: 1,
      payment_statuses: 'error',
    })
  })

  test('confirmed orders are payable; cancelled ones are 409 and nothing is recorded', async () => {
    const { pay, call, tenant, order, deps } = await setup()
    await call(`/orders/${order.id}/status`, {
      method: 'PATCH',
      token: tenant.apiKey,
      json: { status: 'confirmed' },
    })
    await call(`/orders/${order.id}/status`, {
      method: 'PATCH',
      token: tenant.apiKey,
      json: { status: 'cancelled' },
    })
    const before = await tenantFootprint(deps.database.db, tenant.id)
    const res = await pay('tok_success')
    expect(res.status).toBe(409)
    expect(await res.json()).toMatchObject({ error: { code: 'CONFLICT', details: { status: 'cancelled' } } })
    expect(await tenantFootprint(deps.database.db, tenant.id)).toEqual(before)
  })

  test('unknown provider 422, unknown order 404, bad body 422 — nothing recorded', async () => {
    const { pay, call, tenant, deps, order } = await setup()
    const before = await tenantFootprint(deps.database.db, tenant.id)
    const unknown = await pay('tok_success', order.id, 'paypal')
    expect(unknown.status).toBe(422)
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain('provider')
    expect((await pay('tok_success', crypto.randomUUID())).status).toBe(404)
    expect((await pay('tok_success', 'nope')).status).toBe(422)
    for (const json of [
      { provider: 'sandbox' },
      { provider: 'sandbox', source: '' },
      { provider: 'sandbox', source: 'tok_success', amount: 1 },
    ]) {
      const res = await call(`/orders/${order.id}/payments`, { method: 'POST', token: tenant.apiKey, json })
      expect(res.status).toBe(422)
    }
    expect(await tenantFootprint(deps.database.db, tenant.id)).toEqual(before)
  })

  test('concurrent payments of one order charge it once', async () => {
    const { pay, deps, tenant } = await setup()
    const statuses = await Promise.all(
      Array.from({ length: 5 }, () => pay('tok_success').then((r) => r.status)),
    )
    expect(statuses.filter((s) => s === 201)).toHaveLength(1)
    expect(statuses.filter((s) => s === 409)).toHaveLength(4)
    expect(await tenantFootprint(deps.database.db, tenant.id)).toMatchObject({
      payments: 1,
      payment_statuses: 'succeeded',
    })
  })

  test.each([
    [
      // May have charged (it may have failed after the request went out): pending, then 409 until reconciled.
      'an adapter bug',
      () =>
        new Error(`request to https://api.pay.example/v1/charges?key=${SECRET} failed, reason: ECONNRESET`),
      [503, 409],
      'pending',
    ],
    [
      'a ProviderError quoting the upstream',
      () => new ProviderError(`upstream 401: {"error":"invalid api key ${SECRET}"}`, { ambiguous: false }),
      [502, 502],
      'error',
    ],
  ])('the answer to %s never carries a secret from its message, nor does its retry', async (_, failure, statuses, status) => {
    const leaky: PaymentProvider = {
      name: 'leaky',
      async charge() {
        throw failure()
      },
      async retrieve() {
        return undefined
      },
    }
    const built = await buildTestApp({ paymentProviders: [leaky] })
    const tenant = await createTenant(built.call)
    const product = await createProduct(built.call, tenant.apiKey, { priceMinor: 1500, stock: 10 })
    const order = await createOrder(built.call, tenant.apiKey, [{ productId: product.id, quantity: 1 }])
    const pay = () =>
      built.call(`/orders/${order.id}/payments`, {
        method: 'POST',
        token: tenant.apiKey,
        headers: { 'idempotency-key': 'leaky-1' },
        json: { provider: 'leaky', source: 'x' },
      })
    const answers = [await pay(), await pay()]
    expect(answers.map((res) => res.status)).toEqual(statuses)
    for (const res of answers) expect(await res.text()).not.toContain(SECRET)
    const [row] = await built.deps.database.db.select().from(payments).where(eq(payments.orderId, order.id))
    expect([row?.status, row?.failureReason?.includes(SECRET) ?? false]).toEqual([status, false])
  })
})

describe('cancelling an order while its payment waits for the provider', () => {
  async function stalled(charged: boolean, refuses = false, clockAt?: number) {
    const database = await sharedDatabase()
    const provider = stalledSandbox(database.db, { charged, refuses })
    // The app's clock, pinned at `clockAt` (epoch ms) when given.
    const clock: Clock = {
      now: () => new Date(clockAt ?? Date.now()),
      monotonic: () => performance.now(),
    }
    const built = await buildTestApp({ database, clock, paymentProviders: [provider.provider] })
    const tenant = await createTenant(built.call)
    const product = await createProduct(built.call, tenant.apiKey, { priceMinor: 700, stock: 5 })
    const order = await createOrder(built.call, tenant.apiKey, [{ productId: product.id, quantity: 1 }])
    const paying = built.call(`/orders/${order.id}/payments`, {
      method: 'POST',
      token: tenant.apiKey,
      json: { provider: 'sandbox', source: 'tok_success' },
    })
    await provider.reached
    const cancel = () =>
      built.call(`/orders/${order.id}/status`, {
        method: 'PATCH',
        token: tenant.apiKey,
        json: { status: 'cancelled' },
      })
    const status = async () =>
      (
        (await (await built.call(`/orders/${order.id}`, { token: tenant.apiKey })).json()) as {
          status: string
        }
      ).status
    const orderPayments = async () =>
      (await built.deps.database.db.select().from(payments).where(eq(payments.orderId, order.id))).map(
        (p) => ({
          id: p.id,
          status: p.status,
        }),
      )
    return { ...built, provider, paying, cancel, status, orderPayments, order, clockAt }
  }

  test('is 409 naming the payment, and the charge that then succeeds pays the order', async () => {
    // A newcomer's race: the cancel answered 200, the payment 201, and the customer was charged
    // for a cancelled order (6 of 8 runs, the charge in flight for a few milliseconds).
    const s = await stalled(true)
    const refused = await s.cancel()
    expect(refused.status).toBe(409)
    const [pending] = await s.orderPayments()
    expect(pending?.status).toBe('pending')
    expect(((await refused.json()) as { error: unknown }).error).toMatchObject({
      code: 'CONFLICT',
      message:
        'A payment of this order is waiting for its provider; change the order to cancelled once it has settled',
      details: { from: 'pending', to: 'cancelled', paymentId: pending!.id },
    })
    expect(await s.status()).toBe('pending')
    s.provider.answer()
    expect((await s.paying).status).toBe(201)
    expect(await s.status()).toBe('paid')
    // Paid, the order is no longer cancellable by hand (a refund is).
    expect((await s.cancel()).status).toBe(409)
  })

  test('once the payment has failed, the cancel goes through', async () => {
    const s = await stalled(false, true)
    expect((await s.cancel()).status).toBe(409)
    s.provider.answer()
    // The provider never charged and says so: the request answers 502 and the payment is settled.
    expect((await s.paying).status).toBe(502)
    expect((await s.orderPayments()).map((p) => p.status)).toEqual(['error'])
    expect((await s.cancel()).status).toBe(200)
    expect(await s.status()).toBe('cancelled')
  })

  test('a call that timed out may have charged: 503, the payment stays pending and the cancel stays refused', async () => {
    const s = await stalled(false, false, Date.now() - 60_000)
    s.provider.answer()
    const res = await s.paying
    const [row] = await s.deps.database.db.select().from(payments).where(eq(payments.orderId, s.order.id))
    // Counted from the recorded payment: a lease and an interval (30 s) after its updated_at.
    expect(res.headers.get('retry-after')).toBe(
      String(Math.ceil((row!.updatedAt.getTime() + 150_000 - s.clockAt!) / 1000)),
    )
    expect(res.status).toBe(503)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('PAYMENT_PENDING')
    expect((await s.orderPayments()).map((p) => p.status)).toEqual(['pending'])
    expect((await s.cancel()).status).toBe(409)
    expect(await s.status()).toBe('pending')
  })
})
