import { and, eq, inArray, isNotNull, or, sql } from 'drizzle-orm'
import type { Executor } from '../../db/client.ts'
import { alertOutbox, alertOutboxAttempts } from '../../db/schema.ts'

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
