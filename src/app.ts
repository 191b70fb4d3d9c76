import { Elysia } from 'elysia'
import type { Clock } from './clock.ts'
import type { Config } from './config.ts'
import type { DatabaseHandle } from './db/client.ts'
import { healthRoutes } from './health/routes.ts'
import { accessLog } from './http/access-log.ts'
import { errorReporting } from './http/error-reporting.ts'
import { type ErrorReport, errorEnvelope } from './http/errors-plugin.ts'
import { openApiDocs } from './http/openapi.ts'
import type { HttpClient } from './http/outbound.ts'
import { requestContext } from './http/request-context.ts'
import { type ErrorReporter, noErrorReporter } from './observability/error-reporter.ts'
import type { Logger } from './observability/logger.ts'

/** Everything the app needs from the outside world; tests pass fakes. */
export interface AppDeps {
  config: Config
  database: DatabaseHandle
  log: Logger
  clock: Clock
  /** Outbound HTTP (payment providers, WhatsApp, Prometheus), carrying the request id. */
  http: HttpClient
  newId?: () => string
  onServerError?: (report: ErrorReport) => void
  /** Error tracking (Sentry); unset = off, and no reporting hooks are installed. */
  errorReporter?: ErrorReporter
}

export const SERVICE_VERSION = '0.1.0'

/**
 * Builds the Elysia app. Pure: no port, no globals, no migrations; `app.handle(Request)`
 * is a web-standard handler that any runtime can serve.
 */
export function createApp(deps: AppDeps) {
  const newId = deps.newId ?? (() => crypto.randomUUID())
  const reporter = deps.errorReporter ?? noErrorReporter
  const onServerError = reporter.enabled
    ? (report: ErrorReport) => {
        reporter.captureServerError(report)
        deps.onServerError?.(report)
      }
    : deps.onServerError
  return new Elysia({ normalize: false })
    .use(
      requestContext({
        log: deps.log,
        maxBodyBytes: deps.config.http.maxBodyBytes,
        newId,
        now: () => deps.clock.monotonic(),
      }),
    )
    .use(errorEnvelope({ log: deps.log, onServerError }))
    .use(reporter.enabled ? errorReporting(reporter) : new Elysia({ name: 'error-reporting-off' }))
    .use(accessLog({ now: () => deps.clock.monotonic() }))
    .use(
      openApiDocs({
        title: 'Conversational commerce API',
        version: SERVICE_VERSION,
        description:
          'Multi-tenant orders and payments for shops selling over WhatsApp, Instagram and the web, with built-in monitoring.',
        tags: [{ name: 'Health', description: 'Liveness and readiness probes' }],
      }),
    )
    .use(healthRoutes({ db: deps.database.db, timeoutMs: deps.config.database.healthTimeoutMs }))
}

export type App = ReturnType<typeof createApp>
