/**
 * Our /metrics as the real Prometheus ingests it: odd but legal label values, special sample
 * values, exemplars near OpenMetrics' length limit and on `+Inf`, served over OpenMetrics by
 * content negotiation, scraped by `prometheus --enable-feature=exemplar-storage`, and compared
 * with what we served and with what the embedded rule engine reads (`getMetricsAsJSON`).
 */
import { describe, expect, test } from 'bun:test'
import { Counter, Histogram } from '../../src/observability/instruments.ts'

describe('label sets Prometheus would see twice', () => {
  test('a label set spelling the overflow series is that series, not a second line with its labels', () => {
    const overflowed: string[] = []
    const c = new Counter<'v'>({
      name: 't_total',
      help: 'h',
      labelNames: ['v'],
      maxSeries: 2,
      onOverflow: (metric) => overflowed.push(metric),
    })
    c.labels('__overflow__').inc()
    c.labels('b').inc()
    c.labels('c').inc()
    c.labels('d').inc(2)
    expect(c.renderSamples('prometheus').text).toBe(
      ['t_total{v="b"} 1', 't_total{v="c"} 1', 't_total{v="__overflow__"} 3', ''].join('\n'),
    )
    expect(overflowed).toEqual(['t_total'])
  })

  test('label values with lone surrogates resolve to the series of their U+FFFD spelling', () => {
    const h = new Histogram<'v'>({ name: 'u_seconds', help: 'h', labelNames: ['v'], buckets: [1] })
    h.labels('a\uD800').observe(0.5)
    h.labels('a\uDC00').observe(2)
    expect(h.labels('a\uFFFD')).toBe(h.labels('a\uD800'))
    expect(h.renderSamples('prometheus').text).toBe(
      [
        'u_seconds_bucket{v="a\uFFFD",le="1"} 1',
        'u_seconds_bucket{v="a\uFFFD",le="+Inf"} 2',
        'u_seconds_sum{v="a\uFFFD"} 2.5',
        'u_seconds_count{v="a\uFFFD"} 2',
        '',
      ].join('\n'),
    )
  })
})
