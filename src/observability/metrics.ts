/**
 * The service's metric set: the one place where every metric the service exports is
 * defined, with its exact name, labels, buckets and series budget. Dashboards and alert
 * rules depend on these names; change them only together with `ops/`.
 */
import { collectDefaultMetrics, type Metric, Registry } from 'prom-client'
import type { AlertingMetrics } from '../alerting/metrics.ts'
import type { RuleManagerMetrics } from '../alerting/rules/manager.ts'
import type { Logger } from '../core/logger.ts'
import type { QueryInfo, QueryObserver } from '../db/query-timing.ts'
import { type BusinessMetrics, noBusinessMetrics } from './business-metrics.ts'
import { type AnyFamily, CONTENT_TYPES, joinExposition, renderFamilies } from './exposition.ts'
import { Counter, type ExpositionFormat, Gauge, Histogram } from './instruments.ts'
import { DEFAULT_SERIES_LIMITS, type LabelledMetricName } from './series-limits.ts'

export { DEFAULT_SERIES_LIMITS, type LabelledMetricName }

/** Has a boundary at every latency threshold the alert rules use (2 s: SlowResponseTime). */
export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10] as const
export const DB_DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
] as const
export const PAYMENT_DURATION_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10, 30] as const
export const SCRAPE_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] as const

/** prom-client default collectors that are stubs on Bun (see README, "Metrics"). */
const BUN_STUB_METRICS = [
  // process._getActiveHandles/_getActiveRequests/getActiveResourcesInfo return nothing on Bun,
  // and the *_total gauges also fail promtool's lint (a gauge must not end in _total).
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_requests',
  'nodejs_active_requests_total',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
  // JavaScriptCore emits no `gc` performance entries, so this histogram would stay empty.
  'nodejs_gc_duration_seconds',
]

export interface BuildInfo {
  /** The service's version (package.json). */
  version: string
  /** Source revision the service was built from. */
  commit: string
  /** The runtime that serves the service (bun, deno, node), its version and revision. */
  runtime: string
  runtimeVersion: string
  runtimeRevision: string
}

export interface MetricsOptions {
  log: Logger
  /** false turns request, database and business instrumentation off; /metrics still serves. */
  enabled?: boolean
  seriesLimits?: Partial<Record<LabelledMetricName, number>>
  /** prom-client's process and runtime collectors (default true). */
  processMetrics?: boolean
  build?: Partial<BuildInfo>
  /** Monotonic milliseconds (for scrape durations). */
  now?: () => number
}

export interface HttpInstruments {
  requests: Counter<'method' | 'endpoint' | 'status'>
  duration: Histogram<'method' | 'endpoint'>
  inFlight: Gauge
}

export interface Metrics {
  readonly enabled: boolean
  /** The app's own prom-client registry; all families below are registered in it. */
  readonly registry: Registry
  readonly http: HttpInstruments
  readonly db: {
    queryDuration: Histogram<'operation' | 'table'>
    poolSize: Gauge
    /** 1 while the background ping reaches the database, 0 when it does not. */
    up: Gauge
  }
  /** WhatsApp alert delivery (whatsapp_*, alert_notifications_pending, alert_routing_missing_phone_total). */
  readonly alerting: AlertingMetrics
  /** The scheduled rule ruleManager (alert_rule_*, alerts_active). */
  readonly ruleManager: RuleManagerMetrics
  /** What commerce services report to (a no-op when metrics are disabled). */
  readonly business: BusinessMetrics
  /** Hand to the database driver (undefined when metrics are disabled). */
  readonly observeQuery: QueryObserver | undefined
  /**
   * Renders every family in one exposition format. Scrapes that overlap share one render
   * per format, so a burst of scrapes costs one render.
   */
  render(format?: ExpositionFormat): Promise<string>
  contentType(format: ExpositionFormat): string
}

/**
 * Builds a fresh registry with the service's whole metric set. Nothing is global: building
 * twice in one process (tests, hot reload) gives two independent registries.
 */
