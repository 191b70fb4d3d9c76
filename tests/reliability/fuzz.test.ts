import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { signWebhook } from '../../src/payments/webhook-signature.ts'
import { ADMIN_TOKEN, buildTestApp } from '../helpers/app.ts'
import { createOrder, createProduct, createTenant, tenantFootprint } from '../helpers/commerce.ts'

/**
 * Generated malformed input against every route. Seeded, so a failure reproduces: the seed
 * and the failing case are printed by fast-check. Every answer must be a 2xx (the input happened
 * to be valid) or a 4xx in the error envelope — never a 5xx, never a stack trace — and a
 * rejected request must leave the database exactly as it was.
 */
const SEED = 20261126
const RUNS_PER_ROUTE = 150

const STACK_TRACE = /\bat [^\s]+ \(|\.ts:\d+:\d+|node_modules/

const validBodies: Record<string, () => Record<string, unknown>> = {
  'POST /tenants': () => ({ name: 'Fuzz shop', ownerPhone: '+254711000999' }),
  'PATCH /tenants/me/settings': () => ({
    timezone: 'Africa/Nairobi',
    quietHours: { start: '22:00', end: '06:00' },
  }),
  'POST /products': () => ({ name: 'Fuzz product', priceMinor: 100, currency: 'KES', stock: 5 }),
  'PATCH /products/:id': () => ({ priceMinor: 120 }),
  'POST /orders': () => ({ customer: { phone: '+254711000998' }, items: [{ productId: '', quantity: 1 }] }),
  'PATCH /orders/:id/status': () => ({ status: 'confirmed' }),
  'POST /orders/:id/payments': () => ({ provider: 'sandbox', source: 'tok_declined' }),
  'POST /alerts/alertmanager': () => ({ version: '4', status: 'firing', alerts: [] }),
  'POST /webhooks/whatsapp': () => ({ object: 'whatsapp_business_account', entry: [] }),
  'POST /webhooks/payments/:provider': () => ({
    paymentId: crypto.randomUUID(),
    outcome: 'succeeded',
    reference: 'ch_fuzz',
    amountMinor: 100,
    currency: 'KES',
  }),
}

const WEBHOOK_SECRET = 'whsec_fuzz_0123456789abcdef'

const ROUTES = [
  'GET /health',
  'GET /health/db',
  'GET /tenants/me',
  'GET /products',
  'GET /products/:id',
  'GET /orders',
  'GET /orders/:id',
  'GET /webhooks/whatsapp',
  'GET /alerts',
  'GET /alerts/rules',
  'GET /slo',
  'GET /metrics',
  'GET /swagger',
  'GET /swagger/json',
  'GET /swagger/assets/:name',
  ...Object.keys(validBodies),
]

/** Values a hostile or broken client sends in place of a proper field. */
const nasty = fc.oneof(
  fc.constantFrom(
    null,
    true,
    -1,
    0,
    1.5,
    -0.0001,
    1e308,
    -1e308,
    Number.MAX_SAFE_INTEGER + 2,
    '',
    ' ',
    '💥',
    '\u0000',
    '\u202e',
    'null',
    '{}',
    'a'.repeat(10_000),
    '+0000000',
    '254711000200',
    '00000000-0000-0000-0000-000000000000',
    'ffffffff-ffff-ffff-ffff-ffffffffffffff',
    "'; drop table orders; --",
    [],
    {},
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.array(fc.anything(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.anything(), { maxKeys: 3 }),
)

/** A body: a valid one with fields replaced, added or removed; random JSON; or not JSON at all. */
function bodyFor(route: string, productId: string) {
  const valid = validBodies[route]
  const base = () => {
    const body = valid ? valid() : {}
    if (route === 'POST /orders') (body.items as Array<Record<string, unknown>>)[0]!.productId = productId
    return body
  }
  return fc.oneof(
    fc
      .record({
        field: fc.constantFrom(...Object.keys(base()), 'unknownField', '__proto__', 'constructor'),
        value: nasty,
      })
      .map(({ field, value }) => JSON.stringify({ ...base(), [field]: value })),
    fc.constantFrom(...Object.keys(base())).map((field) => {
      const body = base()
      delete body[field]
      return JSON.stringify(body)
    }),
    // Text PostgreSQL cannot store (U+0000) inside a string field of an otherwise valid body:
    // a 500 at the database until bodies were checked for it.
    fc
      .constantFrom(...Object.keys(base()))
      .map((field) => {
        const body = base()
        if (typeof body[field] === 'string') body[field] = `${body[field]}\u0000`
        return JSON.stringify(body)
      }),
    // Nesting far past any body's own: a 500 after seconds of recursion until it was bounded.
    fc
      .integer({ min: 1_000, max: 50_000 })
      .map(
        (depth) => `${JSON.stringify(base()).slice(0, -1)},"deep":${'['.repeat(depth)}${']'.repeat(depth)}}`,
      ),
    fc.json({ maxDepth: 3 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.constantFrom(
      '{',
      '{"a":',
      '[1,2',
      'nul',
      '"\\ud800"',
      '{"a":1}{"b":2}',
      '\u0000{}',
      JSON.stringify(base()),
    ),
  )
}

function rightCredential(route: string, apiKey: string) {
  if (route === 'POST /tenants' || route.startsWith('GET /alerts') || route === 'GET /slo')
    return `Bearer ${ADMIN_TOKEN}`
  if (route === 'POST /alerts/alertmanager') return 'Bearer fuzz-alertmanager-token'
  return `Bearer ${apiKey}`
}

describe('fuzzing every route', () => {
  test('the fuzzed routes are exactly the routes the app serves', async () => {
    const { app } = await buildTestApp()
    const served = app.routes.map((route) => `${route.method} ${route.path}`)
    expect([...ROUTES].sort()).toEqual([...new Set(served)].sort())
  })

  test(`${ROUTES.length * RUNS_PER_ROUTE} seeded malformed requests: never a 5xx, always the envelope, nothing written`, async () => {
    const { call, deps } = await buildTestApp({
      env: {
        // A real rule manager (loaded, not started) behind GET /alerts and /alerts/rules.
        ALERTS_ENABLED: 'true',
        ALERTMANAGER_WEBHOOK_TOKEN: 'fuzz-alertmanager-token',
        WHATSAPP_APP_SECRET: 'fuzz-app-secret',
        WHATSAPP_VERIFY_TOKEN: 'fuzz-verify',
        PAYMENT_WEBHOOK_SECRETS: `sandbox=${WEBHOOK_SECRET}`,
      },
    })
    const tenant = await createTenant(call)
    const product = await createProduct(call, tenant.apiKey, { stock: 1000 })
    const order = await createOrder(call, tenant.apiKey, [{ productId: product.id, quantity: 1 }])
    const ids = [product.id, order.id, crypto.randomUUID()]
    const db = deps.database.db
    let cases = 0
    const statuses = new Map<number, number>()

    for (const route of ROUTES) {
      const [method, template] = route.split(' ') as [string, string]
      const hasBody = method !== 'GET'
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.constantFrom(...ids),
            fc.string({ maxLength: 60 }),
            fc.constantFrom('%00', '..', '%2e%2e%2f', ' '),
          ),
          hasBody ? bodyFor(route, product.id) : fc.constant(undefined),
          fc.oneof(
            fc.constant(''),
            fc.constantFrom(
              '?limit=1&limit=2',
              '?limit=-1',
              '?limit=1e3',
              '?status=paid&status=x',
              '?cursor=',
              '?channel=\u0000',
              '?hub.mode=subscribe&hub.verify_token=fuzz-verify&hub.challenge=%F0%9F%92%A5',
            ),
            fc.string({ maxLength: 30 }).map((q) => `?${encodeURIComponent(q)}=${encodeURIComponent(q)}`),
          ),
          // Mostly the right credential and content type, so that most cases reach validation.
          fc.oneof(
            { weight: 5, arbitrary: fc.constant(rightCredential(route, tenant.apiKey)) },
            fc.constantFrom(
              `Bearer ${tenant.apiKey}`,
              `Bearer ${ADMIN_TOKEN}`,
              '',
              'Bearer',
              'Basic Zm9vOmJhcg==',
              `Bearer ${'x'.repeat(5000)}`,
            ),
          ),
          fc.oneof(
            { weight: 5, arbitrary: fc.constant('application/json') },
            fc.constantFrom(
              'application/json; charset=utf-8',
              'text/plain',
              '',
              'application/x-www-form-urlencoded',
              'application/merge-patch+json',
            ),
          ),
          async (id, body, query, authorization, contentType) => {
            cases++
            const path =
              template.replace(':id', encodeURIComponent(id)).replace(':provider', 'sandbox') + query
            const before = await tenantFootprint(db, tenant.id)
            const headers: Record<string, string> = {}
            if (authorization) headers.authorization = authorization
            // The payment webhook's credential is a signature of the body: with the right
            // credential drawn, the body is signed, so that its validation is what answers.
            if (
              route === 'POST /webhooks/payments/:provider' &&
              authorization === rightCredential(route, tenant.apiKey)
            )
              headers['sandbox-signature'] = signWebhook(
                WEBHOOK_SECRET,
                body ?? '',
                Math.floor(Date.now() / 1000),
              )
            if (contentType) headers['content-type'] = contentType
            const res = await call(path, { method, headers, body })
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
            const text = await res.text()
            expect({ route, path, status: res.status < 500 }).toEqual({ route, path, status: true })
            expect(text).not.toMatch(STACK_TRACE)
            if (res.status >= 400) {
              const envelope = JSON.parse(text) as {
                error: { code: unknown; message: unknown; requestId: unknown }
              }
              expect(typeof envelope.error.code).toBe('string')
              expect(typeof envelope.error.message).toBe('string')
              expect(typeof envelope.error.requestId).toBe('string')
              expect(await tenantFootprint(db, tenant.id)).toEqual(before)
            }
          },
        ),
        { seed: SEED, numRuns: RUNS_PER_ROUTE, endOnFailure: true },
      )
    }
    expect(cases).toBe(ROUTES.length * RUNS_PER_ROUTE)
    // Some generated inputs must get through, or the generator only tests the front door.
    expect([...statuses.keys()].some((s) => s < 300)).toBe(true)
    expect(statuses.get(422)).toBeGreaterThan(ROUTES.length * RUNS_PER_ROUTE * 0.1)
  }, 240_000)
})
