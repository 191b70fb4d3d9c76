import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createLogger } from '../../src/core/logger.ts'
import { openEmbedded } from '../../src/db/embedded.ts'
import { openPostgres } from '../../src/db/postgres.ts'
import { alertOutbox } from '../../src/db/schema.ts'
import { ONE_CRITICAL_NOTIFICATION } from '../helpers/alerts.ts'
import { ADMIN_TOKEN } from '../helpers/app.ts'
import { createServerData, startServer } from '../helpers/process.ts'
import { startWhatsAppFake } from '../helpers/whatsapp-fake.ts'

// Starts real processes or fresh databases: well over bun's 5 s default.
setDefaultTimeout(30_000)

/**
 * Makes a tenant, a product and an order through the server's API, then starts paying the
 * order (slow as the server's SANDBOX_LATENCY_MS): `payment`, once the payment has started, is
 * its response, or the error of a connection the shutdown cut.
 */
async function slowPayment(url: string, ownerPhone: string, customerPhone: string) {
  const post = async (path: string, token: string, json: unknown) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(json),
    })
  const tenant = (await (await post('/tenants', ADMIN_TOKEN, { name: 'S', ownerPhone })).json()) as {
    apiKey: string
  }
  const product = (await (
    await post('/products', tenant.apiKey, { name: 'T', priceMinor: 1, currency: 'KES' })
  ).json()) as { id: string }
  const order = (await (
    await post('/orders', tenant.apiKey, {
      customer: { phone: customerPhone },
      items: [{ productId: product.id, quantity: 1 }],
    })
  ).json()) as { id: string }
  const payment = post(`/orders/${order.id}/payments`, tenant.apiKey, {
    provider: 'sandbox',
    source: 'tok_success',
  })
  // Wrapped: a promise an async function returns is awaited with it.
  return { payment: payment.catch((error: Error) => error) }
}

