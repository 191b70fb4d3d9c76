/**
 * Odd but well-formed Alertmanager webhook bodies (and bodies of tools posing as Alertmanager):
 * each is answered in the one envelope, and what is stored is exactly what it says, never a 500
 * that would make Alertmanager retry a notification that can never succeed.
 */
import { describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { alertOutbox, alertStates } from '../../../src/db/schema.ts'
import { alertingApp, alertmanagerNotification, alertTestContext } from '../../helpers/alerts.ts'

const ctx = alertTestContext()
const TOKEN = 'am-odd-payloads-token-0123456789'

/** One firing critical alert as Alertmanager's webhook marshals it, with `over` replacing fields. */
const amAlert = (fingerprint: string, over: Record<string, unknown> = {}) => ({
  status: 'firing',
  labels: { alertname: `Odd${fingerprint.slice(-2)}`, severity: 'critical' },
  annotations: { summary: 'odd' },
  startsAt: '2026-03-02T09:50:00Z',
  endsAt: '0001-01-01T00:00:00Z',
  generatorURL: 'http://prometheus:9090/graph',
  fingerprint,
  ...over,
})

const notification = alertmanagerNotification

async function setup() {
  const app = await alertingApp(ctx, { ALERTMANAGER_WEBHOOK_TOKEN: TOKEN })
  const post = async (body: unknown) => {
    const response = await app.call('/alerts/alertmanager', { method: 'POST', json: body, token: TOKEN })
    return { status: response.status, body: await response.json() }
  }
  const states = async () =>
    (await ctx.database.db.select().from(alertStates).orderBy(alertStates.fingerprint)).map((s) => ({
      fingerprint: s.fingerprint,
      status: s.status,
      startsAt: s.startsAt.toISOString(),
      resolvedAt: s.resolvedAt?.toISOString() ?? null,
      groupKey: s.groupKey,
    }))
  /** `transition fingerprint` of each outbox row, sorted (ids are random, not in order). */
  const outbox = async () =>
    (await ctx.database.db.select().from(alertOutbox)).map((r) => `${r.transition} ${r.fingerprint}`).sort()
  return { post, states, outbox, alerting: app.alerting }
}

describe('times whose offset moves them out of PostgreSQL years 1–9999', () => {
  test('0001-01-01T00:30:00+01:00 (year 0 in UTC) and 9999-12-31T23:30:00-01:00 (year 10000) are invalid alerts, the rest taken', async () => {
    const { post, states, outbox } = await setup()
    const answer = await post(
      notification([
        amAlert('00000000000000a1', { startsAt: '0001-01-01T00:30:00+01:00' }),
        amAlert('00000000000000a2', { startsAt: '9999-12-31T23:30:00-01:00' }),
        amAlert('00000000000000a3', {
          status: 'resolved',
          endsAt: '0001-01-01T00:59:59.999999999+01:00',
        }),
        amAlert('00000000000000a4', { startsAt: '2026-03-02T15:20:00.123456789+05:30' }),
      ]),
    )
    expect(answer).toEqual({
      status: 200,
      body: { accepted: 1, invalid: 3, truncatedAlerts: 0, enqueued: 1 },
    })
    expect(await states()).toEqual([
      {
        fingerprint: '00000000000000a4',
        status: 'firing',
        startsAt: '2026-03-02T09:50:00.123Z',
        resolvedAt: null,
        groupKey: '{}:{}',
      },
    ])
    expect(await outbox()).toEqual(['firing 00000000000000a4'])
  })

  test('a notification holding only such an alert is the 422 naming it, and stores nothing', async () => {
    const { post, states, outbox } = await setup()
    expect(
      await post(notification([amAlert('00000000000000b1', { startsAt: '0001-01-01T00:30:00+01:00' })])),
    ).toEqual({
      status: 422,
      body: {
        error: {
          code: 'VALIDATION',
          message:
            'Invalid body: none of the 1 alerts is a valid Alertmanager alert (first: alerts.0.startsAt — Expected an RFC 3339 time from year 1 to 9999)',
          details: {
            in: 'body',
            errors: [
              { field: 'alerts.0.startsAt', message: 'Expected an RFC 3339 time from year 1 to 9999' },
            ],
          },
          requestId: expect.any(String),
        },
      },
    })
    expect(await states()).toEqual([])
    expect(await outbox()).toEqual([])
  })

  test('an offset that keeps the time within year 9999 in UTC is taken', async () => {
    const { post, states } = await setup()
    const answer = await post(
      notification([amAlert('00000000000000c2', { startsAt: '9999-12-31T23:30:00+01:00' })]),
    )
    expect(answer.status).toBe(200)
    expect((await states()).map((s) => s.startsAt)).toEqual(['9999-12-31T22:30:00.000Z'])
  })
})

describe('a groupKey PostgreSQL cannot store (posed as Alertmanager; its own keys %q-quote label values)', () => {
  for (const [name, groupKey] of [
    ['an unpaired surrogate (was a 500)', '{}:{instance="a\udc00"}'],
    ['U+0000 (was a bare 422, the alerts lost uncounted)', '{}:{instance="a\u0000"}'],
  ] as const) {
    test(`${name}: read as no groupKey, the alerts taken, and a later notification not listing one ends nothing`, async () => {
      const { post, states, outbox } = await setup()
      expect(
        await post(notification([amAlert('00000000000000d1'), amAlert('00000000000000d2')], { groupKey })),
      ).toEqual({
        status: 200,
        body: { accepted: 2, invalid: 0, truncatedAlerts: 0, enqueued: 1 },
      })
      expect(await post(notification([amAlert('00000000000000d1')], { groupKey }))).toEqual({
        status: 200,
        body: { accepted: 1, invalid: 0, truncatedAlerts: 0, enqueued: 0 },
      })
      const firing = (fingerprint: string) => ({
        fingerprint,
        status: 'firing',
        startsAt: '2026-03-02T09:50:00.000Z',
        resolvedAt: null,
        groupKey: null,
      })
      expect(await states()).toEqual([firing('00000000000000d1'), firing('00000000000000d2')])
      expect(await outbox()).toEqual(['firing 00000000000000d1'])
    })
  }
})

describe('null members, as Go reads them into template.Alert (tools posing as Alertmanager send them)', () => {
  test('endsAt null is "not set" and annotations null none: a firing alert is announced, its resolution ends it at receipt', async () => {
    const { post, states, outbox, alerting } = await setup()
    expect(
      await post(notification([amAlert('00000000000000e1', { endsAt: null, annotations: null })])),
    ).toEqual({
      status: 200,
      body: { accepted: 1, invalid: 0, truncatedAlerts: 0, enqueued: 1 },
    })
    // Sent: a resolution goes to those told of the firing.
    await alerting.tick()
    expect(
      await post(
        notification([amAlert('00000000000000e1', { status: 'resolved', endsAt: null, annotations: null })], {
          status: 'resolved',
        }),
      ),
    ).toEqual({ status: 200, body: { accepted: 1, invalid: 0, truncatedAlerts: 0, enqueued: 1 } })
    expect(await states()).toEqual([
      {
        fingerprint: '00000000000000e1',
        status: 'resolved',
        startsAt: '2026-03-02T09:50:00.000Z',
        // The manual clock's start: resolved as of its receipt.
        resolvedAt: '2026-03-02T10:00:00.000Z',
        groupKey: '{}:{}',
      },
    ])
    expect(await outbox()).toEqual(['firing 00000000000000e1', 'resolved 00000000000000e1'])
  })
})

describe('a groupKey longer than a PostgreSQL index entry holds (group_by: [...] over long label values)', () => {
  // 16 000 hex digits of no pattern: compressed, still far above btree's 2 704-byte entry.
  const digest = (text: string) => createHash('sha256').update(text).digest('hex')
  const longKey = `{}:{alertname="Odd", image="${Array.from({ length: 250 }, (_, i) => digest(String(i))).join('')}"}`

  test('is known by its SHA-256 (was a 500 for every notification of the group), and still ends an alert it stops listing', async () => {
    const { post, states } = await setup()
    expect(
      await post(
        notification([amAlert('00000000000000f1'), amAlert('00000000000000f2')], { groupKey: longKey }),
      ),
    ).toEqual({ status: 200, body: { accepted: 2, invalid: 0, truncatedAlerts: 0, enqueued: 1 } })
    expect(await post(notification([amAlert('00000000000000f1')], { groupKey: longKey }))).toEqual({
      status: 200,
      body: { accepted: 1, invalid: 0, truncatedAlerts: 0, enqueued: 0 },
    })
    const group = `sha256:${digest(longKey)}`
    expect(await states()).toEqual([
      {
        fingerprint: '00000000000000f1',
        status: 'firing',
        startsAt: '2026-03-02T09:50:00.000Z',
        resolvedAt: null,
        groupKey: group,
      },
      {
        fingerprint: '00000000000000f2',
        status: 'resolved',
        startsAt: '2026-03-02T09:50:00.000Z',
        resolvedAt: '2026-03-02T10:00:00.000Z',
        groupKey: group,
      },
    ])
  })

  test('a key of 2 048 UTF-8 bytes is kept as sent', async () => {
    const { post, states } = await setup()
    const key = `{}:{xy="${'é'.repeat(1019)}"}`
    expect(Buffer.byteLength(key)).toBe(2048)
    expect((await post(notification([amAlert('00000000000000f3')], { groupKey: key }))).status).toBe(200)
    expect((await states()).map((s) => s.groupKey)).toEqual([key])
  })
})

describe('labels with an empty value (a tool posing as Alertmanager; Alertmanager 0.25 drops them before posting)', () => {
  test('are absent, as in Prometheus: alertname "" and severity "" are announced as "unnamed" at the default severity', async () => {
    const { post, alerting } = await setup()
    const labels = { alertname: '', severity: '', instance: '', tenant_id: '', job: 'api' }
    expect(await post(notification([amAlert('00000000000000a5', { labels, annotations: {} })]))).toEqual({
      status: 200,
      body: { accepted: 1, invalid: 0, truncatedAlerts: 0, enqueued: 1 },
    })
    const [state] = await ctx.database.db.select().from(alertStates)
    expect({ alertname: state!.alertname, severity: state!.severity, labels: state!.labels }).toEqual({
      alertname: 'unnamed',
      severity: 'warning',
      labels: { job: 'api' },
    })
    await alerting.tick()
    expect(ctx.fake.requests.map((r) => (r.body.text as { body: string }).body)).toEqual([
      '🔔 *WARNING ALERT*: unnamed\nref: 00000000000000a5',
    ])
  })
})
