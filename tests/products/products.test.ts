import { describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { products } from '../../src/db/schema.ts'
import type { BusinessMetrics } from '../../src/observability/business-metrics.ts'
import { ADMIN_TOKEN, buildTestApp } from '../helpers/app.ts'
import {
  createProduct,
  createTenant,
  expectRejectedWritingNothing,
  mixedCase,
  testPhone,
} from '../helpers/commerce.ts'

/** Business metrics that keep the product views they are told, and ignore the rest. */
function recordingViews() {
  const views: Array<Parameters<BusinessMetrics['productViewed']>[0]> = []
  const business: BusinessMetrics = {
    orderCreated() {},
    paymentProcessed() {},
    paymentProviderDuration() {},
    productViewed: (event) => views.push(event),
  }
  return { views, business }
}

describe('products', () => {
  test('create, read, list with cursor pagination, update', async () => {
    const { call } = await buildTestApp()
    const { apiKey } = await createTenant(call)
    const res = await call('/products', {
      method: 'POST',
      token: apiKey,
      json: { name: 'Maize flour 2kg', priceMinor: 18900, currency: 'KES', stock: 12 },
    })
    expect(res.status).toBe(201)
    const created = (await res.json()) as Record<string, unknown>
    expect(created).toMatchObject({
      name: 'Maize flour 2kg',
      priceMinor: 18900,
      currency: 'KES',
      stock: 12,
      active: true,
    })
    expect(Object.keys(created).sort()).toEqual([
      'active',
      'createdAt',
      'currency',
      'id',
      'name',
      'priceMinor',
      'stock',
      'updatedAt',
    ])

    await Bun.sleep(2)
    const unlimited = await createProduct(call, apiKey, { name: 'Service' })
    expect(unlimited.stock).toBeNull()

    const read = await call(`/products/${created.id}`, { token: apiKey })
    expect(read.status).toBe(200)
    expect(await read.json()).toEqual(created)

    // Pages are newest first by whole milliseconds, then by id: one product per millisecond here.
    for (let i = 0; i < 3; i++) {
      await Bun.sleep(2)
      await createProduct(call, apiKey, { name: `P${i}` })
    }
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const page = await call(`/products?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: apiKey })
      expect(page.status).toBe(200)
      const body = (await page.json()) as { items: Array<{ name: string }>; nextCursor: string | null }
      expect(body.items.length).toBeLessThanOrEqual(2)
      seen.push(...body.items.map((p) => p.name))
      cursor = body.nextCursor
    } while (cursor)
    expect(seen).toEqual(['P2', 'P1', 'P0', 'Service', 'Maize flour 2kg'])

    const patched = await call(`/products/${created.id}`, {
      method: 'PATCH',
      token: apiKey,
      json: { priceMinor: 19900, stock: null, active: false },
    })
    expect(patched.status).toBe(200)
    expect(await patched.json()).toMatchObject({
      id: created.id,
      priceMinor: 19900,
      stock: null,
      active: false,
    })
  })

  test.each(
    [
      [{ name: 'x', priceMinor: -1, currency: 'KES' }, 'priceMinor'],
      [{ name: 'x', priceMinor: 1.5, currency: 'KES' }, 'priceMinor'],
      [{ name: 'x', priceMinor: '100', currency: 'KES' }, 'priceMinor'],
      [{ name: 'x', priceMinor: 1e15, currency: 'KES' }, 'priceMinor'],
      [{ name: 'x', priceMinor: 100, currency: 'shillings' }, 'currency'],
      [{ name: 'x', priceMinor: 100, currency: 'XYZ' }, 'currency'],
      [{ name: 'x', priceMinor: 100, currency: 'DEM' }, 'currency'],
      [{ name: 'x', priceMinor: 100, currency: 'KES', stock: -2 }, 'stock'],
      [{ name: 'x', priceMinor: 100, currency: 'KES', discount: 5 }, 'discount'],
      [{ priceMinor: 100, currency: 'KES' }, 'name'],
    ].map(([json, field], i) => [field as string, i + 1, json] as const),
  )('POST 422 naming %s for invalid body %i, writing nothing', async (field, _case, json) => {
    await expectRejectedWritingNothing(await buildTestApp(), 'POST', '/products', json, field)
  })

  test('a product without currency is refused with one error naming currency, and nothing is written', async () => {
    const built = await buildTestApp()
    await expectRejectedWritingNothing(
      built,
      'POST',
      '/products',
      { name: 'Tea', priceMinor: 150 },
      'currency',
    )
    const { apiKey } = await createTenant(built.call)
    const res = await built.call('/products', {
      method: 'POST',
      token: apiKey,
      json: { name: 'Tea', priceMinor: 150 },
    })
    expect(res.status).toBe(422)
    const body = (await res.json()) as { error: Record<string, unknown> }
    expect(body.error).toEqual({
      code: 'VALIDATION',
      message: 'Invalid body: currency — Expected required property',
      details: { in: 'body', errors: [{ field: 'currency', message: 'Expected required property' }] },
      requestId: expect.any(String),
    })
  })

  test('a currency is one of ISO 4217 list one, not any three capitals', async () => {
    const built = await buildTestApp()
    const { apiKey } = await createTenant(built.call)
    const refused = await built.call('/products', {
      method: 'POST',
      token: apiKey,
      json: { name: 'Tea', priceMinor: 150, currency: 'XYZ' },
    })
    expect(refused.status).toBe(422)
    expect(((await refused.json()) as { error: { message: string } }).error.message).toBe(
      'Invalid body: currency — must be a current ISO 4217 currency code in capitals, such as KES',
    )
    // Zero- and three-decimal currencies, a fund code, and the Caribbean guilder (2025), which
    // is newer than the packaged edition of the list.
    for (const currency of ['KES', 'JPY', 'KWD', 'CLF', 'XCG']) {
      const res = await built.call('/products', {
        method: 'POST',
        token: apiKey,
        json: { name: `Tea in ${currency}`, priceMinor: 150, currency },
      })
      expect([currency, res.status]).toEqual([currency, 201])
    }
  })

  test('a product stored in a since-withdrawn currency stays readable', async () => {
    const built = await buildTestApp()
    const { apiKey } = await createTenant(built.call)
    const product = await createProduct(built.call, apiKey, { name: 'Kuna tea' })
    await built.deps.database.db.update(products).set({ currency: 'HRK' }).where(eq(products.id, product.id))
    const read = await built.call(`/products/${product.id}`, { token: apiKey })
    expect(read.status).toBe(200)
    expect(((await read.json()) as { currency: string }).currency).toBe('HRK')
  })

  test.each([
    ['12.99, a price in major units', 12.99],
    ['a negative price', -1],
    ['a price as text', '1299'],
    ['a price above the maximum', 1e15],
  ])('a price sent as %s is a 422 saying that priceMinor counts minor units, on POST and PATCH', async (_what, price) => {
    const built = await buildTestApp()
    const { apiKey } = await createTenant(built.call)
    const hint =
      'must be an integer number of minor units (cents) from 0 to 100000000000: 12.99 USD is 1299, not 12.99'
    const expected = {
      code: 'VALIDATION',
      message: `Invalid body: priceMinor — ${hint}`,
      details: { in: 'body', errors: [{ field: 'priceMinor', message: hint }] },
      requestId: expect.any(String),
    }
    const created = await built.call('/products', {
      method: 'POST',
      token: apiKey,
      json: { name: 'Masala chai', priceMinor: price, currency: 'USD' },
    })
    expect(created.status).toBe(422)
    expect(((await created.json()) as { error: unknown }).error).toEqual(expected)
    const product = await createProduct(built.call, apiKey)
    const updated = await built.call(`/products/${product.id}`, {
      method: 'PATCH',
      token: apiKey,
      json: { priceMinor: price },
    })
    expect(updated.status).toBe(422)
    expect(((await updated.json()) as { error: unknown }).error).toEqual(expected)
  })

  test('several bad fields are one error each, and the message counts the other fields', async () => {
    const { call } = await buildTestApp()
    const { apiKey } = await createTenant(call)
    const res = await call('/products', { method: 'POST', token: apiKey, json: { priceMinor: 'x' } })
    expect(res.status).toBe(422)
    const body = (await res.json()) as {
      error: { message: string; details: { errors: { field: string }[] } }
    }
    expect(body.error.details.errors.map((e) => e.field).sort()).toEqual(['currency', 'name', 'priceMinor'])
    expect(body.error.message).toEndWith('(and 2 more fields)')
  })

  test('names are counted in characters, as maxLength is in the document: 200 emoji are a name, 201 are refused', async () => {
    const built = await buildTestApp()
    const { call } = built
    const { apiKey } = await createTenant(call)
    const emoji = (n: number) => '🌽'.repeat(n)
    const message = 'must be text of 1 to 200 characters, not only whitespace'
    const created = await call('/products', {
      method: 'POST',
      token: apiKey,
      json: { name: emoji(200), priceMinor: 100, currency: 'KES' },
    })
    expect(created.status).toBe(201)
    const product = (await created.json()) as { id: string; name: string }
    expect(product.name).toBe(emoji(200))
    const renamed = await call(`/products/${product.id}`, {
      method: 'PATCH',
      token: apiKey,
      json: { name: `${emoji(199)}é` },
    })
    expect(renamed.status).toBe(200)
    await expectRejectedWritingNothing(
      built,
      'POST',
      '/products',
      { name: emoji(201), priceMinor: 100, currency: 'KES' },
      'name',
      message,
    )
    await expectRejectedWritingNothing(
      built,
      'POST',
      '/products',
      { name: '', priceMinor: 1, currency: 'KES' },
      'name',
      message,
    )
    await expectRejectedWritingNothing(
      built,
      'PATCH',
      `/products/${product.id}`,
      { name: emoji(201) },
      'name',
      message,
    )
    const tenant = await call('/tenants', {
      method: 'POST',
      token: ADMIN_TOKEN,
      json: { name: emoji(200), ownerPhone: testPhone() },
    })
    expect(tenant.status).toBe(201)
    const order = await call('/orders', {
      method: 'POST',
      token: apiKey,
      json: {
        customer: { phone: testPhone(), name: emoji(200) },
        items: [{ productId: product.id, quantity: 1 }],
      },
    })
    expect(order.status).toBe(201)
    await expectRejectedWritingNothing(
      built,
      'POST',
      '/orders',
      { customer: { phone: testPhone(), name: emoji(201) }, items: [{ productId: product.id, quantity: 1 }] },
      'customer.name',
      message,
    )
  })

  test('a name of whitespace alone is refused everywhere a name is taken; inner and edge spaces are kept', async () => {
    const built = await buildTestApp()
    const { call } = built
    const { apiKey } = await createTenant(call)
    const message = 'must be text of 1 to 200 characters, not only whitespace'
    const product = await createProduct(call, apiKey)
    for (const blank of [' ', '   ', '\t\n', '\u00a0\u3000', '\u2028']) {
      await expectRejectedWritingNothing(
        built,
        'POST',
        '/products',
        { name: blank, priceMinor: 1, currency: 'KES' },
        'name',
        message,
      )
      await expectRejectedWritingNothing(
        built,
        'PATCH',
        `/products/${product.id}`,
        { name: blank },
        'name',
        message,
      )
      await expectRejectedWritingNothing(
        built,
        'POST',
        '/orders',
        { customer: { phone: testPhone(), name: blank }, items: [{ productId: product.id, quantity: 1 }] },
        'customer.name',
        message,
      )
      const tenant = await call('/tenants', {
        method: 'POST',
        token: ADMIN_TOKEN,
        json: { name: blank, ownerPhone: testPhone() },
      })
      expect(tenant.status).toBe(422)
      expect(((await tenant.json()) as { error: { details: unknown } }).error.details).toEqual({
        in: 'body',
        errors: [{ field: 'name', message }],
      })
    }
    const spaced = await call('/products', {
      method: 'POST',
      token: apiKey,
      json: { name: ' Tea, 1 kg ', priceMinor: 1, currency: 'KES' },
    })
    expect(spaced.status).toBe(201)
    expect(((await spaced.json()) as { name: string }).name).toBe(' Tea, 1 kg ')
  })

  test('404 for an unknown id, 422 for a non-UUID id or a bad cursor, 422 for an empty PATCH', async () => {
    const { call } = await buildTestApp()
    const { apiKey } = await createTenant(call)
    const product = await createProduct(call, apiKey)
    expect((await call(`/products/${crypto.randomUUID()}`, { token: apiKey })).status).toBe(404)
    expect((await call('/products/not-a-uuid', { token: apiKey })).status).toBe(422)
    expect((await call('/products?cursor=%%%', { token: apiKey })).status).toBe(422)
    expect((await call('/products?limit=0', { token: apiKey })).status).toBe(422)
    expect((await call('/products?limit=101', { token: apiKey })).status).toBe(422)
    expect((await call(`/products/${product.id}`, { method: 'PATCH', token: apiKey, json: {} })).status).toBe(
      422,
    )
    expect(
      (
        await call(`/products/${crypto.randomUUID()}`, {
          method: 'PATCH',
          token: apiKey,
          json: { active: false },
        })
      ).status,
    ).toBe(404)
  })

  test('an empty PATCH names what is missing in words, not as "at least 1 properties"', async () => {
    const { call } = await buildTestApp()
    const { apiKey } = await createTenant(call)
    const product = await createProduct(call, apiKey)
    const res = await call(`/products/${product.id}`, {
      method: 'PATCH',
      token: apiKey,
      json: {},
      headers: { 'x-request-id': 'rid-empty-patch' },
    })
    expect({ status: res.status, body: await res.json() }).toEqual({
      status: 422,
      body: {
        error: {
          code: 'VALIDATION',
          message: 'Invalid body: body — Expected at least one field',
          details: { in: 'body', errors: [{ field: 'body', message: 'Expected at least one field' }] },
          requestId: 'rid-empty-patch',
        },
      },
    })
  })

  test('a product view counts on the channel from ?channel=, then x-channel, default web', async () => {
    const { views, business } = recordingViews()
    const { call } = await buildTestApp({ business })
    const tenant = await createTenant(call)
    const product = await createProduct(call, tenant.apiKey)
    await call(`/products/${product.id}`, { token: tenant.apiKey })
    const head = await call(`/products/${product.id}`, { method: 'HEAD', token: tenant.apiKey })
    expect({ status: head.status, body: await head.text() }).toEqual({ status: 200, body: '' })
    await call(`/products/${product.id}`, { token: tenant.apiKey, headers: { 'x-channel': 'instagram' } })
    await call(`/products/${product.id}?channel=whatsapp`, {
      token: tenant.apiKey,
      headers: { 'x-channel': 'instagram' },
    })
    expect((await call(`/products/${product.id}?channel=telegram`, { token: tenant.apiKey })).status).toBe(
      422,
    )
    expect(
      (await call(`/products/${product.id}`, { token: tenant.apiKey, headers: { 'x-channel': 'fax' } }))
        .status,
    ).toBe(422)
    expect((await call(`/products/${crypto.randomUUID()}`, { token: tenant.apiKey })).status).toBe(404)
    expect(views).toEqual(
      ['web', 'instagram', 'whatsapp'].map((channel) => ({
        tenantId: tenant.id,
        productId: product.id,
        channel,
      })),
    )
  })

  test('a product read by its id in upper or mixed case is the same product and counts under the stored id', async () => {
    const { views, business } = recordingViews()
    const { call } = await buildTestApp({ business })
    const tenant = await createTenant(call)
    const product = await createProduct(call, tenant.apiKey)
    const mixed = mixedCase(product.id)
    for (const id of [product.id.toUpperCase(), mixed]) {
      const res = await call(`/products/${id}`, { token: tenant.apiKey })
      expect(res.status).toBe(200)
      expect(((await res.json()) as { id: string }).id).toBe(product.id)
    }
    expect(views).toEqual([
      { tenantId: tenant.id, productId: product.id, channel: 'web' },
      { tenantId: tenant.id, productId: product.id, channel: 'web' },
    ])
  })
})
