/**
 * The metrics registry every feature registers its families in: one prom-client Registry per
 * app, the series budgets (`__overflow__` + `metrics_cardinality_overflow_total`), build and
 * runtime info, prom-client's process collectors, and the render behind `/metrics` with its
 * self-metrics. It knows no feature: each feature builds its own families from the registry
 * it is given (as Prometheus' `rules` and `notifier` packages do); `src/metrics.ts` assembles
 * the service's whole set. Dashboards and alert rules depend on the names; change them only
 * together with `ops/`.
 */
import { collectDefaultMetrics, type Metric, Registry } from 'prom-client'
import type { Logger } from '../core/logger.ts'
import { type AnyFamily, CONTENT_TYPES, joinExposition, renderFamilies } from './exposition.ts'
import { Counter, type ExpositionFormat, Gauge, Histogram, type OverflowListener } from './instruments.ts'
import { DEFAULT_SERIES_LIMITS, type LabelledMetricName } from './series-limits.ts'

export { DEFAULT_SERIES_LIMITS, type LabelledMetricName }

/** Buckets for short internal operations (a render, a rule group evaluation), in seconds. */
export const SCRAPE_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] as const

/** prom-client default collectors that are stubs on Bun (see README, "Metrics"). */
const BUN_STUB_METRICS = [
  // process._getActiveHandles/_getActiveRequests/getActiveResourcesInfo return nothing on Bun,
  // and the *_total gauges also fail promtool's lint (a gauge must not end in _total).
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_requests',
  'nodejs_active_requests_total',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
  // JavaScriptCore emits no `gc` performance entries, so this histogram would stay empty.
  'nodejs_gc_duration_seconds',
]

/**
 * prom-client families whose values Bun makes up. Bun's `v8.getHeapSpaceStatistics()` lists
 * V8's 13 spaces but fills only `old_space` (with JavaScriptCore's heap capacity and size, which
 * `nodejs_heap_size_*_bytes` already carry) and reports 0 for the 12 others, so a per-space
 * panel would show a heap that has no new space, code or large objects. Node's values are real,
 * and Deno's throws so prom-client registers none: only Bun loses them.
 */
const BUN_FABRICATED_METRICS = [
  'nodejs_heap_space_size_total_bytes',
  'nodejs_heap_space_size_used_bytes',
  'nodejs_heap_space_size_available_bytes',
]

export interface BuildInfo {
  /** The service's version (package.json). */
  version: string
  /** Source revision the service was built from. */
  commit: string
  /** The runtime that serves the service (bun, deno, node), its version and revision. */
  runtime: string
  runtimeVersion: string
  runtimeRevision: string
}

export interface MetricsRegistryOptions {
  log: Logger
  /** false turns request, database and business instrumentation off; /metrics still serves. */
  enabled?: boolean
  seriesLimits?: Partial<Record<LabelledMetricName, number>>
  /** prom-client's process and runtime collectors (default true). */
  processMetrics?: boolean
  build?: Partial<BuildInfo>
  /** Monotonic milliseconds (for scrape durations). */
  now?: () => number
  /** Wall-clock milliseconds since the epoch, for exemplar timestamps (default `Date.now`). */
  clock?: () => number
}

/** The series budget a labelled family is built with: its cap and who hears of an overflow. */
export interface SeriesBudget {
  maxSeries: number
  onOverflow: OverflowListener
}

/** What a feature gets to build its metric families with. */
export interface MetricsRegistry {
  /** false when METRICS_ENABLED=false: features then report to no-op implementations. */
  readonly enabled: boolean
  /** The app's own prom-client registry; every family is registered in it. */
  readonly registry: Registry
  /** Registers a family (ours or prom-client's) and returns it. Throws on a duplicate name. */
  register<F extends { name: string }>(family: F): F
  /** The cap (METRICS_SERIES_LIMITS or the default) and overflow listener for a labelled family. */
  budget(name: LabelledMetricName): SeriesBudget
  /** Wall-clock milliseconds: hand it as `clock` to families that record exemplars. */
  readonly clock: () => number
  /**
   * Renders every family in one exposition format. Scrapes that overlap share one render
   * per format, so a burst of scrapes costs one render.
   */
  render(format?: ExpositionFormat): Promise<string>
  contentType(format: ExpositionFormat): string
}

/**
 * Builds a fresh registry with the service-wide families (build and runtime info, process
 * collectors, the overflow counter and the scrape self-metrics). Nothing is global: building
 * twice in one process (tests, hot reload) gives two independent registries.
 */
