import { and, count, eq, inArray, isNotNull, isNull, ne, notInArray, or, type SQL, sql } from 'drizzle-orm'
import type { Logger } from '../../core/logger.ts'
import { scrubText } from '../../core/scrub.ts'
import type { Database, Executor } from '../../db/client.ts'
import { alertOutbox, alertOutboxAttempts } from '../../db/schema.ts'
import { UUID_PATTERN } from '../../shared/models.ts'
import type { AlertingMetrics, EarlierAttemptOutcome } from '../metrics.ts'
import { loggableMessageId } from '../whatsapp/client.ts'
import type { DeliveryStatus } from './receipts.ts'

/** The error codes of attempts whose fate we never learnt: Meta may have sent them. */
export const UNANSWERED_CODES = ['timeout', 'network', 'http_200']

/**
 * Records, for the outbox rows `ids`, the attempt each row currently holds when that attempt
 * may have reached WhatsApp without our knowing: a row still `sending` (its sender lost its
 * lease, or crashed between Meta accepting the message and recording its wamid) or `pending`
 * after a call that got no usable answer (UNANSWERED_CODES). Called just before the row's
 * group id is overwritten (a new claim, or a re-send cancelled by a late delivery), so that a
 * status webhook naming that group id (biz_opaque_callback_data) is still recognised as one of
 * the row's attempts. Rows whose attempt is already recorded are left as they are.
 * @param ids outbox row ids (uuid)
 * @param now our clock, for created_at/updated_at
 */
export async function rememberUnanswered(executor: Executor, ids: string[], now: Date): Promise<void> {
  if (ids.length === 0) return
  await executor
    .insert(alertOutboxAttempts)
    .select(
      executor
        .select({
          outboxId: alertOutbox.id,
          groupId: sql<string>`${alertOutbox.groupId}`.as('group_id'),
          waMessageId: sql<string | null>`null::text`.as('wa_message_id'),
          status: sql<string>`'unanswered'`.as('status'),
          createdAt: sql<Date>`${now.toISOString()}::timestamptz`.as('created_at'),
          updatedAt: sql<Date>`${now.toISOString()}::timestamptz`.as('updated_at'),
        })
        .from(alertOutbox)
        .where(
          and(
            inArray(alertOutbox.id, ids),
            isNotNull(alertOutbox.groupId),
            or(
              eq(alertOutbox.status, 'sending'),
              and(eq(alertOutbox.status, 'pending'), inArray(alertOutbox.lastErrorCode, UNANSWERED_CODES)),
            ),
          ),
        ),
    )
    .onConflictDoNothing()
}

/**
 * Statuses only move forward. Meta does not order webhooks, and `delivered` can follow
 * `failed` (another device got it), so failed ranks below delivered and read. `unanswered` is
 * an earlier attempt's (alert_outbox_attempts) before any status of it arrived.
 */
export const RANK: Record<string, number> = {
  pending: 0,
  sending: 0,
  unanswered: 0,
  sent: 1,
  failed: 2,
  delivered: 3,
  read: 4,
}

/**
 * The row's rank, in SQL: the forward-only check has to sit in the UPDATE's WHERE, where
 * PostgreSQL re-evaluates it against a row a concurrent webhook just changed. Checked in
 * JavaScript after a SELECT, a `failed` racing a `read` could overwrite it.
 */
export const rankOf = (column: SQL | typeof alertOutbox.status | typeof alertOutboxAttempts.status): SQL =>
  sql`(case ${column} ${sql.join(
    Object.entries(RANK).map(([status, rank]) => sql`when ${status} then ${rank}`),
    sql` `,
  )} else 0 end)`

/** The status' group id, when it is one: a uuid column, so anything else was a cast error, a 500 to Meta. */
export const callbackOf = (status: DeliveryStatus): string | undefined =>
  status.callbackData && UUID_PATTERN.test(status.callbackData) ? status.callbackData : undefined

