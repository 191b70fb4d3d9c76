import { describe, expect, jest, setDefaultTimeout, test } from 'bun:test'
import { nextEvaluationAt, ORPHAN_SWEEP_KEY } from '../../../src/alerting/rules/manager.ts'
import { alertOutbox, alertRuleStates } from '../../../src/db/schema.ts'
import { fingerprint } from '../../../src/prometheus/rules/alerting-rule.ts'
import { manualClock, ruleManagerTestContext, ruleProcess } from '../../helpers/alerts.ts'

// Fresh databases per file.
setDefaultTimeout(30_000)

const ctx = ruleManagerTestContext()

const BEFORE = `
groups:
  - name: shop
    interval: 30s
    rules:
      - alert: Kept
        expr: kept > 0
        for: 1m
      - alert: Removed
        expr: removed > 0
      - alert: PendingRemoved
        expr: pending_removed > 0
        for: 10m
  - name: gone
    interval: 30s
    rules:
      - alert: GroupGone
        expr: gone > 0
`

// The same file after an edit: `Removed` and `PendingRemoved` left group `shop`, group `gone`
// left the file, and `Kept`'s `for` went from 1m to 5m.
const AFTER = `
groups:
  - name: shop
    interval: 30s
    rules:
      - alert: Kept
        expr: kept > 0
        for: 5m
`

/** One process of the service on the shared database, with the rule file `text` (ruleProcess). */
const processWith = (text: string, clock: ReturnType<typeof manualClock>) =>
  ruleProcess(ctx.database, text, clock)

const states = async () =>
  (await ctx.database.db.select().from(alertRuleStates))
    .map((r) => `${r.ruleGroup}/${r.ruleName}:${r.state}:${r.activeAt.toISOString()}`)
    .sort()
const outbox = async () =>
  (await ctx.database.db.select().from(alertOutbox)).map((r) => `${r.alertname}:${r.transition}`).sort()

describe('a rule file changed across a restart (Prometheus reloading it)', () => {
  // Prometheus (rules/manager.go `Manager.Update`, 2.42) copies the state of the rules a
  // reloaded group still holds (`Group.CopyState`, matched by name and labels) and drops the
  // others; a removed group is stopped with `markStale`. It sends no resolution for their
  // alerts, but stops re-sending them, so Alertmanager resolves them when the endsAt of their
  // last send passes (rules/alerting.go `sendAlerts`: ValidUntil = 4 × max(interval,
  // resend delay)). The dispatcher has no such expiry for the rule manager's alerts: the
  // firing alert of a rule no longer loaded must be resolved by the manager, or WhatsApp
  // keeps announcing it at every repeat interval and never says it ended.
  test('alerts of removed rules and groups resolve; an unchanged rule keeps its state and activeAt', async () => {
    const clock = manualClock('2026-03-02T10:00:00Z')
    const before = processWith(BEFORE, clock)
    await before.step() // 10:00:30 Kept and PendingRemoved pending, Removed and GroupGone fire
    await before.step() // 10:01:00
    await before.step() // 10:01:30 Kept fires (1m)
    expect(await states()).toEqual([
      'gone/GroupGone:firing:2026-03-02T10:00:30.000Z',
      'shop/Kept:firing:2026-03-02T10:00:30.000Z',
      'shop/PendingRemoved:pending:2026-03-02T10:00:30.000Z',
      'shop/Removed:firing:2026-03-02T10:00:30.000Z',
    ])
    expect(await outbox()).toEqual(['GroupGone:firing', 'Kept:firing', 'Removed:firing'])

    // Restart with the edited file.
    const after = processWith(AFTER, clock)
    await after.step() // 10:02:00 the orphans are first seen
    // Kept keeps its activeAt and its firing state: Prometheus 2.42 `AlertingRule.Eval` never
    // takes a firing alert back to pending, whatever the new `for` (CopyState keeps `active`).
    expect(await states()).toContain('shop/Kept:firing:2026-03-02T10:00:30.000Z')
    // Prometheus' last send of them was valid for 4 × max(30s, 1m resend delay) = 4m.
    for (let i = 0; i < 7; i++) await after.step() // 10:02:30 … 10:05:30
    expect(await states()).toHaveLength(4)
    expect(await outbox()).toEqual(['GroupGone:firing', 'Kept:firing', 'Removed:firing'])
    await after.step() // 10:06:00 = first seen + 4m
    expect(await states()).toEqual(['shop/Kept:firing:2026-03-02T10:00:30.000Z'])
    expect(await outbox()).toEqual([
      'GroupGone:firing',
      'GroupGone:resolved',
      'Kept:firing',
      'Removed:firing',
      'Removed:resolved',
    ])
    // Nothing more: a pending alert of a removed rule was never announced, and is not now.
    await after.step()
    expect(await outbox()).toHaveLength(5)
  })

  // A rolling deploy: a replica with the old file and one with the new evaluate in turn. The
  // new one must not resolve what the old one still evaluates (the old one would announce it
  // again at its next tick); once the old one is gone, the alerts resolve after the quiet time.
  test('a replica still running the old file keeps its alerts; they resolve 4m after it stops', async () => {
    const clock = manualClock('2026-03-02T10:00:00Z')
    const old = processWith(BEFORE, clock)
    await old.step() // 10:00:30 Removed and GroupGone fire
    const next = processWith(AFTER, clock)
    for (let i = 0; i < 10; i++) {
      await next.step(15_000)
      await old.step(15_000)
    } // 10:05:30
    expect(await outbox()).toEqual(['GroupGone:firing', 'Kept:firing', 'Removed:firing'])
    for (let i = 0; i < 8; i++) await next.step() // 10:09:30: the last rewrite was at 10:05:30
    expect(await outbox()).toEqual(['GroupGone:firing', 'Kept:firing', 'Removed:firing'])
    await next.step() // 10:10:00 = first seen unchanged (10:06:00) + 4m
    expect(await outbox()).toEqual([
      'GroupGone:firing',
      'GroupGone:resolved',
      'Kept:firing',
      'Removed:firing',
      'Removed:resolved',
    ])
  })
})

