/**
 * Starts the service on any runtime: reads the configuration, wires the real dependencies,
 * migrates, serves and shuts down on a signal. What differs between Bun, Deno and Node (the
 * server, signals, the environment, the Sentry SDK) comes in through `runtime`; the entry
 * files (server.ts, server.deno.ts, server.node.ts) are a few lines each.
 */

import { fileURLToPath } from 'node:url'
import { createAlerting } from './alerting/alerting.ts'
import { createEmbeddedEngine } from './alerting/rules/embedded.ts'
import { setupRuleManager } from './alerting/rules/setup.ts'
import { createApp, SERVICE_VERSION } from './app.ts'
import { ConfigError, loadConfig } from './config.ts'
import { systemClock } from './core/clock.ts'
import { createLogger, flushLogs } from './core/logger.ts'
import { MIGRATIONS_FOLDER, openMigratedDatabase } from './db/open.ts'
import { prepareDevelopment } from './development.ts'
import { startDbMonitor } from './health/db-monitor.ts'
import { createHttpClient } from './http/outbound.ts'
import { type ErrorReporter, noErrorReporter } from './observability/error-reporter.ts'
import { createMetrics } from './observability/metrics.ts'
import { readGitCommit } from './observability/release.ts'
import { defaultRelease } from './observability/sentry.ts'
import type { Runtime } from './runtime/types.ts'
import { DEMO_PHONE } from './tenants/demo.ts'