/**
 * Applies `status` to the earlier attempts it is about (alert_outbox_attempts: by wamid, or
 * by group id for an attempt whose wamid we never learnt), forward only, so a re-delivered
 * webhook changes nothing. A `sent`, `delivered` or `read` proves that attempt went out
 * (a `sent` never overtakes a recorded `failed`: Meta sends `failed` after `sent`): a row
 * still waiting, `pending`, for its re-send is moved to that status under that attempt, and
 * the re-send never happens; a row whose re-send is under way or done keeps the newer
 * attempt's state, and the duplicate is counted and logged. A `failed` is only recorded: the
 * row's own attempt decides its fate. Meta's order, as BSPs relaying the Cloud API document
 * it (YCloud, `whatsapp.message.updated`): `sent` "may change to failed, delivered, or read",
 * webhooks are not ordered, and `delivered` may come after `failed` with several devices.
 * @returns rows whose earlier attempt this status changed, less those whose current attempt
 *   it also is (counted by the row's own update)
 */
export async function applyEarlier(
  db: Database,
  deps: { metrics: AlertingMetrics; log: Logger },
  status: DeliveryStatus,
  now: Date,
): Promise<number> {
  const { log } = deps
  const callback = callbackOf(status)
  const earlier = alertOutboxAttempts
  return db.transaction(async (tx) => {
    const advanced = await tx
      .update(earlier)
      .set({ status: status.status, waMessageId: status.id, updatedAt: now })
      .where(
        and(
          callback === undefined
            ? eq(earlier.waMessageId, status.id)
            : or(
                eq(earlier.waMessageId, status.id),
                and(eq(earlier.groupId, callback), isNull(earlier.waMessageId)),
              ),
          sql`${rankOf(earlier.status)} < ${RANK[status.status] ?? 0}`,
        ),
      )
      .returning({ outboxId: earlier.outboxId, groupId: earlier.groupId })
    if (advanced.length === 0) return 0
    const ids = advanced.map((a) => a.outboxId)
    const others = and(
      inArray(alertOutbox.id, ids),
      or(isNull(alertOutbox.waMessageId), ne(alertOutbox.waMessageId, status.id)),
    )!
    if (status.status === 'failed') {
      const [row] = await tx.select({ n: count() }).from(alertOutbox).where(others)
      return row?.n ?? 0
    }
    // One send has one group id: every attempt a status finds shares it.
    const groupId = advanced[0]!.groupId
    const waiting = and(inArray(alertOutbox.id, ids), eq(alertOutbox.status, 'pending'))!
    // The waiting row's own attempt may have gone out too (a timed-out retry): kept before
    // its group id is replaced, so that a status of it is still recognised.
    await rememberUnanswered(
      tx,
      (await tx.select({ id: alertOutbox.id }).from(alertOutbox).where(waiting)).map((r) => r.id),
      now,
    )
    const cancelled = await tx
      .update(alertOutbox)
      .set({
        status: status.status,
        waMessageId: status.id,
        groupId,
        sentAt: sql`coalesce(${alertOutbox.sentAt}, ${now.toISOString()}::timestamptz)`,
        leaseUntil: null,
        lastErrorCode: null,
        lastErrorMessage: null,
        updatedAt: now,
      })
      .where(waiting)
      .returning({ alertname: alertOutbox.alertname })
    const resent = await tx
      .select({ alertname: alertOutbox.alertname })
      .from(alertOutbox)
      .where(and(others, notInArray(alertOutbox.status, ['pending', 'cancelled'])))
    // Counted once per status, as one message: the rows it covers went out together.
    const report = (outcome: EarlierAttemptOutcome, rows: number, message: string, fields = {}) => {
      if (rows === 0) return
      deps.metrics.earlierAttemptStatus(outcome)
      log.info({ waMessageId: loggableMessageId(status.id), status: status.status, rows, ...fields }, message)
    }
    report(
      'resend_cancelled',
      cancelled.length,
      'WhatsApp delivered an earlier attempt of an alert message after all; its re-send is cancelled',
      { alertnames: [...new Set(cancelled.map((row) => scrubText(row.alertname)))] },
    )
    report(
      'after_resend',
      resent.length,
      'WhatsApp reports a status of an earlier attempt of an alert message that was sent again',
    )
    return cancelled.length + resent.length
  })
}
