import { type Config, DEFAULT_RUNBOOK_BASE_URL } from '../../config.ts'
import type { Clock } from '../../core/clock.ts'
import type { Logger } from '../../core/logger.ts'
import type { Database } from '../../db/client.ts'
import type { HttpClient } from '../../http/outbound.ts'
import type { QuerySource } from '../../prometheus/promql/query-source.ts'
import type { Dispatcher } from '../notify/dispatcher.ts'
import { createRuleManager, expandRuleFiles, loadRules, type RuleManagerMetrics } from './manager.ts'
import { createPrometheusSource } from './prometheus-source.ts'

export interface RuleManagerSetupDeps {
  config: Config
  db: Database
  http: HttpClient
  clock: Clock
  log: Logger
  dispatcher: Dispatcher
  metrics?: RuleManagerMetrics
  /** The embedded engine, used when PROMETHEUS_URL is unset. */
  embedded?: {
    source: QuerySource
    compile: (expr: string) => void
    skipReason: (expr: string) => string | undefined
  }
}

/**
 * A rule's `runbook_url` as this deployment publishes its runbooks: a URL under the default
 * base (the repository's docs path, which the shipped rule files use) moves to `base`
 * (RUNBOOK_BASE_URL); any other value is the rule author's choice and stays.
 */
export function rebaseRunbookUrl(url: string, base: string, defaultBase = DEFAULT_RUNBOOK_BASE_URL): string {
  return url.startsWith(defaultBase) ? base + url.slice(defaultBase.length) : url
}

/**
 * Builds the ruleManager for this deployment: Prometheus' HTTP API when PROMETHEUS_URL is set,
 * the embedded engine otherwise. Loads and checks the rule files (a bad file throws, naming
 * the file, group and rule). Returns undefined when there is no query source.
 */
export function setupRuleManager(deps: RuleManagerSetupDeps) {
  const alerts = deps.config.alerts
  const log = deps.log.child({ component: 'rule-manager' })
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
  for (const loaded of groups) {
    for (const { rule } of loaded.rules) {
      const url = rule.annotations.runbook_url
      if (url !== undefined) rule.annotations.runbook_url = rebaseRunbookUrl(url, alerts.runbookBaseUrl)
    }
  }
  log.info(
    {
      source: remote ? 'prometheus' : 'embedded',
      groups: groups.map((g) => g.group.name),
      rules: groups.reduce((n, g) => n + g.rules.length, 0),
    },
    'alert rules loaded',
  )
  return createRuleManager({
    db: deps.db,
    groups,
    source,
    dispatcher: deps.dispatcher,
    clock: deps.clock,
    log,
    metrics: deps.metrics,
  })
}
