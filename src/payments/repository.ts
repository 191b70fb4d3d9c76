import { and, eq } from 'drizzle-orm'
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
    async settle(
      db: Executor,
      id: string,
      result: Pick<PaymentRow, 'status' | 'providerReference' | 'failureReason'>,
    ) {
      const [row] = await db
        .update(payments)
        .set({ ...result, updatedAt: new Date() })
        .where(eq(payments.id, id))
        .returning()
      return row!
    },
  }
}
