import { afterEach, describe, expect, test } from 'bun:test'
import { Registry } from 'prom-client'
import {
  createPrometheusExemplarSource,
  ExemplarStore,
  extractSelectors,
} from '../../../src/alerting/rules/exemplars.ts'
import { QueryError } from '../../../src/alerting/rules/prometheus-source.ts'
import { RegistryScraper } from '../../../src/alerting/rules/registry-sampler.ts'
import { createHttpClient } from '../../../src/http/outbound.ts'
import { SampleStore } from '../../../src/prometheus/promql/store.ts'

const HIGH_ERROR_RATE =
  'sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.05'
const T0 = Date.parse('2026-03-02T10:00:00Z')
const TRACE_A = '4bf92f3577b34da6a3ce929d0e0e4736'
const TRACE_B = '0af7651916cd43dd8448eb211c80319c'

type Sample = {
  value: number
  labels: Record<string, string | number>
  metricName?: string
  exemplar?: { labels: Record<string, string>; value: number; timestampMs: number }
}

/**
 * A metric registered the way the service's instruments register (any object with prom-client's
 * `get()` shape), whose samples carry exemplars as the instruments' PromSample will.
 */
function handMadeMetric(registry: Registry, name: string, type: string, samples: () => Sample[]) {
  const metric = {
    name,
    help: `${name} help`,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help: `${name} help`, type, aggregator: 'sum', values: samples() }),
    reset() {},
  }
  registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0])
}

function embedded() {
  const registry = new Registry()
  const exemplars = new ExemplarStore()
  const store = new SampleStore({ retentionMs: 3_600_000 })
  const scraper = new RegistryScraper(store, registry, exemplars)
  return { registry, exemplars, store, scraper }
}

describe('extractSelectors (promql/parser.ExtractSelectors)', () => {
  test('one matcher list per vector selector, ranges and functions ignored', () => {
    expect(
      extractSelectors(HIGH_ERROR_RATE).map((matchers) =>
        matchers.map((m) => `${m.name}${m.type}${m.value}`),
      ),
    ).toEqual([['__name__=http_requests_total', 'status=~5..'], ['__name__=http_requests_total']])
    expect(extractSelectors('vector(1) + 2')).toEqual([])
  })
})

