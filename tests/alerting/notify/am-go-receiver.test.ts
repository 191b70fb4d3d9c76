/**
 * Webhook bodies as senders other than a current Alertmanager write them, read as a receiver
 * written in Go reads them (encoding/json into notify/webhook Message and template.Alert):
 * an absent fingerprint or startsAt being Go's zero value.
 */
import { describe, expect, test } from 'bun:test'
import { alertStates } from '../../../src/db/schema.ts'
import { alertingApp, alertTestContext } from '../../helpers/alerts.ts'

const ctx = alertTestContext()
const TOKEN = 'am-go-receiver-token-0123456789'

async function setup() {
  const app = await alertingApp(ctx, { ALERTMANAGER_WEBHOOK_TOKEN: TOKEN })
  /** Posts `body` as sent: a string is the raw text (keys JSON.stringify cannot repeat). */
  const post = async (body: unknown) => {
    const response = await app.call('/alerts/alertmanager', {
      method: 'POST',
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
      token: TOKEN,
    })
    return { status: response.status, body: await response.json() }
  }
  const states = async () =>
    (await ctx.database.db.select().from(alertStates).orderBy(alertStates.fingerprint)).map((s) => ({
      fingerprint: s.fingerprint,
      alertname: s.alertname,
      status: s.status,
      startsAt: s.startsAt.toISOString(),
      groupKey: s.groupKey,
    }))
  return { post, states }
}

describe('fields a Go receiver reads as their zero value when absent', () => {
  test("no fingerprint (Alertmanager before 0.19, scripts): the labels' fingerprint, so the resolution ends the same alert", async () => {
    const { post, states } = await setup()
    // Was 422 "alerts.0.fingerprint — Expected 1 to 16 lowercase hexadecimal digits" for every alert.
    const alert = {
      status: 'firing',
      labels: { alertname: 'NoFingerprint', severity: 'critical', instance: 'db-0' },
      annotations: {},
      startsAt: '2026-03-02T09:50:00Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus:9090/graph',
    }
    expect(await post({ version: '4', alerts: [alert, { ...alert, fingerprint: null }] })).toEqual({
      status: 200,
      body: { accepted: 2, invalid: 0, truncatedAlerts: 0, enqueued: 1 },
    })
    expect(
      await post({
        alerts: [{ ...alert, status: 'resolved', endsAt: '2026-03-02T10:00:00Z', fingerprint: '' }],
      }),
    ).toEqual({
      status: 200,
      body: { accepted: 1, invalid: 0, truncatedAlerts: 0, enqueued: expect.any(Number) },
    })
    // prometheus/common LabelSet{alertname, instance, severity}.Fingerprint(), as Alertmanager
    // computes it (the real one's, am-real-senders.test.ts).
    expect((await states()).map((s) => [s.fingerprint, s.alertname, s.status])).toEqual([
      ['d66e5d30f6ab865f', 'NoFingerprint', 'resolved'],
    ])
  })

  test('a fingerprint in upper case is the same 64-bit number', async () => {
    const { post, states } = await setup()
    const alert = { status: 'firing', labels: { alertname: 'Upper' }, startsAt: '2026-03-02T09:50:00Z' }
    expect((await post({ alerts: [{ ...alert, fingerprint: 'C6EADFFA33FCDF37' }] })).status).toBe(200)
    expect((await states()).map((s) => s.fingerprint)).toEqual(['c6eadffa33fcdf37'])
  })

  test('a fingerprint that is no hexadecimal number is still an invalid alert, named', async () => {
    const { post } = await setup()
    const answer = await post({
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'X' },
          startsAt: '2026-03-02T09:50:00Z',
          fingerprint: 'disk-full',
        },
      ],
    })
    expect(answer.status).toBe(422)
    expect(answer.body.error.details.errors).toEqual([
      {
        field: 'alerts.0.fingerprint',
        message: 'Expected 1 to 16 hexadecimal digits, or none (computed from the labels)',
      },
    ])
  })

  test("no startsAt, or null: Go's zero time, as a sent 0001-01-01T00:00:00Z, and a re-send is the same episode", async () => {
    const { post, states } = await setup()
    const alert = { status: 'firing', labels: { alertname: 'NoStart' }, fingerprint: '00000000000000c4' }
    expect(await post({ alerts: [alert] })).toEqual({
      status: 200,
      body: { accepted: 1, invalid: 0, truncatedAlerts: 0, enqueued: 1 },
    })
    expect(await post({ alerts: [{ ...alert, startsAt: null }] })).toEqual({
      status: 200,
      body: { accepted: 1, invalid: 0, truncatedAlerts: 0, enqueued: 0 },
    })
    expect((await states()).map((s) => [s.fingerprint, s.status, s.startsAt])).toEqual([
      ['00000000000000c4', 'firing', '0001-01-01T00:00:00.000Z'],
    ])
  })
})
