import { describe, expect, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Counter, Gauge, Registry } from 'prom-client'
import { createEmbeddedEngine } from '../../../src/alerting/rules/embedded.ts'
import { createRuleManager, loadRules } from '../../../src/alerting/rules/manager.ts'
import { labelsFrom, labelsKey } from '../../../src/prometheus/promql/labels.ts'
import { alertingFor, manualClock, ruleManagerTestContext } from '../../helpers/alerts.ts'
import { captureLogs } from '../../helpers/logs.ts'

const ctx = ruleManagerTestContext()

const RULES = `
groups:
  - name: recorded
    interval: 30s
    labels:
      team: shop
    rules:
      - record: job:requests:rate1m
        expr: sum(rate(requests_total[1m]))
      # Reads the rule above at the same timestamp.
      - record: job:requests:doubled
        expr: job:requests:rate1m * 2
        labels:
          kind: doubled
      - alert: Busy
        expr: job:requests:doubled > 1
      # Reads the rule's own past output (earlier ticks).
      - record: job:requests:rate1m_avg10m
        expr: avg_over_time(job:requests:rate1m[10m])
      - record: queue:deep
        expr: queue_depth > 5
`

function setup(rules = RULES) {
  const dir = mkdtempSync(join(tmpdir(), 'cc-recording-'))
  writeFileSync(join(dir, 'rules.yml'), rules)
  const clock = manualClock('2026-03-02T10:00:00Z')
  const registry = new Registry()
  const requests = new Counter({ name: 'requests_total', help: 'h', registers: [registry] })
  const queue = new Gauge({ name: 'queue_depth', help: 'h', registers: [registry] })
  const engine = createEmbeddedEngine({ registry, intervalMs: 15_000, now: () => clock.now().getTime() })
  const groups = loadRules([join(dir, 'rules.yml')], {
    defaultIntervalMs: 30_000,
    compile: engine.compile,
    skipReason: engine.skipReason,
    record: true,
  })
  const delivery = alertingFor(ctx.database, undefined)
  const logs = captureLogs()
  const ruleManager = createRuleManager({
    db: ctx.database.db,
    groups,
    source: engine.source,
    recorder: engine.recorder,
    dispatcher: delivery.alerting.dispatcher,
    clock,
    log: logs.log,
  })
  const value = async (expr: string) => {
    const result = await engine.source.instantQuery(expr, clock.now())
    return result.resultType === 'vector'
      ? result.samples.map((s) => [JSON.stringify(s.labels), s.value])
      : [['scalar', result.value]]
  }
  /** 15 s of traffic at `perSecond`, sampled, then a rule tick every 30 s. */
  const run = async (seconds: number, perSecond: number) => {
    for (let t = 0; t < seconds; t += 15) {
      requests.inc(perSecond * 15)
      clock.advance(15_000)
      await engine.sampler.sampleOnce()
      if ((clock.now().getTime() / 1000) % 30 === 0) await ruleManager.evaluateAll()
    }
  }
  return { engine, ruleManager, clock, queue, value, run, groups, logs }
}

describe('recording rules in the rule manager (embedded engine)', () => {
  test('are evaluated in group order at one timestamp and fed back into the store for later rules', async () => {
    const s = setup()
    await s.run(120, 1)
    const rate = JSON.stringify({ __name__: 'job:requests:rate1m', team: 'shop' })
    expect(await s.value('job:requests:rate1m')).toEqual([[rate, 1]])
    expect(await s.value('job:requests:doubled')).toEqual([
      [JSON.stringify({ __name__: 'job:requests:doubled', kind: 'doubled', team: 'shop' }), 2],
    ])
    // The alert read the doubled rate written moments before, in the same evaluation.
    const [busy] = await s.ruleManager.activeAlerts()
    expect({ state: busy?.state, value: busy?.value, labels: busy?.labels }).toEqual({
      state: 'firing',
      value: 2,
      labels: { alertname: 'Busy', kind: 'doubled', team: 'shop' },
    })
    const health = s.groups[0]!.rules.map((r) => `${r.rule.name}:${r.health}`)
    expect(health).toEqual([
      'job:requests:rate1m:ok',
      'job:requests:doubled:ok',
      'Busy:ok',
      'job:requests:rate1m_avg10m:ok',
      'queue:deep:ok',
    ])
  })

  test('later ticks read earlier recordings (avg_over_time of the recorded rate)', async () => {
    const s = setup()
    await s.run(300, 1) // five minutes at 1/s
    await s.run(300, 3) // five minutes at 3/s
    const [[, avg]] = (await s.value('job:requests:rate1m_avg10m')) as [[string, number]]
    // 10 recordings of 1/s (two at the ramp are between) and 10 of 3/s: about 2/s.
    expect(avg).toBeGreaterThan(1.7)
    expect(avg).toBeLessThan(2.3)
    expect(await s.value('count_over_time(job:requests:rate1m[10m])')).toEqual([['{"team":"shop"}', 20]])
  })

  test('a series a recording rule stops producing is marked stale at once, as Prometheus does', async () => {
    const s = setup()
    s.queue.set(9)
    await s.run(30, 1)
    expect(await s.value('queue:deep')).toEqual([
      [JSON.stringify({ __name__: 'queue:deep', team: 'shop' }), 9],
    ])
    s.queue.set(1)
    await s.run(30, 1)
    // Without the stale marker the old sample would answer for another 5 minutes.
    expect(await s.value('queue:deep')).toEqual([])
  })

  test('with query_offset, written at the evaluation time less the offset, where the later rules query', async () => {
    const s = setup(`
groups:
  - name: late
    interval: 30s
    query_offset: 10s
    rules:
      - record: queue:depth
        expr: queue_depth
      - record: queue:depth_doubled
        expr: queue:depth * 2
`)
    const start = Date.parse('2026-03-02T10:00:00Z') / 1000
    s.queue.set(4)
    await s.run(30, 1)
    // Prometheus' Group.Eval appends a rule's samples at their query's time (ts − query_offset),
    // so the second rule, querying there too, reads what the first wrote in this evaluation.
    expect(await s.value('timestamp(queue:depth)')).toEqual([['{}', start + 20]])
    expect(await s.value('queue:depth_doubled')).toEqual([
      [JSON.stringify({ __name__: 'queue:depth_doubled' }), 8],
    ])
    s.queue.set(5)
    await s.run(30, 1)
    expect(await s.value('queue:depth_doubled')).toEqual([
      [JSON.stringify({ __name__: 'queue:depth_doubled' }), 10],
    ])
  })
})