describe('the embedded exemplar store (RegistryScraper)', () => {
  test('keeps the latest exemplar per scraped series and answers the selectors of a query in a range', async () => {
    const { registry, exemplars, scraper } = embedded()
    let samples: Sample[] = [
      { value: 10, labels: { method: 'GET', endpoint: '/products', status: 200 } },
      {
        value: 3,
        labels: { method: 'POST', endpoint: '/orders/:id/payments', status: 502 },
        exemplar: { labels: { trace_id: TRACE_A, request_id: 'req-a' }, value: 1, timestampMs: T0 - 1000 },
      },
    ]
    handMadeMetric(registry, 'http_requests_total', 'counter', () => samples)
    await scraper.scrape(T0)
    expect(exemplars.size).toBe(1)
    const range = { startMs: T0 - 300_000, endMs: T0 }
    expect(await exemplars.latest(HIGH_ERROR_RATE, range)).toEqual({
      labels: { trace_id: TRACE_A, request_id: 'req-a' },
      seriesLabels: {
        __name__: 'http_requests_total',
        endpoint: '/orders/:id/payments',
        method: 'POST',
        status: '502',
      },
      value: 1,
      timestampMs: T0 - 1000,
    })
    // Both ends of the range are included, as in Prometheus' exemplar storage.
    expect(
      (await exemplars.latest(HIGH_ERROR_RATE, { startMs: T0 - 1000, endMs: T0 - 1000 }))?.labels,
    ).toEqual({
      trace_id: TRACE_A,
      request_id: 'req-a',
    })
    expect(await exemplars.latest(HIGH_ERROR_RATE, { startMs: T0 - 999, endMs: T0 })).toBeUndefined()
    expect(await exemplars.latest('http_requests_total{status="404"}', range)).toBeUndefined()
    expect(await exemplars.latest('vector(1)', range)).toBeUndefined()

    // A later request on another series: the latest of all matching series wins.
    samples = [
      ...samples,
      {
        value: 1,
        labels: { method: 'GET', endpoint: '/orders', status: 500 },
        exemplar: { labels: { trace_id: TRACE_B, request_id: 'req-b' }, value: 1, timestampMs: T0 + 2000 },
      },
    ]
    await scraper.scrape(T0 + 5000)
    expect(exemplars.size).toBe(2)
    const later = { startMs: T0 - 300_000, endMs: T0 + 5000 }
    expect((await exemplars.latest(HIGH_ERROR_RATE, later))?.labels.request_id).toBe('req-b')
    expect(
      (await exemplars.latest('http_requests_total{endpoint=~"/orders/.*"}', later))?.labels.request_id,
    ).toBe('req-a')

    // The series leaves the registry: its exemplar goes with it.
    samples = samples.slice(0, 2)
    await scraper.scrape(T0 + 10_000)
    expect(exemplars.size).toBe(1)
    expect(
      (await exemplars.latest(HIGH_ERROR_RATE, { ...later, endMs: T0 + 10_000 }))?.labels.request_id,
    ).toBe('req-a')
    scraper.markAllStale(T0 + 15_000)
    expect(exemplars.size).toBe(0)
  })

  test('histogram _bucket exemplars are stored under the bucket series, with le', async () => {
    const { registry, exemplars, scraper } = embedded()
    handMadeMetric(registry, 'http_request_duration_seconds', 'histogram', (): Sample[] => [
      {
        value: 1,
        labels: { method: 'GET', endpoint: '/orders', le: 0.5 },
        metricName: 'http_request_duration_seconds_bucket',
        exemplar: { labels: { trace_id: TRACE_A, request_id: 'req-slow' }, value: 0.31, timestampMs: T0 },
      },
      {
        value: 0.31,
        labels: { method: 'GET', endpoint: '/orders' },
        metricName: 'http_request_duration_seconds_sum',
      },
    ])
    await scraper.scrape(T0)
    expect(
      await exemplars.latest('http_request_duration_seconds_bucket{le="0.5"}', { startMs: T0, endMs: T0 }),
    ).toEqual({
      labels: { trace_id: TRACE_A, request_id: 'req-slow' },
      seriesLabels: {
        __name__: 'http_request_duration_seconds_bucket',
        endpoint: '/orders',
        le: '0.5',
        method: 'GET',
      },
      value: 0.31,
      timestampMs: T0,
    })
  })

  test('an older exemplar never replaces a newer one, and a query Prometheus refuses is a QueryError', async () => {
    const store = new ExemplarStore()
    const series = { __name__: 'x_total' }
    store.observe('k', series, { labels: { request_id: 'new' }, value: 1, timestampMs: T0 })
    store.observe('k', series, { labels: { request_id: 'old' }, value: 1, timestampMs: T0 - 1 })
    expect((await store.latest('x_total', { startMs: 0, endMs: T0 }))?.labels).toEqual({ request_id: 'new' })
    const refused = store.latest('sum(x_total', { startMs: 0, endMs: T0 })
    await expect(refused).rejects.toBeInstanceOf(QueryError)
    await expect(refused).rejects.toThrow('parse error')
  })
})

