/**
 * Counters, gauges and histograms with a cardinality budget and a cheap hot path.
 *
 * prom-client 15 hashes and validates the label object on every `inc`/`observe`, even on the
 * "child" returned by `labels()` (about 0.4 µs for one request's counter + histogram + gauge).
 * These instruments resolve a label set once into a series object that callers may keep, so
 * recording is a field increment. They register into the app's prom-client Registry (they
 * implement the `get()` shape prom-client's Registry reads), so prom-client's own collectors
 * and these families live in one registry and render together.
 */

export type ExpositionFormat = 'prometheus' | 'openmetrics'

/** One sample as prom-client's `get()` reports it. */
export interface PromSample {
  value: number
  labels: Record<string, string | number>
  metricName?: string
}

/** What prom-client's Registry reads from a registered metric. */
export interface PromMetricData {
  name: string
  help: string
  type: string
  aggregator: string
  values: PromSample[]
}

/** Label value every label of a family's overflow series carries. */
export const OVERFLOW_LABEL_VALUE = '__overflow__'

/** Told when a label set was folded into the overflow series because the family is at its cap. */
export type OverflowListener = (metric: string) => void

const SEPARATOR = '\u0001'

/** Escapes a label value for both exposition formats. */
export function escapeLabelValue(value: string): string {
  return /[\\\n"]/.test(value)
    ? value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
    : value
}

/** A sample value as both text formats spell it. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Number.POSITIVE_INFINITY) return '+Inf'
  if (value === Number.NEGATIVE_INFINITY) return '-Inf'
  return `${value}`
}

function labelText(names: readonly string[], values: readonly string[]): string {
  let text = ''
  for (let i = 0; i < names.length; i++) {
    if (i > 0) text += ','
    text += `${names[i]}="${escapeLabelValue(values[i]!)}"`
  }
  return text
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

export interface FamilyConfig<L extends string> {
  name: string
  help: string
  labelNames?: readonly L[]
  /** Most distinct label sets kept; past it, new label sets fold into one overflow series. */
  maxSeries?: number
  onOverflow?: OverflowListener
}

/** What every family offers the exposition code. */
export interface RenderableFamily {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'gauge' | 'histogram'
  /** Appends this family's sample lines (no HELP/TYPE) and returns how many were written. */
  renderSamples(format: ExpositionFormat): { text: string; samples: number }
}

type Labels<L extends string> = Record<L, string>

abstract class Family<L extends string, S extends { labels: readonly string[]; text: string }>
  implements RenderableFamily
{
  abstract readonly type: 'counter' | 'gauge' | 'histogram'
  readonly name: string
  readonly help: string
  readonly labelNames: readonly L[]
  readonly maxSeries: number
  readonly aggregator = 'sum' as const
  protected readonly series = new Map<string, S>()
  private overflowSeries: S | undefined
  private readonly onOverflow: OverflowListener | undefined
  /** The series of a family without labels (set by `initSingle`). */
  protected single: S | undefined

  constructor(config: FamilyConfig<L>) {
    if (!METRIC_NAME.test(config.name)) throw new Error(`invalid metric name ${config.name}`)
    const labelNames = config.labelNames ?? []
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith('__') || label === 'le') {
        throw new Error(`invalid label name ${label} on ${config.name}`)
      }
    }
    this.name = config.name
    this.help = config.help
    this.labelNames = labelNames
    this.maxSeries = config.maxSeries ?? Number.POSITIVE_INFINITY
    this.onOverflow = config.onOverflow
  }

  /** Subclasses call this last in their constructor: createSeries may need their own fields. */
  protected initSingle() {
    if (this.labelNames.length > 0) return
    this.single = this.createSeries([], '')
    this.series.set('', this.single)
  }

  protected abstract createSeries(labels: readonly string[], text: string): S

  /**
   * The series of one label set, in `labelNames` order. Within the budget a new label set
   * gets its own series; past it, the overflow series (every label `__overflow__`) is
   * returned and the overflow listener is told. Keep the result to record repeatedly.
   */
  resolve(values: readonly string[]): S {
    if (values.length !== this.labelNames.length) {
      throw new Error(`${this.name} takes ${this.labelNames.length} label values, got ${values.length}`)
    }
    const key = values.length === 1 ? values[0]! : values.join(SEPARATOR)
    const existing = this.series.get(key)
    if (existing) return existing
    if (this.series.size < this.maxSeries) {
      const created = this.createSeries([...values], labelText(this.labelNames, values))
      this.series.set(key, created)
      return created
    }
    this.onOverflow?.(this.name)
    if (!this.overflowSeries) {
      const overflow = this.labelNames.map(() => OVERFLOW_LABEL_VALUE)
      this.overflowSeries = this.createSeries(overflow, labelText(this.labelNames, overflow))
    }
    return this.overflowSeries
  }

  /** The series of a label object (convenience for low-rate callers). */
  protected seriesOf(labels: Labels<L> | undefined): S {
    if (this.single) return this.single
    if (!labels) throw new Error(`${this.name} needs labels ${this.labelNames.join(', ')}`)
    return this.resolve(this.labelNames.map((name) => labels[name]))
  }

  /** The one series of a family without labels. */
  get unlabelled(): S {
    if (!this.single) throw new Error(`${this.name} has labels`)
    return this.single
  }

  /** True for the series that collects label sets past the budget. */
  isOverflow(series: S): boolean {
    return series === this.overflowSeries
  }

  /** Every series, the overflow one last. */
  protected allSeries(): S[] {
    const all = [...this.series.values()]
    if (this.overflowSeries) all.push(this.overflowSeries)
    return all
  }

  /** Number of label sets currently exported (the overflow series included). */
  seriesCount(): number {
    return this.series.size + (this.overflowSeries ? 1 : 0)
  }

  protected labelsObject(values: readonly string[]): Record<string, string> {
    const labels: Record<string, string> = {}
    for (let i = 0; i < this.labelNames.length; i++) labels[this.labelNames[i]!] = values[i]!
    return labels
  }

  abstract renderSamples(format: ExpositionFormat): { text: string; samples: number }
  abstract get(): Promise<PromMetricData>
  /** Sets every value back to zero, keeping the series (references callers hold stay valid). */
  abstract reset(): void
}

