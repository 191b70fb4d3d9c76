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

/**
 * An OpenMetrics exemplar: a reference from a sample to one observation outside the metric
 * set (here, the trace of the request that made it), as OpenMetrics 1.0 "Exemplars" defines.
 */
export interface Exemplar {
  /** The exemplar's own label set (`trace_id`, `request_id`), not the series' labels. */
  labels: Record<string, string>
  /** The observed value (seconds for a histogram) or, on a counter, the increment. */
  value: number
  /** Wall-clock milliseconds since the Unix epoch when the observation was recorded. */
  timestampMs: number
}

/** One sample as prom-client's `get()` reports it. */
export interface PromSample {
  value: number
  labels: Record<string, string | number>
  metricName?: string
  /**
   * The latest exemplar of this sample: on histogram `_bucket` samples (the last observation
   * that landed in that bucket) and on counter samples recorded with one. The rule engine's
   * sampler reads it through `registry.getMetricsAsJSON()`.
   */
  exemplar?: Exemplar
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

/**
 * OpenMetrics 1.0, "Exemplars": "The combined length of the label names and values of an
 * Exemplar's LabelSet MUST NOT exceed 128 UTF-8 characters" — counted in code points, the
 * quotes, commas and `=` of the text rendering excluded (Prometheus'
 * `exemplar.ExemplarMaxLabelSetLength`, client_golang's `ExemplarMaxRunes`).
 */
export const EXEMPLAR_MAX_LABEL_SET_LENGTH = 128

declare const exemplarLabelsBrand: unique symbol
/**
 * An exemplar label set already checked against OpenMetrics' rules (label names, the 128
 * code point limit): recording trusts it, so the check is paid where the set is made.
 */
export type ExemplarLabels = Readonly<Record<string, string>> & { readonly [exemplarLabelsBrand]: true }

/** Code points of a string (UTF-16 surrogate pairs count once). */
function codePoints(text: string): number {
  let n = 0
  for (const _ of text) n++
  return n
}

/**
 * Checks an exemplar label set against OpenMetrics' rules and returns it for recording,
 * without the labels whose value is empty: Prometheus' parser drops those (an empty label
 * value is no label), so a scrape stores `{trace_id=""}` as `{}`, and they do not count
 * towards the limit there either. Throws RangeError on an invalid label name or when the
 * names and values together exceed EXEMPLAR_MAX_LABEL_SET_LENGTH code points
 * (client_golang's `newExemplar` returns the same errors, and its `ObserveWithExemplar`
 * panics on them).
 */
export function exemplarLabels(labels: Record<string, string>): ExemplarLabels {
  const kept: Record<string, string> = {}
  let length = 0
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name)) throw new RangeError(`invalid exemplar label name ${JSON.stringify(name)}`)
    if (value === '') continue
    // As exposed: a lone surrogate goes out as U+FFFD (see Family.resolve).
    kept[name] = value.toWellFormed()
    // Label names are ASCII; a value's UTF-16 length bounds its code points from above.
    length += name.length + value.length
  }
  if (length > EXEMPLAR_MAX_LABEL_SET_LENGTH) {
    length = 0
    for (const [name, value] of Object.entries(kept)) length += name.length + codePoints(value)
    if (length > EXEMPLAR_MAX_LABEL_SET_LENGTH) {
      throw new RangeError(
        `exemplar labels are ${length} characters, over OpenMetrics' limit of ${EXEMPLAR_MAX_LABEL_SET_LENGTH}`,
      )
    }
  }
  return kept as ExemplarLabels
}

/**
 * The exemplar labels of a traced request: `trace_id` (W3C Trace Context's trace-id) and
 * `request_id`, each left out when empty. A request id too long to fit the 128 code points
 * beside the trace id is left out (the trace id is what links to the trace); a trace id that
 * cannot fit alone gives undefined. Lengths are UTF-16 units, an upper bound on code points, so the check is two
 * additions: both ids are ASCII in practice (32 hex digits; SAFE_REQUEST_ID).
 */
