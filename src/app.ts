import { Elysia } from 'elysia'
import type { Clock } from './clock.ts'
import type { Config } from './config.ts'
import type { DatabaseHandle } from './db/client.ts'
import { healthRoutes } from './health/routes.ts'
import { accessLog } from './http/access-log.ts'
import { type ErrorReport, errorEnvelope } from './http/errors-plugin.ts'
import { openApiDocs } from './http/openapi.ts'
import type { HttpClient } from './http/outbound.ts'
import { requestContext } from './http/request-context.ts'
import { httpMetrics } from './observability/http-metrics.ts'
import type { Logger } from './observability/logger.ts'
import type { Metrics } from './observability/metrics.ts'
import { metricsRoute } from './observability/metrics-route.ts'

/** Everything the app needs from the outside world; tests pass fakes. */
export interface AppDeps {
  config: Config
  database: DatabaseHandle
  log: Logger
  clock: Clock
  /** Outbound HTTP (payment providers, WhatsApp, Prometheus), carrying the request id. */
  http: HttpClient
  /** The app's metric registry (createMetrics); tests build a fresh one per app. */
  metrics: Metrics
  newId?: () => string
  onServerError?: (report: ErrorReport) => void
}

export const SERVICE_VERSION = '0.1.0'

/**
 * Builds the Elysia app. Pure: no port, no globals, no migrations; `app.handle(Request)`
 * is a web-standard handler that any runtime can serve.
 */
export function createApp(deps: AppDeps) {
  const newId = deps.newId ?? (() => crypto.randomUUID())
  deps.metrics.db.poolSize.unlabelled.set(deps.database.poolSize)
  // Registered first, so that its onRequest also sees requests an earlier hook rejects (413).
  const requestMetrics = deps.metrics.enabled
    ? httpMetrics({
        instruments: deps.metrics.http,
        now: () => deps.clock.monotonic(),
        excludePaths: deps.config.metrics.excludePaths,
      })
    : new Elysia()
  return new Elysia({ normalize: false })
    .use(requestMetrics)
    .use(
      requestContext({
        log: deps.log,
        maxBodyBytes: deps.config.http.maxBodyBytes,
        newId,
        now: () => deps.clock.monotonic(),
      }),
    )
    .use(errorEnvelope({ log: deps.log, onServerError: deps.onServerError }))
    .use(accessLog({ now: () => deps.clock.monotonic() }))
    .use(
      openApiDocs({
        title: 'Conversational commerce API',
        version: SERVICE_VERSION,
        description:
          'Multi-tenant orders and payments for shops selling over WhatsApp, Instagram and the web, with built-in monitoring.',
        tags: [
          { name: 'Health', description: 'Liveness and readiness probes' },
          { name: 'Monitoring', description: 'Prometheus metrics' },
        ],
      }),
    )
    .use(healthRoutes({ db: deps.database.db, timeoutMs: deps.config.database.healthTimeoutMs }))
    .use(
      metricsRoute({
        metrics: deps.metrics,
        token: deps.config.metrics.token,
        countsInFlight: deps.metrics.enabled,
      }),
    )
}

export type App = ReturnType<typeof createApp>
