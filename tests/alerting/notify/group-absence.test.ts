/**
 * Alerts that Alertmanager never resolves: an Alertmanager restarted without its storage while
 * an alert fired (Prometheus re-sends a resolved alert for 15 minutes only), or a receiver with
 * `send_resolved: false`. Every notification of an aggregation group lists each alert of the
 * group that is not muted (dispatch/dispatch.go aggrGroup.flush), unless max_alerts cut it:
 * an alert its group stopped listing has ended, and is resolved as Alertmanager's own
 * resolution would be.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { alertTestContext, firing } from '../../helpers/alerts.ts'
import {
  A,
  alertmanagerDelivery,
  B,
  G,
  ONCALL_DIGITS,
  outboxRows,
  sentTexts,
  stateRows,
} from './alertmanager-groups.ts'

setDefaultTimeout(30_000)

const ctx = alertTestContext()
const OTHER = '{}/{severity="critical"}:{alertname="Other"}'

const C = firing('AlertC', {}, {}, 'cccccccccccccccc')

/** The alert states, as the tests compare them (when an alert was listed is stale-groups' concern). */
const states = async () => (await stateRows(ctx)).map(({ listedAt: _, ...row }) => row)

/** The outbox rows, oldest first, firing before resolved. */
const outbox = async () =>
  (await outboxRows(ctx)).sort((a, b) =>
    a.transition === b.transition ? 0 : a.transition === 'firing' ? -1 : 1,
  )
const texts = () => sentTexts(ctx)
const setup = () => alertmanagerDelivery(ctx)

const row = (alert: { fingerprint: string }, more: Record<string, unknown> = {}) => ({
  fingerprint: alert.fingerprint,
  status: 'firing',
  startsAt: '2026-03-02T09:55:00.000Z',
  resolvedAt: null,
  groupKey: G,
  resolvedUnlisted: false,
  repeatCycle: 0,
  ...more,
})

