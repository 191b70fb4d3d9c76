import { describe, expect, test } from 'bun:test'
import { buildTestApp } from '../helpers/app.ts'

describe('security headers and CORS', () => {
  test('every response, errors included, carries the security headers', async () => {
    const { call } = await buildTestApp()
    for (const path of ['/health', '/no/such/route', '/tenants/me']) {
      const res = await call(path)
      expect({
        path,
        nosniff: res.headers.get('x-content-type-options'),
        frame: res.headers.get('x-frame-options'),
        referrer: res.headers.get('referrer-policy'),
        cache: res.headers.get('cache-control'),
        csp: res.headers.get('content-security-policy'),
      }).toEqual({
        path,
        nosniff: 'nosniff',
        frame: 'DENY',
        referrer: 'no-referrer',
        cache: 'no-store',
        csp: "default-src 'none'; frame-ancestors 'none'",
      })
    }
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
    expect(preflight.status).toBe(404)
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
    const denied = await call('/health', { headers: { origin: 'https://evil.example' } })
    expect(denied.headers.get('access-control-allow-origin')).toBeNull()
  })
})
