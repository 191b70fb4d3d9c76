/**
 * Most distinct label sets per labelled metric. Past the cap a metric folds new label sets
 * into one `__overflow__` series. Route templates, statuses and SQL tables are bounded by
 * code, so the HTTP and database caps are a backstop; tenant and product labels grow with
 * the business, so theirs are sized for it.
 */
export const DEFAULT_SERIES_LIMITS = {
  http_requests_total: 500,
  http_request_duration_seconds: 200,
  db_query_duration_seconds: 100,
  orders_created_total: 5000,
  payments_processed_total: 5000,
  payment_processing_duration_seconds: 50,
  payments_refund_required_total: 50,
  payment_webhook_reports_total: 100,
  product_views_total: 10000,
  whatsapp_messages_sent_total: 10,
  whatsapp_earlier_attempt_statuses_total: 10,
  alertmanager_alerts_resolved_unlisted_total: 10,
  alert_rule_evaluations_total: 100,
  alert_rule_evaluation_failures_total: 100,
  alert_rule_evaluation_duration_seconds: 100,
  alert_rule_group_iterations_missed_total: 100,
  alert_rule_group_iterations_total: 100,
  alert_rule_group_interval_seconds: 100,
  alert_rule_group_last_evaluation_timestamp_seconds: 100,
  alert_rule_group_last_duration_seconds: 100,
  alert_rule_group_rules: 100,
  alert_rule_group_last_evaluation_samples: 100,
  alert_rule_group_leader: 100,
  alerts_active: 500,
  metrics_cardinality_overflow_total: 100,
  metrics_series: 500,
} as const

export type LabelledMetricName = keyof typeof DEFAULT_SERIES_LIMITS

export const LABELLED_METRIC_NAMES = Object.keys(DEFAULT_SERIES_LIMITS) as LabelledMetricName[]

/**
 * Parses `name=limit,name=limit` (METRICS_SERIES_LIMITS). Throws an Error whose message
 * names the problem when a name is not a labelled metric or a limit is not a positive integer.
 */
export function parseSeriesLimits(text: string): Partial<Record<LabelledMetricName, number>> {
  const limits: Partial<Record<LabelledMetricName, number>> = {}
  for (const entry of text.split(',')) {
    const [name, value] = entry.split('=').map((part) => part.trim())
    if (!name || !(LABELLED_METRIC_NAMES as string[]).includes(name)) {
      throw new Error(
        `unknown metric ${JSON.stringify(name ?? '')} (one of ${LABELLED_METRIC_NAMES.join(', ')})`,
      )
    }
    const limit = Number(value)
    if (!value || !/^\d+$/.test(value) || limit < 1) {
      throw new Error(`limit of ${name} must be a positive integer, got ${JSON.stringify(value ?? '')}`)
    }
    limits[name as LabelledMetricName] = limit
  }
  return limits
}
