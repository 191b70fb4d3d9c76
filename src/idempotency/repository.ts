import { and, eq, isNotNull, isNull, lte, or, type SQL, sql } from 'drizzle-orm'
import type { Executor } from '../db/client.ts'
import { idempotencyKeys } from '../db/schema.ts'

export type IdempotencyRow = typeof idempotencyKeys.$inferSelect

const byKey = (scope: string, key: string) =>
  and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key))

/**
 * Keys expiry may delete: all but those whose effect is attached and still unsettled (a
 * payment left pending). Deleting one of those would let a retry claim the key afresh and
 * be refused (the order is paid, or a payment is in progress) instead of replaying the
 * outcome once it settles, however long the provider takes to answer.
 */
const expirable = or(isNull(idempotencyKeys.resourceId), isNotNull(idempotencyKeys.responseStatus))

/** A response as stored for a key's replays. */
type ResponseToStore = { status: number; body: string; sealed: boolean }

/** A response's status and body (never sealed), as `restate` writes them. */
type StoredResponseRow = { status: number; body: string }

/** Stores `response` in the key `where` selects and releases its lock; false when none was. */
async function storeResponse(
  db: Executor,
  where: SQL | undefined,
  response: ResponseToStore,
  also: Partial<Pick<IdempotencyRow, 'expiresAt'>> = {},
) {
  const rows = await db
    .update(idempotencyKeys)
    .set({
      responseStatus: response.status,
      responseBody: response.body,
      sealed: response.sealed,
      lockToken: null,
      lockedUntil: null,
      ...also,
    })
    .where(where)
    .returning({ key: idempotencyKeys.key })
  return rows.length === 1
}

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

    /** Forgets one key whose time is up, so that it can be used again; never an unsettled effect's. */
    async deleteExpired(db: Executor, scope: string, key: string, now: Date) {
      await db
        .delete(idempotencyKeys)
        .where(and(byKey(scope, key), lte(idempotencyKeys.expiresAt, now), expirable))
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

    /** Stores the response and releases the lock; false when `token` no longer holds the key. */
    async complete(db: Executor, scope: string, key: string, token: string, response: ResponseToStore) {
      return storeResponse(db, and(byKey(scope, key), eq(idempotencyKeys.lockToken, token)), response)
    },

    /**
     * Stores the response of a settled effect whoever holds the key (reconciliation), if
     * nobody stored one yet, and keeps the key until `expiresAt`; false when already answered.
     */
    async settle(db: Executor, scope: string, key: string, response: ResponseToStore, expiresAt: Date) {
      return storeResponse(db, and(byKey(scope, key), isNull(idempotencyKeys.responseStatus)), response, {
        expiresAt,
      })
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

    /**
     * Keys attached to `resourceId` that already hold a response, but sealed ones (whose body
     * only the caller's credential could write again); the keys to restate when the effect changed.
     */
    async answeredFor(db: Executor, resourceId: string) {
      return db
        .select()
        .from(idempotencyKeys)
        .where(
          and(
            eq(idempotencyKeys.resourceId, resourceId),
            isNotNull(idempotencyKeys.responseStatus),
            eq(idempotencyKeys.sealed, false),
          ),
        )
    },

    /** Replaces the response an answered key holds; its lock and expiry stay as they are. */
    async restate(db: Executor, scope: string, key: string, response: StoredResponseRow) {
      await db
        .update(idempotencyKeys)
        .set({ responseStatus: response.status, responseBody: response.body })
        .where(and(byKey(scope, key), isNotNull(idempotencyKeys.responseStatus)))
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

    /** Deletes every key that expired at or before `now`, but an unsettled effect's; the number deleted. */
    async prune(db: Executor, now: Date, batch: number) {
      const rows = await db
        .delete(idempotencyKeys)
        .where(
          sql`(${idempotencyKeys.scope}, ${idempotencyKeys.key}) in (select scope, key from idempotency_keys where expires_at <= ${now.toISOString()}::timestamptz and (resource_id is null or response_status is not null) limit ${batch})`,
        )
        .returning({ key: idempotencyKeys.key })
      return rows.length
    },
  }
}
