/**
 * Input a newcomer's first hour produced that the service answered with a 500, a stalled
 * event loop or a message naming no field: each kind refused with a clear 4xx in the common
 * error shape, writing nothing.
 */
import { describe, expect, test } from 'bun:test'
import { DrizzleQueryError } from 'drizzle-orm/errors'
import { Elysia } from 'elysia'
import { errorEnvelope } from '../../src/http/error-envelope.ts'
import { jsonNestingExceeds, MAX_JSON_DEPTH, unstorableTextPath } from '../../src/http/json-body.ts'
import { requestContext } from '../../src/http/request-context.ts'
import { ADMIN_TOKEN, buildTestApp } from '../helpers/app.ts'
import {
  createProduct,
  createTenant,
  expectRejectedWritingNothing,
  tenantFootprint,
  testPhone,
} from '../helpers/commerce.ts'
import { captureLogs } from '../helpers/logs.ts'

type Envelope = { error: { code: string; message: string; details?: unknown; requestId: string } }

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`

describe('JSON nesting', () => {
  test('jsonNestingExceeds counts arrays and objects, not brackets inside strings', () => {
    expect(jsonNestingExceeds(nested(100), 100)).toBe(false)
    expect(jsonNestingExceeds(nested(101), 100)).toBe(true)
    expect(jsonNestingExceeds(`{"a":${nested(99)}}`, 100)).toBe(false)
    expect(jsonNestingExceeds(`{"a":${nested(100)}}`, 100)).toBe(true)
    // 300 brackets and escaped quotes inside one string: depth 1.
    expect(jsonNestingExceeds(`["\\"${'['.repeat(300)}\\\\"]`, 100)).toBe(false)
    expect(jsonNestingExceeds(`["\\"${'['.repeat(300)}\\\\", ${nested(100)}]`, 100)).toBe(true)
  })

  test('a body nested 100 000 deep is a fast 400 that writes nothing (it was a 500 after 15 s)', async () => {
    const built = await buildTestApp()
    const tenant = await createTenant(built.call)
    const before = await tenantFootprint(built.deps.database.db, tenant.id)
    const body = `{"name":"a","priceMinor":1,"currency":"KES","x":${nested(100_000)}}`
    const res = await built.call('/products', {
      method: 'POST',
      token: tenant.apiKey,
      headers: { 'content-type': 'application/json' },
      body,
    })
    expect(res.status).toBe(400)
    expect(((await res.json()) as Envelope).error).toEqual({
      code: 'INVALID_JSON',
      message: `Request body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`,
      requestId: expect.any(String),
    })
    expect(await tenantFootprint(built.deps.database.db, tenant.id)).toEqual(before)
    expect(built.logs.lines.filter((line) => line.level === 'error')).toEqual([])
  })

  test('nesting up to the bound is parsed and validated as usual', async () => {
    // The body object is level 1, so the unknown field's value may nest 99 more.
    const { res } = await postProductText(
      `{"name":"a","priceMinor":1,"currency":"KES","x":${nested(MAX_JSON_DEPTH - 1)}}`,
    )
    expect(res.status).toBe(422)
    expect(((await res.json()) as Envelope).error.message).toBe('Invalid body: x — unknown field')
  })

  test('an Alertmanager notification nested past the bound is refused the same way', async () => {
    const token = 'alertmanager-token-for-tests'
    const built = await buildTestApp({ env: { ALERTMANAGER_WEBHOOK_TOKEN: token } })
    const res = await built.call('/alerts/alertmanager', {
      method: 'POST',
      token,
      headers: { 'content-type': 'application/json' },
      body: `{"version":"4","alerts":[{"labels":{"alertname":"A"},"annotations":{"x":${nested(100_000)}}}]}`,
    })
    expect(res.status).toBe(400)
    expect(((await res.json()) as Envelope).error.message).toBe(
      `Request body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`,
    )
  })
})