export interface CounterSeries {
  readonly labels: readonly string[]
  readonly text: string
  value: number
  inc(by?: number): void
}

class CounterSeriesImpl implements CounterSeries {
  value = 0
  constructor(
    readonly labels: readonly string[],
    readonly text: string,
  ) {}
  inc(by = 1) {
    if (!(by >= 0)) throw new Error(`counter increment must be >= 0, got ${by}`)
    this.value += by
  }
}

/** Counters and gauges: families whose series each hold one value. */
abstract class ValueFamily<
  L extends string,
  S extends { labels: readonly string[]; text: string; value: number },
> extends Family<L, S> {
  /** Refreshes values that are read rather than recorded (gauges); called before each read. */
  protected refresh(): void {}

  async get() {
    this.refresh()
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.allSeries().map((s) => ({ labels: this.labelsObject(s.labels), value: s.value })),
    }
  }

  reset() {
    for (const s of this.allSeries()) s.value = 0
  }
}

export class Counter<L extends string = never> extends ValueFamily<L, CounterSeries> {
  readonly type = 'counter' as const

  constructor(config: FamilyConfig<L>) {
    if (!config.name.endsWith('_total')) throw new Error(`counter ${config.name} must end in _total`)
    super(config)
    this.initSingle()
  }

  protected createSeries(labels: readonly string[], text: string): CounterSeries {
    return new CounterSeriesImpl(labels, text)
  }

  /** The series for these label values (in `labelNames` order), within the budget. */
  labels(...values: string[]): CounterSeries {
    return this.resolve(values)
  }

  inc(labels?: Labels<L>, by = 1) {
    this.seriesOf(labels).inc(by)
  }

  // Counter samples carry the _total name in both formats (OpenMetrics drops it from the
  // family name only, which the exposition code handles).
  renderSamples(_format: ExpositionFormat) {
    let text = ''
    const all = this.allSeries()
    for (const s of all) {
      text += s.text === '' ? this.name : `${this.name}{${s.text}}`
      text += ` ${formatValue(s.value)}\n`
    }
    return { text, samples: all.length }
  }
}

export interface GaugeSeries {
  readonly labels: readonly string[]
  readonly text: string
  value: number
  set(value: number): void
  inc(by?: number): void
  dec(by?: number): void
}

class GaugeSeriesImpl implements GaugeSeries {
  value = 0
  constructor(
    readonly labels: readonly string[],
    readonly text: string,
  ) {}
  set(value: number) {
    this.value = value
  }
  inc(by = 1) {
    this.value += by
  }
  dec(by = 1) {
    this.value -= by
  }
}

export interface GaugeConfig<L extends string> extends FamilyConfig<L> {
  /** Called before each render, to refresh values that are read rather than recorded. */
  collect?: () => void
}

