import { describe, expect, test } from 'bun:test'
import { Elysia, t } from 'elysia'
import { createLogger } from '../../src/core/logger.ts'
import { openPostgres } from '../../src/db/postgres.ts'
import { createHttpClient } from '../../src/http/outbound.ts'
import { pickRequestId, requestState } from '../../src/http/request-context.ts'
import { buildTestApp } from '../helpers/app.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** The real app plus a few probe routes that exercise the shared plumbing. */
async function appWithProbes(env: Record<string, string> = {}) {
  const built = await buildTestApp({ env })
  built.app.use(
    new Elysia()
      .post('/probe/echo', ({ body }) => body, {
        body: t.Object(
          { name: t.String({ maxLength: 10 }), qty: t.Integer({ minimum: 1 }) },
          { additionalProperties: false },
        ),
      })
      .get('/probe/boom', () => {
        throw new Error('secret internals at /srv/app.ts:12')
      })
      .get('/probe/log', ({ request }) => {
        requestState(request)!.log.info('inside the handler')
        return { ok: true }
      })
      .get('/probe/tenant', ({ request, query }) => {
        const state = requestState(request)!
        if (query.early) state.log.info('before the tenant')
        state.tenantId = 'tenant-1'
        state.log.info('with the tenant')
        state.log.info('again')
        return { ok: true }
      }),
  )
  return built
}

