import { eq, sql } from 'drizzle-orm'
import type { Clock } from '../../core/clock.ts'
import type { Logger } from '../../core/logger.ts'
import type { Database } from '../../db/client.ts'
import { alertOutbox } from '../../db/schema.ts'
import type { AlertingMetrics } from '../metrics.ts'
import type { TemplateNames } from './render.ts'

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
 * `failed` (another device got it), so failed ranks below delivered and read.
 */
const RANK: Record<string, number> = { pending: 0, sending: 0, sent: 1, failed: 2, delivered: 3, read: 4 }

/** Applies delivery statuses from WhatsApp webhooks to outbox rows, idempotently. */
export function createReceipts(deps: {
  db: Database
  clock: Clock
  log: Logger
  metrics: AlertingMetrics
  templates: TemplateNames
}) {
  const { db, clock, log } = deps
  return {
    async apply(status: DeliveryStatus): Promise<number> {
      let rows = await db.select().from(alertOutbox).where(eq(alertOutbox.waMessageId, status.id))
      if (rows.length === 0 && status.callbackData && /^[0-9a-f-]{36}$/.test(status.callbackData)) {
        // We crashed between Meta accepting the message and recording its id: the callback
        // data names our group, so the message is known to be out and must not be re-sent.
        rows = await db.select().from(alertOutbox).where(eq(alertOutbox.groupId, status.callbackData))
      }
      let changed = 0
      for (const row of rows) {
        if (row.status === 'cancelled' || (RANK[status.status] ?? 0) <= (RANK[row.status] ?? 0)) continue
        const now = clock.now()
        const template =
          row.transition === 'firing'
            ? deps.templates.firing
            : row.transition === 'resolved'
              ? deps.templates.resolved
              : undefined
        if (
          status.status === 'failed' &&
          status.errorCode === 131047 &&
          row.mode === 'text' &&
          template &&
          !row.content.forceTemplate
        ) {
          await db
            .update(alertOutbox)
            .set({
              status: 'pending',
              nextAttemptAt: now,
              content: sql`${alertOutbox.content} || '{"forceTemplate": true}'::jsonb`,
              lastErrorCode: '131047',
              lastErrorMessage: status.errorMessage ?? 're-engagement window closed',
              updatedAt: now,
            })
            .where(eq(alertOutbox.id, row.id))
          changed++
          continue
        }
        await db
          .update(alertOutbox)
          .set({
            status: status.status,
            waMessageId: status.id,
            sentAt: row.sentAt ?? now,
            leaseUntil: null,
            updatedAt: now,
            ...(status.status === 'failed'
              ? {
                  lastErrorCode: String(status.errorCode ?? 'unknown'),
                  lastErrorMessage: (status.errorMessage ?? '').slice(0, 500),
                }
              : {}),
          })
          .where(eq(alertOutbox.id, row.id))
        if (status.status === 'failed') {
          deps.metrics.messageSent('failed')
          log.error(
            { waMessageId: status.id, code: status.errorCode, alertname: row.alertname },
            'WhatsApp reports the alert message failed',
          )
        }
        changed++
      }
      return changed
    },
  }
}

export type Receipts = ReturnType<typeof createReceipts>
