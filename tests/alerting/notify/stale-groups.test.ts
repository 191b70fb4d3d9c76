/**
 * Alertmanager groups that go silent: a group whose every alert ended while Alertmanager had
 * lost them (restarted without `--storage.path`) is never posted again, since Alertmanager only
 * posts groups that hold alerts. It re-posts a group that still fires every `repeat_interval`
 * (notify/notify.go DedupStage.needsUpdate), so an alert no notification listed for
 * ALERTMANAGER_ALERT_STALE_AFTER (8h30m) is resolved, as group absence resolves one.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { sql } from 'drizzle-orm'
import { alertStates } from '../../../src/db/schema.ts'
import { alertTestContext } from '../../helpers/alerts.ts'
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
const HOUR = 3_600_000
const STALE_AFTER = 8.5 * HOUR
/** How far a stored listed_at may lag the last listing (the dispatcher's LISTED_AT_SLACK_MS). */
const LISTED_AT_SLACK_MS = 60_000
const STARTS = '2026-03-02T09:55:00.000Z'
const FIRST_POST = '2026-03-02T10:00:00.000Z'

/** The one message of A and B's resolution, as on-call reads it. */
const RESOLVED_AB = `✅ *RESOLVED*: AlertA\nAlertA summary\nref: aaaaaaaaaaaaaaaa\n\n✅ *RESOLVED*: AlertB\nAlertB summary\nref: bbbbbbbbbbbbbbbb`

const states = () => stateRows(ctx)

/** Each state's row version (xmin): unchanged means no statement wrote the row. */
async function versions(): Promise<string[]> {
  const result = await ctx.database.db.execute(
    sql`select xmin::text as version from ${alertStates} order by fingerprint`,
  )
  const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<{
    version: string
  }>
  return rows.map((r) => r.version)
}

const outbox = () => outboxRows(ctx)
const texts = () => sentTexts(ctx)

/** Alert delivery with the default ALERTMANAGER_ALERT_STALE_AFTER; repeats every 30 days unless `env` says otherwise. */
function setup(env: Record<string, string> = {}) {
  return alertmanagerDelivery(ctx, { ALERT_REPEAT_INTERVAL: '30d', ...env })
}

const row = (alert: { fingerprint: string }, more: Record<string, unknown> = {}) => ({
  fingerprint: alert.fingerprint,
  status: 'firing',
  startsAt: STARTS,
  resolvedAt: null,
  groupKey: G,
  listedAt: FIRST_POST,
  resolvedUnlisted: false,
  repeatCycle: 0,
  ...more,
})

