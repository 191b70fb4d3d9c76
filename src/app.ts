import { Elysia, type ElysiaAdapter } from 'elysia'
import { type Alerting, createAlerting } from './alerting/alerting.ts'
import { alertRoutes, WHATSAPP_WEBHOOK_PATH } from './alerting/routes.ts'
import type { RuleManager } from './alerting/rules/manager.ts'
import { ruleManagerRoutes } from './alerting/rules/routes.ts'
import type { Config } from './config.ts'
import type { Clock } from './core/clock.ts'
import type { Logger } from './core/logger.ts'
import type { DatabaseHandle } from './db/client.ts'
import { healthRoutes } from './health/routes.ts'
import { accessLog } from './http/access-log.ts'
import { type ErrorReport, errorEnvelope } from './http/error-envelope.ts'
import { errorReporting } from './http/error-reporting.ts'
import { httpMetrics } from './http/http-metrics.ts'
import { metricsRoute } from './http/metrics-route.ts'
import { openApiDocs } from './http/openapi.ts'
import type { HttpClient } from './http/outbound.ts'
import { requestContext } from './http/request-context.ts'
import { corsFor, securityHeaders } from './http/security.ts'
import type { BusinessMetrics } from './observability/business-metrics.ts'
import { type ErrorReporter, noErrorReporter } from './observability/error-reporter.ts'
import type { Metrics } from './observability/metrics.ts'
import { orderRoutes } from './orders/routes.ts'
import { createOrderService } from './orders/service.ts'
import { createProviderRegistry, type PaymentProvider } from './payments/providers.ts'
import { paymentRoutes } from './payments/routes.ts'
import { createSandboxProvider } from './payments/sandbox.ts'
import { createPaymentService } from './payments/service.ts'
import { productRoutes } from './products/routes.ts'
import { createProductService } from './products/service.ts'
import { tenantRoutes } from './tenants/routes.ts'
import { createTenantService } from './tenants/service.ts'

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
  /** Overrides the business events of `metrics` (tests record them directly). */
  business?: BusinessMetrics
  /** Payment providers by name; defaults to the sandbox provider. */
  paymentProviders?: PaymentProvider[]
  /** Alert delivery; built from the config when absent (its loop only runs once started). */
  alerting?: Alerting
  /** The scheduled rule ruleManager, when one runs (GET /alerts, GET /alerts/rules report it). */
  ruleManager?: RuleManager
  newId?: () => string
  onServerError?: (report: ErrorReport) => void
  /** Error tracking (Sentry); unset = off, and no reporting hooks are installed. */
  errorReporter?: ErrorReporter
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
  const metrics = deps.business ?? deps.metrics.business
  deps.metrics.db.poolSize.unlabelled.set(deps.database.poolSize)
  // Registered first, so that its onRequest also sees requests an earlier hook rejects (413).
  const requestMetrics = deps.metrics.enabled
    ? httpMetrics({
        instruments: deps.metrics.http,
        now: () => deps.clock.monotonic(),
        excludePaths: deps.config.metrics.excludePaths,
      })
    : new Elysia({ name: 'http-metrics-off' })
  const tenants = createTenantService({ db })
  const products = createProductService({ db, metrics })
  const orders = createOrderService({ db, metrics })
  const payments = createPaymentService({
    db,
    metrics,
    clock: deps.clock,
    providers: createProviderRegistry(
      deps.paymentProviders ?? [createSandboxProvider({ latencyMs: deps.config.payments.sandboxLatencyMs })],
    ),
  })
  const alerting =
    deps.alerting ??
    createAlerting({ config: deps.config, db, http: deps.http, clock: deps.clock, log: deps.log })
  const reporter = deps.errorReporter ?? noErrorReporter
  const onServerError = reporter.enabled
    ? (report: ErrorReport) => {
        reporter.captureServerError(report)
        deps.onServerError?.(report)
      }
    : deps.onServerError
  return new Elysia({ normalize: false, adapter: deps.adapter })
    .use(requestMetrics)
    .use(
      requestContext({
        log: deps.log,
        maxBodyBytes: deps.config.http.maxBodyBytes,
        newId,
        now: () => deps.clock.monotonic(),
        rawBodyPaths: [WHATSAPP_WEBHOOK_PATH],
      }),
    )
    .use(securityHeaders())
    .use(corsFor(deps.config.http.corsOrigins))
    .use(errorEnvelope({ log: deps.log, onServerError }))
    .use(reporter.enabled ? errorReporting(reporter) : new Elysia({ name: 'error-reporting-off' }))
    .use(
      accessLog({
        log: deps.log,
        now: () => deps.clock.monotonic(),
        excludePaths: deps.config.accessLogProbes ? [] : undefined,
      }),
    )
    .use(
      openApiDocs({
        title: 'Conversational commerce API',
        version: SERVICE_VERSION,
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
        countsInFlight: deps.metrics.enabled,
      }),
    )
    .use(tenantRoutes({ tenants, adminToken: deps.config.adminToken }))
    .use(productRoutes({ products, tenants }))
    .use(orderRoutes({ orders, tenants }))
    .use(paymentRoutes({ payments, tenants, errorReporter: reporter }))
    .use(
      alertRoutes({
        dispatcher: alerting.dispatcher,
        receipts: alerting.receipts,
        verifyToken: deps.config.whatsapp.verifyToken,
        appSecret: deps.config.whatsapp.appSecret,
        alertmanagerToken: deps.config.alerts.alertmanagerToken,
      }),
    )
    .use(ruleManagerRoutes({ ruleManager: deps.ruleManager, adminToken: deps.config.adminToken }))
}

export type App = ReturnType<typeof createApp>
