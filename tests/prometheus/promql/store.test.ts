import { describe, expect, test } from 'bun:test'
import { CompiledQuery, evaluateInstant } from '../../../src/prometheus/promql/engine.ts'
import { labelsFrom, labelsKey } from '../../../src/prometheus/promql/labels.ts'
import { type LatestSample, RangeBuffer, SampleStore } from '../../../src/prometheus/promql/store.ts'

const cpu = labelsFrom({ __name__: 'cpu', core: '0' })
const matchAll = [{ name: '__name__', type: '=' as const, value: 'cpu' }]

function rangeOf(store: SampleStore, minT: number, maxT: number): [number, number][] {
  const [series] = store.select(matchAll)
  if (!series) return []
  const buf = new RangeBuffer()
  const n = store.range(series, minT, maxT, buf)
  return Array.from({ length: n }, (_, i) => [buf.ts[i] as number, buf.vs[i] as number])
}

describe('SampleStore', () => {
  test('keeps samples in time order and refuses out-of-order and duplicate timestamps', () => {
    const store = new SampleStore()
    expect(store.append(cpu, 1000, 1)).toBe(true)
    expect(store.append(cpu, 2000, 2)).toBe(true)
    expect(store.append(cpu, 2000, 3)).toBe(false)
    expect(store.append(cpu, 1500, 3)).toBe(false)
    expect(rangeOf(store, 0, 10_000)).toEqual([
      [1000, 1],
      [2000, 2],
    ])
    expect(store.stats().samples).toBe(2)
  })

  test('appendSample refuses as the TSDB head appender does, in its words', () => {
    const store = new SampleStore()
    expect(store.appendSample(cpu, 1000, 1)).toBeUndefined()
    expect(store.appendSample(cpu, 2000, 0)).toBeUndefined()
    // The newest timestamp again: the same value is accepted (and not stored twice) ...
    expect(store.appendSample(cpu, 2000, 0)).toBeUndefined()
    // ... another value, -0 included (Go compares math.Float64bits), is a duplicate.
    expect(store.appendSample(cpu, 2000, -0)).toBe('duplicate sample for timestamp')
    expect(store.appendSample(cpu, 2000, 5)).toBe('duplicate sample for timestamp')
    expect(store.appendSample(cpu, 1500, 5)).toBe('out of order sample')
    store.appendStale(labelsKey(cpu), 3000)
    expect(store.appendSample(cpu, 3000, Number.NaN)).toBe('duplicate sample for timestamp')
    const nan = labelsFrom({ __name__: 'cpu', core: '1' })
    store.appendSample(nan, 1000, Number.NaN)
    expect(store.appendSample(nan, 1000, Number.NaN)).toBeUndefined()
    expect(rangeOf(store, 0, 10_000)).toEqual([
      [1000, 1],
      [2000, 0],
    ])
    expect(store.stats().samples).toBe(4)
  })

  test('range selection includes both boundaries and spans chunks', () => {
    const store = new SampleStore()
    for (let i = 0; i < 30; i++) store.append(cpu, i * 15_000, i)
    expect(rangeOf(store, 60_000, 150_000).map(([, v]) => v)).toEqual([4, 5, 6, 7, 8, 9, 10])
  })

  test('a staleness marker is Prometheus’ StaleNaN, distinct from a NaN value', () => {
    const store = new SampleStore()
    store.append(cpu, 1000, Number.NaN)
    const series = store.getSeries(labelsKey(cpu))
    if (!series) throw new Error('series missing')
    const out: LatestSample = { t: 0, v: 0, stale: false }
    expect(store.latest(series, 0, 1000, out)).toBe(true)
    expect(out.stale).toBe(false)
    expect(Number.isNaN(out.v)).toBe(true)
    expect(store.isStale(series)).toBe(false)

    store.appendStale(series.key, 2000)
    expect(store.isStale(series)).toBe(true)
    expect(store.latest(series, 0, 2000, out)).toBe(true)
    expect(out).toEqual({ t: 2000, v: Number.NaN, stale: true })
    // Ranges skip staleness markers but keep NaN values.
    expect(rangeOf(store, 0, 5000)).toEqual([[1000, Number.NaN]])
  })

  test('an instant selector sees the newest sample within the 5m lookback, unless it is stale', () => {
    const store = new SampleStore()
    store.append(cpu, 0, 7)
    const q = new CompiledQuery('cpu')
    expect(evaluateInstant(q, store, 300_000)).toEqual({
      resultType: 'vector',
      samples: [{ labels: cpu, value: 7 }],
    })
    expect(evaluateInstant(q, store, 300_001)).toEqual({ resultType: 'vector', samples: [] })
    store.appendStale(labelsKey(cpu), 60_000)
    expect(evaluateInstant(q, store, 60_000)).toEqual({ resultType: 'vector', samples: [] })
    expect(evaluateInstant(q, store, 59_999)).toEqual({
      resultType: 'vector',
      samples: [{ labels: cpu, value: 7 }],
    })
  })

  test('prune drops whole chunks older than the retention, and series left empty', () => {
    const store = new SampleStore({ retentionMs: 5 * 60_000 })
    const gone = labelsFrom({ __name__: 'cpu', core: '1' })
    store.append(gone, 0, 1)
    for (let i = 0; i <= 80; i++) store.append(cpu, i * 15_000, i)
    expect(store.stats().samples).toBe(82)
    // Cutoff 15m: chunks of 8 samples whose newest sample is older than 900s go.
    expect(store.prune(20 * 60_000)).toBe(57)
    expect(store.stats()).toMatchObject({ series: 1, samples: 25 })
    expect(rangeOf(store, 0, 20 * 60_000)[0]).toEqual([840_000, 56])
    expect(store.select([{ name: 'core', type: '=', value: '1' }])).toEqual([])
  })

  test('memory stays bounded under continuous scraping, at under 16 bytes per sample', () => {
    const store = new SampleStore({ retentionMs: 16 * 60_000 + 60_000 })
    const series = Array.from({ length: 1000 }, (_, i) => labelsFrom({ __name__: 'm', i: String(i) }))
    const bytesAt: number[] = []
    for (let step = 0; step <= 240; step++) {
      const t = step * 15_000
      for (const labels of series) store.append(labels, t, step)
      store.prune(t)
      if (step % 80 === 0) bytesAt.push(store.stats().sampleBytes)
    }
    const stats = store.stats()
    expect(stats.series).toBe(1000)
    // Samples kept: at least the retention window (69 samples per series), at most one chunk more.
    expect(stats.samples / 1000).toBeGreaterThanOrEqual(69)
    expect(stats.samples / 1000).toBeLessThanOrEqual(69 + 8)
    expect(stats.bytesPerSample).toBeLessThanOrEqual(16)
    // After the first retention period the freed chunks are reused: no growth.
    expect(bytesAt[3]).toBe(bytesAt[2] as number)
  })

  test('refuses series beyond maxSeries and counts them', () => {
    const store = new SampleStore({ maxSeries: 2 })
    expect(store.append(labelsFrom({ __name__: 'a' }), 0, 1)).toBe(true)
    expect(store.append(labelsFrom({ __name__: 'b' }), 0, 1)).toBe(true)
    expect(store.append(labelsFrom({ __name__: 'c' }), 0, 1)).toBe(false)
    expect(store.append(labelsFrom({ __name__: 'a' }), 1, 1)).toBe(true)
    expect(store.stats()).toMatchObject({ series: 2, droppedSeries: 1 })
  })

  test('select returns series sorted by label set, whatever the insertion order', () => {
    const store = new SampleStore()
    for (const core of ['2', '10', '1']) store.append(labelsFrom({ __name__: 'cpu', core }), 0, 1)
    expect(store.select(matchAll).map((s) => s.labels.core)).toEqual(['1', '10', '2'])
  })
})
