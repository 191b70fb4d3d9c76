import { describe, expect, test } from 'bun:test'
import { and, eq, sql } from 'drizzle-orm'
import type { Clock } from '../../src/core/clock.ts'
import { createLogger } from '../../src/core/logger.ts'
import { idempotencyKeys, tenants } from '../../src/db/schema.ts'
import { createIdempotencyPruner } from '../../src/idempotency/pruner.ts'
import {
  completeWaitingOn,
  createIdempotencyService,
  type IdempotencyKeyInUse,
  parseIdempotencyKey,
  requestFingerprint,
  tenantScope,
} from '../../src/idempotency/service.ts'
import { noBusinessMetrics } from '../../src/observability/business-metrics.ts'
import type { CreateOrder } from '../../src/orders/model.ts'
import { createOrderService } from '../../src/orders/service.ts'
import { createPaymentRepository } from '../../src/payments/repository.ts'
import { ADMIN_TOKEN, buildTestApp } from '../helpers/app.ts'
import { createProduct, createTenant, tenantFootprint } from '../helpers/commerce.ts'

type Built = Awaited<ReturnType<typeof buildTestApp>>

const ONE_KEY = 'must be one key: a bare key without commas or one quoted string, and the header sent once'

const orderBody = (productId: string, quantity = 2): CreateOrder => ({
  channel: 'whatsapp',
  customer: { phone: '+254711000300', name: 'Amina' },
  items: [{ productId, quantity }],
})

async function shop(built: Built, stock: number | null = 10) {
  const tenant = await createTenant(built.call)
  const product = await createProduct(built.call, tenant.apiKey, { stock, priceMinor: 300 })
  return { tenant, product }
}

const postOrder = (built: Built, apiKey: string, key: string | undefined, body: unknown) =>
  built.call('/orders', {
    method: 'POST',
    token: apiKey,
    headers: key === undefined ? {} : { 'idempotency-key': key },
    json: body,
  })

async function stockOf(built: Built, apiKey: string, productId: string) {
  const res = await built.call(`/products/${productId}`, { token: apiKey })
  return ((await res.json()) as { stock: number | null }).stock
}

async function errorCode(res: Response) {
  return ((await res.json()) as { error: { code: string } }).error.code
}

async function keyRows(built: Built, scope: string) {
  return built.deps.database.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.scope, scope))
}

