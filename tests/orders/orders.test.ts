import { describe, expect, test } from 'bun:test'
import type { BusinessMetrics } from '../../src/observability/business-metrics.ts'
import { ORDER_STATUSES, type OrderStatus } from '../../src/orders/model.ts'
import { MANUAL_TRANSITIONS } from '../../src/orders/state-machine.ts'
import { buildTestApp } from '../helpers/app.ts'
import {
  createOrder,
  createProduct,
  createTenant,
  mixedCase,
  tenantFootprint,
  testPhone,
} from '../helpers/commerce.ts'

function recordingMetrics() {
  const events: string[] = []
  const business: BusinessMetrics = {
    orderCreated: (e) => events.push(`order ${e.tenantId} ${e.channel}`),
    paymentProcessed: (e) => events.push(`payment ${e.tenantId} ${e.provider} ${e.status}`),
    paymentProviderDuration: (e) => events.push(`duration ${e.provider}`),
    productViewed: () => {},
  }
  return { events, business }
}

describe('POST /orders', () => {
  test('computes the total from current prices, takes stock, defaults to web', async () => {
    const { events, business } = recordingMetrics()
    const { call } = await buildTestApp({ business })
    const tenant = await createTenant(call)
    const tea = await createProduct(call, tenant.apiKey, { priceMinor: 250, stock: 10 })
    const sugar = await createProduct(call, tenant.apiKey, { priceMinor: 1199, stock: null })
    const res = await call('/orders', {
      method: 'POST',
      token: tenant.apiKey,
      json: {
        customer: { phone: '+254711000200', name: 'Amina' },
        items: [
          { productId: tea.id, quantity: 3 },
          { productId: sugar.id, quantity: 2 },
        ],
      },
    })
    expect(res.status).toBe(201)
    const order = (await res.json()) as Record<string, unknown>
    expect(order).toMatchObject({
      status: 'pending',
      channel: 'web',
      customer: { phone: '+254711000200', name: 'Amina' },
      totalMinor: 3 * 250 + 2 * 1199,
      currency: 'KES',
      items: [
        { productId: tea.id, quantity: 3, unitPriceMinor: 250, lineTotalMinor: 750 },
        { productId: sugar.id, quantity: 2, unitPriceMinor: 1199, lineTotalMinor: 2398 },
      ],
    })
    const after = (await (await call(`/products/${tea.id}`, { token: tenant.apiKey })).json()) as {
      stock: number
    }
    expect(after.stock).toBe(7)
    expect(events).toEqual([`order ${tenant.id} web`])
    // The price captured at order time does not follow later price changes.
    await call(`/products/${tea.id}`, { method: 'PATCH', token: tenant.apiKey, json: { priceMinor: 999 } })
    const again = (await (await call(`/orders/${order.id}`, { token: tenant.apiKey })).json()) as Record<
      string,
      unknown
    >
    expect(again).toEqual(order)
  })

  test.each(['whatsapp', 'instagram', 'facebook', 'sms', 'pos'])('accepts channel %s', async (channel) => {
    const { call } = await buildTestApp()
    const tenant = await createTenant(call)
    const p = await createProduct(call, tenant.apiKey)
    const order = await createOrder(call, tenant.apiKey, [{ productId: p.id, quantity: 1 }], channel)
    expect((order as unknown as { channel: string }).channel).toBe(channel)
  })

  const product = '00000000-0000-4000-8000-000000000000'
  test.each(
    [
      [{ customer: { phone: '+254711000200' }, items: [] }, 'items'],
      [{ customer: { phone: '+254711000200' } }, 'items'],
      [
        { customer: { phone: '+254711000200' }, items: [{ productId: product, quantity: 0 }] },
        'items.0.quantity',
      ],
      [
        { customer: { phone: '+254711000200' }, items: [{ productId: product, quantity: 1001 }] },
        'items.0.quantity',
      ],
      [
        { customer: { phone: '+254711000200' }, items: [{ productId: product, quantity: 1.5 }] },
        'items.0.quantity',
      ],
      [
        { customer: { phone: '+254711000200' }, items: [{ productId: product, quantity: '2' }] },
        'items.0.quantity',
      ],
      [
        { customer: { phone: '+254711000200' }, items: [{ productId: product, quantity: -1 }] },
        'items.0.quantity',
      ],
      [
        { customer: { phone: '+254711000200' }, items: [{ productId: 'abc', quantity: 1 }] },
        'items.0.productId',
      ],
      [
        { customer: { phone: '0711 000 200' }, items: [{ productId: product, quantity: 1 }] },
        'customer.phone',
      ],
      [
        {
          channel: 'telegram',
          customer: { phone: '+254711000200' },
          items: [{ productId: product, quantity: 1 }],
        },
        'channel',
      ],
      [
        { customer: { phone: '+254711000200' }, items: [{ productId: product, quantity: 1 }], coupon: 'X' },
        'coupon',
      ],
      [
        { customer: { phone: '+254711000200', email: 'a@b' }, items: [{ productId: product, quantity: 1 }] },
        'customer.email',
      ],
      [
        {
          customer: { phone: '+254711000200' },
          items: Array.from({ length: 101 }, () => ({ productId: product, quantity: 1 })),
        },
        'items',
      ],
    ].map(([json, field], i) => [field as string, i + 1, json] as const),
  )('422 naming %s, for invalid body %i', async (field, _case, json) => {
    const { call, deps } = await buildTestApp()
    const tenant = await createTenant(call)
    const before = await tenantFootprint(deps.database.db, tenant.id)
    const res = await call('/orders', { method: 'POST', token: tenant.apiKey, json })
    expect(res.status).toBe(422)
    const text = await res.text()
    const body = JSON.parse(text) as {
      error: { code: string; details: { errors: Array<{ field: string }> } }
    }
    expect(body.error.code).toBe('VALIDATION')
    expect(body.error.details.errors.map((e) => e.field)).toContain(field)
    expect(text).not.toContain('711000200')
    expect(await tenantFootprint(deps.database.db, tenant.id)).toEqual(before)
  })

  test('unknown, inactive and foreign products are 422 and nothing is written or taken', async () => {
    const { call, deps } = await buildTestApp()
    const tenant = await createTenant(call)
    const other = await createTenant(call)
    const ok = await createProduct(call, tenant.apiKey, { stock: 5 })
    const inactive = await createProduct(call, tenant.apiKey, { stock: 5 })
    await call(`/products/${inactive.id}`, { method: 'PATCH', token: tenant.apiKey, json: { active: false } })
    const foreign = await createProduct(call, other.apiKey, { stock: 5 })
    const before = await tenantFootprint(deps.database.db, tenant.id)
    for (const [productId, message] of [
      [crypto.randomUUID(), 'unknown product'],
      [foreign.id, 'unknown product'],
      [inactive.id, 'product is not available'],
    ] as const) {
      const res = await call('/orders', {
        method: 'POST',
        token: tenant.apiKey,
        json: {
          customer: { phone: testPhone() },
          items: [
            { productId: ok.id, quantity: 2 },
            { productId, quantity: 1 },
          ],
        },
      })
      expect(res.status).toBe(422)
      const body = (await res.json()) as { error: { details: unknown } }
      expect(body.error.details).toEqual({ in: 'body', errors: [{ field: 'items.1.productId', message }] })
    }
    expect(await tenantFootprint(deps.database.db, tenant.id)).toEqual(before)
  })

  test('a product id in upper or mixed case names the same product: one line of stock, stored ids lower case', async () => {
    const { call } = await buildTestApp()
    const tenant = await createTenant(call)
    const tea = await createProduct(call, tenant.apiKey, { priceMinor: 250, stock: 10 })
    const mixed = mixedCase(tea.id)
    const res = await call('/orders', {
      method: 'POST',
      token: tenant.apiKey,
      json: {
        customer: { phone: testPhone() },
        items: [
          { productId: tea.id.toUpperCase(), quantity: 2 },
          { productId: mixed, quantity: 1 },
        ],
      },
    })
    expect(res.status).toBe(201)
    const order = (await res.json()) as { totalMinor: number; items: Array<{ productId: string }> }
    expect(order.totalMinor).toBe(750)
    expect(order.items.map((item) => item.productId)).toEqual([tea.id, tea.id])
    const after = (await (await call(`/products/${tea.id}`, { token: tenant.apiKey })).json()) as {
      stock: number
    }
    expect(after.stock).toBe(7)
  })

  test('insufficient stock is 409 and rolls back every line', async () => {
    const { call, deps } = await buildTestApp()
    const tenant = await createTenant(call)
    const plenty = await createProduct(call, tenant.apiKey, { stock: 100 })
    const scarce = await createProduct(call, tenant.apiKey, { stock: 1 })
    const before = await tenantFootprint(deps.database.db, tenant.id)
    const res = await call('/orders', {
      method: 'POST',
      token: tenant.apiKey,
      json: {
        customer: { phone: testPhone() },
        items: [
          { productId: plenty.id, quantity: 5 },
          { productId: scarce.id, quantity: 2 },
        ],
      },
    })
    expect(res.status).toBe(409)
    expect(await res.json()).toMatchObject({ error: { code: 'CONFLICT', details: { productId: scarce.id } } })
    expect(await tenantFootprint(deps.database.db, tenant.id)).toEqual(before)
  })

  test('a total past 2^53 - 1 minor units is 422 and takes nothing; just under it is exact', async () => {
    const { call, deps } = await buildTestApp()
    const tenant = await createTenant(call)
    // The helper's (newcomer's) case: 91 lines of 1 000 at 99 999 999 999 and one of 1 at 1 is
    // 9 099 999 999 909 001 exactly, which a float sum gave as ...909 000.
    const dear = await createProduct(call, tenant.apiKey, { priceMinor: 99_999_999_999, stock: null })
    const cheap = await createProduct(call, tenant.apiKey, { priceMinor: 1, stock: 5 })
    const before = await tenantFootprint(deps.database.db, tenant.id)
    // `dearLines` lines of 1 000 at the dear price, then one at 1.
    const place = (dearLines: number) =>
      call('/orders', {
        method: 'POST',
        token: tenant.apiKey,
        json: {
          customer: { phone: testPhone() },
          items: [
            ...Array.from({ length: dearLines }, () => ({ productId: dear.id, quantity: 1000 })),
            { productId: cheap.id, quantity: 1 },
          ],
        },
      })
    const over = await place(91)
    expect(over.status).toBe(422)
    expect(await over.json()).toMatchObject({
      error: {
        code: 'VALIDATION',
        details: {
          errors: [
            { field: 'items', message: 'the order total must be at most 9007199254740991 minor units' },
          ],
        },
      },
    })
    expect(await tenantFootprint(deps.database.db, tenant.id)).toEqual(before)
    // 90 such lines fit: 90 × 1 000 × 99 999 999 999 + 1 is below 2^53 and stays exact.
    const under = await place(90)
    expect(under.status).toBe(201)
    expect(((await under.json()) as { totalMinor: number }).totalMinor).toBe(8_999_999_999_910_001)
  })

  test('concurrent orders for the last unit: exactly one wins', async () => {
    const { call, deps } = await buildTestApp()
    const tenant = await createTenant(call)
    const last = await createProduct(call, tenant.apiKey, { stock: 1 })
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        call('/orders', {
          method: 'POST',
          token: tenant.apiKey,
          json: { customer: { phone: testPhone() }, items: [{ productId: last.id, quantity: 1 }] },
        }).then((r) => r.status),
      ),
    )
    expect(results.filter((s) => s === 201)).toHaveLength(1)
    expect(results.filter((s) => s === 409)).toHaveLength(7)
    expect(await tenantFootprint(deps.database.db, tenant.id)).toMatchObject({
      stock: 0,
      orders: 1,
      order_items: 1,
    })
  })

  test('list filters by status and channel and paginates', async () => {
    const { call } = await buildTestApp()
    const tenant = await createTenant(call)
    const p = await createProduct(call, tenant.apiKey)
    // Lists are newest first by whole milliseconds, then by id: one order per millisecond here.
    const order = async (channel: string) => {
      await Bun.sleep(2)
      return createOrder(call, tenant.apiKey, [{ productId: p.id, quantity: 1 }], channel)
    }
    const a = await order('whatsapp')
    const b = await order('whatsapp')
    const c = await order('web')
    await call(`/orders/${b.id}/status`, {
      method: 'PATCH',
      token: tenant.apiKey,
      json: { status: 'confirmed' },
    })
    const ids = async (query: string) => {
      const res = await call(`/orders${query}`, { token: tenant.apiKey })
      expect(res.status).toBe(200)
      const body = (await res.json()) as {
        items: Array<{ id: string; items: unknown[] }>
        nextCursor: string | null
      }
      for (const order of body.items) expect(order.items).toHaveLength(1)
      return { ids: body.items.map((o) => o.id), next: body.nextCursor }
    }
    expect((await ids('')).ids).toEqual([c.id, b.id, a.id])
    expect((await ids('?channel=whatsapp')).ids).toEqual([b.id, a.id])
    expect((await ids('?status=pending')).ids).toEqual([c.id, a.id])
    expect((await ids('?status=confirmed&channel=whatsapp')).ids).toEqual([b.id])
    const first = await ids('?limit=2')
    expect(first.ids).toEqual([c.id, b.id])
    const second = await ids(`?limit=2&cursor=${first.next}`)
    expect(second).toEqual({ ids: [a.id], next: null })
    expect((await call('/orders?status=lost', { token: tenant.apiKey })).status).toBe(422)
  })
})