describe('an Alertmanager alert no notification listed for ALERTMANAGER_ALERT_STALE_AFTER', () => {
  test('its group went silent: resolved just past 8h30m, those told get the resolution once, counted as stale', async () => {
    const { alerting, clock, notify, events } = setup()
    await notify([A, B], G)
    await alerting.tick()
    expect(texts()).toHaveLength(1)
    clock.advance(STALE_AFTER)
    await alerting.tick()
    expect(await states()).toEqual([row(A), row(B)])
    clock.advance(1)
    const ended = clock.now().toISOString()
    await alerting.tick()
    expect(await states()).toEqual([
      row(A, { status: 'resolved', resolvedAt: ended, resolvedUnlisted: true }),
      row(B, { status: 'resolved', resolvedAt: ended, resolvedUnlisted: true }),
    ])
    expect(await outbox()).toEqual([
      {
        recipient: ONCALL_DIGITS,
        transition: 'firing',
        status: 'sent',
        alerts: [A.fingerprint, B.fingerprint],
        dedupeKey: expect.stringMatching(/^set\|[0-9a-f]{24}\|firing\|/),
      },
      {
        recipient: ONCALL_DIGITS,
        transition: 'resolved',
        status: 'sent',
        alerts: [A.fingerprint, B.fingerprint],
        dedupeKey: expect.stringMatching(/^set\|[0-9a-f]{24}\|resolved\|/),
      },
    ])
    expect(texts()[1]).toBe(RESOLVED_AB)
    expect(events.filter((e) => e.startsWith('unlisted:'))).toEqual(['unlisted:stale:2'])
    clock.advance(STALE_AFTER * 2)
    await alerting.tick()
    expect(texts()).toHaveLength(2)
    expect(events.filter((e) => e.startsWith('unlisted:'))).toEqual(['unlisted:stale:2'])
  })

  test('an alert still firing in a silent group is repeated until swept, then no more', async () => {
    const { alerting, clock, notify } = setup({ ALERT_REPEAT_INTERVAL: '4h' })
    await notify([A], G)
    await alerting.tick()
    clock.advance(4 * HOUR)
    await alerting.tick()
    clock.advance(4 * HOUR)
    await alerting.tick()
    expect(texts().map((t) => t.split('\n')[0])).toEqual([
      '🔔 *CRITICAL ALERT*: AlertA',
      '🔔 *CRITICAL ALERT*: AlertA (still firing)',
      '🔔 *CRITICAL ALERT*: AlertA (still firing)',
    ])
    clock.advance(31 * 60_000)
    await alerting.tick()
    expect(texts()[3]).toBe(`✅ *RESOLVED*: AlertA\nAlertA summary\nref: ${A.fingerprint}`)
    clock.advance(12 * HOUR)
    await alerting.tick()
    expect(texts()).toHaveLength(4)
    expect((await states())[0]).toEqual(
      row(A, {
        status: 'resolved',
        resolvedAt: '2026-03-02T18:31:00.000Z',
        resolvedUnlisted: true,
        repeatCycle: 2,
      }),
    )
  })

  test('a group Alertmanager re-posts every repeat_interval (4h, at the next 5m flush) is never swept', async () => {
    const { alerting, clock, notify } = setup()
    await notify([A, B], G)
    await alerting.tick()
    for (let post = 0; post < 12; post++) {
      clock.advance(4 * HOUR + 5 * 60_000)
      await alerting.tick()
      expect(await notify([A, B], G)).toBe(0)
      await alerting.tick()
    }
    const last = clock.now().toISOString()
    // Just short of the window after the last post: still firing.
    clock.advance(STALE_AFTER)
    await alerting.tick()
    expect(await states()).toEqual([row(A, { listedAt: last }), row(B, { listedAt: last })])
    expect((await outbox()).map((r) => r.transition)).toEqual(['firing'])
    expect(texts()).toHaveLength(1)
  })

  test('a notification cut by max_alerts, or with an alert we could not read, keeps every firing alert of its group alive', async () => {
    const { alerting, clock, notify } = setup()
    await notify([A, B], G)
    await alerting.tick()
    clock.advance(6 * HOUR)
    const truncatedPost = clock.now().toISOString()
    // A may be among the alerts max_alerts left out: its group still fires.
    expect(await notify([B], G, { truncatedAlerts: 1 })).toBe(0)
    clock.advance(6 * HOUR)
    await alerting.tick()
    expect(await states()).toEqual([row(A, { listedAt: truncatedPost }), row(B, { listedAt: truncatedPost })])
    const invalidPost = clock.now().toISOString()
    expect(await notify([B], G, { invalidAlerts: 1, firstInvalid: 'alerts.1.startsAt — bad' })).toBe(0)
    clock.advance(STALE_AFTER)
    await alerting.tick()
    expect(await states()).toEqual([row(A, { listedAt: invalidPost }), row(B, { listedAt: invalidPost })])
    clock.advance(1)
    const ended = clock.now().toISOString()
    await alerting.tick()
    expect(await states()).toEqual([
      row(A, { status: 'resolved', resolvedAt: ended, resolvedUnlisted: true, listedAt: invalidPost }),
      row(B, { status: 'resolved', resolvedAt: ended, resolvedUnlisted: true, listedAt: invalidPost }),
    ])
    expect(texts()).toEqual([
      `🔔 *CRITICAL ALERT*: AlertA\nAlertA description\nref: ${A.fingerprint}\n\n🔔 *CRITICAL ALERT*: AlertB\nAlertB description\nref: ${B.fingerprint}`,
      RESOLVED_AB,
    ])
  })

  test('swept, then listed firing again (same startsAt): a new episode, announced, and its resolution sent too', async () => {
    const { alerting, clock, notify } = setup()
    await notify([A], G)
    await alerting.tick()
    clock.advance(9 * HOUR)
    await alerting.tick()
    clock.advance(60_000)
    const relisted = clock.now().toISOString()
    expect(await notify([A], G)).toBe(1)
    expect(await states()).toEqual([row(A, { listedAt: relisted, repeatCycle: 1 })])
    await alerting.tick()
    clock.advance(60_000)
    expect(await notify([{ ...A, status: 'resolved', endsAt: clock.now() }], G)).toBe(1)
    await alerting.tick()
    expect(texts()).toEqual([
      expect.stringMatching(/^🔔 \*CRITICAL ALERT\*: AlertA\n/),
      `✅ *RESOLVED*: AlertA\nAlertA summary\nref: ${A.fingerprint}`,
      expect.stringMatching(/^🔔 \*CRITICAL ALERT\*: AlertA\n/),
      `✅ *RESOLVED*: AlertA\nAlertA summary\nref: ${A.fingerprint}`,
    ])
    expect((await outbox()).map((r) => r.dedupeKey)).toEqual([
      `${A.fingerprint}|${STARTS}|firing|${ONCALL_DIGITS}|0`,
      `${A.fingerprint}|${STARTS}|resolved|${ONCALL_DIGITS}|0`,
      `${A.fingerprint}|${STARTS}|firing|${ONCALL_DIGITS}|1`,
      `${A.fingerprint}|${STARTS}|resolved|${ONCALL_DIGITS}|1`,
    ])
  })

  test("the rule manager's alerts are never swept; nor is anything with ALERTMANAGER_ALERT_STALE_AFTER=0s", async () => {
    const { alerting, clock } = setup()
    await alerting.dispatcher.ingest([A], 'rule group x')
    clock.advance(100 * HOUR)
    await alerting.tick()
    expect(await states()).toEqual([row(A, { groupKey: null, listedAt: null })])

    const off = setup({ ALERTMANAGER_ALERT_STALE_AFTER: '0s' })
    await off.notify([B], G)
    off.clock.advance(100 * HOUR)
    expect(await off.alerting.dispatcher.resolveStale()).toBe(0)
    expect((await states())[1]).toEqual(row(B))
  })

  test('an alert its group stops listing is counted as group_notification', async () => {
    const { notify, events } = setup()
    await notify([A, B], G)
    await notify([B], G)
    expect(events.filter((e) => e.startsWith('unlisted:'))).toEqual(['unlisted:group_notification:1'])
  })
})

