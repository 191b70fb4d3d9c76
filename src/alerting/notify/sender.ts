import { and, asc, count, eq, gt, inArray, lt, lte, or, sql } from 'drizzle-orm'
import type { Clock } from '../../core/clock.ts'
import type { Logger } from '../../core/logger.ts'
import type { Database } from '../../db/client.ts'
import { alertOutbox, whatsappContacts } from '../../db/schema.ts'
import type { AlertingMetrics } from '../metrics.ts'
import { maskPhone, type WhatsAppSendError, type WhatsAppTransport } from '../whatsapp/client.ts'
import { type RenderItem, renderMessage, type TemplateNames } from './render.ts'

type OutboxRow = typeof alertOutbox.$inferSelect

export interface SenderConfig {
  templates: TemplateNames
  retryBaseMs: number
  maxAttempts: number
  leaseMs: number
}

const MAX_BACKOFF_MS = 5 * 60_000
const WINDOW_MS = 24 * 3_600_000
const CLAIM_LIMIT = 200

/** Exponential backoff with jitter: base·2^(attempt-1), capped at 5 minutes, then 50–100 % of it. */
export function backoffMs(attempt: number, baseMs: number, random: () => number): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.max(0, attempt - 1))
  return Math.round(ceiling * (0.5 + random() * 0.5))
}

interface Group {
  id: string
  recipient: string
  rows: OutboxRow[]
  windowOpen: boolean
}