describe('Idempotency-Key on POST /orders', () => {
  test('the same request twice: one order, stock taken once, the second answer byte-identical and marked replayed', async () => {
    const built = await buildTestApp()
    const { tenant, product } = await shop(built)
    const key = crypto.randomUUID()
    const first = await postOrder(built, tenant.apiKey, key, orderBody(product.id))
    const firstText = await first.text()
    expect(first.status).toBe(201)
    expect(first.headers.get('idempotent-replayed')).toBeNull()

    const second = await postOrder(built, tenant.apiKey, key, orderBody(product.id))
    expect(second.status).toBe(201)
    expect(second.headers.get('idempotent-replayed')).toBe('true')
    expect(second.headers.get('content-type')).toBe(first.headers.get('content-type'))
    expect(await second.text()).toBe(firstText)

    const footprint = await tenantFootprint(built.deps.database.db, tenant.id)
    expect({ orders: footprint.orders, stock: footprint.stock }).toEqual({ orders: 1, stock: 8 })
    expect(await stockOf(built, tenant.apiKey, product.id)).toBe(8)
  })

  test('the same key with a different body: 422 IDEMPOTENCY_KEY_REUSED, and nothing happens', async () => {
    const built = await buildTestApp()
    const { tenant, product } = await shop(built)
    const key = 'order-42'
    expect((await postOrder(built, tenant.apiKey, key, orderBody(product.id, 2))).status).toBe(201)
    const before = await tenantFootprint(built.deps.database.db, tenant.id)
    const res = await postOrder(built, tenant.apiKey, key, orderBody(product.id, 3))
    expect(res.status).toBe(422)
    const body = (await res.json()) as { error: { code: string; message: string; requestId: string } }
    expect(body.error.code).toBe('IDEMPOTENCY_KEY_REUSED')
    expect(body.error.requestId).toBe(res.headers.get('x-request-id')!)
    expect(await tenantFootprint(built.deps.database.db, tenant.id)).toEqual(before)
  })

  test('20 concurrent requests with one key: exactly one order; the others replay it or answer 409 IDEMPOTENCY_KEY_IN_USE', async () => {
    const built = await buildTestApp()
    const { tenant, product } = await shop(built, 100)
    const key = crypto.randomUUID()
    const answers = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const res = await postOrder(built, tenant.apiKey, key, orderBody(product.id, 1))
        return {
          status: res.status,
          replayed: res.headers.get('idempotent-replayed') === 'true',
          text: await res.text(),
        }
      }),
    )
    const originals = answers.filter((a) => a.status === 201 && !a.replayed)
    expect(originals.length).toBe(1)
    for (const answer of answers) {
      if (answer.status === 201) expect(answer.text).toBe(originals[0]!.text)
      else
        expect({ status: answer.status, code: JSON.parse(answer.text).error.code }).toEqual({
          status: 409,
          code: 'IDEMPOTENCY_KEY_IN_USE',
        })
    }
    const footprint = await tenantFootprint(built.deps.database.db, tenant.id)
    expect({ orders: footprint.orders, stock: footprint.stock }).toEqual({ orders: 1, stock: 99 })
    // Once the first has finished, every retry replays it.
    const late = await postOrder(built, tenant.apiKey, key, orderBody(product.id, 1))
    expect(late.headers.get('idempotent-replayed')).toBe('true')
    expect(await late.text()).toBe(originals[0]!.text)
  })

  test('keys are scoped per tenant: the same key from another tenant is another request', async () => {
    const built = await buildTestApp()
    const a = await shop(built)
    const b = await shop(built)
    const key = 'shared-key'
    const first = await postOrder(built, a.tenant.apiKey, key, orderBody(a.product.id))
    const second = await postOrder(built, b.tenant.apiKey, key, orderBody(b.product.id))
    expect([first.status, second.status]).toEqual([201, 201])
    expect(second.headers.get('idempotent-replayed')).toBeNull()
    expect((await tenantFootprint(built.deps.database.db, a.tenant.id)).orders).toBe(1)
    expect((await tenantFootprint(built.deps.database.db, b.tenant.id)).orders).toBe(1)
  })

  test('without the header every request is a new order, as before', async () => {
    const built = await buildTestApp()
    const { tenant, product } = await shop(built)
    for (let i = 0; i < 2; i++) {
      expect((await postOrder(built, tenant.apiKey, undefined, orderBody(product.id))).status).toBe(201)
    }
    expect(await stockOf(built, tenant.apiKey, product.id)).toBe(6)
    expect(await keyRows(built, tenantScope(tenant.id))).toEqual([])
  })

  test('a request that failed before any effect gives its key back: the retry runs', async () => {
    const built = await buildTestApp()
    const { tenant, product } = await shop(built, 1)
    const key = crypto.randomUUID()
    const short = await postOrder(built, tenant.apiKey, key, orderBody(product.id, 2))
    expect(short.status).toBe(409)
    expect(await errorCode(short)).toBe('CONFLICT')
    expect(await keyRows(built, tenantScope(tenant.id))).toEqual([])
    await built.call(`/products/${product.id}`, { method: 'PATCH', token: tenant.apiKey, json: { stock: 5 } })
    const retry = await postOrder(built, tenant.apiKey, key, orderBody(product.id, 2))
    expect(retry.status).toBe(201)
    expect(retry.headers.get('idempotent-replayed')).toBeNull()
    expect(await stockOf(built, tenant.apiKey, product.id)).toBe(3)
  })

  test('requests refused by authentication or validation never touch the key', async () => {
    const built = await buildTestApp()
    const { tenant, product } = await shop(built)
    const key = crypto.randomUUID()
    const invalid = await postOrder(built, tenant.apiKey, key, { ...orderBody(product.id), items: [] })
    expect(invalid.status).toBe(422)
    expect(await errorCode(invalid)).toBe('VALIDATION')
    const unauthorised = await postOrder(built, 'ck_wrong', key, orderBody(product.id))
    expect(unauthorised.status).toBe(401)
    expect(await keyRows(built, tenantScope(tenant.id))).toEqual([])
    expect((await postOrder(built, tenant.apiKey, key, orderBody(product.id))).status).toBe(201)
  })

  test.each([
    ['', 'must not be empty'],
    ['   ', 'must not be empty'],
    // Quoted blanks: one shared key for every bot whose key variable was empty.
    ['"   "', 'must not be empty'],
    ['" "', 'must not be empty'],
    ['x'.repeat(256), 'must be at most 255 characters'],
    ['x'.repeat(258), 'must be at most 255 characters'],
    [`"${'x'.repeat(256)}"`, 'must be at most 255 characters'],
    ['x'.repeat(10_000), 'must be at most 255 characters'],
    ['clé-unicode', 'must be printable ASCII characters'],
    ['tab\tinside', 'must be printable ASCII characters'],
    // What Fetch makes of a header sent twice, bare and quoted: a list, not one new key.
    ['order-7, order-7', ONE_KEY],
    ['"order-7", "order-7"', ONE_KEY],
    ['a,b', ONE_KEY],
    ['"unterminated', ONE_KEY],
  ])('a malformed key (%#) is 422 VALIDATION naming the header, and nothing is written', async (key, message) => {
    const built = await buildTestApp()
    const { tenant, product } = await shop(built)
    const before = await tenantFootprint(built.deps.database.db, tenant.id)
    const res = await built.call('/orders', {
      method: 'POST',
      token: tenant.apiKey,
      // Headers() refuses non-Latin-1 text; send the UTF-8 bytes as a client would.
      headers: { 'idempotency-key': String.fromCharCode(...new TextEncoder().encode(key)) },
      json: orderBody(product.id),
    })
    expect(res.status).toBe(422)
    const body = (await res.json()) as {
      error: { code: string; details: { in: string; errors: Array<{ field: string; message: string }> } }
    }
    expect(body.error.code).toBe('VALIDATION')
    expect(body.error.details.in).toBe('headers')
    expect(body.error.details.errors[0]!.field).toBe('idempotency-key')
    // The schema (documented in OpenAPI) refuses other characters in the parser's words; the
    // 255 limit and emptiness are checked after unquoting the Structured Field form, by the parser.
    expect(body.error.details.errors[0]!.message).toBe(message)
    expect(await tenantFootprint(built.deps.database.db, tenant.id)).toEqual(before)
    expect(await keyRows(built, tenantScope(tenant.id))).toEqual([])
  })

  test.each([
    ['/orders', 'order'],
    ['/products', 'product'],
    ['/tenants', 'tenant'],
  ])('%s with the Idempotency-Key header sent twice: 422 naming the header, and nothing is created, however often it is retried', async (path) => {
    const built = await buildTestApp()
    const { tenant, product } = await shop(built)
    const create = (key: string) => {
      const headers = new Headers()
      headers.append('idempotency-key', key)
      headers.append('idempotency-key', key)
      const json =
        path === '/orders'
          ? orderBody(product.id)
          : path === '/products'
            ? { name: 'Second mug', priceMinor: 500, currency: 'KES', stock: 1 }
            : { name: 'Second shop', ownerPhone: '+254711000301' }
      return built.call(path, {
        method: 'POST',
        token: path === '/tenants' ? ADMIN_TOKEN : tenant.apiKey,
        headers,
        json,
      })
    }
    const before = await tenantFootprint(built.deps.database.db, tenant.id)
    const tenantCount = () => built.deps.database.db.select({ n: sql<number>`count(*)::int` }).from(tenants)
    const tenantsBefore = await tenantCount()
    for (const key of ['dup-1', '"dup-1"', 'dup-1', '"dup-1"']) {
      const res = await create(key)
      expect(res.status).toBe(422)
      const body = (await res.json()) as { error: { code: string; details: { errors: unknown[] } } }
      expect(body.error.code).toBe('VALIDATION')
      expect(body.error.details.errors).toEqual([{ field: 'idempotency-key', message: ONE_KEY }])
    }
    expect(await tenantFootprint(built.deps.database.db, tenant.id)).toEqual(before)
    expect(await tenantCount()).toEqual(tenantsBefore)
  })

  test('a retry that adds or drops the trailing slash is the same request: replayed, not REUSED', async () => {
    const built = await buildTestApp()
    const { tenant, product } = await shop(built)
    const key = crypto.randomUUID()
    const first = await postOrder(built, tenant.apiKey, key, orderBody(product.id))
    expect(first.status).toBe(201)
    const retry = await built.call('/orders/', {
      method: 'POST',
      token: tenant.apiKey,
      headers: { 'idempotency-key': key },
      json: orderBody(product.id),
    })
    expect({ status: retry.status, replayed: retry.headers.get('idempotent-replayed') }).toEqual({
      status: 201,
      replayed: 'true',
    })
    expect(await retry.text()).toBe(await first.text())
    expect(await stockOf(built, tenant.apiKey, product.id)).toBe(8)
  })

  test('a 255-character key works, and the Structured Field form "key" is the same key', async () => {
    const built = await buildTestApp()
    const { tenant, product } = await shop(built)
    const key = `~${'k'.repeat(253)} `.trimEnd().padEnd(255, 'z')
    expect(key.length).toBe(255)
    expect((await postOrder(built, tenant.apiKey, key, orderBody(product.id))).status).toBe(201)
    const quoted = await postOrder(built, tenant.apiKey, `"${key}"`, orderBody(product.id))
    expect(quoted.headers.get('idempotent-replayed')).toBe('true')
    expect(await stockOf(built, tenant.apiKey, product.id)).toBe(8)
  })
})

