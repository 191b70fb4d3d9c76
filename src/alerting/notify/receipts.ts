import { and, eq, inArray, isNotNull, isNull, or, type SQL, sql } from 'drizzle-orm'
import type { Clock } from '../../core/clock.ts'
import type { Logger } from '../../core/logger.ts'
import { scrubText } from '../../core/scrub.ts'
import type { Database, Executor } from '../../db/client.ts'
import { alertOutbox, alertOutboxAttempts } from '../../db/schema.ts'
import type { AlertingMetrics } from '../metrics.ts'
import { classifyError, cutText, loggableMessageId } from '../whatsapp/client.ts'
import { applyEarlier, callbackOf, RANK, rankOf, UNANSWERED_CODES } from './attempts.ts'
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
 * Meta's error message as the row's last_error_message: phone numbers filtered, at most 500
 * UTF-16 units, cut before an emoji rather than through it (`cutText`): a lone surrogate half
 * reached PostgreSQL as U+FFFD, and the stored message ended in `�`.
 */
const errorText = (message: string) => cutText(scrubText(message), 500)

/**
 * What a status's log line says of the message it moved: its id (as loggable), Meta's code
 * and the distinct alert names of its rows, sorted (one line per message, however many rows).
 */
const messageFields = (status: DeliveryStatus, rows: ReadonlyArray<{ alertname: string }>) => ({
  waMessageId: loggableMessageId(status.id),
  code: status.errorCode,
  alertnames: [...new Set(rows.map((row) => scrubText(row.alertname)))].sort(),
})

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
                lastErrorMessage: errorText(status.errorMessage ?? 're-engagement window closed'),
                updatedAt: now,
              })
              .where(which)
              .returning({ alertname: alertOutbox.alertname })
          })
          if (requeued.length > 0) {
            // One message re-queued, counted and logged once, as the sender counts the same
            // 131047 when the send's own answer carries it: Meta mostly reports it here, late,
            // and a re-send nobody counted or logged was invisible.
            deps.metrics.messageSent('retry')
            log.warn(messageFields(status, requeued), 'WhatsApp window closed; retrying as a template')
          }
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
                    lastErrorMessage: errorText(status.errorMessage ?? ''),
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
            { ...messageFields(status, requeued), attempt: attempts },
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
          // A `delivered` or `read` overtaking a `failed` (another device of the recipient got
          // it), or a `sent` proving a timed-out attempt went out, ends that error: the row must
          // not say delivered and failed with 131026 at once. As the sender's recordSent clears it.
          ...(status.status === 'failed'
            ? {
                lastErrorCode: String(status.errorCode ?? 'unknown'),
                lastErrorMessage: errorText(status.errorMessage ?? ''),
              }
            : { lastErrorCode: null, lastErrorMessage: null }),
        })
        .where(and(rowsOf(status), forward))
        .returning({ alertname: alertOutbox.alertname })
      // Counted and logged only when this status changed a row: a re-delivered or overtaken
      // `failed` is not a second failure. Once per message, whatever its rows (a message can
      // carry several, everything due for one recipient), as the sender counts a failed send:
      // one per row put whatsapp_messages_sent_total{status="failed"} above the messages sent.
      if (status.status === 'failed' && updated.length > 0) {
        deps.metrics.messageSent('failed')
        log.error(messageFields(status, updated), 'WhatsApp reports the alert message failed')
      }
      return changed + updated.length + (await applyEarlier(db, { metrics: deps.metrics, log }, status, now))
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
