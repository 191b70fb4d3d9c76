import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { createLogger } from '../../src/core/logger.ts'
import { openEmbedded } from '../../src/db/embedded.ts'
import { openPostgres } from '../../src/db/postgres.ts'
import { payments, sandboxCharges } from '../../src/db/schema.ts'
import { reconcileIntervalFor } from '../../src/payments/reconciler.ts'
import { ADMIN_TOKEN } from '../helpers/app.ts'
import { createServerData, type ServerData, type ServerProcess, startServer } from '../helpers/process.ts'

// Two real processes per test, a slow provider and a lease to wait out.
setDefaultTimeout(60_000)

const LEASE_MS = 3000
const TICK_MS = reconcileIntervalFor(LEASE_MS)
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function started(data: ServerData, env: Record<string, string>) {
  const server = await startServer(
    // The lease's floor is the provider call's timeout plus 2 s (config.ts).
    { ADMIN_TOKEN, PAYMENT_PENDING_LEASE: `${LEASE_MS}ms`, PAYMENT_PROVIDER_TIMEOUT_MS: '1000', ...env },
    data,
  )
  cleanups.push(() => server.cleanup())
  return server
}

function api(server: ServerProcess, path: string, token: string, json?: unknown, key?: string) {
  const headers: Record<string, string> = {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
  }
  if (key) headers['idempotency-key'] = key
  return fetch(`${server.url}${path}`, {
    method: json === undefined ? 'GET' : 'POST',
    headers,
    body: json === undefined ? undefined : JSON.stringify(json),
  })
}

async function shop(server: ServerProcess) {
  const tenant = (await (
    await api(server, '/tenants', ADMIN_TOKEN, { name: 'Crash', ownerPhone: '+254711000500' })
  ).json()) as { apiKey: string }
  const product = (await (
    await api(server, '/products', tenant.apiKey, { name: 'Tea', priceMinor: 900, currency: 'KES', stock: 3 })
  ).json()) as { id: string }
  const order = (await (
    await api(server, '/orders', tenant.apiKey, {
      customer: { phone: '+254711000501' },
      items: [{ productId: product.id, quantity: 1 }],
    })
  ).json()) as { id: string }
  return { apiKey: tenant.apiKey, orderId: order.id }
}

/** Waits until the reconciler of `server` reports a pending payment (it samples every tick). */
async function untilPaymentPending(server: ServerProcess) {
  for (let i = 0; i < 200; i++) {
    const text = await (await fetch(`${server.url}/metrics`)).text()
    const age = /^payments_pending_oldest_age_seconds (\S+)$/m.exec(text)
    if (age && Number(age[1]) > 0) return
    await Bun.sleep(50)
  }
  throw new Error('no payment became pending')
}

async function orderStatus(server: ServerProcess, apiKey: string, orderId: string) {
  return ((await (await api(server, `/orders/${orderId}`, apiKey)).json()) as { status: string }).status
}

/** The database the processes used, opened by the test once they are gone. */
async function openData(data: ServerData) {
  const quiet = createLogger({ level: 'silent', pretty: false })
  return data.databaseUrl
    ? openPostgres({ url: data.databaseUrl, poolSize: 1, connectTimeoutMs: 3000 }, quiet)
    : openEmbedded({ dataDir: data.dataDir }, quiet)
}

/**
 * SIGKILLs the service while the sandbox provider is inside a slow charge of `source`,
 * restarts it (fast provider), and waits for reconciliation to settle the order's payment.
 */
