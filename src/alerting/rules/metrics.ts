import { Counter, Gauge, Histogram } from '../../observability/instruments.ts'
import { type MetricsRegistry, SCRAPE_DURATION_BUCKETS } from '../../observability/metrics.ts'
import type { RuleManagerMetrics } from './manager.ts'

/** Builds and registers the rule manager's families (alert_rule_*, alert_rule_group_*, alerts_active). */
export function createRuleManagerMetrics(metrics: MetricsRegistry): RuleManagerMetrics {
  const ruleEvaluations = metrics.register(
    new Counter<'rule_group'>({
      name: 'alert_rule_evaluations_total',
      help: "Rule evaluations (each recording and alerting rule of a group's evaluation) by the rule manager, by rule group, as Prometheus' prometheus_rule_evaluations_total.",
      labelNames: ['rule_group'],
      ...metrics.budget('alert_rule_evaluations_total'),
    }),
  )
  const ruleFailures = metrics.register(
    new Counter<'rule_group'>({
      name: 'alert_rule_evaluation_failures_total',
      help: "Rule evaluations that failed (query error, duplicate label sets), by rule group, as Prometheus' prometheus_rule_evaluation_failures_total.",
      labelNames: ['rule_group'],
      ...metrics.budget('alert_rule_evaluation_failures_total'),
    }),
  )
  const groupDuration = metrics.register(
    new Histogram<'rule_group'>({
      name: 'alert_rule_evaluation_duration_seconds',
      help: 'Duration of one evaluation of a rule group (all its rules).',
      labelNames: ['rule_group'],
      buckets: SCRAPE_DURATION_BUCKETS,
      ...metrics.budget('alert_rule_evaluation_duration_seconds'),
    }),
  )
  const alertsActive = metrics.register(
    new Gauge<'alertname' | 'state'>({
      name: 'alerts_active',
      help: 'Alerts of the scheduled evaluator by name and state (pending, firing, inactive = resolved, kept 15 minutes).',
      labelNames: ['alertname', 'state'],
      ...metrics.budget('alerts_active'),
    }),
  )
  const iterationsMissed = metrics.register(
    new Counter<'rule_group'>({
      name: 'alert_rule_group_iterations_missed_total',
      help: "Evaluation slots of a rule group skipped because the evaluation before overran them, as Prometheus' prometheus_rule_group_iterations_missed_total.",
      labelNames: ['rule_group'],
      ...metrics.budget('alert_rule_group_iterations_missed_total'),
    }),
  )
  const iterations = metrics.register(
    new Counter<'rule_group'>({
      name: 'alert_rule_group_iterations_total',
      help: "Evaluation slots of a rule group, evaluated or missed, as Prometheus' prometheus_rule_group_iterations_total.",
      labelNames: ['rule_group'],
      ...metrics.budget('alert_rule_group_iterations_total'),
    }),
  )
  const activeSeen = new Set<string>()
  return {
    ruleEvaluated: (group, failed) => {
      ruleEvaluations.labels(group).inc()
      if (failed) ruleFailures.labels(group).inc()
    },
    groupDuration: (group, seconds) => groupDuration.labels(group).observe(seconds),
    groupScheduled: (group) => {
      iterationsMissed.labels(group)
      iterations.labels(group)
    },
    groupIteration: (group, missed) => {
      if (missed > 0) iterationsMissed.labels(group).inc(missed)
      iterations.labels(group).inc(missed + 1)
    },
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
}
