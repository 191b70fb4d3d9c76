import { describe, expect, test } from 'bun:test'
import { buildTestApp } from '../helpers/app.ts'
import { createOrder, createProduct, createTenant } from '../helpers/commerce.ts'
import { family } from '../helpers/scrape.ts'

/** Business metrics as the API records them: exact series after each kind of call. */
describe('business metrics through the API', () => {
  test('orders, payments (succeeded, failed, error), provider duration and product views', async () => {
    const { call } = await buildTestApp()
    const tenant = await createTenant(call)
    const product = await createProduct(call, tenant.apiKey, { priceMinor: 100 })
    const scrape = async () => (await call('/metrics')).text()

    const first = await createOrder(call, tenant.apiKey, [{ productId: product.id, quantity: 1 }], 'whatsapp')
    const second = await createOrder(
      call,
      tenant.apiKey,
      [{ productId: product.id, quantity: 1 }],
      'whatsapp',
    )
    const third = await createOrder(call, tenant.apiKey, [{ productId: product.id, quantity: 1 }])
    expect(family(await scrape(), 'orders_created_total')).toEqual({
      [`orders_created_total{tenant_id="${tenant.id}",channel="whatsapp"}`]: 2,
      [`orders_created_total{tenant_id="${tenant.id}",channel="web"}`]: 1,
    })
    // A rejected order (unknown product) counts nothing.
    await call('/orders', {
      method: 'POST',
      token: tenant.apiKey,
      json: {
        customer: { phone: '+254711000900' },
        items: [{ productId: crypto.randomUUID(), quantity: 1 }],
      },
    })
    expect(Object.values(family(await scrape(), 'orders_created_total')).reduce((a, b) => a + b, 0)).toBe(3)

    const pay = (orderId: string, source: string) =>
      call(`/orders/${orderId}/payments`, {
        method: 'POST',
        token: tenant.apiKey,
        json: { provider: 'sandbox', source },
      })
    expect((await pay(first.id, 'tok_success')).status).toBe(201)
    expect((await pay(second.id, 'tok_declined')).status).toBe(402)
    expect((await pay(third.id, 'tok_error')).status).toBe(502)
    expect((await pay(third.id, 'tok_error')).status).toBe(502)
    const text = await scrape()
    expect(family(text, 'payments_processed_total')).toEqual({
      [`payments_processed_total{tenant_id="${tenant.id}",provider="sandbox",status="succeeded"}`]: 1,
      [`payments_processed_total{tenant_id="${tenant.id}",provider="sandbox",status="failed"}`]: 1,
      [`payments_processed_total{tenant_id="${tenant.id}",provider="sandbox",status="error"}`]: 2,
    })
    expect(family(text, 'payment_processing_duration_seconds_count')).toEqual({
      'payment_processing_duration_seconds_count{provider="sandbox"}': 4,
    })

    await call(`/products/${product.id}?channel=instagram`, { token: tenant.apiKey })
    await call(`/products/${product.id}`, { token: tenant.apiKey, headers: { 'x-channel': 'instagram' } })
    await call(`/products/${product.id}`, { token: tenant.apiKey })
    await call(`/products/${crypto.randomUUID()}`, { token: tenant.apiKey }) // 404: not a view
    expect(family(await scrape(), 'product_views_total')).toEqual({
      [`product_views_total{tenant_id="${tenant.id}",product_id="${product.id}",channel="instagram"}`]: 2,
      [`product_views_total{tenant_id="${tenant.id}",product_id="${product.id}",channel="web"}`]: 1,
    })
  })
})
