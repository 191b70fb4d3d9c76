import { and, desc, eq, lt, or, sql } from 'drizzle-orm'
import type { Executor } from '../db/client.ts'
import { preparedPerExecutor } from '../db/prepared.ts'
import { products } from '../db/schema.ts'
import type { Cursor } from '../shared/models.ts'

export type ProductRow = typeof products.$inferSelect

export function createProductRepository() {
  // Every product view runs this read: prepared, so drizzle builds it once.
  const byId = preparedPerExecutor((db) =>
    db
      .select()
      .from(products)
      .where(and(eq(products.tenantId, sql.placeholder('tenantId')), eq(products.id, sql.placeholder('id'))))
      .limit(1)
      .prepare('product_by_tenant_and_id'),
  )
  return {
    async insert(db: Executor, values: typeof products.$inferInsert) {
      // The keyset cursor carries createdAt as a JS Date (whole milliseconds): a row stored with
      // the database clock's microseconds, later in the same millisecond as a page's last row,
      // would sort after it yet compare before the cursor, and no page would list it.
      const now = new Date()
      const [row] = await db
        .insert(products)
        .values({ createdAt: now, updatedAt: now, ...values })
        .returning()
      return row!
    },
    async find(db: Executor, tenantId: string, id: string) {
      const [row] = await byId(db).execute({ tenantId, id })
      return row
    },
    async list(db: Executor, tenantId: string, limit: number, after?: Cursor) {
      const page = after
        ? or(
            lt(products.createdAt, after.createdAt),
            and(eq(products.createdAt, after.createdAt), lt(products.id, after.id)),
          )
        : undefined
      return db
        .select()
        .from(products)
        .where(and(eq(products.tenantId, tenantId), page))
        .orderBy(desc(products.createdAt), desc(products.id))
        .limit(limit + 1)
    },
    async update(db: Executor, tenantId: string, id: string, changes: Partial<typeof products.$inferInsert>) {
      const [row] = await db
        .update(products)
        .set({ ...changes, updatedAt: new Date() })
        .where(and(eq(products.tenantId, tenantId), eq(products.id, id)))
        .returning()
      return row
    },
  }
}
