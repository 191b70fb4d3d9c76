import type { LabelMatcher } from './ast.ts'
import { compareStrings, type Labels, labelsKey, METRIC_NAME } from './labels.ts'
import type { MatcherRegex } from './regex.ts'

/**
 * In-memory time series store for the embedded rule engine.
 *
 * Samples live in fixed-size chunks of CHUNK samples carved out of shared typed-array
 * pages: a chunk holds 32-bit timestamp offsets from its own 64-bit base time and 64-bit
 * values, so a stored sample costs 12 bytes plus its share of the chunk header and of the
 * partly filled chunks (about 14 bytes in practice; `stats()` reports the real figure).
 * Chunks freed by retention pruning go back to a free list and are reused.
 *
 * Staleness markers are stored as Prometheus does: a NaN with the payload of
 * `value.StaleNaN` (0x7ff0000000000002), written and read through a 32-bit view so the
 * payload survives (JavaScript engines may canonicalise NaNs passed as numbers).
 */

const CHUNK = 8
const PAGE_CHUNKS = 1024
const PAGE_SAMPLES = CHUNK * PAGE_CHUNKS
const MAX_OFFSET = 0x7fffffff
const STALE_HI = 0x7ff00000
const STALE_LO = 0x00000002

interface Page {
  readonly ts: Int32Array
  readonly values: Float64Array
  readonly bits: Uint32Array
  readonly base: Float64Array
  readonly len: Uint8Array
}

/** A series in the store. The engine reads it only through the store's methods. */
export interface StoredSeries {
  readonly labels: Labels
  readonly key: string
  /** Chunk ids, oldest first. */
  chunks: number[]
  /** Timestamp of the newest sample (or -Infinity). */
  lastT: number
}

export interface StoreStats {
  series: number
  samples: number
  chunksInUse: number
  /** Bytes of all sample pages allocated (in use or free for reuse). */
  sampleBytes: number
  /** sampleBytes / samples. */
  bytesPerSample: number
  /** Series refused because `maxSeries` was reached. */
  droppedSeries: number
}

export interface SampleStoreOptions {
  /** Samples older than this (relative to the time passed to `prune`) are dropped. */
  retentionMs?: number
  /**
   * Per-series retention by label set, instead of `retentionMs` for every series: a long
   * range then costs memory only for the series it selects. Asked once per series.
   */
  retentionFor?: (labels: Labels) => number
  /** New series beyond this many are refused (counted in `droppedSeries`). */
  maxSeries?: number
}

/** The read interface the ruleManager uses; the store and test doubles implement it. */
export interface Queryable {
  /** Series matching every matcher, sorted by label set. */
  select(matchers: readonly LabelMatcher[]): readonly StoredSeries[]
  /**
   * The newest sample with minT <= t <= maxT, or undefined. `out.stale` tells whether it
   * is a staleness marker.
   */
  latest(series: StoredSeries, minT: number, maxT: number, out: LatestSample): boolean
  /** Fills `out` with the non-stale samples with minT <= t <= maxT; returns how many. */
  range(series: StoredSeries, minT: number, maxT: number, out: RangeBuffer): number
}

/** Reusable, growable buffers a range selection is written into (avoids per-series allocation). */
export class RangeBuffer {
  ts = new Float64Array(128)
  vs = new Float64Array(128)
  n = 0

  push(t: number, v: number): void {
    if (this.n === this.ts.length) {
      const ts = new Float64Array(this.n * 2)
      const vs = new Float64Array(this.n * 2)
      ts.set(this.ts)
      vs.set(this.vs)
      this.ts = ts
      this.vs = vs
    }
    this.ts[this.n] = t
    this.vs[this.n] = v
    this.n++
  }
}

/** Why `SampleStore.appendSample` refused a sample: Prometheus' `storage` error text. */
export type AppendRefusal = 'out of order sample' | 'duplicate sample for timestamp'

export interface LatestSample {
  t: number
  v: number
  stale: boolean
}

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint32Array([1]).buffer)[0] === 1
}

