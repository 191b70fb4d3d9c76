import { Elysia, type ElysiaAdapter } from 'elysia'
import { ALERTMANAGER_PATH, alertRoutes, WHATSAPP_WEBHOOK_PATH } from './alerting/routes.ts'
import { ruleManagerRoutes } from './alerting/rules/routes.ts'
import { sloRoutes } from './alerting/slo/routes.ts'
import { healthRoutes } from './health/routes.ts'
import { type AnswerRecorder, accessLog } from './http/access-log.ts'
import {
  allowedMethods,
  declaredQueryParameters,
  type RouteWithQuery,
  routeFinder,
} from './http/allowed-methods.ts'
import { type ErrorReport, errorEnvelope, escapedErrors } from './http/error-envelope.ts'
import { errorReporting } from './http/error-reporting.ts'
import { httpMetrics } from './http/http-metrics.ts'
import { metricsRoute } from './http/metrics-route.ts'
import { openApiDocs } from './http/openapi.ts'
import { requestContext, requestState } from './http/request-context.ts'
import { addResponseHeaders, corsFor, securityHeaders } from './http/security.ts'
import { noErrorReporter } from './observability/error-reporter.ts'
import { orderRoutes } from './orders/routes.ts'
import { paymentRoutes } from './payments/routes.ts'
import { paymentWebhookRoutes } from './payments/webhook-routes.ts'
import { productRoutes } from './products/routes.ts'
import type { Infrastructure, Services } from './services.ts'
import { tenantRoutes } from './tenants/routes.ts'

/** What `createApp` mounts routes over: the infrastructure and the services built from it. */
export interface AppDeps extends Infrastructure {
  /** Built by `buildServices` from the same infrastructure. */
  services: Services
  newId?: () => string
  onServerError?: (report: ErrorReport) => void
  /** The runtime's Elysia adapter, when it needs one (Node); Bun and Deno serve app.fetch. */
  adapter?: ElysiaAdapter
}

export const SERVICE_VERSION = '0.1.0'

/**
 * Builds the Elysia app. Pure: no port, no globals, no migrations; `app.handle(Request)`
 * is a web-standard handler that any runtime can serve.
 */
