import { and, asc, desc, eq, inArray, lt, or, sql } from 'drizzle-orm'
import type { Executor } from '../db/client.ts'
import { MAX_STOCK, orderItems, orders, products } from '../db/schema.ts'
import type { Cursor } from '../shared/models.ts'
import type { OrderListFilter, OrderStatus } from './model.ts'

export type OrderRow = typeof orders.$inferSelect
export type OrderItemRow = typeof orderItems.$inferSelect

export function createOrderRepository() {
  return {
    async productsForOrder(db: Executor, tenantId: string, ids: string[]) {
      return db
        .select()
        .from(products)
        .where(and(eq(products.tenantId, tenantId), inArray(products.id, ids)))
    },

    /**
     * Takes `quantity` units if that many are left (or stock is unlimited), in one statement:
     * concurrent orders for the last unit cannot both succeed. False when stock is short.
     */
    async takeStock(db: Executor, tenantId: string, productId: string, quantity: number) {
      const rows = await db
        .update(products)
        .set({ stock: sql`${products.stock} - ${quantity}`, updatedAt: new Date() })
        .where(
          and(
            eq(products.tenantId, tenantId),
            eq(products.id, productId),
            sql`(${products.stock} is null or ${products.stock} >= ${quantity})`,
          ),
        )
        .returning({ id: products.id })
      return rows.length === 1
    },

    /**
     * Gives back the units an order took: each product's quantities (summed over the order's
     * lines) added to its stock, in product id order as orders take them, so that a cancel and
     * a concurrent order cannot deadlock. A product whose stock is no longer tracked (null)
     * stays unlimited; a count past the documented maximum stock stops there.
     */
    async returnStock(db: Executor, tenantId: string, items: Array<{ productId: string; quantity: number }>) {
      const units = new Map<string, number>()
      for (const item of items) units.set(item.productId, (units.get(item.productId) ?? 0) + item.quantity)
      for (const [productId, quantity] of [...units].sort(([a], [b]) => a.localeCompare(b))) {
        await db
          .update(products)
          .set({ stock: sql`least(${products.stock} + ${quantity}, ${MAX_STOCK})`, updatedAt: new Date() })
          .where(
            and(
              eq(products.tenantId, tenantId),
              eq(products.id, productId),
              sql`${products.stock} is not null`,
            ),
          )
      }
    },

    async insertOrder(
      db: Executor,
      order: typeof orders.$inferInsert,
      items: Array<typeof orderItems.$inferInsert>,
    ) {
      // Whole milliseconds from the app clock, as products: the keyset cursor carries createdAt as
      // a JS Date, and a row stored with the database's microseconds in the same millisecond as
      // a page's last row would sort after it yet compare before the cursor (no page lists it).
      const now = new Date()
      const [row] = await db
        .insert(orders)
        .values({ createdAt: now, updatedAt: now, ...order })
        .returning()
      const itemRows = await db
        .insert(orderItems)
        .values(items.map((item) => ({ ...item, orderId: row!.id })))
        .returning()
      return { order: row!, items: itemRows }
    },

    async find(db: Executor, tenantId: string, id: string, options: { forUpdate?: boolean } = {}) {
      const query = db
        .select()
        .from(orders)
        .where(and(eq(orders.tenantId, tenantId), eq(orders.id, id)))
        .limit(1)
      const [row] = options.forUpdate ? await query.for('update') : await query
      return row
    },

    async items(db: Executor, tenantId: string, orderIds: string[]) {
      if (orderIds.length === 0) return []
      return db
        .select()
        .from(orderItems)
        .where(and(eq(orderItems.tenantId, tenantId), inArray(orderItems.orderId, orderIds)))
        .orderBy(asc(orderItems.orderId), asc(orderItems.line))
    },

    async list(db: Executor, tenantId: string, filter: OrderListFilter, limit: number, after?: Cursor) {
      return db
        .select()
        .from(orders)
        .where(
          and(
            eq(orders.tenantId, tenantId),
            filter.status ? eq(orders.status, filter.status) : undefined,
            filter.channel ? eq(orders.channel, filter.channel) : undefined,
            after
              ? or(
                  lt(orders.createdAt, after.createdAt),
                  and(eq(orders.createdAt, after.createdAt), lt(orders.id, after.id)),
                )
              : undefined,
          ),
        )
        .orderBy(desc(orders.createdAt), desc(orders.id))
        .limit(limit + 1)
    },

    /** Moves the order only if it is still in `from` (optimistic check under concurrency). */
    async setStatus(db: Executor, tenantId: string, id: string, from: OrderStatus, to: OrderStatus) {
      const [row] = await db
        .update(orders)
        .set({ status: to, updatedAt: new Date() })
        .where(and(eq(orders.tenantId, tenantId), eq(orders.id, id), eq(orders.status, from)))
        .returning()
      return row
    },
  }
}