/** Runs the service until a shutdown signal; never returns normally (the process exits). */
export async function main(runtime: Runtime): Promise<void> {
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig(runtime.env)
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`config error: ${error.message}`)
      runtime.exit(1)
    }
    throw error
  }

  const log = createLogger({
    level: config.logLevel,
    pretty: config.env === 'development',
    sync: runtime.syncLogs,
  })

  // Sentry comes before the database and the server, which it instruments. Without a DSN the
  // SDK is not even loaded.
  let errorReporter: ErrorReporter = noErrorReporter
  let instrumentPostgres: (<T>(sql: T) => T) | undefined
  if (config.sentry.dsn) {
    const release =
      config.sentry.release ??
      defaultRelease(SERVICE_VERSION, readGitCommit(fileURLToPath(new URL('..', import.meta.url))))
    const settings = { ...config.sentry, dsn: config.sentry.dsn, release }
    if (runtime.startSentry) {
      const started = await runtime.startSentry(settings)
      errorReporter = started.reporter
      // PostgreSQL queries become child spans of the request's transaction (PGlite has no hook).
      instrumentPostgres = started.instrumentPostgres
      log.info(
        { environment: settings.environment, release, tracesSampleRate: settings.tracesSampleRate },
        'sentry enabled',
      )
    } else {
      log.warn(
        { runtime: runtime.name },
        'SENTRY_DSN is set but this runtime has no Sentry SDK wired: error tracking is off',
      )
    }
  }

  const metrics = createMetrics({
    log,
    enabled: config.metrics.enabled,
    seriesLimits: config.metrics.seriesLimits,
    build: {
      version: SERVICE_VERSION,
      commit: config.buildCommit,
      runtime: runtime.name,
      runtimeVersion: runtime.version,
      runtimeRevision: runtime.revision,
    },
  })

  let database: Awaited<ReturnType<typeof openMigratedDatabase>>
  try {
    database = await openMigratedDatabase(config.database, log, MIGRATIONS_FOLDER, {
      postgres: instrumentPostgres,
      onQuery: metrics.observeQuery,
    })
  } catch (error) {
    log.fatal({ err: error }, 'cannot open the database')
    await flushLogs(log)
    runtime.exit(1)
  }

  // Development: demo tenant and, when ADMIN_TOKEN is unset, a generated admin token (before createApp).
  const development =
    config.env === 'development' ? await prepareDevelopment({ config, db: database.db }) : undefined

  if (config.env === 'development' && config.alerts.oncallPhones.length === 0) {
    // A newcomer sees alerts at once: in development they go to the demo number through the
    // log transport (no credentials), instead of to nobody.
    config.alerts.oncallPhones = [DEMO_PHONE.slice(1)]
    log.info(
      { oncall: DEMO_PHONE },
      'development: ALERT_PHONES unset, on-call alerts go to the demo number (log transport)',
    )
  }

  const http = createHttpClient(fetch)
  const alerting = createAlerting({
    config,
    db: database.db,
    http,
    clock: systemClock,
    log,
    metrics: metrics.alerting,
  })
  // Without PROMETHEUS_URL the ruleManager queries the service's own metrics.
  const embedded = config.alerts.prometheusUrl
    ? undefined
    : createEmbeddedEngine({
        registry: metrics.registry,
        intervalMs: config.alerts.sampleIntervalMs,
        now: () => Date.now(),
        onError: (error) =>
          log.error({ err: error }, 'sampling the metrics for the embedded rule engine failed'),
      })
  let ruleManager: ReturnType<typeof setupRuleManager>
  try {
    ruleManager = config.alerts.ruleManagerEnabled
      ? setupRuleManager({
          config,
          db: database.db,
          http,
          clock: systemClock,
          log,
          dispatcher: alerting.dispatcher,
          metrics: metrics.ruleManager,
          embedded,
        })
      : undefined
  } catch (error) {
    log.fatal({ err: error }, `cannot load the alert rules: ${(error as Error).message}`)
    await database.close()
    await flushLogs(log)
    runtime.exit(1)
  }
  const app = createApp({
    config,
    database,
    log,
    clock: systemClock,
    http,
    alerting,
    ruleManager,
    errorReporter,
    metrics,
    adapter: runtime.adapter,
  })

  const server = await runtime.serve(app, {
    port: config.port,
    hostname: config.host,
    // Our own parser answers 413 in the error envelope; the server's limit is only a backstop.
    maxRequestBodySize: Math.max(config.http.maxBodyBytes * 2, 1024 * 1024),
  })
  log.info(
    { port: server.port, host: config.host, env: config.env, database: database.kind, runtime: runtime.name },
    `listening on http://${config.host}:${server.port}`,
  )
  development?.printBanner(server.port)
  const dbMonitor = startDbMonitor({
    db: database.db,
    report: (up) => metrics.db.up.unlabelled.set(up),
    intervalMs: config.database.pingIntervalMs,
    timeoutMs: config.database.healthTimeoutMs,
    log,
  })
  alerting.start()
  if (ruleManager) {
    embedded?.sampler.start()
    ruleManager.start()
  }

  /** Bounds the wait for queued Sentry events on shutdown: an unreachable Sentry must not hold the exit. */
  const SENTRY_FLUSH_TIMEOUT_MS = 2000

  let stopping = false
  async function shutdown(signal: string) {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down: draining in-flight requests')
    const drained = server.stop(false).then(() => true)
    const timedOut = new Promise<boolean>((resolve) =>
      setTimeout(() => resolve(false), config.shutdownTimeoutMs),
    )
    if (!(await Promise.race([drained, timedOut]))) {
      log.warn(
        { timeoutMs: config.shutdownTimeoutMs },
        'shutdown timeout reached; closing remaining connections',
      )
      await server.stop(true)
    }
    await ruleManager?.stop()
    embedded?.sampler.stop()
    await alerting.stop()
    dbMonitor.stop()
    const [, delivered] = await Promise.all([
      database.close().catch((error) => log.error({ err: error }, 'error closing the database')),
      errorReporter.flush(SENTRY_FLUSH_TIMEOUT_MS),
    ])
    if (!delivered) log.warn({ timeoutMs: SENTRY_FLUSH_TIMEOUT_MS }, 'sentry: some events were not delivered')
    log.info('stopped')
    await flushLogs(log)
    runtime.exit(0)
  }
  runtime.onShutdownSignal((signal) => void shutdown(signal))
}
