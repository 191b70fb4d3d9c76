import { describe, expect, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRuleManager, loadRules } from '../../../src/alerting/rules/manager.ts'
import { createMetrics } from '../../../src/metrics.ts'
import type { InstantResult, QuerySource } from '../../../src/prometheus/promql/query-source.ts'
import { alertingFor, manualClock, ruleManagerTestContext } from '../../helpers/alerts.ts'
import { captureLogs } from '../../helpers/logs.ts'

const ctx = ruleManagerTestContext()

// The rule_group_* gauges of Prometheus' rules/group.go NewGroupMetrics, under our prefix.
const GAUGES = [
  'alert_rule_group_interval_seconds',
  'alert_rule_group_last_duration_seconds',
  'alert_rule_group_last_evaluation_samples',
  'alert_rule_group_last_evaluation_timestamp_seconds',
  'alert_rule_group_rules',
]

/** The exposition's lines of the five gauges, HELP left out, in the order served. */
const gaugeLines = (text: string) =>
  text
    .split('\n')
    .filter((line) => GAUGES.some((name) => line.startsWith(`${name}{`) || line === `# TYPE ${name} gauge`))

const RULES = `
groups:
  - name: shop
    interval: 30s
    rules:
      - record: shop:orders:sum
        expr: orders
      - alert: OrdersStuck
        expr: stuck > 0
      - alert: NeedsUp
        expr: up == 0
`

function setup(source: QuerySource, refusal?: Error) {
  const dir = mkdtempSync(join(tmpdir(), 'cc-rule-gauges-'))
  writeFileSync(join(dir, 'rules.yml'), RULES)
  const clock = manualClock('2026-03-02T10:00:00.5Z')
  const metrics = createMetrics({ log: captureLogs().log, processMetrics: false })
  const groups = loadRules([join(dir, 'rules.yml')], {
    defaultIntervalMs: 60_000,
    record: true,
    // As the embedded engine, which cannot judge `up`: the rule is skipped, yet one of the group's.
    skipReason: (expr) => (expr.includes('up') ? 'selects up' : undefined),
  })
  const manager = createRuleManager({
    db: ctx.database.db,
    groups,
    source: source,
    recorder: { write: () => refusal },
    dispatcher: alertingFor(ctx.database, undefined).alerting.dispatcher,
    clock,
    log: captureLogs().log,
    metrics: metrics.ruleManager,
  })
  return { clock, metrics, manager }
}

