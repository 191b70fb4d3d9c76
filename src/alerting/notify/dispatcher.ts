import { and, eq, inArray, isNull, lte, or, sql } from 'drizzle-orm'
import type { Clock } from '../../core/clock.ts'
import type { Logger } from '../../core/logger.ts'
import type { Database, Executor } from '../../db/client.ts'
import { alertOutbox, alertStates, whatsappContacts } from '../../db/schema.ts'
import { parseDuration } from '../../prometheus/duration.ts'
import type { AlertingMetrics } from '../metrics.ts'
import { maskPhone } from '../whatsapp/client.ts'
import {
  type AlertContacts,
  quietUntil,
  type Recipient,
  type RoutingConfig,
  routeAlert,
} from './recipients.ts'

/** An alert as both sources (Alertmanager's webhook, the scheduled ruleManager) hand it over. */
export interface AlertInput {
  /** Alertmanager-compatible fingerprint of the label set (16 hex digits). */
  fingerprint: string
  status: 'firing' | 'resolved'
  labels: Record<string, string>
  annotations: Record<string, string>
  /** Start of this firing episode; identical for every re-send of the same episode. */
  startsAt: Date
  endsAt?: Date
  /** The value that made it fire, when the source knows it. */
  value?: string
}

export interface DispatcherConfig extends RoutingConfig {
  repeatIntervalMs: number
}

const DELIVERED = ['sending', 'sent', 'delivered', 'read']

type StateRow = typeof alertStates.$inferSelect

