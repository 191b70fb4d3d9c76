/**
 * Query strings gain parameters on the way (proxies, `utm_*` tracking, Meta's own additions):
 * a route ignores the parameters it does not declare and still validates the ones it does.
 */
import { describe, expect, test } from 'bun:test'
import { ADMIN_TOKEN, buildTestApp } from '../helpers/app.ts'
import { createTenant } from '../helpers/commerce.ts'

const VERIFY_TOKEN = 'verify-token-0123456789'
const HANDSHAKE = `hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`

describe('unknown query parameters are ignored, known ones still validated', () => {
  test('the WhatsApp handshake with a parameter Meta or a proxy added answers the challenge', async () => {
    const { call, logs } = await buildTestApp({ env: { WHATSAPP_VERIFY_TOKEN: VERIFY_TOKEN } })
    const res = await call(`/webhooks/whatsapp?${HANDSHAKE}&hub.foo=1&utm_source=meta&utm_source=again`, {
      headers: { 'x-request-id': 'handshake-1' },
    })
    expect([res.status, res.headers.get('content-type'), await res.text()]).toEqual([
      200,
      'text/plain; charset=utf-8',
      '1158201444',
    ])
    const line = logs.lines.find((l) => l.msg === 'request' && l.requestId === 'handshake-1')
    expect([line?.route, line?.status]).toEqual(['/webhooks/whatsapp', 200])
    // A declared parameter is still checked: a challenge over 200 characters, given twice.
    const long = await call(
      `/webhooks/whatsapp?${HANDSHAKE.replace('1158201444', 'x'.repeat(201))}&utm_source=x`,
      {
        headers: { 'x-request-id': 'handshake-2' },
      },
    )
    expect([long.status, await long.json()]).toEqual([
      422,
      {
        error: {
          code: 'VALIDATION',
          message: 'Invalid query: hub.challenge — Expected string length less or equal to 200',
          details: {
            in: 'query',
            errors: [{ field: 'hub.challenge', message: 'Expected string length less or equal to 200' }],
          },
          requestId: 'handshake-2',
        },
      },
    ])
  })

  test('a commerce list ignores a tracking parameter and validates its own', async () => {
    const { call } = await buildTestApp()
    const tenant = await createTenant(call, 'Query shop')
    const listed = await call('/orders?utm_source=newsletter&limit=5', { token: tenant.apiKey })
    expect([listed.status, await listed.json()]).toEqual([200, { items: [], nextCursor: null }])
    const bad = await call('/products?utm_source=newsletter&limit=0', {
      token: tenant.apiKey,
      headers: { 'x-request-id': 'list-bad' },
    })
    expect([bad.status, ((await bad.json()) as { error: { message: string } }).error.message]).toEqual([
      422,
      'Invalid query: limit — Expected integer to be greater or equal to 1',
    ])
    const rules = await call('/alerts/rules?type=alert&cache_bust=1', { token: ADMIN_TOKEN })
    expect([rules.status, await rules.json()]).toEqual([200, { status: 'success', data: { groups: [] } }])
  })

  test('every mounted route with a query schema lets undeclared parameters through', async () => {
    const { app } = await buildTestApp()
    const strict = (
      app.routes as Array<{
        method: string
        path: string
        hooks?: { query?: { additionalProperties?: unknown } }
      }>
    )
      .filter((route) => route.hooks?.query !== undefined)
      .map((route) => [`${route.method} ${route.path}`, route.hooks!.query!.additionalProperties])
    expect(strict.length).toBeGreaterThanOrEqual(5)
    expect(strict.filter(([, additional]) => additional !== true)).toEqual([])
  })

  test('the OpenAPI document still describes the declared query parameters, and no others', async () => {
    const { call } = await buildTestApp({ env: { WHATSAPP_VERIFY_TOKEN: VERIFY_TOKEN } })
    // After traffic as before: the document must not change with requests (openapi-traffic.test.ts).
    await call(`/webhooks/whatsapp?${HANDSHAKE}&utm_source=x`)
    const doc = (await (await call('/swagger/json')).json()) as {
      paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string }> }>>
    }
    const queryOf = (path: string, method: string) =>
      (doc.paths[path]![method]!.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name)
    // hub.verify_token is the operation's apiKey credential, described under security.
    expect(queryOf('/webhooks/whatsapp', 'get')).toEqual(['hub.mode', 'hub.challenge'])
    expect(queryOf('/orders', 'get')).toEqual(['limit', 'cursor', 'status', 'channel'])
    expect(queryOf('/products', 'get')).toEqual(['limit', 'cursor'])
    expect(queryOf('/products/{id}', 'get')).toEqual(['channel'])
    expect(queryOf('/alerts/rules', 'get')).toEqual(['type'])
  })
})