export class Gauge<L extends string = never> extends ValueFamily<L, GaugeSeries> {
  readonly type = 'gauge' as const
  private readonly collect: (() => void) | undefined

  constructor(config: GaugeConfig<L>) {
    super(config)
    this.collect = config.collect
    this.initSingle()
  }

  protected createSeries(labels: readonly string[], text: string): GaugeSeries {
    return new GaugeSeriesImpl(labels, text)
  }

  labels(...values: string[]): GaugeSeries {
    return this.resolve(values)
  }

  set(labels: Labels<L> | undefined, value: number) {
    this.seriesOf(labels).set(value)
  }

  renderSamples(_format: ExpositionFormat) {
    this.collect?.()
    let text = ''
    const all = this.allSeries()
    for (const s of all) {
      text += s.text === '' ? this.name : `${this.name}{${s.text}}`
      text += ` ${formatValue(s.value)}\n`
    }
    return { text, samples: all.length }
  }

  protected override refresh() {
    this.collect?.()
  }
}

export interface HistogramSeries {
  readonly labels: readonly string[]
  readonly text: string
  /** Observations per bucket, not cumulative; the last slot counts values above every bound. */
  readonly counts: Float64Array
  sum: number
  count: number
  observe(value: number): void
}

class HistogramSeriesImpl implements HistogramSeries {
  readonly counts: Float64Array
  sum = 0
  count = 0
  constructor(
    readonly labels: readonly string[],
    readonly text: string,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1)
  }
  observe(value: number) {
    if (!Number.isFinite(value)) throw new Error(`histogram observation must be finite, got ${value}`)
    const bounds = this.bounds
    let i = 0
    while (i < bounds.length && value > bounds[i]!) i++
    this.counts[i]!++
    this.sum += value
    this.count++
  }
}

export interface HistogramConfig<L extends string> extends FamilyConfig<L> {
  buckets: readonly number[]
}

export class Histogram<L extends string = never> extends Family<L, HistogramSeries> {
  readonly type = 'histogram' as const
  readonly buckets: readonly number[]
  private readonly leText: readonly string[]

  constructor(config: HistogramConfig<L>) {
    const buckets = [...config.buckets]
    for (let i = 0; i < buckets.length; i++) {
      if (!Number.isFinite(buckets[i]!) || (i > 0 && buckets[i]! <= buckets[i - 1]!)) {
        throw new Error(`buckets of ${config.name} must be finite and increasing`)
      }
    }
    super(config)
    this.buckets = buckets
    this.leText = [...buckets.map((b) => `le="${formatValue(b)}"`), 'le="+Inf"']
    this.initSingle()
  }

  protected createSeries(labels: readonly string[], text: string): HistogramSeries {
    return new HistogramSeriesImpl(labels, text, this.buckets)
  }

  labels(...values: string[]): HistogramSeries {
    return this.resolve(values)
  }

  observe(labels: Labels<L> | undefined, value: number) {
    this.seriesOf(labels).observe(value)
  }

  renderSamples(_format: ExpositionFormat) {
    const bucket = `${this.name}_bucket{`
    const sumName = `${this.name}_sum`
    const countName = `${this.name}_count`
    let text = ''
    let samples = 0
    for (const s of this.allSeries()) {
      const prefix = s.text === '' ? bucket : `${bucket}${s.text},`
      let cumulative = 0
      for (let i = 0; i < this.leText.length; i++) {
        cumulative += s.counts[i]!
        text += `${prefix}${this.leText[i]}} ${cumulative}\n`
      }
      const suffix = s.text === '' ? '' : `{${s.text}}`
      text += `${sumName}${suffix} ${formatValue(s.sum)}\n${countName}${suffix} ${s.count}\n`
      samples += this.leText.length + 2
    }
    return { text, samples }
  }

  async get() {
    const values: PromSample[] = []
    for (const s of this.allSeries()) {
      const labels = this.labelsObject(s.labels)
      let cumulative = 0
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += s.counts[i]!
        const le = i < this.buckets.length ? this.buckets[i]! : '+Inf'
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: cumulative })
      }
      values.push({ metricName: `${this.name}_sum`, labels, value: s.sum })
      values.push({ metricName: `${this.name}_count`, labels, value: s.count })
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: this.aggregator, values }
  }

  reset() {
    for (const s of this.allSeries()) {
      s.counts.fill(0)
      s.sum = 0
      s.count = 0
    }
  }
}
