import { describe, expect, test } from 'bun:test'
import { buildTestApp } from '../helpers/app.ts'
import { createProduct, createTenant } from '../helpers/commerce.ts'

describe('security headers and CORS', () => {
  const STRICT = {
    nosniff: 'nosniff',
    frame: 'DENY',
    referrer: 'no-referrer',
    cache: 'no-store',
    csp: "default-src 'none'; frame-ancestors 'none'",
  }
  const securityOf = (res: Response) => ({
    nosniff: res.headers.get('x-content-type-options'),
    frame: res.headers.get('x-frame-options'),
    referrer: res.headers.get('referrer-policy'),
    cache: res.headers.get('cache-control'),
    csp: res.headers.get('content-security-policy'),
  })

  // One request per way a response leaves the app: the plain-JSON 200 that the last
  // mapResponse hook builds itself, and every response Elysia builds from `set`.
  test('every response, whichever way it is built, carries the security headers and its request id', async () => {
    const { call } = await buildTestApp()
    const tenant = await createTenant(call, 'Headers shop')
    const product = await createProduct(call, tenant.apiKey)
    const mug = {
      method: 'POST',
      token: tenant.apiKey,
      headers: { 'idempotency-key': 'hdr-1' },
      json: { name: 'Mug', priceMinor: 1, currency: 'KES' },
    }
    const cases: Array<[string, string, RequestInit & { json?: unknown; token?: string }, number]> = [
      ['plain JSON, status 200', '/health', {}, 200],
      ['HEAD of a plain-JSON route (Elysia rebuilds the Response)', '/health', { method: 'HEAD' }, 200],
      ['plain JSON array', '/products', { token: tenant.apiKey }, 200],
      [
        'status(201, …)',
        '/products',
        { method: 'POST', token: tenant.apiKey, json: { name: 'Cup', priceMinor: 1, currency: 'KES' } },
        201,
      ],
      ['first request under an Idempotency-Key', '/products', mug, 201],
      ['its replay (a stored Response)', '/products', mug, 201],
      ['no such route (404)', '/no/such/route', {}, 404],
      ['unauthenticated (401)', '/tenants/me', {}, 401],
      [
        'validation (422)',
        `/products/${product.id}`,
        { method: 'PATCH', token: tenant.apiKey, json: { priceMinor: -1 } },
        422,
      ],
      [
        'malformed body (400)',
        '/products',
        { method: 'POST', token: tenant.apiKey, headers: { 'content-type': 'application/json' }, body: '{' },
        400,
      ],
      ['text body (metrics)', '/metrics', {}, 200],
    ]
    const seen: unknown[] = []
    for (const [name, path, init, status] of cases) {
      const requestId = `rid-${seen.length}`
      const res = await call(path, {
        ...init,
        headers: { ...(init.headers as object), 'x-request-id': requestId },
      })
      seen.push({
        name,
        status: res.status,
        requestId: res.headers.get('x-request-id'),
        type: res.headers.get('content-type'),
        ...securityOf(res),
      })
      // One content type for every JSON answer, success or error envelope.
      const type = path === '/metrics' ? 'text/plain; version=0.0.4; charset=utf-8' : 'application/json'
      expect(seen.at(-1)).toEqual({ name, status, requestId, type, ...STRICT })
    }
    // The replayed response is marked as such and still carries this request's id.
    const replayed = await call('/products', {
      ...mug,
      headers: { ...mug.headers, 'x-request-id': 'rid-replay' },
    })
    expect([replayed.headers.get('idempotent-replayed'), replayed.headers.get('x-request-id')]).toEqual([
      'true',
      'rid-replay',
    ])
  })

  test('the JSON response built by the hook has the body, type and headers Elysia would send', async () => {
    const { call } = await buildTestApp()
    const res = await call('/health', { headers: { 'x-request-id': 'rid-exact' } })
    const body = await res.text()
    expect(JSON.parse(body)).toMatchObject({ status: 'ok' })
    expect([...res.headers.keys()].sort()).toEqual(
      [
        'cache-control',
        'content-security-policy',
        'content-type',
        'referrer-policy',
        'x-content-type-options',
        'x-frame-options',
        'x-request-id',
      ].sort(),
    )
    expect(res.headers.get('content-type')).toBe('application/json')
  })

  test('each response keeps its own request id (the shared headers are copied, not referenced)', async () => {
    const { app } = await buildTestApp()
    // Both responses exist before either is read: a Response that referenced the plugin's
    // Headers would show the second id on the first.
    const first = await app.handle(
      new Request('http://localhost/health', { headers: { 'x-request-id': 'first' } }),
    )
    const second = await app.handle(
      new Request('http://localhost/health', { headers: { 'x-request-id': 'second' } }),
    )
    const generated = await app.handle(new Request('http://localhost/health'))
    expect([first.headers.get('x-request-id'), second.headers.get('x-request-id')]).toEqual([
      'first',
      'second',
    ])
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })

  test('the docs page keeps its own content security policy and gets the other headers', async () => {
    const { call } = await buildTestApp()
    const res = await call('/swagger', { headers: { 'x-request-id': 'rid-docs' } })
    expect(res.status).toBe(200)
    const { csp, ...rest } = securityOf(res)
    const { csp: strictCsp, ...strictRest } = STRICT
    expect(rest).toEqual(strictRest)
    expect(csp).not.toBe(strictCsp)
    expect(csp).toContain("frame-ancestors 'none'")
    expect(res.headers.get('x-request-id')).toBe('rid-docs')
  })

  test('CORS is off unless configured: no CORS headers, preflight not answered', async () => {
    const { call } = await buildTestApp()
    const res = await call('/health', { headers: { origin: 'https://evil.example' } })
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
    const preflight = await call('/orders', {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    })
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull()
    // No route answers OPTIONS: a 405 naming the methods /orders does answer.
    expect([preflight.status, preflight.headers.get('allow')]).toEqual([405, 'GET, HEAD, POST'])
  })

  test('configured origins are allowed, others are not', async () => {
    const { call } = await buildTestApp({ env: { CORS_ORIGINS: 'https://shop.example' } })
    const allowed = await call('/health', { headers: { origin: 'https://shop.example' } })
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://shop.example')
    const preflight = await call('/orders', {
      method: 'OPTIONS',
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST')
    // Answered from an onRequest hook, before any mapResponse hook: the headers still come.
    expect({ ...securityOf(preflight), requestId: preflight.headers.get('x-request-id') }).toEqual({
      ...STRICT,
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    })
    const denied = await call('/health', { headers: { origin: 'https://evil.example' } })
    expect(denied.headers.get('access-control-allow-origin')).toBeNull()
  })
})
