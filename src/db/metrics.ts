import { Gauge, Histogram, type HistogramSeries } from '../observability/instruments.ts'
import type { MetricsRegistry } from '../observability/metrics.ts'
import type { QueryInfo, QueryObserver } from './query-timing.ts'

export const DB_DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
] as const

/** The database families: statement timing, pool size and the background ping's verdict. */
export interface DbMetrics {
  /** `db_query_duration_seconds{operation,table}`, in seconds. */
  queryDuration: Histogram<'operation' | 'table'>
  /** `db_connection_pool_size`: connections the driver may open (1 for the embedded database). */
  poolSize: Gauge
  /** `db_up`: 1 while the background ping reaches the database, 0 when it does not. */
  up: Gauge
  /** Hand to the database driver; undefined when metrics are disabled (no timing at all). */
  observeQuery: QueryObserver | undefined
}

/** Builds and registers the database families; built before the database opens (it times every statement). */
export function createDbMetrics(metrics: MetricsRegistry): DbMetrics {
  const queryDuration = metrics.register(
    new Histogram({
      name: 'db_query_duration_seconds',
      help: 'Database statement duration, by operation and table.',
      labelNames: ['operation', 'table'],
      buckets: DB_DURATION_BUCKETS,
      ...metrics.budget('db_query_duration_seconds'),
    }),
  )
  // The classifier hands out one QueryInfo per statement text, so its series is resolved once
  // (a label join and a map lookup per statement otherwise). Past the budget the lookup is
  // repeated, so that the overflow counter counts each folded recording.
  const seriesOf = new WeakMap<QueryInfo, HistogramSeries>()
  const observeQuery: QueryObserver = (query: QueryInfo, seconds: number) => {
    let series = seriesOf.get(query)
    if (series === undefined) {
      series = queryDuration.labels(query.operation, query.table)
      if (!queryDuration.isOverflow(series)) seriesOf.set(query, series)
    }
    series.observe(seconds)
  }
  return {
    queryDuration,
    poolSize: metrics.register(
      new Gauge({
        name: 'db_connection_pool_size',
        help: 'Connections the database driver may open (the pool size; 1 for the embedded database).',
      }),
    ),
    up: metrics.register(
      new Gauge({
        name: 'db_up',
        help: '1 when the last background ping (SELECT 1) of the database succeeded, 0 when it failed.',
      }),
    ),
    observeQuery: metrics.enabled ? observeQuery : undefined,
  }
}
