import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify as toYaml } from 'yaml'
import { createRuleManager, loadRules } from '../../../src/alerting/rules/manager.ts'
import { createLogger } from '../../../src/core/logger.ts'
import type { Database, DatabaseHandle } from '../../../src/db/client.ts'
import { openPostgres } from '../../../src/db/postgres.ts'
import { createMetrics } from '../../../src/metrics.ts'
import type { InstantResult, QuerySource } from '../../../src/prometheus/promql/query-source.ts'
import { alertingFor, manualClock, ruleManagerTestContext } from '../../helpers/alerts.ts'
import { usingPostgres } from '../../helpers/db.ts'
import { captureLogs } from '../../helpers/logs.ts'
import { testWithBinary } from '../../helpers/ops-tools.ts'
import { recordSkip } from '../../helpers/skips.ts'

setDefaultTimeout(30_000)

const ctx = ruleManagerTestContext()
const quiet = createLogger({ level: 'silent', pretty: false })

// `shop` holds an alerting rule, so one replica at a time evaluates it (the group's advisory
// lock); `rec` holds recording rules only, which every replica evaluates.
const RULES = `
groups:
  - name: shop
    interval: 30s
    rules:
      - record: shop:orders:sum
        expr: orders
      - alert: OrdersStuck
        expr: stuck > 0
  - name: rec
    interval: 30s
    rules:
      - record: rec:orders:sum
        expr: orders
`

const GAUGES = [
  'alert_rule_group_interval_seconds',
  'alert_rule_group_last_evaluation_timestamp_seconds',
  'alert_rule_group_last_duration_seconds',
  'alert_rule_group_rules',
  'alert_rule_group_last_evaluation_samples',
  'alert_rule_group_leader',
]
// Sample lines of the per-group gauges, without the interval and rule count (the same on every
// replica whoever leads), in the order /metrics serves them.
const lastLines = (text: string, group: string) =>
  text
    .split('\n')
    .filter((line) => GAUGES.slice(1).some((name) => line.startsWith(`${name}{rule_group="${group}"}`)))
    .filter((line) => !line.startsWith('alert_rule_group_rules'))

/**
 * One replica: its own clock, metrics registry and rule manager on `database`. Each query takes
 * 125 ms by its clock; `orders` returns 2 series and `stuck > 0` 1, so an evaluation of `shop`
 * lasts 0.25 s and returns 4 samples (2 recorded series, ALERTS and ALERTS_FOR_STATE).
 * `hold`, when set, is awaited inside the alerting rule's query: the evaluation then holds the
 * group's advisory lock until the test lets it go.
 */
function replica(database: DatabaseHandle, db: Database = database.db) {
  const dir = mkdtempSync(join(tmpdir(), 'cc-rule-leader-'))
  writeFileSync(join(dir, 'rules.yml'), RULES)
  const clock = manualClock('2026-03-02T10:00:00.5Z')
  const metrics = createMetrics({ log: captureLogs().log, processMetrics: false })
  const state: { hold?: Promise<void>; entered?: () => void; stuck: boolean } = { stuck: true }
  const source: QuerySource = {
    async instantQuery(expr: string): Promise<InstantResult> {
      clock.advance(125)
      if (expr === 'stuck > 0') {
        state.entered?.()
        await state.hold
        return { resultType: 'vector', samples: state.stuck ? [{ labels: { order: '1' }, value: 1 }] : [] }
      }
      return {
        resultType: 'vector',
        samples: [
          { labels: { tenant: 'a' }, value: 3 },
          { labels: { tenant: 'b' }, value: 4 },
        ],
      }
    },
  }
  const manager = createRuleManager({
    db,
    groups: loadRules([join(dir, 'rules.yml')], { defaultIntervalMs: 30_000, record: true }),
    source,
    recorder: { write: () => undefined },
    dispatcher: alertingFor(database, undefined).alerting.dispatcher,
    clock,
    log: quiet,
    metrics: metrics.ruleManager,
  })
  const [shop, rec] = manager.groups as [(typeof manager.groups)[0], (typeof manager.groups)[0]]
  return {
    manager,
    state,
    /** The group's tick at `iso` by this replica's clock. */
    tick: (group: 'shop' | 'rec', iso: string) => {
      clock.set(iso)
      return manager.evaluateGroup(group === 'shop' ? shop : rec)
    },
    lines: async (group: string) => lastLines(await metrics.render(), group),
    active: async () =>
      (await metrics.render()).split('\n').filter((line) => line.startsWith('alerts_active{')),
  }
}

/** Another replica holding `shop`'s lock, as this one sees it, while `held.value` is true. */
function lockHeldElsewhere(db: Database, held: { value: boolean }): Database {
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop !== 'transaction') return Reflect.get(target, prop, receiver)
      return (run: (tx: unknown) => Promise<unknown>) =>
        target.transaction((tx) =>
          run(
            new Proxy(tx, {
              get(t, p, r) {
                if (p === 'execute' && held.value) return async () => [{ locked: false }]
                const v = Reflect.get(t, p, r)
                return typeof v === 'function' ? v.bind(t) : v
              },
            }),
          ),
        )
    },
  }) as Database
}