describe('the Prometheus exemplar source (GET /api/v1/query_exemplars)', () => {
  let stop: (() => void) | undefined
  afterEach(() => stop?.())

  /** A fake of Prometheus' query_exemplars on 127.0.0.1 that records what it was asked. */
  function fakePrometheus(answer: (url: URL) => Response | Promise<Response>) {
    const asked: Array<{ url: URL; authorization: string | null; method: string }> = []
    const server = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch(req) {
        const url = new URL(req.url)
        asked.push({ url, authorization: req.headers.get('authorization'), method: req.method })
        return answer(url)
      },
    })
    stop = () => server.stop(true)
    const source = createPrometheusExemplarSource(
      { url: `http://127.0.0.1:${server.port}/`, bearerToken: 'prom-token-0123456789', timeoutMs: 300 },
      createHttpClient(fetch),
    )
    return { asked, source }
  }

  test('asks for the query and range in seconds and returns the latest exemplar of all series', async () => {
    // The shape of Prometheus' documentation (querying/api.md, "Querying exemplars").
    const { asked, source } = fakePrometheus(() =>
      Response.json({
        status: 'success',
        data: [
          {
            seriesLabels: {
              __name__: 'http_requests_total',
              endpoint: '/orders',
              method: 'GET',
              status: '500',
            },
            exemplars: [
              { labels: { request_id: 'req-1', trace_id: TRACE_A }, value: '1', timestamp: 1772445590.5 },
              { labels: { request_id: 'req-3', trace_id: TRACE_B }, value: '1', timestamp: 1772445597.25 },
            ],
          },
          {
            seriesLabels: {
              __name__: 'http_requests_total',
              endpoint: '/cart',
              method: 'POST',
              status: '503',
            },
            exemplars: [{ labels: { request_id: 'req-2' }, value: '1', timestamp: 1772445595 }],
          },
        ],
      }),
    )
    expect(await source.latest(HIGH_ERROR_RATE, { startMs: T0 - 300_000, endMs: T0 })).toEqual({
      labels: { request_id: 'req-3', trace_id: TRACE_B },
      seriesLabels: { __name__: 'http_requests_total', endpoint: '/orders', method: 'GET', status: '500' },
      value: 1,
      timestampMs: 1772445597250,
    })
    expect(asked).toHaveLength(1)
    expect(asked[0]!.method).toBe('GET')
    expect(asked[0]!.url.pathname).toBe('/api/v1/query_exemplars')
    expect(Object.fromEntries(asked[0]!.url.searchParams)).toEqual({
      query: HIGH_ERROR_RATE,
      start: '1772445300.000',
      end: '1772445600.000',
    })
    expect(asked[0]!.authorization).toBe('Bearer prom-token-0123456789')
  })

  test('no exemplar (data [] or null, 204 for a query without selectors) is undefined; errors, non-JSON answers and timeouts are QueryErrors', async () => {
    const answers: Array<() => Response | Promise<Response>> = [
      () => Response.json({ status: 'success', data: [] }),
      () => Response.json({ status: 'success', data: null }),
      // What Prometheus 2.42 answers for `vector(1)` (see exemplars-differential.test.ts).
      () => new Response(null, { status: 204 }),
      () =>
        Response.json(
          { status: 'error', errorType: 'bad_data', error: '1:5: parse error: unclosed left parenthesis' },
          { status: 400 },
        ),
      () => new Response('upstream down', { status: 503 }),
      async () => {
        await Bun.sleep(1000)
        return Response.json({ status: 'success', data: [] })
      },
    ]
    const { source } = fakePrometheus(() => answers.shift()!())
    const range = { startMs: T0 - 60_000, endMs: T0 }
    expect(await source.latest('x_total', range)).toBeUndefined()
    expect(await source.latest('x_total', range)).toBeUndefined()
    expect(await source.latest('vector(1)', range)).toBeUndefined()
    await expect(source.latest('sum(x', range)).rejects.toThrow(
      new QueryError('bad_data: 1:5: parse error: unclosed left parenthesis'),
    )
    await expect(source.latest('x_total', range)).rejects.toThrow(
      new QueryError('Prometheus answered HTTP 503 without a JSON body'),
    )
    await expect(source.latest('x_total', range)).rejects.toThrow(
      new QueryError('exemplar query timed out after 300 ms'),
    )
  })
})
