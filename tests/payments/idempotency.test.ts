import { describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { payments } from '../../src/db/schema.ts'
import type { PaymentProvider } from '../../src/payments/providers.ts'
import { createSandboxProvider } from '../../src/payments/sandbox.ts'
import { buildTestApp } from '../helpers/app.ts'
import { createOrder, createProduct, createTenant, mixedCase } from '../helpers/commerce.ts'
import { sharedDatabase } from '../helpers/db.ts'
import { countingSandbox, ledger } from './providers.ts'

async function setup(latencyMs = 0) {
  const database = await sharedDatabase()
  const sandbox = countingSandbox(database.db, latencyMs)
  const built = await buildTestApp({ database, paymentProviders: [sandbox.provider] })
  const tenant = await createTenant(built.call)
  const product = await createProduct(built.call, tenant.apiKey, { priceMinor: 1500, stock: 10 })
  const order = await createOrder(built.call, tenant.apiKey, [{ productId: product.id, quantity: 2 }])
  const pay = (key: string | undefined, source: string, orderId = order.id) =>
    built.call(`/orders/${orderId}/payments`, {
      method: 'POST',
      token: tenant.apiKey,
      headers: key === undefined ? {} : { 'idempotency-key': key },
      json: { provider: 'sandbox', source },
    })
  const orderStatus = async () =>
    ((await (await built.call(`/orders/${order.id}`, { token: tenant.apiKey })).json()) as { status: string })
      .status
  const paymentRows = () =>
    built.deps.database.db.select().from(payments).where(eq(payments.orderId, order.id))
  return { ...built, tenant, order, pay, orderStatus, paymentRows, calls: sandbox.calls }
}

describe('Idempotency-Key on POST /orders/:id/payments', () => {
  test('tok_success retried with one key: one payment, one charge at the provider, the retry byte-identical', async () => {
    const { pay, orderStatus, paymentRows, calls, deps } = await setup()
    const key = crypto.randomUUID()
    const first = await pay(key, 'tok_success')
    const firstText = await first.text()
    expect(first.status).toBe(201)
    for (let i = 0; i < 3; i++) {
      const retry = await pay(key, 'tok_success')
      expect(retry.status).toBe(201)
      expect(retry.headers.get('idempotent-replayed')).toBe('true')
      expect(await retry.text()).toBe(firstText)
    }
    const rows = await paymentRows()
    expect(rows.map((r) => r.status)).toEqual(['succeeded'])
    expect(calls.charge).toBe(1)
    expect((await ledger(deps.database.db, rows[0]!.id)).length).toBe(1)
    expect(await orderStatus()).toBe('paid')
  })

  test('a decline is replayed too (402, the first request id), and a new key may pay the order again', async () => {
    const { pay, orderStatus, paymentRows, calls } = await setup()
    const key = crypto.randomUUID()
    const first = await pay(key, 'tok_declined')
    const firstText = await first.text()
    expect(first.status).toBe(402)
    const retry = await pay(key, 'tok_declined')
    expect(retry.status).toBe(402)
    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    expect(await retry.text()).toBe(firstText)
    // One JSON content type for an error envelope, first sent or replayed, as for a 201.
    expect([first.headers.get('content-type'), retry.headers.get('content-type')]).toEqual([
      'application/json',
      'application/json',
    ])
    expect(JSON.parse(firstText).error.requestId).toBe(first.headers.get('x-request-id'))
    expect(calls.charge).toBe(1)
    expect(await orderStatus()).toBe('pending')
    const fresh = await pay(crypto.randomUUID(), 'tok_success')
    expect(fresh.status).toBe(201)
    expect((await paymentRows()).map((r) => r.status).sort()).toEqual(['failed', 'succeeded'])
    expect(await orderStatus()).toBe('paid')
  })

  test('a provider error (502) is replayed byte for byte, without calling the provider again', async () => {
    const { pay, calls, paymentRows } = await setup()
    const key = crypto.randomUUID()
    const first = await pay(key, 'tok_error')
    const firstText = await first.text()
    expect(first.status).toBe(502)
    const retry = await pay(key, 'tok_error')
    expect([retry.status, retry.headers.get('idempotent-replayed'), await retry.text()]).toEqual([
      502,
      'true',
      firstText,
    ])
    expect(retry.headers.get('content-type')).toBe(first.headers.get('content-type'))
    expect(calls.charge).toBe(1)
    expect((await paymentRows()).map((r) => r.status)).toEqual(['error'])
  })

  test('an adapter that throws something other than a ProviderError: 503 and pending (it may have charged), then 409 until reconciled', async () => {
    const database = await sharedDatabase()
    const flaky: PaymentProvider = {
      name: 'flaky',
      async charge() {
        throw new TypeError('fetch failed')
      },
      async retrieve() {
        return undefined
      },
    }
    const built = await buildTestApp({ database, paymentProviders: [flaky] })
    const tenant = await createTenant(built.call)
    const product = await createProduct(built.call, tenant.apiKey, { priceMinor: 1500, stock: 10 })
    const order = await createOrder(built.call, tenant.apiKey, [{ productId: product.id, quantity: 1 }])
    const pay = () =>
      built.call(`/orders/${order.id}/payments`, {
        method: 'POST',
        token: tenant.apiKey,
        headers: { 'idempotency-key': 'adapter-bug' },
        json: { provider: 'flaky', source: 'x' },
      })
    const first = await pay()
    const retry = await pay()
    expect([first.status, ((await first.json()) as { error: { code: string } }).error.code]).toEqual([
      503,
      'PAYMENT_PENDING',
    ])
    expect([retry.status, ((await retry.json()) as { error: { code: string } }).error.code]).toEqual([
      409,
      'IDEMPOTENCY_KEY_IN_USE',
    ])
    const rows = await database.db.select().from(payments).where(eq(payments.orderId, order.id))
    expect(rows.map((r) => r.status)).toEqual(['pending'])
    // The adapter's bug keeps its stack in the log.
    const bug = built.logs.lines.find((l) => l.msg === 'payment provider adapter failed unexpectedly')
    expect([
      bug?.level,
      (bug?.err as { type?: string; message?: string })?.type,
      (bug?.err as { message?: string })?.message,
    ]).toEqual(['error', 'TypeError', 'fetch failed'])
  })

  test('the same key with another source is 422 IDEMPOTENCY_KEY_REUSED and charges nothing', async () => {
    const { pay, calls, paymentRows } = await setup()
    const key = crypto.randomUUID()
    expect((await pay(key, 'tok_declined')).status).toBe(402)
    const other = await pay(key, 'tok_success')
    expect(other.status).toBe(422)
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('IDEMPOTENCY_KEY_REUSED')
    expect(calls.charge).toBe(1)
    expect((await paymentRows()).length).toBe(1)
  })

  test('a payment refused before any charge (order not payable) gives its key back', async () => {
    const { pay, calls, tenant, call, order } = await setup()
    const key = crypto.randomUUID()
    await call(`/orders/${order.id}/status`, {
      method: 'PATCH',
      token: tenant.apiKey,
      json: { status: 'cancelled' },
    })
    expect((await pay(key, 'tok_success')).status).toBe(409)
    expect(calls.charge).toBe(0)
    // The key is free: the same request still answers from the order's state, not a replay.
    const again = await pay(key, 'tok_success')
    expect([again.status, again.headers.get('idempotent-replayed')]).toEqual([409, null])
  })

  test('20 concurrent retries with one key during a slow charge: one charge, one payment', async () => {
    const { pay, calls, paymentRows, orderStatus } = await setup(100)
    const key = crypto.randomUUID()
    const answers = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const res = await pay(key, 'tok_success')
        return {
          status: res.status,
          replayed: res.headers.get('idempotent-replayed'),
          text: await res.text(),
        }
      }),
    )
    const originals = answers.filter((a) => a.status === 201 && a.replayed === null)
    expect(originals.length).toBe(1)
    for (const answer of answers) {
      if (answer.status === 201) expect(answer.text).toBe(originals[0]!.text)
      else
        expect([answer.status, JSON.parse(answer.text).error.code]).toEqual([409, 'IDEMPOTENCY_KEY_IN_USE'])
    }
    expect(calls.charge).toBe(1)
    expect((await paymentRows()).map((r) => r.status)).toEqual(['succeeded'])
    expect(await orderStatus()).toBe('paid')
  })

  test("a retry that spells the order's id in other letter case is the same request: replayed, not REUSED", async () => {
    // The id names the same order in either case (RFC 9562); a client that normalises it
    // between attempts must get the first answer, not a 422 saying the key was used elsewhere.
    const { pay, order, paymentRows, calls } = await setup()
    const key = crypto.randomUUID()
    const first = await pay(key, 'tok_success', order.id.toUpperCase())
    expect(first.status).toBe(201)
    const firstText = await first.text()
    for (const id of [order.id, mixedCase(order.id)]) {
      const retry = await pay(key, 'tok_success', id)
      expect({ status: retry.status, replayed: retry.headers.get('idempotent-replayed') }).toEqual({
        status: 201,
        replayed: 'true',
      })
      expect(await retry.text()).toBe(firstText)
    }
    expect((await paymentRows()).map((r) => r.status)).toEqual(['succeeded'])
    expect(calls.charge).toBe(1)
  })
})