const led = (ts: string) => [
  `alert_rule_group_last_evaluation_timestamp_seconds{rule_group="shop"} ${ts}`,
  'alert_rule_group_last_duration_seconds{rule_group="shop"} 0.25',
  'alert_rule_group_last_evaluation_samples{rule_group="shop"} 4',
  'alert_rule_group_leader{rule_group="shop"} 1',
]
// NewGroup's zeros: before the first tick, and on a replica whose last tick another replica led.
const notLed = [
  'alert_rule_group_last_evaluation_timestamp_seconds{rule_group="shop"} 0',
  'alert_rule_group_last_duration_seconds{rule_group="shop"} 0',
  'alert_rule_group_last_evaluation_samples{rule_group="shop"} 0',
  'alert_rule_group_leader{rule_group="shop"} 0',
]

describe('alert_rule_group_leader and the last-evaluation gauges of a replica that does not lead', () => {
  test('a replica that loses the lock goes back to zeros and leader 0, not its last led tick', async () => {
    const held = { value: false }
    const r = replica(ctx.database, lockHeldElsewhere(ctx.database.db, held))
    r.manager.start()
    await r.manager.stop()
    expect(await r.lines('shop')).toEqual(notLed)

    expect(await r.tick('shop', '2026-03-02T10:00:00.5Z')).toBe('evaluated')
    expect(await r.lines('shop')).toEqual(led('1772445600.5'))

    // Before, the gauges kept 10:00:00.5, 0.25 s and 4 samples for as long as the other
    // replica led: `time() - …timestamp` grew on this replica, and a sum of the samples
    // across replicas counted that tick's 4 on top of the leader's.
    held.value = true
    expect(await r.tick('shop', '2026-03-02T10:00:30.5Z')).toBe('not-leader')
    expect(await r.lines('shop')).toEqual(notLed)

    held.value = false
    expect(await r.tick('shop', '2026-03-02T10:01:00.5Z')).toBe('evaluated')
    expect(await r.lines('shop')).toEqual(led('1772445660.5'))
  })

  test('alerts_active of a replica that lost the lock follows the table, not its last led tick', async () => {
    const held = { value: false }
    const a = replica(ctx.database, lockHeldElsewhere(ctx.database.db, held))
    const b = replica(ctx.database)
    expect(await a.tick('shop', '2026-03-02T10:00:00.5Z')).toBe('evaluated')
    expect(await a.active()).toEqual(['alerts_active{alertname="OrdersStuck",state="firing"} 1'])

    // B leads the next slot and resolves the alert; A's tick there finds the lock taken.
    b.state.stuck = false
    expect(await b.tick('shop', '2026-03-02T10:00:30.5Z')).toBe('evaluated')
    held.value = true
    expect(await a.tick('shop', '2026-03-02T10:00:30.6Z')).toBe('not-leader')
    // Before, A kept `firing 1` until it led again: `max by (alertname, state)` across
    // replicas read an alert firing that no replica held any more.
    const resolved = [
      'alerts_active{alertname="OrdersStuck",state="firing"} 0',
      'alerts_active{alertname="OrdersStuck",state="inactive"} 1',
    ]
    expect(await a.active()).toEqual(resolved)
    expect(await b.active()).toEqual(['alerts_active{alertname="OrdersStuck",state="inactive"} 1'])
  })

  test('a group of recording rules only is evaluated, and led, at every tick', async () => {
    const r = replica(ctx.database, lockHeldElsewhere(ctx.database.db, { value: true }))
    expect(await r.tick('rec', '2026-03-02T10:00:00.5Z')).toBe('evaluated')
    expect(await r.lines('rec')).toEqual([
      'alert_rule_group_last_evaluation_timestamp_seconds{rule_group="rec"} 1772445600.5',
      'alert_rule_group_last_duration_seconds{rule_group="rec"} 0.125',
      'alert_rule_group_last_evaluation_samples{rule_group="rec"} 2',
      'alert_rule_group_leader{rule_group="rec"} 1',
    ])
  })
})

// Two connection pools to one PostgreSQL database are two replicas whose ticks overlap, so
// the advisory lock decides; the embedded PGlite database serves one process (one session,
// where the lock cannot be contended), covered by the tests above. A top-level `PostgreSQL
// only:` block, which `.ci/run` expects to skip on the embedded database (a nested skip reads
// as one CI could have run).
if (!usingPostgres())
  recordSkip(
    'PostgreSQL only: alert_rule_group_leader of two replicas on one database',
    'runs only on PostgreSQL (DATABASE_URL unset)',
    { expected: true },
  )
