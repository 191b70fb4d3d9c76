import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Gauge, Registry } from 'prom-client'
import { createEmbeddedEngine } from '../../../src/alerting/rules/embedded.ts'
import { createRuleManager, loadRules } from '../../../src/alerting/rules/manager.ts'
import type { DatabaseHandle } from '../../../src/db/client.ts'
import { alertRuleStates } from '../../../src/db/schema.ts'
import { alertingFor, manualClock, resetAlertTables } from '../../helpers/alerts.ts'
import { freshDatabase } from '../../helpers/db.ts'
import { captureLogs } from '../../helpers/logs.ts'

let database: DatabaseHandle
beforeAll(async () => {
  database = await freshDatabase()
  await resetAlertTables(database)
})
afterAll(async () => {
  await database.close()
})

const RULES = `
groups:
  - name: queues
    rules:
      - alert: QueueDeep
        expr: queue_depth > 5
        annotations:
          # Prometheus' template function query, run by the rule manager on the embedded engine.
          description: '{{ with query "sum(queue_depth)" }}{{ . | first | value }}{{ end }} jobs queued in all'
`

/**
 * Evaluates `rules` once over queue_depth{queue="a"} 7 and {queue="b"} 3: on the embedded engine
 * with its synchronous template query, or with the engine behind an asynchronous source (as
 * PROMETHEUS_URL is) and no template query. Returns the stored alerts and what was asked.
 */
async function evaluateRules(rules: string, remote: boolean) {
  await resetAlertTables(database)
  await database.db.delete(alertRuleStates)
  const dir = mkdtempSync(join(tmpdir(), 'cc-template-query-'))
  writeFileSync(join(dir, 'rules.yml'), rules)
  const clock = manualClock('2026-03-02T10:00:00Z')
  const registry = new Registry()
  const depth = new Gauge({ name: 'queue_depth', help: 'h', labelNames: ['queue'], registers: [registry] })
  depth.set({ queue: 'a' }, 7)
  depth.set({ queue: 'b' }, 3)
  const engine = createEmbeddedEngine({ registry, intervalMs: 15_000, now: () => clock.now().getTime() })
  const groups = loadRules([join(dir, 'rules.yml')], {
    defaultIntervalMs: 30_000,
    compile: engine.compile,
    skipReason: engine.skipReason,
    record: true,
  })
  const asked: Array<[string, string]> = []
  const source = {
    async instantQuery(expr: string, at: Date) {
      asked.push([expr, at.toISOString()])
      await Bun.sleep(1)
      return engine.source.instantQuery(expr, at)
    },
  }
  const ruleManager = createRuleManager({
    db: database.db,
    groups,
    source: remote ? source : engine.source,
    recorder: engine.recorder,
    templateQuery: remote ? undefined : engine.templateQuery,
    dispatcher: alertingFor(database, undefined).alerting.dispatcher,
    clock,
    log: captureLogs().log,
  })
  await engine.sampler.sampleOnce()
  await ruleManager.evaluateAll()
  const rows = await database.db.select().from(alertRuleStates)
  return { rows: rows.map((r) => [r.labels, r.annotations]).sort(), asked }
}

test("the rule manager runs the template function query on the embedded engine at the rule's evaluation time", async () => {
  const { rows } = await evaluateRules(RULES, false)
  expect(rows).toEqual([[{ alertname: 'QueueDeep', queue: 'a' }, { description: '10 jobs queued in all' }]])
})

const REMOTE_RULES = `
groups:
  - name: queues
    rules:
      - alert: QueueDeep
        expr: queue_depth > 5
        labels:
          deepest: '{{ query "topk(1, queue_depth)" | first | label "queue" }}'
        annotations:
          description: '{{ with query "sum(queue_depth)" }}{{ . | first | value }}{{ end }} jobs queued in all'
          # A query whose text comes from another query's answer: a second round.
          deepest_depth: '{{ query (printf "queue_depth{queue=%q}" (query "topk(1, queue_depth)" | first | label "queue")) | first | value }}'
          broken: '{{ query "sum(" }}'
      - alert: QueueStuck
        expr: queue_depth > 6
        annotations:
          summary: 'queue {{ $labels.queue }} holds {{ $value }}'
`

test('with a remote source the templates’ queries are asked for first, at the evaluation time, and expand as on the embedded engine', async () => {
  const embedded = await evaluateRules(REMOTE_RULES, false)
  const remote = await evaluateRules(REMOTE_RULES, true)
  expect(remote.rows).toEqual(embedded.rows)
  expect(remote.rows).toEqual([
    [
      { alertname: 'QueueDeep', deepest: 'a', queue: 'a' },
      {
        broken: expect.stringMatching(/^<error expanding template: .*error calling query: .+>$/),
        deepest_depth: '7',
        description: '10 jobs queued in all',
      },
    ],
    [{ alertname: 'QueueStuck', queue: 'a' }, { summary: 'queue a holds 7' }],
  ])
  // The rule's own query, then each template query once, in rounds, at the evaluation time (the
  // dependent one once its inner query is answered; `first` of the empty stand-in stops the
  // template before it in round one); QueueStuck's templates mention no query, nothing more.
  const at = '2026-03-02T10:00:00.000Z'
  expect(remote.asked).toEqual([
    ['queue_depth > 5', at],
    ['topk(1, queue_depth)', at],
    ['sum(queue_depth)', at],
    ['sum(', at],
    ['queue_depth{queue="a"}', at],
    ['queue_depth > 6', at],
  ])
})
