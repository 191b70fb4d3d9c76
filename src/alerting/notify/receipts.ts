import { and, count, eq, inArray, isNotNull, isNull, ne, notInArray, or, type SQL, sql } from 'drizzle-orm'
import type { Clock } from '../../core/clock.ts'
import type { Logger } from '../../core/logger.ts'
import { scrubText } from '../../core/scrub.ts'
import type { Database, Executor } from '../../db/client.ts'
import { alertOutbox, alertOutboxAttempts } from '../../db/schema.ts'
import { UUID_PATTERN } from '../../shared/models.ts'
import type { AlertingMetrics, EarlierAttemptOutcome } from '../metrics.ts'
import { classifyError, loggableMessageId } from '../whatsapp/client.ts'
import { rememberUnanswered, UNANSWERED_CODES } from './attempts.ts'
import type { TemplateNames } from './render.ts'
import { backoffMs } from './sender.ts'

export interface DeliveryStatus {
  /** The wamid the send answered with. */
  id: string
  status: 'sent' | 'delivered' | 'read' | 'failed'
  errorCode?: number
  errorMessage?: string
  /** Our group id, echoed from biz_opaque_callback_data. */
  callbackData?: string
}

/**
 * Statuses only move forward. Meta does not order webhooks, and `delivered` can follow
 * `failed` (another device got it), so failed ranks below delivered and read. `unanswered` is
 * an earlier attempt's (alert_outbox_attempts) before any status of it arrived.
 */
