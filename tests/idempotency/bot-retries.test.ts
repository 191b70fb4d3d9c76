/**
 * What a retrying bot gets when it reuses one Idempotency-Key where it should not, exactly:
 * on another creating route of its tenant, on another order's payment, in another letter case,
 * and twenty times at once on a payment the provider declines.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { payments } from '../../src/db/schema.ts'
import { buildTestApp } from '../helpers/app.ts'
import { createOrder, createProduct, createTenant, tenantFootprint } from '../helpers/commerce.ts'

// A fresh database and app per test, twenty requests at once: past bun's 5 s default on loaded cores.
setDefaultTimeout(60_000)

const REUSED = {
  code: 'IDEMPOTENCY_KEY_REUSED',
  message: 'This Idempotency-Key was already used with a different request; use a new key for a new request',
}

async function setup() {
  const built = await buildTestApp()
  const tenant = await createTenant(built.call)
  const product = await createProduct(built.call, tenant.apiKey, { priceMinor: 1500, stock: 50 })
  const post = (path: string, key: string, json: unknown) =>
    built.call(path, { method: 'POST', token: tenant.apiKey, headers: { 'idempotency-key': key }, json })
  const orderJson = { customer: { phone: '+254711000400' }, items: [{ productId: product.id, quantity: 1 }] }
  const footprint = () => tenantFootprint(built.deps.database.db, tenant.id)
  return { ...built, tenant, product, post, orderJson, footprint }
}

/** The error body without its request id (each request's own). */
async function errorOf(res: Response) {
  const { error } = (await res.json()) as { error: { code: string; message: string; requestId: string } }
  expect(error.requestId).toBe(res.headers.get('x-request-id')!)
  return { code: error.code, message: error.message }
}

describe('one key, another request', () => {
  test('an order key sent to POST /products, or to a payment: 422 IDEMPOTENCY_KEY_REUSED, nothing created', async () => {
    const s = await setup()
    const first = await s.post('/orders', 'bot-1', s.orderJson)
    expect(first.status).toBe(201)
    const order = (await first.json()) as { id: string }
    const before = await s.footprint()
    const product = await s.post('/products', 'bot-1', { name: 'Tea', priceMinor: 250, currency: 'KES' })
    expect([product.status, await errorOf(product)]).toEqual([422, REUSED])
    const payment = await s.post(`/orders/${order.id}/payments`, 'bot-1', {
      provider: 'sandbox',
      source: 'tok_success',
    })
    expect([payment.status, await errorOf(payment)]).toEqual([422, REUSED])
    expect(await s.footprint()).toEqual(before)
  })

  test("a payment key sent again for another order's payment: 422, and that order is not charged", async () => {
    const s = await setup()
    const a = await createOrder(s.call, s.tenant.apiKey, [{ productId: s.product.id, quantity: 1 }])
    const b = await createOrder(s.call, s.tenant.apiKey, [{ productId: s.product.id, quantity: 1 }])
    const body = { provider: 'sandbox', source: 'tok_success' }
    expect((await s.post(`/orders/${a.id}/payments`, 'pay-1', body)).status).toBe(201)
    const other = await s.post(`/orders/${b.id}/payments`, 'pay-1', body)
    expect([other.status, await errorOf(other)]).toEqual([422, REUSED])
    const rows = await s.deps.database.db.select().from(payments).where(eq(payments.orderId, b.id))
    expect(rows).toEqual([])
  })

  test('keys are compared exactly: another letter case is another key, and places another order', async () => {
    const s = await setup()
    const lower = await s.post('/orders', 'order-abc', s.orderJson)
    const upper = await s.post('/orders', 'ORDER-ABC', s.orderJson)
    expect([lower.status, upper.status, upper.headers.get('idempotent-replayed')]).toEqual([201, 201, null])
    expect(((await lower.json()) as { id: string }).id).not.toBe(((await upper.json()) as { id: string }).id)
    expect((await s.footprint()).orders).toBe(2)
  })
})

describe('twenty retries at once of a declined payment', () => {
  test('one charge; each answer the one 402 or 409 IDEMPOTENCY_KEY_IN_USE with Retry-After: 1; every later retry the 402', async () => {
    const s = await setup()
    const order = await createOrder(s.call, s.tenant.apiKey, [{ productId: s.product.id, quantity: 2 }])
    const body = { provider: 'sandbox', source: 'tok_declined' }
    const answers = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const res = await s.post(`/orders/${order.id}/payments`, 'declined-1', body)
        return { status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text() }
      }),
    )
    const declined = answers.filter((a) => a.status === 402)
    expect(declined.length).toBeGreaterThanOrEqual(1)
    for (const answer of answers) {
      if (answer.status === 402) expect(answer).toEqual({ ...declined[0]!, retryAfter: null })
      else
        expect([answer.status, answer.retryAfter, JSON.parse(answer.text).error.code]).toEqual([
          409,
          '1',
          'IDEMPOTENCY_KEY_IN_USE',
        ])
    }
    const rows = await s.deps.database.db.select().from(payments).where(eq(payments.orderId, order.id))
    expect(rows.map((r) => r.status)).toEqual(['failed'])
    const late = await s.post(`/orders/${order.id}/payments`, 'declined-1', body)
    expect([late.status, late.headers.get('idempotent-replayed'), await late.text()]).toEqual([
      402,
      'true',
      declined[0]!.text,
    ])
  })
})
