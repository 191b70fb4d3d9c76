import { describe, expect, test } from 'bun:test'
import { Elysia } from 'elysia'
import { type AuthenticatedTenant, adminAuth, bearerAuth, tenantAuth } from '../../src/auth/plugin.ts'
import { errorEnvelope } from '../../src/http/error-envelope.ts'
import { requestContext, requestState } from '../../src/http/request-context.ts'
import { captureLogs } from '../helpers/logs.ts'

const KEY = 'ck_the-one-valid-key'
const SHOP: AuthenticatedTenant = { id: '7d1f3a52-0000-4000-8000-000000000001', name: 'Shop' }

/** The plugins as the real routes use them: a feature instance `.use()`s the guard, then declares routes. */
function harness() {
  const logs = captureLogs()
  const asked: string[] = []
  const tenants = {
    async authenticate(apiKey: string) {
      asked.push(apiKey)
      return apiKey === KEY ? SHOP : undefined
    },
  }
  const feature = new Elysia({ prefix: '/shop' })
    .use(tenantAuth(tenants))
    .get('/me', ({ tenant, request }) => {
      requestState(request)!.log.info('served')
      return { tenant, stateTenantId: requestState(request)?.tenantId ?? null }
    })
  const guarded = (plugin: ReturnType<typeof bearerAuth>, prefix: string) =>
    new Elysia({ prefix }).use(plugin).post('/', () => ({ ok: true }))
  const app = new Elysia()
    .use(requestContext({ log: logs.log, maxBodyBytes: 1024, newId: () => 'req-1', now: () => 0 }))
    .use(errorEnvelope({ log: logs.log }))
    .use(feature)
    .use(guarded(bearerAuth('Receiver', 'rcv-secret-0123', 'RECEIVER_TOKEN'), '/receiver'))
    .use(guarded(bearerAuth('Closed', undefined, 'CLOSED_TOKEN'), '/closed'))
    .use(guarded(adminAuth('adm-secret-0123'), '/admin'))
    .use(guarded(adminAuth(undefined), '/admin-off'))
  const call = async (method: string, path: string, authorization?: string) => {
    const headers = new Headers({ 'content-type': 'application/json' })
    if (authorization !== undefined) headers.set('authorization', authorization)
    const res = await app.handle(
      new Request(`http://localhost${path}`, { method, headers, body: method === 'GET' ? undefined : '{}' }),
    )
    return {
      status: res.status,
      challenge: res.headers.get('www-authenticate'),
      body: (await res.json()) as Record<string, unknown>,
    }
  }
  return { app, call, asked, logs }
}

const envelope = (code: string, message: string) => ({ error: { code, message, requestId: 'req-1' } })

describe('tenantAuth', () => {
  test('a valid key gives the route its tenant, tags the request state and the request logger', async () => {
    const { call, asked, logs } = harness()
    expect(await call('GET', '/shop/me', `Bearer ${KEY}`)).toEqual({
      status: 200,
      challenge: null,
      body: { tenant: SHOP, stateTenantId: SHOP.id },
    })
    expect(asked).toEqual([KEY])
    const served = logs.lines.filter((line) => line.msg === 'served')
    expect(served.map((line) => ({ tenantId: line.tenantId, requestId: line.requestId }))).toEqual([
      { tenantId: SHOP.id, requestId: 'req-1' },
    ])
  })

  const MISSING = 'Missing API key: send the header Authorization: Bearer <API key>'
  const MALFORMED = 'Malformed Authorization header: expected Bearer <API key>'
  const UNKNOWN =
    "Invalid API key: no shop has this key; a shop's key is the apiKey POST /tenants answered (bun run dev keeps the demo shop's in DATA_DIR/demo-tenant.json)"
  test.each([
    ['no header', undefined, [], MISSING],
    ['an empty header', '', [], MISSING],
    [
      'Bearer and no token (the key variable was empty)',
      'Bearer ',
      [],
      'Missing API key: the Authorization header holds Bearer and no token after it',
    ],
    ['a header that is not Bearer', `Basic ${KEY}`, [], MALFORMED],
    ['the bare key, without Bearer', KEY, [], MALFORMED],
    ['an unknown key', 'Bearer ck_someone-else', ['ck_someone-else'], UNKNOWN],
  ])('%s is a 401 envelope saying what to send, with a Bearer challenge; the store is asked only for a token', async (_name, header, asks, message) => {
    const { call, asked } = harness()
    const answer = await call('GET', '/shop/me', header)
    expect(answer).toEqual({
      status: 401,
      challenge: 'Bearer realm="api"',
      body: envelope('UNAUTHORIZED', message),
    })
    expect(JSON.stringify(answer)).not.toContain(KEY)
    expect(asked).toEqual(asks)
  })

  test('an API key sent as x-api-key (no Authorization header) is told to use Authorization: Bearer', async () => {
    const { app } = harness()
    const res = await app.handle(new Request('http://localhost/shop/me', { headers: { 'x-api-key': KEY } }))
    expect(res.status).toBe(401)
    expect(await res.json()).toEqual(envelope('UNAUTHORIZED', MISSING))
  })
})

describe('bearerAuth and adminAuth', () => {
  test.each([
    ['/receiver', 'Bearer rcv-secret-0123'],
    ['/admin', 'Bearer adm-secret-0123'],
  ])('%s lets the configured token through', async (path, header) => {
    expect(await harness().call('POST', path, header)).toEqual({
      status: 200,
      challenge: null,
      body: { ok: true },
    })
  })

  test.each([
    [
      '/receiver',
      undefined,
      'Missing Receiver token: send the header Authorization: Bearer <RECEIVER_TOKEN>',
      'Bearer realm="Receiver"',
    ],
    [
      '/receiver',
      'Bearer rcv-secret-0124',
      'Invalid Receiver token: it is not RECEIVER_TOKEN',
      'Bearer realm="Receiver"',
    ],
    [
      '/receiver',
      'Bearer adm-secret-0123',
      'Invalid Receiver token: it is not RECEIVER_TOKEN',
      'Bearer realm="Receiver"',
    ],
    [
      '/receiver',
      'Basic rcv-secret-0123',
      'Malformed Authorization header: expected Bearer <RECEIVER_TOKEN>',
      'Bearer realm="Receiver"',
    ],
    [
      '/admin',
      undefined,
      'Missing admin token: send the header Authorization: Bearer <ADMIN_TOKEN>',
      'Bearer realm="admin"',
    ],
    [
      '/admin',
      'Bearer',
      'Missing admin token: the Authorization header holds Bearer and no token after it',
      'Bearer realm="admin"',
    ],
    [
      '/admin',
      'Bearer rcv-secret-0123',
      'Invalid admin token: it is not ADMIN_TOKEN',
      'Bearer realm="admin"',
    ],
  ])('%s with %p is a 401 naming the guard, with its Bearer challenge', async (path, header, message, challenge) => {
    expect(await harness().call('POST', path, header)).toEqual({
      status: 401,
      challenge,
      body: envelope('UNAUTHORIZED', message),
    })
  })

  // "undefined" is what an unset token would hash as if the guard compared against it.
  test.each([
    ['/closed', 'Closed is disabled: CLOSED_TOKEN is not configured'],
    ['/admin-off', 'admin is disabled: ADMIN_TOKEN is not configured'],
  ])('%s with no token configured is closed (403) to every credential', async (path, message) => {
    const { call } = harness()
    for (const header of [undefined, 'Bearer undefined', 'Bearer anything-at-all']) {
      expect(await call('POST', path, header)).toEqual({
        status: 403,
        challenge: null,
        body: envelope('FORBIDDEN', message),
      })
    }
  })
})