describe('PATCH /orders/:id/status — the state machine', () => {
  /** Walks an order to `status` through allowed routes (and a payment for paid). */
  async function orderIn(
    call: Awaited<ReturnType<typeof buildTestApp>>['call'],
    apiKey: string,
    productId: string,
    status: OrderStatus,
  ) {
    const order = await createOrder(call, apiKey, [{ productId, quantity: 1 }])
    const path: Record<OrderStatus, OrderStatus[]> = {
      pending: [],
      confirmed: ['confirmed'],
      cancelled: ['cancelled'],
      paid: ['paid'],
      shipped: ['paid', 'shipped'],
      delivered: ['paid', 'shipped', 'delivered'],
      refunded: ['paid', 'refunded'],
    }
    for (const step of path[status]) {
      const res =
        step === 'paid'
          ? await call(`/orders/${order.id}/payments`, {
              method: 'POST',
              token: apiKey,
              json: { provider: 'sandbox', source: 'tok_success' },
            })
          : await call(`/orders/${order.id}/status`, {
              method: 'PATCH',
              token: apiKey,
              json: { status: step },
            })
      if (res.status >= 300) throw new Error(`setup ${step}: ${res.status}`)
    }
    return order.id
  }

  test('every (from, to) pair: allowed moves answer 200, all others 409 naming the allowed states', async () => {
    const { call, logs } = await buildTestApp()
    const tenant = await createTenant(call)
    const p = await createProduct(call, tenant.apiKey, { stock: null })
    for (const from of ORDER_STATUSES) {
      for (const to of ORDER_STATUSES) {
        const id = await orderIn(call, tenant.apiKey, p.id, from)
        const res = await call(`/orders/${id}/status`, {
          method: 'PATCH',
          token: tenant.apiKey,
          json: { status: to },
        })
        const body = (await res.json()) as {
          status?: string
          error?: { code: string; message: string; details: { allowed: string[] } }
        }
        if (MANUAL_TRANSITIONS[from].includes(to)) {
          expect({ from, to, status: res.status, now: body.status }).toEqual({
            from,
            to,
            status: 200,
            now: to,
          })
          const line = logs.lines.findLast((l) => l.event === 'order_status_change' && l.orderId === id)
          expect(line).toMatchObject({ tenantId: tenant.id, from, to })
        } else {
          expect({ from, to, status: res.status }).toEqual({ from, to, status: 409 })
          expect(body.error?.details.allowed).toEqual([...MANUAL_TRANSITIONS[from]])
          expect(body.error?.message).toContain(`from ${from} to ${to}`)
        }
      }
    }
  }, 30_000) // 36 pairs, each a fresh order moved into place through the API

  test('the table itself: paid is reached only through payments', () => {
    for (const from of ORDER_STATUSES) expect(MANUAL_TRANSITIONS[from]).not.toContain('paid')
    expect(MANUAL_TRANSITIONS).toEqual({
      pending: ['confirmed', 'cancelled'],
      confirmed: ['cancelled'],
      paid: ['shipped', 'refunded'],
      shipped: ['delivered', 'refunded'],
      delivered: ['refunded'],
      cancelled: [],
      refunded: [],
    })
  })

  test('unknown status, missing status, unknown order', async () => {
    const { call } = await buildTestApp()
    const tenant = await createTenant(call)
    const p = await createProduct(call, tenant.apiKey)
    const order = await createOrder(call, tenant.apiKey, [{ productId: p.id, quantity: 1 }])
    expect(
      (
        await call(`/orders/${order.id}/status`, {
          method: 'PATCH',
          token: tenant.apiKey,
          json: { status: 'lost' },
        })
      ).status,
    ).toBe(422)
    expect(
      (await call(`/orders/${order.id}/status`, { method: 'PATCH', token: tenant.apiKey, json: {} })).status,
    ).toBe(422)
    expect(
      (
        await call(`/orders/${crypto.randomUUID()}/status`, {
          method: 'PATCH',
          token: tenant.apiKey,
          json: { status: 'confirmed' },
        })
      ).status,
    ).toBe(404)
    const unchanged = (await (await call(`/orders/${order.id}`, { token: tenant.apiKey })).json()) as {
      status: string
    }
    expect(unchanged.status).toBe('pending')
  })
})