describe('a restart while an alert is pending (README: deliberately not RestoreForState)', () => {
  const PENDING = `
groups:
  - name: slow
    interval: 1m
    rules:
      - alert: Slow
        expr: slow > 0
        for: 10m
`
  // Prometheus 2.42 would restore activeAt from ALERTS_FOR_STATE and, with 6m of `for` left
  // (< the 10m --rules.alert.for-grace-period), set it to restore time + 10m - 10m, firing
  // no sooner than 10m after the restore (rules/manager.go RestoreForState). Here the stored
  // activeAt is kept: the alert fires when its `for` has elapsed since it became pending.
  test('the stored activeAt is kept across a 2-minute outage: fires at activeAt + for', async () => {
    const clock = manualClock('2026-03-02T10:00:00Z')
    const before = processWith(PENDING, clock)
    for (let i = 0; i < 4; i++) await before.step(60_000) // 10:01 … 10:04, pending since 10:01
    expect(await states()).toEqual(['slow/Slow:pending:2026-03-02T10:01:00.000Z'])
    clock.advance(120_000) // down from 10:04 to 10:06
    const after = processWith(PENDING, clock)
    for (let i = 0; i < 4; i++) await after.step(60_000) // 10:07 … 10:10
    expect(await states()).toEqual(['slow/Slow:pending:2026-03-02T10:01:00.000Z'])
    await after.step(60_000) // 10:11 = activeAt + 10m
    expect(await states()).toEqual(['slow/Slow:firing:2026-03-02T10:01:00.000Z'])
    expect(await outbox()).toEqual(['Slow:firing'])
  })
})

