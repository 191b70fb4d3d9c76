/**
 * The availability SLO end to end with the embedded engine: real requests through the app
 * (orders paid with the sandbox's tok_error answer 502), the app's own registry sampled into the
 * embedded store every 15 s of an injected clock, the shipped ops/prometheus/rules/slo.yml
 * evaluated every 30 s (recordings fed back into the store), until the page alert of the
 * availability SLO fires; its WhatsApp message says how many times over the month would spend
 * the budget, and GET /slo reports the same objective with the same budget.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createEmbeddedEngine } from '../../src/alerting/rules/embedded.ts'
import { createRuleManager, loadRules } from '../../src/alerting/rules/manager.ts'
import type { DatabaseHandle } from '../../src/db/client.ts'
import { createMetrics } from '../../src/metrics.ts'
import { alertingFor, manualClock, ONCALL } from '../helpers/alerts.ts'
import { ADMIN_TOKEN, buildTestApp } from '../helpers/app.ts'
import { createOrder, createProduct, createTenant } from '../helpers/commerce.ts'
import { freshDatabase } from '../helpers/db.ts'
import { captureLogs } from '../helpers/logs.ts'
import { startWhatsAppFake } from '../helpers/whatsapp-fake.ts'
import { repoPath } from '../ops/ops-files.ts'

setDefaultTimeout(120_000)

let database: DatabaseHandle
const fake = startWhatsAppFake()
beforeAll(async () => {
  database = await freshDatabase()
})
afterAll(async () => {
  fake.stop()
  await database.close()
})

interface SloBody {
  data: {
    objectives: Array<{
      id: string
      objective: number
      errorBudget: number
      sli: { current: number | null; period: number | null }
      currentBurnRate: number | null
      periodBudgetRemaining: number | null
      windows: Array<{ window: string; errorRatio: number | null; burnRate: number | null }>
      alerts: Array<{ severity: string; state: string }>
    }>
  }
}

describe('SLO burn-rate alerts with the embedded engine', () => {
  test('5xx traffic pages the availability SLO; the WhatsApp message names the budget overspent; GET /slo agrees', async () => {
    const clock = manualClock('2026-03-02T10:00:00Z')
    const logs = captureLogs()
    const metrics = createMetrics({
      log: logs.log,
      enabled: true,
      seriesLimits: {},
      build: { version: 't', commit: 't' },
    })
    const engine = createEmbeddedEngine({
      registry: metrics.registry,
      intervalMs: 15_000,
      now: () => clock.now().getTime(),
    })
    const groups = loadRules([repoPath('ops', 'prometheus', 'rules', 'slo.yml')], {
      defaultIntervalMs: 30_000,
      compile: engine.compile,
      skipReason: engine.skipReason,
      record: true,
    })
    const delivery = alertingFor(database, fake.url)
    const ruleManager = createRuleManager({
      db: database.db,
      groups,
      source: engine.source,
      recorder: engine.recorder,
      dispatcher: delivery.alerting.dispatcher,
      clock,
      log: logs.log,
    })
    const { call } = await buildTestApp({ database, metrics, clock, ruleManager })

    const tenant = await createTenant(call, 'SLO shop')
    const product = await createProduct(call, tenant.apiKey, { stock: null })
    const statuses: number[] = []
    /** 15 s of traffic: catalogue reads and an order whose payment the provider fails (502). */
    const traffic = async () => {
      for (let i = 0; i < 3; i++) statuses.push((await call('/products', { token: tenant.apiKey })).status)
      const order = await createOrder(call, tenant.apiKey, [{ productId: product.id, quantity: 1 }])
      const paid = await call(`/orders/${order.id}/payments`, {
        method: 'POST',
        token: tenant.apiKey,
        json: { provider: 'sandbox', source: 'tok_error' },
      })
      statuses.push(201, paid.status)
    }

    let page: { labels: Record<string, string>; annotations: Record<string, string> } | undefined
    for (let tick = 0; tick < 40 && !page; tick++) {
      await traffic()
      clock.advance(15_000)
      await engine.sampler.sampleOnce()
      if (tick % 2 === 1) {
        await ruleManager.evaluateAll()
        delivery.clock.set(clock.now().toISOString())
        await delivery.alerting.tick()
        page = (await ruleManager.activeAlerts()).find(
          (a) =>
            a.labels.alertname === 'ApiAvailabilityBudgetBurn' &&
            a.labels.sloth_severity === 'page' &&
            a.state === 'firing',
        )
      }
    }
    expect(statuses.filter((s) => s === 502).length).toBeGreaterThan(0)
    expect(page?.labels).toEqual({
      alertname: 'ApiAvailabilityBudgetBurn',
      category: 'availability',
      severity: 'critical',
      sloth_id: 'convo-commerce-api-availability',
      sloth_service: 'convo-commerce',
      sloth_severity: 'page',
      sloth_slo: 'api-availability',
      team: 'shop-platform',
    })

    // The WhatsApp message: objective, burn-rate condition and the budget spent.
    const texts = fake.requests.map((r) => String((r.body.text as { body?: string } | undefined)?.body ?? ''))
    const message = texts.find((t) => t.startsWith('🔔 *CRITICAL ALERT*: ApiAvailabilityBudgetBurn'))
    expect(fake.requests.every((r) => r.body.to === ONCALL.slice(1))).toBe(true)
    // Below zero the message says how many times over the month would spend its budget.
    const budgetInMessage =
      /— this month's budget is overspent: at the error ratio recorded so far, the month would spend it ([\d.]+) times over \(30-day SLO convo-commerce-api-availability\)\.$/m.exec(
        message ?? '',
      )
    expect(message).toContain(
      'API availability 99.9 %: burning the error budget faster than 14.4× over 1 h and 5 m, or 6× over 6 h and 30 m —',
    )
    expect(budgetInMessage).not.toBeNull()
    console.log(`WhatsApp message:\n${message}`)

    // GET /slo: the same objective, from the same recordings, at the same instant.
    expect((await call('/slo')).status).toBe(401)
    const res = await call('/slo', { token: ADMIN_TOKEN })
    expect(res.status).toBe(200)
    const body = (await res.json()) as SloBody
    expect(body.data.objectives.map((o) => o.id)).toEqual([
      'convo-commerce-alert-delivery',
      'convo-commerce-api-availability',
      'convo-commerce-api-latency',
      'convo-commerce-payment-success',
    ])
    const availability = body.data.objectives.find((o) => o.id === 'convo-commerce-api-availability')!
    expect({ objective: availability.objective, errorBudget: availability.errorBudget }).toEqual({
      objective: 0.999,
      errorBudget: 0.001,
    })
    // 20 % errors also burns faster than 3× over 2h and 1d: the ticket fires with the page.
    expect([...availability.alerts].sort((a, b) => a.severity.localeCompare(b.severity))).toEqual([
      { severity: 'page', state: 'firing' },
      { severity: 'ticket', state: 'firing' },
    ])
    // One request in five failed: a 20 % error ratio, 200 times the budget.
    const fiveMinutes = availability.windows.find((w) => w.window === '5m')!
    expect(fiveMinutes.errorRatio).toBeCloseTo(0.2, 2)
    expect(fiveMinutes.burnRate).toBeCloseTo(200, 0)
    expect(availability.currentBurnRate).toBeCloseTo(fiveMinutes.burnRate!, 6)
    expect(availability.sli.current).toBeCloseTo(0.8, 2)
    // The figure in the message is the period's burn rate at the last evaluation, which is now:
    // one decimal below 10, none above.
    expect(availability.periodBudgetRemaining).toBeLessThan(0)
    const timesOver = 1 - availability.periodBudgetRemaining!
    expect(budgetInMessage![1]).toBe(timesOver.toFixed(timesOver < 10 ? 1 : 0))
  })
})