describe('request id', () => {
  test('an incoming safe id is echoed and on every log line of the request', async () => {
    const { call, logs } = await appWithProbes()
    const res = await call('/probe/log', { headers: { 'x-request-id': 'abc-123.x:y_z' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-request-id')).toBe('abc-123.x:y_z')
    const lines = logs.lines.filter((l) => l.requestId === 'abc-123.x:y_z')
    expect(lines.map((l) => l.msg)).toEqual(['inside the handler', 'request'])
    expect(lines[1]).toMatchObject({ method: 'GET', route: '/probe/log', status: 200, level: 'info' })
    expect(typeof lines[1]!.durationMs).toBe('number')
  })

  test.each([
    ['made after the tenant is known', '', ['with the tenant', 'again']],
    ['made before the tenant is known', '?early=1', ['before the tenant', 'with the tenant', 'again']],
  ])('the request logger %s carries the tenant from then on', async (_name, query, messages) => {
    const { call, logs } = await appWithProbes()
    await call(`/probe/tenant${query}`, { headers: { 'x-request-id': 'tenant-probe' } })
    const lines = logs.lines.filter((l) => l.requestId === 'tenant-probe' && l.msg !== 'request')
    expect(lines.map((l) => [l.msg, l.tenantId ?? null, typeof l.trace_id])).toEqual(
      messages.map((msg) => [msg, msg === 'before the tenant' ? null : 'tenant-1', 'string']),
    )
    // A child bound twice would repeat the key in the line's JSON (JSON.parse keeps the last).
    const keyCounts = logs
      .text()
      .split('\n')
      .filter((raw) => raw.includes('"tenant-probe"'))
      .map((raw) => raw.match(/"tenantId"/g)?.length ?? 0)
    // The handler's lines, then the access line (which carries the tenant too).
    expect(keyCounts).toEqual([...messages.map((msg) => (msg === 'before the tenant' ? 0 : 1)), 1])
  })

  test('a missing id is generated as a UUID', async () => {
    const { call } = await appWithProbes()
    const res = await call('/health')
    expect(res.headers.get('x-request-id')).toMatch(UUID)
  })

  test.each([
    '',
    'a'.repeat(129),
    'has space',
    'semi;colon',
    'new\u00e9line',
    '<script>',
    // A phone number (a bot's wa_id) would reach error bodies, logs and exemplars.
    'wa-254711000200',
    '254711000200',
    'msg:+254711000200:retry',
    'order.5511987654321',
    // The same, glued to a word or written with separators, as the scrubber finds them.
    'customer254711000200',
    'wa254711000200',
    'wa_254711000200',
    'msg0711000200',
    '254-711-000-200',
    'wa-254-711-000-200',
    '2547-1100-0200',
    'tel.254.711.000.200',
    '0711.000.200',
    '+1.415.555.0100',
    'call:1.415.555.0100',
    // Glued to a letter after it: an extension, or inside a word.
    '254711000200x',
    'tel254711000200abc',
    'wa-254711000200abc',
    // A credential: the service's own API key, another known key shape, a token in key:value form.
    `ck_${'Ab1-'.repeat(10)}xyz`,
    'sk_live_51HqK2xAbCdEfGh9876',
    'token:adm1n-t0ken-5ecret',
    // A payment card number (Luhn-valid), whole, grouped or after a word: scrubText makes it `[card]`.
    '4242424242424242',
    '4242-4242-4242-4242',
    'card-5555555555554444',
    'pay:4000056655665556',
  ])('an unsafe id %p is replaced', (incoming) => {
    expect(pickRequestId(incoming, () => 'fresh')).toBe('fresh')
  })

  test.each([
    'd5bd53e3-f27b-4467-8608-254711000200',
    '3f9a1c7e0b2d48e6a5c4b3d2e1f00123',
    '0a1b2c3d45678901234567e',
    'req-1234567',
    '1-5759e988-bd862e3fe1be46a994272793',
    'checkout-token-refresh',
    // Epoch milliseconds and hex ids are no phone numbers.
    'req-1733440000000',
    'span-00f067aa0ba902b7',
    'ck_short',
    // Grouped digits too few for a phone number, and a long hex word with digit runs.
    'batch-12-34-56',
    'v1.2.3',
    'f00d1234567890',
    'xray-1-5759e988-bd862e3fe1be46a994272793',
    // A number with its unit.
    '254711000200ms',
  ])('a safe id %p is kept', (incoming) => {
    expect(pickRequestId(incoming, () => 'fresh')).toBe(incoming)
  })

  test.each([
    // 16 digits that fail the Luhn check are no card (and too many for a phone number).
    '4242424242424241',
    // Glued to a letter, the run is part of a word, as in a hex id.
    'ab4242424242424242cd',
  ])('a card-like id %p the scrubber keeps is kept', (incoming) => {
    expect(pickRequestId(incoming, () => 'fresh')).toBe(incoming)
  })

  test('a card number sent as the id is neither echoed nor logged', async () => {
    const { call, logs } = await appWithProbes()
    const res = await call('/probe/log', { headers: { 'x-request-id': '4242424242424242' } })
    expect(res.status).toBe(200)
    const echoed = res.headers.get('x-request-id')
    expect(echoed).toMatch(UUID)
    expect(logs.lines.filter((l) => l.requestId === echoed).map((l) => l.msg)).toEqual([
      'inside the handler',
      'request',
    ])
    expect(logs.text()).not.toContain('4242424242424242')
  })

  test('an unsafe header is replaced in the response too', async () => {
    const { call } = await appWithProbes()
    const res = await call('/health', { headers: { 'x-request-id': 'x'.repeat(200) } })
    expect(res.headers.get('x-request-id')).toMatch(UUID)
  })

  test('outbound calls carry the request id', async () => {
    const seen: Array<string | null> = []
    const upstream = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch(req) {
        seen.push(req.headers.get('x-request-id'))
        return new Response('ok')
      },
    })
    try {
      const http = createHttpClient(fetch)
      await http(`http://127.0.0.1:${upstream.port}/x`, { requestId: 'req-42' })
      expect(seen).toEqual(['req-42'])
    } finally {
      upstream.stop(true)
    }
  })
})

describe('error envelope', () => {
  const envelope = (code: string) => ({
    error: expect.objectContaining({ code, message: expect.any(String), requestId: expect.any(String) }),
  })

  test('404 for unknown routes', async () => {
    const { call } = await appWithProbes()
    const res = await call('/no/such/route', { headers: { 'x-request-id': 'rid-404' } })
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({
      error: { code: 'NOT_FOUND', message: 'Route not found', requestId: 'rid-404' },
    })
  })

  test('405 with Allow for a served path asked with another method; 404 stays for unknown paths', async () => {
    const { call, logs } = await appWithProbes()
    const cases: Array<[string, string, number, string | null]> = [
      ['DELETE', '/products', 405, 'GET, HEAD, POST'],
      ['PUT', '/products/2b6f0cc0-0000-4000-8000-000000000000', 405, 'GET, HEAD, PATCH'],
      ['POST', '/health/', 405, 'GET, HEAD'],
      // A probe route mounted after createApp returned counts too.
      ['PATCH', '/probe/echo', 405, 'POST'],
      ['GET', '/products/1/extra', 404, null],
      ['DELETE', '/no/such/route', 404, null],
    ]
    for (const [method, path, status, allow] of cases) {
      const res = await call(path, { method, headers: { 'x-request-id': 'rid-405' } })
      expect([method, path, res.status, res.headers.get('allow')]).toEqual([method, path, status, allow])
      const body = await res.json()
      if (allow === null) expect(body.error.code).toBe('NOT_FOUND')
      else {
        expect(body).toEqual({
          error: {
            code: 'METHOD_NOT_ALLOWED',
            message: `Method not allowed on this path; it answers ${allow}`,
            details: { allow: allow.split(', ') },
            requestId: 'rid-405',
          },
        })
      }
    }
    // Still an unmatched request for the access log: no route template for a path asked wrongly.
    expect(logs.lines.filter((l) => l.msg === 'request').map((l) => [l.method, l.route, l.status])).toEqual(
      cases.map(([method, , status]) => [method, '<unmatched>', status]),
    )
  })

  test('400 INVALID_JSON for malformed JSON and empty bodies', async () => {
    const { call } = await appWithProbes()
    for (const body of ['{"name":', '']) {
      const res = await call('/probe/echo', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      })
      expect(res.status).toBe(400)
      expect(await res.json()).toEqual(envelope('INVALID_JSON'))
    }
  })

  test.each([
    'gzip',
    'br',
    'GZIP',
    'deflate, gzip',
  ])('415 for a JSON body with content-encoding %s, saying to send it uncompressed', async (coding) => {
    const { call } = await appWithProbes()
    const json = '{"name":"x","qty":1}'
    const body = coding === 'br' ? json : Bun.gzipSync(new TextEncoder().encode(json))
    const res = await call('/probe/echo', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'content-encoding': coding },
    })
    expect(res.status).toBe(415)
    expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: 'Request body must be sent uncompressed: no content-encoding is accepted',
    })
    const plain = await call('/probe/echo', {
      method: 'POST',
      body: json,
      headers: { 'content-type': 'application/json', 'content-encoding': 'identity' },
    })
    expect({ status: plain.status, body: await plain.json() }).toEqual({
      status: 200,
      body: { name: 'x', qty: 1 },
    })
  })

  // A form is curl -d's default: the message names the header to add.
  test.each([
    ['name=x', 'text/plain'],
    ['{"name":"x"}', 'application/x-www-form-urlencoded'],
  ])('415 for a body sent as something other than JSON (%s as %s), naming the header to add', async (body, type) => {
    const { call } = await appWithProbes()
    const res = await call('/probe/echo', { method: 'POST', body, headers: { 'content-type': type } })
    expect(res.status).toBe(415)
    expect(await res.json()).toEqual({
      error: {
        code: 'UNSUPPORTED_MEDIA_TYPE',
        message: 'Request body must be JSON: send it with the header content-type: application/json',
        requestId: expect.any(String),
      },
    })
  })

  test('422 VALIDATION names the field, for wrong types, missing and unknown fields', async () => {
    const { call } = await appWithProbes()
    const cases: Array<[unknown, string]> = [
      [{ name: 'a', qty: 'x' }, 'qty'],
      [{ name: 'a', qty: 1.5 }, 'qty'],
      [{ qty: 1 }, 'name'],
      [{ name: 'a', qty: 1, extra: true }, 'extra'],
    ]
    for (const [json, field] of cases) {
      const res = await call('/probe/echo', { method: 'POST', json })
      expect(res.status).toBe(422)
      const body = (await res.json()) as {
        error: { code: string; message: string; details: { errors: Array<{ field: string }> } }
      }
      expect(body.error.code).toBe('VALIDATION')
      expect(body.error.message).toContain(field)
      expect(body.error.details.errors.map((e) => e.field)).toContain(field)
    }
  })

  test('413 PAYLOAD_TOO_LARGE by declared length and by streamed size', async () => {
    const { app, call } = await appWithProbes({ MAX_BODY_BYTES: '64' })
    const big = JSON.stringify({ name: 'x'.repeat(100), qty: 1 })
    const declared = await call('/probe/echo', {
      method: 'POST',
      body: big,
      headers: { 'content-type': 'application/json' },
    })
    expect(declared.status).toBe(413)
    expect(await declared.json()).toEqual(envelope('PAYLOAD_TOO_LARGE'))
    // A chunked body with no content-length is cut off once it passes the limit.
    let pulled = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++
        if (pulled > 1000) return controller.close()
        controller.enqueue(new TextEncoder().encode('x'.repeat(50)))
      },
    })
    const streamed = await app.handle(
      new Request('http://localhost/probe/echo', {
        method: 'POST',
        body: stream,
        headers: { 'content-type': 'application/json' },
        duplex: 'half',
      } as RequestInit),
    )
    expect(streamed.status).toBe(413)
    expect(pulled).toBeLessThan(10)
  })

  test('500 INTERNAL hides the error and logs it', async () => {
    const { call, logs } = await appWithProbes()
    const res = await call('/probe/boom', { headers: { 'x-request-id': 'rid-500' } })
    expect(res.status).toBe(500)
    const text = await res.text()
    expect(JSON.parse(text)).toEqual({
      error: { code: 'INTERNAL', message: 'Internal server error', requestId: 'rid-500' },
    })
    expect(text).not.toContain('secret')
    const errorLine = logs.lines.find((l) => l.requestId === 'rid-500' && l.level === 'error')
    expect(errorLine).toMatchObject({ msg: 'request failed', status: 500 })
  })

  test('503 UNAVAILABLE when the database is unreachable', async () => {
    const quiet = createLogger({ level: 'silent', pretty: false })
    const database = openPostgres(
      { url: 'postgres://postgres@127.0.0.1:1/none', poolSize: 1, connectTimeoutMs: 500 },
      quiet,
    )
    const { app, call } = await buildTestApp({ database })
    app.get('/probe/query', async () => {
      await database.db.execute('select 1' as never)
      return { ok: true }
    })
    const res = await call('/probe/query')
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual(envelope('UNAVAILABLE'))
    await database.close()
  })
})

describe('health', () => {
  test('/health is ok', async () => {
    const { call } = await appWithProbes()
    const res = await call('/health')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok' })
  })

  test('/health/db is ok on a working database', async () => {
    const { call } = await appWithProbes()
    const res = await call('/health/db')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok', database: 'connected' })
  })

  test('/health/db answers 503 with a short reason when the database is unreachable', async () => {
    const quiet = createLogger({ level: 'silent', pretty: false })
    const database = openPostgres(
      { url: 'postgres://admin:hunter2@127.0.0.1:1/none', poolSize: 1, connectTimeoutMs: 500 },
      quiet,
    )
    const { call } = await buildTestApp({ database })
    const res = await call('/health/db')
    expect(res.status).toBe(503)
    const text = await res.text()
    expect(JSON.parse(text)).toEqual({ status: 'error', database: 'unreachable' })
    expect(text).not.toMatch(/hunter2|admin|127\.0\.0\.1/)
    await database.close()
  })
})