describe('graceful shutdown (real process)', () => {
  test('SIGTERM lets an in-flight request finish, refuses new ones, closes the database and exits 0', async () => {
    const server = await startServer({ ADMIN_TOKEN, SANDBOX_LATENCY_MS: '1500', SHUTDOWN_TIMEOUT_MS: '8000' })
    try {
      const api = (path: string, token: string, json?: unknown) =>
        fetch(`${server.url}${path}`, {
          method: json === undefined ? 'GET' : 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: json === undefined ? undefined : JSON.stringify(json),
        })
      const tenant = (await (
        await api('/tenants', ADMIN_TOKEN, { name: 'S', ownerPhone: '+254711000300' })
      ).json()) as { apiKey: string }
      const product = (await (
        await api('/products', tenant.apiKey, { name: 'T', priceMinor: 100, currency: 'KES' })
      ).json()) as { id: string }
      const order = (await (
        await api('/orders', tenant.apiKey, {
          customer: { phone: '+254711000301' },
          items: [{ productId: product.id, quantity: 1 }],
        })
      ).json()) as { id: string }

      const started = performance.now()
      const inFlight = api(`/orders/${order.id}/payments`, tenant.apiKey, {
        provider: 'sandbox',
        source: 'tok_success',
      })
      await Bun.sleep(300)
      server.proc.kill('SIGTERM')
      const response = await inFlight
      expect(response.status).toBe(201)
      expect(((await response.json()) as { status: string }).status).toBe('succeeded')
      expect(await server.exited).toBe(0)
      expect(performance.now() - started).toBeGreaterThan(1400)
      const messages = server.lines.map((l) => l.msg)
      expect(messages).toContain('shutting down: draining in-flight requests')
      expect(messages.at(-1)).toBe('stopped')
      await expect(fetch(`${server.url}/health`)).rejects.toThrow()
    } finally {
      await server.cleanup()
    }
  })

  test('a request still running at SHUTDOWN_TIMEOUT_MS is cut off and the process still exits 0', async () => {
    const server = await startServer({ ADMIN_TOKEN, SANDBOX_LATENCY_MS: '5000', SHUTDOWN_TIMEOUT_MS: '500' })
    try {
      const { payment: slow } = await slowPayment(server.url, '+254711000302', '+254711000303')
      await Bun.sleep(200)
      const signalled = performance.now()
      server.proc.kill('SIGTERM')
      expect(await server.exited).toBe(0)
      expect(performance.now() - signalled).toBeLessThan(4000)
      expect(await slow).toBeInstanceOf(Error)
      expect(server.lines.map((l) => l.msg)).toContain(
        'shutdown timeout reached; closing remaining connections',
      )
    } finally {
      await server.cleanup()
    }
  })

  test('a second SIGTERM a second into the drain exits at once, code 1, its reason in the log; a duplicate does not', async () => {
    const server = await startServer({ ADMIN_TOKEN, SANDBOX_LATENCY_MS: '6000', SHUTDOWN_TIMEOUT_MS: '8000' })
    try {
      const { payment: slow } = await slowPayment(server.url, '+254711000304', '+254711000305')
      await Bun.sleep(200)
      server.proc.kill('SIGTERM')
      // Ctrl-C's duplicate (the process group, then `bun run` passing it on): still draining.
      server.proc.kill('SIGINT')
      await Bun.sleep(1300)
      expect(server.proc.exitCode).toBeNull()
      const second = performance.now()
      server.proc.kill('SIGTERM')
      expect(await server.exited).toBe(1)
      // Not the 6 s the payment would take, nor the 8 s drain.
      expect(performance.now() - second).toBeLessThan(2000)
      expect(await slow).toBeInstanceOf(Error)
      expect(server.lines.at(-1)).toMatchObject({
        level: 'warn',
        signal: 'SIGTERM',
        msg: 'second signal during shutdown: exiting now, in-flight requests are cut off',
      })
    } finally {
      await server.cleanup()
    }
  })

  test('SIGTERM during a pass of alert sends: the call under way finishes, the rest wait for the next process', async () => {
    const fake = startWhatsAppFake()
    const data = await createServerData()
    const phones = ['+254700000011', '+254700000012', '+254700000013', '+254700000014', '+254700000015']
    // Every call takes 900 ms, within WHATSAPP_TIMEOUT_MS: a pass of five is 4.5 s.
    fake.answer(...phones.map(() => ({ kind: 'delay' as const, ms: 900 })))
    const server = await startServer(
      {
        ADMIN_TOKEN,
        ALERT_PHONES: phones.join(','),
        ALERTMANAGER_WEBHOOK_TOKEN: 'shutdown-alertmanager-token',
        WHATSAPP_API_BASE: fake.url,
        WHATSAPP_PHONE_NUMBER_ID: '1066',
        WHATSAPP_ACCESS_TOKEN: 'shutdown-token',
        WHATSAPP_TIMEOUT_MS: '1000',
        ALERT_NOTIFY_INTERVAL: '100ms',
        SHUTDOWN_TIMEOUT_MS: '1000',
      },
      data,
    )
    try {
      const res = await fetch(`${server.url}/alerts/alertmanager`, {
        method: 'POST',
        headers: { authorization: 'Bearer shutdown-alertmanager-token', 'content-type': 'application/json' },
        body: JSON.stringify(ONE_CRITICAL_NOTIFICATION),
      })
      expect(res.status).toBe(200)
      for (let i = 0; i < 200 && fake.requests.length === 0; i++) await Bun.sleep(10)
      expect(fake.requests).toHaveLength(1)
      const signalled = performance.now()
      server.proc.kill('SIGTERM')
      expect(await server.exited).toBe(0)
      // The call under way (at most 900 ms) and the rest of the shutdown, not the whole pass.
      expect(performance.now() - signalled).toBeLessThan(3000)
      expect(fake.requests).toHaveLength(1)
      expect(server.lines.map((l) => l.msg).at(-1)).toBe('stopped')

      const quiet = createLogger({ level: 'silent', pretty: false })
      const db = data.databaseUrl
        ? await openPostgres({ url: data.databaseUrl, poolSize: 1, connectTimeoutMs: 3000 }, quiet)
        : await openEmbedded({ dataDir: data.dataDir }, quiet)
      try {
        const rows = await db.db.select().from(alertOutbox)
        // Given back as never tried: due at once for the next process, no lease to wait out.
        expect(rows.map((r) => [r.status, r.attempts]).sort()).toEqual([
          ['pending', 0],
          ['pending', 0],
          ['pending', 0],
          ['pending', 0],
          ['sent', 1],
        ])
      } finally {
        await db.close()
      }
    } finally {
      await server.cleanup()
      await data.cleanup()
      fake.stop()
    }
  })
})
