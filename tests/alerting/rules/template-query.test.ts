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

test("the rule manager runs the template function query on the embedded engine at the rule's evaluation time", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cc-template-query-'))
  writeFileSync(join(dir, 'rules.yml'), RULES)
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
  const ruleManager = createRuleManager({
    db: database.db,
    groups,
    source: engine.source,
    recorder: engine.recorder,
    templateQuery: engine.templateQuery,
    dispatcher: alertingFor(database, undefined).alerting.dispatcher,
    clock,
    log: captureLogs().log,
  })
  await engine.sampler.sampleOnce()
  await ruleManager.evaluateAll()
  const rows = await database.db.select().from(alertRuleStates)
  expect(rows.map((r) => [r.labels, r.annotations])).toEqual([
    [{ alertname: 'QueueDeep', queue: 'a' }, { description: '10 jobs queued in all' }],
  ])
})