describe.if(usingPostgres())(
  'PostgreSQL only: alert_rule_group_leader of two replicas on one database',
  () => {
    test("two replicas' /metrics as leadership moves: each exports the slot it led, zeros where it did not", async () => {
      const url = (ctx.database as DatabaseHandle & { url?: string }).url as string
      const other = openPostgres({ url, poolSize: 2, connectTimeoutMs: 3000 }, quiet)
      try {
        const a = replica(ctx.database)
        const b = replica(other)

        /** `first`'s tick holds the lock (inside its alerting query) while `second` ticks. */
        async function overlapping(first: typeof a, second: typeof a, iso: string) {
          let release = () => {}
          first.state.hold = new Promise<void>((resolve) => {
            release = resolve
          })
          const entered = new Promise<void>((resolve) => {
            first.state.entered = resolve
          })
          const leading = first.tick('shop', iso)
          await entered
          const outcome = await second.tick('shop', iso)
          release()
          const outcomes = [await leading, outcome]
          first.state.hold = undefined
          first.state.entered = undefined
          return outcomes
        }

        expect(await overlapping(a, b, '2026-03-02T10:00:00.5Z')).toEqual(['evaluated', 'not-leader'])
        expect(await a.lines('shop')).toEqual(led('1772445600.5'))
        expect(await b.lines('shop')).toEqual(notLed)

        // Leadership moves to B at the next slot.
        expect(await overlapping(b, a, '2026-03-02T10:00:30.5Z')).toEqual(['evaluated', 'not-leader'])
        expect(await a.lines('shop')).toEqual(notLed)
        expect(await b.lines('shop')).toEqual(led('1772445630.5'))

        // Both evaluate a group of recording rules (each its own metrics), so both lead it.
        expect([
          await a.tick('rec', '2026-03-02T10:01:00.5Z'),
          await b.tick('rec', '2026-03-02T10:01:00.5Z'),
        ]).toEqual(['evaluated', 'evaluated'])
        for (const r of [a, b])
          expect((await r.lines('rec')).filter((l) => l.startsWith('alert_rule_group_leader'))).toEqual([
            'alert_rule_group_leader{rule_group="rec"} 1',
          ])
      } finally {
        await other.close()
      }
    })
  },
)

describe("what an operator's queries across replicas read (promtool)", () => {
  // Each replica's exposition as promtool input, one constant series per line, labelled with
  // the replica's instance as a Prometheus scraping both would.
  const asSeries = (instance: string, lines: string[]) =>
    lines.map((line) => {
      const [, name, labels, value] = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(line) as RegExpExecArray
      return { series: `${name}{${labels},instance="${instance}"}`, values: `${value}x10` }
    })

  testWithBinary(
    'promtool',
    'max and sum by (rule_group) over both replicas read the leader alone',
    async (promtool) => {
      const held = { value: false }
      const a = replica(ctx.database, lockHeldElsewhere(ctx.database.db, held))
      const b = replica(ctx.database)
      expect(await a.tick('shop', '2026-03-02T10:00:00.5Z')).toBe('evaluated')
      expect(await b.tick('shop', '2026-03-02T10:00:30.5Z')).toBe('evaluated')
      held.value = true
      expect(await a.tick('shop', '2026-03-02T10:00:30.6Z')).toBe('not-leader')
      const input_series = [...asSeries('a', await a.lines('shop')), ...asSeries('b', await b.lines('shop'))]
      // B's evaluation, however many replicas are scraped: before, A's 4 samples of its old
      // tick doubled the sum, and `count` of the fresh timestamps read 2.
      const expected: Array<[string, number]> = [
        ['max by (rule_group) (alert_rule_group_last_evaluation_timestamp_seconds > 0)', 1772445630.5],
        ['count by (rule_group) (alert_rule_group_last_evaluation_timestamp_seconds > 0)', 1],
        ['sum by (rule_group) (alert_rule_group_last_evaluation_samples)', 4],
        ['max by (rule_group) (alert_rule_group_last_duration_seconds)', 0.25],
        ['sum by (rule_group) (alert_rule_group_leader)', 1],
      ]
      const dir = mkdtempSync(join(tmpdir(), 'cc-rule-leader-promtool-'))
      try {
        writeFileSync(join(dir, 'none.yml'), toYaml({ groups: [] }))
        writeFileSync(
          join(dir, 'test.yml'),
          toYaml({
            rule_files: ['none.yml'],
            evaluation_interval: '1m',
            tests: [
              {
                interval: '1m',
                input_series,
                promql_expr_test: expected.map(([expr, value]) => ({
                  expr,
                  eval_time: '5m',
                  exp_samples: [{ labels: '{rule_group="shop"}', value }],
                })),
              },
            ],
          }),
        )
        const proc = Bun.spawnSync([promtool, 'test', 'rules', join(dir, 'test.yml')], { cwd: dir })
        const output = `${proc.stdout.toString()}${proc.stderr.toString()}`
        expect({ exitCode: proc.exitCode, output }).toEqual({
          exitCode: 0,
          output: expect.stringContaining('SUCCESS'),
        })
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  )
})