export function createApp(deps: AppDeps) {
  const newId = deps.newId ?? (() => crypto.randomUUID())
  const db = deps.database.db
  const { tenants, products, orders, payments, paymentWebhooks, idempotency, alerting, ruleManager } =
    deps.services
  // Filled by the access log and the HTTP metrics, for the answers escapedErrors gives itself.
  const answerRecorders: AnswerRecorder[] = []
  // Registered first, so that its onRequest also sees requests an earlier hook rejects (413).
  const requestMetrics = deps.metrics.enabled
    ? httpMetrics({
        answerRecorders,
        instruments: deps.metrics.http,
        now: () => deps.clock.monotonic(),
        // requestContext (mounted next) reads the same clock at the start of every request.
        startedAt: (request) => requestState(request)?.startedAt,
        excludePaths: deps.config.metrics.excludePaths,
      })
    : new Elysia({ name: 'http-metrics-off' })
  const reporter = deps.errorReporter ?? noErrorReporter
  reporter.instrument?.(deps.metrics)
  const onServerError = reporter.enabled
    ? (report: ErrorReport) => {
        reporter.captureServerError(report)
        deps.onServerError?.(report)
      }
    : deps.onServerError
  // The app, once built, for the error boundary's 405 (its type cannot refer to itself).
  const mounted: { app?: { routes: readonly RouteWithQuery[] } } = {}
  // standardHostname: false, because Elysia otherwise looks for the path from the URL's 11th
  // character on ("http://a.bc"), so a request to a host of three letters or fewer
  // (`Host: web`, `http://api/health` inside a compose network or behind a proxy) found no
  // route and got a 404.
  const boundary = {
    log: deps.log,
    onServerError,
    // Read when a request misses, so routes mounted after createApp returns count too.
    allowedMethods: allowedMethods(() => mounted.app?.routes ?? []),
  }
  const requestLog = accessLog({
    answerRecorders,
    log: deps.log,
    now: () => deps.clock.monotonic(),
    excludePaths: deps.config.accessLogProbes ? [] : undefined,
  })
  const app = new Elysia({ normalize: false, adapter: deps.adapter, handler: { standardHostname: false } })
    // Around the compiled fetch handler: a thrown null or undefined makes Elysia itself throw
    // (it reads `error.code`) past onError; this answers it with the same envelope, and logs
    // and counts it as the mapResponse hooks Elysia never reached would have.
    .wrap(
      escapedErrors({
        ...boundary,
        responseHeaders: addResponseHeaders,
        routeOf: routeFinder(() => mounted.app?.routes ?? []),
        now: () => deps.clock.monotonic(),
        recordAnswer: answerRecorders,
      }),
    )
    .use(requestMetrics)
    .use(
      requestContext({
        log: deps.log,
        maxBodyBytes: deps.config.http.maxBodyBytes,
        newId,
        activeTraceId: reporter.enabled ? () => reporter.activeTraceId() : undefined,
        now: () => deps.clock.monotonic(),
        rawBodyPaths: [WHATSAPP_WEBHOOK_PATH, ...paymentWebhooks.paths],
        streamedBodies: { [ALERTMANAGER_PATH]: deps.config.alerts.alertmanagerMaxBodyBytes },
        queryParameters: declaredQueryParameters(() => mounted.app?.routes ?? []),
      }),
    )
    .use(corsFor(deps.config.http.corsOrigins))
    .use(errorEnvelope(boundary))
    .use(reporter.enabled ? errorReporting(reporter) : new Elysia({ name: 'error-reporting-off' }))
    .use(requestLog)
    .use(securityHeaders())
    .use(
      openApiDocs({
        title: 'Conversational commerce API',
        version: SERVICE_VERSION,
        license: { name: 'UNLICENSED' },
        serverUrl: deps.config.http.publicBaseUrl,
        description:
          'Multi-tenant orders and payments for shops selling over WhatsApp, Instagram and the web, with built-in monitoring.',
        tags: [
          { name: 'Health', description: 'Liveness and readiness probes' },
          { name: 'Monitoring', description: 'Prometheus metrics' },
          { name: 'Tenants', description: 'Shops, their API keys and alert settings' },
          { name: 'Products', description: 'Catalogue, prices in minor units, stock' },
          { name: 'Orders', description: 'Orders over every channel and their status' },
          { name: 'Payments', description: 'Payments through providers' },
          {
            name: 'Alerts',
            description: 'Alert delivery over WhatsApp: webhooks and the Alertmanager receiver',
          },
        ],
      }),
    )
    .use(healthRoutes({ db, timeoutMs: deps.config.database.healthTimeoutMs }))
    .use(
      metricsRoute({
        metrics: deps.metrics,
        token: deps.config.metrics.token,
        inFlight: deps.metrics.enabled ? deps.metrics.http.inFlight.unlabelled : undefined,
      }),
    )
    .use(tenantRoutes({ tenants, adminToken: deps.config.adminToken, idempotency }))
    .use(productRoutes({ products, tenants, idempotency }))
    .use(orderRoutes({ orders, tenants, idempotency }))
    .use(paymentRoutes({ payments, tenants, errorReporter: reporter, idempotency }))
    .use(paymentWebhookRoutes({ webhooks: paymentWebhooks }))
    .use(
      alertRoutes({
        dispatcher: alerting.dispatcher,
        receipts: alerting.receipts,
        verifyToken: deps.config.whatsapp.verifyToken,
        appSecret: deps.config.whatsapp.appSecret,
        phoneNumberId: deps.config.whatsapp.phoneNumberId,
        alertmanagerToken: deps.config.alerts.alertmanagerToken,
        alertmanagerMaxBodyBytes: deps.config.alerts.alertmanagerMaxBodyBytes,
      }),
    )
    .use(ruleManagerRoutes({ ruleManager, adminToken: deps.config.adminToken }))
    .use(sloRoutes({ ruleManager, adminToken: deps.config.adminToken, now: () => deps.clock.now() }))
  mounted.app = app
  return app
}

export type App = ReturnType<typeof createApp>