describe('listed_at is written at most once a minute per alert (LISTED_AT_SLACK_MS)', () => {
  test('a re-send of an unchanged group within the minute writes no row; the first one a minute on writes each', async () => {
    const { notify, clock } = setup()
    await notify([A, B], G)
    const written = await versions()
    clock.advance(59_999)
    expect(await notify([A, B], G)).toBe(0)
    expect(await notify([B, A], G)).toBe(0)
    expect(await versions()).toEqual(written)
    expect(await states()).toEqual([row(A), row(B)])
    clock.advance(1)
    const minuteOn = clock.now().toISOString()
    expect(await notify([A, B], G)).toBe(0)
    expect(await states()).toEqual([row(A, { listedAt: minuteOn }), row(B, { listedAt: minuteOn })])
    expect((await versions()).filter((v, i) => v !== written[i])).toHaveLength(2)
  })

  test('a cut notification within the minute writes no row; a minute on it marks every firing alert of its group', async () => {
    const { notify, clock } = setup()
    await notify([A, B], G)
    const written = await versions()
    clock.advance(30_000)
    expect(await notify([B], G, { truncatedAlerts: 1 })).toBe(0)
    expect(await versions()).toEqual(written)
    expect(await states()).toEqual([row(A), row(B)])
    clock.advance(30_000)
    const minuteOn = clock.now().toISOString()
    expect(await notify([B], G, { truncatedAlerts: 1 })).toBe(0)
    expect(await states()).toEqual([row(A, { listedAt: minuteOn }), row(B, { listedAt: minuteOn })])
  })

  test('another group listing the alert takes it over at once, whatever its listed_at', async () => {
    const { notify, clock } = setup()
    const other = '{}/{severity="critical"}:{alertname="Other"}'
    await notify([A], G)
    clock.advance(1_000)
    const taken = clock.now().toISOString()
    expect(await notify([A], other)).toBe(0)
    expect(await states()).toEqual([row(A, { groupKey: other, listedAt: taken })])
  })

  test('the sweep never ends an alert re-posted on time: retried every 10 s, then every repeat_interval, listed_at lags by under a minute', async () => {
    const { alerting, clock, notify } = setup()
    await notify([A, B], G)
    await alerting.tick()
    // A storm of re-sends (retries, group_interval flushes) for 10 minutes: most write nothing.
    for (let i = 0; i < 60; i++) {
      clock.advance(10_000)
      expect(await notify([A, B], G)).toBe(0)
      await alerting.tick()
    }
    // Then Alertmanager's repeat, at the next 5m flush, six times over, each with a retry 59 s
    // after it: the retry is the alerts' last listing and is not written.
    let lastListing = ''
    for (let post = 0; post < 6; post++) {
      clock.advance(4 * HOUR + 5 * 60_000)
      await alerting.tick()
      expect(await notify([A, B], G)).toBe(0)
      clock.advance(59_000)
      expect(await notify([A, B], G)).toBe(0)
      lastListing = clock.now().toISOString()
      await alerting.tick()
      expect((await states()).map((s) => s.status)).toEqual(['firing', 'firing'])
    }
    const stored = new Date(Date.parse(lastListing) - 59_000).toISOString()
    expect(await states()).toEqual([row(A, { listedAt: stored }), row(B, { listedAt: stored })])
    // Silent since: still firing at the stale window less the slack after the last listing...
    clock.advance(STALE_AFTER - LISTED_AT_SLACK_MS)
    await alerting.tick()
    expect((await states()).map((s) => s.status)).toEqual(['firing', 'firing'])
    // ...and ended once the window has passed since the listing stored.
    clock.advance(LISTED_AT_SLACK_MS - 59_000 + 1)
    const ended = clock.now().toISOString()
    await alerting.tick()
    expect(await states()).toEqual([
      row(A, { status: 'resolved', resolvedAt: ended, resolvedUnlisted: true, listedAt: stored }),
      row(B, { status: 'resolved', resolvedAt: ended, resolvedUnlisted: true, listedAt: stored }),
    ])
    expect(texts()).toEqual([expect.stringMatching(/^🔔 \*CRITICAL ALERT\*: AlertA\n/), RESOLVED_AB])
  })
})

