import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRuleManager, expandRuleFiles, loadRules } from '../../../src/alerting/rules/manager.ts'
import { createReplicaWatch, type ReplicaWatch } from '../../../src/alerting/rules/replicas.ts'
import { setupRuleManager } from '../../../src/alerting/rules/setup.ts'
import { loadConfig } from '../../../src/config.ts'
import { createLogger } from '../../../src/core/logger.ts'
import type { DatabaseHandle } from '../../../src/db/client.ts'
import { openPostgres } from '../../../src/db/postgres.ts'
import { createHttpClient } from '../../../src/http/outbound.ts'
import type { QuerySource } from '../../../src/prometheus/promql/query-source.ts'
import { alertingFor, manualClock } from '../../helpers/alerts.ts'
import { ADMIN_TOKEN, buildTestApp } from '../../helpers/app.ts'
import { freshDatabase, usingPostgres } from '../../helpers/db.ts'
import { captureLogs } from '../../helpers/logs.ts'

setDefaultTimeout(30_000)

let database: DatabaseHandle & { url?: string }
beforeAll(async () => {
  database = await freshDatabase()
})
afterAll(async () => {
  await database.close()
})

const quiet = createLogger({ level: 'silent', pretty: false })
const RULES =
  'groups:\n  - name: shop\n    rules:\n      - alert: HighErrorRate\n        expr: error_ratio > 0.05\n'

function ruleFiles() {
  const dir = mkdtempSync(join(tmpdir(), 'cc-replicas-'))
  writeFileSync(join(dir, 'alerts.yml'), RULES)
  return join(dir, '*.yml')
}

const emptySource: QuerySource = { instantQuery: async () => ({ resultType: 'vector', samples: [] }) }

describe('counting the replicas that share the database', () => {
  // On PostgreSQL, two more connection pools to the same database stand in for two more
  // replicas; the embedded PGlite database serves one process by construction.
  test('every replica counts all of them, and warns once the count exceeds 1', async () => {
    const logs = captureLogs()
    const watch = createReplicaWatch({ db: database.db, log: logs.log, intervalMs: 60_000 })
    const others = usingPostgres()
      ? [1, 2].map(() =>
          openPostgres({ url: database.url as string, poolSize: 2, connectTimeoutMs: 3000 }, quiet),
        )
      : []
    try {
      expect(watch.serving).toBeUndefined()
      expect(await watch.check()).toBe(1)
      const otherWatches = others.map((h) => createReplicaWatch({ db: h.db, log: quiet, intervalMs: 60_000 }))
      for (const w of otherWatches) await w.check()
      const expected = 1 + others.length
      expect(await watch.check()).toBe(expected)
      expect(watch.serving).toBe(expected)
      for (const w of otherWatches) expect(await w.check()).toBe(expected)
      const warnings = logs.lines.filter((l) => l.level === 'warn')
      expect(warnings.map((l) => [l.replicas, l.msg])).toEqual(
        expected > 1
          ? [
              [
                expected,
                `the embedded rule engine sees 1 of ${expected} replicas: its alerts see only this process's metrics; set PROMETHEUS_URL (Prometheus, Thanos, Mimir or VictoriaMetrics scraping every replica)`,
              ],
            ]
          : [],
      )
      if (others.length > 0) {
        // A replica that stops closes its sessions and leaves the count at once.
        await others.pop()?.close()
        let now = await watch.check()
        for (let i = 0; i < 50 && now !== expected - 1; i++) {
          await Bun.sleep(50)
          now = await watch.check()
        }
        expect(now).toBe(expected - 1)
      }
    } finally {
      for (const h of others) await h.close()
    }
  })
})

describe('GET /alerts/rules with several replicas', () => {
  async function rulesWith(serving: number | undefined) {
    const delivery = alertingFor(database, undefined)
    const manager = createRuleManager({
      db: database.db,
      groups: loadRules(expandRuleFiles(ruleFiles()), { defaultIntervalMs: 30_000 }),
      source: emptySource,
      dispatcher: delivery.alerting.dispatcher,
      clock: manualClock(),
      log: quiet,
    })
    // The count is the watch's (tested above); here it is fixed to check what the route says.
    const replicas: ReplicaWatch = { serving, check: async () => serving ?? 1, start() {}, stop() {} }
    const { call } = await buildTestApp({ database, ruleManager: Object.assign(manager, { replicas }) })
    return (await (await call('/alerts/rules', { token: ADMIN_TOKEN })).json()) as {
      warnings?: string[]
      data: { groups: Array<{ rules: Array<{ name: string; health: string; warnings?: string[] }> }> }
    }
  }

  test('each rule and the response say "sees 1 of N replicas"', async () => {
    const body = await rulesWith(3)
    const note =
      "sees 1 of 3 replicas: the embedded engine evaluates this process's metrics only; set PROMETHEUS_URL to query every replica"
    expect(body.warnings).toEqual([note])
    expect(body.data.groups[0]?.rules.map((r) => [r.name, r.health, r.warnings])).toEqual([
      ['HighErrorRate', 'unknown', [note]],
    ])
  })

  test('one replica, or none counted yet, adds no warning', async () => {
    for (const serving of [1, undefined]) {
      const body = await rulesWith(serving)
      expect(body.warnings).toBeUndefined()
      expect(body.data.groups[0]?.rules[0]?.warnings).toBeUndefined()
    }
  })
})

describe('setupRuleManager', () => {
  function setup(env: Record<string, string>, log = quiet) {
    const config = loadConfig({ NODE_ENV: 'test', ALERT_RULES_FILES: ruleFiles(), ...env })
    return setupRuleManager({
      config,
      db: database.db,
      http: createHttpClient(fetch),
      clock: manualClock(),
      log,
      dispatcher: alertingFor(database, undefined).alerting.dispatcher,
      embedded: {
        source: emptySource,
        compile: () => {},
        skipReason: () => undefined,
        recorder: { write: () => undefined },
      },
    })
  }

  test('the embedded engine gets a replica watch that starts and stops with the manager', async () => {
    const manager = setup({})
    expect(manager?.replicas).toBeDefined()
    expect(manager?.replicas?.serving).toBeUndefined()
    manager?.start()
    for (let i = 0; i < 100 && manager?.replicas?.serving === undefined; i++) await Bun.sleep(20)
    await manager?.stop()
    expect(manager?.replicas?.serving).toBe(1)
  })

  test('an ALERT_RULES_FILES glob that matches no file is a warning naming it; the others load', () => {
    const { log, lines } = captureLogs()
    const typo = join(tmpdir(), 'cc-no-such-rules-dir', '*.yml')
    const manager = setup({ ALERT_RULES_FILES: `${ruleFiles()}, ${typo}` }, log)
    expect(manager?.groups.length).toBe(1)
    expect(
      lines.filter((line) => line.level === 'warn').map((line) => ({ pattern: line.pattern, msg: line.msg })),
    ).toEqual([
      {
        pattern: typo,
        msg: 'ALERT_RULES_FILES: a pattern matches no file, so no rules load from it; check the path (relative to the working directory)',
      },
    ])
  })

  test('with PROMETHEUS_URL there is no watch: Prometheus sees every replica', () => {
    expect(setup({ PROMETHEUS_URL: 'http://127.0.0.1:9090' })?.replicas).toBeUndefined()
  })
})
