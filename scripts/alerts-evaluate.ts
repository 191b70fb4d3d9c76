/**
 * `bun run alerts:evaluate --once`: evaluates every rule group once against PROMETHEUS_URL,
 * hands the transitions to the dispatcher, sends what is due, and exits — for cron-style
 * deployments where no service process runs the ruleManager. Alert state is in the database,
 * so consecutive runs continue `for` timers and never re-notify. The embedded engine needs a
 * running service (it reads the process's own metrics), so PROMETHEUS_URL is required here.
 */
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from '../src/config.ts'
import { systemClock } from '../src/core/clock.ts'
import { createLogger } from '../src/core/logger.ts'
import type { DatabaseHandle } from '../src/db/client.ts'
import { databaseFailureLine, openMigratedDatabase } from '../src/db/open.ts'
import { createHttpClient } from '../src/http/outbound.ts'
import { createMetrics } from '../src/metrics.ts'
import { buildServices } from '../src/services.ts'

const { values } = parseArgs({ options: { once: { type: 'boolean', default: false } } })
if (!values.once) {
  console.error('usage: bun run alerts:evaluate --once   (the service itself evaluates on a schedule)')
  process.exit(2)
}
let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig(process.env)
} catch (error) {
  console.error(error instanceof ConfigError ? `config error: ${error.message}` : error)
  process.exit(1)
}
if (!config.alerts.prometheusUrl) {
  console.error(
    'alerts:evaluate --once needs PROMETHEUS_URL: the embedded engine only runs inside the service',
  )
  process.exit(2)
}
if (!config.alerts.ruleManagerEnabled) {
  console.error(
    'alerts:evaluate --once: ALERTS_ENABLED=false turns the rule manager off; unset it to evaluate',
  )
  process.exit(2)
}
const log = createLogger({ level: config.logLevel, pretty: config.env === 'development' })
let database: DatabaseHandle
try {
  database = await openMigratedDatabase(config.database, log)
} catch (error) {
  // A DATA_DIR a running service holds, or a PostgreSQL that does not answer, is a setting or an
  // outage: one line, as db:migrate says it, not a stack (which may quote the URL).
  console.error(`alerts:evaluate: ${databaseFailureLine(config.database, error)}`)
  process.exit(1)
}
try {
  const { alerting, ruleManager } = buildServices({
    config,
    database,
    log,
    clock: systemClock,
    http: createHttpClient(fetch),
    metrics: createMetrics({ log, processMetrics: false }),
  })
  if (!ruleManager) throw new Error('no rule manager to run')
  const outcomes = await ruleManager.evaluateAll()
  await alerting.tick()
  const rules = ruleManager.groups.flatMap((g) => g.rules).filter((r) => r.health !== 'skipped')
  const failed = rules.filter((r) => r.health === 'err')
  if (failed.length === 0) {
    log.info({ outcomes }, 'evaluation done')
  } else {
    // One line that says what went wrong and where to look, not only a list of rule names: the
    // usual cause is a PROMETHEUS_URL that does not answer (its host only: a URL may hold a password).
    const where = new URL(config.alerts.prometheusUrl).host
    log.error(
      { outcomes, failedRules: failed.map((r) => r.rule.name) },
      `alerts:evaluate: ${failed.length} of ${rules.length} rules failed at PROMETHEUS_URL (${where}): ${failed[0]!.lastError}; check that Prometheus answers there`,
    )
  }
  process.exitCode = failed.length > 0 ? 1 : 0
} finally {
  await database.close()
}
