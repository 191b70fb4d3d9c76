import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import type { Clock } from '../../src/core/clock.ts'
import type { Database } from '../../src/db/client.ts'
import { payments } from '../../src/db/schema.ts'
import { noBusinessMetrics } from '../../src/observability/business-metrics.ts'
import {
  createProviderRegistry,
  type PaymentProvider,
  PROVIDER_CALL_TIMEOUT_MS,
  ProviderError,
  providerCallError,
  providerStatusError,
} from '../../src/payments/providers.ts'
import { createPaymentReconciler } from '../../src/payments/reconciler.ts'
import { createSandboxProvider } from '../../src/payments/sandbox.ts'
import { createPaymentService, PaymentOutcomeUnknown, toPaymentView } from '../../src/payments/service.ts'
import { buildTestApp } from '../helpers/app.ts'
import { createOrder, createProduct, createTenant } from '../helpers/commerce.ts'
import { fileDatabase } from '../helpers/db.ts'
import { storedKeyRow } from './late-fixture.ts'
import { clockAhead, LEASE_MS, ledger, quiet } from './providers.ts'

// A database of its own and several apps per test: over bun's 5 s default on a loaded machine.
setDefaultTimeout(30_000)

// Its reconciliation ticks lease every stale pending payment of the database: one of its own.
const ownDatabase = fileDatabase()

/**
 * A provider named `flaky` whose charge throws `failure()`; with `charged`, the sandbox ledger
 * (which `retrieve` reads) has entered the charge first: the call failed after it landed.
 */
function failingProvider(
  db: Database,
  failure: () => unknown,
  charged: boolean,
  onCharge: (paymentId: string) => Promise<void> = async () => {},
) {
  const sandbox = createSandboxProvider({ db, latencyMs: 0 })
  const calls = { charge: 0 }
  const provider: PaymentProvider = {
    name: 'flaky',
    async charge(request, context) {
      calls.charge++
      await onCharge(request.paymentId)
      if (charged) await sandbox.charge({ ...request, source: 'tok_success' }, context)
      throw failure()
    },
    retrieve: (key, context) => sandbox.retrieve(key, context),
  }
  return { provider, calls }
}

async function setup(failure: () => unknown, charged: boolean) {
  const database = await ownDatabase()
  // The app's clock, real unless a test pins it (`pinned.at`, epoch ms), or has the charge pin
  // it `sinceRecorded` ms after the payment's updated_at (the database's time, known only then).
  const pinned: { at?: number; sinceRecorded?: number } = {}
  const flaky = failingProvider(database.db, failure, charged, async (paymentId) => {
    if (pinned.sinceRecorded === undefined) return
    const [row] = await database.db.select().from(payments).where(eq(payments.id, paymentId))
    pinned.at = row!.updatedAt.getTime() + pinned.sinceRecorded
  })
  const clock: Clock = {
    now: () => new Date(pinned.at ?? Date.now()),
    monotonic: () => performance.now(),
  }
  const built = await buildTestApp({ database, clock, paymentProviders: [flaky.provider] })
  const tenant = await createTenant(built.call)
  const product = await createProduct(built.call, tenant.apiKey, { priceMinor: 1500, stock: 10 })
  const order = await createOrder(built.call, tenant.apiKey, [{ productId: product.id, quantity: 2 }])
  const pay = (key: string, requestId = `req-${key}`) =>
    built.call(`/orders/${order.id}/payments`, {
      method: 'POST',
      token: tenant.apiKey,
      headers: { 'idempotency-key': key, 'x-request-id': requestId },
      json: { provider: 'flaky', source: 'tok_x' },
    })
  const rows = () => database.db.select().from(payments).where(eq(payments.orderId, order.id))
  const orderStatus = async () =>
    ((await (await built.call(`/orders/${order.id}`, { token: tenant.apiKey })).json()) as { status: string })
      .status
  const reconcile = () =>
    createPaymentReconciler({
      db: database.db,
      providers: [flaky.provider],
      clock: clockAhead(LEASE_MS + 1000),
      log: quiet,
      leaseMs: LEASE_MS,
      providerTimeoutMs: PROVIDER_CALL_TIMEOUT_MS,
      business: built.deps.metrics.business,
    }).tick()
  const scrape = async (prefix: string) =>
    (await (await built.call('/metrics')).text())
      .split('\n')
      .filter((line) => line.startsWith(prefix))
      .sort()
  const keyRow = (key: string) => storedKeyRow(database.db, tenant.id, key)
  return {
    ...built,
    tenant,
    order,
    pay,
    rows,
    orderStatus,
    reconcile,
    scrape,
    keyRow,
    pinned,
    calls: flaky.calls,
  }
}