export function createSender(deps: {
  db: Database
  transport: WhatsAppTransport
  config: SenderConfig
  clock: Clock
  log: Logger
  metrics: AlertingMetrics
  random?: () => number
  newId?: () => string
}) {
  const { db, transport, config, clock, log, metrics } = deps
  const random = deps.random ?? Math.random
  const newId = deps.newId ?? (() => crypto.randomUUID())

  /**
   * Claims every row that is due (or whose sending lease expired: its sender died) and groups
   * them per recipient. Rows are marked `sending` in a committed transaction before any HTTP
   * call, with SKIP LOCKED so that several replicas never claim the same row.
   */
  async function claim(): Promise<Group[]> {
    const now = clock.now()
    return db.transaction(async (tx) => {
      const rows = await tx
        .select()
        .from(alertOutbox)
        .where(
          or(
            and(eq(alertOutbox.status, 'pending'), lte(alertOutbox.nextAttemptAt, now)),
            and(eq(alertOutbox.status, 'sending'), lt(alertOutbox.leaseUntil, now)),
          ),
        )
        .orderBy(asc(alertOutbox.createdAt))
        .limit(CLAIM_LIMIT)
        .for('update', { skipLocked: true })
      if (rows.length === 0) return []
      const recipients = [...new Set(rows.map((r) => r.recipient))]
      const contacts = await tx
        .select()
        .from(whatsappContacts)
        .where(
          and(
            inArray(whatsappContacts.phone, recipients),
            gt(whatsappContacts.lastInboundAt, new Date(now.getTime() - WINDOW_MS)),
          ),
        )
      const open = new Set(contacts.map((c) => c.phone))
      const groups = new Map<string, Group>()
      for (const row of rows) {
        const windowOpen =
          (open.has(row.recipient) || row.transition === 'reply') && !row.content.forceTemplate
        const templated =
          !windowOpen && (row.transition === 'firing' ? config.templates.firing : config.templates.resolved)
        // A template carries one transition; free text can mix firing and resolved blocks.
        const key = `${row.recipient}|${templated ? row.transition : 'text'}`
        let group = groups.get(key)
        if (!group) {
          group = { id: newId(), recipient: row.recipient, rows: [], windowOpen }
          groups.set(key, group)
        }
        group.rows.push(row)
      }
      for (const group of groups.values()) {
        await tx
          .update(alertOutbox)
          .set({
            status: 'sending',
            groupId: group.id,
            leaseUntil: new Date(now.getTime() + config.leaseMs),
            attempts: sql`${alertOutbox.attempts} + 1`,
            updatedAt: now,
          })
          .where(
            inArray(
              alertOutbox.id,
              group.rows.map((r) => r.id),
            ),
          )
      }
      return [...groups.values()]
    })
  }

  /** Updates only rows still held by this group, so a sender whose lease expired cannot clobber a retry. */
  const ours = (group: Group) => and(eq(alertOutbox.groupId, group.id), eq(alertOutbox.status, 'sending'))

  async function sendGroup(group: Group): Promise<'sent' | 'failed' | 'retry'> {
    const items: RenderItem[] = group.rows.map((r) => ({ ...r, content: r.content }))
    const message = renderMessage(items, config.templates, group.windowOpen)
    const rendered =
      message.kind === 'text'
        ? message.body
        : JSON.stringify({ template: message.name, parameters: message.parameters })
    const attempts = Math.max(...group.rows.map((r) => r.attempts + 1))
    const started = clock.monotonic()
    const summary = {
      recipientMasked: maskPhone(group.recipient),
      alerts: [...new Set(group.rows.map((r) => r.alertname))],
      severity: [...new Set(group.rows.map((r) => r.severity))],
      fingerprints: group.rows.map((r) => r.fingerprint),
      transition: [...new Set(group.rows.map((r) => r.transition))],
      mode: message.kind,
      attempt: attempts,
    }
    try {
      const waMessageId = await transport.send(group.recipient, message, {
        requestId: `alert-${group.id}`,
        callbackData: group.id,
      })
      metrics.sendDuration((clock.monotonic() - started) / 1000)
      const now = clock.now()
      await db
        .update(alertOutbox)
        .set({
          status: 'sent',
          waMessageId,
          sentAt: now,
          mode: message.kind,
          rendered,
          leaseUntil: null,
          lastErrorCode: null,
          lastErrorMessage: null,
          updatedAt: now,
        })
        .where(ours(group))
      metrics.messageSent('sent')
      if (transport.kind === 'cloud-api') metrics.tokenValid(true)
      // The audit line of the original design, with the number masked to its last 4 digits.
      log.info(
        { ...summary, waMessageId },
        `Alert sent to ${summary.recipientMasked}: ${summary.alerts.join(', ')} (${summary.severity.join(', ')})`,
      )
      return 'sent'
    } catch (raw) {
      metrics.sendDuration((clock.monotonic() - started) / 1000)
      const error = raw as WhatsAppSendError
      const failure = error.failure ?? 'retry'
      const code = error.code ?? 'internal'
      const now = clock.now()
      const base = {
        mode: message.kind,
        rendered,
        leaseUntil: null,
        lastErrorCode: code,
        lastErrorMessage: String(error.message).slice(0, 500),
        updatedAt: now,
      }
      if (failure === 'window-closed' && message.kind === 'text' && canTemplate(group)) {
        // Outside the 24-hour window free text is refused: retry once as the approved template.
        await db
          .update(alertOutbox)
          .set({
            ...base,
            status: 'pending',
            nextAttemptAt: now,
            content: sql`${alertOutbox.content} || '{"forceTemplate": true}'::jsonb`,
          })
          .where(ours(group))
        metrics.messageSent('retry')
        log.warn({ ...summary, code }, 'WhatsApp window closed; retrying as a template')
        return 'retry'
      }
      if (failure === 'retry' && attempts < config.maxAttempts) {
        const delay = backoffMs(attempts, config.retryBaseMs, random)
        await db
          .update(alertOutbox)
          .set({ ...base, status: 'pending', nextAttemptAt: new Date(now.getTime() + delay) })
          .where(ours(group))
        metrics.messageSent('retry')
        log.warn(
          { ...summary, code, retryInMs: delay, error: error.message },
          'WhatsApp send failed; will retry',
        )
        return 'retry'
      }
      await db
        .update(alertOutbox)
        .set({ ...base, status: 'failed' })
        .where(ours(group))
      metrics.messageSent('failed')
      if (failure === 'token-expired') {
        metrics.tokenValid(false)
        log.error(
          { ...summary, code },
          'WhatsApp access token expired or invalid: no alert can be delivered until it is replaced',
        )
      } else {
        log.error({ ...summary, code, error: error.message }, 'WhatsApp alert delivery failed permanently')
      }
      return 'failed'
    }
  }

  function canTemplate(group: Group) {
    return group.rows.every((r) =>
      r.transition === 'firing'
        ? config.templates.firing
        : r.transition === 'resolved'
          ? config.templates.resolved
          : undefined,
    )
  }

  return {
    /** One dispatcher tick: everything due for one recipient goes out as one message. */
    async sendDue(): Promise<Record<'sent' | 'failed' | 'retry', number>> {
      const outcome = { sent: 0, failed: 0, retry: 0 }
      for (const group of await claim()) outcome[await sendGroup(group)]++
      const [pending] = await db
        .select({ n: count() })
        .from(alertOutbox)
        .where(inArray(alertOutbox.status, ['pending', 'sending']))
      metrics.pending(pending?.n ?? 0)
      return outcome
    },
  }
}

export type Sender = ReturnType<typeof createSender>