export class SampleStore implements Queryable {
  private readonly pages: Page[] = []
  private readonly freeChunks: number[] = []
  private nextChunk = 0
  private readonly byKey = new Map<string, StoredSeries>()
  private readonly byName = new Map<string, { list: StoredSeries[]; sorted: boolean }>()
  private all: StoredSeries[] = []
  private allSorted = true
  private samples = 0
  private dropped = 0
  retentionMs: number
  private retentionPolicy: ((labels: Labels) => number) | undefined
  private readonly seriesRetention = new WeakMap<StoredSeries, number>()
  readonly maxSeries: number
  private readonly loIndex: number
  private readonly hiIndex: number

  constructor(options: SampleStoreOptions = {}) {
    this.retentionMs = options.retentionMs ?? Number.POSITIVE_INFINITY
    this.retentionPolicy = options.retentionFor
    this.maxSeries = options.maxSeries ?? 50_000
    const little = isLittleEndian()
    this.loIndex = little ? 0 : 1
    this.hiIndex = little ? 1 : 0
  }

  /** Replaces the per-series retention policy (see `SampleStoreOptions.retentionFor`). */
  set retentionFor(policy: ((labels: Labels) => number) | undefined) {
    this.retentionPolicy = policy
    for (const series of this.all) this.seriesRetention.delete(series)
  }

  private retentionOf(series: StoredSeries): number {
    if (!this.retentionPolicy) return this.retentionMs
    let ms = this.seriesRetention.get(series)
    if (ms === undefined) {
      ms = this.retentionPolicy(series.labels)
      this.seriesRetention.set(series, ms)
    }
    return ms
  }

  get seriesCount(): number {
    return this.byKey.size
  }

  getSeries(key: string): StoredSeries | undefined {
    return this.byKey.get(key)
  }

  /**
   * Appends a sample. Returns false (and stores nothing) when the timestamp is not newer
   * than the series' last sample, as Prometheus rejects out-of-order samples, or when the
   * series would exceed `maxSeries`. `key` may be passed when the caller already has
   * `labelsKey(labels)`.
   */
  append(labels: Labels, t: number, v: number, key = labelsKey(labels)): boolean {
    const series = this.seriesFor(labels, key)
    if (!series) return false
    return this.write(series, Math.round(t), v, false)
  }

  /**
   * Appends a sample as Prometheus' TSDB head appender admits one (2.42 `tsdb/head_append.go`
   * `memSeries.appendable`, no out-of-order window): a timestamp older than the series' newest
   * is refused as `out of order sample`; the newest timestamp again with another value
   * (compared as Go compares `math.Float64bits`: 0 and -0 differ, a staleness marker differs
   * from every value) as `duplicate sample for timestamp`; with the same value it is accepted
   * and stores nothing. A series refused for `maxSeries` is counted in `droppedSeries`, not
   * refused here. This is what rule output is written through; `append` stays the loaders'
   * quiet way.
   *
   * @returns the refusal in Prometheus' words (its `storage.Err…` text), or undefined when accepted
   */
  appendSample(labels: Labels, t: number, v: number, key = labelsKey(labels)): AppendRefusal | undefined {
    const series = this.seriesFor(labels, key)
    if (!series) return undefined
    const ms = Math.round(t)
    if (ms < series.lastT) return 'out of order sample'
    if (ms === series.lastT) return this.newestIs(series, v) ? undefined : 'duplicate sample for timestamp'
    this.write(series, ms, v, false)
    return undefined
  }

  /** Whether the newest stored sample is the value `v` (not a staleness marker), bit for bit but NaN. */
  private newestIs(series: StoredSeries, v: number): boolean {
    const id = series.chunks[series.chunks.length - 1]
    if (id === undefined) return false
    const page = this.pages[id >>> 10] as Page
    const slot = (id & (PAGE_CHUNKS - 1)) * CHUNK + (page.len[id & (PAGE_CHUNKS - 1)] as number) - 1
    return !this.staleAt(page, slot) && Object.is(page.values[slot], v)
  }

  /** Appends a staleness marker (Prometheus' StaleNaN) to an existing series. */
  appendStale(key: string, t: number): boolean {
    const series = this.byKey.get(key)
    if (!series) return false
    return this.write(series, Math.round(t), Number.NaN, true)
  }