const timeout = () => providerCallError('flaky', new DOMException('The operation timed out.', 'TimeoutError'))

describe('a provider call that ends without an outcome', () => {
  test('charged before the timeout: 503 PAYMENT_PENDING, the order is not payable again, and the retry gets the charge reconciliation found', async () => {
    const s = await setup(timeout, true)
    // The provider call took 7.3 s: reconciliation is due a lease and an interval (30 s) after
    // the payment was recorded, 142.7 s from now.
    s.pinned.sinceRecorded = 7_300
    const first = await s.pay('k-1')
    s.pinned.sinceRecorded = undefined
    const [pending] = await s.rows()
    expect([pending!.status, pending!.failureReason, pending!.providerReference]).toEqual([
      'pending',
      null,
      null,
    ])
    expect([first.status, first.headers.get('retry-after')]).toEqual([503, '143'])
    expect(await first.json()).toEqual({
      error: {
        code: 'PAYMENT_PENDING',
        message:
          'Payment provider flaky gave no outcome and the order may have been charged; retry this request with the same Idempotency-Key after 143s to get the outcome',
        details: { payment: toPaymentView(pending!) },
        requestId: 'req-k-1',
      },
    })
    expect(await s.orderStatus()).toBe('pending')

    // Neither a new payment (a new provider key: a second charge) nor the same request again.
    const fresh = await s.pay('k-2')
    expect([fresh.status, ((await fresh.json()) as { error: unknown }).error]).toEqual([
      409,
      { code: 'CONFLICT', message: 'A payment for this order is already in progress', requestId: 'req-k-2' },
    ])
    // The key waits on reconciliation: due at the first tick (every quarter lease) after the
    // payment has been pending a lease, which is what the retry is told to wait for.
    const held = await s.keyRow('k-1')
    expect([held!.lockToken, held!.resourceId, held!.responseStatus, held!.lockedUntil]).toEqual([
      null,
      pending!.id,
      null,
      new Date(pending!.updatedAt.getTime() + LEASE_MS + LEASE_MS / 4),
    ])
    // A retry at the very instant of the 503 is told the same time; later ones count down to it.
    s.pinned.at = pending!.updatedAt.getTime() + 7_300
    const same = await s.pay('k-1', 'req-same')
    s.pinned.at = held!.lockedUntil!.getTime() - 42_300
    const early = await s.pay('k-1', 'req-early')
    s.pinned.at = undefined
    expect([same.status, same.headers.get('retry-after')]).toEqual([409, '143'])
    expect([
      early.status,
      early.headers.get('retry-after'),
      ((await early.json()) as { error: { code: string } }).error.code,
    ]).toEqual([409, '43', 'IDEMPOTENCY_KEY_IN_USE'])
    expect(s.calls.charge).toBe(1)
    // Not processed yet: counted once, by whoever settles it.
    expect(await s.scrape('payments_processed_total{')).toEqual([])
    expect(await s.scrape('payment_processing_duration_seconds_count{')).toEqual([
      'payment_processing_duration_seconds_count{provider="flaky"} 1',
    ])

    expect(await s.reconcile()).toEqual(['succeeded'])
    const [settled] = await s.rows()
    expect([settled!.id, settled!.status, settled!.providerReference]).toEqual([
      pending!.id,
      'succeeded',
      `sbx_${pending!.id.slice(0, 8)}`,
    ])
    expect(await s.orderStatus()).toBe('paid')
    const retry = await s.pay('k-1', 'req-late')
    expect([retry.status, retry.headers.get('idempotent-replayed')]).toEqual([201, 'true'])
    expect(await retry.json()).toEqual(toPaymentView(settled!))
    expect((await ledger(s.deps.database.db, pending!.id)).length).toBe(1)
    expect(s.calls.charge).toBe(1)
    expect(await s.scrape('payments_processed_total{')).toEqual([
      `payments_processed_total{tenant_id="${s.tenant.id}",provider="flaky",status="succeeded"} 1`,
    ])
  })

  test.each([
    ['a timeout', timeout],
    ['a dropped connection', () => providerCallError('flaky', new TypeError('fetch failed'))],
    ['a 500', () => providerStatusError('flaky', 500, 'internal error')],
    ['a 503', () => providerStatusError('flaky', 503, 'unavailable')],
    ['a 429', () => providerStatusError('flaky', 429, 'rate limited')],
    ['a ProviderError that does not say', () => new ProviderError('flaky: something failed')],
    ['an adapter bug', () => new Error('cannot read properties of undefined')],
  ])('%s that never charged: pending (503), then error by reconciliation; the retry replays its 502 and the order is payable again', async (_, failure) => {
    const s = await setup(failure, false)
    const first = await s.pay('k-1')
    expect([first.status, ((await first.json()) as { error: { code: string } }).error.code]).toEqual([
      503,
      'PAYMENT_PENDING',
    ])
    expect((await s.rows()).map((r) => r.status)).toEqual(['pending'])
    expect(await s.reconcile()).toEqual(['not_found'])
    const [settled] = await s.rows()
    expect([settled!.status, settled!.failureReason]).toEqual([
      'error',
      'the provider never received the charge (settled by reconciliation)',
    ])
    const retry = await s.pay('k-1', 'req-late')
    expect([retry.status, retry.headers.get('idempotent-replayed')]).toEqual([502, 'true'])
    expect(((await retry.json()) as { error: unknown }).error).toEqual({
      code: 'PROVIDER_ERROR',
      message: 'Payment provider flaky failed; the order was not charged',
      details: { payment: toPaymentView(settled!) },
      requestId: 'req-k-1',
    })
    expect(await s.orderStatus()).toBe('pending')
    expect(s.calls.charge).toBe(1)
  })

  test.each([
    ['a 400', 400],
    ['a 401', 401],
    ['a 422', 422],
  ])('a definite refusal (%s) settles as error at once: 502, replayed, and the order is payable again', async (_, status) => {
    const s = await setup(() => providerStatusError('flaky', status, 'refused'), false)
    const first = await s.pay('k-1')
    const [settled] = await s.rows()
    expect([settled!.status, settled!.failureReason]).toEqual(['error', `flaky answered ${status}: refused`])
    const firstText = await first.text()
    expect([first.status, JSON.parse(firstText)]).toEqual([
      502,
      {
        error: {
          code: 'PROVIDER_ERROR',
          message: 'Payment provider flaky failed; the order was not charged',
          details: { payment: toPaymentView(settled!) },
          requestId: 'req-k-1',
        },
      },
    ])
    const retry = await s.pay('k-1', 'req-again')
    expect([retry.status, await retry.text()]).toEqual([502, firstText])
    expect(await s.scrape('payments_processed_total{')).toEqual([
      `payments_processed_total{tenant_id="${s.tenant.id}",provider="flaky",status="error"} 1`,
    ])
    expect(await s.reconcile()).toEqual([])
  })
})

