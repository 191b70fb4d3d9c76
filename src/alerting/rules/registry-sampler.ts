import type { Registry } from 'prom-client'
import { type Labels, labelsFrom, labelsKey, METRIC_NAME } from '../../prometheus/promql/labels.ts'
import type { SampleStore } from '../../prometheus/promql/store.ts'
import type { ExemplarStore } from './exemplars.ts'

/** One value as prom-client's `getMetricsAsJSON()` reports it. */
interface JsonValue {
  value: number
  labels?: Record<string, string | number | undefined>
  sharedLabels?: Record<string, string | number | undefined>
  metricName?: string
  /** The OpenMetrics exemplar of this sample (our instruments' PromSample), if any. */
  exemplar?: { labels?: Record<string, string | number>; value: number; timestampMs: number }
}

interface JsonMetric {
  name: string
  values?: JsonValue[]
}

/**
 * Reads a prom-client registry's current values into a SampleStore at one timestamp, the
 * way a Prometheus scrape of the registry's text exposition would store them: histogram
 * values become `<name>_bucket{le}`, `<name>_sum` and `<name>_count`, counters keep their
 * registered name (already `*_total`), label values are stringified as the exposition
 * prints them, and labels with empty values do not exist. A series that was present in
 * the previous scrape and is missing now gets a staleness marker, as Prometheus does.
 * With an ExemplarStore, the latest exemplar of each series is kept there too (and forgotten
 * with the series), as Prometheus stores the exemplars a scrape exposes.
 */
export class RegistryScraper {
  private previous = new Set<string>()
  /**
   * Label sets and keys by a cheap identity of the registry value (name and label values in
   * the registry's own order), so steady-state scrapes neither sort labels nor build keys.
   */
  private identities = new Map<string, { labels: Labels; key: string }>()

  constructor(
    private readonly store: SampleStore,
    private readonly registry: Registry,
    private readonly exemplars?: ExemplarStore,
  ) {}

  /** Scrapes once at `tMs`; returns the number of samples appended. */
  async scrape(tMs: number): Promise<number> {
    const metrics = (await this.registry.getMetricsAsJSON()) as unknown as JsonMetric[]
    const current = new Set<string>()
    const identities = new Map<string, { labels: Labels; key: string }>()
    let appended = 0
    for (const metric of metrics) {
      for (const value of metric.values ?? []) {
        const id = rawIdentity(metric.name, value)
        let identity = this.identities.get(id) ?? identities.get(id)
        if (!identity) {
          const labels = seriesLabels(metric.name, value)
          identity = { labels, key: labelsKey(labels) }
        }
        identities.set(id, identity)
        // Two registry values mapping to one series: the exposition would repeat the line
        // and Prometheus would keep the first ("duplicate sample" for the others).
        if (current.has(identity.key)) continue
        current.add(identity.key)
        if (this.store.append(identity.labels, tMs, value.value, identity.key)) appended++
        if (value.exemplar && this.exemplars) {
          this.exemplars.observe(identity.key, identity.labels, exemplarOf(value.exemplar))
        }
      }
    }
    for (const key of this.previous) {
      if (!current.has(key)) {
        this.store.appendStale(key, tMs)
        this.exemplars?.forget(key)
      }
    }
    this.previous = current
    this.identities = identities
    return appended
  }

  /** Marks every series of the last scrape stale (the target went away). */
  markAllStale(tMs: number): void {
    for (const key of this.previous) {
      this.store.appendStale(key, tMs)
      this.exemplars?.forget(key)
    }
    this.previous = new Set()
  }
}

function exemplarOf(exemplar: NonNullable<JsonValue['exemplar']>) {
  const labels: Record<string, string> = {}
  for (const [name, v] of Object.entries(exemplar.labels ?? {})) labels[name] = String(v)
  return { labels, value: exemplar.value, timestampMs: exemplar.timestampMs }
}

function rawIdentity(metricName: string, value: JsonValue): string {
  let id = value.metricName ?? metricName
  for (const name in value.labels) id += `\u0000${name}\u0001${value.labels[name]}`
  id += '\u0002'
  for (const name in value.sharedLabels) id += `\u0000${name}\u0001${value.sharedLabels[name]}`
  return id
}

function seriesLabels(metricName: string, value: JsonValue): Labels {
  const record: Record<string, string> = {}
  for (const [name, v] of Object.entries(value.labels ?? {})) record[name] = String(v)
  for (const [name, v] of Object.entries(value.sharedLabels ?? {})) record[name] = String(v)
  record[METRIC_NAME] = value.metricName ?? metricName
  return labelsFrom(record)
}

export interface RegistrySamplerOptions {
  store: SampleStore
  registry: Registry
  /** How often to sample (issue 9: ALERT_SAMPLE_INTERVAL, default 15 s). */
  intervalMs: number
  /** Wall-clock milliseconds; injected so tests control time. */
  now: () => number
  /** Called when a scrape fails; sampling goes on. */
  onError?: (err: unknown) => void
  /** Keeps the latest exemplar of each sampled series (the alerts' examples). */
  exemplars?: ExemplarStore
}

/**
 * Samples a registry into the store on a fixed interval, pruning by the store's retention
 * after each scrape. Runtime-agnostic (plain timers); `stop()` marks the series stale, as
 * Prometheus does when a target disappears.
 */
export class RegistrySampler {
  private readonly scraper: RegistryScraper
  private timer: ReturnType<typeof setInterval> | undefined
  private running: Promise<number> | undefined

  constructor(private readonly options: RegistrySamplerOptions) {
    this.scraper = new RegistryScraper(options.store, options.registry, options.exemplars)
  }

  /** One scrape and prune now; concurrent calls share the scrape in flight. */
  sampleOnce(): Promise<number> {
    if (this.running) return this.running
    const t = this.options.now()
    this.running = this.scraper
      .scrape(t)
      .then((n) => {
        this.options.store.prune(t)
        return n
      })
      .finally(() => {
        this.running = undefined
      })
    return this.running
  }

  start(): void {
    if (this.timer) return
    const tick = () => {
      this.sampleOnce().catch((err) => this.options.onError?.(err))
    }
    tick()
    this.timer = setInterval(tick, this.options.intervalMs)
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    this.scraper.markAllStale(this.options.now())
  }
}
