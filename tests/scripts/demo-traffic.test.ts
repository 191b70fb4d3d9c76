import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createServer } from 'node:net'
import { defaultBaseUrl } from '../../scripts/lib/demo.ts'
import { isUnexpected, prepareTraffic } from '../../scripts/lib/traffic.ts'
import { buildTestApp } from '../helpers/app.ts'
import { createTenant } from '../helpers/commerce.ts'
import { runToExit } from '../helpers/process.ts'

setDefaultTimeout(60_000)

/** A port nothing listens on: bound by the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('bun run demo:traffic', () => {
  test('generates products in the tenant currency, so no order fails for mixing currencies', async () => {
    const { app, call } = await buildTestApp()
    const { apiKey } = await createTenant(call)
    const settings = await call('/tenants/me/settings', {
      method: 'PATCH',
      token: apiKey,
      json: { currency: 'USD' },
    })
    expect(settings.status).toBe(200)
    // The user adds a product in the shop's currency, as the README suggests, and one in another.
    await call('/products', {
      method: 'POST',
      token: apiKey,
      json: { name: 'House tea', priceMinor: 450, currency: 'USD' },
    })
    await call('/products', {
      method: 'POST',
      token: apiKey,
      json: { name: 'Imported tea', priceMinor: 900, currency: 'KES' },
    })
    const results: Array<{ label: string; status: number; reason?: string }> = []
    const traffic = await prepareTraffic({
      base: 'http://localhost',
      apiKey,
      seed: 7,
      errorShare: 0.05,
      fetch: (request) => app.handle(request),
      onResult: (label, status, _ms, reason) => results.push({ label, status, reason }),
    })
    expect(traffic.currency).toBe('USD')
    for (let i = 0; i < 400; i++) await traffic.oneAction()
    const listed = (await (await call('/products?limit=100', { token: apiKey })).json()) as {
      items: Array<{ currency: string; name: string }>
    }
    expect(listed.items.filter((p) => p.currency === 'USD').length).toBe(8)
    const orders = results.filter((r) => r.label === 'create order')
    expect(orders.length).toBeGreaterThan(20)
    expect(orders.filter((r) => r.status !== 201)).toEqual([])
    expect(results.filter((r) => isUnexpected(r.label, r.status))).toEqual([])
    // The only failures are the ones the mix asks for: no 409 from confirming an order twice
    // or paying one already paid, nothing the demo would show as the service's fault.
    const intended = (r: { label: string; status: number }) =>
      (r.label === 'pay tok_declined' && r.status === 402) ||
      (r.label === 'pay tok_error' && r.status === 502)
    expect(results.filter((r) => r.status >= 300 && !intended(r))).toEqual([])
    expect(results.filter((r) => r.label === 'cancelled order').length).toBeGreaterThan(0)
  })

  test("leaves out the Quick start's stocked product, so no order fails for insufficient stock", async () => {
    const { app, call } = await buildTestApp()
    const { apiKey } = await createTenant(call)
    await call('/tenants/me/settings', { method: 'PATCH', token: apiKey, json: { currency: 'USD' } })
    // The README's first order: a product with 10 units, 2 of them ordered.
    const created = await call('/products', {
      method: 'POST',
      token: apiKey,
      json: { name: 'Masala chai', priceMinor: 250, currency: 'USD', stock: 10 },
    })
    const chai = ((await created.json()) as { id: string }).id
    const results: Array<{ label: string; status: number; reason?: string }> = []
    const traffic = await prepareTraffic({
      base: 'http://localhost',
      apiKey,
      seed: 1,
      errorShare: 0,
      fetch: (request) => app.handle(request),
      onResult: (label, status, _ms, reason) => results.push({ label, status, reason }),
    })
    for (let i = 0; i < 300; i++) await traffic.oneAction()
    const orders = results.filter((r) => r.label === 'create order')
    expect(orders.length).toBeGreaterThan(20)
    expect(orders.filter((r) => r.status !== 201)).toEqual([])
    const after = (await (await call(`/products/${chai}`, { token: apiKey })).json()) as { stock: number }
    expect(after.stock).toBe(10)
  })

  test("reports each failure's reason from the error envelope, with ids folded so equal failures add up", async () => {
    const { app, call } = await buildTestApp()
    const { apiKey } = await createTenant(call)
    const reasons = new Map<string, string>()
    const traffic = await prepareTraffic({
      base: 'http://localhost',
      apiKey,
      seed: 3,
      errorShare: 0.3,
      fetch: (request) => app.handle(request),
      onResult: (label, status, _ms, reason) => {
        if (reason) reasons.set(`${label} ${status}`, reason)
      },
    })
    for (let i = 0; i < 150; i++) await traffic.oneAction()
    expect(reasons.get('pay tok_declined 402')).toMatch(/^PAYMENT_DECLINED: /)
    expect(reasons.get('pay tok_error 502')).toMatch(/^PROVIDER_ERROR: /)
    for (const reason of reasons.values()) expect(reason).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/)
  })

  test('the URL defaults to localhost on PORT, as the server reads it', () => {
    expect(defaultBaseUrl({})).toBe('http://localhost:3000')
    expect(defaultBaseUrl({ PORT: '' })).toBe('http://localhost:3000')
    expect(defaultBaseUrl({ PORT: '3901' })).toBe('http://localhost:3901')
  })

  test('shares of errors and declines that cannot be shares of payments exit 2 with one line, before any request', async () => {
    for (const args of [
      ['--error-share=-0.1'],
      ['--decline-share', 'x'],
      ['--error-share', '0.6', '--decline-share', '0.5'],
    ]) {
      const proc = Bun.spawn(['bun', 'scripts/demo-traffic.ts', ...args], {
        env: { ...process.env, PORT: '1', API_KEY: 'ck_unused' },
        stdout: 'pipe',
        stderr: 'pipe',
      })
      const [stdout, stderr, code] = await Promise.all([
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
        proc.exited,
      ])
      expect({ args, code, stdout, stderr }).toEqual({
        args,
        code: 2,
        stdout: '',
        stderr: '--error-share and --decline-share must be shares from 0 to 1 that add up to at most 1\n',
      })
    }
  })

  test('with nothing listening it exits 2 with one line naming the URL it tried, no stack trace', async () => {
    const port = await closedPort()
    const { code, stdout, stderr } = await runToExit(['bun', 'scripts/demo-traffic.ts', '--duration', '1'], {
      PORT: String(port),
      API_KEY: 'ck_unused',
    })
    expect(code).toBe(2)
    expect(stdout).toBe('')
    const lines = stderr.trim().split('\n')
    expect(lines.length).toBe(1)
    expect(lines[0]).toStartWith(`demo:traffic: nothing answered at http://localhost:${port} (`)
    expect(lines[0]).toEndWith('; start `bun run dev` first, or give its port (PORT=…) or --url')
  })
})
