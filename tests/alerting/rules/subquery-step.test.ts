import { expect, test } from 'bun:test'
import { Gauge, Registry } from 'prom-client'
import { createEmbeddedEngine } from '../../../src/alerting/rules/embedded.ts'
import { manualClock } from '../../helpers/alerts.ts'

// Prometheus steps a subquery written without a step by its global evaluation_interval
// (cmd/prometheus/main.go `noStepSubqueryInterval.Set(conf.GlobalConfig.EvaluationInterval)`),
// in rule expressions and in the template function `query` alike. The service passes
// ALERT_EVAL_INTERVAL (src/services.ts); unset, the engine keeps Prometheus' default of 1m.
async function counts(subqueryStepMs: number | undefined) {
  const clock = manualClock('2026-03-02T10:00:00Z')
  const registry = new Registry()
  const gauge = new Gauge({ name: 'depth', help: 'h', registers: [registry] })
  const engine = createEmbeddedEngine({
    registry,
    intervalMs: 10_000,
    now: () => clock.now().getTime(),
    subqueryStepMs,
  })
  // a sample every 10 s for 5 minutes
  for (let i = 0; i <= 30; i++) {
    gauge.set(i)
    await engine.sampler.sampleOnce()
    clock.advance(10_000)
  }
  clock.advance(-10_000)
  const expr = 'count_over_time(depth[2m:])'
  const rule = await engine.source.instantQuery(expr, clock.now())
  const template = engine.templateQuery(expr, clock.now().getTime())
  return { rule, template: template.map((s) => s.value) }
}

test('subqueries without a step are stepped by the given evaluation interval, in rules and template queries', async () => {
  // 10:05:00 back to 10:03:00 inclusive (Prometheus 2.x ranges are closed), every 20 s: 7 steps
  expect(await counts(20_000)).toEqual({
    rule: { resultType: 'vector', samples: [{ labels: {}, value: 7 }] },
    template: [7],
  })
})

test('without one they are stepped by Prometheus’ default of 1m', async () => {
  expect(await counts(undefined)).toEqual({
    rule: { resultType: 'vector', samples: [{ labels: {}, value: 3 }] },
    template: [3],
  })
})