async function crashDuringCharge(source: 'tok_success' | 'tok_error') {
  const data = await createServerData()
  cleanups.push(() => data.cleanup())
  // Waits for its slow charge until it is killed: its own lease is never reached.
  const first = await started(data, {
    SANDBOX_LATENCY_MS: '20000',
    PAYMENT_PROVIDER_TIMEOUT_MS: '30000',
    PAYMENT_PENDING_LEASE: '32s',
  })
  const { apiKey, orderId } = await shop(first)
  const key = crypto.randomUUID()
  const inFlight = api(
    first,
    `/orders/${orderId}/payments`,
    apiKey,
    { provider: 'sandbox', source },
    key,
  ).catch((error: Error) => error)
  await untilPaymentPending(first)
  first.proc.kill('SIGKILL')
  await first.exited
  expect(await inFlight).toBeInstanceOf(Error)

  const second = await started(data, { SANDBOX_LATENCY_MS: '0' })
  const restarted = performance.now()
  const want = source === 'tok_success' ? 'paid' : 'pending'
  let settledAfterMs = Number.POSITIVE_INFINITY
  for (let i = 0; i < 400; i++) {
    const reconciled = second.lines.find((line) => line.event === 'payment_reconciled')
    if (reconciled) {
      settledAfterMs = performance.now() - restarted
      break
    }
    await Bun.sleep(25)
  }
  // The payment was created before the kill, so its lease ends at most LEASE_MS after the
  // restart; then one tick at most (the slack covers the scheduler on a loaded machine).
  expect(settledAfterMs).toBeLessThanOrEqual(LEASE_MS + TICK_MS + 2000)
  expect(await orderStatus(second, apiKey, orderId)).toBe(want)
  return { data, second, apiKey, orderId, key }
}

describe('a crash during the provider call (real processes, SIGKILL)', () => {
  test('the provider charged: after the restart reconciliation marks the order paid, and the retry replays it without a second charge', async () => {
    const { data, second, apiKey, orderId, key } = await crashDuringCharge('tok_success')
    const reconciled = second.lines.find((line) => line.event === 'payment_reconciled')!
    expect(reconciled).toMatchObject({ outcome: 'succeeded', status: 'succeeded', orderId })

    const retry = await api(
      second,
      `/orders/${orderId}/payments`,
      apiKey,
      { provider: 'sandbox', source: 'tok_success' },
      key,
    )
    expect([retry.status, retry.headers.get('idempotent-replayed')]).toEqual([201, 'true'])
    const payment = (await retry.json()) as { id: string; status: string }
    expect(payment.status).toBe('succeeded')
    const metrics = await (await fetch(`${second.url}/metrics`)).text()
    expect(metrics).toContain('payments_reconciled_total{provider="sandbox",outcome="succeeded"} 1')

    second.proc.kill('SIGTERM')
    expect(await second.exited).toBe(0)
    const handle = await openData(data)
    try {
      expect(
        (await handle.db.select().from(payments).where(eq(payments.orderId, orderId))).map((p) => p.status),
      ).toEqual(['succeeded'])
      expect(
        (await handle.db.select().from(sandboxCharges).where(eq(sandboxCharges.idempotencyKey, payment.id)))
          .length,
      ).toBe(1)
    } finally {
      await handle.close()
    }
  })

  test('the provider never received it: after the restart the payment is error and the order can be paid again', async () => {
    const { data, second, apiKey, orderId, key } = await crashDuringCharge('tok_error')
    expect(second.lines.find((line) => line.event === 'payment_reconciled')).toMatchObject({
      outcome: 'not_found',
      status: 'error',
      orderId,
    })
    const retry = await api(
      second,
      `/orders/${orderId}/payments`,
      apiKey,
      { provider: 'sandbox', source: 'tok_error' },
      key,
    )
    expect([retry.status, retry.headers.get('idempotent-replayed')]).toEqual([502, 'true'])

    const again = await api(
      second,
      `/orders/${orderId}/payments`,
      apiKey,
      { provider: 'sandbox', source: 'tok_success' },
      crypto.randomUUID(),
    )
    expect(again.status).toBe(201)
    expect(await orderStatus(second, apiKey, orderId)).toBe('paid')

    second.proc.kill('SIGTERM')
    expect(await second.exited).toBe(0)
    const handle = await openData(data)
    try {
      const rows = await handle.db.select().from(payments).where(eq(payments.orderId, orderId))
      expect(rows.map((p) => p.status).sort()).toEqual(['error', 'succeeded'])
      const charges = await handle.db.select().from(sandboxCharges)
      expect(
        charges.filter((c) => rows.some((p) => p.id === c.idempotencyKey)).map((c) => c.outcome),
      ).toEqual(['succeeded'])
    } finally {
      await handle.close()
    }
  })
})
