import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRuleManager, loadRules, nextEvaluationAt } from '../../../src/alerting/rules/manager.ts'
import { alertOutbox, alertRuleStates } from '../../../src/db/schema.ts'
import type { InstantResult, QuerySource } from '../../../src/prometheus/promql/query-source.ts'
import { alertingFor, manualClock, ruleManagerTestContext } from '../../helpers/alerts.ts'
import { captureLogs } from '../../helpers/logs.ts'

setDefaultTimeout(30_000)

const ctx = ruleManagerTestContext()

const INTERVAL = 30_000
// The group's slots: S(0) is the first after 10:00, S(k) k intervals later.
const S0 = nextEvaluationAt('shop', INTERVAL, Date.parse('2026-03-02T10:00:00Z'))
const S = (k: number) => S0 + k * INTERVAL
const iso = (ms: number) => new Date(ms).toISOString()

/**
 * One replica of the service on the shared database: its own clock and dispatcher, the rule
 * file `rules`, and a Prometheus-like source that answers `errors > 0` with one series when
 * the query's time is in `[on, off)`: the data the query time selects, the same on every replica.
 */
function replica(rules: string, on: number, off = Number.POSITIVE_INFINITY) {
  const dir = mkdtempSync(join(tmpdir(), 'cc-rules-same-slot-'))
  writeFileSync(join(dir, 'alerts.yml'), rules)
  const clock = manualClock(iso(S0 - INTERVAL))
  const source: QuerySource = {
    async instantQuery(_expr: string, time: Date): Promise<InstantResult> {
      const t = time.getTime()
      return {
        resultType: 'vector',
        samples: t >= on && t < off ? [{ labels: { job: 'shop' }, value: 1 }] : [],
      }
    },
  }
  const delivery = alertingFor(ctx.database, undefined)
  const manager = createRuleManager({
    db: ctx.database.db,
    groups: loadRules([join(dir, 'alerts.yml')], { defaultIntervalMs: INTERVAL }),
    source,
    dispatcher: delivery.alerting.dispatcher,
    clock,
    log: captureLogs().log,
  })
  const group = manager.groups[0]!
  /** This replica's tick of slot `slot`, `lateMs` after it by its timers (and clock). */
  const tick = async (slot: number, lateMs: number) => {
    clock.set(iso(slot + lateMs))
    const outcome = await manager.evaluateGroup(group, slot)
    delivery.clock.set(clock.now().toISOString())
    await delivery.alerting.tick()
    return outcome
  }
  return { tick }
}

const states = async () =>
  (await ctx.database.db.select().from(alertRuleStates)).map(
    (r) => `${r.ruleName}:${r.state}:active ${r.activeAt.toISOString()}:fired ${r.firedAt?.toISOString()}`,
  )
const outbox = async () =>
  (await ctx.database.db.select().from(alertOutbox))
    .map((r) => {
      const alerts = r.content.alerts as Array<{ startsAt: string }>
      return `${r.alertname}:${r.transition}:${alerts.map((a) => a.startsAt).join(',')}`
    })
    .sort()

// Two replicas tick in every slot of the group, A 10 ms after it, B 400 ms after it: A's
// evaluation is over (its transaction committed, its advisory xact lock released) when B's
// starts, so each takes the lock and evaluates the group in the same slot. Prometheus
// evaluates a group once per slot, at the slot's timestamp (rules/group.go `run` hands
// `evalTimestamp` to `Group.Eval`), so the result must be the one of a single evaluation there.
describe('two replicas evaluating the group in the same slot, one after the other', () => {
  test('`for` counts from a slot: data arriving between the two ticks does not fire an interval early', async () => {
    const rules =
      'groups:\n  - name: shop\n    interval: 30s\n    rules:\n      - alert: Errors\n        expr: errors > 0\n        for: 30s\n'
    // The series is there from 200 ms after S(0): the query at S(0) does not see it.
    const on = S(0) + 200
    const a = replica(rules, on)
    const b = replica(rules, on)
    for (const k of [0, 1]) {
      expect(await a.tick(S(k), 10)).toBe('evaluated')
      expect(await b.tick(S(k), 400)).toBe('evaluated')
    }
    // As one Prometheus: S(0) sees nothing, S(1) makes the alert pending, S(2) fires it.
    expect(await states()).toEqual([`Errors:pending:active ${iso(S(1))}:fired undefined`])
    expect(await outbox()).toEqual([])
    await a.tick(S(2), 10)
    await b.tick(S(2), 400)
    expect(await states()).toEqual([`Errors:firing:active ${iso(S(1))}:fired ${iso(S(2))}`])
    expect(await outbox()).toEqual([`Errors:firing:${iso(S(2))}`])
  })

  test('data that changes between the two ticks sends no firing and resolved pair in one slot', async () => {
    const rules =
      'groups:\n  - name: shop\n    interval: 30s\n    rules:\n      - alert: Errors\n        expr: errors > 0\n'
    // The series is there at S(0) and gone from 200 ms later on.
    const a = replica(rules, S(0) - 1000, S(0) + 200)
    const b = replica(rules, S(0) - 1000, S(0) + 200)
    await a.tick(S(0), 10)
    await b.tick(S(0), 400)
    // As one Prometheus evaluating at S(0): the alert fires, once.
    expect(await states()).toEqual([`Errors:firing:active ${iso(S(0))}:fired ${iso(S(0))}`])
    expect(await outbox()).toEqual([`Errors:firing:${iso(S(0))}`])
    await a.tick(S(1), 10)
    await b.tick(S(1), 400)
    expect(await states()).toEqual([`Errors:inactive:active ${iso(S(0))}:fired ${iso(S(0))}`])
    expect(await outbox()).toEqual([`Errors:firing:${iso(S(0))}`, `Errors:resolved:${iso(S(0))}`])
  })
})
