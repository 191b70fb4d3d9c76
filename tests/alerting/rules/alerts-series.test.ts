import { describe, expect, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Gauge, Registry } from 'prom-client'
import { createEmbeddedEngine } from '../../../src/alerting/rules/embedded.ts'
import { createRuleManager, loadRules } from '../../../src/alerting/rules/manager.ts'
import type { Database } from '../../../src/db/client.ts'
import { labelsKey } from '../../../src/prometheus/promql/labels.ts'
import { alertingFor, manualClock, ruleManagerTestContext } from '../../helpers/alerts.ts'
import { captureLogs } from '../../helpers/logs.ts'

// The rule manager writes ALERTS and ALERTS_FOR_STATE into the embedded store as Prometheus'
// rule groups do (rules/alerting.go AlertingRule.Eval, rules/group.go Group.Eval), so rules
// reading them run in the embedded engine. The same semantics are held to promtool 2.42 by
// tests/prometheus/fixtures/alerts-series.test.yml and, on random groups, manager-agreement.
const ctx = ruleManagerTestContext()

const RULES = `
groups:
  - name: shop
    interval: 30s
    labels:
      team: shop
    rules:
      # Before QueueDeep in its group: what it wrote at the previous evaluation.
      - record: queue:alerts_before
        expr: count by (alertstate) (ALERTS{alertname="QueueDeep"})
      - alert: QueueDeep
        expr: queue_depth > 5
        for: 1m
        labels:
          severity: critical
      # After it: what it wrote at this same timestamp.
      - record: queue:alerts_after
        expr: count by (alertstate) (ALERTS{alertname="QueueDeep"})
      - record: queue:active_since
        expr: ALERTS_FOR_STATE{alertname="QueueDeep"}
      # Inhibition-like: quiet while QueueDeep fires.
      - alert: QueueBusy
        expr: queue_depth > 3 unless on() ALERTS{alertname="QueueDeep", alertstate="firing"}
  - name: meta
    interval: 30s
    rules:
      - alert: CriticalFiring
        expr: count(ALERTS{alertstate="firing", severity="critical"}) > 0
`

/** The clock starts 250 ms past a second, so activeAt is never whole seconds. */
const START = '2026-03-02T10:00:00.250Z'
const START_S = Date.parse(START) / 1000

function setup(rules = RULES, db: Database = ctx.database.db) {
  const dir = mkdtempSync(join(tmpdir(), 'cc-alerts-series-'))
  writeFileSync(join(dir, 'rules.yml'), rules)
  const clock = manualClock(START)
  const registry = new Registry()
  const queue = new Gauge({ name: 'queue_depth', help: 'h', labelNames: ['q'], registers: [registry] })
  const engine = createEmbeddedEngine({ registry, intervalMs: 15_000, now: () => clock.now().getTime() })
  const groups = loadRules([join(dir, 'rules.yml')], {
    defaultIntervalMs: 30_000,
    compile: engine.compile,
    skipReason: engine.skipReason,
    record: true,
  })
  const ruleManager = createRuleManager({
    db,
    groups,
    source: engine.source,
    recorder: engine.recorder,
    dispatcher: alertingFor(ctx.database, undefined).alerting.dispatcher,
    clock,
    log: captureLogs().log,
  })
  /** Every series `expr` selects now, as `{labels} value` lines in label order. */
  const series = async (expr: string) => {
    const result = await engine.source.instantQuery(expr, clock.now())
    if (result.resultType !== 'vector') throw new Error('not a vector')
    return result.samples
      .map((s) => `${labelsKey(s.labels).replaceAll('\u0000', ' ').trim()} = ${s.value}`)
      .sort()
  }
  /** 30 s on: the gauge sampled, then every group evaluated. */
  const tick = async () => {
    clock.advance(30_000)
    await engine.sampler.sampleOnce()
    return ruleManager.evaluateAll()
  }
  return { clock, queue, series, tick, groups, ruleManager }
}

const OUTPUT = '{__name__=~"ALERTS|ALERTS_FOR_STATE|queue:.+"}'