export function createMetricsRegistry(options: MetricsRegistryOptions): MetricsRegistry {
  const enabled = options.enabled ?? true
  const now = options.now ?? (() => performance.now())
  const limits = { ...DEFAULT_SERIES_LIMITS, ...options.seriesLimits }
  const registry = new Registry()
  const register = <F extends { name: string }>(family: F): F => {
    registry.registerMetric(family as unknown as Metric)
    return family
  }

  const warned = new Set<string>()
  // Defined first because every other family reports its overflow to it; rendered last.
  const overflow = new Counter<'metric'>({
    name: 'metrics_cardinality_overflow_total',
    help: "Recordings folded into a metric's __overflow__ series because the metric reached its series limit.",
    labelNames: ['metric'],
    maxSeries: limits.metrics_cardinality_overflow_total,
  })
  const onOverflow = (metric: string) => {
    overflow.labels(metric).inc()
    if (warned.has(metric)) return
    warned.add(metric)
    options.log.warn(
      { metric, maxSeries: limits[metric as LabelledMetricName] },
      'metric reached its series limit; new label sets are counted in its __overflow__ series',
    )
  }
  const budget = (name: LabelledMetricName): SeriesBudget => {
    // Exported at 0 from the start: a counter series born at 1 has no increase() in
    // Prometheus, so MetricsCardinalityOverflow would miss a family's first overflow.
    overflow.labels(name)
    return { maxSeries: limits[name], onOverflow }
  }

  const build = resolveBuildInfo(options.build)
  registerBuildInfo(register, build)
  if (options.processMetrics ?? true) {
    collectDefaultMetrics({ register: registry })
    for (const name of BUN_STUB_METRICS) registry.removeSingleMetric(name)
    if (build.runtime === 'bun') for (const name of BUN_FABRICATED_METRICS) registry.removeSingleMetric(name)
  }

  const scrapeDuration = new Histogram({
    name: 'metrics_scrape_duration_seconds',
    help: 'Time to render /metrics (the current scrape is counted in the next one).',
    buckets: SCRAPE_DURATION_BUCKETS,
  })
  const series = new Gauge<'metric'>({
    name: 'metrics_series',
    help: 'Time series exposed per metric family at the last scrape (a histogram label set counts once per bucket plus _sum and _count).',
    labelNames: ['metric'],
    ...budget('metrics_series'),
  })
  const selfFamilies = [overflow, scrapeDuration, series]
  const selfNames = new Set<string>(selfFamilies.map((family) => family.name))
  for (const family of selfFamilies) register(family)

  async function renderNow(format: ExpositionFormat): Promise<string> {
    const start = now()
    const families = registry.getMetricsAsArray() as unknown as AnyFamily[]
    const main = families.filter((family) => !selfNames.has(family.name))
    const rendered = await renderFamilies(main, format)
    for (const family of rendered) series.labels(family.name).set(family.samples)
    series.labels(overflow.name).set(overflow.seriesCount())
    series.labels(scrapeDuration.name).set(SCRAPE_DURATION_BUCKETS.length + 3)
    const own = series.labels(series.name)
    own.set(series.seriesCount())
    const self = await renderFamilies(selfFamilies, format)
    const text = joinExposition([...rendered, ...self], format)
    scrapeDuration.unlabelled.observe((now() - start) / 1000)
    return text
  }

  const pending = new Map<ExpositionFormat, Promise<string>>()
  return {
    enabled,
    registry,
    register,
    budget,
    clock: options.clock ?? Date.now,
    render(format = 'prometheus') {
      const running = pending.get(format)
      if (running) return running
      const render = renderNow(format).finally(() => pending.delete(format))
      pending.set(format, render)
      return render
    },
    contentType: (format) => CONTENT_TYPES[format],
  }
}

/** The build as given, its gaps filled from `process.versions` (tests pass no runtime). */
function resolveBuildInfo(info: Partial<BuildInfo> | undefined): BuildInfo {
  return {
    version: info?.version ?? 'unknown',
    commit: info?.commit ?? 'unknown',
    runtime: info?.runtime ?? (process.versions.bun ? 'bun' : 'node'),
    runtimeVersion: info?.runtimeVersion ?? process.versions.bun ?? process.versions.node ?? 'unknown',
    runtimeRevision: info?.runtimeRevision ?? 'unknown',
  }
}

/** `app_build_info`, `runtime_info` and, on Bun, `bun_version_info`: always 1, the labels tell. */
function registerBuildInfo(register: MetricsRegistry['register'], build: BuildInfo) {
  register(
    new Gauge<'version' | 'commit'>({
      name: 'app_build_info',
      help: 'Always 1; the labels say which build of the service is running.',
      labelNames: ['version', 'commit'],
    }),
  ).set({ version: build.version, commit: build.commit }, 1)
  register(
    new Gauge<'runtime' | 'version'>({
      name: 'runtime_info',
      help: 'Always 1; the labels say which runtime (bun, deno, node) serves the service, and its version.',
      labelNames: ['runtime', 'version'],
    }),
  ).set({ runtime: build.runtime, version: build.runtimeVersion }, 1)
  if (build.runtime === 'bun') {
    register(
      new Gauge<'version' | 'revision'>({
        name: 'bun_version_info',
        help: 'Always 1; the labels say which Bun runs the service (nodejs_version_info shows the Node.js API level Bun emulates).',
        labelNames: ['version', 'revision'],
      }),
    ).set({ version: build.runtimeVersion, revision: build.runtimeRevision }, 1)
  }
}
