import { describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { payments } from '../../src/db/schema.ts'
import type { BusinessMetrics } from '../../src/observability/business-metrics.ts'
import { type PaymentProvider, PROVIDER_CALL_TIMEOUT_MS } from '../../src/payments/providers.ts'
import {
  createPaymentReconciler,
  reconcileIntervalFor,
  reconcilerMetrics,
} from '../../src/payments/reconciler.ts'
import { buildTestApp } from '../helpers/app.ts'
import { createOrder, createProduct, createTenant } from '../helpers/commerce.ts'
import { fileDatabase } from '../helpers/db.ts'
import { captureLogs } from '../helpers/logs.ts'
import { clockAhead, LEASE_MS, ledger, quiet, stalledSandbox } from './providers.ts'

// A tick leases every stale pending payment of its database: other files leave payments
// pending on purpose (503 PAYMENT_PENDING).
const ownDatabase = fileDatabase()

function recordingBusiness() {
  const processed: string[] = []
  const business: BusinessMetrics = {
    orderCreated() {},
    productViewed() {},
    paymentProviderDuration() {},
    paymentProcessed: (e) => processed.push(`${e.provider} ${e.status}`),
  }
  return { processed, business }
}

/**
 * An order whose payment request is stuck inside the provider call, as when the process
 * died there: the payment is `pending` and nothing will settle it but reconciliation.
 */
async function stuckPayment(options: { charged: boolean; retrieveFails?: boolean; chargesLate?: boolean }) {
  const database = await ownDatabase()
  const stalled = stalledSandbox(database.db, options)
  const built = await buildTestApp({ database, paymentProviders: [stalled.provider] })
  const tenant = await createTenant(built.call)
  const product = await createProduct(built.call, tenant.apiKey, { priceMinor: 700, stock: 5 })
  const order = await createOrder(built.call, tenant.apiKey, [{ productId: product.id, quantity: 1 }])
  const key = crypto.randomUUID()
  const pay = (source: string, idempotencyKey = key) =>
    built.call(`/orders/${order.id}/payments`, {
      method: 'POST',
      token: tenant.apiKey,
      headers: { 'idempotency-key': idempotencyKey, 'x-request-id': `req-${idempotencyKey}` },
      json: { provider: 'sandbox', source },
    })
  const inFlight = pay(options.charged || options.chargesLate ? 'tok_success' : 'tok_error')
  await stalled.reached
  const [payment] = await database.db.select().from(payments).where(eq(payments.orderId, order.id))
  const orderStatus = async () =>
    ((await (await built.call(`/orders/${order.id}`, { token: tenant.apiKey })).json()) as { status: string })
      .status
  const reconciler = (
    offsetMs: number,
    business?: BusinessMetrics,
    provider: PaymentProvider = stalled.provider,
  ) =>
    createPaymentReconciler({
      db: database.db,
      providers: [provider],
      clock: clockAhead(offsetMs),
      log: quiet,
      leaseMs: LEASE_MS,
      providerTimeoutMs: PROVIDER_CALL_TIMEOUT_MS,
      metrics: reconcilerMetrics(built.deps.metrics, ['sandbox']),
      business,
    })
  const paymentRow = async () =>
    (await database.db.select().from(payments).where(eq(payments.id, payment!.id)))[0]!
  return {
    ...built,
    key,
    stalled,
    order,
    tenant,
    payment: payment!,
    pay,
    inFlight,
    orderStatus,
    reconciler,
    paymentRow,
  }
}

async function scrape(call: Awaited<ReturnType<typeof buildTestApp>>['call'], name: string) {
  const text = await (await call('/metrics')).text()
  return text
    .split('\n')
    .filter((line) => line.startsWith(name))
    .sort()
}

describe('payment reconciliation', () => {
  test('the provider charged: the payment succeeds, the order is paid, and the retry replays 201', async () => {
    const stuck = await stuckPayment({ charged: true })
    expect(stuck.payment.status).toBe('pending')
    const { processed, business } = recordingBusiness()
    expect(await stuck.reconciler(LEASE_MS + 1000, business).tick()).toEqual(['succeeded'])

    const settled = await stuck.paymentRow()
    expect([settled.status, settled.providerReference]).toEqual([
      'succeeded',
      `sbx_${settled.id.slice(0, 8)}`,
    ])
    expect(await stuck.orderStatus()).toBe('paid')
    expect(processed).toEqual(['sandbox succeeded'])
    expect(await scrape(stuck.call, 'payments_reconciled_total{')).toEqual([
      'payments_reconciled_total{provider="sandbox",outcome="already_settled"} 0',
      'payments_reconciled_total{provider="sandbox",outcome="amount_mismatch"} 0',
      'payments_reconciled_total{provider="sandbox",outcome="failed"} 0',
      'payments_reconciled_total{provider="sandbox",outcome="not_found"} 0',
      'payments_reconciled_total{provider="sandbox",outcome="succeeded"} 1',
      'payments_reconciled_total{provider="sandbox",outcome="unresolved"} 0',
    ])
    expect(await scrape(stuck.call, 'payments_pending_oldest_age_seconds ')).toEqual([
      'payments_pending_oldest_age_seconds 0',
    ])

    const retry = await stuck.pay('tok_success')
    expect([retry.status, retry.headers.get('idempotent-replayed')]).toEqual([201, 'true'])
    expect(((await retry.json()) as { id: string; status: string }).status).toBe('succeeded')

    // The provider's late answer reaches the original request: it settles nothing again.
    stuck.stalled.answer()
    const late = await stuck.inFlight
    expect(late.status).toBe(201)
    expect((await ledger(stuck.deps.database.db, stuck.payment.id)).length).toBe(1)
    expect(await stuck.orderStatus()).toBe('paid')
  })

  test.each([
    [true, 'succeeded', 201],
    [false, 'error', 502],
  ])('charged %p: payments_processed_total counts the payment once, by the reconciler, when its request comes back after it', async (charged, status, answered) => {
    const stuck = await stuckPayment({ charged })
    const reconciler = stuck.reconciler(LEASE_MS + 1000, stuck.deps.metrics.business)
    expect(await reconciler.tick()).toEqual([charged ? 'succeeded' : 'not_found'])
    stuck.stalled.answer()
    expect((await stuck.inFlight).status).toBe(answered)
    expect(await scrape(stuck.call, 'payments_processed_total{')).toEqual([
      `payments_processed_total{tenant_id="${stuck.tenant.id}",provider="sandbox",status="${status}"} 1`,
    ])
  })

  test('a request that settles its payment while the reconciler asks the provider: already_settled, counted once', async () => {
    const stuck = await stuckPayment({ charged: true })
    // The provider answers the status query only after the stalled request came back and settled.
    const racing: PaymentProvider = {
      ...stuck.stalled.provider,
      async retrieve(key, context) {
        stuck.stalled.answer()
        expect((await stuck.inFlight).status).toBe(201)
        return stuck.stalled.provider.retrieve(key, context)
      },
    }
    const reconciler = stuck.reconciler(LEASE_MS + 1000, stuck.deps.metrics.business, racing)
    expect(await reconciler.tick()).toEqual(['already_settled'])
    expect(await scrape(stuck.call, 'payments_reconciled_total{provider="sandbox",outcome="')).toEqual([
      'payments_reconciled_total{provider="sandbox",outcome="already_settled"} 1',
      'payments_reconciled_total{provider="sandbox",outcome="amount_mismatch"} 0',
      'payments_reconciled_total{provider="sandbox",outcome="failed"} 0',
      'payments_reconciled_total{provider="sandbox",outcome="not_found"} 0',
      'payments_reconciled_total{provider="sandbox",outcome="succeeded"} 0',
      'payments_reconciled_total{provider="sandbox",outcome="unresolved"} 0',
    ])
    expect(await scrape(stuck.call, 'payments_processed_total{')).toEqual([
      `payments_processed_total{tenant_id="${stuck.tenant.id}",provider="sandbox",status="succeeded"} 1`,
    ])
  })

  test('the provider never received it: the payment becomes error, the order can be paid again', async () => {
    const stuck = await stuckPayment({ charged: false })
    const { processed, business } = recordingBusiness()
    expect(await stuck.reconciler(LEASE_MS + 1000, business).tick()).toEqual(['not_found'])
    const settled = await stuck.paymentRow()
    expect([settled.status, settled.failureReason]).toEqual([
      'error',
      'the provider never received the charge (settled by reconciliation)',
    ])
    expect(await stuck.orderStatus()).toBe('pending')
    expect(processed).toEqual(['sandbox error'])

    // Retries of the stuck request replay the outcome, in the envelope with its request id.
    const retry = await stuck.pay('tok_error')
    expect(retry.status).toBe(502)
    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    const body = (await retry.json()) as {
      error: { code: string; requestId: string; details: { payment: { id: string } } }
    }
    expect(body.error).toMatchObject({ code: 'PROVIDER_ERROR', requestId: `req-${stuck.key}` })
    expect(body.error.details.payment.id).toBe(stuck.payment.id)

    stuck.stalled.answer()
    expect((await stuck.inFlight).status).toBe(502)
    // Payable again, under a new key.
    const again = await stuck.pay('tok_success', crypto.randomUUID())
    expect(again.status).toBe(201)
    expect(await stuck.orderStatus()).toBe('paid')
  })

  test('a provider slower than the lease that charges after reconciliation: the charge is recorded late, the order paid', async () => {
    const stuck = await stuckPayment({ charged: false, chargesLate: true })
    expect(await stuck.reconciler(LEASE_MS + 1000).tick()).toEqual(['not_found'])
    expect([(await stuck.paymentRow()).status, await stuck.orderStatus()]).toEqual(['error', 'pending'])
    stuck.stalled.answer()
    const late = await stuck.inFlight
    expect(late.status).toBe(201)
    const lateText = await late.text()
    const settled = await stuck.paymentRow()
    expect([settled.status, settled.providerReference, settled.failureReason]).toEqual([
      'succeeded',
      `sbx_${stuck.payment.id.slice(0, 8)}`,
      null,
    ])
    expect(await stuck.orderStatus()).toBe('paid')
    expect(stuck.logs.lines.find((l) => l.event === 'payment_late_report')).toMatchObject({
      level: 'warn',
      paymentId: stuck.payment.id,
      from: 'error',
      to: 'succeeded',
    })
    // Retries of its key replay what the request answered, not reconciliation's earlier 502.
    const retry = await stuck.pay('tok_success')
    expect([retry.status, await retry.text()]).toEqual([201, lateText])
  })

  test('a provider that cannot answer leaves the payment pending until another lease has passed', async () => {
    const stuck = await stuckPayment({ charged: true, retrieveFails: true })
    const reconciler = stuck.reconciler(LEASE_MS + 1000)
    expect(await reconciler.tick()).toEqual(['unresolved'])
    expect((await stuck.paymentRow()).status).toBe('pending')
    // Leased: not asked again at the next tick, only after another lease.
    expect(await reconciler.tick()).toEqual([])
    expect(await stuck.reconciler(2 * LEASE_MS + 3000).tick()).toEqual(['unresolved'])
    const age = await scrape(stuck.call, 'payments_pending_oldest_age_seconds ')
    expect(Number(age[0]!.split(' ')[1])).toBeGreaterThan((2 * LEASE_MS) / 1000)
    expect(
      await scrape(stuck.call, 'payments_reconciled_total{provider="sandbox",outcome="unresolved"}'),
    ).toEqual(['payments_reconciled_total{provider="sandbox",outcome="unresolved"} 2'])
    stuck.stalled.answer()
    expect((await stuck.inFlight).status).toBe(201)
  })

  test('a payment pending for less than the lease is left alone (its request may still answer)', async () => {
    const stuck = await stuckPayment({ charged: true })
    expect(await stuck.reconciler(LEASE_MS - 5000).tick()).toEqual([])
    expect((await stuck.paymentRow()).status).toBe('pending')
    const age = await scrape(stuck.call, 'payments_pending_oldest_age_seconds ')
    expect(Number(age[0]!.split(' ')[1])).toBeGreaterThan(LEASE_MS / 1000 - 10)
    stuck.stalled.answer()
    expect((await stuck.inFlight).status).toBe(201)
    expect(await stuck.orderStatus()).toBe('paid')
  })

  test('replicas reconciling at once settle each payment exactly once', async () => {
    const stuck = await stuckPayment({ charged: true })
    const { processed, business } = recordingBusiness()
    const outcomes = await Promise.all(
      Array.from({ length: 3 }, () => stuck.reconciler(LEASE_MS + 1000, business).tick()),
    )
    const settled = outcomes.flatMap((o) => (o === 'not-leader' ? [] : o))
    expect(settled).toEqual(['succeeded'])
    expect(processed).toEqual(['sandbox succeeded'])
    expect(await stuck.orderStatus()).toBe('paid')
    stuck.stalled.answer()
    await stuck.inFlight
  })

  test('the loop runs every quarter lease (100 ms to 30 s) and stops cleanly', async () => {
    expect([reconcileIntervalFor(120_000), reconcileIntervalFor(1000), reconcileIntervalFor(10)]).toEqual([
      30_000, 250, 100,
    ])
    const stuck = await stuckPayment({ charged: true })
    const reconciler = createPaymentReconciler({
      db: stuck.deps.database.db,
      providers: [stuck.stalled.provider],
      clock: clockAhead(LEASE_MS + 1000),
      log: quiet,
      leaseMs: LEASE_MS,
      providerTimeoutMs: PROVIDER_CALL_TIMEOUT_MS,
      intervalMs: 20,
    })
    reconciler.start()
    for (let i = 0; i < 200 && (await stuck.paymentRow()).status === 'pending'; i++) await Bun.sleep(20)
    await reconciler.stop()
    expect((await stuck.paymentRow()).status).toBe('succeeded')
    stuck.stalled.answer()
    await stuck.inFlight
  })

  test('a status query that never answers ends at the provider deadline: unresolved, the payment stays pending', async () => {
    const stuck = await stuckPayment({ charged: true })
    const logs = captureLogs()
    const reasons: unknown[] = []
    const silent: PaymentProvider = {
      ...stuck.stalled.provider,
      retrieve: (_key, context) =>
        new Promise((_, reject) => {
          context.signal?.addEventListener('abort', () => {
            reasons.push((context.signal!.reason as DOMException).name)
            reject(context.signal!.reason)
          })
        }),
    }
    const reconciler = createPaymentReconciler({
      db: stuck.deps.database.db,
      providers: [silent],
      clock: clockAhead(LEASE_MS + 1000),
      log: logs.log,
      leaseMs: LEASE_MS,
      providerTimeoutMs: 50,
    })
    const outcomes = await reconciler.tick()
    expect(outcomes).not.toBe('not-leader')
    expect(new Set(outcomes as string[])).toEqual(new Set(['unresolved']))
    expect(new Set(reasons)).toEqual(new Set(['TimeoutError']))
    expect((await stuck.paymentRow()).status).toBe('pending')
    expect(logs.lines.find((l) => l.paymentId === stuck.payment.id)).toMatchObject({
      level: 'warn',
      event: 'payment_reconcile_unresolved',
    })
    stuck.stalled.answer()
    expect((await stuck.inFlight).status).toBe(201)
  })

  test('stop() during a pass aborts the provider call under way and settles nothing of the pass', async () => {
    const first = await stuckPayment({ charged: true })
    const second = await stuckPayment({ charged: true })
    const logs = captureLogs()
    const asked: string[] = []
    const leased: Record<string, unknown> = {}
    // A status query that never answers: it ends only when its caller aborts it.
    const provider: PaymentProvider = {
      ...first.stalled.provider,
      async retrieve(key, context) {
        asked.push(key)
        ;[leased[key]] = await first.deps.database.db.select().from(payments).where(eq(payments.id, key))
        return new Promise((_, reject) => {
          context.signal?.addEventListener('abort', () => reject(context.signal!.reason))
        })
      },
    }
    const reconciler = createPaymentReconciler({
      db: first.deps.database.db,
      providers: [provider],
      clock: clockAhead(LEASE_MS + 1000),
      log: logs.log,
      leaseMs: LEASE_MS,
      providerTimeoutMs: PROVIDER_CALL_TIMEOUT_MS,
      intervalMs: 20,
      metrics: reconcilerMetrics(first.deps.metrics, ['sandbox']),
    })
    reconciler.start()
    for (let i = 0; i < 200 && asked.length === 0; i++) await Bun.sleep(10)
    expect(asked).toHaveLength(1)
    await reconciler.stop()
    // Other tests' payments may be in the same pass; none is asked after the stop.
    expect(asked).toHaveLength(1)
    const rows = [await first.paymentRow(), await second.paymentRow()]
    expect(rows.map((r) => r.status)).toEqual(['pending', 'pending'])
    // The payment asked about is exactly as its lease left it.
    expect(rows.find((r) => r.id === asked[0])).toEqual(leased[asked[0]!] as never)
    expect(logs.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([])
    expect(logs.lines.filter((l) => String(l.event).startsWith('payment_reconcile'))).toMatchObject([
      { level: 'info', event: 'payment_reconcile_stopped', paymentId: asked[0], provider: 'sandbox' },
    ])
    // An aborted call is no outcome: nothing counted.
    expect(await scrape(first.call, 'payments_reconciled_total{provider="sandbox",outcome="')).toEqual([
      'payments_reconciled_total{provider="sandbox",outcome="already_settled"} 0',
      'payments_reconciled_total{provider="sandbox",outcome="amount_mismatch"} 0',
      'payments_reconciled_total{provider="sandbox",outcome="failed"} 0',
      'payments_reconciled_total{provider="sandbox",outcome="not_found"} 0',
      'payments_reconciled_total{provider="sandbox",outcome="succeeded"} 0',
      'payments_reconciled_total{provider="sandbox",outcome="unresolved"} 0',
    ])
    first.stalled.answer()
    second.stalled.answer()
    await Promise.all([first.inFlight, second.inFlight])
  })

  test('stop() does not wait for a provider that ignores the abort; its late answer settles nothing', async () => {
    const stuck = await stuckPayment({ charged: true })
    const logs = captureLogs()
    let asked = 0
    let answer!: () => void
    const answered = new Promise<void>((resolve) => {
      answer = resolve
    })
    let late: Promise<unknown> | undefined
    const deaf: PaymentProvider = {
      ...stuck.stalled.provider,
      retrieve(key, context) {
        asked++
        late = answered.then(() => stuck.stalled.provider.retrieve(key, context))
        return late as ReturnType<PaymentProvider['retrieve']>
      },
    }
    const reconciler = createPaymentReconciler({
      db: stuck.deps.database.db,
      providers: [deaf],
      clock: clockAhead(LEASE_MS + 1000),
      log: logs.log,
      leaseMs: LEASE_MS,
      providerTimeoutMs: PROVIDER_CALL_TIMEOUT_MS,
      intervalMs: 20,
    })
    reconciler.start()
    for (let i = 0; i < 200 && asked === 0; i++) await Bun.sleep(10)
    await reconciler.stop()
    // The provider answers "charged" after the stop: the pass is over, nobody settles it.
    answer()
    expect(await late).toMatchObject({ outcome: 'succeeded' })
    expect((await stuck.paymentRow()).status).toBe('pending')
    expect(logs.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([])
    stuck.stalled.answer()
    expect((await stuck.inFlight).status).toBe(201)
  })
})
