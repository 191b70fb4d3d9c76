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

/** What the scheduler did: per evaluation, its slot and when it ran, in intervals from `first`. */
interface Run {
  /** The timestamp each evaluation queried at (its slot). */
  slots: number[]
  /** When each evaluation started by the clock (a timer that fired early counts as its slot). */
  started: number[]
  missed: number
  iterations: number
}

/**
 * Starts the group with the clock just before its first slot and lets it evaluate
 * `durations.length` times: evaluation k takes `durations[k]` intervals by the clock. `during`
 * runs after evaluation k's query, and `afterStart` right after start(), for a test that moves
 * the clock behind the scheduler's back.
 */
async function runGroup(
  durations: number[],
  during: (k: number, clock: ReturnType<typeof manualClock>, first: number) => void = () => {},
  afterStart: (clock: ReturnType<typeof manualClock>, first: number) => void = () => {},
): Promise<{ text0: string; run: Run }> {
  const first = nextEvaluationAt('slow', INTERVAL, Date.parse('2026-03-02T10:00:00Z'))
  const clock = manualClock(new Date(first - 1).toISOString())
  const slots: number[] = []
  const started: number[] = []
  let done: () => void = () => {}
  const allDone = new Promise<void>((resolve) => {
    done = resolve
  })
  const source: QuerySource = {
    async instantQuery(_expr: string, time: Date): Promise<InstantResult> {
      const k = slots.length
      // The manual clock stands still while a timer waits: a timer that fired on time finds
      // it before its slot, and the evaluation starts at the slot.
      const start = Math.max(clock.now().getTime(), time.getTime())
      slots.push((time.getTime() - first) / INTERVAL)
      started.push((start - first) / INTERVAL)
      clock.set(new Date(start + (durations[k] ?? 0.1) * INTERVAL).toISOString())
      during(k, clock, first)
      if (slots.length === durations.length) done()
      return { resultType: 'vector', samples: [{ labels: {}, value: 1 }] }
    },
  }
  const { metrics, manager } = slowGroup(source, clock)
  manager.start()
  afterStart(clock, first)
  const text0 = await metrics.render()
  try {
    await allDone
  } finally {
    await manager.stop()
  }
  const text = await metrics.render()
  const count = (name: string) => family(text, name)[`${name}{rule_group="slow"}`] as number
  return {
    text0,
    run: {
      slots,
      started,
      missed: count('alert_rule_group_iterations_missed_total'),
      iterations: count('alert_rule_group_iterations_total'),
    },
  }
}