export function createDispatcher(deps: {
  db: Database
  config: DispatcherConfig
  clock: Clock
  log: Logger
  metrics: AlertingMetrics
  /** Tenants' alert phones and quiet hours (the tenants feature's port). */
  contacts: AlertContacts
}) {
  const { db, config, clock, log, metrics, contacts } = deps

  async function enqueue(
    tx: Executor,
    state: Pick<
      StateRow,
      'fingerprint' | 'alertname' | 'severity' | 'tenantId' | 'labels' | 'annotations' | 'startsAt'
    >,
    transition: 'firing' | 'resolved',
    recipients: Recipient[],
    cycle: number,
    extra: Record<string, unknown>,
  ) {
    if (recipients.length === 0) return 0
    const now = clock.now()
    const rows = recipients.map((recipient) => {
      // Quiet hours hold back everything but critical alerts until the window ends.
      const deferredUntil =
        recipient.quietHours && state.severity !== 'critical'
          ? quietUntil(now, recipient.quietHours)
          : undefined
      return {
        dedupeKey: [state.fingerprint, state.startsAt.toISOString(), transition, recipient.phone, cycle].join(
          '|',
        ),
        recipient: recipient.phone,
        tenantId: state.tenantId,
        fingerprint: state.fingerprint,
        alertname: state.alertname,
        severity: state.severity,
        transition,
        content: { labels: state.labels, annotations: state.annotations, ...extra },
        nextAttemptAt: deferredUntil ?? now,
      }
    })
    const inserted = await tx
      .insert(alertOutbox)
      .values(rows)
      .onConflictDoNothing()
      .returning({ id: alertOutbox.id })
    return inserted.length
  }

  async function recipientsFor(tx: Executor, labels: Record<string, string>) {
    const routed = await routeAlert(tx, labels, config, contacts)
    if (routed.recipients.length === 0) {
      log.warn(
        { alertname: labels.alertname, tenantId: labels.tenant_id },
        "alert has no recipient: set ALERT_PHONES (on-call) or the tenant's phones",
      )
    }
    if (routed.missingTenantPhone) {
      metrics.missingTenantPhone()
      log.error(
        { tenantId: labels.tenant_id, alertname: labels.alertname },
        'tenant has no phone configured for alerts; notifying on-call only',
      )
    }
    return routed.recipients
  }

  async function ingestOne(tx: Executor, alert: AlertInput): Promise<number> {
    const now = clock.now()
    const [state] = await tx
      .select()
      .from(alertStates)
      .where(eq(alertStates.fingerprint, alert.fingerprint))
      .for('update')
    const base = {
      fingerprint: alert.fingerprint,
      alertname: alert.labels.alertname ?? 'unnamed',
      severity: (alert.labels.severity ?? 'warning').toLowerCase(),
      tenantId: /^[0-9a-f-]{36}$/i.test(alert.labels.tenant_id ?? '') ? alert.labels.tenant_id! : null,
      labels: alert.labels,
      annotations: alert.annotations,
      startsAt: alert.startsAt,
    }
    if (alert.status === 'firing') {
      const sameEpisode = state?.status === 'firing' && state.startsAt.getTime() === alert.startsAt.getTime()
      if (sameEpisode) {
        // A re-send (Alertmanager repeats groups): keep annotations fresh, notify nothing new.
        await tx
          .update(alertStates)
          .set({ annotations: alert.annotations, updatedAt: now })
          .where(eq(alertStates.fingerprint, alert.fingerprint))
        return 0
      }
      const silenced = state?.silencedUntil && state.silencedUntil > now
      await tx
        .insert(alertStates)
        .values({ ...base, status: 'firing', lastNotifiedAt: silenced ? null : now, repeatCycle: 0 })
        .onConflictDoUpdate({
          target: alertStates.fingerprint,
          set: {
            ...base,
            status: 'firing',
            resolvedAt: null,
            ackedAt: null,
            repeatCycle: 0,
            lastNotifiedAt: silenced ? null : now,
            updatedAt: now,
          },
        })
      if (silenced) return 0
      return enqueue(tx, base, 'firing', await recipientsFor(tx, alert.labels), 0, { value: alert.value })
    }
    if (!state || state.status !== 'firing') return 0
    await tx
      .update(alertStates)
      .set({
        status: 'resolved',
        resolvedAt: alert.endsAt ?? now,
        annotations: alert.annotations,
        updatedAt: now,
      })
      .where(eq(alertStates.fingerprint, alert.fingerprint))
    const episode = `${alert.fingerprint}|${state.startsAt.toISOString()}|firing|%`
    // Not yet sent (held by quiet hours, or waiting for the tick): it no longer needs sending.
    await tx
      .update(alertOutbox)
      .set({ status: 'cancelled', updatedAt: now })
      .where(and(sql`${alertOutbox.dedupeKey} like ${episode}`, eq(alertOutbox.status, 'pending')))
    const notified = await tx
      .selectDistinct({ recipient: alertOutbox.recipient, tenantId: alertOutbox.tenantId })
      .from(alertOutbox)
      .where(and(sql`${alertOutbox.dedupeKey} like ${episode}`, inArray(alertOutbox.status, DELIVERED)))
    // Resolutions go only to those who were told it was firing, and are never held back.
    return enqueue(
      tx,
      { ...base, startsAt: state.startsAt },
      'resolved',
      notified.map((n) => ({ phone: n.recipient, tenantId: n.tenantId ?? undefined })),
      0,
      { value: alert.value },
    )
  }

  return {
    /**
     * Records alerts and enqueues the notifications they call for, idempotently: the same
     * payload handed over twice (Alertmanager re-sends, two replicas) enqueues nothing new.
     * With `tx`, the rows are written in the caller's transaction and commit with it.
     */
    async ingest(alerts: AlertInput[], source: string, tx?: Executor): Promise<number> {
      let enqueued = 0
      for (const alert of alerts) {
        // Inside the caller's transaction (the evaluator's tick), or one transaction per alert.
        enqueued += tx ? await ingestOne(tx, alert) : await db.transaction((own) => ingestOne(own, alert))
      }
      if (enqueued > 0) log.info({ source, alerts: alerts.length, enqueued }, 'alert notifications enqueued')
      return enqueued
    },

    /**
     * Firing alerts that were never notified (silenced at the time) or whose last notification
     * is older than the repeat interval, and are neither acknowledged nor silenced, are enqueued
     * again under a new repeat cycle.
     */
    async enqueueRepeats(): Promise<number> {
      const now = clock.now()
      const due = await db
        .select()
        .from(alertStates)
        .where(
          and(
            eq(alertStates.status, 'firing'),
            isNull(alertStates.ackedAt),
            or(isNull(alertStates.silencedUntil), lte(alertStates.silencedUntil, now)),
            or(
              isNull(alertStates.lastNotifiedAt),
              lte(alertStates.lastNotifiedAt, new Date(now.getTime() - config.repeatIntervalMs)),
            ),
          ),
        )
      let enqueued = 0
      for (const state of due) {
        enqueued += await db.transaction(async (tx) => {
          const cycle = state.lastNotifiedAt ? state.repeatCycle + 1 : state.repeatCycle
          const claimed = await tx
            .update(alertStates)
            .set({ lastNotifiedAt: now, repeatCycle: cycle, updatedAt: now })
            .where(
              and(
                eq(alertStates.fingerprint, state.fingerprint),
                eq(alertStates.repeatCycle, state.repeatCycle),
              ),
            )
            .returning({ fingerprint: alertStates.fingerprint })
          if (claimed.length === 0) return 0 // another replica took this repeat
          return enqueue(tx, state, 'firing', await recipientsFor(tx, state.labels), cycle, {
            repeat: state.lastNotifiedAt !== null,
          })
        })
      }
      return enqueued
    },

    /**
     * A message someone sent us on WhatsApp. From a configured recipient, `ACK` (or a button
     * payload `ACK:<fingerprint>`) stops repeats of the alerts they were notified of until
     * those resolve, `SILENCE <duration>` silences them, `STATUS` lists what is firing. Every
     * message from a recipient reopens its 24-hour window. Others are ignored.
     * Idempotent: Meta re-delivers webhooks, and the reply is keyed by the message id.
     */
    async handleInbound(message: { from: string; text: string; id: string; at: Date }): Promise<void> {
      const scope = await recipientScope(message.from)
      if (!scope) {
        log.debug({ sender: maskPhone(message.from) }, 'ignoring a WhatsApp message from an unknown number')
        return
      }
      await db
        .insert(whatsappContacts)
        .values({ phone: message.from, lastInboundAt: message.at })
        .onConflictDoUpdate({
          target: whatsappContacts.phone,
          set: {
            lastInboundAt: sql`greatest(${whatsappContacts.lastInboundAt}, ${message.at.toISOString()}::timestamptz)`,
          },
        })
      const command = parseCommand(message.text)
      if (!command) return
      const firing = await firingFor(message.from, scope, command.fingerprint)
      let reply: string
      if (command.kind === 'status') {
        reply = firing.length
          ? `Firing now (${firing.length}):\n${firing.map((s) => `• ${s.alertname} [${s.severity}] since ${s.startsAt.toISOString()} — ref ${s.fingerprint}`).join('\n')}`
          : 'Nothing is firing.'
      } else if (firing.length === 0) {
        reply = 'No firing alert to apply that to.'
      } else if (command.kind === 'ack') {
        await db
          .update(alertStates)
          .set({ ackedAt: message.at })
          .where(
            inArray(
              alertStates.fingerprint,
              firing.map((s) => s.fingerprint),
            ),
          )
        reply = `Acknowledged: ${firing.map((s) => s.alertname).join(', ')}. No more reminders until resolved.`
      } else {
        const until = new Date(message.at.getTime() + command.durationMs)
        await db
          .update(alertStates)
          .set({ silencedUntil: until })
          .where(
            inArray(
              alertStates.fingerprint,
              firing.map((s) => s.fingerprint),
            ),
          )
        reply = `Silenced until ${until.toISOString()}: ${firing.map((s) => s.alertname).join(', ')}.`
      }
      await db
        .insert(alertOutbox)
        .values({
          dedupeKey: `reply|${message.id}`,
          recipient: message.from,
          fingerprint: firing[0]?.fingerprint ?? '-',
          alertname: 'reply',
          severity: 'info',
          transition: 'reply',
          content: { text: reply },
          nextAttemptAt: clock.now(),
        })
        .onConflictDoNothing()
    },
  }

  /** On-call sees every alert; a tenant's phone sees that tenant's alerts; others nothing. */
  async function recipientScope(phone: string): Promise<{ all: boolean; tenants: string[] } | undefined> {
    const tenants = await contacts.tenantsOfPhone(db, phone)
    const all = config.oncallPhones.includes(phone)
    return all || tenants.length > 0 ? { all, tenants } : undefined
  }

  async function firingFor(phone: string, scope: { all: boolean; tenants: string[] }, fingerprint?: string) {
    const told = db
      .selectDistinct({ fingerprint: alertOutbox.fingerprint })
      .from(alertOutbox)
      .where(and(eq(alertOutbox.recipient, phone), eq(alertOutbox.transition, 'firing')))
    const rows = await db
      .select()
      .from(alertStates)
      .where(
        and(
          eq(alertStates.status, 'firing'),
          fingerprint ? eq(alertStates.fingerprint, fingerprint) : undefined,
          scope.all
            ? undefined
            : inArray(
                alertStates.tenantId,
                scope.tenants.length ? scope.tenants : ['00000000-0000-0000-0000-000000000000'],
              ),
          inArray(alertStates.fingerprint, told),
        ),
      )
    return rows
  }
}

