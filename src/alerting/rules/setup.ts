import type { Config } from '../../config.ts'
import type { Clock } from '../../core/clock.ts'
import type { Logger } from '../../core/logger.ts'
import type { Database } from '../../db/client.ts'
import type { HttpClient } from '../../http/outbound.ts'
import type { QuerySource } from '../../prometheus/promql/query-source.ts'
import type { Notifier } from '../notify/dispatcher.ts'
import { createEvaluator, type EvaluatorMetrics, expandRuleFiles, loadRules } from './manager.ts'
import { createPrometheusSource } from './prometheus-source.ts'

export interface EvaluatorSetupDeps {
  config: Config
  db: Database
  http: HttpClient
  clock: Clock
  log: Logger
  notifier: Notifier
  metrics?: EvaluatorMetrics
  /** The embedded engine, used when PROMETHEUS_URL is unset. */
  embedded?: {
    source: QuerySource
    compile: (expr: string) => void
    skipReason: (expr: string) => string | undefined
  }
}

/**
 * Builds the evaluator for this deployment: Prometheus' HTTP API when PROMETHEUS_URL is set,
 * the embedded engine otherwise. Loads and checks the rule files (a bad file throws, naming
 * the file, group and rule). Returns undefined when there is no query source.
 */
export function setupEvaluator(deps: EvaluatorSetupDeps) {
  const alerts = deps.config.alerts
  const log = deps.log.child({ component: 'evaluator' })
  const remote = alerts.prometheusUrl
    ? createPrometheusSource(
        { url: alerts.prometheusUrl, bearerToken: alerts.prometheusToken, timeoutMs: alerts.queryTimeoutMs },
        deps.http,
      )
    : undefined
  const source = remote ?? deps.embedded?.source
  if (!source) return undefined
  const groups = loadRules(expandRuleFiles(alerts.ruleFiles), {
    defaultIntervalMs: alerts.evalIntervalMs,
    compile: remote ? undefined : deps.embedded?.compile,
    skipReason: remote ? undefined : deps.embedded?.skipReason,
    log,
  })
  log.info(
    {
      source: remote ? 'prometheus' : 'embedded',
      groups: groups.map((g) => g.group.name),
      rules: groups.reduce((n, g) => n + g.rules.length, 0),
    },
    'alert rules loaded',
  )
  return createEvaluator({
    db: deps.db,
    groups,
    source,
    notifier: deps.notifier,
    clock: deps.clock,
    log,
    metrics: deps.metrics,
  })
}
