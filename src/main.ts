/**
 * Starts the service on any runtime: open → start → serve → shut down. What differs between
 * Bun, Deno and Node (the server, signals, the environment, the Sentry SDK) comes in through
 * `runtime`; the entry files (server.ts, server.deno.ts, server.node.ts) are a few lines each.
 */

import { fileURLToPath } from 'node:url'
import { maskPhone } from './alerting/whatsapp/client.ts'
import { createApp, SERVICE_VERSION } from './app.ts'
import { ADMIN_OPERATIONS } from './auth/plugin.ts'
import { type Config, ConfigError, loadConfig } from './config.ts'
import { systemClock } from './core/clock.ts'
import { createLogger, flushLogs, type Logger } from './core/logger.ts'
import type { DatabaseHandle } from './db/client.ts'
import {
  databaseConnectionProblem,
  databaseOpenProblem,
  MIGRATIONS_FOLDER,
  openMigratedDatabase,
} from './db/open.ts'
import { prepareDevelopment } from './development.ts'
import { createHttpClient } from './http/outbound.ts'
import { createMetrics } from './metrics.ts'
import { type ErrorReporter, noErrorReporter } from './observability/error-reporter.ts'
import { readGitCommit } from './observability/release.ts'
import { defaultRelease } from './observability/sentry.ts'
import { listenConfigProblem, urlHost } from './runtime/listen.ts'
import type { FatalErrorOrigin, Runtime, ServeHandle } from './runtime/types.ts'
import { buildServices, type Infrastructure, type Services } from './services.ts'

/** Bounds the wait for queued Sentry events on shutdown: an unreachable Sentry must not hold the exit. */
const SENTRY_FLUSH_TIMEOUT_MS = 2000

/** Runs the service until a shutdown signal; never returns normally (the process exits). */
export async function main(runtime: Runtime): Promise<void> {
  const config = readConfig(runtime)
  const log = createLogger({
    level: config.logLevel,
    pretty: config.env === 'development',
    sync: runtime.syncLogs,
  })
  // Installed before anything that can fail uncaught; Sentry's reporter joins once started.
  let reporter: ErrorReporter = noErrorReporter
  runtime.onFatalError(exitOnFatalError(runtime, log, () => reporter))
  const tracking = await startErrorTracking(config, runtime, log)
  reporter = tracking.reporter
  const infra = await openInfrastructure(config, runtime, log, tracking)

  let services: Services
  try {
    services = buildServices(infra)
  } catch (error) {
    log.fatal({ err: error }, `cannot load the alert rules: ${(error as Error).message}`)
    await infra.database.close()
    await flushLogs(log)
    return runtime.exit(1)
  }
  // Development: the demo tenant and, with ADMIN_TOKEN unset, a generated admin token kept in
  // DATA_DIR (so watch restarts reuse it); both are announced in the banner once serving.
  const development =
    config.env === 'development' ? await prepareDevelopment({ config, db: infra.database.db }) : undefined
  if (config.alerts.oncallIsDemo)
    log.info(
      { oncall: maskPhone(config.alerts.oncallPhones[0]!) },
      'development: ALERT_PHONES unset, on-call alerts go to the demo number (log transport)',
    )

  const app = createApp({ ...infra, services, adapter: runtime.adapter })
  let server: ServeHandle
  try {
    server = await runtime.serve(app, {
      port: config.port,
      hostname: config.host,
      // No limit of the server's own: its refusal is a bare 413 (no envelope, no request id, no
      // access line), which Bun 1.4 sends for any declared length over the limit. Every body is
      // read by our bounded readers (request-context.ts readBodyLimited, the streamed routes'
      // own limits), and Bun discards a body nobody reads without buffering it (a 400 MB upload
      // to a route that ignores it left the process at 28 MiB RSS).
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    })
  } catch (error) {
    // HOST or PORT: one line naming the variable and exit 1, as for a bad variable at start;
    // a stack trace says nothing more there. Anything else is a bug and keeps its stack. The
    // data folder's lock must go with the process (`bun --watch` keeps it alive).
    const problem = await listenConfigProblem(error, { host: config.host, port: config.port })
    if (problem) log.fatal(problem)
    else log.fatal({ err: error }, `cannot listen on ${config.host}:${config.port}`)
    await infra.database.close()
    await flushLogs(log)
    return runtime.exit(1)
  }
  log.info(
    {
      port: server.port,
      host: config.host,
      env: config.env,
      database: infra.database.kind,
      runtime: runtime.name,
    },
    `listening on http://${urlHost(config.host)}:${server.port}`,
  )
  development?.printBanner(server.port)
  if (config.env === 'production') {
    // What a first production start leaves closed or open, said once rather than found out.
    if (!config.adminToken)
      log.warn(
        `ADMIN_TOKEN is not set: the admin routes (${ADMIN_OPERATIONS.join(', ')}) answer 403 until it is`,
      )
    if (!config.metrics.token)
      log.info('METRICS_TOKEN is not set: /metrics answers anyone who can reach this port')
  }
  services.start()
  runtime.onShutdownSignal(
    firstDrainsSecondExits(
      (signal) => shutdown(signal, { runtime, config, log, infra, services, server }),
      (signal) => exitAtOnce(signal, runtime, log),
    ),
  )
}