// Prometheus' rules/group.go `run`: the first evaluation at the group's first slot counts one
// iteration (`iter()` adds 1 to iterations_total, before any tick), then at each receive from
// `tick := time.NewTicker(g.interval)`:
//   missed := (time.Since(evalTimestamp) / g.interval) - 1
//   if missed > 0 { IterationsMissed.Add(missed); IterationsScheduled.Add(missed) }
//   evalTimestamp = evalTimestamp.Add((missed + 1) * g.interval)
//   iter()
// The ticker's channel holds one tick and drops the others (Go's time.NewTicker: "drop ticks
// to make up for slow receivers"): after an evaluation that overran a tick the loop receives at
// once and evaluates the latest slot that has come, late; the ticker then ticks next at the
// first slot after that. S = the first slot, I = the interval; the evaluations a test does not
// make slow take 0.1 I.
describe('alert_rule_group_iterations_missed_total (prometheus_rule_group_iterations_missed_total)', () => {
  test('exported at 0 from the start, as NewGroup creates the series', async () => {
    const { text0, run } = await runGroup([0.1])
    expect(family(text0, 'alert_rule_group_iterations_missed_total')).toEqual({
      'alert_rule_group_iterations_missed_total{rule_group="slow"}': 0,
    })
    // The first evaluation: slot S, one iteration, nothing missed.
    expect(run).toEqual({ slots: [0], started: [0], missed: 0, iterations: 1 })
  })

  test('an evaluation within its interval misses nothing', async () => {
    const { run } = await runGroup([0.9, 0.9, 0.9])
    expect(run).toEqual({ slots: [0, 1, 2], started: [0, 1, 2], missed: 0, iterations: 3 })
  })

  // Each evaluation at its slot's timestamp (Group.Eval(ctx, evalTimestamp)), not at the
  // clock's now when it starts: the tick received late evaluates S + I at 1.5 I.
  test.each([
    // Ends at S + I, when the tick of S + I comes: received at once, missed = 1 - 1 = 0.
    [1, { slots: [0, 1, 2], started: [0, 1, 2], missed: 0, iterations: 3 }],
    // Ends at S + 1.5 I, the tick of S + I held: missed = 1 - 1 = 0, S + I evaluated at 1.5 I;
    // the next tick is S + 2 I.
    [1.5, { slots: [0, 1, 2], started: [0, 1.5, 2], missed: 0, iterations: 3 }],
    // Ends at S + 2.5 I, the tick of S + I held and that of S + 2 I dropped: missed = 2 - 1 = 1,
    // S + 2 I evaluated at 2.5 I; then S + 3 I at its tick. 1 + (1 + 1) + 1 iterations.
    [2.5, { slots: [0, 2, 3], started: [0, 2.5, 3], missed: 1, iterations: 4 }],
    // Ends at S + 3 I, as the tick of S + 3 I comes (dropped, one is held): missed = 3 - 1 = 2,
    // S + 3 I evaluated at once; then S + 4 I. 1 + (2 + 1) + 1 iterations.
    [3, { slots: [0, 3, 4], started: [0, 3, 4], missed: 2, iterations: 5 }],
  ])('a first evaluation taking %p intervals', async (duration, expected) => {
    expect((await runGroup([duration, 0.1, 0.1])).run).toEqual(expected)
  })

  test('an overrun later on counts from the slot evaluated last, not from the start', async () => {
    // S, S + I, then 2.5 I from S + I: S + 3 I evaluated at 3.5 I, 1 missed (S + 2 I), then S + 4 I.
    const { run } = await runGroup([0.1, 2.5, 0.1, 0.1])
    expect(run).toEqual({ slots: [0, 1, 3, 4], started: [0, 1, 3.5, 4], missed: 1, iterations: 5 })
  })

  test('two overruns of 1.5 intervals in a row: the second misses the slot it overran', async () => {
    // S ends at 1.5 I: S + I at once (0 missed), until 3 I; the tick of S + 2 I is held and
    // that of S + 3 I dropped: missed = (3 I - I) / I - 1 = 1, S + 3 I evaluated at once.
    const { run } = await runGroup([1.5, 1.5, 0.1])
    expect(run).toEqual({ slots: [0, 1, 3], started: [0, 1.5, 3], missed: 1, iterations: 4 })
  })

  test('a tick whose timer fires late (a blocked event loop) evaluates the latest slot', async () => {
    // S takes 0.1 I; the event loop then blocks until S + 2.5 I, past the tick of S + I: Go's
    // runtime timer fires late too and the loop receives at 2.5 I: missed = 2 - 1 = 1, S + 2 I
    // evaluated at 2.5 I, and the ticker next ticks at S + 3 I.
    const { run } = await runGroup([0.1, 0.1, 0.1], (k, clock, first) => {
      // Moves the clock after the scheduler has armed the tick's timer for S + I.
      if (k === 0) setTimeout(() => clock.set(new Date(first + 2.5 * INTERVAL).toISOString()), 20)
    })
    expect(run).toEqual({ slots: [0, 2, 3], started: [0, 2.5, 3], missed: 1, iterations: 4 })
  })
  test('a first timer that fires late evaluates the latest slot, and counts the ones before it', async () => {
    // The event loop blocks from start() until S + 2.5 I. Prometheus would evaluate S then
    // (the evalTimestamp it waited for; 1 iteration) and S + 3 I at its next tick (missed =
    // 3 - 1 = 2): 2 missed, 4 iterations. Here the group's state is shared with replicas that
    // may have stored S + 2 I already (an evaluation at S would take that back), so S + 2 I
    // is evaluated instead, and S and S + I, skipped, count as missed at once: the same
    // totals once S + 3 I is evaluated.
    const { run } = await runGroup([0.1, 0.1], undefined, (clock, first) =>
      clock.set(new Date(first + 2.5 * INTERVAL).toISOString()),
    )
    expect(run).toEqual({ slots: [2, 3], started: [2.5, 3], missed: 2, iterations: 4 })
  })
})