export function traceExemplar(traceId: string, requestId?: string): ExemplarLabels | undefined {
  // An empty id is no label to Prometheus (see exemplarLabels): leave it out here as well.
  const request = requestId === '' ? undefined : requestId
  if (traceId === '') {
    const fits = request !== undefined && 10 + request.length <= EXEMPLAR_MAX_LABEL_SET_LENGTH
    return (fits ? { request_id: request } : {}) as unknown as ExemplarLabels
  }
  // The label names count towards the limit: 'trace_id' is 8 characters, 'request_id' 10.
  const traced = 8 + traceId.length
  if (traced > EXEMPLAR_MAX_LABEL_SET_LENGTH) return undefined
  if (request !== undefined && traced + 10 + request.length <= EXEMPLAR_MAX_LABEL_SET_LENGTH) {
    return { trace_id: traceId, request_id: request } as unknown as ExemplarLabels
  }
  return { trace_id: traceId } as unknown as ExemplarLabels
}

/**
 * The exemplar part of an OpenMetrics sample line, after the value:
 * ` # {trace_id="…",request_id="…"} 0.067 1700000000.123` (the timestamp in seconds).
 */
export function exemplarText(
  labels: Readonly<Record<string, string>>,
  value: number,
  timestampMs: number,
): string {
  let text = ' # {'
  let first = true
  for (const name in labels) {
    text += `${first ? '' : ','}${name}="${escapeLabelValue(labels[name]!)}"`
    first = false
  }
  return `${text}} ${formatValue(value)} ${formatValue(timestampMs / 1000)}`
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
  /** Wall-clock milliseconds since the epoch, for exemplar timestamps (default `Date.now`). */
  clock?: () => number
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
  /** Wall-clock milliseconds, stamped on exemplars. */
  protected readonly clock: () => number

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
    this.clock = config.clock ?? Date.now
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
   * returned and the overflow listener is told. The overflow label set itself always
   * resolves to the overflow series, without telling the listener (nothing was folded), and
   * a value with a lone UTF-16 surrogate to the series of its U+FFFD spelling.
   * Keep the result to record repeatedly.
   */
  resolve(values: readonly string[]): S {
    if (values.length !== this.labelNames.length) {
      throw new Error(`${this.name} takes ${this.labelNames.length} label values, got ${values.length}`)
    }
    const key = values.length === 1 ? values[0]! : values.join(SEPARATOR)
    const existing = this.series.get(key)
    if (existing) return existing
    // A label set that spells the overflow series (every value `__overflow__`, e.g. a
    // product id a client chose) is that series: as a series of its own it would be exposed
    // twice once the family overflows, and Prometheus keeps only the first of two samples
    // with one label set, silently dropping the other's counts.
    if (values.length > 0 && values.every((value) => value === OVERFLOW_LABEL_VALUE)) {
      return this.overflow()
    }
    // A lone UTF-16 surrogate cannot be written as UTF-8: the response carries U+FFFD in its
    // place, so 'a\uD800' and 'a\uDC00' would reach Prometheus as one label set, twice.
    // Such values resolve to the series of their well-formed spelling, as exposed.
    if (!values.every((value) => value.isWellFormed())) {
      return this.resolve(values.map((value) => value.toWellFormed()))
    }
    if (this.series.size < this.maxSeries) {
      const created = this.createSeries([...values], labelText(this.labelNames, values))
      this.series.set(key, created)
      return created
    }
    this.onOverflow?.(this.name)
    return this.overflow()
  }

  private overflow(): S {
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
  /**
   * Adds `by` and makes it the series' exemplar (replacing the previous one), stamped with
   * the family's clock: client_golang's `Counter.AddWithExemplar`, whose exemplar value is
   * the increment. Throws like `inc` on a negative increment.
   */
  incWithExemplar(by: number, labels: ExemplarLabels): void
  /** The latest exemplar's labels, undefined until one is recorded. */
  readonly exemplarLabels: ExemplarLabels | undefined
  /** The latest exemplar's value (the increment). */
  readonly exemplarValue: number
  /** When the latest exemplar was recorded, wall-clock milliseconds. */
  readonly exemplarTimestampMs: number
}

class CounterSeriesImpl implements CounterSeries {
  value = 0
  // Three fields rather than an Exemplar object: recording one allocates nothing.
  exemplarLabels: ExemplarLabels | undefined = undefined
  exemplarValue = 0
  exemplarTimestampMs = 0
  constructor(
    readonly labels: readonly string[],
    readonly text: string,
    private readonly clock: () => number,
  ) {}
  inc(by = 1) {
    if (!(by >= 0)) throw new Error(`counter increment must be >= 0, got ${by}`)
    this.value += by
  }
  incWithExemplar(by: number, labels: ExemplarLabels) {
    this.inc(by)
    this.exemplarLabels = labels
    this.exemplarValue = by
    this.exemplarTimestampMs = this.clock()
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
      values: this.allSeries().map((s) => this.sample(s)),
    }
  }

  /** One series as a `get()` sample. */
  protected sample(s: S): PromSample {
    return { labels: this.labelsObject(s.labels), value: s.value }
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
    return new CounterSeriesImpl(labels, text, this.clock)
  }

  protected override sample(s: CounterSeries): PromSample {
    const sample: PromSample = { labels: this.labelsObject(s.labels), value: s.value }
    if (s.exemplarLabels) {
      sample.exemplar = {
        labels: { ...s.exemplarLabels },
        value: s.exemplarValue,
        timestampMs: s.exemplarTimestampMs,
      }
    }
    return sample
  }

  /** Zeroes every value and forgets the exemplars (they referred to what was counted). */
  override reset() {
    for (const s of this.allSeries() as CounterSeriesImpl[]) {
      s.value = 0
      s.exemplarLabels = undefined
    }
  }

  /** The series for these label values (in `labelNames` order), within the budget. */
  labels(...values: string[]): CounterSeries {
    return this.resolve(values)
  }

  inc(labels?: Labels<L>, by = 1) {
    this.seriesOf(labels).inc(by)
  }

  // Counter samples carry the _total name in both formats (OpenMetrics drops it from the
  // family name only, which the exposition code handles). Exemplars only in OpenMetrics:
  // text format 0.0.4 has no syntax for them.
  renderSamples(format: ExpositionFormat) {
    const exemplars = format === 'openmetrics'
    let text = ''
    const all = this.allSeries()
    for (const s of all) {
      text += s.text === '' ? this.name : `${this.name}{${s.text}}`
      text += ` ${formatValue(s.value)}`
      if (exemplars && s.exemplarLabels) {
        text += exemplarText(s.exemplarLabels, s.exemplarValue, s.exemplarTimestampMs)
      }
      text += '\n'
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
  /**
   * Observes `value` and makes it the exemplar of the bucket it lands in — the lowest `le`
   * that is >= value, +Inf above every bound — replacing that bucket's previous exemplar,
   * stamped with the family's clock. As client_golang's `ObserveWithExemplar` (histogram.go:
   * `findBucket` then `updateExemplar`): each bucket keeps the latest observation that fell
   * in it, not in a lower bucket, so a cumulative `le` line's exemplar is a value of its own
   * range. Throws like `observe` on a value that is not finite.
   *
   * @returns the exemplar's timestamp, wall-clock milliseconds, for a caller that needs the
   *   time as well (the access line of the same request: one clock reading for both).
   */
  observeWithExemplar(value: number, labels: ExemplarLabels): number
  /**
   * Per bucket (index as `counts`): the latest exemplar's labels; undefined until the series
   * records its first exemplar, so histograms without exemplars carry no arrays.
   */
  readonly exemplarLabels: Array<ExemplarLabels | undefined> | undefined
  /** Per bucket: the latest exemplar's observed value. */
  readonly exemplarValues: Float64Array | undefined
  /** Per bucket: when the latest exemplar was recorded, wall-clock milliseconds. */
  readonly exemplarTimestampsMs: Float64Array | undefined
}

class HistogramSeriesImpl implements HistogramSeries {
  readonly counts: Float64Array
  sum = 0
  count = 0
  exemplarLabels: Array<ExemplarLabels | undefined> | undefined = undefined
  exemplarValues: Float64Array | undefined = undefined
  exemplarTimestampsMs: Float64Array | undefined = undefined
  constructor(
    readonly labels: readonly string[],
    readonly text: string,
    private readonly bounds: readonly number[],
    private readonly clock: () => number,
  ) {
    this.counts = new Float64Array(bounds.length + 1)
  }
  /** Counts `value` in its bucket and returns the bucket's index. */
  private countIn(value: number): number {
    if (!Number.isFinite(value)) throw new Error(`histogram observation must be finite, got ${value}`)
    const bounds = this.bounds
    let i = 0
    while (i < bounds.length && value > bounds[i]!) i++
    this.counts[i]!++
    this.sum += value
    this.count++
    return i
  }
  observe(value: number) {
    this.countIn(value)
  }
  observeWithExemplar(value: number, labels: ExemplarLabels) {
    const i = this.countIn(value)
    if (this.exemplarLabels === undefined) {
      const n = this.counts.length
      this.exemplarLabels = new Array<ExemplarLabels | undefined>(n).fill(undefined)
      this.exemplarValues = new Float64Array(n)
      this.exemplarTimestampsMs = new Float64Array(n)
    }
    const timestampMs = this.clock()
    this.exemplarLabels[i] = labels
    this.exemplarValues![i] = value
    this.exemplarTimestampsMs![i] = timestampMs
    return timestampMs
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
    return new HistogramSeriesImpl(labels, text, this.buckets, this.clock)
  }

  labels(...values: string[]): HistogramSeries {
    return this.resolve(values)
  }

  observe(labels: Labels<L> | undefined, value: number) {
    this.seriesOf(labels).observe(value)
  }

  // Exemplars only in OpenMetrics, on the _bucket lines: text format 0.0.4 has no syntax for them.
  renderSamples(format: ExpositionFormat) {
    const withExemplars = format === 'openmetrics'
    const bucket = `${this.name}_bucket{`
    const sumName = `${this.name}_sum`
    const countName = `${this.name}_count`
    let text = ''
    let samples = 0
    for (const s of this.allSeries()) {
      const prefix = s.text === '' ? bucket : `${bucket}${s.text},`
      const exemplars = withExemplars ? s.exemplarLabels : undefined
      let cumulative = 0
      for (let i = 0; i < this.leText.length; i++) {
        cumulative += s.counts[i]!
        text += `${prefix}${this.leText[i]}} ${cumulative}`
        const labels = exemplars?.[i]
        if (labels) text += exemplarText(labels, s.exemplarValues![i]!, s.exemplarTimestampsMs![i]!)
        text += '\n'
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
        const sample: PromSample = {
          metricName: `${this.name}_bucket`,
          labels: { ...labels, le },
          value: cumulative,
        }
        const exemplar = s.exemplarLabels?.[i]
        if (exemplar) {
          sample.exemplar = {
            labels: { ...exemplar },
            value: s.exemplarValues![i]!,
            timestampMs: s.exemplarTimestampsMs![i]!,
          }
        }
        values.push(sample)
      }
      values.push({ metricName: `${this.name}_sum`, labels, value: s.sum })
      values.push({ metricName: `${this.name}_count`, labels, value: s.count })
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: this.aggregator, values }
  }

  /** Zeroes every bucket and forgets the exemplars (they referred to what was counted). */
  reset() {
    for (const s of this.allSeries() as HistogramSeriesImpl[]) {
      s.counts.fill(0)
      s.sum = 0
      s.count = 0
      s.exemplarLabels?.fill(undefined)
    }
  }
}