/** A product and an order with `bad` in one text field, and that field's path. */
const bodiesHolding = (bad: string): Array<[string, string, unknown, string]> => [
  ['POST', '/products', { name: `a${bad}b`, priceMinor: 100, currency: 'KES' }, 'name'],
  // Otherwise valid, so that no schema fault is answered first.
  [
    'POST',
    '/orders',
    {
      customer: { phone: '+254733444555', name: `X${bad}` },
      items: [{ productId: '6f1c2a9e-0b7d-4c1e-9a53-2f8d4e6b7c10', quantity: 1 }],
    },
    'customer.name',
  ],
]

/** The body is refused with a 422 naming `field` with `message`, nothing is written, nothing logged as an error. */
async function expectRefused(method: string, path: string, json: unknown, field: string, message: string) {
  const built = await buildTestApp()
  await expectRejectedWritingNothing(built, method, path, json, field, message)
  expect(built.logs.lines.filter((line) => line.level === 'error')).toEqual([])
}

/** A new tenant posts `body`, JSON text written by hand, to POST /products. */
async function postProductText(body: string) {
  const built = await buildTestApp()
  const tenant = await createTenant(built.call)
  const res = await built.call('/products', {
    method: 'POST',
    token: tenant.apiKey,
    headers: { 'content-type': 'application/json' },
    body,
  })
  return { built, tenant, res }
}

describe('the NUL character, which PostgreSQL text cannot store', () => {
  test('unstorableTextPath names the first string or key that holds it', () => {
    const nul = 'Expected text without the NUL character (U+0000)'
    expect(unstorableTextPath({ a: 'ok', b: [{ c: 'x\u0000' }] })).toEqual({ field: 'b.0.c', message: nul })
    expect(unstorableTextPath({ 'k\u0000': 1 })).toEqual({ field: 'k\\u0000', message: nul })
    expect(unstorableTextPath('\u0000')).toEqual({ field: '(body)', message: nul })
    expect(unstorableTextPath({ a: ['\\u0000 as text'] })).toBeUndefined()
  })

  test.each(
    bodiesHolding('\u0000'),
  )('%s %s with U+0000 in %p is a 422 naming the field and writes nothing', async (method, path, json, field) => {
    await expectRefused(method, path, json, field, 'Expected text without the NUL character (U+0000)')
  })

  test('the exact answer, for a tenant name', async () => {
    const built = await buildTestApp()
    const res = await built.call('/tenants', {
      method: 'POST',
      token: ADMIN_TOKEN,
      json: { name: 'Shop\u0000', ownerPhone: testPhone() },
    })
    expect(res.status).toBe(422)
    const { error } = (await res.json()) as Envelope
    // The service's own errors list their fields in the order Elysia's validation errors do.
    expect(Object.keys(error)).toEqual(['code', 'message', 'details', 'requestId'])
    expect(error).toEqual({
      code: 'VALIDATION',
      message: 'Invalid body: name — Expected text without the NUL character (U+0000)',
      details: {
        in: 'body',
        errors: [{ field: 'name', message: 'Expected text without the NUL character (U+0000)' }],
      },
      requestId: expect.any(String),
    })
  })

  test('the text \\u0000 (a backslash and five characters) is stored as sent', async () => {
    const built = await buildTestApp()
    const tenant = await createTenant(built.call)
    const product = await createProduct(built.call, tenant.apiKey, { name: 'tea \\u0000' })
    const res = await built.call(`/products/${product.id}`, { token: tenant.apiKey })
    expect(((await res.json()) as { name: string }).name).toBe('tea \\u0000')
  })

  test('a database refusing text it cannot store is a 422, not a 500', async () => {
    const logs = captureLogs()
    const refused = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), {
      code: '22021',
    })
    const app = new Elysia()
      .use(requestContext({ log: logs.log, maxBodyBytes: 1024, newId: () => 'req-1', now: () => 0 }))
      .use(errorEnvelope({ log: logs.log }))
      .get('/x', () => {
        throw new DrizzleQueryError('select $1', ['+254733444555'], refused)
      })
    const res = await app.handle(new Request('http://localhost/x'))
    expect(res.status).toBe(422)
    expect(await res.json()).toEqual({
      error: {
        code: 'VALIDATION',
        message: 'Invalid input: text with a character the database cannot store (such as U+0000)',
        requestId: 'req-1',
      },
    })
  })
})

