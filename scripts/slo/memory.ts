/**
 * `bun scripts/slo/memory.ts [rawSeries]`: the embedded store's memory for the shipped rules
 * (ops/prometheus/rules/*.yml) once every window is full: `rawSeries` series of each metric the
 * SLOs select (default 25 each: http_requests_total, the duration _count and le="0.5" bucket,
 * payments_processed_total) sampled every 15 s, the four 5m ratios recorded every 30 s for
 * 30 days, pruned with the per-selector retention. Prints the store's own accounting.
 */
import { Registry } from 'prom-client'
import { createEmbeddedEngine } from '../../src/alerting/rules/embedded.ts'
import { expandRuleFiles, loadRules } from '../../src/alerting/rules/manager.ts'

const rawPerMetric = Number(process.argv[2] ?? 25)
const engine = createEmbeddedEngine({ registry: new Registry(), intervalMs: 15_000, now: () => 0 })
loadRules(expandRuleFiles('ops/prometheus/rules/*.yml'), {
  defaultIntervalMs: 30_000,
  compile: engine.compile,
  skipReason: engine.skipReason,
  record: true,
})
const raw = [
  ...Array.from({ length: rawPerMetric }, (_, i) => ({
    __name__: 'http_requests_total',
    endpoint: `/r${i}`,
    method: 'GET',
    status: '200',
  })),
  ...Array.from({ length: rawPerMetric }, (_, i) => ({
    __name__: 'http_request_duration_seconds_count',
    endpoint: `/r${i}`,
    method: 'GET',
  })),
  ...Array.from({ length: rawPerMetric }, (_, i) => ({
    __name__: 'http_request_duration_seconds_bucket',
    endpoint: `/r${i}`,
    method: 'GET',
    le: '0.5',
  })),
  ...Array.from({ length: rawPerMetric }, (_, i) => ({
    __name__: 'payments_processed_total',
    tenant_id: `t${i}`,
    provider: 'sandbox',
    status: 'succeeded',
  })),
  // A bucket no SLO selects: kept for the 5m lookback only.
  ...Array.from({ length: rawPerMetric }, (_, i) => ({
    __name__: 'http_request_duration_seconds_bucket',
    endpoint: `/r${i}`,
    method: 'GET',
    le: '1',
  })),
]
const recorded = ['api-availability', 'api-latency', 'payment-success', 'alert-delivery'].map((slo) => ({
  __name__: 'slo:sli_error:ratio_rate5m',
  sloth_id: `convo-commerce-${slo}`,
  sloth_service: 'convo-commerce',
  sloth_slo: slo,
  sloth_window: '5m',
  team: 'shop-platform',
}))
const DAY = 86_400_000
const end = 31 * DAY
for (let t = 0; t <= end; t += 30_000) for (const labels of recorded) engine.store.append(labels, t, 0.001)
// The 1d and 3d SLIs read the counters, so they are kept for 3 days (and a minute).
for (let t = end - 73 * 3600_000; t <= end; t += 15_000)
  for (const labels of raw) engine.store.append(labels, t, t)
engine.store.prune(end)
const stats = engine.store.stats()
console.log(
  JSON.stringify({
    rawSeries: raw.length,
    recordedSeries: recorded.length,
    ...stats,
    sampleMiB: +(stats.sampleBytes / 2 ** 20).toFixed(2),
  }),
)
