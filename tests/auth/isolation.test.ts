import { describe, expect, test } from 'bun:test'
import { buildTestApp } from '../helpers/app.ts'
import { createOrder, createProduct, createTenant, tenantFootprint } from '../helpers/commerce.ts'

describe('tenant isolation', () => {
  test("tenant A's key on tenant B's ids behaves exactly like unknown ids (404), reveals nothing, changes nothing", async () => {
    const { call, deps } = await buildTestApp()
    const a = await createTenant(call, 'A')
    const b = await createTenant(call, 'B')
    const bProduct = await createProduct(call, b.apiKey, { stock: 5 })
    const bOrder = await createOrder(call, b.apiKey, [{ productId: bProduct.id, quantity: 1 }])
    const before = await tenantFootprint(deps.database.db, b.id)
    const attempts: Array<[string, string, unknown?]> = [
      ['GET', `/products/${bProduct.id}`],
      ['PATCH', `/products/${bProduct.id}`, { priceMinor: 1 }],
      ['GET', `/orders/${bOrder.id}`],
      ['PATCH', `/orders/${bOrder.id}/status`, { status: 'cancelled' }],
      ['POST', `/orders/${bOrder.id}/payments`, { provider: 'sandbox', source: 'tok_success' }],
    ]
    for (const [method, path, json] of attempts) {
      const foreign = await call(path, { method, token: a.apiKey, json })
      const missing = await call(path.replace(/[0-9a-f-]{36}/, crypto.randomUUID()), {
        method,
        token: a.apiKey,
        json,
      })
      const f = (await foreign.json()) as { error: { code: string; message: string } }
      const m = (await missing.json()) as { error: { code: string; message: string } }
      expect({ path, method, status: foreign.status, code: f.error.code, message: f.error.message }).toEqual({
        path,
        method,
        status: 404,
        code: m.error.code,
        message: m.error.message,
      })
    }
    const lists = await Promise.all([
      call('/products', { token: a.apiKey }),
      call('/orders', { token: a.apiKey }),
    ])
    for (const list of lists) expect(((await list.json()) as { items: unknown[] }).items).toEqual([])
    const ordering = await call('/orders', {
      method: 'POST',
      token: a.apiKey,
      json: { customer: { phone: '+254711000999' }, items: [{ productId: bProduct.id, quantity: 1 }] },
    })
    expect(ordering.status).toBe(422)
    const me = (await (await call('/tenants/me', { token: a.apiKey })).json()) as { id: string }
    expect(me.id).toBe(a.id)
    expect(await tenantFootprint(deps.database.db, b.id)).toEqual(before)
  })
})