describe('Idempotency-Key on POST /products and POST /tenants', () => {
  test('POST /products twice with one key: one product, the second answer replayed byte for byte', async () => {
    const built = await buildTestApp()
    const tenant = await createTenant(built.call)
    const send = () =>
      built.call('/products', {
        method: 'POST',
        token: tenant.apiKey,
        headers: { 'idempotency-key': 'tea-v1' },
        json: { name: 'Tea', priceMinor: 250, currency: 'KES', stock: 4 },
      })
    const first = await send()
    const second = await send()
    expect([first.status, second.status]).toEqual([201, 201])
    expect(second.headers.get('idempotent-replayed')).toBe('true')
    expect(await second.text()).toBe(await first.text())
    expect((await tenantFootprint(built.deps.database.db, tenant.id)).products).toBe(1)
  })

  test('POST /tenants twice with one key: one tenant; the replay shows the same API key, stored sealed', async () => {
    const built = await buildTestApp()
    const name = `Idempotent shop ${crypto.randomUUID()}`
    const send = (body: unknown) =>
      built.call('/tenants', {
        method: 'POST',
        token: ADMIN_TOKEN,
        headers: { 'idempotency-key': `tenant-${name}` },
        json: body,
      })
    const body = { name, ownerPhone: '+254711000399' }
    const first = await send(body)
    const firstText = await first.text()
    const second = await send(body)
    expect([first.status, second.status]).toEqual([201, 201])
    expect(second.headers.get('idempotent-replayed')).toBe('true')
    expect(await second.text()).toBe(firstText)
    const created = JSON.parse(firstText) as { id: string; apiKey: string }
    const count = await built.deps.database.db.execute(
      sql`select count(*)::int as n from tenants where name = ${name}`,
    )
    const rows = (Array.isArray(count) ? count : (count as { rows: unknown[] }).rows) as Array<{ n: number }>
    expect(rows[0]!.n).toBe(1)
    // The key works, and the idempotency table never holds it in clear.
    expect((await built.call('/tenants/me', { token: created.apiKey })).status).toBe(200)
    const [stored] = await built.deps.database.db
      .select()
      .from(idempotencyKeys)
      .where(eq(idempotencyKeys.key, `tenant-${name}`))
    expect(stored!.sealed).toBe(true)
    expect(stored!.scope.startsWith('admin:')).toBe(true)
    expect(stored!.scope).not.toContain(ADMIN_TOKEN)
    expect(stored!.responseBody).not.toContain(created.apiKey)
    // Another body under the key is refused.
    const other = await send({ ...body, name: `${name} 2` })
    expect(other.status).toBe(422)
    expect(await errorCode(other)).toBe('IDEMPOTENCY_KEY_REUSED')
  })
})