describe('unpaired surrogates, which have no UTF-8 form to store', () => {
  const message = 'Expected well-formed Unicode text (an unpaired surrogate cannot be stored)'

  test('unstorableTextPath finds them in strings and keys; pairs are text', () => {
    expect(unstorableTextPath({ a: ['ok', 'x\ud800'] })).toEqual({ field: 'a.1', message })
    expect(unstorableTextPath({ b: { 'k\udc00': 1 } })).toEqual({ field: 'b.k\ufffd', message })
    expect(unstorableTextPath({ a: 'tea \ud83c\udf75' })).toBeUndefined()
  })

  test.each([
    ...bodiesHolding('\ud800'),
    ...bodiesHolding('\udfff'),
  ])('%s %s with one in %p is a 422 naming the field and writes nothing', async (method, path, json, field) => {
    await expectRefused(method, path, json, field, message)
  })

  test('a product name with an emoji (a surrogate pair, escaped or not) is stored as sent', async () => {
    // Written by hand: JSON.stringify would not escape the pair.
    const { built, tenant, res } = await postProductText(
      '{"name":"tea \\ud83c\\udf75 🍵","priceMinor":250,"currency":"KES"}',
    )
    expect(res.status).toBe(201)
    const { id } = (await res.json()) as { id: string }
    const read = await built.call(`/products/${id}`, { token: tenant.apiKey })
    expect(((await read.json()) as { name: string }).name).toBe('tea 🍵 🍵')
  })
})