const RANK: Record<string, number> = {
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
const rankOf = (column: SQL | typeof alertOutbox.status | typeof alertOutboxAttempts.status): SQL =>
  sql`(case ${column} ${sql.join(
    Object.entries(RANK).map(([status, rank]) => sql`when ${status} then ${rank}`),
    sql` `,
  )} else 0 end)`

/** The status' group id, when it is one: a uuid column, so anything else was a cast error, a 500 to Meta. */
const callbackOf = (status: DeliveryStatus): string | undefined =>
  status.callbackData && UUID_PATTERN.test(status.callbackData) ? status.callbackData : undefined

/**
 * The rows whose current attempt a status is about. By wamid: the sender records it with
 * `sent`, and a re-queue clears it (keeping it in alert_outbox_attempts), so a status for an
 * earlier attempt (Meta re-delivers webhooks for days) matches nothing here: it is applied to
 * that attempt instead (`applyEarlier`). By our group id (biz_opaque_callback_data) while the row is still `sending` (we
 * crashed between Meta accepting the message and recording its id) or waits, `pending`, for
 * the retry of an attempt that got no usable answer (timeout, dropped connection, a 200
 * without an id): either way a `sent` (or later) status proves that attempt went out, so it
 * must not be sent again. A `failed` one does not match a waiting row, whose retry stands.
 * Once the row is claimed again, its group id changes and the older attempt matches nothing.
 */
function rowsOf(status: DeliveryStatus): SQL {
  const byId = eq(alertOutbox.waMessageId, status.id)
  const callback = callbackOf(status)
  const byGroup =
    callback !== undefined
      ? and(
          isNull(alertOutbox.waMessageId),
          eq(alertOutbox.groupId, callback),
          status.status === 'failed'
            ? eq(alertOutbox.status, 'sending')
            : or(
                eq(alertOutbox.status, 'sending'),
                and(eq(alertOutbox.status, 'pending'), inArray(alertOutbox.lastErrorCode, UNANSWERED_CODES)),
              ),
        )
      : undefined
  return byGroup ? or(byId, byGroup)! : byId
}

/**
 * Applies delivery statuses from WhatsApp webhooks to outbox rows, idempotently. Mirrors the
 * Cloud API's message status webhook (`value.statuses[]`: sent, delivered, read, failed with
 * `errors[].code`).
 */
export function createReceipts(deps: {
  db: Database
  clock: Clock
  log: Logger
  metrics: AlertingMetrics
  templates: TemplateNames
  /** The sender's retry policy (WHATSAPP_RETRY_BASE_MS, WHATSAPP_MAX_ATTEMPTS), for failures Meta reports late. */
  retry: { baseMs: number; maxAttempts: number; random: () => number }
}) {
  const { db, clock, log } = deps

  /**
   * Keeps the attempt `status` is about as `failed`, for the rows `which` picks, before a
   * re-queue forgets its wamid and group id: Meta may still report it delivered (another device
   * of the recipient, a delayed status), and that must cancel the re-send, not be lost.
   */
  async function rememberFailed(tx: Executor, which: SQL, status: DeliveryStatus, now: Date) {
    const at = sql`${now.toISOString()}::timestamptz`
    await tx
      .insert(alertOutboxAttempts)
      .select(
        tx
          .select({
            outboxId: alertOutbox.id,
            groupId: sql<string>`${alertOutbox.groupId}`.as('group_id'),
            waMessageId: sql<string>`${status.id}::text`.as('wa_message_id'),
            status: sql<string>`'failed'`.as('status'),
            createdAt: sql<Date>`${at}`.as('created_at'),
            updatedAt: sql<Date>`${at}`.as('updated_at'),
          })
          .from(alertOutbox)
          .where(and(which, isNotNull(alertOutbox.groupId))),
      )
      .onConflictDoUpdate({
        target: [alertOutboxAttempts.outboxId, alertOutboxAttempts.groupId],
        set: { waMessageId: status.id, status: 'failed', updatedAt: now },
        setWhere: sql`${rankOf(alertOutboxAttempts.status)} < ${RANK.failed}`,
      })
  }

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
  async function applyEarlier(status: DeliveryStatus, now: Date): Promise<number> {
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
        log.info(
          { waMessageId: loggableMessageId(status.id), status: status.status, rows, ...fields },
          message,
        )
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

  return {
    /**
     * Moves the rows of the message `status.id` forward to `status.status`; a status that is
     * not ahead of the row's, or about an attempt that is no longer the row's, changes nothing.
     * A `failed` with 131047 (re-engagement window closed) on a free-text row re-queues it as
     * its template, once. A `failed` with a temporary or throttling code (131000, 131016,
     * 131056, 130429, …: `classifyError` of the sender, as Meta reports the same codes either
     * in the send's answer or later in this webhook) re-queues the row with the sender's
     * backoff while it has attempts left, as a failed send would be; either re-queue keeps
     * the attempt in alert_outbox_attempts, and a later status of an earlier attempt is
     * applied there (`applyEarlier`). Never throws for an unknown message.
     * @returns rows changed: their current attempt, or an earlier one this status recorded
     */
    async apply(status: DeliveryStatus): Promise<number> {
      const now = clock.now()
      const forward = and(
        sql`${alertOutbox.status} <> 'cancelled'`,
        sql`${rankOf(alertOutbox.status)} < ${RANK[status.status] ?? 0}`,
      )
      let changed = 0
      if (status.status === 'failed' && status.errorCode === 131047) {
        const templated = [
          deps.templates.firing ? 'firing' : undefined,
          deps.templates.resolved ? 'resolved' : undefined,
        ].filter((t): t is string => t !== undefined)
        if (templated.length > 0) {
          // Re-queued as a new attempt: the wamid and group id of this one are cleared so that a
          // re-delivery of this same 131047 (or any late status of it) no longer finds the row;
          // the attempt is kept in alert_outbox_attempts, where a late `delivered` still counts.
          const which = and(
            rowsOf(status),
            forward,
            eq(alertOutbox.mode, 'text'),
            inArray(alertOutbox.transition, templated),
            sql`coalesce((${alertOutbox.content}->>'forceTemplate')::boolean, false) = false`,
          )!
          const requeued = await db.transaction(async (tx) => {
            await rememberFailed(tx, which, status, now)
            return tx
              .update(alertOutbox)
              .set({
                status: 'pending',
                nextAttemptAt: now,
                content: sql`${alertOutbox.content} || '{"forceTemplate": true}'::jsonb`,
                waMessageId: null,
                groupId: null,
                leaseUntil: null,
                lastErrorCode: '131047',
                lastErrorMessage: scrubText(status.errorMessage ?? 're-engagement window closed').slice(
                  0,
                  500,
                ),
                updatedAt: now,
              })
              .where(which)
              .returning({ id: alertOutbox.id })
          })
          changed += requeued.length
        }
      }
      const failure = status.status === 'failed' ? classifyError(status.errorCode, 0) : undefined
      if (failure === 'retry' || failure === 'throttled') {
        // Meta accepted the send, then could not deliver it for a reason that lifts with time:
        // the sender would have retried this code, so a critical alert must not end `failed`
        // only because the code came late. A new attempt, as for 131047: this one's wamid and
        // group id are cleared so that a re-delivery of this status finds the row no more (the
        // attempt is kept in alert_outbox_attempts, as for 131047).
        // One wait for every row of the message (they went out together, and the sender
        // counts a message's attempts as its rows' most), so that they go out together again.
        const rows = await db
          .select({ attempts: alertOutbox.attempts })
          .from(alertOutbox)
          .where(and(rowsOf(status), forward))
        const attempts = Math.max(0, ...rows.map((r) => r.attempts))
        const requeued =
          rows.length > 0 && attempts < deps.retry.maxAttempts
            ? await db.transaction(async (tx) => {
                await rememberFailed(tx, and(rowsOf(status), forward)!, status, now)
                return tx
                  .update(alertOutbox)
                  .set({
                    status: 'pending',
                    nextAttemptAt: new Date(
                      now.getTime() + backoffMs(attempts, deps.retry.baseMs, deps.retry.random),
                    ),
                    waMessageId: null,
                    groupId: null,
                    leaseUntil: null,
                    lastErrorCode: String(status.errorCode),
                    lastErrorMessage: scrubText(status.errorMessage ?? '').slice(0, 500),
                    updatedAt: now,
                  })
                  .where(and(rowsOf(status), forward))
                  .returning({ alertname: alertOutbox.alertname })
              })
            : []
        if (requeued.length > 0) {
          // One message, counted once, as the sender counts a retry of a send.
          deps.metrics.messageSent('retry')
          log.warn(
            {
              waMessageId: loggableMessageId(status.id),
              code: status.errorCode,
              alertnames: [...new Set(requeued.map((row) => scrubText(row.alertname)))],
              attempt: attempts,
            },
            'WhatsApp reports the alert message failed for a temporary reason; will retry',
          )
        }
        changed += requeued.length
      }
      const updated = await db
        .update(alertOutbox)
        .set({
          status: status.status,
          waMessageId: status.id,
          sentAt: sql`coalesce(${alertOutbox.sentAt}, ${now.toISOString()}::timestamptz)`,
          leaseUntil: null,
          updatedAt: now,
          ...(status.status === 'failed'
            ? {
                lastErrorCode: String(status.errorCode ?? 'unknown'),
                lastErrorMessage: scrubText(status.errorMessage ?? '').slice(0, 500),
              }
            : {}),
        })
        .where(and(rowsOf(status), forward))
        .returning({ alertname: alertOutbox.alertname })
      // Counted and logged only for rows this status changed: a re-delivered or overtaken
      // `failed` is not a second failure.
      if (status.status === 'failed') {
        for (const row of updated) {
          deps.metrics.messageSent('failed')
          log.error(
            {
              waMessageId: loggableMessageId(status.id),
              code: status.errorCode,
              alertname: scrubText(row.alertname),
            },
            'WhatsApp reports the alert message failed',
          )
        }
      }
      return changed + updated.length + (await applyEarlier(status, now))
    },

    /**
     * Logs the items of a signed webhook that were skipped as malformed, like the Alertmanager
     * receiver's `invalid`. `firstInvalid` is a field path and problem, never a value, so no
     * phone number reaches the log.
     */
    skipped(invalid: number, firstInvalid: string | undefined): void {
      log.warn(
        { invalid, firstInvalid },
        'skipped malformed items in a WhatsApp webhook; the others are applied',
      )
    },
  }
}

export type Receipts = ReturnType<typeof createReceipts>