describe('ALERTS and ALERTS_FOR_STATE in the embedded rule manager', () => {
  test('rules reading them are evaluated, not skipped', () => {
    const s = setup()
    expect(s.groups.flatMap((g) => g.rules.map((r) => `${r.rule.name}:${r.health}`))).toEqual([
      'queue:alerts_before:unknown',
      'QueueDeep:unknown',
      'queue:alerts_after:unknown',
      'queue:active_since:unknown',
      'QueueBusy:unknown',
      'CriticalFiring:unknown',
    ])
  })

  test('pending, then firing, then resolved: the series at each evaluation, in group order', async () => {
    const s = setup()
    s.queue.set({ q: 'orders' }, 10)
    const t1 = START_S + 30
    await s.tick()
    // activeAt is t1 (250 ms past a second): ALERTS_FOR_STATE holds it in whole seconds, as
    // Go's ActiveAt.Unix(). QueueBusy has no `for`: firing at once. The rule before QueueDeep
    // saw nothing yet, the one after it the pending alert.
    expect(await s.series(OUTPUT)).toEqual([
      '__name__ ALERTS alertname QueueBusy alertstate firing q orders team shop = 1',
      '__name__ ALERTS alertname QueueDeep alertstate pending q orders severity critical team shop = 1',
      `__name__ ALERTS_FOR_STATE alertname QueueBusy q orders team shop = ${Math.floor(t1)}`,
      `__name__ ALERTS_FOR_STATE alertname QueueDeep q orders severity critical team shop = ${Math.floor(t1)}`,
      `__name__ queue:active_since alertname QueueDeep q orders severity critical team shop = ${Math.floor(t1)}`,
      '__name__ queue:alerts_after alertstate pending team shop = 1',
    ])
    expect(Math.floor(t1)).not.toBe(t1)

    await s.tick()
    expect(await s.series(OUTPUT)).toEqual([
      '__name__ ALERTS alertname QueueBusy alertstate firing q orders team shop = 1',
      '__name__ ALERTS alertname QueueDeep alertstate pending q orders severity critical team shop = 1',
      `__name__ ALERTS_FOR_STATE alertname QueueBusy q orders team shop = ${Math.floor(t1)}`,
      `__name__ ALERTS_FOR_STATE alertname QueueDeep q orders severity critical team shop = ${Math.floor(t1)}`,
      `__name__ queue:active_since alertname QueueDeep q orders severity critical team shop = ${Math.floor(t1)}`,
      '__name__ queue:alerts_after alertstate pending team shop = 1',
      '__name__ queue:alerts_before alertstate pending team shop = 1',
    ])

    // `for: 1m` has passed: QueueDeep fires. The rule after it sees firing at once, the one
    // before it still the pending series of the last evaluation; QueueBusy, inhibited, resolves
    // and its series end (staleness markers: no lookback keeps them); the meta group,
    // evaluated after this one, sees the critical alert firing.
    await s.tick()
    const t3 = START_S + 90
    expect(await s.series(OUTPUT)).toEqual([
      '__name__ ALERTS alertname CriticalFiring alertstate firing = 1',
      '__name__ ALERTS alertname QueueDeep alertstate firing q orders severity critical team shop = 1',
      `__name__ ALERTS_FOR_STATE alertname CriticalFiring = ${Math.floor(t3)}`,
      `__name__ ALERTS_FOR_STATE alertname QueueDeep q orders severity critical team shop = ${Math.floor(t1)}`,
      `__name__ queue:active_since alertname QueueDeep q orders severity critical team shop = ${Math.floor(t1)}`,
      '__name__ queue:alerts_after alertstate firing team shop = 1',
      '__name__ queue:alerts_before alertstate pending team shop = 1',
    ])
    expect(
      (await s.ruleManager.activeAlerts()).map((a) => `${a.labels.alertname} ${a.state}`).sort(),
    ).toEqual(['CriticalFiring firing', 'QueueDeep firing'])

    // The queue drains: QueueDeep resolves (kept 15 minutes as resolved, but resolved alerts
    // have no series), CriticalFiring with it. Only the rule before QueueDeep still reads the
    // firing series of the previous evaluation.
    s.queue.set({ q: 'orders' }, 0)
    await s.tick()
    expect(await s.series(OUTPUT)).toEqual(['__name__ queue:alerts_before alertstate firing team shop = 1'])
    expect((await s.ruleManager.activeAlerts()).map((a) => `${a.labels.alertname} ${a.state}`)).toEqual([])

    await s.tick()
    expect(await s.series(OUTPUT)).toEqual([])
    // Each series' samples over the run: written at every evaluation where the alert was in that
    // state (2 pending, 1 firing for QueueDeep), never after.
    expect(await s.series('count_over_time(ALERTS[5m])')).toEqual([
      'alertname CriticalFiring alertstate firing = 1',
      'alertname QueueBusy alertstate firing q orders team shop = 2',
      'alertname QueueDeep alertstate firing q orders severity critical team shop = 1',
      'alertname QueueDeep alertstate pending q orders severity critical team shop = 2',
    ])
    // A sample's timestamp is its evaluation's time, milliseconds included.
    expect(await s.series('timestamp(ALERTS_FOR_STATE{alertname="QueueDeep"} offset 60s)')).toEqual([
      `alertname QueueDeep q orders severity critical team shop = ${t3}`,
    ])
  })

  test("group labels are templates, expanded per alert like the rule's own, which win a shared name", async () => {
    // Prometheus 3 merges a group's labels into each rule's when it loads them (rules/manager.go
    // LoadGroups), so AlertingRule.Eval expands them with the alert's $labels and $value.
    const s = setup(`
groups:
  - name: templated
    interval: 30s
    labels:
      queue: '{{ $labels.q }}-queue'
      tier: '{{ if gt $value 7.0 }}high{{ else }}low{{ end }}'
      team: group
    rules:
      - alert: Deep
        expr: queue_depth > 5
        labels:
          team: '{{ $labels.q }}-team'
`)
    s.queue.set({ q: 'orders' }, 10)
    s.queue.set({ q: 'refunds' }, 6)
    await s.tick()
    expect(await s.series('ALERTS')).toEqual([
      '__name__ ALERTS alertname Deep alertstate firing q orders queue orders-queue team orders-team tier high = 1',
      '__name__ ALERTS alertname Deep alertstate firing q refunds queue refunds-queue team refunds-team tier low = 1',
    ])
    expect(
      (await s.ruleManager.activeAlerts())
        .map((a) =>
          Object.entries(a.labels)
            .sort()
            .map(([k, v]) => `${k}=${v}`)
            .join(' '),
        )
        .sort(),
    ).toEqual([
      'alertname=Deep q=orders queue=orders-queue team=orders-team tier=high',
      'alertname=Deep q=refunds queue=refunds-queue team=refunds-team tier=low',
    ])
  })

  test('a series written at the evaluation time less the group query_offset', async () => {
    const s = setup(`
groups:
  - name: late
    interval: 30s
    query_offset: 10s
    rules:
      - alert: Deep
        expr: queue_depth > 5
`)
    s.queue.set({ q: 'orders' }, 10)
    // The first evaluation queries 10 s before the first sample: nothing yet.
    await s.tick()
    await s.tick()
    const ts = START_S + 60
    expect(await s.series('timestamp(ALERTS) or timestamp(ALERTS_FOR_STATE)')).toEqual([
      `alertname Deep alertstate firing q orders = ${ts - 10}`,
      `alertname Deep q orders = ${ts - 10}`,
    ])
    // activeAt is the evaluation's time, not its query's (AlertingRule.Eval: ActiveAt: ts).
    expect(await s.series('ALERTS_FOR_STATE')).toEqual([
      `__name__ ALERTS_FOR_STATE alertname Deep q orders = ${Math.floor(ts)}`,
    ])
  })

  test('over the group limit the rule fails and writes nothing: its last series are not marked stale', async () => {
    const s = setup(`
groups:
  - name: limited
    interval: 30s
    limit: 1
    rules:
      - alert: Deep
        expr: queue_depth > 5
      - record: deep:count
        expr: count(ALERTS) or vector(0)
`)
    s.queue.set({ q: 'orders' }, 10)
    await s.tick()
    const t1 = START_S + 30
    s.queue.set({ q: 'returns' }, 10)
    await s.tick()
    const deep = s.groups[0]!.rules[0]!
    expect([deep.health, deep.lastError]).toEqual(['err', 'exceeded limit of 1 with 2 alerts'])
    // As Prometheus: the failed rule appended nothing, so the lookback still shows the first
    // evaluation's series, and the rule after it counts them.
    expect(await s.series('{__name__=~"ALERTS|deep:count"}')).toEqual([
      '__name__ ALERTS alertname Deep alertstate firing q orders = 1',
      '__name__ deep:count = 1',
    ])
    expect(await s.series('timestamp(ALERTS)')).toEqual([`alertname Deep alertstate firing q orders = ${t1}`])

    // Back under the limit: the alerts start anew (the limit dropped them), and the series of
    // the last evaluation that wrote, not returned now, get their staleness marker.
    s.queue.set({ q: 'returns' }, 0)
    s.queue.set({ q: 'orders' }, 0)
    s.queue.set({ q: 'refunds' }, 10)
    await s.tick()
    const t3 = START_S + 90
    expect(deep.health).toBe('ok')
    expect(await s.series('ALERTS or ALERTS_FOR_STATE')).toEqual([
      '__name__ ALERTS alertname Deep alertstate firing q refunds = 1',
      `__name__ ALERTS_FOR_STATE alertname Deep q refunds = ${Math.floor(t3)}`,
    ])
    expect(await s.series('count_over_time(ALERTS{q="orders"}[5m])')).toEqual([
      'alertname Deep alertstate firing q orders = 1',
    ])
  })

  test('two rules of one name holding one alert with different activeAt: the second fails on its ALERTS_FOR_STATE', async () => {
    const s = setup(`
groups:
  - name: twins
    interval: 30s
    rules:
      - alert: Deep
        expr: queue_depth > 5
      - alert: Deep
        expr: queue_depth > 5 and on() vector(time()) > ${START_S + 45}
`)
    s.queue.set({ q: 'orders' }, 10)
    await s.tick()
    await s.tick()
    const [first, second] = s.groups[0]!.rules
    expect([first?.health, second?.health, second?.lastError]).toEqual([
      'ok',
      'err',
      'duplicate sample for timestamp',
    ])
    // ALERTS (1 for both) is accepted; the first rule's ALERTS_FOR_STATE stays. The alert
    // itself is held all the same.
    expect(await s.series('ALERTS or ALERTS_FOR_STATE')).toEqual([
      '__name__ ALERTS alertname Deep alertstate firing q orders = 1',
      `__name__ ALERTS_FOR_STATE alertname Deep q orders = ${Math.floor(START_S + 30)}`,
    ])
    expect((await s.ruleManager.activeAlerts()).map((a) => `${a.labels.alertname} ${a.state}`)).toEqual([
      'Deep firing',
      'Deep firing',
    ])
  })

  test('a replica that does not lead the group writes no ALERTS, and ends the ones it wrote', async () => {
    let leader = true
    // Another replica holding the group's advisory lock, as seen from this one.
    const db = new Proxy(ctx.database.db, {
      get(target, prop, receiver) {
        if (prop !== 'transaction') return Reflect.get(target, prop, receiver)
        return (run: (tx: unknown) => Promise<unknown>) =>
          target.transaction((tx) =>
            run(
              new Proxy(tx, {
                get(t, p, r) {
                  if (p === 'execute' && !leader) return async () => [{ locked: false }]
                  const v = Reflect.get(t, p, r)
                  return typeof v === 'function' ? v.bind(t) : v
                },
              }),
            ),
          )
      },
    }) as Database
    const s = setup(
      `
groups:
  - name: shop
    interval: 30s
    rules:
      - alert: Deep
        expr: queue_depth > 5
      - record: deep:count
        expr: count(ALERTS) or vector(0)
`,
      db,
    )
    s.queue.set({ q: 'orders' }, 10)
    expect(await s.tick()).toEqual(['evaluated'])
    expect(await s.series('{__name__=~"ALERTS|deep:count"}')).toEqual([
      '__name__ ALERTS alertname Deep alertstate firing q orders = 1',
      '__name__ deep:count = 1',
    ])
    leader = false
    expect(await s.tick()).toEqual(['not-leader'])
    // The recording rule still runs here, and no longer counts the alert this replica does
    // not evaluate.
    expect(await s.series('{__name__=~"ALERTS|deep:count"}')).toEqual(['__name__ deep:count = 0'])
    leader = true
    expect(await s.tick()).toEqual(['evaluated'])
    expect(await s.series('{__name__=~"ALERTS|deep:count"}')).toEqual([
      '__name__ ALERTS alertname Deep alertstate firing q orders = 1',
      '__name__ deep:count = 1',
    ])
  })
})