/** The validated configuration; a bad variable ends the process with one line naming it. */
function readConfig(runtime: Runtime): Config {
  try {
    return loadConfig(runtime.env)
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`config error: ${error.message}`)
      runtime.exit(1)
    }
    throw error
  }
}

interface ErrorTracking {
  reporter: ErrorReporter
  /** Wraps postgres.js so queries become spans of the request's transaction (PGlite has no hook). */
  instrumentPostgres: (<T>(sql: T) => T) | undefined
}

/**
 * Starts Sentry before the database and the server, which it instruments. Without a DSN the
 * SDK is not even loaded.
 */
async function startErrorTracking(config: Config, runtime: Runtime, log: Logger): Promise<ErrorTracking> {
  if (!config.sentry.dsn) return { reporter: noErrorReporter, instrumentPostgres: undefined }
  const release =
    config.sentry.release ??
    defaultRelease(SERVICE_VERSION, readGitCommit(fileURLToPath(new URL('..', import.meta.url))))
  const settings = { ...config.sentry, dsn: config.sentry.dsn, release }
  const started = await runtime.startSentry(settings)
  log.info(
    { environment: settings.environment, release, tracesSampleRate: settings.tracesSampleRate },
    'sentry enabled',
  )
  return { reporter: started.reporter, instrumentPostgres: started.instrumentPostgres }
}

/** The metric registry, the migrated database and outbound HTTP; a database that cannot open ends the process. */
async function openInfrastructure(
  config: Config,
  runtime: Runtime,
  log: Logger,
  tracking: ErrorTracking,
): Promise<Infrastructure> {
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
  let database: DatabaseHandle
  try {
    database = await openMigratedDatabase(config.database, log, MIGRATIONS_FOLDER, {
      postgres: tracking.instrumentPostgres,
      onQuery: metrics.observeQuery,
    })
  } catch (error) {
    // A setting or an outage is one line with its cause; a driver's stack says nothing more
    // (postgres.js' for an unknown host is `undefined` and its own query frames).
    const problem = databaseConnectionProblem(config.database, error)
    if (problem) log.fatal(problem)
    else log.fatal({ err: error }, databaseOpenProblem(config.database, error))
    await flushLogs(log)
    return runtime.exit(1)
  }
  return {
    config,
    log,
    clock: systemClock,
    metrics,
    database,
    http: createHttpClient(fetch),
    errorReporter: tracking.reporter,
  }
}

/**
 * Drains in-flight requests (bounded by SHUTDOWN_TIMEOUT_MS), stops the background loops,
 * closes the database, flushes Sentry and the logs, and exits 0.
 */
