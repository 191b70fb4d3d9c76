import { describe, expect, test } from 'bun:test'
import { and, eq, sql } from 'drizzle-orm'
import { AppError } from '../../src/core/errors.ts'
import { products as productsTable } from '../../src/db/schema.ts'
import type { BusinessMetrics } from '../../src/observability/business-metrics.ts'
import { createProductService } from '../../src/products/service.ts'
import { createTenantService } from '../../src/tenants/service.ts'
import { sharedDatabase } from '../helpers/db.ts'

async function setup() {
  const { db } = await sharedDatabase()
  const views: unknown[] = []
  const metrics: BusinessMetrics = {
    orderCreated() {},
    paymentProcessed() {},
    paymentProviderDuration() {},
    productViewed: (event) => views.push(event),
  }
  const tenants = createTenantService({ db })
  const [a, b] = await Promise.all([
    tenants.create({ name: 'A', ownerPhone: '+254711000401' }),
    tenants.create({ name: 'B', ownerPhone: '+254711000402' }),
  ])
  return { products: createProductService({ db, metrics }), a: a.id, b: b.id, views }
}

async function rejection(promise: Promise<unknown>) {
  try {
    await promise
  } catch (error) {
    if (error instanceof AppError) return { status: error.status, code: error.code, message: error.message }
    throw error
  }
  throw new Error('expected a rejection')
}

const NOT_FOUND = { status: 404, code: 'NOT_FOUND', message: 'Product not found' }

describe('product service', () => {
  test('create keeps every field; stock defaults to null (unlimited)', async () => {
    const { products, a } = await setup()
    const limited = await products.create(a, {
      name: 'Chai 500g',
      priceMinor: 45000,
      currency: 'KES',
      stock: 3,
    })
    expect(limited).toEqual({
      id: expect.any(String),
      name: 'Chai 500g',
      priceMinor: 45000,
      currency: 'KES',
      stock: 3,
      active: true,
      createdAt: limited.createdAt,
      updatedAt: limited.createdAt,
    })
    expect(Date.parse(limited.createdAt)).toBeGreaterThan(Date.now() - 60_000)
    const unlimited = await products.create(a, { name: 'Delivery', priceMinor: 0, currency: 'KES' })
    expect(unlimited.stock).toBeNull()
    expect(await products.get(a, limited.id)).toEqual(limited)
  })

  test("another tenant's product is not found for get, view, update, and is never listed", async () => {
    const { products, a, b, views } = await setup()
    const mine = await products.create(b, { name: 'B only', priceMinor: 250, currency: 'KES', stock: 1 })
    expect(await rejection(products.get(a, mine.id))).toEqual(NOT_FOUND)
    expect(await rejection(products.view(a, mine.id, 'web'))).toEqual(NOT_FOUND)
    expect(await rejection(products.update(a, mine.id, { priceMinor: 1 }))).toEqual(NOT_FOUND)
    expect(await products.list(a, {})).toEqual({ items: [], nextCursor: null })
    expect(views).toEqual([])
    expect(await products.get(b, mine.id)).toEqual(mine)
  })

  test('view counts one view on its channel after a successful read', async () => {
    const { products, a, views } = await setup()
    const p = await products.create(a, { name: 'Seen', priceMinor: 100, currency: 'KES' })
    expect(await products.view(a, p.id, 'instagram')).toEqual(p)
    expect(views).toEqual([{ tenantId: a, productId: p.id, channel: 'instagram' }])
  })

  test('update writes only the given fields and moves updatedAt', async () => {
    const { products, a } = await setup()
    const p = await products.create(a, { name: 'Flour', priceMinor: 18900, currency: 'KES', stock: 12 })
    await Bun.sleep(5)
    const updated = await products.update(a, p.id, { priceMinor: 19900 })
    expect({ ...updated, updatedAt: undefined }).toEqual({ ...p, priceMinor: 19900, updatedAt: undefined })
    expect(Date.parse(updated.updatedAt)).toBeGreaterThan(Date.parse(p.updatedAt))
    expect(await products.get(a, p.id)).toEqual(updated)
    expect(await rejection(products.update(a, crypto.randomUUID(), { active: false }))).toEqual(NOT_FOUND)
  })

  test('list pages newest first, 20 by default, and a cursor resumes exactly after the last item', async () => {
    const { products, a } = await setup()
    const made = []
    for (let i = 0; i < 22; i++)
      made.push(await products.create(a, { name: `P${i}`, priceMinor: i, currency: 'KES' }))
    // The list order: createdAt descending, then id descending (products made in the same
    // millisecond are ordered by id, not by when they were made).
    const ordered = [...made].sort((x, y) =>
      x.createdAt === y.createdAt ? (x.id < y.id ? 1 : -1) : x.createdAt < y.createdAt ? 1 : -1,
    )
    const newestFirst = ordered.map((p) => p.name)
    const first = await products.list(a, {})
    expect(first.items.map((p) => p.name)).toEqual(newestFirst.slice(0, 20))
    expect(first.nextCursor).toEqual(expect.any(String))
    const rest = await products.list(a, { cursor: first.nextCursor! })
    expect(rest).toEqual({ items: ordered.slice(20), nextCursor: null })
    const exact = await products.list(a, { limit: 22 })
    expect({ names: exact.items.map((p) => p.name), next: exact.nextCursor }).toEqual({
      names: newestFirst,
      next: null,
    })
    const three = await products.list(a, { limit: 3 })
    expect(three.items.map((p) => p.name)).toEqual(newestFirst.slice(0, 3))
    const next = await products.list(a, { limit: 3, cursor: three.nextCursor! })
    expect(next.items.map((p) => p.name)).toEqual(newestFirst.slice(3, 6))
  })

  test('pages never skip products created in the same millisecond as a page boundary', async () => {
    const { products, a } = await setup()
    const made = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        products.create(a, { name: `Q${i}`, priceMinor: i, currency: 'KES' }),
      ),
    )
    // The cursor holds whole milliseconds, so the stored timestamps must too.
    const { db } = await sharedDatabase()
    const [subMillisecond] = await db
      .select({ subMs: sql<number>`count(*)::int` })
      .from(productsTable)
      .where(
        and(
          eq(productsTable.tenantId, a),
          sql`(extract(microseconds from ${productsTable.createdAt})::int % 1000 <> 0
            or extract(microseconds from ${productsTable.updatedAt})::int % 1000 <> 0)`,
        ),
      )
    expect(subMillisecond?.subMs).toBe(0)
    const seen: string[] = []
    let cursor: string | undefined
    do {
      const page = await products.list(a, { limit: 2, cursor })
      seen.push(...page.items.map((p) => p.id))
      cursor = page.nextCursor ?? undefined
    } while (cursor)
    expect(seen.sort()).toEqual(made.map((p) => p.id).sort())
  })
})
