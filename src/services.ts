/**
 * The composition root's service half: the one place where the commerce services, alert
 * delivery and the rule manager are built from the infrastructure. `main.ts`, the tests and
 * the scripts call `buildServices`; `createApp` only mounts routes over what it returns.
 */
import { type Alerting, createAlerting } from './alerting/alerting.ts'
import { createEmbeddedEngine, type EmbeddedEngine } from './alerting/rules/embedded.ts'
import type { RuleManager } from './alerting/rules/manager.ts'
import { setupRuleManager } from './alerting/rules/setup.ts'
import type { Config } from './config.ts'
import type { Clock } from './core/clock.ts'
import type { Logger } from './core/logger.ts'
import type { DatabaseHandle } from './db/client.ts'
import { startDbMonitor } from './health/db-monitor.ts'
import type { HttpClient } from './http/outbound.ts'
import { createIdempotencyPruner } from './idempotency/pruner.ts'
import { createIdempotencyService, type IdempotencyService } from './idempotency/service.ts'
import type { Metrics } from './metrics.ts'
import type { BusinessMetrics } from './observability/business-metrics.ts'
import type { ErrorReporter } from './observability/error-reporter.ts'
import { createOrderService, type OrderService } from './orders/service.ts'
import { amountMismatchMetrics, webhookMetrics } from './payments/metrics.ts'
import { createProviderRegistry, type PaymentProvider } from './payments/providers.ts'
import { createPaymentReconciler, reconcilerMetrics } from './payments/reconciler.ts'
import { createPaymentRepository } from './payments/repository.ts'
import { createSandboxProvider, sandboxLatencyWarning } from './payments/sandbox.ts'
import { createPaymentService, type PaymentService } from './payments/service.ts'
import { createPaymentWebhooks, type PaymentWebhooks } from './payments/webhook.ts'
import { createProductService, type ProductService } from './products/service.ts'
import { createTenantAlertContacts } from './tenants/alert-contacts.ts'
import { createTenantService, type TenantService } from './tenants/service.ts'

/** What the services are built from: opened by `main.ts`, faked or shared by the tests. */
export interface Infrastructure {
  config: Config
  database: DatabaseHandle
  log: Logger
  clock: Clock
  /** Outbound HTTP (payment providers, WhatsApp, Prometheus), carrying the request id. */
  http: HttpClient
  /** The app's registry with every feature's families (`createMetrics`). */
  metrics: Metrics
  /** Error tracking (Sentry); defaults to off. */
  errorReporter?: ErrorReporter
}

/** Replacements for parts the tests drive directly; production passes none. */
export interface ServiceOverrides {
  /** Payment providers by name; defaults to the sandbox provider. */
  paymentProviders?: PaymentProvider[]
  /** Records business events instead of the Prometheus families. */
  business?: BusinessMetrics
  /** Alert delivery with a fake transport or clock. */
  alerting?: Alerting
  /** A rule manager over a fake query source. */
  ruleManager?: RuleManager
}

/** Everything the routes serve and the background work `main.ts` starts and stops. */
export interface Services {
  tenants: TenantService
  products: ProductService
  orders: OrderService
  payments: PaymentService
  /** Providers' signed webhooks reporting payments' outcomes (POST /webhooks/payments/:provider). */
  paymentWebhooks: PaymentWebhooks
  /** Idempotency-Key claims and stored responses (POST routes that create something). */
  idempotency: IdempotencyService
  alerting: Alerting
  /** The rule manager, unless ALERTS_ENABLED=false (or there is no query source). */
  ruleManager: RuleManager | undefined
  /** The embedded Prometheus the rule manager queries when PROMETHEUS_URL is unset. */
  embedded: EmbeddedEngine | undefined
  /**
   * Starts the background loops: database ping, payment reconciliation, idempotency-key
   * pruning, alert delivery, sampling and rule evaluation.
   */
  start(): void
  /** Stops every loop and waits for the work in progress. */
  stop(): Promise<void>
}

/**
 * Builds every service. Pure wiring: nothing runs until `start()`. Throws what rule loading
 * throws (a `RuleFileError` naming the file, group and rule) when ALERTS_ENABLED is on and a
 * rule file is bad.
 */