describe('bytes that are not UTF-8, which JSON must be', () => {
  const encoder = new TextEncoder()
  /** A product body whose name holds `bad` between valid bytes. */
  const productBytes = (bad: number[]) =>
    new Uint8Array([
      ...encoder.encode('{"name":"caf'),
      ...bad,
      ...encoder.encode('","priceMinor":250,"currency":"KES"}'),
    ])
  const refused = {
    code: 'INVALID_JSON',
    message: 'Request body is not UTF-8 text; JSON must be encoded in UTF-8',
    requestId: expect.any(String),
  }

  test.each([
    ['a Latin-1 é', [0xe9]],
    ['a lone continuation byte', [0x80]],
    ['an overlong /', [0xc0, 0xaf]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
    ['a cut four-byte sequence', [0xf0, 0x9f, 0x8d]],
    ['a code point past U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ])('%s is a 400 INVALID_JSON, before the key is looked at, and writes nothing', async (_what, bad) => {
    const built = await buildTestApp()
    const tenant = await createTenant(built.call)
    const before = await tenantFootprint(built.deps.database.db, tenant.id)
    for (const token of [tenant.apiKey, 'not-a-key']) {
      const res = await built.call('/products', {
        method: 'POST',
        token,
        headers: { 'content-type': 'application/json' },
        body: productBytes(bad),
      })
      expect(res.status).toBe(400)
      expect(((await res.json()) as Envelope).error).toEqual(refused)
    }
    expect(await tenantFootprint(built.deps.database.db, tenant.id)).toEqual(before)
  })

  test('a body in another media type is 415 whatever its bytes; é in UTF-8 is stored as sent', async () => {
    const built = await buildTestApp()
    const tenant = await createTenant(built.call)
    const latin1 = await built.call('/products', {
      method: 'POST',
      token: tenant.apiKey,
      headers: { 'content-type': 'text/plain' },
      body: productBytes([0xe9]),
    })
    expect(latin1.status).toBe(415)
    const utf8 = await built.call('/products', {
      method: 'POST',
      token: tenant.apiKey,
      headers: { 'content-type': 'application/json' },
      body: productBytes([0xc3, 0xa9]),
    })
    expect(utf8.status).toBe(201)
    expect(((await utf8.json()) as { name: string }).name).toBe('café')
  })
})

describe('what the body holds is judged after the key, as the schema is', () => {
  const unauthorized = (message: string) => ({ code: 'UNAUTHORIZED', message, requestId: expect.any(String) })
  const answers = {
    'not-a-key':
      "Invalid API key: no shop has this key; a shop's key is the apiKey POST /tenants answered (bun run dev keeps the demo shop's in DATA_DIR/demo-tenant.json)",
    none: 'Missing API key: send the header Authorization: Bearer <API key>',
  }

  test.each([
    ['U+0000', '{"name":"a\\u0000","priceMinor":1,"currency":"KES"}'],
    ['an unpaired surrogate', '{"name":"a\\ud800","priceMinor":1,"currency":"KES"}'],
    ['a schema fault', '{"name":1,"priceMinor":1,"currency":"KES"}'],
  ])('a product body holding %s, with a wrong key or none, is a 401 and writes nothing', async (_what, body) => {
    const built = await buildTestApp()
    for (const token of ['not-a-key', undefined] as const) {
      const res = await built.call('/products', {
        method: 'POST',
        token,
        headers: { 'content-type': 'application/json' },
        body,
      })
      expect(res.status).toBe(401)
      expect(((await res.json()) as Envelope).error).toEqual(unauthorized(answers[token ?? 'none']))
    }
    expect(built.logs.lines.filter((line) => line.level === 'error')).toEqual([])
  })

  test('a tenant name holding U+0000, with a wrong admin token, is a 401', async () => {
    const built = await buildTestApp()
    const res = await built.call('/tenants', {
      method: 'POST',
      token: 'not-the-admin-token',
      json: { name: 'Shop\u0000', ownerPhone: testPhone() },
    })
    expect(res.status).toBe(401)
    expect(((await res.json()) as Envelope).error.message).toBe('Invalid admin token: it is not ADMIN_TOKEN')
  })

  test('text that is not JSON is a 400 before the key is looked at: there is no body to judge', async () => {
    const built = await buildTestApp()
    const res = await built.call('/products', {
      method: 'POST',
      token: 'not-a-key',
      headers: { 'content-type': 'application/json' },
      body: '{"name":',
    })
    expect(res.status).toBe(400)
    expect(((await res.json()) as Envelope).error.code).toBe('INVALID_JSON')
  })
})

describe('validation messages name the field', () => {
  test('an unknown field named by a phone number or an API key is named scrubbed, in the body and the log', async () => {
    const built = await buildTestApp()
    const key = `ck_${'AbCd-_'.repeat(7)}x`
    const json = { name: 'Shop', ownerPhone: '+254711000200', '+254711000201': 1, [key]: 2 }
    const res = await built.call('/tenants', { method: 'POST', json, token: ADMIN_TOKEN })
    expect(res.status).toBe(422)
    const { error } = (await res.json()) as Envelope
    expect(error.details).toEqual({
      in: 'body',
      errors: [
        { field: '[phone]', message: 'unknown field' },
        { field: '[Filtered]', message: 'unknown field' },
      ],
    })
    for (const text of [JSON.stringify(error), built.logs.text()]) {
      expect(text).not.toContain('254711000201')
      expect(text).not.toContain(key)
    }
  })

  test.each([
    ['/orders?limit=0', 'Invalid query: limit — Expected integer to be greater or equal to 1'],
    ['/products?limit=101', 'Invalid query: limit — Expected integer to be less or equal to 100'],
    ['/orders?limit=-1&cursor=abc', 'Invalid query: limit — Expected integer to be greater or equal to 1'],
    ['/orders?limit=abc', 'Invalid query: limit — Expected integer'],
    ['/products?limit=1.5', 'Invalid query: limit — Expected integer'],
    // Number() reads these as 16, 10 and 16: not what a client meant to send.
    ['/products?limit=0x10', 'Invalid query: limit — Expected integer in decimal digits'],
    ['/orders?limit=1e1', 'Invalid query: limit — Expected integer in decimal digits'],
    ['/orders?limit=%2016', 'Invalid query: limit — Expected integer in decimal digits'],
    // Elysia keeps the last of a repeated parameter: the client meant one of them, not both.
    ['/orders?status=paid&status=pending', 'Invalid query: status — must be given once'],
    ['/products?limit=5&limit=5', 'Invalid query: limit — must be given once'],
  ])('GET %s', async (path, message) => {
    const built = await buildTestApp()
    const tenant = await createTenant(built.call)
    const res = await built.call(path, { token: tenant.apiKey })
    expect(res.status).toBe(422)
    const { error } = (await res.json()) as Envelope
    expect(error.message).toBe(message)
    expect(error.details).toEqual({
      in: 'query',
      errors: [{ field: message.split(': ')[1]!.split(' — ')[0], message: message.split(' — ')[1] }],
    })
  })

  test('a route without a query schema ignores its query, repeated or not: a scrape with params still works', async () => {
    const built = await buildTestApp()
    const tenant = await createTenant(built.call)
    const metrics = await built.call('/metrics?collect[]=a&collect[]=b')
    expect([metrics.status, (await metrics.text()).includes('# TYPE http_requests_total counter')]).toEqual([
      200,
      true,
    ])
    expect((await built.call('/health?probe=1&probe=2')).status).toBe(200)
    expect((await built.call('/tenants/me?v=1&v=2', { token: tenant.apiKey })).status).toBe(200)
  })

  test('a repeated or non-decimal query parameter with a wrong key is a 401: the credential first', async () => {
    const built = await buildTestApp()
    for (const path of ['/orders?status=paid&status=paid', '/products?limit=0x10']) {
      expect((await built.call(path, { token: 'ck_wrong' })).status).toBe(401)
    }
  })

  test('a cursor whose id is 36 hyphens is refused as a cursor, not cast to a uuid by PostgreSQL', async () => {
    const built = await buildTestApp()
    const tenant = await createTenant(built.call)
    const cursor = btoa(`2026-12-01T10:00:00.000Z|${'-'.repeat(36)}`)
    const res = await built.call(`/orders?cursor=${cursor}`, { token: tenant.apiKey })
    expect(res.status).toBe(422)
    expect(((await res.json()) as Envelope).error.message).toBe(
      'Invalid query: cursor — not a cursor from this API',
    )
  })

  test.each([
    ['/orders', '+275000-01-01T00:00:00Z'],
    ['/products', '+275000-01-01T00:00:00Z'],
    ['/orders', '-000001-01-01T00:00:00.000Z'],
    ['/products', '0000-01-01T00:00:00.000Z'],
    ['/orders', '2026-02-30T10:00:00.000Z'],
    ['/products', '2026-12-01 10:00:00'],
  ])('%s with a cursor at %s is 422 naming the cursor, not a 500 from the database', async (path, iso) => {
    const built = await buildTestApp()
    const tenant = await createTenant(built.call)
    const cursor = btoa(`${iso}|${crypto.randomUUID()}`)
    const res = await built.call(`${path}?cursor=${encodeURIComponent(cursor)}`, { token: tenant.apiKey })
    expect(res.status).toBe(422)
    expect(((await res.json()) as Envelope).error.details).toEqual({
      in: 'query',
      errors: [{ field: 'cursor', message: 'not a cursor from this API' }],
    })
  })

  test('a union says what its members expected', async () => {
    const built = await buildTestApp()
    const tenant = await createTenant(built.call)
    const product = await createProduct(built.call, tenant.apiKey)
    const res = await built.call(`/products/${product.id}`, {
      method: 'PATCH',
      token: tenant.apiKey,
      json: { stock: -3 },
    })
    expect(res.status).toBe(422)
    expect(((await res.json()) as Envelope).error.message).toBe(
      'Invalid body: stock — Expected integer to be greater or equal to 0 or null',
    )
  })
})

describe('a pattern-checked field is refused in words, never with its regex', () => {
  test.each([
    [
      'POST',
      '/products',
      { name: 'Tea', priceMinor: 100, currency: 'kes' },
      'currency',
      'must be a current ISO 4217 currency code in capitals, such as KES',
    ],
    [
      'POST',
      '/orders',
      { customer: { phone: '0712345678', name: 'X' }, items: [] },
      'customer.phone',
      'must be a phone number in E.164 form: + then the country code and number, 8 to 15 digits, no spaces',
    ],
    [
      'PATCH',
      '/tenants/me/settings',
      { quietHours: { start: '24:00', end: '06:00' } },
      'quietHours.start',
      'must be a local time HH:MM from 00:00 to 23:59',
    ],
    [
      'PATCH',
      '/tenants/me/settings',
      { alertPhones: ['+254711000200', '254711000201'] },
      'alertPhones.1',
      'must be a phone number in E.164 form: + then the country code and number, 8 to 15 digits, no spaces',
    ],
  ])('%s %s (%#)', async (method, path, json, field, message) => {
    await expectRefused(method, path, json, field, message)
  })
})

describe('a UUID written as a URN (urn:uuid:…), which PostgreSQL cannot cast', () => {
  // Elysia's `uuid` format takes an optional `urn:uuid:` prefix; the id then reached a uuid
  // cast in the database and the request was a 500.
  test('as a path id, on every route with one, is a 422 naming the id, not a 500', async () => {
    const built = await buildTestApp()
    const tenant = await createTenant(built.call)
    const product = await createProduct(built.call, tenant.apiKey)
    const urn = `urn:uuid:${product.id}`
    const before = await tenantFootprint(built.deps.database.db, tenant.id)
    for (const [method, path, json] of [
      ['GET', `/products/${urn}`, undefined],
      ['PATCH', `/products/${urn}`, { stock: 1 }],
      ['GET', `/orders/${urn}`, undefined],
      ['PATCH', `/orders/${urn}/status`, { status: 'cancelled' }],
      ['POST', `/orders/${urn}/payments`, { provider: 'sandbox', source: 'tok_success' }],
    ] as const) {
      const res = await built.call(path, { method, token: tenant.apiKey, json })
      expect({ path, method, status: res.status }).toEqual({ path, method, status: 422 })
      expect(((await res.json()) as Envelope).error.details).toMatchObject({
        in: 'params',
        errors: [{ field: 'id' }],
      })
    }
    expect(await tenantFootprint(built.deps.database.db, tenant.id)).toEqual(before)
    expect(built.logs.lines.filter((line) => line.level === 'error')).toEqual([])
  })

  test("as an order item's productId, is a 422 naming the item, writing nothing", async () => {
    const built = await buildTestApp()
    const tenant = await createTenant(built.call)
    const product = await createProduct(built.call, tenant.apiKey, { stock: 5 })
    const before = await tenantFootprint(built.deps.database.db, tenant.id)
    const res = await built.call('/orders', {
      method: 'POST',
      token: tenant.apiKey,
      json: {
        customer: { phone: testPhone() },
        items: [{ productId: `urn:uuid:${product.id}`, quantity: 1 }],
      },
    })
    expect(res.status).toBe(422)
    expect(((await res.json()) as Envelope).error.details).toMatchObject({
      in: 'body',
      errors: [{ field: 'items.0.productId' }],
    })
    expect(await tenantFootprint(built.deps.database.db, tenant.id)).toEqual(before)
    expect(built.logs.lines.filter((line) => line.level === 'error')).toEqual([])
  })
})