// The stored alerts of removed rules used to be retired only inside the transaction of a group
// that still had live alerting rules: a file left with none (recording rules only, or no group
// at all) kept announcing the old firing alert at every repeat interval. The manager now sweeps
// them itself, at 4 × max(sweep interval, 1m) of quiet, as retireUnloaded judges.
describe('a rule file left with no alerting rules across a restart', () => {
  const ONE_ALERT = `
groups:
  - name: shop
    interval: 30s
    rules:
      - alert: Fired
        expr: fired > 0
`
  const RECORDING_ONLY = `
groups:
  - name: shop
    interval: 30s
    rules:
      - record: job:fired:sum
        expr: sum(fired)
`
  const NO_GROUPS = 'groups: []\n'

  // The resolution as the outbox holds it for WhatsApp: the alert that fired, its startsAt.
  const resolvedContent = async () =>
    (await ctx.database.db.select().from(alertOutbox))
      .filter((r) => r.transition === 'resolved')
      .map((r) => r.content)

  for (const [name, text] of [
    ['recording rules only', RECORDING_ONLY],
    ['no group at all', NO_GROUPS],
  ] as const) {
    test(`${name}: the old firing alert resolves 4m after it is first seen unwritten, once`, async () => {
      const clock = manualClock('2026-03-02T10:00:00Z')
      const before = processWith(ONE_ALERT, clock)
      await before.step() // 10:00:30 Fired fires
      expect(await outbox()).toEqual(['Fired:firing'])

      const after = processWith(text, clock)
      expect(after.manager.groups.length).toBe(text === NO_GROUPS ? 0 : 1)
      await after.step() // 10:01:00 the orphan is first seen
      for (let i = 0; i < 7; i++) await after.step() // 10:01:30 … 10:04:30
      expect(await states()).toEqual(['shop/Fired:firing:2026-03-02T10:00:30.000Z'])
      expect(await outbox()).toEqual(['Fired:firing'])
      await after.step() // 10:05:00 = first seen + 4 × max(1m sweep, 1m)
      expect(await states()).toEqual([])
      expect(await outbox()).toEqual(['Fired:firing', 'Fired:resolved'])
      expect(await resolvedContent()).toEqual([
        {
          alerts: [
            {
              value: '1',
              where: 'shop',
              severity: 'warning',
              startsAt: '2026-03-02T10:00:30.000Z',
              alertname: 'Fired',
              fingerprint: fingerprint({ alertname: 'Fired', job: 'shop' }),
            },
          ],
        },
      ])
      await after.step()
      await after.step()
      expect(await outbox()).toEqual(['Fired:firing', 'Fired:resolved'])
    })
  }

  test('a replica still running the old file keeps its alert; it resolves 4m after it stops', async () => {
    const clock = manualClock('2026-03-02T10:00:00Z')
    const old = processWith(ONE_ALERT, clock)
    await old.step() // 10:00:30 Fired fires
    const next = processWith(NO_GROUPS, clock)
    for (let i = 0; i < 10; i++) {
      await next.step(15_000)
      await old.step(15_000)
    } // 10:05:30, the old replica's last rewrite
    expect(await outbox()).toEqual(['Fired:firing'])
    for (let i = 0; i < 8; i++) await next.step() // 10:09:30
    expect(await outbox()).toEqual(['Fired:firing'])
    await next.step() // 10:10:00 = first seen unchanged (10:06:00) + 4m
    expect(await outbox()).toEqual(['Fired:firing', 'Fired:resolved'])
  })

  // start() with no group used to schedule nothing at all: the orphan stayed firing for good.
  test('start() with no group schedules the sweep alone, at its slot', async () => {
    const clock = manualClock('2026-03-02T10:00:00Z')
    const before = processWith(ONE_ALERT, clock)
    await before.step() // 10:00:30 Fired fires
    const { manager } = processWith(NO_GROUPS, clock)
    // One scheduled sweep, run by hand: the timer fires at its slot, the sweep runs to its end.
    const sweepAtSlot = async () => {
      jest.useFakeTimers()
      try {
        manager.start()
        expect(jest.getTimerCount()).toBe(1)
        const now = clock.now().getTime()
        const slot = nextEvaluationAt(ORPHAN_SWEEP_KEY, 60_000, now)
        jest.advanceTimersByTime(slot - now - 1)
        expect(jest.getTimerCount()).toBe(1)
        clock.set(new Date(slot).toISOString())
        jest.advanceTimersByTime(1)
      } finally {
        jest.useRealTimers()
      }
      await manager.stop() // waits for the sweep the timer started
      return new Date(clock.now()).toISOString()
    }
    const firstSeen = await sweepAtSlot()
    clock.advance(4 * 60_000 - 30_000)
    await sweepAtSlot() // the next slot: first seen + 4m
    expect(clock.now().getTime() - Date.parse(firstSeen)).toBe(4 * 60_000)
    expect(await states()).toEqual([])
    expect(await outbox()).toEqual(['Fired:firing', 'Fired:resolved'])
  })
})