describe('the provider call deadline', () => {
  test('a charge slower than the deadline leaves its payment pending instead of waiting into the lease', async () => {
    // Without the deadline the request waits for the slow charge, past any lease: reconciliation
    // asks the provider meanwhile, hears "never received", and settles as error a charge that lands.
    const database = await ownDatabase()
    const built = await buildTestApp({ database })
    const tenant = await createTenant(built.call)
    const product = await createProduct(built.call, tenant.apiKey, { priceMinor: 500, stock: 5 })
    const order = await createOrder(built.call, tenant.apiKey, [{ productId: product.id, quantity: 1 }])
    const sandbox = createSandboxProvider({ db: database.db, latencyMs: 0 })
    const pinnedAt = Date.now()
    let land!: () => void
    const landed = new Promise<void>((resolve) => {
      land = resolve
    })
    const slow: PaymentProvider = {
      name: 'sandbox',
      async charge(request, context) {
        // Lands ten deadlines after the call began.
        setTimeout(land, 500)
        await landed
        return sandbox.charge(request, context)
      },
      retrieve: (key, context) => sandbox.retrieve(key, context),
    }
    const service = createPaymentService({
      db: database.db,
      providers: createProviderRegistry([slow]),
      metrics: noBusinessMetrics,
      clock: { now: () => new Date(pinnedAt), monotonic: () => performance.now() },
      pendingLeaseMs: 30_000,
      providerTimeoutMs: 50,
    })
    const paying = service.pay(
      tenant.id,
      order.id,
      { provider: 'sandbox', source: 'tok_success' },
      { requestId: 'req-slow', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', log: quiet },
    )
    const outcome = await paying.then(
      (view) => view.status,
      (error: unknown) =>
        error instanceof PaymentOutcomeUnknown
          ? [error.status, error.code, error.retryAfterSeconds, error.payment.status]
          : error,
    )
    await landed
    const rows = await database.db.select().from(payments).where(eq(payments.orderId, order.id))
    expect(rows.map((r) => r.status)).toEqual(['pending'])
    // Due a lease (30 s) and an interval (7.5 s) after the payment was recorded.
    const due = Math.ceil((rows[0]!.updatedAt.getTime() + 37_500 - pinnedAt) / 1000)
    expect(outcome).toEqual([503, 'PAYMENT_PENDING', due, 'pending'])
  })
})

describe('the deadline aborts the provider call', () => {
  // Its reconciliation tick must see only its own payment, not those the tests above leave pending.
  const abortDatabase = fileDatabase()
  test("the call's signal is aborted at the deadline: the sandbox stops waiting, the entered charge stays, and reconciliation finds it", async () => {
    const database = await abortDatabase()
    const built = await buildTestApp({ database })
    const tenant = await createTenant(built.call)
    const product = await createProduct(built.call, tenant.apiKey, { priceMinor: 700, stock: 5 })
    const order = await createOrder(built.call, tenant.apiKey, [{ productId: product.id, quantity: 1 }])
    // Longer than the test's own timeout: without the abort the call would still be waiting.
    const sandbox = createSandboxProvider({ db: database.db, latencyMs: 30_000 })
    let seen!: { signal: AbortSignal | undefined; call: Promise<unknown> }
    const watched: PaymentProvider = {
      name: 'sandbox',
      charge(request, context) {
        const call = sandbox.charge(request, context)
        seen = {
          signal: context.signal,
          call: call.then(
            () => 'answered',
            (error: unknown) => error,
          ),
        }
        return call
      },
      retrieve: (key, context) => sandbox.retrieve(key, context),
    }
    const service = createPaymentService({
      db: database.db,
      providers: createProviderRegistry([watched]),
      metrics: noBusinessMetrics,
      clock: { now: () => new Date(), monotonic: () => performance.now() },
      pendingLeaseMs: LEASE_MS,
      providerTimeoutMs: 50,
    })
    const outcome = await service
      .pay(
        tenant.id,
        order.id,
        { provider: 'sandbox', source: 'tok_success' },
        { requestId: 'req-abort', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', log: quiet },
      )
      .then(
        (view) => view.status,
        (error: unknown) =>
          error instanceof PaymentOutcomeUnknown ? [error.status, error.code, error.payment.status] : error,
      )
    expect(outcome).toEqual([503, 'PAYMENT_PENDING', 'pending'])
    const ended = (await seen.call) as ProviderError
    expect([
      seen.signal?.aborted,
      (seen.signal?.reason as DOMException).name,
      ended instanceof ProviderError,
      ended.ambiguous,
      ended.message,
    ]).toEqual([
      true,
      'TimeoutError',
      true,
      true,
      'sandbox: no answer in time; the charge may have gone through',
    ])
    const [pending] = await database.db.select().from(payments).where(eq(payments.orderId, order.id))
    expect([pending!.status, pending!.providerReference, pending!.failureReason]).toEqual([
      'pending',
      null,
      null,
    ])
    // The provider processed the charge before the client went away: its ledger has it.
    const entries = await ledger(database.db, pending!.id)
    expect(
      entries.map((e) => [e.idempotencyKey, e.outcome, e.reference, e.reason, e.amountMinor, e.currency]),
    ).toEqual([[pending!.id, 'succeeded', `sbx_${pending!.id.slice(0, 8)}`, null, 700, pending!.currency]])
    const reconciled = await createPaymentReconciler({
      db: database.db,
      providers: [watched],
      clock: clockAhead(LEASE_MS + 1000),
      log: quiet,
      leaseMs: LEASE_MS,
      providerTimeoutMs: PROVIDER_CALL_TIMEOUT_MS,
    }).tick()
    expect(reconciled).toEqual(['succeeded'])
    const [settled] = await database.db.select().from(payments).where(eq(payments.orderId, order.id))
    expect([settled!.id, settled!.status, settled!.providerReference]).toEqual([
      pending!.id,
      'succeeded',
      `sbx_${pending!.id.slice(0, 8)}`,
    ])
  })

  test('the sandbox aborted before its call went out enters nothing; aborted during its latency, it keeps the entry', async () => {
    const database = await abortDatabase()
    const sandbox = createSandboxProvider({ db: database.db, latencyMs: 30_000 })
    const charge = (key: string) => ({
      paymentId: key,
      idempotencyKey: key,
      orderId: 'order-1',
      amountMinor: 250,
      currency: 'KES',
      source: 'tok_success',
    })
    const before = new AbortController()
    before.abort(new DOMException('gone', 'AbortError'))
    const early = await sandbox
      .charge(charge('sbx-abort-early'), { requestId: 'r1', signal: before.signal })
      .catch((error: ProviderError) => [error.ambiguous, error.message])
    expect(early).toEqual([true, 'sandbox: no answer in time; the charge may have gone through'])
    expect(await ledger(database.db, 'sbx-abort-early')).toEqual([])

    const during = new AbortController()
    const late = sandbox
      .charge(charge('sbx-abort-late'), { requestId: 'r2', signal: during.signal })
      .catch((error: ProviderError) => [error.ambiguous, error.message])
    // Entered once the request has arrived, then the latency starts.
    while ((await ledger(database.db, 'sbx-abort-late')).length === 0) await Bun.sleep(5)
    during.abort(new DOMException('gone', 'AbortError'))
    expect(await late).toEqual([true, 'sandbox: no answer in time; the charge may have gone through'])
    expect(await sandbox.retrieve('sbx-abort-late', { requestId: 'r3' })).toEqual({
      outcome: 'succeeded',
      reference: 'sbx_sbx-abor',
      amountMinor: 250,
      currency: 'KES',
    })
  })
})

describe('PAYMENT_PROVIDER_TIMEOUT_MS', () => {
  test('a sandbox at or above the deadline is warned about once at start; below it, nothing', async () => {
    const database = await ownDatabase()
    const warnings = async (env: Record<string, string>) =>
      (await buildTestApp({ database, env })).logs.lines
        .filter((line) => line.event === 'sandbox_slower_than_deadline')
        .map((line) => [line.level, line.sandboxLatencyMs, line.providerTimeoutMs, line.msg])
    expect(await warnings({ SANDBOX_LATENCY_MS: '100', PAYMENT_PROVIDER_TIMEOUT_MS: '100' })).toEqual([
      [
        'warn',
        100,
        100,
        'SANDBOX_LATENCY_MS (100) is not below PAYMENT_PROVIDER_TIMEOUT_MS (100): every sandbox payment answers 503 PAYMENT_PENDING and stays pending until reconciliation settles it (after PAYMENT_PENDING_LEASE)',
      ],
    ])
    expect(await warnings({ SANDBOX_LATENCY_MS: '99', PAYMENT_PROVIDER_TIMEOUT_MS: '100' })).toEqual([])
  })

  test("is the app's deadline on a provider call: past it, 503 PAYMENT_PENDING with Retry-After until reconciliation is due", async () => {
    const database = await ownDatabase()
    const env = { SANDBOX_LATENCY_MS: '400', PAYMENT_PROVIDER_TIMEOUT_MS: '100', PAYMENT_PENDING_LEASE: '3s' }
    // Pinned a lease before any of it: the answer counts from the recorded payment, not from now.
    const pinnedAt = Date.now() - 3000
    const clock: Clock = { now: () => new Date(pinnedAt), monotonic: () => performance.now() }
    const built = await buildTestApp({ database, env, clock })
    const tenant = await createTenant(built.call)
    const product = await createProduct(built.call, tenant.apiKey, { priceMinor: 500, stock: 5 })
    const order = await createOrder(built.call, tenant.apiKey, [{ productId: product.id, quantity: 1 }])
    const res = await built.call(`/orders/${order.id}/payments`, {
      method: 'POST',
      token: tenant.apiKey,
      json: { provider: 'sandbox', source: 'tok_success' },
    })
    const body = (await res.json()) as { error: { code: string; details: { payment: { status: string } } } }
    expect([res.status, body.error.code, body.error.details.payment.status]).toEqual([
      503,
      'PAYMENT_PENDING',
      'pending',
    ])
    // The sandbox still answers its charge: let it land before the next test.
    await Bun.sleep(500)
    const rows = await database.db.select().from(payments).where(eq(payments.orderId, order.id))
    expect(rows.map((r) => r.status)).toEqual(['pending'])
    // Due a lease (3 s) and an interval (750 ms) after updated_at, seen from the pinned now.
    expect(res.headers.get('retry-after')).toBe(
      String(Math.ceil((rows[0]!.updatedAt.getTime() + 3750 - pinnedAt) / 1000)),
    )
  })
})
