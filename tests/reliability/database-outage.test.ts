import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { sql } from 'drizzle-orm'
import { ADMIN_TOKEN } from '../helpers/app.ts'
import { freshDatabase, usingPostgres } from '../helpers/db.ts'
import { startServer } from '../helpers/process.ts'
import { recordSkip } from '../helpers/skips.ts'
import { startTcpProxy } from '../helpers/tcp-proxy.ts'

setDefaultTimeout(60_000)

const cleanups: Array<() => Promise<void> | void> = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

const rows = (result: unknown) =>
  (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<Record<string, number>>

// The embedded database lives inside the process and cannot be cut off; this is the
// PostgreSQL deployment's failure mode, run in the suite's PostgreSQL pass.
if (!usingPostgres()) {
  recordSkip(
    'PostgreSQL outage (through a TCP proxy the test controls)',
    'runs only on PostgreSQL (DATABASE_URL unset: the embedded database cannot be cut off)',
    { expected: true },
  )
}
describe.if(usingPostgres())('PostgreSQL outage (through a TCP proxy the test controls)', () => {
  test('health stays up, API calls answer 503 fast, nothing is half-written, and it recovers without a restart', async () => {
    const database = await freshDatabase()
    cleanups.push(() => database.close())
    const target = new URL(database.url!)
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432))
    cleanups.push(() => proxy.stop())
    const viaProxy = new URL(database.url!)
    viaProxy.port = String(proxy.port)
    const server = await startServer({
      ADMIN_TOKEN,
      DATABASE_URL: viaProxy.toString(),
      DB_CONNECT_TIMEOUT_MS: '1000',
      // Two connections, so that the calls below meet connections that have failed before.
      DB_POOL_SIZE: '2',
      HEALTH_DB_TIMEOUT_MS: '500',
    })
    cleanups.push(() => server.cleanup())
    const call = async (path: string, token?: string, body?: unknown) => {
      const started = performance.now()
      const res = await fetch(`${server.url}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      return {
        status: res.status,
        body: (await res.json()) as Record<string, any>,
        ms: performance.now() - started,
      }
    }
    const tenant = (await call('/tenants', ADMIN_TOKEN, { name: 'Outage', ownerPhone: '+254711000500' })).body
    const product = (
      await call('/products', tenant.apiKey, { name: 'Tea', priceMinor: 100, currency: 'KES', stock: 1000 })
    ).body
    const order = { customer: { phone: '+254711000501' }, items: [{ productId: product.id, quantity: 1 }] }
    let acknowledged = 0
    const place = async () => {
      const res = await call('/orders', tenant.apiKey, order)
      if (res.status === 201) acknowledged++
      return res
    }
    for (let i = 0; i < 5; i++) expect((await place()).status).toBe(201)

    proxy.cut()
    expect((await call('/health')).status).toBe(200)
    const health = await call('/health/db')
    expect(health.status).toBe(503)
    expect(health.body.status).toBe('error')
    expect(health.ms).toBeLessThan(2000)
    for (let i = 0; i < 5; i++) {
      const res = await place()
      expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 503, code: 'UNAVAILABLE' })
      expect(res.ms).toBeLessThan(5000)
    }
    // A server that refuses connections: each refusal lengthens the pool's reconnect delay, and
    // a call waits it out before its own attempt. By the seventh call postgres.js' own curve
    // waits 7 s and then 20; ours stops at MAX_RECONNECT_DELAY_SECONDS (1 s), so a call answers
    // within about a second however long the outage lasts.
    await proxy.refuse()
    for (let i = 0; i < 10; i++) {
      const res = await place()
      expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 503, code: 'UNAVAILABLE' })
      expect(res.ms).toBeLessThan(2000)
    }
    expect(server.proc.exitCode).toBeNull()

    await proxy.restore()
    let recovered = false
    for (let i = 0; i < 50 && !recovered; i++) {
      recovered = (await call('/health/db')).status === 200
      if (!recovered) await Bun.sleep(200)
    }
    expect(recovered).toBe(true)
    expect((await place()).status).toBe(201)

    const [counts] = rows(
      await database.db.execute(
        sql`select (select count(*)::int from orders) as orders, (select count(*)::int from order_items) as items, (select stock from products limit 1) as stock`,
      ),
    )
    expect(counts).toEqual({ orders: acknowledged, items: acknowledged, stock: 1000 - acknowledged })
  })
})