export function buildServices(infra: Infrastructure, overrides: ServiceOverrides = {}): Services {
  const { config, log, clock, http, metrics } = infra
  const db = infra.database.db
  const business = overrides.business ?? metrics.business
  metrics.db.poolSize.unlabelled.set(infra.database.poolSize)

  const tenants = createTenantService({ db })
  const products = createProductService({ db, metrics: business })
  const orders = createOrderService({
    db,
    metrics: business,
    pendingPayment: createPaymentRepository().pendingFor,
  })
  const paymentProviders = overrides.paymentProviders ?? [
    createSandboxProvider({ db, latencyMs: config.payments.sandboxLatencyMs }),
  ]
  const slowSandbox =
    !overrides.paymentProviders &&
    sandboxLatencyWarning(config.payments.sandboxLatencyMs, config.payments.providerTimeoutMs)
  if (slowSandbox)
    log.warn(
      {
        event: 'sandbox_slower_than_deadline',
        sandboxLatencyMs: config.payments.sandboxLatencyMs,
        providerTimeoutMs: config.payments.providerTimeoutMs,
      },
      slowSandbox,
    )
  const mismatches = amountMismatchMetrics(
    metrics,
    paymentProviders.map((p) => p.name),
  )
  const payments = createPaymentService({
    db,
    metrics: business,
    clock,
    providers: createProviderRegistry(paymentProviders),
    pendingLeaseMs: config.payments.pendingLeaseMs,
    providerTimeoutMs: config.payments.providerTimeoutMs,
    mismatches,
  })
  const providerNames = paymentProviders.map((p) => p.name)
  const paymentWebhooks = createPaymentWebhooks({
    payments,
    providers: providerNames,
    secrets: config.payments.webhookSecrets,
    clock,
    count: webhookMetrics(metrics, providerNames),
  })
  const unusedSecrets = Object.keys(config.payments.webhookSecrets).filter((p) => !providerNames.includes(p))
  if (unusedSecrets.length > 0)
    log.warn(
      { event: 'payment_webhook_secret_unused', providers: unusedSecrets },
      'PAYMENT_WEBHOOK_SECRETS names providers that are not registered; their secrets are unused',
    )
  // Settles payments a crash left pending, by asking their provider (one replica at a time).
  const reconciler = createPaymentReconciler({
    db,
    providers: paymentProviders,
    clock,
    log,
    leaseMs: config.payments.pendingLeaseMs,
    providerTimeoutMs: config.payments.providerTimeoutMs,
    metrics: reconcilerMetrics(
      metrics,
      paymentProviders.map((p) => p.name),
    ),
    business,
    mismatches,
  })
  const idempotency = createIdempotencyService({ db, clock, ttlMs: config.idempotency.keyTtlMs })
  const pruner = createIdempotencyPruner({ idempotency, log, ttlMs: config.idempotency.keyTtlMs })
  const alerting =
    overrides.alerting ??
    createAlerting({
      config,
      db,
      http,
      clock,
      log,
      metrics: metrics.alerting,
      contacts: createTenantAlertContacts(),
    })

  // Without PROMETHEUS_URL the rule manager queries the service's own metrics.
  const embedded =
    overrides.ruleManager || !config.alerts.ruleManagerEnabled || config.alerts.prometheusUrl
      ? undefined
      : createEmbeddedEngine({
          registry: metrics.registry,
          intervalMs: config.alerts.sampleIntervalMs,
          // ALERT_EVAL_INTERVAL plays the part of Prometheus' global evaluation_interval: the
          // interval of groups that set none and the step of subqueries that set none.
          subqueryStepMs: config.alerts.evalIntervalMs,
          now: () => clock.now().getTime(),
          onError: (error) =>
            log.error({ err: error }, 'sampling the metrics for the embedded rule engine failed'),
        })
  const ruleManager =
    overrides.ruleManager ??
    (config.alerts.ruleManagerEnabled
      ? setupRuleManager({
          config,
          db,
          http,
          clock,
          log,
          dispatcher: alerting.dispatcher,
          metrics: metrics.ruleManager,
          embedded,
        })
      : undefined)

  let dbMonitor: ReturnType<typeof startDbMonitor> | undefined
  return {
    tenants,
    products,
    orders,
    payments,
    paymentWebhooks,
    idempotency,
    alerting,
    ruleManager,
    embedded,
    start() {
      dbMonitor ??= startDbMonitor({
        db,
        report: (up) => metrics.db.up.unlabelled.set(up),
        intervalMs: config.database.pingIntervalMs,
        timeoutMs: config.database.healthTimeoutMs,
        log,
      })
      reconciler.start()
      pruner.start()
      alerting.start()
      if (ruleManager) {
        // The embedded engine's first scrape waits for the first ping: taken before it, db_up's
        // initial 0 put DatabaseDown in pending at every start (GET /alerts showed it).
        const monitor = dbMonitor
        void monitor.firstPing.then(() => {
          if (dbMonitor === monitor) embedded?.sampler.start()
        })
        ruleManager.start()
      }
    },
    async stop() {
      await ruleManager?.stop()
      embedded?.sampler.stop()
      await Promise.all([alerting.stop(), reconciler.stop(), pruner.stop()])
      dbMonitor?.stop()
      dbMonitor = undefined
    },
  }
}