export type Dispatcher = ReturnType<typeof createDispatcher>

type Command =
  | { kind: 'ack'; fingerprint?: string }
  | { kind: 'silence'; durationMs: number; fingerprint?: string }
  | { kind: 'status'; fingerprint?: undefined }

/** `ACK`, `ACK <fp>`, `ACK:<fp>`, `SILENCE 2h [fp]`, `SILENCE:2h:<fp>`, `STATUS` (any case). */
export function parseCommand(text: string): Command | undefined {
  const words = text
    .trim()
    .split(/[\s:]+/)
    .filter(Boolean)
  const verb = words[0]?.toUpperCase()
  const fp = (value: string | undefined) =>
    value && /^[0-9a-f]{16}$/i.test(value) ? value.toLowerCase() : undefined
  if (verb === 'ACK' && words.length <= 2) return { kind: 'ack', fingerprint: fp(words[1]) }
  if (verb === 'STATUS' && words.length === 1) return { kind: 'status' }
  if (verb === 'SILENCE' && words.length >= 2 && words.length <= 3) {
    try {
      const durationMs = parseDuration(words[1]!.toLowerCase())
      if (durationMs <= 0 || durationMs > 7 * 86_400_000) return undefined
      return { kind: 'silence', durationMs, fingerprint: fp(words[2]) }
    } catch {
      return undefined
    }
  }
  return undefined
}
