/**
 * The service's whole metric set, assembled from the families each feature builds in one
 * registry. Part of the composition root: `main.ts`, the tests and the benches call it, and
 * nothing below this level imports it.
 */
import { type AlertingMetrics, createAlertingMetrics } from './alerting/metrics.ts'
import type { RuleManagerMetrics } from './alerting/rules/manager.ts'
import { createRuleManagerMetrics } from './alerting/rules/metrics.ts'
import { createDbMetrics, type DbMetrics } from './db/metrics.ts'
import { createHttpInstruments, type HttpInstruments } from './http/http-instruments.ts'
import { type BusinessMetrics, noBusinessMetrics } from './observability/business-metrics.ts'
import {
  createMetricsRegistry,
  type MetricsRegistry,
  type MetricsRegistryOptions,
} from './observability/metrics.ts'
import { createOrderMetrics } from './orders/metrics.ts'
import { createPaymentMetrics } from './payments/metrics.ts'
import { createProductMetrics } from './products/metrics.ts'

/** The registry and every feature's families, ready to hand to the features. */
export interface Metrics extends MetricsRegistry {
  readonly http: HttpInstruments
  readonly db: DbMetrics
  /** WhatsApp alert delivery (whatsapp_*, alert_notifications_pending, alert_routing_missing_phone_total). */
  readonly alerting: AlertingMetrics
  /** The rule manager (alert_rule_*, alerts_active). */
  readonly ruleManager: RuleManagerMetrics
  /** What commerce services report to (a no-op when metrics are disabled). */
  readonly business: BusinessMetrics
  /** Hand to the database driver (undefined when metrics are disabled). */
  readonly observeQuery: DbMetrics['observeQuery']
}

/**
 * Builds a fresh registry and every feature's families in it. Nothing is global: building
 * twice in one process (tests, hot reload) gives two independent registries.
 */
export function createMetrics(options: MetricsRegistryOptions): Metrics {
  const registry = createMetricsRegistry(options)
  const db = createDbMetrics(registry)
  const business: BusinessMetrics = {
    ...createOrderMetrics(registry),
    ...createPaymentMetrics(registry),
    ...createProductMetrics(registry),
  }
  return {
    ...registry,
    http: createHttpInstruments(registry),
    db,
    alerting: createAlertingMetrics(registry),
    ruleManager: createRuleManagerMetrics(registry),
    business: registry.enabled ? business : noBusinessMetrics,
    observeQuery: db.observeQuery,
  }
}
