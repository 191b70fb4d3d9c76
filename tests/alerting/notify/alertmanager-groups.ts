/**
 * What the tests of Alertmanager groups (group absence, stale groups) share: alert delivery
 * with a `notify` that ingests as Alertmanager's receiver does, and the rows and texts the
 * tests compare, in one projection.
 */
import { asc } from 'drizzle-orm'
import type { AlertInput } from '../../../src/alerting/notify/dispatcher.ts'
import { toWhatsAppNumber } from '../../../src/alerting/whatsapp/client.ts'
import { alertOutbox, alertStates } from '../../../src/db/schema.ts'
import { alertingFor, type alertTestContext, firing } from '../../helpers/alerts.ts'

type Context = ReturnType<typeof alertTestContext>

export const ONCALL_DIGITS = toWhatsAppNumber('+254700000001')
/** An Alertmanager group key, as `{route matchers}:{group_by labels}`. */
export const G = '{}/{severity="critical"}:{alertname="Group"}'
export const A = firing('AlertA', {}, {}, 'aaaaaaaaaaaaaaaa')
export const B = firing('AlertB', {}, {}, 'bbbbbbbbbbbbbbbb')

/**
 * Alert delivery against the context's fake; `notify(alerts, groupKey, extra)` ingests one
 * Alertmanager notification of that group (`extra`: `truncatedAlerts`, `wholeGroup`…).
 */
export function alertmanagerDelivery(ctx: Context, env: Record<string, string> = {}, clockStart?: string) {
  const delivery = alertingFor(ctx.database, ctx.fake.url, env, clockStart)
  const notify = (alerts: AlertInput[], groupKey: string | undefined, extra = {}) =>
    delivery.alerting.dispatcher.ingest(alerts, 'alertmanager', undefined, { groupKey, ...extra })
  return { ...delivery, notify }
}

/** The alert states by fingerprint, timestamps as ISO text. */
export async function stateRows(ctx: Context) {
  const rows = await ctx.database.db.select().from(alertStates).orderBy(asc(alertStates.fingerprint))
  return rows.map((r) => ({
    fingerprint: r.fingerprint,
    status: r.status,
    startsAt: r.startsAt.toISOString(),
    resolvedAt: r.resolvedAt?.toISOString() ?? null,
    groupKey: r.groupKey,
    listedAt: r.listedAt?.toISOString() ?? null,
    resolvedUnlisted: r.resolvedUnlisted,
    repeatCycle: r.repeatCycle,
  }))
}

/** The outbox rows, oldest first: recipient, transition, status, fingerprints and dedupe key. */
export async function outboxRows(ctx: Context) {
  const rows = await ctx.database.db.select().from(alertOutbox).orderBy(asc(alertOutbox.createdAt))
  return rows.map((r) => ({
    recipient: r.recipient,
    transition: r.transition,
    status: r.status,
    alerts: (r.content.alerts as Array<{ fingerprint: string }>).map((a) => a.fingerprint),
    dedupeKey: r.dedupeKey,
  }))
}

/** The texts the WhatsApp fake received, in order. */
export const sentTexts = (ctx: Context) =>
  ctx.fake.requests.map((r) => (r.body.text as { body: string }).body)