describe('browsers (CORS)', () => {
  test('a browser may send Idempotency-Key and read Idempotent-Replayed', async () => {
    const built = await buildTestApp({ env: { CORS_ORIGINS: 'https://shop.example' } })
    const preflight = await built.call('/orders', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, idempotency-key',
      },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-headers')?.split(/,\s*/)).toContain('idempotency-key')
    const { tenant, product } = await shop(built)
    const res = await built.call('/orders', {
      method: 'POST',
      token: tenant.apiKey,
      headers: { origin: 'https://shop.example', 'idempotency-key': 'cors' },
      json: orderBody(product.id),
    })
    expect(res.headers.get('access-control-expose-headers')?.split(/,\s*/)).toContain('idempotent-replayed')
  })
})

describe('the OpenAPI document', () => {
  test('documents the Idempotency-Key header parameter on every creating operation', async () => {
    const built = await buildTestApp()
    const doc = (await (await built.call('/swagger/json')).json()) as {
      paths: Record<
        string,
        Record<string, { parameters?: Array<{ name: string; in: string; required?: boolean }> }>
      >
    }
    for (const path of ['/orders', '/orders/{id}/payments', '/products', '/tenants']) {
      const header = doc.paths[path]!.post!.parameters?.find((p) => p.name === 'idempotency-key')
      expect({ path, in: header?.in, required: header?.required ?? false }).toEqual({
        path,
        in: 'header',
        required: false,
      })
    }
  })

  test("documents the 409's Retry-After on every operation taking the key, the 503 PAYMENT_PENDING's, and no other", async () => {
    const built = await buildTestApp()
    const doc = (await (await built.call('/swagger/json')).json()) as {
      paths: Record<
        string,
        Record<string, { responses: Record<string, { headers?: Record<string, { schema: unknown }> }> }>
      >
    }
    const documented = Object.entries(doc.paths).flatMap(([path, operations]) =>
      Object.entries(operations).flatMap(([method, operation]) =>
        Object.entries(operation.responses)
          .filter(([, response]) => response.headers?.['Retry-After'] !== undefined)
          .map(([status, response]) => [
            `${method.toUpperCase()} ${path}`,
            status,
            response.headers!['Retry-After']!.schema,
          ]),
      ),
    )
    expect(documented.sort()).toEqual([
      ['POST /orders', '409', { type: 'integer', minimum: 1 }],
      ['POST /orders/{id}/payments', '409', { type: 'integer', minimum: 1 }],
      ['POST /orders/{id}/payments', '503', { type: 'integer', minimum: 1 }],
      ['POST /products', '409', { type: 'integer', minimum: 1 }],
      ['POST /tenants', '409', { type: 'integer', minimum: 1 }],
    ])
  })
})

