/**
 * A payment request whose provider charged, but whose settling transaction then failed (the
 * database dropped the connection, a failover): nothing is acknowledged, the payment stays
 * `pending`, and its Idempotency-Key waits for reconciliation, which finds the charge. The
 * retries are told when that will be (Retry-After), as after a 503 PAYMENT_PENDING, instead of
 * `1` second after second for the whole lease.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
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

// A fresh database and app per test and a reconciliation: past bun's 5 s default on loaded cores.
setDefaultTimeout(60_000)

// Reconciliation leases every stale pending payment of its database.
const ownDatabase = fileDatabase()

async function setup() {
  const handle = await ownDatabase()
  // The transaction after the charge fails once, as a dropped connection would fail it.
  let failNextTransaction = false
  const db = new Proxy(handle.db, {
    get(target, property) {
      if (property === 'transaction' && failNextTransaction) {
        failNextTransaction = false
        return async () => {
          throw new Error('Connection terminated unexpectedly')
        }
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
      failNextTransaction = true
      return result
    },
    retrieve: (key, context) => sandbox.retrieve(key, context),
  }
  const built = await buildTestApp({ database: { ...handle, db }, paymentProviders: [provider] })
  const tenant = await createTenant(built.call)
  const product = await createProduct(built.call, tenant.apiKey, { priceMinor: 1500, stock: 10 })
  const order = await createOrder(built.call, tenant.apiKey, [{ productId: product.id, quantity: 2 }])
  const pay = (key: string) =>
    built.call(`/orders/${order.id}/payments`, {
      method: 'POST',
      token: tenant.apiKey,
      headers: { 'idempotency-key': key, 'x-request-id': `req-${key}` },
      json: { provider: 'sandbox', source: 'tok_success' },
    })
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
  return { ...built, handle, order, pay, keyRow, paymentRows, reconcile }
}

describe('the settling transaction fails after the provider charged', () => {
  test('nothing acknowledged; the key waits for reconciliation with its Retry-After, then replays the charge', async () => {
    const s = await setup()
    const first = await s.pay('k-1')
    expect([first.status, ((await first.json()) as { error: { code: string } }).error.code]).toEqual([
      500,
      'INTERNAL',
    ])
    const [pending] = await s.paymentRows()
    expect([pending!.status, pending!.providerReference]).toEqual(['pending', null])
    expect((await ledger(s.handle.db, pending!.id)).length).toBe(1)

    // Handed over to reconciliation, due a lease and an interval after the payment was recorded.
    const due = new Date(pending!.updatedAt.getTime() + LEASE_MS + LEASE_MS / 4)
    const held = await s.keyRow('k-1')
    expect([held.lockToken, held.resourceId, held.responseStatus, held.lockedUntil]).toEqual([
      null,
      pending!.id,
      null,
      due,
    ])
    const before = Date.now()
    const retry = await s.pay('k-1')
    const after = Date.now()
    expect([retry.status, ((await retry.json()) as { error: { code: string } }).error.code]).toEqual([
      409,
      'IDEMPOTENCY_KEY_IN_USE',
    ])
    const retryAfter = Number(retry.headers.get('retry-after'))
    expect(retryAfter).toBeLessThanOrEqual(Math.ceil((due.getTime() - before) / 1000))
    expect(retryAfter).toBeGreaterThanOrEqual(Math.ceil((due.getTime() - after) / 1000))

    expect(await s.reconcile()).toEqual(['succeeded'])
    const [settled] = await s.paymentRows()
    const replay = await s.pay('k-1')
    expect([replay.status, replay.headers.get('idempotent-replayed'), await replay.text()]).toEqual([
      201,
      'true',
      JSON.stringify(toPaymentView(settled!)),
    ])
    expect((await ledger(s.handle.db, pending!.id)).length).toBe(1)
  })
})
