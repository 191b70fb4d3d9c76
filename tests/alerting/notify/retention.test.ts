import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { alertOutbox, alertStates } from '../../../src/db/schema.ts'
import { alertingFor, alertTestContext, firing, ONCALL } from '../../helpers/alerts.ts'

// A fresh database per file.
setDefaultTimeout(30_000)

// The outbox and the alert states are the dispatcher's history: without a retention they grow
// with every notification for as long as the service runs, and every ACK scans the outbox rows
// of its sender. ALERT_HISTORY_RETENTION bounds them, as Alertmanager's --data.retention bounds
// its notification log, without forgetting what is still needed.

const ctx = alertTestContext()
const HOUR = 3_600_000
const DAY = 24 * HOUR

const outbox = async () =>
  (await ctx.database.db.select().from(alertOutbox))
    .map((r) => `${r.transition} ${r.fingerprint} ${r.status}`)
    .sort()
const states = async () =>
  (await ctx.database.db.select().from(alertStates)).map((r) => `${r.alertname} ${r.status}`).sort()

/** A: fired and resolved; B: still firing; one handled STATUS reply. All sent. */
async function history(env: Record<string, string> = {}) {
  // No repeats of B: its rows are the ones written here.
  const built = alertingFor(ctx.database, ctx.fake.url, { ALERT_REPEAT_INTERVAL: '365d', ...env })
  const { alerting, clock } = built
  const say = (id: string, text: string) =>
    alerting.dispatcher.handleInbound({ from: ONCALL.slice(1), text, id, at: clock.now() })
  await alerting.dispatcher.ingest([firing('A', {}, {}, '000000000000000a')], 'test')
  await alerting.dispatcher.ingest([firing('B', {}, {}, '000000000000000b')], 'test')
  await alerting.tick()
  clock.advance(60_000)
  await alerting.dispatcher.ingest(
    [{ ...firing('A', {}, {}, '000000000000000a'), status: 'resolved', endsAt: clock.now() }],
    'test',
  )
  await say('wamid.in.1', 'STATUS')
  await alerting.tick()
  return { ...built, say }
}

const pruned = (lines: Array<Record<string, unknown>>) =>
  lines.filter((l) => l.event === 'alert_history_pruned').map(({ outbox, alerts }) => ({ outbox, alerts }))

describe('ALERT_HISTORY_RETENTION', () => {
  test('finished rows and resolved alerts go once past it; what still fires and what waits stay', async () => {
    const { alerting, clock, logs, say } = await history()
    const sent = [
      'firing 000000000000000a sent',
      'firing 000000000000000b sent',
      'reply 000000000000000b sent',
      'resolved 000000000000000a sent',
    ]
    expect(await outbox()).toEqual(sent)
    // Rows that no sender has finished stay whatever their age.
    const longAgo = new Date(clock.now().getTime() - 30 * DAY)
    const waiting = (status: string) => ({
      dedupeKey: `waiting|${status}`,
      recipient: ONCALL.slice(1),
      fingerprint: '00000000000000cc',
      alertname: 'C',
      severity: 'critical',
      transition: 'resolved',
      content: { alerts: [] },
      status,
      nextAttemptAt: new Date(clock.now().getTime() + 365 * DAY),
      leaseUntil: status === 'sending' ? new Date(clock.now().getTime() + 365 * DAY) : null,
      createdAt: longAgo,
      updatedAt: longAgo,
    })
    await ctx.database.db.insert(alertOutbox).values([waiting('pending'), waiting('sending')])

    // The default, 8 days: a minute short of it nothing finished is old enough.
    clock.advance(8 * DAY - 60_000)
    await alerting.tick()
    expect(await outbox()).toEqual([
      ...sent,
      'resolved 00000000000000cc pending',
      'resolved 00000000000000cc sending',
    ])
    expect(await states()).toEqual(['A resolved', 'B firing'])

    // Pruning runs hourly; past the retention A's rows, A and the reply go. B's firing row
    // stays, since B still fires and an ACK reaches only what its sender was told about.
    clock.advance(HOUR)
    await alerting.tick()
    expect(await outbox()).toEqual([
      'firing 000000000000000b sent',
      'resolved 00000000000000cc pending',
      'resolved 00000000000000cc sending',
    ])
    expect(await states()).toEqual(['B firing'])
    expect(pruned(logs.lines)).toEqual([{ outbox: 3, alerts: 1 }])

    await say('wamid.in.2', 'ACK')
    await alerting.tick()
    expect((ctx.fake.requests.at(-1)!.body.text as { body: string }).body).toBe(
      'Acknowledged: B. No more reminders until resolved.',
    )
    expect((await ctx.database.db.select().from(alertStates))[0]!.ackedAt).toEqual(clock.now())
  })

  test('pruning runs at most hourly, and 0s keeps the history for ever', async () => {
    const hourly = await history({ ALERT_HISTORY_RETENTION: '8h' })
    // A resolved a minute after the first tick, which pruned; an hour later is due again.
    hourly.clock.advance(8 * HOUR - 2 * 60_000)
    await hourly.alerting.tick()
    expect(await states()).toEqual(['A resolved', 'B firing'])
    // Past A's retention, but half an hour after the last pruning: not yet.
    hourly.clock.advance(30 * 60_000)
    await hourly.alerting.tick()
    expect(await states()).toEqual(['A resolved', 'B firing'])
    hourly.clock.advance(30 * 60_000)
    await hourly.alerting.tick()
    expect(await states()).toEqual(['B firing'])
    expect(pruned(hourly.logs.lines)).toEqual([{ outbox: 3, alerts: 1 }])

    await ctx.database.db.delete(alertOutbox)
    await ctx.database.db.delete(alertStates)
    const forever = await history({ ALERT_HISTORY_RETENTION: '0s' })
    forever.clock.advance(300 * DAY)
    await forever.alerting.tick()
    expect(await states()).toEqual(['A resolved', 'B firing'])
    expect(await forever.alerting.dispatcher.pruneHistory()).toEqual({ outbox: 0, alerts: 0 })
    expect((await outbox()).length).toBe(4)
  })
})
