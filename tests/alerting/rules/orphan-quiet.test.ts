import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { alertOutbox, alertRuleStates } from '../../../src/db/schema.ts'
import { manualClock, ruleManagerTestContext, ruleProcess } from '../../helpers/alerts.ts'

setDefaultTimeout(30_000)

const ctx = ruleManagerTestContext()

/** One process on the shared database with rule file `text` (ruleProcess). */
const processWith = (text: string, clock: ReturnType<typeof manualClock>) =>
  ruleProcess(ctx.database, text, clock)

const outbox = async () =>
  (await ctx.database.db.select().from(alertOutbox)).map((r) => `${r.alertname}:${r.transition}`).sort()

// Prometheus' last send of an alert is valid until 4 × max(interval of the group that sent
// it, 1m resend delay) (rules/alerting.go `sendAlerts`, rules/group.go passing `g.interval`):
// an alert of a 5m group that stops being sent resolves in Alertmanager 20m later, whichever
// group of the file still runs. The quiet time used to be the interval of whichever group's
// transaction found the orphan (here a 30s group: 4m).
describe("an orphan's quiet time is its own group's interval", () => {
  const BEFORE = `
groups:
  - name: shop
    interval: 30s
    rules:
      - alert: Kept
        expr: kept > 0
  - name: slow
    interval: 5m
    rules:
      - alert: SlowGone
        expr: slow > 0
`
  const AFTER = `
groups:
  - name: shop
    interval: 30s
    rules:
      - alert: Kept
        expr: kept > 0
`
  test('a removed 5m group judged by a 30s group: resolved 20m after first seen unwritten, not 4m', async () => {
    const clock = manualClock('2026-03-02T10:00:00Z')
    await processWith(BEFORE, clock).step(30_000) // 10:00:30 Kept and SlowGone fire
    expect(await outbox()).toEqual(['Kept:firing', 'SlowGone:firing'])
    const after = processWith(AFTER, clock)
    await after.step(30_000) // 10:01:00 SlowGone first seen unwritten
    for (let i = 0; i < 39; i++) await after.step(30_000) // … 10:20:30
    expect(await outbox()).toEqual(['Kept:firing', 'SlowGone:firing'])
    await after.step(30_000) // 10:21:00 = first seen + 4 × 5m
    expect(await outbox()).toEqual(['Kept:firing', 'SlowGone:firing', 'SlowGone:resolved'])
  })

  test('a row stored without its interval takes the current interval of its loaded group', async () => {
    const clock = manualClock('2026-03-02T10:00:00Z')
    const TWO = `
groups:
  - name: shop
    interval: 30s
    rules:
      - alert: Kept
        expr: kept > 0
      - alert: Removed
        expr: removed > 0
  - name: slow
    interval: 5m
    rules:
      - alert: SlowKept
        expr: slow_kept > 0
      - alert: SlowRemoved
        expr: slow_removed > 0
`
    const ONE = `
groups:
  - name: shop
    interval: 2m
    rules:
      - alert: Kept
        expr: kept > 0
  - name: slow
    interval: 5m
    rules:
      - alert: SlowKept
        expr: slow_kept > 0
`
    await processWith(TWO, clock).step(30_000) // 10:00:30 all four fire
    // As written before the column existed.
    await ctx.database.db.update(alertRuleStates).set({ intervalMs: null })
    const after = processWith(ONE, clock)
    await after.step(60_000) // 10:01:30 Removed and SlowRemoved first seen unwritten
    for (let i = 0; i < 7; i++) await after.step(60_000) // … 10:08:30
    expect(await outbox()).not.toContain('Removed:resolved')
    await after.step(60_000) // 10:09:30 = first seen + 4 × max(2m, 1m)
    expect(await outbox()).toContain('Removed:resolved')
    for (let i = 0; i < 11; i++) await after.step(60_000) // … 10:20:30
    expect(await outbox()).not.toContain('SlowRemoved:resolved')
    await after.step(60_000) // 10:21:30 = first seen + 4 × 5m
    // One message per group's transition: Kept's names Removed too, SlowKept's SlowRemoved.
    expect(await outbox()).toEqual([
      'Kept:firing',
      'Removed:resolved',
      'SlowKept:firing',
      'SlowRemoved:resolved',
    ])
  })
})
