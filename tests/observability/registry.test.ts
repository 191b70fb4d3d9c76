import { describe, expect, test } from 'bun:test'
import { createMetrics } from '../../src/metrics.ts'
import { familyHeader, negotiateFormat } from '../../src/observability/exposition.ts'
import { Counter, Gauge, Histogram } from '../../src/observability/instruments.ts'
import { captureLogs } from '../helpers/logs.ts'
import { family, sample } from '../helpers/scrape.ts'

const quietMetrics = () => createMetrics({ log: captureLogs().log, processMetrics: false })

describe('content negotiation', () => {
  test.each([
    [null, 'prometheus'],
    ['', 'prometheus'],
    ['*/*', 'prometheus'],
    ['text/plain', 'prometheus'],
    ['text/plain;version=0.0.4;q=0.5,*/*;q=0.1', 'prometheus'],
    ['application/json', 'prometheus'],
    ['application/openmetrics-text', 'openmetrics'],
    ['application/openmetrics-text; version=1.0.0; charset=utf-8', 'openmetrics'],
    // Prometheus 2.x default scrape Accept header.
    [
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      'openmetrics',
    ],
    // Prometheus 3.x default (OpenMetrics preferred, text 1.0.0 and 0.0.4 as fallbacks).
    [
      'application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1',
      'openmetrics',
    ],
    ['text/plain;q=1,application/openmetrics-text;q=0.5', 'prometheus'],
    ['application/openmetrics-text;q=0', 'prometheus'],
    ['application/openmetrics-text;version=2.0.0', 'prometheus'],
  ])('Accept %p → %p', (accept, format) => {
    expect(negotiateFormat(accept)).toBe(format as never)
  })
})

describe('registry', () => {
  test('building the metric set twice in one process works and gives independent registries', async () => {
    const a = createMetrics({ log: captureLogs().log })
    const b = createMetrics({ log: captureLogs().log })
    expect(a.registry).not.toBe(b.registry)
    a.http.requests.labels('GET', '/x', '200').inc()
    expect(family(await a.render(), 'http_requests_total')).toEqual({
      'http_requests_total{method="GET",endpoint="/x",status="200"}': 1,
    })
    expect(family(await b.render(), 'http_requests_total')).toEqual({})
  })

  test('prom-client renders the same samples from the same registry', async () => {
    const m = quietMetrics()
    m.http.requests.labels('GET', '/x', '200').inc(3)
    m.http.duration.labels('GET', '/x').observe(0.2)
    m.business.productViewed({ tenantId: 't', productId: 'p', channel: 'web' })
    const ours = await m.render('prometheus')
    const theirs = await m.registry.metrics()
    const samples = (text: string) =>
      text
        .split('\n')
        .filter((line) => line && !line.startsWith('#') && !line.startsWith('metrics_'))
        .sort()
    expect(samples(ours)).toEqual(samples(theirs))
    expect(samples(ours).length).toBeGreaterThan(15)
  })

  test('overlapping scrapes share one render', async () => {
    const m = quietMetrics()
    const [first, second] = await Promise.all([m.render('prometheus'), m.render('prometheus')])
    expect(second).toBe(first)
    const next = await m.render('prometheus')
    expect(sample(next, 'metrics_scrape_duration_seconds_count')).toBe(1)
  })
})

describe('instruments', () => {
  test('counters only go up and must be named *_total', () => {
    const counter = new Counter({ name: 'things_total', help: 'h' })
    expect(() => counter.unlabelled.inc(-1)).toThrow('counter increment must be >= 0, got -1')
    expect(() => new Counter({ name: 'things', help: 'h' })).toThrow('counter things must end in _total')
  })

  test('histograms reject non-finite observations and unordered buckets', () => {
    const histogram = new Histogram({ name: 'latency_seconds', help: 'h', buckets: [0.1, 1] })
    expect(() => histogram.unlabelled.observe(Number.NaN)).toThrow(
      'histogram observation must be finite, got NaN',
    )
    expect(() => new Histogram({ name: 'x_seconds', help: 'h', buckets: [1, 0.5] })).toThrow(
      'buckets of x_seconds must be finite and increasing',
    )
  })

  test('label names are validated and label values counted', () => {
    expect(() => new Gauge({ name: 'g', help: 'h', labelNames: ['le'] })).toThrow(
      'invalid label name le on g',
    )
    expect(() => new Gauge({ name: 'g', help: 'h', labelNames: ['__x'] })).toThrow(
      'invalid label name __x on g',
    )
    const gauge = new Gauge<'a' | 'b'>({ name: 'g', help: 'h', labelNames: ['a', 'b'] })
    expect(() => gauge.labels('only-one')).toThrow('g takes 2 label values, got 1')
  })

  test('a series kept by the caller and the budget: resolved once, counted in place', () => {
    const overflowed: string[] = []
    const counter = new Counter<'k'>({
      name: 'k_total',
      help: 'h',
      labelNames: ['k'],
      maxSeries: 2,
      onOverflow: (name) => overflowed.push(name),
    })
    const a = counter.labels('a')
    expect(counter.labels('a')).toBe(a)
    counter.labels('b').inc()
    const folded = counter.labels('c')
    expect(counter.isOverflow(folded)).toBe(true)
    expect(counter.labels('d')).toBe(folded)
    expect(folded.labels).toEqual(['__overflow__'])
    expect(overflowed).toEqual(['k_total', 'k_total'])
    expect(counter.seriesCount()).toBe(3)
  })

  test('OpenMetrics escapes quotes in HELP; both formats escape backslashes and newlines, and label values', () => {
    const help = 'say "hi"\\ now\nplease'
    expect(familyHeader('g', help, 'gauge', 'prometheus')).toBe(
      '# HELP g say "hi"\\\\ now\\nplease\n# TYPE g gauge\n',
    )
    expect(familyHeader('g', help, 'gauge', 'openmetrics')).toBe(
      '# HELP g say \\"hi\\"\\\\ now\\nplease\n# TYPE g gauge\n',
    )
    const gauge = new Gauge<'v'>({ name: 'g', help, labelNames: ['v'] })
    gauge.set({ v: 'a"b\\c\nd' }, 1)
    expect(gauge.renderSamples('prometheus').text).toBe('g{v="a\\"b\\\\c\\nd"} 1\n')
  })
})
