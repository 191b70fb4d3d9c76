/**
 * Which alerts `bun run demo:traffic` sets off on a fresh `bun run dev`: the demo's mix runs
 * in-process against the app, the app's registry is sampled into the embedded store every
 * 15 s of an injected clock and every shipped rule file (ops/prometheus/rules/*.yml) is
 * evaluated every 30 s, as `bun run dev` does, during the demo's 30 seconds and the 20 minutes
 * after (PaymentFailureRate looks back 15 minutes and waits 5). Actions run one after
 * another, so a seed gives one sequence of requests.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { DEMO_TRAFFIC, prepareTraffic } from '../../scripts/lib/traffic.ts'
import { createEmbeddedEngine } from '../../src/alerting/rules/embedded.ts'
import { createRuleManager, expandRuleFiles, loadRules } from '../../src/alerting/rules/manager.ts'
import type { DatabaseHandle } from '../../src/db/client.ts'
import { createMetrics } from '../../src/metrics.ts'
import { alertingFor, manualClock, resetAlertTables } from '../helpers/alerts.ts'
import { buildTestApp } from '../helpers/app.ts'
import { createTenant } from '../helpers/commerce.ts'
import { freshDatabase } from '../helpers/db.ts'
import { captureLogs } from '../helpers/logs.ts'
import { repoPath } from '../ops/ops-files.ts'

setDefaultTimeout(120_000)

let database: DatabaseHandle
beforeAll(async () => {
  database = await freshDatabase()
})
afterAll(async () => {
  await database.close()
})

/**
 * Runs the traffic mix for the demo's duration at its rate against a fresh app and rule
 * manager, then keeps evaluating for 20 minutes without traffic. Returns every alert that was
 * pending or firing at some evaluation, as `alertname severity state`, sorted, and the count of
 * each payment outcome.
 */
async function alertsSetOffBy(mix: { errorShare: number; declineShare: number }) {
  await resetAlertTables(database)
  const clock = manualClock('2026-03-02T10:00:00Z')
  const logs = captureLogs()
  const metrics = createMetrics({
    log: logs.log,
    enabled: true,
    seriesLimits: {},
    build: { version: 't', commit: 't' },
  })
  // What the background ping of a started service reports (buildTestApp starts none).
  metrics.db.up.unlabelled.set(1)
  const engine = createEmbeddedEngine({
    registry: metrics.registry,
    intervalMs: 15_000,
    now: () => clock.now().getTime(),
  })
  const groups = loadRules(expandRuleFiles(repoPath('ops', 'prometheus', 'rules', '*.yml')), {
    defaultIntervalMs: 30_000,
    compile: engine.compile,
    skipReason: engine.skipReason,
    record: true,
  })
  const ruleManager = createRuleManager({
    db: database.db,
    groups,
    source: engine.source,
    recorder: engine.recorder,
    dispatcher: alertingFor(database, undefined).alerting.dispatcher,
    clock,
    log: logs.log,
  })
  const { app, call } = await buildTestApp({ database, metrics, clock, ruleManager })
  const { apiKey } = await createTenant(call, 'Demo traffic shop')
  const payments = new Map<string, number>()
  const traffic = await prepareTraffic({
    base: 'http://localhost',
    apiKey,
    seed: 1,
    ...mix,
    fetch: (request) => app.handle(request),
    onResult: (label, status) => {
      if (label.startsWith('pay '))
        payments.set(`${label} ${status}`, (payments.get(`${label} ${status}`) ?? 0) + 1)
    },
  })
  const seen = new Set<string>()
  const perTick = (DEMO_TRAFFIC.rate * 15_000) / 1000
  const trafficTicks = DEMO_TRAFFIC.durationSeconds / 15
  for (let tick = 0; tick < trafficTicks + (20 * 60) / 15; tick++) {
    if (tick < trafficTicks) for (let i = 0; i < perTick; i++) await traffic.oneAction()
    clock.advance(15_000)
    await engine.sampler.sampleOnce()
    if (tick % 2 === 1) {
      await ruleManager.evaluateAll()
      for (const alert of await ruleManager.activeAlerts())
        seen.add(`${alert.labels.alertname} ${alert.labels.severity} ${alert.state}`)
    }
  }
  return { alerts: [...seen].sort(), payments: Object.fromEntries([...payments].sort()) }
}

describe('bun run demo:traffic and the shipped alerts', () => {
  test("the demo's healthy mix sets off no alert, during its 30 seconds or the 20 minutes after", async () => {
    const { alerts, payments } = await alertsSetOffBy(DEMO_TRAFFIC)
    // The mix did pay and decline: the silence is not for want of payments.
    expect(payments).toEqual({ 'pay tok_declined 402': 6, 'pay tok_success 201': 105 })
    expect(alerts).toEqual([])
  })

  test('5 % provider errors and 10 % declines (the former defaults) page on both SLOs, and nothing else', async () => {
    const { alerts, payments } = await alertsSetOffBy({ errorShare: 0.05, declineShare: 0.1 })
    expect(payments).toEqual({
      'pay tok_declined 402': 7,
      'pay tok_error 502': 6,
      'pay tok_success 201': 100,
    })
    // The finding this file keeps: 6 provider errors in 113 payments burn the payment SLO's
    // 0.5 % budget 10 times over, and the same six 502s in about 600 requests the availability
    // SLO's 0.1 % 10 times: both above the page's 6× (6h and 30m windows, which hold only the
    // demo on a fresh start) and the ticket's 3× and 1×. The declines page nobody.
    expect(alerts).toEqual([
      'ApiAvailabilityBudgetBurn critical firing',
      'ApiAvailabilityBudgetBurn warning firing',
      'PaymentSuccessBudgetBurn critical firing',
      'PaymentSuccessBudgetBurn warning firing',
    ])
  })
})
