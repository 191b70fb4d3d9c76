/**
 * Bun entry: reads the environment, wires real dependencies, migrates, listens and
 * handles signals. Everything else is runtime-agnostic and lives behind createApp.
 */
import { createApp, SERVICE_VERSION } from './app.ts'
import { systemClock } from './clock.ts'
import { ConfigError, loadConfig } from './config.ts'
import { openMigratedDatabase } from './db/open.ts'
import { createHttpClient } from './http/outbound.ts'
import { createLogger } from './observability/logger.ts'
import { createMetrics } from './observability/metrics.ts'

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig(Bun.env)
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`config error: ${error.message}`)
    process.exit(1)
  }
  throw error
}

const log = createLogger({ level: config.logLevel, pretty: config.env === 'development' })

const metrics = createMetrics({
  log,
  enabled: config.metrics.enabled,
  seriesLimits: config.metrics.seriesLimits,
  build: {
    version: SERVICE_VERSION,
    commit: config.buildCommit,
    runtimeVersion: Bun.version,
    runtimeRevision: Bun.revision,
  },
})

let database: Awaited<ReturnType<typeof openMigratedDatabase>>
try {
  database = await openMigratedDatabase(config.database, log, undefined, { onQuery: metrics.observeQuery })
} catch (error) {
  log.fatal({ err: error }, 'cannot open the database')
  log.flush()
  process.exit(1)
}

const app = createApp({
  config,
  database,
  log,
  clock: systemClock,
  http: createHttpClient(fetch),
  metrics,
})

const server = Bun.serve({
  port: config.port,
  hostname: config.host,
  fetch: app.fetch,
  // Our own parser answers 413 in the error envelope; Bun's limit is only a backstop.
  maxRequestBodySize: Math.max(config.http.maxBodyBytes * 2, 1024 * 1024),
})
log.info(
  { port: server.port, host: config.host, env: config.env, database: database.kind },
  `listening on http://${config.host}:${server.port}`,
)

let stopping = false
async function shutdown(signal: string) {
  if (stopping) return
  stopping = true
  log.info({ signal }, 'shutting down: draining in-flight requests')
  const drained = server.stop(false).then(() => true)
  const timedOut = Bun.sleep(config.shutdownTimeoutMs).then(() => false)
  if (!(await Promise.race([drained, timedOut]))) {
    log.warn(
      { timeoutMs: config.shutdownTimeoutMs },
      'shutdown timeout reached; closing remaining connections',
    )
    server.stop(true)
  }
  await database.close().catch((error) => log.error({ err: error }, 'error closing the database'))
  log.info('stopped')
  log.flush()
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))