export function createMetrics(options: MetricsOptions): Metrics {
  const enabled = options.enabled ?? true
  const now = options.now ?? (() => performance.now())
  const limits = { ...DEFAULT_SERIES_LIMITS, ...options.seriesLimits }
  const registry = new Registry()
  const register = <F extends { name: string }>(family: F): F => {
    registry.registerMetric(family as unknown as Metric)
    return family
  }

  const warned = new Set<string>()
  // Defined first because every other family reports its overflow to it; rendered last.
  const overflow = new Counter<'metric'>({
    name: 'metrics_cardinality_overflow_total',
    help: "Recordings folded into a metric's __overflow__ series because the metric reached its series limit.",
    labelNames: ['metric'],
    maxSeries: limits.metrics_cardinality_overflow_total,
  })
  const onOverflow = (metric: string) => {
    overflow.labels(metric).inc()
    if (warned.has(metric)) return
    warned.add(metric)
    options.log.warn(
      { metric, maxSeries: limits[metric as LabelledMetricName] },
      'metric reached its series limit; new label sets are counted in its __overflow__ series',
    )
  }
  const budget = (name: LabelledMetricName) => ({ maxSeries: limits[name], onOverflow })

  const http: HttpInstruments = {
    requests: register(
      new Counter({
        name: 'http_requests_total',
        help: 'HTTP requests answered, by method, route template and status sent.',
        labelNames: ['method', 'endpoint', 'status'],
        ...budget('http_requests_total'),
      }),
    ),
    duration: register(
      new Histogram({
        name: 'http_request_duration_seconds',
        help: 'Time from receiving a request to having its response ready, by method and route template.',
        labelNames: ['method', 'endpoint'],
        buckets: HTTP_DURATION_BUCKETS,
        ...budget('http_request_duration_seconds'),
      }),
    ),
    inFlight: register(
      new Gauge({ name: 'http_requests_in_flight', help: 'HTTP requests being served right now.' }),
    ),
  }

  const db = {
    queryDuration: register(
      new Histogram({
        name: 'db_query_duration_seconds',
        help: 'Database statement duration, by operation and table.',
        labelNames: ['operation', 'table'],
        buckets: DB_DURATION_BUCKETS,
        ...budget('db_query_duration_seconds'),
      }),
    ),
    poolSize: register(
      new Gauge({
        name: 'db_connection_pool_size',
        help: 'Connections the database driver may open (the pool size; 1 for the embedded database).',
      }),
    ),
    up: register(
      new Gauge({
        name: 'db_up',
        help: '1 when the last background ping (SELECT 1) of the database succeeded, 0 when it failed.',
      }),
    ),
  }

  const whatsappSent = register(
    new Counter<'status'>({
      name: 'whatsapp_messages_sent_total',
      help: 'WhatsApp alert send attempts by outcome: sent, retry (will be retried), failed (given up).',
      labelNames: ['status'],
      ...budget('whatsapp_messages_sent_total'),
    }),
  )
  for (const status of ['sent', 'retry', 'failed']) whatsappSent.labels(status)
  const whatsappDuration = register(
    new Histogram({
      name: 'whatsapp_send_duration_seconds',
      help: 'Duration of one WhatsApp Cloud API call, whatever its outcome.',
      buckets: PAYMENT_DURATION_BUCKETS,
    }),
  )
  const notificationsPending = register(
    new Gauge({
      name: 'alert_notifications_pending',
      help: 'Alert notifications waiting in the outbox (pending or sending).',
    }),
  )
  const tokenValid = register(
    new Gauge({
      name: 'whatsapp_token_valid',
      help: '0 after the Cloud API rejected the access token (error 190), 1 after a successful send.',
    }),
  )
  tokenValid.unlabelled.set(1)
  const missingPhone = register(
    new Counter({
      name: 'alert_routing_missing_phone_total',
      help: 'Alerts for a tenant that has no phone configured (sent to on-call only).',
    }),
  )
  const invalidAlerts = register(
    new Counter({
      name: 'alertmanager_receiver_invalid_alerts_total',
      help: 'Malformed alerts skipped inside accepted Alertmanager notifications (the others were taken).',
    }),
  )
  const alerting: AlertingMetrics = {
    messageSent: (status) => whatsappSent.labels(status).inc(),
    sendDuration: (seconds) => whatsappDuration.unlabelled.observe(seconds),
    pending: (count) => notificationsPending.unlabelled.set(count),
    tokenValid: (valid) => tokenValid.unlabelled.set(valid ? 1 : 0),
    missingTenantPhone: () => missingPhone.unlabelled.inc(),
    invalidAlerts: (count) => invalidAlerts.unlabelled.inc(count),
  }

  const ruleEvaluations = register(
    new Counter<'rule_group'>({
      name: 'alert_rule_evaluations_total',
      help: 'Alerting rule evaluations by the scheduled evaluator, by rule group.',
      labelNames: ['rule_group'],
      ...budget('alert_rule_evaluations_total'),
    }),
  )
  const ruleFailures = register(
    new Counter<'rule_group'>({
      name: 'alert_rule_evaluation_failures_total',
      help: 'Alerting rule evaluations that failed (query error, duplicate label sets), by rule group.',
      labelNames: ['rule_group'],
      ...budget('alert_rule_evaluation_failures_total'),
    }),
  )
  const groupDuration = register(
    new Histogram<'rule_group'>({
      name: 'alert_rule_evaluation_duration_seconds',
      help: 'Duration of one evaluation of a rule group (all its rules).',
      labelNames: ['rule_group'],
      buckets: SCRAPE_DURATION_BUCKETS,
      ...budget('alert_rule_evaluation_duration_seconds'),
    }),
  )
  const alertsActive = register(
    new Gauge<'alertname' | 'state'>({
      name: 'alerts_active',
      help: 'Alerts of the scheduled evaluator by name and state (pending, firing, inactive = resolved, kept 15 minutes).',
      labelNames: ['alertname', 'state'],
      ...budget('alerts_active'),
    }),
  )
  const activeSeen = new Set<string>()
  const ruleManager: RuleManagerMetrics = {
    ruleEvaluated: (group, failed) => {
      ruleEvaluations.labels(group).inc()
      if (failed) ruleFailures.labels(group).inc()
    },
    groupDuration: (group, seconds) => groupDuration.labels(group).observe(seconds),
    activeAlerts: (counts) => {
      // States that emptied since the last refresh read 0 rather than keep their old count.
      const now = new Set(counts.map((c) => `${c.alertname}\u0000${c.state}`))
      for (const key of activeSeen) {
        if (!now.has(key)) {
          const [alertname, state] = key.split('\u0000') as [string, string]
          alertsActive.labels(alertname, state).set(0)
        }
      }
      for (const c of counts) {
        activeSeen.add(`${c.alertname}\u0000${c.state}`)
        alertsActive.labels(c.alertname, c.state).set(c.count)
      }
    },
  }

  const ordersCreated = register(
    new Counter({
      name: 'orders_created_total',
      help: 'Orders created (counted after the transaction commits), by tenant and channel.',
      labelNames: ['tenant_id', 'channel'],
      ...budget('orders_created_total'),
    }),
  )
  const paymentsProcessed = register(
    new Counter({
      name: 'payments_processed_total',
      help: 'Payments processed, by tenant, provider and outcome (succeeded, failed, error).',
      labelNames: ['tenant_id', 'provider', 'status'],
      ...budget('payments_processed_total'),
    }),
  )
  const paymentDuration = register(
    new Histogram({
      name: 'payment_processing_duration_seconds',
      help: 'Time spent in the payment provider call, whatever its outcome, by provider.',
      labelNames: ['provider'],
      buckets: PAYMENT_DURATION_BUCKETS,
      ...budget('payment_processing_duration_seconds'),
    }),
  )
  const productViews = register(
    new Counter({
      name: 'product_views_total',
      help: 'Product views, by tenant, product and channel.',
      labelNames: ['tenant_id', 'product_id', 'channel'],
      ...budget('product_views_total'),
    }),
  )

  const build = {
    version: options.build?.version ?? 'unknown',
    commit: options.build?.commit ?? 'unknown',
    runtime: options.build?.runtime ?? (process.versions.bun ? 'bun' : 'node'),
    runtimeVersion:
      options.build?.runtimeVersion ?? process.versions.bun ?? process.versions.node ?? 'unknown',
    runtimeRevision: options.build?.runtimeRevision ?? 'unknown',
  }
  register(
    new Gauge<'version' | 'commit'>({
      name: 'app_build_info',
      help: 'Always 1; the labels say which build of the service is running.',
      labelNames: ['version', 'commit'],
    }),
  ).set({ version: build.version, commit: build.commit }, 1)
  register(
    new Gauge<'runtime' | 'version'>({
      name: 'runtime_info',
      help: 'Always 1; the labels say which runtime (bun, deno, node) serves the service, and its version.',
      labelNames: ['runtime', 'version'],
    }),
  ).set({ runtime: build.runtime, version: build.runtimeVersion }, 1)
  if (build.runtime === 'bun') {
    register(
      new Gauge<'version' | 'revision'>({
        name: 'bun_version_info',
        help: 'Always 1; the labels say which Bun runs the service (nodejs_version_info shows the Node.js API level Bun emulates).',
        labelNames: ['version', 'revision'],
      }),
    ).set({ version: build.runtimeVersion, revision: build.runtimeRevision }, 1)
  }

  if (options.processMetrics ?? true) {
    collectDefaultMetrics({ register: registry })
    for (const name of BUN_STUB_METRICS) registry.removeSingleMetric(name)
  }

  const scrapeDuration = register(
    new Histogram({
      name: 'metrics_scrape_duration_seconds',
      help: 'Time to render /metrics (the current scrape is counted in the next one).',
      buckets: SCRAPE_DURATION_BUCKETS,
    }),
  )
  const series = register(
    new Gauge<'metric'>({
      name: 'metrics_series',
      help: 'Time series exposed per metric family at the last scrape (a histogram label set counts once per bucket plus _sum and _count).',
      labelNames: ['metric'],
      ...budget('metrics_series'),
    }),
  )
  register(overflow)
  const selfFamilies = new Set<string>([overflow.name, scrapeDuration.name, series.name])

  const business: BusinessMetrics = {
    orderCreated: ({ tenantId, channel }) => ordersCreated.labels(tenantId, channel).inc(),
    paymentProcessed: ({ tenantId, provider, status }) =>
      paymentsProcessed.labels(tenantId, provider, status).inc(),
    paymentProviderDuration: ({ provider, seconds }) => paymentDuration.labels(provider).observe(seconds),
    productViewed: ({ tenantId, productId, channel }) =>
      productViews.labels(tenantId, productId, channel).inc(),
  }

  const observeQuery: QueryObserver = (query: QueryInfo, seconds: number) => {
    db.queryDuration.labels(query.operation, query.table).observe(seconds)
  }

  async function renderNow(format: ExpositionFormat): Promise<string> {
    const start = now()
    const families = registry.getMetricsAsArray() as unknown as AnyFamily[]
    const main = families.filter((family) => !selfFamilies.has(family.name))
    const rendered = await renderFamilies(main, format)
    for (const family of rendered) series.labels(family.name).set(family.samples)
    series.labels(overflow.name).set(overflow.seriesCount())
    series.labels(scrapeDuration.name).set(SCRAPE_DURATION_BUCKETS.length + 3)
    const own = series.labels(series.name)
    own.set(series.seriesCount())
    const self = await renderFamilies([overflow, scrapeDuration, series], format)
    const text = joinExposition([...rendered, ...self], format)
    scrapeDuration.unlabelled.observe((now() - start) / 1000)
    return text
  }

  const pending = new Map<ExpositionFormat, Promise<string>>()
  return {
    enabled,
    registry,
    http,
    db,
    business: enabled ? business : noBusinessMetrics,
    alerting,
    ruleManager,
    observeQuery: enabled ? observeQuery : undefined,
    render(format = 'prometheus') {
      const running = pending.get(format)
      if (running) return running
      const render = renderNow(format).finally(() => pending.delete(format))
      pending.set(format, render)
      return render
    },
    contentType: (format) => CONTENT_TYPES[format],
  }
}