describe('alert_rule_group_* gauges (prometheus_rule_group_*)', () => {
  test('a scheduled group exports its interval and rule count, and the last-evaluation gauges at 0', async () => {
    const never: QuerySource = { instantQuery: () => Promise.reject(new Error('not evaluated')) }
    const { metrics, manager } = setup(never)
    manager.start()
    await manager.stop()
    // rules/group.go NewGroup: GroupRules = len(o.Rules) (the skipped rule too), GroupInterval
    // in seconds, the others created at 0.
    expect(gaugeLines(await metrics.render())).toEqual([
      '# TYPE alert_rule_group_interval_seconds gauge',
      'alert_rule_group_interval_seconds{rule_group="shop"} 30',
      '# TYPE alert_rule_group_last_evaluation_timestamp_seconds gauge',
      'alert_rule_group_last_evaluation_timestamp_seconds{rule_group="shop"} 0',
      '# TYPE alert_rule_group_last_duration_seconds gauge',
      'alert_rule_group_last_duration_seconds{rule_group="shop"} 0',
      '# TYPE alert_rule_group_rules gauge',
      'alert_rule_group_rules{rule_group="shop"} 3',
      '# TYPE alert_rule_group_last_evaluation_samples gauge',
      'alert_rule_group_last_evaluation_samples{rule_group="shop"} 0',
    ])
  })

  test('a scheduled group exports its evaluation counters at 0, so that increase() sees its first failure', async () => {
    const never: QuerySource = { instantQuery: () => Promise.reject(new Error('not evaluated')) }
    const { metrics, manager } = setup(never)
    manager.start()
    await manager.stop()
    // rules/group.go NewGroup: EvalTotal and EvalFailures are created with the group.
    const counters = (await metrics.render())
      .split('\n')
      .filter((line) => /^alert_rule_(evaluations|evaluation_failures)_total\{/.test(line))
    expect(counters).toEqual([
      'alert_rule_evaluations_total{rule_group="shop"} 0',
      'alert_rule_evaluation_failures_total{rule_group="shop"} 0',
    ])
  })

  test('a 5 s evaluation (queries to a slow Prometheus) lands in the 5 s bucket, not only in +Inf', async () => {
    const clockRef: { advance(ms: number): void } = { advance: () => {} }
    const source: QuerySource = {
      async instantQuery(): Promise<InstantResult> {
        clockRef.advance(2500)
        return { resultType: 'vector', samples: [] }
      },
    }
    const { clock, metrics, manager } = setup(source)
    clockRef.advance = clock.advance
    expect(await manager.evaluateAll()).toEqual(['evaluated'])
    const buckets = (await metrics.render())
      .split('\n')
      .filter((line) => line.startsWith('alert_rule_evaluation_duration_seconds_bucket{'))
      .map((line) => line.replace('alert_rule_evaluation_duration_seconds_bucket{rule_group="shop",', '{'))
    expect(buckets.slice(-7)).toEqual([
      '{le="1"} 0',
      '{le="2.5"} 0',
      '{le="5"} 1',
      '{le="10"} 1',
      '{le="30"} 1',
      '{le="60"} 1',
      '{le="+Inf"} 1',
    ])
  })

  test('each evaluation sets its wall-clock start, duration and the samples its rules returned', async () => {
    let evaluation = 1
    const clockRef: { advance(ms: number): void } = { advance: () => {} }
    const source: QuerySource = {
      async instantQuery(expr: string): Promise<InstantResult> {
        // Each query takes 125 ms by the injected clock.
        clockRef.advance(125)
        if (expr === 'orders') {
          if (evaluation === 2) throw new Error('query timed out')
          return {
            resultType: 'vector',
            samples: [
              { labels: { tenant: 'a' }, value: 3 },
              { labels: { tenant: 'b' }, value: 4 },
            ],
          }
        }
        return {
          resultType: 'vector',
          samples: evaluation === 1 ? [{ labels: { order: '1' }, value: 1 }] : [],
        }
      },
    }
    const { clock, metrics, manager } = setup(source)
    clockRef.advance = clock.advance
    expect(await manager.evaluateAll()).toEqual(['evaluated'])
    // Started at 10:00:00.5 (1772445600.5 s), 2 queries of 125 ms. Samples as Group.Eval sums
    // len(vector): the recording rule's 2 series, and ALERTS and ALERTS_FOR_STATE of the
    // firing alert.
    const first = gaugeLines(await metrics.render()).filter((line) => !line.startsWith('#'))
    expect(first).toEqual([
      'alert_rule_group_last_evaluation_timestamp_seconds{rule_group="shop"} 1772445600.5',
      'alert_rule_group_last_duration_seconds{rule_group="shop"} 0.25',
      'alert_rule_group_last_evaluation_samples{rule_group="shop"} 4',
    ])

    evaluation = 2
    clock.set('2026-03-02T10:00:30.5Z')
    expect(await manager.evaluateAll()).toEqual(['evaluated'])
    // The failed recording rule returns nothing; the resolved alert no ALERTS: the gauges are
    // replaced, not added to.
    const second = gaugeLines(await metrics.render()).filter((line) => !line.startsWith('#'))
    expect(second).toEqual([
      'alert_rule_group_last_evaluation_timestamp_seconds{rule_group="shop"} 1772445630.5',
      'alert_rule_group_last_duration_seconds{rule_group="shop"} 0.25',
      'alert_rule_group_last_evaluation_samples{rule_group="shop"} 0',
    ])
  })

  test('samples the store refused still count, as Group.Eval adds len(vector) before appending', async () => {
    const source: QuerySource = {
      async instantQuery(expr: string): Promise<InstantResult> {
        const samples = expr === 'orders' ? [{ labels: { tenant: 'a' }, value: 3 }] : []
        return { resultType: 'vector', samples }
      },
    }
    const { metrics, manager } = setup(source, new Error('duplicate sample for timestamp'))
    await manager.evaluateAll()
    expect(manager.groups[0]?.rules[0]?.health).toBe('err')
    expect(gaugeLines(await metrics.render())).toContain(
      'alert_rule_group_last_evaluation_samples{rule_group="shop"} 1',
    )
  })
})