async function shutdown(
  signal: string,
  ctx: {
    runtime: Runtime
    config: Config
    log: Logger
    infra: Infrastructure
    services: Services
    server: ServeHandle
  },
) {
  const { runtime, config, log, infra, services, server } = ctx
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
  await services.stop()
  const reporter = infra.errorReporter ?? noErrorReporter
  const [, delivered] = await Promise.all([
    infra.database.close().catch((error) => log.error({ err: error }, 'error closing the database')),
    reporter.flush(SENTRY_FLUSH_TIMEOUT_MS),
  ])
  if (!delivered) log.warn({ timeoutMs: SENTRY_FLUSH_TIMEOUT_MS }, 'sentry: some events were not delivered')
  log.info('stopped')
  await flushLogs(log)
  runtime.exit(0)
}

/**
 * Ends the process, code 1, on an error nothing caught (an exception thrown from a timer, a
 * promise rejected with nobody awaiting it): what state it left is unknown, so the process
 * does not serve on. The runtime's own crash would print the error on stderr only and drop
 * what explains it: the log lines still queued by the batching destination (up to the last
 * 100 ms, the access lines of the last requests among them) and Sentry's queued events; with
 * Sentry's handler registered, a rejection did not even end the process. So the error gets
 * a fatal line, then Sentry and the logs are flushed, each bounded, before the exit.
 */
function exitOnFatalError(
  runtime: Runtime,
  log: Logger,
  reporter: () => ErrorReporter,
): (error: unknown, origin: FatalErrorOrigin) => void {
  let exiting = false
  return (error, origin) => {
    const what = origin === 'uncaughtException' ? 'uncaught exception' : 'unhandled rejection'
    const message = error instanceof Error ? error.message : String(error)
    log.fatal({ err: error, origin }, `${what}: ${message}`)
    // A second error while flushing is logged above and joins the exit already under way.
    if (exiting) return
    exiting = true
    void (async () => {
      const delivered = await reporter()
        .flush(SENTRY_FLUSH_TIMEOUT_MS)
        .catch(() => false)
      if (!delivered)
        log.warn({ timeoutMs: SENTRY_FLUSH_TIMEOUT_MS }, 'sentry: some events were not delivered')
      await flushLogs(log)
      runtime.exit(1)
    })()
  }
}

/**
 * A signal this soon after the first is the same request delivered twice, not a second one:
 * Ctrl-C reaches the whole process group, and `bun run` and scripts/start-runtime.ts pass the
 * signal on to the server again, so one keypress arrives twice within milliseconds.
 */
const REPEATED_SIGNAL_MS = 1000

/**
 * The first signal starts the graceful shutdown; another one later than REPEATED_SIGNAL_MS
 * (Ctrl-C pressed again, a supervisor's repeated SIGTERM) means whoever sends it will not
 * wait for the drain (up to SHUTDOWN_TIMEOUT_MS, then the background loops' calls), and ends
 * the process at once.
 */
function firstDrainsSecondExits(
  shutdown: (signal: string) => Promise<void>,
  exit: (signal: string) => Promise<void>,
): (signal: string) => void {
  let firstAt: number | undefined
  let exiting = false
  return (signal) => {
    const now = performance.now()
    if (firstAt === undefined) {
      firstAt = now
      void shutdown(signal)
    } else if (!exiting && now - firstAt >= REPEATED_SIGNAL_MS) {
      exiting = true
      void exit(signal)
    }
  }
}

/**
 * Exits with code 1 without waiting for in-flight requests, the background loops or the
 * database, as a SIGKILL would (an acknowledged write is already committed), but with the
 * queued log lines written and one line saying why the shutdown was cut short.
 */
async function exitAtOnce(signal: string, runtime: Runtime, log: Logger): Promise<void> {
  log.warn({ signal }, 'second signal during shutdown: exiting now, in-flight requests are cut off')
  await flushLogs(log)
  runtime.exit(1)
}