describe('claims, expiry and pruning (IdempotencyService)', () => {
  const fixedClock = (start: number) => {
    let now = start
    const clock: Clock = { now: () => new Date(now), monotonic: () => now }
    const advance = (ms: number) => {
      now += ms
    }
    return { clock, advance }
  }

  test('parseIdempotencyKey: absent is undefined; bare and quoted forms; escapes inside quotes', () => {
    expect(parseIdempotencyKey(null)).toBeUndefined()
    expect(parseIdempotencyKey('abc')).toBe('abc')
    expect(parseIdempotencyKey('"abc"')).toBe('abc')
    expect(parseIdempotencyKey('"a\\"b\\\\c"')).toBe('a"b\\c')
    expect(() => parseIdempotencyKey('""')).toThrow('must not be empty')
    expect(parseIdempotencyKey('"a, b"')).toBe('a, b')
    expect(() => parseIdempotencyKey('a, b')).toThrow(ONE_KEY)
  })

  test('requestFingerprint binds method, path and body', async () => {
    const base = await requestFingerprint('POST', '/orders', '{"a":1}')
    expect(base).toMatch(/^[0-9a-f]{64}$/)
    expect(await requestFingerprint('post', '/orders', '{"a":1}')).toBe(base)
    expect(await requestFingerprint('POST', '/products', '{"a":1}')).not.toBe(base)
    expect(await requestFingerprint('POST', '/orders', '{"a":2}')).not.toBe(base)
  })

  test('in flight: a second claim is 409; after the claim lease a holder that started nothing is taken over, and its late record fails', async () => {
    const built = await buildTestApp()
    const { db } = built.deps.database
    const { clock, advance } = fixedClock(Date.now())
    const service = createIdempotencyService({ db, clock, ttlMs: 86_400_000, claimLeaseMs: 60_000 })
    const request = {
      scope: `test:${crypto.randomUUID()}`,
      key: 'k',
      fingerprint: 'f',
      requestId: 'first',
    }
    const first = await service.claim(request)
    expect(first.kind).toBe('claimed')
    await expect(service.claim({ ...request, requestId: 'second' })).rejects.toMatchObject({
      status: 409,
      code: 'IDEMPOTENCY_KEY_IN_USE',
    })
    advance(60_001)
    const second = await service.claim({ ...request, requestId: 'second' })
    expect(second.kind).toBe('claimed')
    if (first.kind !== 'claimed' || second.kind !== 'claimed') throw new Error('unreachable')
    // The first holder comes back: its effect's transaction must roll back.
    await expect(
      db.transaction((tx) => first.claim.record(tx, { status: 201, body: '{"by":"first"}' })),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_IN_USE' })
    await db.transaction((tx) => second.claim.record(tx, { status: 201, body: '{"by":"second"}' }))
    expect(await service.claim({ ...request, requestId: 'third' })).toEqual({
      kind: 'replay',
      response: { status: 201, body: '{"by":"second"}' },
    })
  })

  test("the response is stored in the effect's transaction: a holder that lost its key rolls its order back", async () => {
    const built = await buildTestApp()
    const { db } = built.deps.database
    const { tenant, product } = await shop(built)
    const { clock, advance } = fixedClock(Date.now())
    const service = createIdempotencyService({ db, clock, ttlMs: 86_400_000, claimLeaseMs: 1000 })
    const request = { scope: tenantScope(tenant.id), key: 'lost', fingerprint: 'f', requestId: 'slow' }
    const slow = await service.claim(request)
    if (slow.kind !== 'claimed') throw new Error('expected a claim')
    advance(1001)
    const fast = await service.claim({ ...request, requestId: 'fast' })
    expect(fast.kind).toBe('claimed')
    const before = await tenantFootprint(db, tenant.id)
    const orders = createOrderService({
      db,
      metrics: noBusinessMetrics,
      pendingPayment: createPaymentRepository().pendingFor,
    })
    await expect(orders.create(tenant.id, orderBody(product.id), slow.claim)).rejects.toMatchObject({
      code: 'IDEMPOTENCY_KEY_IN_USE',
    })
    expect(await tenantFootprint(db, tenant.id)).toEqual(before)
  })

  test('a holder that lost its key to a retry which already placed the order rolls its own order back: one order, stock taken once', async () => {
    const built = await buildTestApp()
    const { db } = built.deps.database
    const { tenant, product } = await shop(built)
    const { clock, advance } = fixedClock(Date.now())
    const service = createIdempotencyService({ db, clock, ttlMs: 86_400_000, claimLeaseMs: 1000 })
    const request = { scope: tenantScope(tenant.id), key: 'stalled', fingerprint: 'f', requestId: 'slow' }
    const slow = await service.claim(request)
    if (slow.kind !== 'claimed') throw new Error('expected a claim')
    // The first request stalls past its lease; the bot's retry takes the key over and finishes first.
    advance(1001)
    const retry = await service.claim({ ...request, requestId: 'retry' })
    if (retry.kind !== 'claimed') throw new Error('expected a claim')
    const orders = createOrderService({
      db,
      metrics: noBusinessMetrics,
      pendingPayment: createPaymentRepository().pendingFor,
    })
    const placed = await orders.create(tenant.id, orderBody(product.id), retry.claim)
    const afterRetry = await tenantFootprint(db, tenant.id)
    expect({ orders: afterRetry.orders, stock: afterRetry.stock }).toEqual({ orders: 1, stock: 8 })
    // The stalled request comes back: the key holds the retry's order, not its own.
    await expect(orders.create(tenant.id, orderBody(product.id), slow.claim)).rejects.toMatchObject({
      status: 409,
      code: 'IDEMPOTENCY_KEY_IN_USE',
    })
    expect(await tenantFootprint(db, tenant.id)).toEqual(afterRetry)
    expect(await service.claim({ ...request, requestId: 'third' })).toEqual({
      kind: 'replay',
      response: { status: 201, body: JSON.stringify(placed) },
    })
  })

  test('a claim attached to an effect is never taken over, whatever the lease', async () => {
    const built = await buildTestApp()
    const { db } = built.deps.database
    const { clock, advance } = fixedClock(Date.now())
    const service = createIdempotencyService({ db, clock, ttlMs: 86_400_000, claimLeaseMs: 1000 })
    const request = { scope: `test:${crypto.randomUUID()}`, key: 'k', fingerprint: 'f', requestId: 'r1' }
    const first = await service.claim(request)
    if (first.kind !== 'claimed') throw new Error('expected a claim')
    await db.transaction((tx) => first.claim.attach(tx, crypto.randomUUID()))
    advance(3_600_000)
    await expect(service.claim(request)).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_IN_USE' })
  })

  test('a claim handed over to its effect: 409 with Retry-After counting down to when the effect is due, 1 once due, and the replay once settled', async () => {
    const built = await buildTestApp()
    const { db } = built.deps.database
    const start = Date.now()
    const { clock, advance } = fixedClock(start)
    const service = createIdempotencyService({ db, clock, ttlMs: 86_400_000, claimLeaseMs: 60_000 })
    const scope = `test:${crypto.randomUUID()}`
    const request = { scope, key: 'k', fingerprint: 'f', requestId: 'first' }
    const retryAfter = () =>
      service.claim({ ...request, requestId: 'retry' }).then(
        () => 'claimed',
        (error: IdempotencyKeyInUse) => [error.status, error.code, error.retryAfterSeconds],
      )
    const first = await service.claim(request)
    if (first.kind !== 'claimed') throw new Error('expected a claim')
    const paymentId = crypto.randomUUID()
    await db.transaction((tx) => first.claim.attach(tx, paymentId))
    // Attached and still running: nothing says how far along it is.
    expect(await retryAfter()).toEqual([409, 'IDEMPOTENCY_KEY_IN_USE', 1])

    await first.claim.handOver(new Date(start + 150_000))
    const [row] = await keyRows(built, scope)
    expect([row!.lockToken, row!.lockedUntil, row!.resourceId, row!.responseStatus]).toEqual([
      null,
      new Date(start + 150_000),
      paymentId,
      null,
    ])
    expect(await retryAfter()).toEqual([409, 'IDEMPOTENCY_KEY_IN_USE', 150])
    advance(100_500)
    expect(await retryAfter()).toEqual([409, 'IDEMPOTENCY_KEY_IN_USE', 50])
    advance(49_600)
    expect(await retryAfter()).toEqual([409, 'IDEMPOTENCY_KEY_IN_USE', 1])
    // Past due (the provider could not say yet): never 0 or negative, and never taken over.
    advance(3_600_000)
    expect(await retryAfter()).toEqual([409, 'IDEMPOTENCY_KEY_IN_USE', 1])

    await db.transaction((tx) =>
      completeWaitingOn(tx, paymentId, clock.now(), (requestId) => ({
        status: 201,
        body: `{"by":"${requestId}"}`,
      })),
    )
    // Settled first: a late hand-over changes nothing.
    await first.claim.handOver(new Date(start + 9_999_999))
    expect(await service.claim({ ...request, requestId: 'late' })).toEqual({
      kind: 'replay',
      response: { status: 201, body: '{"by":"first"}' },
    })
  })

  test('a key handed over to an unsettled payment outlives IDEMPOTENCY_KEY_TTL: neither pruned nor claimed afresh; once settled it replays for another TTL, then goes', async () => {
    const built = await buildTestApp()
    const { db } = built.deps.database
    const start = Date.now()
    const { clock, advance } = fixedClock(start)
    const ttlMs = 120_000
    const service = createIdempotencyService({ db, clock, ttlMs, claimLeaseMs: 60_000 })
    const scope = `test:${crypto.randomUUID()}`
    const request = { scope, key: 'pay-1', fingerprint: 'f', requestId: 'first' }
    const first = await service.claim(request)
    if (first.kind !== 'claimed') throw new Error('expected a claim')
    const paymentId = crypto.randomUUID()
    await db.transaction((tx) => first.claim.attach(tx, paymentId))
    // The provider gave no outcome: 503 PAYMENT_PENDING, the key left to reconciliation.
    await first.claim.handOver(new Date(start + 37_500))

    // The provider stays down for hours: the key's TTL passes many times over.
    advance(3 * 3_600_000)
    expect(await service.prune()).toBe(0)
    await expect(service.claim({ ...request, requestId: 'retry-1' })).rejects.toMatchObject({
      status: 409,
      code: 'IDEMPOTENCY_KEY_IN_USE',
    })
    const [kept] = await keyRows(built, scope)
    expect([kept!.requestId, kept!.resourceId, kept!.responseStatus, kept!.expiresAt]).toEqual([
      'first',
      paymentId,
      null,
      new Date(start + ttlMs),
    ])

    // Reconciliation finally hears from the provider and settles the payment.
    const settledAt = start + 3 * 3_600_000
    const body = (requestId: string) => `{"error":{"code":"PAYMENT_DECLINED","requestId":"${requestId}"}}`
    await db.transaction((tx) =>
      completeWaitingOn(tx, paymentId, clock.now(), (requestId) => ({ status: 402, body: body(requestId) })),
    )
    const [settled] = await keyRows(built, scope)
    expect(settled!.expiresAt).toEqual(new Date(settledAt + ttlMs))
    expect(await service.prune()).toBe(0)
    expect(await service.claim({ ...request, requestId: 'retry-2' })).toEqual({
      kind: 'replay',
      response: { status: 402, body: body('first') },
    })

    // A replay window of one TTL from the settlement, then the key goes like any other.
    advance(ttlMs - 1)
    expect(await service.prune()).toBe(0)
    advance(1)
    expect(await service.prune()).toBe(1)
    expect(await keyRows(built, scope)).toEqual([])
    expect((await service.claim({ ...request, requestId: 'new' })).kind).toBe('claimed')
  })

  test('an attached claim whose holder died is not forgotten at expiry either: the retry still gets 409, not a fresh claim', async () => {
    const built = await buildTestApp()
    const { db } = built.deps.database
    const { clock, advance } = fixedClock(Date.now())
    const service = createIdempotencyService({ db, clock, ttlMs: 120_000, claimLeaseMs: 1000 })
    const scope = `test:${crypto.randomUUID()}`
    const request = { scope, key: 'k', fingerprint: 'f', requestId: 'first' }
    const first = await service.claim(request)
    if (first.kind !== 'claimed') throw new Error('expected a claim')
    await db.transaction((tx) => first.claim.attach(tx, crypto.randomUUID()))
    advance(120_001)
    await expect(service.claim({ ...request, requestId: 'retry' })).rejects.toMatchObject({
      code: 'IDEMPOTENCY_KEY_IN_USE',
    })
    expect((await keyRows(built, scope)).map((r) => r.requestId)).toEqual(['first'])
  })

  test('a claim without an effect is not handed over: its retries keep the in-flight Retry-After', async () => {
    const built = await buildTestApp()
    const { db } = built.deps.database
    const { clock } = fixedClock(Date.now())
    const service = createIdempotencyService({ db, clock, ttlMs: 86_400_000 })
    const scope = `test:${crypto.randomUUID()}`
    const request = { scope, key: 'k', fingerprint: 'f', requestId: 'first' }
    const first = await service.claim(request)
    if (first.kind !== 'claimed') throw new Error('expected a claim')
    await first.claim.handOver(new Date(Date.now() + 150_000))
    await expect(service.claim(request)).rejects.toMatchObject({ retryAfterSeconds: 1 })
    const [row] = await keyRows(built, scope)
    expect(row!.lockToken).not.toBeNull()
  })

  test('a key past IDEMPOTENCY_KEY_TTL is forgotten: the request runs again', async () => {
    const built = await buildTestApp()
    const { tenant, product } = await shop(built)
    const key = crypto.randomUUID()
    expect((await postOrder(built, tenant.apiKey, key, orderBody(product.id, 1))).status).toBe(201)
    // The app's clock is real: move the stored key's expiry into the past instead.
    await built.deps.database.db
      .update(idempotencyKeys)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(and(eq(idempotencyKeys.scope, tenantScope(tenant.id)), eq(idempotencyKeys.key, key)))
    const again = await postOrder(built, tenant.apiKey, key, orderBody(product.id, 1))
    expect(again.status).toBe(201)
    expect(again.headers.get('idempotent-replayed')).toBeNull()
    expect(await stockOf(built, tenant.apiKey, product.id)).toBe(8)
  })

  test('expired keys are pruned, live ones kept; the pruner loop does it on its own', async () => {
    const built = await buildTestApp()
    const { db } = built.deps.database
    const { clock, advance } = fixedClock(Date.now())
    const service = createIdempotencyService({ db, clock, ttlMs: 10_000 })
    const scope = `test:${crypto.randomUUID()}`
    for (const key of ['old-1', 'old-2']) {
      const claimed = await service.claim({ scope, key, fingerprint: 'f', requestId: 'r' })
      if (claimed.kind !== 'claimed') throw new Error('expected a claim')
      await db.transaction((tx) => claimed.claim.record(tx, { status: 201, body: '{}' }))
    }
    advance(5_000)
    await service.claim({ scope, key: 'young', fingerprint: 'f', requestId: 'r' })
    advance(5_000)
    expect(await service.prune(1)).toBe(2)
    expect((await keyRows(built, scope)).map((r) => r.key)).toEqual(['young'])

    advance(5_000)
    const pruner = createIdempotencyPruner({
      idempotency: service,
      log: createLogger({ level: 'silent', pretty: false }),
      ttlMs: 10_000,
      intervalMs: 20,
    })
    pruner.start()
    for (let i = 0; i < 100 && (await keyRows(built, scope)).length > 0; i++) await Bun.sleep(20)
    await pruner.stop()
    expect(await keyRows(built, scope)).toEqual([])
  })
})

describe('Retry-After on 409 IDEMPOTENCY_KEY_IN_USE', () => {
  test('a request still running answers a retry 409 in the error envelope with Retry-After: 1', async () => {
    const built = await buildTestApp()
    const { tenant, product } = await shop(built)
    const key = crypto.randomUUID()
    const body = orderBody(product.id, 1)
    const held = await built.deps.services.idempotency.claim({
      scope: tenantScope(tenant.id),
      key,
      fingerprint: requestFingerprint('POST', '/orders', JSON.stringify(body)),
      requestId: 'held',
    })
    expect(held.kind).toBe('claimed')
    const res = await built.call('/orders', {
      method: 'POST',
      token: tenant.apiKey,
      headers: { 'idempotency-key': key, 'x-request-id': 'req-retry' },
      json: body,
    })
    expect([res.status, res.headers.get('retry-after'), res.headers.get('content-type')]).toEqual([
      409,
      '1',
      'application/json',
    ])
    expect(await res.json()).toEqual({
      error: {
        code: 'IDEMPOTENCY_KEY_IN_USE',
        message: 'A request with this Idempotency-Key is still being processed; retry after it finishes',
        requestId: 'req-retry',
      },
    })
    expect((await tenantFootprint(built.deps.database.db, tenant.id)).orders).toBe(0)
  })
})