describe('an alert its Alertmanager group no longer lists', () => {
  test('restart without storage: the group lists A and B, then only B: A is resolved to those told', async () => {
    const { alerting, clock, notify } = setup()
    await notify([A, B], G)
    await alerting.tick()
    expect(texts()).toHaveLength(1)
    clock.advance(60_000)
    const ended = clock.now().toISOString()
    expect(await notify([B], G)).toBe(1)
    expect(await states()).toEqual([
      row(A, { status: 'resolved', resolvedAt: ended, resolvedUnlisted: true }),
      row(B),
    ])
    expect(await outbox()).toEqual([
      {
        recipient: ONCALL_DIGITS,
        transition: 'firing',
        status: 'sent',
        alerts: [A.fingerprint, B.fingerprint],
        dedupeKey: expect.stringMatching(/^set\|/),
      },
      {
        recipient: ONCALL_DIGITS,
        transition: 'resolved',
        status: 'pending',
        alerts: [A.fingerprint],
        dedupeKey: `${A.fingerprint}|2026-03-02T09:55:00.000Z|resolved|${ONCALL_DIGITS}|0`,
      },
    ])
    await alerting.tick()
    expect(texts()[1]).toBe(`✅ *RESOLVED*: AlertA\nAlertA summary\nref: ${A.fingerprint}`)
    // The next notification of the group changes nothing more.
    await notify([B], G)
    await alerting.tick()
    expect(texts()).toHaveLength(2)
  })

  test('one never told (its firing not sent yet) gets no resolution; the row goes out with B only', async () => {
    const { alerting, notify } = setup()
    await notify([A, B], G)
    expect(await notify([B], G)).toBe(0)
    expect((await states()).map((s) => s.status)).toEqual(['resolved', 'firing'])
    expect((await outbox()).map((r) => r.transition)).toEqual(['firing'])
    await alerting.tick()
    expect(texts()).toEqual([expect.stringContaining('AlertB')])
    expect(texts()[0]).not.toContain('AlertA')
  })

  test('a notification cut by max_alerts (truncatedAlerts), or with an alert we could not read, ends nothing', async () => {
    const { notify } = setup()
    await notify([A, B], G)
    expect(await notify([B], G, { truncatedAlerts: 1 })).toBe(0)
    expect(await notify([B], G, { invalidAlerts: 1, firstInvalid: 'alerts.1.startsAt — bad' })).toBe(0)
    expect(await states()).toEqual([row(A), row(B)])
    expect((await outbox()).map((r) => r.transition)).toEqual(['firing'])
  })

  test("another group's notification ends nothing of this group", async () => {
    const { notify } = setup()
    await notify([A, B], G)
    await notify([C], OTHER)
    expect(await states()).toEqual([row(A), row(B), row(C, { groupKey: OTHER })])
  })

  test('an alert in two groups (continue: true) ends only by the group that listed it last', async () => {
    const { alerting, notify } = setup()
    await notify([A, B], G)
    await notify([A, C], OTHER)
    await alerting.tick()
    // G no longer lists A, but OTHER listed it since: A fires on.
    await notify([B], G)
    expect((await states()).map((s) => [s.fingerprint, s.status, s.groupKey])).toEqual([
      [A.fingerprint, 'firing', OTHER],
      [B.fingerprint, 'firing', G],
      [C.fingerprint, 'firing', OTHER],
    ])
    // OTHER no longer lists it either: it has ended.
    await notify([C], OTHER)
    expect((await states()).map((s) => [s.fingerprint, s.status])).toEqual([
      [A.fingerprint, 'resolved'],
      [B.fingerprint, 'firing'],
      [C.fingerprint, 'firing'],
    ])
  })

  test('a notification of resolved alerts only ends the alerts it no longer lists too', async () => {
    const { alerting, clock, notify } = setup()
    await notify([A, B], G)
    await alerting.tick()
    clock.advance(60_000)
    const ended = clock.now().toISOString()
    expect(await notify([{ ...B, status: 'resolved', endsAt: new Date(ended) }], G)).toBe(1)
    expect(await states()).toEqual([
      row(A, { status: 'resolved', resolvedAt: ended, resolvedUnlisted: true }),
      row(B, { status: 'resolved', resolvedAt: ended }),
    ])
    const [, resolution] = await outbox()
    expect(resolution!.alerts).toEqual([A.fingerprint, B.fingerprint])
  })

  test('listed firing again (the silence ended): a new episode, announced, and its resolution sent too', async () => {
    const { alerting, clock, notify } = setup()
    await notify([A, B], G)
    await alerting.tick()
    clock.advance(60_000)
    await notify([B], G)
    await alerting.tick()
    clock.advance(60_000)
    // Alertmanager lists it again with its startsAt unchanged.
    expect(await notify([A, B], G)).toBe(1)
    expect((await states())[0]).toEqual(row(A, { repeatCycle: 1 }))
    await alerting.tick()
    expect(texts()[2]!.split('\n')[0]).toBe('🔔 *CRITICAL ALERT*: AlertA')
    clock.advance(60_000)
    expect(await notify([{ ...A, status: 'resolved', endsAt: clock.now() }, B], G)).toBe(1)
    await alerting.tick()
    expect(texts()).toHaveLength(4)
    expect(texts()[3]).toBe(`✅ *RESOLVED*: AlertA\nAlertA summary\nref: ${A.fingerprint}`)
    expect((await states())[0]).toEqual(
      row(A, { status: 'resolved', resolvedAt: clock.now().toISOString(), repeatCycle: 1 }),
    )
    // A late re-send of that resolved episode is no third one.
    await notify([A, B], G)
    expect((await states())[0]!.status).toBe('resolved')
  })

  test('two copies of the notification at once (Alertmanager HA): A resolved once, one resolution', async () => {
    const { alerting, notify } = setup()
    await notify([A, B, C], G)
    await alerting.tick()
    const results = await Promise.all([notify([B], G), notify([B], G), notify([B], G)])
    expect(results.sort()).toEqual([0, 0, 1])
    expect((await states()).map((s) => s.status)).toEqual(['resolved', 'firing', 'resolved'])
    const resolutions = (await outbox()).filter((r) => r.transition === 'resolved')
    expect(resolutions.map((r) => r.alerts)).toEqual([[A.fingerprint, C.fingerprint]])
  })

  test("the rule manager's alerts (no groupKey) are never ended by absence", async () => {
    const { alerting, notify } = setup()
    await alerting.dispatcher.ingest([A], 'rule group x')
    await notify([B], G)
    // Without a groupKey, a notification ends nothing either.
    await notify([C], undefined)
    expect(await states()).toEqual([row(A, { groupKey: null }), row(B), row(C, { groupKey: null })])
  })
})
