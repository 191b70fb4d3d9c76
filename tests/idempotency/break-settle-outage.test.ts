/**
 * A payment whose provider charged while the database went down, and stayed down for the
 * catch path too: the settling transaction, the hand-over of its Idempotency-Key to
 * reconciliation and the key's release all fail. The request answers the settling error
 * (500 INTERNAL) once, each failure is logged once without the key (a bot may put the
 * customer's phone number in it), and once the database is back the key waits for
 * reconciliation, then replays the charge.
 */
import { describe, expect, test } from 'bun:test'
import { and, eq } from 'drizzle-orm'
import type { Database } from '../../src/db/client.ts'
import { idempotencyKeys, payments } from '../../src/db/schema.ts'
import { tenantScope } from '../../src/idempotency/service.ts'
import type { PaymentProvider } from '../../src/payments/providers.ts'
import { PROVIDER_CALL_TIMEOUT_MS } from '../../src/payments/providers.ts'
import { createPaymentReconciler, reconcilerMetrics } from '../../src/payments/reconciler.ts'
import { createSandboxProvider } from '../../src/payments/sandbox.ts'
import { toPaymentView } from '../../src/payments/service.ts'
import { buildTestApp } from '../helpers/app.ts'
import { createOrder, createProduct, createTenant } from '../helpers/commerce.ts'
import { fileDatabase } from '../helpers/db.ts'
import { clockAhead, LEASE_MS, ledger, quiet } from '../payments/providers.ts'

// Reconciliation leases every stale pending payment of its database.
const ownDatabase = fileDatabase()

/** What every statement the app sends meets while the database is down. */
const DOWN = new Set(['transaction', 'select', 'insert', 'update', 'delete', 'execute'])

async function setup() {
  const handle = await ownDatabase()
  let down = false
  const db = new Proxy(handle.db, {
    get(target, property) {
      if (down && typeof property === 'string' && DOWN.has(property))
        return () => {
          // The settling transaction loses its connection; what follows cannot connect.
          throw new Error(
            property === 'transaction' ? 'Connection terminated unexpectedly' : 'connect ECONNREFUSED',
          )
        }
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  }) as Database
  const sandbox = createSandboxProvider({ db: handle.db, latencyMs: 0 })
  const provider: PaymentProvider = {
    name: 'sandbox',
    async charge(request, context) {
      const result = await sandbox.charge(request, context)
      // Down from the provider's answer on, until the request has answered.
      down = true
      return result
    },
    retrieve: (key, context) => sandbox.retrieve(key, context),
  }
  const built = await buildTestApp({ database: { ...handle, db }, paymentProviders: [provider] })
  const tenant = await createTenant(built.call)
  const product = await createProduct(built.call, tenant.apiKey, { priceMinor: 1500, stock: 10 })
  const order = await createOrder(built.call, tenant.apiKey, [{ productId: product.id, quantity: 2 }])
  const pay = async (key: string) => {
    const res = await built.call(`/orders/${order.id}/payments`, {
      method: 'POST',
      token: tenant.apiKey,
      headers: { 'idempotency-key': key, 'x-request-id': 'req-outage' },
      json: { provider: 'sandbox', source: 'tok_success' },
    })
    down = false
    return res
  }
  const keyRow = async (key: string) =>
    (
      await handle.db
        .select()
        .from(idempotencyKeys)
        .where(and(eq(idempotencyKeys.scope, tenantScope(tenant.id)), eq(idempotencyKeys.key, key)))
    )[0]!
  const paymentRows = () => handle.db.select().from(payments).where(eq(payments.orderId, order.id))
  const reconcile = () =>
    createPaymentReconciler({
      db: handle.db,
      providers: [provider],
      clock: clockAhead(LEASE_MS + LEASE_MS / 4 + 1000),
      log: quiet,
      leaseMs: LEASE_MS,
      providerTimeoutMs: PROVIDER_CALL_TIMEOUT_MS,
      metrics: reconcilerMetrics(built.deps.metrics, ['sandbox']),
    }).tick()
  return { ...built, handle, pay, keyRow, paymentRows, reconcile }
}

describe('the database stays down after the provider charged', () => {
  test('one 500, the hand-over and release failures logged once each without the key, then reconciliation answers the key', async () => {
    const s = await setup()
    // A bot's key made of the customer's phone number.
    const key = 'wa-+254711000200-order-1'
    const first = await s.pay(key)
    expect([first.status, ((await first.json()) as { error: { code: string } }).error.code]).toEqual([
      500,
      'INTERNAL',
    ])
    const [pending] = await s.paymentRows()
    expect([pending!.status, pending!.providerReference]).toEqual(['pending', null])
    expect((await ledger(s.handle.db, pending!.id)).length).toBe(1)

    const errors = s.logs.lines
      .filter((l) => l.level === 'error')
      .map((l) => [l.msg, (l.err as { message: string } | undefined)?.message])
    // The settling error is the one answered and logged as the request's; the others only logged.
    expect(errors).toEqual([
      ['could not hand the idempotency key over to reconciliation', 'connect ECONNREFUSED'],
      ['could not release an idempotency key', 'connect ECONNREFUSED'],
      ['request failed', 'Connection terminated unexpectedly'],
    ])
    expect(s.logs.text()).not.toContain('254711000200')
    expect(s.logs.text()).not.toContain(key)

    // Neither handed over nor released: the claim still holds the key, with the effect attached.
    const held = await s.keyRow(key)
    expect([held.lockToken === null, held.resourceId, held.responseStatus]).toEqual([
      false,
      pending!.id,
      null,
    ])
    const retry = await s.pay(key)
    expect([retry.status, retry.headers.get('retry-after')]).toEqual([409, '1'])

    expect(await s.reconcile()).toEqual(['succeeded'])
    const [settled] = await s.paymentRows()
    const replay = await s.pay(key)
    expect([replay.status, replay.headers.get('idempotent-replayed'), await replay.text()]).toEqual([
      201,
      'true',
      JSON.stringify(toPaymentView(settled!)),
    ])
    expect((await ledger(s.handle.db, pending!.id)).length).toBe(1)
  })
})