describe("recording rule output the store refuses, as Prometheus' TSDB appender does", () => {
  test('a second rule writing another value into a series at the same timestamp fails with "duplicate sample for timestamp"', async () => {
    const s = setup(`
groups:
  - name: first
    interval: 30s
    rules:
      - record: queue:depth
        expr: queue_depth
  - name: second
    interval: 30s
    rules:
      - record: queue:depth
        expr: queue_depth * 2
      - record: queue:depth
        expr: queue_depth * 1
`)
    s.queue.set(4)
    await s.run(30, 1)
    // The first writer's sample stands; the same value again is accepted, another is refused.
    expect(await s.value('queue:depth')).toEqual([[JSON.stringify({ __name__: 'queue:depth' }), 4]])
    const health = s.groups.flatMap((g) => g.rules.map((r) => [r.rule.expr, r.health, r.lastError]))
    expect(health).toEqual([
      ['queue_depth', 'ok', undefined],
      ['queue_depth * 2', 'err', 'duplicate sample for timestamp'],
      ['queue_depth * 1', 'ok', undefined],
    ])
    expect(s.logs.lines.filter((l) => l.msg === 'recording rule output discarded')).toEqual([
      expect.objectContaining({
        level: 'warn',
        group: 'second',
        rule: 'queue:depth',
        error: 'duplicate sample for timestamp',
      }),
    ])
  })
})

describe('retention per selector', () => {
  test('a long range keeps only the series it selects; the rest keep the 5m lookback', () => {
    const engine = createEmbeddedEngine({ registry: new Registry(), intervalMs: 15_000, now: () => 0 })
    engine.compile('sum(rate(http_requests_total{status=~"5.."}[6h])) / sum(rate(http_requests_total[5m]))')
    engine.compile('sum_over_time(slo:sli_error:ratio_rate5m{sloth_slo="a"}[30d])')
    const t0 = Date.parse('2026-03-01T00:00:00Z')
    const series: Record<string, Record<string, string>> = {
      recorded: { __name__: 'slo:sli_error:ratio_rate5m', sloth_slo: 'a' },
      otherSlo: { __name__: 'slo:sli_error:ratio_rate5m', sloth_slo: 'b' },
      errors: { __name__: 'http_requests_total', status: '500' },
      ok: { __name__: 'http_requests_total', status: '200' },
      unselected: { __name__: 'process_cpu_seconds_total' },
    }
    for (const labels of Object.values(series)) engine.store.append(labels, t0, 1)
    const kept = (afterMs: number) => {
      engine.store.prune(t0 + afterMs)
      return Object.entries(series)
        .filter(([, labels]) => engine.store.getSeries(labelsKey(labelsFrom(labels))) !== undefined)
        .map(([name]) => name)
    }
    expect(kept(5 * 60_000)).toEqual(['recorded', 'otherSlo', 'errors', 'ok', 'unselected'])
    // Past the 5m lookback plus the 1m margin: only the ranged selections remain.
    expect(kept(7 * 60_000)).toEqual(['recorded', 'errors'])
    expect(kept(6 * 3600_000 + 2 * 60_000)).toEqual(['recorded'])
    expect(kept(30 * 86400_000 - 60_000)).toEqual(['recorded'])
    expect(kept(30 * 86400_000 + 2 * 60_000)).toEqual([])
  })
})