  /** Whether the newest sample of the series is a staleness marker. */
  isStale(series: StoredSeries): boolean {
    const id = series.chunks[series.chunks.length - 1]
    if (id === undefined) return false
    const page = this.pages[id >>> 10] as Page
    const slot = (id & (PAGE_CHUNKS - 1)) * CHUNK + (page.len[id & (PAGE_CHUNKS - 1)] as number) - 1
    return this.staleAt(page, slot)
  }

  private seriesFor(labels: Labels, key: string): StoredSeries | undefined {
    const existing = this.byKey.get(key)
    if (existing) return existing
    if (this.byKey.size >= this.maxSeries) {
      this.dropped++
      return undefined
    }
    const series: StoredSeries = { labels, key, chunks: [], lastT: Number.NEGATIVE_INFINITY }
    this.byKey.set(key, series)
    this.all.push(series)
    this.allSorted = false
    const name = labels[METRIC_NAME] ?? ''
    let entry = this.byName.get(name)
    if (!entry) {
      entry = { list: [], sorted: true }
      this.byName.set(name, entry)
    }
    entry.list.push(series)
    entry.sorted = false
    return series
  }

  private write(series: StoredSeries, t: number, v: number, stale: boolean): boolean {
    if (t <= series.lastT) return false
    let id = series.chunks[series.chunks.length - 1]
    let page: Page
    let local: number
    if (id !== undefined) {
      page = this.pages[id >>> 10] as Page
      local = id & (PAGE_CHUNKS - 1)
      if ((page.len[local] as number) >= CHUNK || t - (page.base[local] as number) > MAX_OFFSET)
        id = undefined
    }
    if (id === undefined) {
      id = this.allocChunk()
      page = this.pages[id >>> 10] as Page
      local = id & (PAGE_CHUNKS - 1)
      page.base[local] = t
      page.len[local] = 0
      series.chunks.push(id)
    }
    page = this.pages[id >>> 10] as Page
    local = id & (PAGE_CHUNKS - 1)
    const n = page.len[local] as number
    const slot = local * CHUNK + n
    page.ts[slot] = t - (page.base[local] as number)
    if (stale) {
      page.bits[slot * 2 + this.loIndex] = STALE_LO
      page.bits[slot * 2 + this.hiIndex] = STALE_HI
    } else {
      page.values[slot] = v
    }
    page.len[local] = n + 1
    series.lastT = t
    this.samples++
    return true
  }

  private allocChunk(): number {
    const reused = this.freeChunks.pop()
    if (reused !== undefined) return reused
    const id = this.nextChunk++
    if (id >>> 10 >= this.pages.length) {
      const values = new Float64Array(PAGE_SAMPLES)
      this.pages.push({
        ts: new Int32Array(PAGE_SAMPLES),
        values,
        bits: new Uint32Array(values.buffer),
        base: new Float64Array(PAGE_CHUNKS),
        len: new Uint8Array(PAGE_CHUNKS),
      })
    }
    return id
  }

  private staleAt(page: Page, slot: number): boolean {
    return page.bits[slot * 2 + this.hiIndex] === STALE_HI && page.bits[slot * 2 + this.loIndex] === STALE_LO
  }

  /**
   * Drops whole chunks whose newest sample is older than `nowMs` minus the series' retention, and
   * series left without samples. Returns the number of samples dropped.
   */
  prune(nowMs: number): number {
    if (!this.retentionPolicy && !Number.isFinite(this.retentionMs)) return 0
    let droppedSamples = 0
    let removedSeries = false
    for (const series of this.all) {
      const cutoff = nowMs - this.retentionOf(series)
      let drop = 0
      for (const id of series.chunks) {
        const page = this.pages[id >>> 10] as Page
        const local = id & (PAGE_CHUNKS - 1)
        const n = page.len[local] as number
        const lastT = (page.base[local] as number) + (page.ts[local * CHUNK + n - 1] as number)
        if (lastT >= cutoff) break
        droppedSamples += n
        this.freeChunks.push(id)
        drop++
      }
      if (drop > 0) series.chunks.splice(0, drop)
      if (series.chunks.length === 0) {
        this.byKey.delete(series.key)
        removedSeries = true
      }
    }
    if (removedSeries) {
      this.all = this.all.filter((s) => s.chunks.length > 0)
      for (const [name, entry] of this.byName) {
        entry.list = entry.list.filter((s) => s.chunks.length > 0)
        if (entry.list.length === 0) this.byName.delete(name)
      }
    }
    this.samples -= droppedSamples
    return droppedSamples
  }