describe('PATCH /orders/:id/status — stock', () => {
  test("cancelling gives the order's units back to tracked stock, once; a refund gives none back", async () => {
    const { call } = await buildTestApp()
    const tenant = await createTenant(call)
    const tea = await createProduct(call, tenant.apiKey, { stock: 5 })
    const sugar = await createProduct(call, tenant.apiKey, { stock: null })
    const rice = await createProduct(call, tenant.apiKey, { stock: 3 })
    const stocks = async () => {
      const read = async (id: string) =>
        ((await (await call(`/products/${id}`, { token: tenant.apiKey })).json()) as { stock: number | null })
          .stock
      return { tea: await read(tea.id), sugar: await read(sugar.id), rice: await read(rice.id) }
    }
    const move = async (id: string, status: OrderStatus) =>
      (await call(`/orders/${id}/status`, { method: 'PATCH', token: tenant.apiKey, json: { status } })).status

    // Two lines of the same product come back together.
    const pending = await createOrder(call, tenant.apiKey, [
      { productId: tea.id, quantity: 2 },
      { productId: sugar.id, quantity: 1 },
      { productId: tea.id, quantity: 1 },
    ])
    const confirmed = await createOrder(call, tenant.apiKey, [{ productId: rice.id, quantity: 3 }])
    expect(await stocks()).toEqual({ tea: 2, sugar: null, rice: 0 })
    expect(await move(pending.id, 'cancelled')).toBe(200)
    expect(await stocks()).toEqual({ tea: 5, sugar: null, rice: 0 })
    expect(await move(confirmed.id, 'confirmed')).toBe(200)
    expect(await stocks()).toEqual({ tea: 5, sugar: null, rice: 0 })
    expect(await move(confirmed.id, 'cancelled')).toBe(200)
    expect(await stocks()).toEqual({ tea: 5, sugar: null, rice: 3 })
    expect(await move(pending.id, 'cancelled')).toBe(409)
    expect(await stocks()).toEqual({ tea: 5, sugar: null, rice: 3 })

    const paid = await createOrder(call, tenant.apiKey, [{ productId: tea.id, quantity: 1 }])
    const payment = await call(`/orders/${paid.id}/payments`, {
      method: 'POST',
      token: tenant.apiKey,
      json: { provider: 'sandbox', source: 'tok_success' },
    })
    expect(payment.status).toBe(201)
    expect(await move(paid.id, 'refunded')).toBe(200)
    expect(await stocks()).toEqual({ tea: 4, sugar: null, rice: 3 })

    // Two cancels at once: one wins, and the units come back once.
    const raced = await createOrder(call, tenant.apiKey, [{ productId: tea.id, quantity: 2 }])
    const answers = await Promise.all([move(raced.id, 'cancelled'), move(raced.id, 'cancelled')])
    expect(answers.sort()).toEqual([200, 409])
    expect(await stocks()).toEqual({ tea: 4, sugar: null, rice: 3 })

    // A stock set to its maximum while the order held units stays at the maximum.
    const held = await createOrder(call, tenant.apiKey, [{ productId: tea.id, quantity: 2 }])
    const restocked = await call(`/products/${tea.id}`, {
      method: 'PATCH',
      token: tenant.apiKey,
      json: { stock: 1_000_000_000 },
    })
    expect(restocked.status).toBe(200)
    expect(await move(held.id, 'cancelled')).toBe(200)
    expect(await stocks()).toEqual({ tea: 1_000_000_000, sugar: null, rice: 3 })
  })
})