describe('the sandbox provider', () => {
  test('charges are idempotent on the idempotency key: a repeat answers the first outcome and enters nothing', async () => {
    const { db } = await sharedDatabase()
    const sandbox = createSandboxProvider({ db, latencyMs: 0 })
    const key = crypto.randomUUID()
    const request = { paymentId: key, idempotencyKey: key, orderId: key, amountMinor: 500, currency: 'KES' }
    const context = { requestId: 'test' }
    const first = await sandbox.charge({ ...request, source: 'tok_success' }, context)
    expect(first).toEqual({
      outcome: 'succeeded',
      reference: `sbx_${key.slice(0, 8)}`,
      amountMinor: 500,
      currency: 'KES',
    })
    expect(await sandbox.charge({ ...request, source: 'tok_declined' }, context)).toEqual(first)
    expect(await sandbox.retrieve(key, context)).toEqual(first)
    const rows = await ledger(db, key)
    expect(rows.map((r) => [r.outcome, r.amountMinor, r.currency])).toEqual([['succeeded', 500, 'KES']])
  })

  test('retrieve: a declined charge is declined, an outage (tok_error) or an unknown key was never received', async () => {
    const { db } = await sharedDatabase()
    const sandbox = createSandboxProvider({ db, latencyMs: 0 })
    const context = { requestId: 'test' }
    const declined = crypto.randomUUID()
    const base = { orderId: declined, amountMinor: 100, currency: 'KES' }
    await sandbox.charge(
      { ...base, paymentId: declined, idempotencyKey: declined, source: 'tok_declined' },
      context,
    )
    expect(await sandbox.retrieve(declined, context)).toEqual({
      outcome: 'declined',
      reason: 'card_declined: insufficient funds',
    })
    const outage = crypto.randomUUID()
    await expect(
      sandbox.charge({ ...base, paymentId: outage, idempotencyKey: outage, source: 'tok_error' }, context),
    ).rejects.toThrow('simulated upstream 503')
    expect(await sandbox.retrieve(outage, context)).toBeUndefined()
    expect(await sandbox.retrieve(crypto.randomUUID(), context)).toBeUndefined()
  })
})
