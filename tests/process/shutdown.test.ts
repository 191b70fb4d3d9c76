import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { ADMIN_TOKEN } from '../helpers/app.ts'
import { startServer } from '../helpers/process.ts'

// Starts real processes or fresh databases: well over bun's 5 s default.
setDefaultTimeout(30_000)

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
      const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }
      const tenant = (await (
        await fetch(`${server.url}/tenants`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ name: 'S', ownerPhone: '+254711000302' }),
        })
      ).json()) as { apiKey: string }
      const auth = { authorization: `Bearer ${tenant.apiKey}`, 'content-type': 'application/json' }
      const product = (await (
        await fetch(`${server.url}/products`, {
          method: 'POST',
          headers: auth,
          body: JSON.stringify({ name: 'T', priceMinor: 1, currency: 'KES' }),
        })
      ).json()) as { id: string }
      const order = (await (
        await fetch(`${server.url}/orders`, {
          method: 'POST',
          headers: auth,
          body: JSON.stringify({
            customer: { phone: '+254711000303' },
            items: [{ productId: product.id, quantity: 1 }],
          }),
        })
      ).json()) as { id: string }
      const slow = fetch(`${server.url}/orders/${order.id}/payments`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ provider: 'sandbox', source: 'tok_success' }),
      }).catch((error: Error) => error)
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
})
