import { and, eq, isNotNull, isNull, lte, sql } from 'drizzle-orm'
import type { Executor } from '../db/client.ts'
import { idempotencyKeys } from '../db/schema.ts'

export type IdempotencyRow = typeof idempotencyKeys.$inferSelect

const byKey = (scope: string, key: string) =>
  and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key))

export function createIdempotencyRepository() {
  return {
    /** Inserts a claim unless the key exists; the row when this call created it. */
    async insertClaim(db: Executor, values: typeof idempotencyKeys.$inferInsert) {
      const [row] = await db.insert(idempotencyKeys).values(values).onConflictDoNothing().returning()
      return row
    },

    async findForUpdate(db: Executor, scope: string, key: string) {
      const [row] = await db.select().from(idempotencyKeys).where(byKey(scope, key)).limit(1).for('update')
      return row
    },

    /** Forgets one key whose time is up, so that it can be used again. */
    async deleteExpired(db: Executor, scope: string, key: string, now: Date) {
      await db.delete(idempotencyKeys).where(and(byKey(scope, key), lte(idempotencyKeys.expiresAt, now)))
    },

    async takeOver(
      db: Executor,
      scope: string,
      key: string,
      values: Pick<IdempotencyRow, 'lockToken' | 'lockedUntil' | 'requestId'>,
    ) {
      await db.update(idempotencyKeys).set(values).where(byKey(scope, key))
    },

    /** Links the claim to the effect it started (a payment id); false when the claim was lost. */
    async attach(db: Executor, scope: string, key: string, token: string, resourceId: string) {
      const rows = await db
        .update(idempotencyKeys)
        .set({ resourceId })
        .where(and(byKey(scope, key), eq(idempotencyKeys.lockToken, token)))
        .returning({ key: idempotencyKeys.key })
      return rows.length === 1
    },

    /**
     * Hands a claim whose effect is still unsettled over to whoever settles it (reconciliation):
     * the lock token goes, and `lockedUntil` becomes when the effect should be settled. False
     * when `token` no longer holds the key or a response is already stored.
     */
    async handOver(db: Executor, scope: string, key: string, token: string, settledBy: Date) {
      const rows = await db
        .update(idempotencyKeys)
        .set({ lockToken: null, lockedUntil: settledBy })
        .where(
          and(
            byKey(scope, key),
            eq(idempotencyKeys.lockToken, token),
            isNull(idempotencyKeys.responseStatus),
            isNotNull(idempotencyKeys.resourceId),
          ),
        )
        .returning({ key: idempotencyKeys.key })
      return rows.length === 1
    },

    /**
     * Stores the response and releases the lock; false when `token` no longer holds the key.
     * A null token completes whoever holds it, if nobody completed it yet (reconciliation).
     */
    async complete(
      db: Executor,
      scope: string,
      key: string,
      token: string | null,
      response: { status: number; body: string; sealed: boolean },
    ) {
      const rows = await db
        .update(idempotencyKeys)
        .set({
          responseStatus: response.status,
          responseBody: response.body,
          sealed: response.sealed,
          lockToken: null,
          lockedUntil: null,
        })
        .where(
          and(
            byKey(scope, key),
            token === null ? isNull(idempotencyKeys.responseStatus) : eq(idempotencyKeys.lockToken, token),
          ),
        )
        .returning({ key: idempotencyKeys.key })
      return rows.length === 1
    },

    async find(db: Executor, scope: string, key: string) {
      const [row] = await db.select().from(idempotencyKeys).where(byKey(scope, key)).limit(1)
      return row
    },

    /** Claims still waiting for the effect `resourceId` started (reconciliation completes them). */
    async pendingFor(db: Executor, resourceId: string) {
      return db
        .select()
        .from(idempotencyKeys)
        .where(and(eq(idempotencyKeys.resourceId, resourceId), isNull(idempotencyKeys.responseStatus)))
    },

    /** Drops a claim that produced no effect (the request failed before doing anything). */
    async release(db: Executor, scope: string, key: string, token: string) {
      await db
        .delete(idempotencyKeys)
        .where(
          and(
            byKey(scope, key),
            eq(idempotencyKeys.lockToken, token),
            isNull(idempotencyKeys.responseStatus),
            isNull(idempotencyKeys.resourceId),
          ),
        )
    },

    /** Deletes every key that expired at or before `now`; the number deleted. */
    async prune(db: Executor, now: Date, batch: number) {
      const rows = await db
        .delete(idempotencyKeys)
        .where(
          sql`(${idempotencyKeys.scope}, ${idempotencyKeys.key}) in (select scope, key from idempotency_keys where expires_at <= ${now.toISOString()}::timestamptz limit ${batch})`,
        )
        .returning({ key: idempotencyKeys.key })
      return rows.length
    },
  }
}