describe('the stale sweep after our own downtime', () => {
  // Down 9h, longer than ALERTMANAGER_ALERT_STALE_AFTER: Alertmanager's posts failed meanwhile,
  // and it re-posts each group that still fires at its next flush after we are back (a failed
  // post is not logged, so it is due again at every flush), within one group_interval.
  const G2 = '{}/{severity="critical"}:{alertname="Other"}'
  const BACK = '2026-03-02T19:00:00.000Z'

  test('nothing is swept in the first 30m of the process; then only what Alertmanager did not re-post', async () => {
    const before = setup()
    await before.notify([A], G)
    await before.notify([B], G2)
    await before.alerting.tick()
    expect(texts()).toHaveLength(1)

    const after = alertmanagerDelivery(ctx, { ALERT_REPEAT_INTERVAL: '30d' }, BACK)
    const notify = after.notify
    // The first tick after coming back: both were last listed 9h ago, and neither is swept.
    await after.alerting.tick()
    expect(await states()).toEqual([row(A), row(B, { groupKey: G2 })])
    // G still fires and is re-posted at Alertmanager's next flush; G2 went silent for good.
    after.clock.advance(5 * 60_000)
    const reposted = after.clock.now().toISOString()
    await notify([A], G)
    after.clock.advance(25 * 60_000 - 1)
    await after.alerting.tick()
    expect(await states()).toEqual([row(A, { listedAt: reposted }), row(B, { groupKey: G2 })])
    expect(after.events.filter((e) => e.startsWith('unlisted:'))).toEqual([])
    // 30m up: the sweep runs, and ends B only.
    after.clock.advance(1)
    const ended = after.clock.now().toISOString()
    await after.alerting.tick()
    expect(await states()).toEqual([
      row(A, { listedAt: reposted }),
      row(B, { groupKey: G2, status: 'resolved', resolvedAt: ended, resolvedUnlisted: true }),
    ])
    expect(after.events.filter((e) => e.startsWith('unlisted:'))).toEqual(['unlisted:stale:1'])
    expect((await outbox()).map((r) => [r.transition, r.alerts])).toEqual([
      ['firing', [A.fingerprint]],
      ['firing', [B.fingerprint]],
      ['resolved', [B.fingerprint]],
    ])
    expect(texts()).toHaveLength(2)
    expect(texts()[1]).toBe('✅ *RESOLVED*: AlertB\nAlertB summary\nref: bbbbbbbbbbbbbbbb')
  })
})
