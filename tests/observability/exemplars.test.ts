import { describe, expect, test } from 'bun:test'
import { Registry } from 'prom-client'
import { renderPromData } from '../../src/observability/exposition.ts'
import {
  Counter,
  EXEMPLAR_MAX_LABEL_SET_LENGTH,
  exemplarLabels,
  Gauge,
  Histogram,
  traceExemplar,
} from '../../src/observability/instruments.ts'

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const OTHER_TRACE = '0af7651916cd43dd8448eb211c80319c'
/** 2023-11-14T22:13:20.123Z */
const AT = 1_700_000_000_123

function fixedClock(start = AT) {
  let now = start
  const advance = (ms: number) => {
    now += ms
  }
  return { clock: () => now, advance }
}

function histogram() {
  const time = fixedClock()
  const h = new Histogram<'method'>({
    name: 'op_duration_seconds',
    help: 'x',
    labelNames: ['method'],
    buckets: [0.1, 1],
    clock: time.clock,
  })
  return { h, ...time }
}

function counter() {
  const time = fixedClock()
  const c = new Counter<'status'>({ name: 'op_total', help: 'x', labelNames: ['status'], clock: time.clock })
  return { c, ...time }
}

const traced = (traceId: string, requestId?: string) => traceExemplar(traceId, requestId)!

describe('rendering', () => {
  test('OpenMetrics: a histogram bucket line carries its exemplar with labels, value and timestamp in seconds', () => {
    const { h } = histogram()
    h.labels('GET').observeWithExemplar(0.067, traced(TRACE, 'req-1'))
    expect(h.renderSamples('openmetrics').text).toBe(
      [
        `op_duration_seconds_bucket{method="GET",le="0.1"} 1 # {trace_id="${TRACE}",request_id="req-1"} 0.067 1700000000.123`,
        'op_duration_seconds_bucket{method="GET",le="1"} 1',
        'op_duration_seconds_bucket{method="GET",le="+Inf"} 1',
        'op_duration_seconds_sum{method="GET"} 0.067',
        'op_duration_seconds_count{method="GET"} 1',
        '',
      ].join('\n'),
    )
  })

  test('OpenMetrics: a counter line carries its exemplar, whose value is the increment', () => {
    const { c } = counter()
    c.labels('500').incWithExemplar(1, traced(TRACE, 'req-9'))
    c.labels('200').inc()
    expect(c.renderSamples('openmetrics').text).toBe(
      [
        `op_total{status="500"} 1 # {trace_id="${TRACE}",request_id="req-9"} 1 1700000000.123`,
        'op_total{status="200"} 1',
        '',
      ].join('\n'),
    )
  })

  test('the text format 0.0.4 has no exemplars: the same families render plain sample lines', () => {
    const { h } = histogram()
    const { c } = counter()
    h.labels('GET').observeWithExemplar(0.067, traced(TRACE, 'req-1'))
    c.labels('500').incWithExemplar(1, traced(TRACE, 'req-1'))
    expect(h.renderSamples('prometheus').text + c.renderSamples('prometheus').text).toBe(
      [
        'op_duration_seconds_bucket{method="GET",le="0.1"} 1',
        'op_duration_seconds_bucket{method="GET",le="1"} 1',
        'op_duration_seconds_bucket{method="GET",le="+Inf"} 1',
        'op_duration_seconds_sum{method="GET"} 0.067',
        'op_duration_seconds_count{method="GET"} 1',
        'op_total{status="500"} 1',
        '',
      ].join('\n'),
    )
  })

  test('exemplar label values are escaped as series label values are', () => {
    const { c } = counter()
    c.labels('500').incWithExemplar(2, exemplarLabels({ note: 'a"b\\c\nd' }))
    expect(c.renderSamples('openmetrics').text).toBe(
      'op_total{status="500"} 2 # {note="a\\"b\\\\c\\nd"} 2 1700000000.123\n',
    )
  })

  test("a prom-client metric's sample with an exemplar renders it in OpenMetrics only", () => {
    const data = {
      name: 'x_total',
      help: 'x',
      type: 'counter',
      aggregator: 'sum',
      values: [
        { labels: {}, value: 3, exemplar: { labels: { trace_id: TRACE }, value: 1, timestampMs: AT } },
      ],
    }
    expect(renderPromData(data, 'openmetrics').text).toBe(
      `x_total 3 # {trace_id="${TRACE}"} 1 1700000000.123\n`,
    )
    expect(renderPromData(data, 'prometheus').text).toBe('x_total 3\n')
  })
})

