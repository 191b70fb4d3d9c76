import { type Config, DEFAULT_RUNBOOK_BASE_URL } from '../../config.ts'
import type { Clock } from '../../core/clock.ts'
import type { Logger } from '../../core/logger.ts'
import type { Database } from '../../db/client.ts'
import type { HttpClient } from '../../http/outbound.ts'
import type { QuerySource } from '../../prometheus/promql/query-source.ts'
import type { Dispatcher } from '../notify/dispatcher.ts'
import { createPrometheusExemplarSource, type ExemplarSource } from './exemplars.ts'
import {
  createRuleManager,
  expandRuleFiles,
  loadRules,
  type RuleManagerDeps,
  type RuleManagerMetrics,
  type RuleRecorder,
} from './manager.ts'
import { createPrometheusSource } from './prometheus-source.ts'
import { createReplicaWatch, type ReplicaWatch } from './replicas.ts'

export interface RuleManagerSetupDeps {
  config: Pick<Config, 'alerts'>
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
    /**
     * Where recording rules write, and alerting rules their ALERTS and ALERTS_FOR_STATE (the
     * embedded store); Prometheus writes both itself.
     */
    recorder: RuleRecorder
    /** The template function `query` (see RuleManagerDeps.templateQuery). */
    templateQuery?: RuleManagerDeps['templateQuery']
    /** The latest exemplar of each sampled series: the alerts' example requests. */
    exemplars?: ExemplarSource
  }
}

/**
 * The most an alert's example lookup at Prometheus may take (or PROMETHEUS_QUERY_TIMEOUT
 * when shorter): it runs inside the group's evaluation, and the alert matters more.
 */
export const EXAMPLE_TIMEOUT_MS = 3000

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
 * With the embedded engine, the manager carries a replica watch (`replicas`) that counts the
 * replicas sharing the database, warns when there is more than one, and feeds rule health;
 * its timer starts and stops with the manager.
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
  const exemplars = alerts.prometheusUrl
    ? createPrometheusExemplarSource(
        {
          url: alerts.prometheusUrl,
          bearerToken: alerts.prometheusToken,
          timeoutMs: Math.min(alerts.queryTimeoutMs, EXAMPLE_TIMEOUT_MS),
        },
        deps.http,
      )
    : deps.embedded?.exemplars
  // Prometheus loads nothing from a rule_files glob that matches nothing, silently; here the
  // variable is usually the default or one edit away from it, and a typo (or a working
  // directory other than the repository's) would leave the service with no alerts unnoticed.
  for (const pattern of alerts.ruleFiles.split(',').map((p) => p.trim())) {
    if (pattern !== '' && expandRuleFiles(pattern).length === 0) {
      log.warn(
        { pattern, cwd: process.cwd() },
        'ALERT_RULES_FILES: a pattern matches no file, so no rules load from it; check the path (relative to the working directory)',
      )
    }
  }
  const groups = loadRules(expandRuleFiles(alerts.ruleFiles), {
    defaultIntervalMs: alerts.evalIntervalMs,
    compile: remote ? undefined : deps.embedded?.compile,
    skipReason: remote ? undefined : deps.embedded?.skipReason,
    record: !remote,
    log,
  })
  for (const loaded of groups) {
    for (const { rule } of loaded.rules) {
      if (rule.type !== 'alerting') continue
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
  const manager = createRuleManager({
    db: deps.db,
    groups,
    source,
    recorder: remote ? undefined : deps.embedded?.recorder,
    templateQuery: remote ? undefined : deps.embedded?.templateQuery,
    dispatcher: deps.dispatcher,
    clock: deps.clock,
    log,
    metrics: deps.metrics,
    examples: exemplars ? { source: exemplars, traceBaseUrl: alerts.traceBaseUrl } : undefined,
    orphanSweepIntervalMs: alerts.evalIntervalMs,
  })
  const replicas: ReplicaWatch | undefined = remote
    ? undefined
    : createReplicaWatch({ db: deps.db, log, intervalMs: alerts.evalIntervalMs })
  const { start, stop } = manager
  return Object.assign(manager, {
    replicas,
    start() {
      start()
      replicas?.start()
    },
    async stop() {
      replicas?.stop()
      await stop()
    },
  })
}