  select(matchers: readonly LabelMatcher[]): readonly StoredSeries[] {
    const nameMatcher = matchers.find((m) => m.name === METRIC_NAME && m.type === '=')
    let candidates: StoredSeries[]
    if (nameMatcher) {
      const entry = this.byName.get(nameMatcher.value)
      if (!entry) return []
      if (!entry.sorted) {
        entry.list.sort(bySeriesKey)
        entry.sorted = true
      }
      candidates = entry.list
    } else {
      if (!this.allSorted) {
        this.all.sort(bySeriesKey)
        this.allSorted = true
      }
      candidates = this.all
    }
    const rest = matchers.filter((m) => m !== nameMatcher)
    if (rest.length === 0) return candidates
    return candidates.filter((s) => matchesAll(s.labels, rest))
  }

  latest(series: StoredSeries, minT: number, maxT: number, out: LatestSample): boolean {
    const chunks = series.chunks
    for (let c = chunks.length - 1; c >= 0; c--) {
      const id = chunks[c] as number
      const page = this.pages[id >>> 10] as Page
      const local = id & (PAGE_CHUNKS - 1)
      const base = page.base[local] as number
      if (base > maxT) continue
      const first = local * CHUNK
      for (let slot = first + (page.len[local] as number) - 1; slot >= first; slot--) {
        const t = base + (page.ts[slot] as number)
        if (t > maxT) continue
        if (t < minT) return false
        out.t = t
        out.stale = this.staleAt(page, slot)
        out.v = page.values[slot] as number
        return true
      }
      return false
    }
    return false
  }

  range(series: StoredSeries, minT: number, maxT: number, out: RangeBuffer): number {
    out.n = 0
    for (const id of series.chunks) {
      const page = this.pages[id >>> 10] as Page
      const local = id & (PAGE_CHUNKS - 1)
      const base = page.base[local] as number
      if (base > maxT) break
      const first = local * CHUNK
      const end = first + (page.len[local] as number)
      if (base + (page.ts[end - 1] as number) < minT) continue
      const tsArr = page.ts
      const values = page.values
      for (let slot = first; slot < end; slot++) {
        const t = base + (tsArr[slot] as number)
        if (t < minT) continue
        if (t > maxT) break
        const v = values[slot] as number
        // Only a NaN can be a staleness marker; skip the bit test for ordinary values.
        if (Number.isNaN(v) && this.staleAt(page, slot)) continue
        out.push(t, v)
      }
    }
    return out.n
  }

  stats(): StoreStats {
    const sampleBytes = this.pages.length * (PAGE_SAMPLES * 12 + PAGE_CHUNKS * 9)
    return {
      series: this.byKey.size,
      samples: this.samples,
      chunksInUse: this.nextChunk - this.freeChunks.length,
      sampleBytes,
      bytesPerSample: this.samples === 0 ? 0 : sampleBytes / this.samples,
      droppedSeries: this.dropped,
    }
  }
}

function bySeriesKey(a: StoredSeries, b: StoredSeries): number {
  return compareStrings(a.key, b.key)
}

/** Whether a label set satisfies one matcher (a missing label has the value ""). */
export function matches(labels: Labels, m: LabelMatcher): boolean {
  const value = labels[m.name] ?? ''
  switch (m.type) {
    case '=':
      return value === m.value
    case '!=':
      return value !== m.value
    case '=~':
      return (m.regex as MatcherRegex).test(value)
    case '!~':
      return !(m.regex as MatcherRegex).test(value)
  }
}

export function matchesAll(labels: Labels, matchers: readonly LabelMatcher[]): boolean {
  for (const m of matchers) if (!matches(labels, m)) return false
  return true
}
