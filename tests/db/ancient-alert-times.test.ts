/**
 * An Alertmanager alert that started in year 0049 (a valid RFC 3339 time, and one PostgreSQL
 * stores) keeps its year through every path that reads it back from the database: the stored
 * state, the outbox, Alertmanager's re-send of it, a STATUS quoting its message, its resolution.
 * `new Date` on PostgreSQL's text made it 2049.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { alertOutbox, alertStates } from '../../src/db/schema.ts'
import {
  alertingApp,
  alertmanagerNotification,
  alertTestContext,
  ONCALL,
  SIGNED_WEBHOOK_ENV,
  whatsappWebhook,
} from '../helpers/alerts.ts'

// A fresh database and an app: well over bun's 5 s default.
setDefaultTimeout(60_000)

const ctx = alertTestContext()
const TOKEN = 'ancient-alert-times-token-0123456789'
const FP = '0000000000000049'
const SINCE = '0049-01-01T00:30:00.000Z'

/** The alert as Alertmanager's webhook marshals it, with `over` replacing fields. */
const amAlert = (over: Record<string, unknown> = {}) => ({
  status: 'firing',
  labels: { alertname: 'Ancient', severity: 'critical' },
  annotations: { summary: 'old' },
  startsAt: '0049-01-01T00:30:00Z',
  endsAt: '0001-01-01T00:00:00Z',
  generatorURL: 'http://prometheus:9090/graph',
  fingerprint: FP,
  ...over,
})

describe('an Alertmanager alert that started in year 0049', () => {
  test('is stored, re-sent, quoted by STATUS and resolved as 0049, never 2049', async () => {
    const app = await alertingApp(ctx, { ...SIGNED_WEBHOOK_ENV, ALERTMANAGER_WEBHOOK_TOKEN: TOKEN })
    const post = async (body: unknown) => {
      const response = await app.call('/alerts/alertmanager', { method: 'POST', json: body, token: TOKEN })
      return { status: response.status, body: await response.json() }
    }
    const state = async () =>
      (await ctx.database.db.select().from(alertStates)).map((s) => ({
        status: s.status,
        startsAt: s.startsAt.toISOString(),
        resolvedAt: s.resolvedAt?.toISOString() ?? null,
      }))
    const outbox = async () =>
      (await ctx.database.db.select().from(alertOutbox))
        .map((r) => ({ transition: r.transition, content: r.content }))
        .sort((a, b) => a.transition.localeCompare(b.transition))
    const told = {
      alertname: 'Ancient',
      detail: 'old',
      fingerprint: FP,
      severity: 'critical',
      startsAt: SINCE,
    }
    const alertMessage = { alerts: [told], groupKey: '{}:{}', groupAlerts: 1 }

    expect(await post(alertmanagerNotification([amAlert()]))).toEqual({
      status: 200,
      body: { accepted: 1, invalid: 0, truncatedAlerts: 0, enqueued: 1 },
    })
    await app.alerting.tick()
    // Alertmanager re-sends the group at each group_interval: the same episode, nothing new.
    expect(await post(alertmanagerNotification([amAlert()]))).toEqual({
      status: 200,
      body: { accepted: 1, invalid: 0, truncatedAlerts: 0, enqueued: 0 },
    })
    expect(await state()).toEqual([{ status: 'firing', startsAt: SINCE, resolvedAt: null }])

    // On-call answers STATUS quoting the alert message.
    const [sent] = await ctx.database.db
      .select()
      .from(alertOutbox)
      .where(eq(alertOutbox.transition, 'firing'))
    await ctx.database.db
      .update(alertOutbox)
      .set({ waMessageId: 'wamid.old' })
      .where(eq(alertOutbox.id, sent!.id))
    const status = {
      from: ONCALL.slice(1),
      id: 'wamid.in.status',
      timestamp: String(Date.parse('2026-03-02T10:00:00Z') / 1000),
      type: 'text',
      text: { body: 'STATUS' },
      context: { from: '15550001234', id: 'wamid.old' },
    }
    expect((await app.postWhatsapp(JSON.stringify(whatsappWebhook({ messages: [status] })))).status).toBe(200)

    expect(
      await post(
        alertmanagerNotification([amAlert({ status: 'resolved', endsAt: '0049-01-01T01:00:00.25Z' })], {
          status: 'resolved',
        }),
      ),
    ).toEqual({ status: 200, body: { accepted: 1, invalid: 0, truncatedAlerts: 0, enqueued: 1 } })
    expect(await state()).toEqual([
      { status: 'resolved', startsAt: SINCE, resolvedAt: '0049-01-01T01:00:00.250Z' },
    ])
    expect(await outbox()).toEqual([
      { transition: 'firing', content: alertMessage },
      {
        transition: 'reply',
        content: {
          text: `That message's alerts (1, 1 firing):\n• Ancient [critical] since ${SINCE} — ref ${FP}: firing`,
        },
      },
      { transition: 'resolved', content: alertMessage },
    ])
  })
})