describe('which bucket, which exemplar', () => {
  test('the exemplar goes on the bucket the value lands in: the lowest le >= value, +Inf above every bound', () => {
    const placed = (value: number) => {
      const { h } = histogram()
      h.labels('GET').observeWithExemplar(value, traced(TRACE))
      return h
        .renderSamples('openmetrics')
        .text.split('\n')
        .filter((line) => line.includes(' # '))
        .map((line) => /le="([^"]+)"/.exec(line)![1])
    }
    expect(placed(-1)).toEqual(['0.1'])
    expect(placed(0)).toEqual(['0.1'])
    // A bucket bound is inclusive.
    expect(placed(0.1)).toEqual(['0.1'])
    expect(placed(0.1000001)).toEqual(['1'])
    expect(placed(1)).toEqual(['1'])
    expect(placed(7)).toEqual(['+Inf'])
  })

  test('the latest observation in a bucket wins; other buckets and plain observations leave it alone', () => {
    const { h, advance } = histogram()
    const s = h.labels('GET')
    s.observeWithExemplar(0.05, traced(TRACE, 'first'))
    advance(1000)
    s.observeWithExemplar(0.5, traced(TRACE, 'slow'))
    advance(1000)
    s.observeWithExemplar(0.08, traced(OTHER_TRACE, 'second'))
    advance(1000)
    s.observe(0.01)
    expect(h.renderSamples('openmetrics').text).toBe(
      [
        `op_duration_seconds_bucket{method="GET",le="0.1"} 3 # {trace_id="${OTHER_TRACE}",request_id="second"} 0.08 1700000002.123`,
        `op_duration_seconds_bucket{method="GET",le="1"} 4 # {trace_id="${TRACE}",request_id="slow"} 0.5 1700000001.123`,
        'op_duration_seconds_bucket{method="GET",le="+Inf"} 4',
        'op_duration_seconds_sum{method="GET"} 0.64',
        'op_duration_seconds_count{method="GET"} 4',
        '',
      ].join('\n'),
    )
  })

  test('a counter keeps its latest exemplar across plain increments', () => {
    const { c, advance } = counter()
    const s = c.labels('502')
    s.incWithExemplar(1, traced(TRACE, 'a'))
    advance(500)
    s.incWithExemplar(1, traced(OTHER_TRACE, 'b'))
    s.inc(3)
    expect(c.renderSamples('openmetrics').text).toBe(
      `op_total{status="502"} 5 # {trace_id="${OTHER_TRACE}",request_id="b"} 1 1700000000.623\n`,
    )
    expect(() => s.incWithExemplar(-1, traced(TRACE))).toThrow('counter increment must be >= 0, got -1')
  })

  test('reset() forgets exemplars with the counts they referred to', () => {
    const { h } = histogram()
    const { c } = counter()
    h.labels('GET').observeWithExemplar(0.05, traced(TRACE))
    c.labels('500').incWithExemplar(1, traced(TRACE))
    h.reset()
    c.reset()
    expect(h.renderSamples('openmetrics').text.includes('#')).toBe(false)
    expect(c.renderSamples('openmetrics').text).toBe('op_total{status="500"} 0\n')
  })
})

