import { describe, expect, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRuleManager, loadRules, nextEvaluationAt } from '../../../src/alerting/rules/manager.ts'
import { createMetrics } from '../../../src/metrics.ts'
import type { InstantResult, QuerySource } from '../../../src/prometheus/promql/query-source.ts'
import { alertingFor, manualClock, ruleManagerTestContext } from '../../helpers/alerts.ts'
import { captureLogs } from '../../helpers/logs.ts'
import { family } from '../../helpers/scrape.ts'

const ctx = ruleManagerTestContext()

// A group of one recording rule takes no database transaction: the scheduler alone is tested.
// 100 ms slots keep the real timers short; the injected clock says how long evaluations take.
const INTERVAL = 100
const RULES = `
groups:
  - name: slow
    interval: 100ms
    rules:
      - record: slow:sum
        expr: vector(1)
`

/** A rule manager running RULES on `source` and `clock`, with its own metrics registry. */
function slowGroup(source: QuerySource, clock: ReturnType<typeof manualClock>) {
  const dir = mkdtempSync(join(tmpdir(), 'cc-rules-missed-'))
  writeFileSync(join(dir, 'rules.yml'), RULES)
  const metrics = createMetrics({ log: captureLogs().log, processMetrics: false })
  const manager = createRuleManager({
    db: ctx.database.db,
    groups: loadRules([join(dir, 'rules.yml')], { defaultIntervalMs: 30_000, record: true }),
    source,
    recorder: { write: () => undefined },
    dispatcher: alertingFor(ctx.database, undefined).alerting.dispatcher,
    clock,
    log: captureLogs().log,
    metrics: metrics.ruleManager,
  })
  return { metrics, manager }
}

describe('alert_rule_group_iterations_missed_total (prometheus_rule_group_iterations_missed_total)', () => {
  // rules/group.go `run`: at each tick, missed = whole intervals since the last evaluated
  // slot, less one; missed slots count in iterations_missed_total and iterations_total.
  test('an evaluation taking 2.5 intervals counts exactly 2 missed slots, and 4 iterations', async () => {
    const first = nextEvaluationAt('slow', INTERVAL, Date.parse('2026-03-02T10:00:00Z'))
    const clock = manualClock(new Date(first - 1).toISOString())
    let evaluations = 0
    const queriedAt: number[] = []
    let done: () => void = () => {}
    const secondDone = new Promise<void>((resolve) => {
      done = resolve
    })
    const source: QuerySource = {
      async instantQuery(_expr: string, time: Date): Promise<InstantResult> {
        evaluations++
        queriedAt.push(time.getTime())
        // The first evaluation (slot `first`) ends 2.5 intervals after it: the slots
        // first + 100 and first + 200 pass meanwhile; the next tick is first + 300.
        if (evaluations === 1) clock.set(new Date(first + 2.5 * INTERVAL).toISOString())
        if (evaluations === 2) {
          clock.set(new Date(first + 3 * INTERVAL + 10).toISOString())
          done()
        }
        return { resultType: 'vector', samples: [{ labels: {}, value: 1 }] }
      },
    }
    const { metrics, manager } = slowGroup(source, clock)
    manager.start()
    const text0 = await metrics.render()
    // Exported at 0 from the start, as Prometheus' NewGroup creates the series.
    expect(family(text0, 'alert_rule_group_iterations_missed_total')).toEqual({
      'alert_rule_group_iterations_missed_total{rule_group="slow"}': 0,
    })
    try {
      await secondDone
    } finally {
      await manager.stop()
    }
    const text = await metrics.render()
    expect(evaluations).toBe(2)
    // Each tick evaluates at its slot's timestamp (Group.Eval(ctx, evalTimestamp)), not at the
    // clock's now when the timer fired (first - 1 by this clock, then first + 250).
    expect(queriedAt).toEqual([first, first + 3 * INTERVAL])
    expect(family(text, 'alert_rule_group_iterations_missed_total')).toEqual({
      'alert_rule_group_iterations_missed_total{rule_group="slow"}': 2,
    })
    expect(family(text, 'alert_rule_group_iterations_total')).toEqual({
      'alert_rule_group_iterations_total{rule_group="slow"}': 4,
    })
  })

  test('an evaluation within its interval misses nothing', async () => {
    const first = nextEvaluationAt('slow', INTERVAL, Date.parse('2026-03-02T10:00:00Z'))
    const clock = manualClock(new Date(first - 1).toISOString())
    let evaluations = 0
    let done: () => void = () => {}
    const thirdDone = new Promise<void>((resolve) => {
      done = resolve
    })
    const source: QuerySource = {
      async instantQuery(): Promise<InstantResult> {
        evaluations++
        // Each evaluation ends 0.9 interval after its slot, 0.1 before the next.
        clock.set(new Date(first + (evaluations - 1) * INTERVAL + 0.9 * INTERVAL).toISOString())
        if (evaluations === 3) done()
        return { resultType: 'vector', samples: [{ labels: {}, value: 1 }] }
      },
    }
    const { metrics, manager } = slowGroup(source, clock)
    manager.start()
    try {
      await thirdDone
    } finally {
      await manager.stop()
    }
    const text = await metrics.render()
    expect(family(text, 'alert_rule_group_iterations_missed_total')).toEqual({
      'alert_rule_group_iterations_missed_total{rule_group="slow"}': 0,
    })
    expect(family(text, 'alert_rule_group_iterations_total')).toEqual({
      'alert_rule_group_iterations_total{rule_group="slow"}': 3,
    })
  })
})
