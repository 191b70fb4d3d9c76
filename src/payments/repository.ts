import { and, asc, eq, inArray, lte, sql } from 'drizzle-orm'
import type { Executor } from '../db/client.ts'
import { payments } from '../db/schema.ts'

export type PaymentRow = typeof payments.$inferSelect

export function createPaymentRepository() {
  return {
    async insert(db: Executor, values: typeof payments.$inferInsert) {
      const [row] = await db.insert(payments).values(values).returning()
      return row!
    },
    async pendingFor(db: Executor, tenantId: string, orderId: string) {
      const [row] = await db
        .select({ id: payments.id })
        .from(payments)
        .where(
          and(eq(payments.tenantId, tenantId), eq(payments.orderId, orderId), eq(payments.status, 'pending')),
        )
        .limit(1)
      return row
    },
    /**
     * Settles a payment that is still pending; undefined when it is not (the request and
     * reconciliation may race for it: exactly one of them settles it).
     */
    async settle(
      db: Executor,
      id: string,
      result: Pick<PaymentRow, 'status' | 'providerReference' | 'failureReason'>,
    ) {
      const [row] = await db
        .update(payments)
        .set({ ...result, updatedAt: new Date() })
        .where(and(eq(payments.id, id), eq(payments.status, 'pending')))
        .returning()
      return row
    },
    /**
     * Moves a payment from status `from` (as the caller read it, under `lockForUpdate`) to
     * `to`: undefined when it is no longer in `from`, so that two reports of one payment never
     * both apply.
     */
    async transition(
      db: Executor,
      id: string,
      from: PaymentRow['status'],
      to: Pick<PaymentRow, 'status' | 'providerReference' | 'failureReason'>,
    ) {
      const [row] = await db
        .update(payments)
        .set({ ...to, updatedAt: new Date() })
        .where(and(eq(payments.id, id), eq(payments.status, from)))
        .returning()
      return row
    },
    /** The payment, its row locked until `db`'s transaction ends; undefined when there is none. */
    async lockForUpdate(db: Executor, id: string) {
      const [row] = await db.select().from(payments).where(eq(payments.id, id)).limit(1).for('update')
      return row
    },
    async find(db: Executor, id: string) {
      const [row] = await db.select().from(payments).where(eq(payments.id, id)).limit(1)
      return row
    },
    /**
     * Leases up to `limit` payments pending since `staleBefore` or earlier, oldest first:
     * their `updated_at` becomes `now`, so they are not stale again for another lease. Rows
     * another transaction holds are skipped.
     */
    async leaseStale(db: Executor, staleBefore: Date, now: Date, limit: number) {
      const stale = db
        .select({ id: payments.id })
        .from(payments)
        .where(and(eq(payments.status, 'pending'), lte(payments.updatedAt, staleBefore)))
        .orderBy(asc(payments.createdAt))
        .limit(limit)
        .for('update', { skipLocked: true })
      return db
        .update(payments)
        .set({ updatedAt: now })
        .where(and(inArray(payments.id, stale), eq(payments.status, 'pending')))
        .returning()
    },
    /** When the oldest pending payment was created, if any is pending. */
    async oldestPending(db: Executor) {
      const [row] = await db
        // mapWith: read as the column reads (db/timestamp.ts), not as new Date reads the text.
        .select({ createdAt: sql<Date | null>`min(${payments.createdAt})`.mapWith(payments.createdAt) })
        .from(payments)
        .where(eq(payments.status, 'pending'))
      return row?.createdAt ?? undefined
    },
  }
}