describe("OpenMetrics' 128-character limit", () => {
  test('exemplarLabels accepts 128 code points of names and values and refuses 129', () => {
    expect(EXEMPLAR_MAX_LABEL_SET_LENGTH).toBe(128)
    // trace_id (8) + 32 + request_id (10) + 78 = 128.
    const fits = { trace_id: TRACE, request_id: 'r'.repeat(78) }
    expect({ ...exemplarLabels(fits) } as Record<string, string>).toEqual(fits)
    expect(() => exemplarLabels({ trace_id: TRACE, request_id: 'r'.repeat(79) })).toThrow(
      new RangeError("exemplar labels are 129 characters, over OpenMetrics' limit of 128"),
    )
  })

  test('the limit counts code points, not UTF-16 units or bytes', () => {
    // 'a' + 127 emoji: 128 code points, 255 UTF-16 units, 509 UTF-8 bytes.
    expect(() => exemplarLabels({ a: '😀'.repeat(127) })).not.toThrow()
    expect(() => exemplarLabels({ a: '😀'.repeat(128) })).toThrow(
      new RangeError("exemplar labels are 129 characters, over OpenMetrics' limit of 128"),
    )
    expect(() => exemplarLabels({ 'trace-id': TRACE })).toThrow(
      new RangeError('invalid exemplar label name "trace-id"'),
    )
  })

  test('traceExemplar leaves out a request id that does not fit beside the trace id', () => {
    expect(traceExemplar(TRACE, 'r'.repeat(78))).toEqual({
      trace_id: TRACE,
      request_id: 'r'.repeat(78),
    } as never)
    expect(traceExemplar(TRACE, 'r'.repeat(79))).toEqual({ trace_id: TRACE } as never)
    expect(traceExemplar(TRACE)).toEqual({ trace_id: TRACE } as never)
    // A trace id of 120 characters fits alone (8 + 120); one of 121 does not.
    expect(traceExemplar('t'.repeat(120))).toEqual({ trace_id: 't'.repeat(120) } as never)
    expect(traceExemplar('t'.repeat(121), 'r')).toBeUndefined()
  })
})

describe('get()', () => {
  test('histogram _bucket samples and counter samples carry { labels, value, timestampMs }; others none', async () => {
    const { h } = histogram()
    const { c } = counter()
    h.labels('GET').observeWithExemplar(0.5, traced(TRACE, 'req-1'))
    c.labels('500').incWithExemplar(1, traced(TRACE, 'req-1'))
    c.labels('200').inc()
    const exemplar = (value: number) => ({
      labels: { trace_id: TRACE, request_id: 'req-1' },
      value,
      timestampMs: AT,
    })
    expect((await h.get()).values).toEqual([
      { metricName: 'op_duration_seconds_bucket', labels: { method: 'GET', le: 0.1 }, value: 0 },
      {
        metricName: 'op_duration_seconds_bucket',
        labels: { method: 'GET', le: 1 },
        value: 1,
        exemplar: exemplar(0.5),
      },
      { metricName: 'op_duration_seconds_bucket', labels: { method: 'GET', le: '+Inf' }, value: 1 },
      { metricName: 'op_duration_seconds_sum', labels: { method: 'GET' }, value: 0.5 },
      { metricName: 'op_duration_seconds_count', labels: { method: 'GET' }, value: 1 },
    ])
    expect((await c.get()).values).toEqual([
      { labels: { status: '500' }, value: 1, exemplar: exemplar(1) },
      { labels: { status: '200' }, value: 1 },
    ])
    expect('exemplar' in (await c.get()).values[1]!).toBe(false)
  })

  test("prom-client's getMetricsAsJSON (what the rule engine's sampler reads) passes them through", async () => {
    const { h } = histogram()
    const g = new Gauge({ name: 'g', help: 'x' })
    h.labels('GET').observeWithExemplar(0.05, traced(TRACE))
    const registry = new Registry()
    registry.registerMetric(h as never)
    registry.registerMetric(g as never)
    const json = (await registry.getMetricsAsJSON()) as unknown as Array<{
      name: string
      values: Array<{ exemplar?: unknown }>
    }>
    expect(json.map((m) => [m.name, m.values.map((v) => v.exemplar)])).toEqual([
      [
        'op_duration_seconds',
        [
          { labels: { trace_id: TRACE }, value: 0.05, timestampMs: AT },
          undefined,
          undefined,
          undefined,
          undefined,
        ],
      ],
      ['g', [undefined]],
    ])
  })

  test('the labels get() returns are a copy: changing them changes no exemplar', async () => {
    const { c } = counter()
    c.labels('500').incWithExemplar(1, traced(TRACE))
    ;(await c.get()).values[0]!.exemplar!.labels.trace_id = 'changed'
    expect((await c.get()).values[0]!.exemplar!.labels).toEqual({ trace_id: TRACE })
  })
})
