import { describe, expect, test } from 'bun:test'
import { nextEvaluationAt } from '../../../src/alerting/rules/manager.ts'

// Prometheus' rules/group.go `EvalTimestamp` (offset = hash % interval) and `run` (first
// evaluation at EvalTimestamp(now) + interval, then a ticker at every slot after it; what a
// tick evaluates and counts: iterations-missed.test.ts).
describe('nextEvaluationAt: evaluation slots at a phase fixed by the group', () => {
  const interval = 30_000
  const t0 = Date.parse('2026-03-02T10:00:00Z')
  const first = nextEvaluationAt('shop', interval, t0)

  test('the next slot is within one interval, at the same phase whenever the process started', () => {
    expect(first - t0).toBeGreaterThan(0)
    expect(first - t0).toBeLessThanOrEqual(interval)
    // Another replica started 12.345 s before that slot ticks at the same instant, and one
    // started 10 intervals later ticks 10 intervals later: the same slots.
    expect(nextEvaluationAt('shop', interval, first - 12_345)).toBe(first)
    expect(nextEvaluationAt('shop', interval, t0 + 10 * interval)).toBe(first + 10 * interval)
    // At the slot itself, the next is one interval on; just before it, the slot itself.
    expect(nextEvaluationAt('shop', interval, first)).toBe(first + interval)
    expect(nextEvaluationAt('shop', interval, first - 1)).toBe(first)
  })

  test('after an evaluation that took 2.5 intervals the ticker ticks next in a slot, with no drift', () => {
    // Go's ticker, receiving late at first + 75 s, ticks next at the first slot after then.
    expect(nextEvaluationAt('shop', interval, first + 75_000)).toBe(first + 90_000)
    // A 1.2 s evaluation does not push the next slot 1.2 s later.
    expect(nextEvaluationAt('shop', interval, first + 1_200)).toBe(first + interval)
  })

  test('groups have their own phase', () => {
    const phases = ['shop', 'payments', 'slo', 'whatsapp'].map(
      (k) => nextEvaluationAt(k, interval, t0) % interval,
    )
    expect(new Set(phases).size).toBe(4)
  })
})
