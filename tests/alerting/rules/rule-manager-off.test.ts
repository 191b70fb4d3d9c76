import { describe, expect, jest, setDefaultTimeout, test } from 'bun:test'
import { alertOutbox, alertRuleStates } from '../../../src/db/schema.ts'
import { fingerprint } from '../../../src/prometheus/rules/alerting-rule.ts'
import { alertingFor, manualClock, ruleManagerTestContext, ruleProcess } from '../../helpers/alerts.ts'

setDefaultTimeout(30_000)

const ctx = ruleManagerTestContext()

const ONE_ALERT = `
groups:
  - name: shop
    interval: 30s
    rules:
      - alert: Fired
        expr: fired > 0
`

/** A process whose rule manager runs the file above (ruleProcess), evaluating without delivering. */
function evaluator(clock: ReturnType<typeof manualClock>) {
  const { manager } = ruleProcess(ctx.database, ONE_ALERT, clock)
  return async (ms = 30_000) => {
    clock.advance(ms)
    await manager.evaluateAll()
  }
}

/** A process with ALERTS_ENABLED=false: its orphan sweep, then its delivery tick. */
function managerOff(clock: ReturnType<typeof manualClock>) {
  const delivery = alertingFor(ctx.database, undefined, { ALERTS_ENABLED: 'false' })
  return async (ms = 30_000) => {
    clock.advance(ms)
    delivery.clock.set(clock.now().toISOString())
    await delivery.alerting.orphanSweep?.sweep()
    await delivery.alerting.tick()
  }
}

const states = async () =>
  (await ctx.database.db.select().from(alertRuleStates)).map((r) => `${r.ruleName}:${r.state}`)
const outbox = async () =>
  (await ctx.database.db.select().from(alertOutbox)).map((r) => ({
    alertname: r.alertname,
    transition: r.transition,
    content: r.content,
  }))

const FIRED = {
  value: '1',
  where: 'shop',
  severity: 'warning',
  startsAt: '2026-03-02T10:00:30.000Z',
  alertname: 'Fired',
  fingerprint: fingerprint({ alertname: 'Fired', job: 'shop' }),
}

// Prometheus stopped sends nothing more; Alertmanager resolves its alerts once the endsAt of
// their last send has passed (4 × max(group interval, 1m resend delay) after it). With the
// rule manager turned off, the alerts it had stored used to stay firing, repeated on WhatsApp
// for good: nothing but a running rule manager retired them.
describe('ALERTS_ENABLED=false: the alerts the rule manager stored end', () => {
  test('a firing alert resolves 4 × max(30s, 1m) after it is first seen unwritten, once', async () => {
    const clock = manualClock('2026-03-02T10:00:00Z')
    await evaluator(clock)() // 10:00:30 Fired fires
    const off = managerOff(clock)
    await off() // 10:01:00 first seen unwritten
    for (let i = 0; i < 7; i++) await off() // … 10:04:30
    expect(await states()).toEqual(['Fired:firing'])
    expect(await outbox()).toEqual([
      { alertname: 'Fired', transition: 'firing', content: { alerts: [FIRED] } },
    ])
    await off() // 10:05:00 = first seen + 4m
    expect(await states()).toEqual([])
    expect(await outbox()).toEqual([
      { alertname: 'Fired', transition: 'firing', content: { alerts: [FIRED] } },
      { alertname: 'Fired', transition: 'resolved', content: { alerts: [FIRED] } },
    ])
    for (let i = 0; i < 4; i++) await off()
    expect(await outbox()).toHaveLength(2)
  })

  test('an alert another replica still evaluates is left to it', async () => {
    const clock = manualClock('2026-03-02T10:00:00Z')
    const evaluate = evaluator(clock)
    const off = managerOff(clock)
    await evaluate() // 10:00:30 Fired fires
    for (let i = 0; i < 20; i++) {
      await off(15_000)
      await evaluate(15_000)
    } // 10:10:30
    expect(await states()).toEqual(['Fired:firing'])
    expect((await outbox()).map((r) => r.transition)).toEqual(['firing'])
  })

  test('start() schedules the sweep beside the delivery loop only when the rule manager is off', async () => {
    for (const [env, timers] of [
      [{}, 1],
      [{ ALERTS_ENABLED: 'false' }, 2],
    ] as const) {
      const { alerting } = alertingFor(ctx.database, undefined, env)
      expect(alerting.orphanSweep === undefined).toBe(timers === 1)
      jest.useFakeTimers()
      try {
        alerting.start()
        expect(jest.getTimerCount()).toBe(timers)
        await alerting.stop()
        expect(jest.getTimerCount()).toBe(0)
      } finally {
        jest.useRealTimers()
      }
    }
  })
})
