/**
 * The metric families the service exposes on /metrics, as the `# TYPE` lines of a scrape.
 * This is the one list the ops tests read: every metric that a dashboard panel or an alert
 * rule selects must be here (or be one Prometheus makes itself, below), so renaming a
 * metric in the service without updating ops/ fails the tests.
 *
 * Written from the metrics contract of issue 4, plus `db_up` (background database ping,
 * added for the DatabaseDown rule) and the families later issues add. Once the metrics code
 * is merged, replace the text with the `# TYPE` lines of a real scrape of the app
 * (`curl -s localhost:3000/metrics | grep '^# TYPE'`), or build it from a scrape through
 * `app.handle` in the test.
 */
export const EXPOSED_TYPE_LINES = `
# TYPE http_requests_total counter
# TYPE http_request_duration_seconds histogram
# TYPE http_requests_in_flight gauge
# TYPE db_query_duration_seconds histogram
# TYPE db_connection_pool_size gauge
# TYPE db_up gauge
# TYPE orders_created_total counter
# TYPE payments_processed_total counter
# TYPE payment_processing_duration_seconds histogram
# TYPE product_views_total counter
# TYPE metrics_cardinality_overflow_total counter
# TYPE metrics_scrape_duration_seconds gauge
# TYPE metrics_series gauge
# TYPE process_cpu_seconds_total counter
# TYPE process_resident_memory_bytes gauge
# TYPE nodejs_eventloop_lag_seconds gauge
# TYPE whatsapp_messages_sent_total counter
# TYPE whatsapp_token_valid gauge
# TYPE alert_notifications_pending gauge
`

/** Series that Prometheus itself attaches to every scrape target. */
export const PROMETHEUS_GENERATED = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped']

/**
 * The series names a set of `# TYPE` lines allows a query to select: a histogram `x` has
 * `x_bucket`, `x_sum` and `x_count`; a summary `x` has `x`, `x_sum`, `x_count`; an
 * OpenMetrics counter family `x` is exposed as `x_total`.
 */
export function seriesNames(typeLines: string): Set<string> {
  const names = new Set<string>()
  for (const line of typeLines.split('\n')) {
    const match = /^# TYPE (\S+) (\S+)$/.exec(line.trim())
    if (!match) continue
    const [, name, type] = match as unknown as [string, string, string]
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix)
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(name + suffix)
    else if (type === 'counter' && !name.endsWith('_total')) names.add(`${name}_total`)
    else names.add(name)
  }
  return names
}

/** Every series name a dashboard or rule may select. */
export function selectableNames(): Set<string> {
  return new Set([...seriesNames(EXPOSED_TYPE_LINES), ...PROMETHEUS_GENERATED])
}
