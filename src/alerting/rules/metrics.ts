import { Counter, Gauge, Histogram } from '../../observability/instruments.ts'
import type { MetricsRegistry } from '../../observability/metrics.ts'
import type { LabelledMetricName } from '../../observability/series-limits.ts'
import type { RuleManagerMetrics } from './manager.ts'

/**
 * Buckets (seconds) of alert_rule_evaluation_duration_seconds: a group's rules on a Prometheus
 * source are a query each over HTTP, so an evaluation may take seconds, and intervals go up to
 * minutes; the scrape buckets stopped at 1 s, where a 5 s evaluation read as `+Inf`.
 */
export const RULE_EVALUATION_DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
] as const

/**
 * Builds and registers the rule manager's families (alert_rule_*, alert_rule_group_*,
 * alerts_active): Prometheus' rules/group.go `NewGroupMetrics` under the `alert_rule_` prefix,
 * each labelled `rule_group` with the group's key (see LoadedGroup.key).
 */
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
      buckets: RULE_EVALUATION_DURATION_BUCKETS,
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
  // The rule_group_* gauges of Prometheus' rules/group.go NewGroupMetrics, under our prefix.
  const gauge = (name: LabelledMetricName, help: string) =>
    metrics.register(
      new Gauge<'rule_group'>({ name, help, labelNames: ['rule_group'], ...metrics.budget(name) }),
    )
  const groupInterval = gauge(
    'alert_rule_group_interval_seconds',
    "The interval of a rule group, as Prometheus' prometheus_rule_group_interval_seconds.",
  )
  const groupLastEvaluation = gauge(
    'alert_rule_group_last_evaluation_timestamp_seconds',
    "When the last evaluation of a rule group started (Unix seconds, wall clock), as Prometheus' prometheus_rule_group_last_evaluation_timestamp_seconds; 0 before the first, and where alert_rule_group_leader is 0.",
  )
  const groupLastDuration = gauge(
    'alert_rule_group_last_duration_seconds',
    "The duration of the last evaluation of a rule group, as Prometheus' prometheus_rule_group_last_duration_seconds; 0 where alert_rule_group_leader is 0.",
  )
  const groupRules = gauge(
    'alert_rule_group_rules',
    "The number of rules of a rule group, as Prometheus' prometheus_rule_group_rules.",
  )
  const groupSamples = gauge(
    'alert_rule_group_last_evaluation_samples',
    "The number of samples the rules of a rule group returned at its last evaluation, as Prometheus' prometheus_rule_group_last_evaluation_samples; 0 where alert_rule_group_leader is 0.",
  )
  const groupLeader = gauge(
    'alert_rule_group_leader',
    "1 when this replica evaluated the rule group at its last tick (it held the group's lock, or the group has no alerting rule, which every replica evaluates), 0 when another replica held the lock or before the first tick; the alert_rule_group_last_* gauges are 0 where this is 0.",
  )
  const activeSeen = new Set<string>()
  return {
    ruleEvaluated: (group, failed) => {
      ruleEvaluations.labels(group).inc()
      if (failed) ruleFailures.labels(group).inc()
    },
    groupEvaluated: (group, evaluation) => {
      groupDuration.labels(group).observe(evaluation.seconds)
      groupLastDuration.labels(group).set(evaluation.seconds)
      groupLastEvaluation.labels(group).set(evaluation.startedAtMs / 1000)
      groupSamples.labels(group).set(evaluation.samples)
      groupLeader.labels(group).set(1)
    },
    groupNotLed: (group) => {
      // Prometheus has one evaluator per group; here the replica that did not evaluate goes
      // back to NewGroup's zeros, so `max by (rule_group)` and `sum by (rule_group)` across
      // replicas read the leader's evaluation, not one this replica made before it lost the
      // lock (a stale timestamp, a doubled sample count).
      groupLastEvaluation.labels(group).set(0)
      groupLastDuration.labels(group).set(0)
      groupSamples.labels(group).set(0)
      groupLeader.labels(group).set(0)
    },
    groupScheduled: (group, intervalSeconds, rules) => {
      // rules/group.go NewGroup creates the evaluation counters at 0 too: without them the
      // first failure of a process in a group is no increase() for AlertRuleEvaluationFailures.
      ruleEvaluations.labels(group)
      ruleFailures.labels(group)
      iterationsMissed.labels(group)
      iterations.labels(group)
      groupInterval.labels(group).set(intervalSeconds)
      groupRules.labels(group).set(rules)
      // At 0 until the first evaluation, as NewGroup creates them.
      groupLastEvaluation.labels(group)
      groupLastDuration.labels(group)
      groupSamples.labels(group)
      groupLeader.labels(group)
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
