import { describe, expect, test } from 'bun:test'
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client'
import { RegistrySampler, RegistryScraper } from '../../../src/alerting/rules/registry-sampler.ts'
import { CompiledQuery, evaluateInstant } from '../../../src/prometheus/promql/engine.ts'
import { formatSeries, labelsFrom, labelsKey } from '../../../src/prometheus/promql/labels.ts'
import { parseSeriesLabels } from '../../../src/prometheus/promql/parser.ts'
import { SampleStore } from '../../../src/prometheus/promql/store.ts'

function buildRegistry() {
  const registry = new Registry()
  registry.setDefaultLabels({ service: 'shop' })
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'requests',
    labelNames: ['method', 'status'],
    registers: [registry],
  })
  const depth = new Gauge({ name: 'queue_depth', help: 'depth', registers: [registry] })
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'latency',
    labelNames: ['route'],
    buckets: [0.1, 0.5],
    registers: [registry],
  })
  const sizes = new Summary({
    name: 'payload_bytes',
    help: 'sizes',
    percentiles: [0.5],
    registers: [registry],
  })
  return { registry, requests, depth, latency, sizes }
}

/** Series and values as Prometheus would store them from the text exposition. */
async function exposition(registry: Registry): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for (const line of (await registry.metrics()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(formatSeries(labelsFrom(parseSeriesLabels(line.slice(0, at)))), Number(line.slice(at + 1)))
  }
  return out
}

function stored(store: SampleStore, t: number): Map<string, number> {
  const out = new Map<string, number>()
  const latest = { t: 0, v: 0, stale: false }
  for (const series of store.select([{ name: '__name__', type: '=~', value: '.+', regex: /^(?:.+)$/ }])) {
    if (store.latest(series, t, t, latest) && !latest.stale) out.set(formatSeries(series.labels), latest.v)
  }
  return out
}

describe('scraping a prom-client registry', () => {
  test('stores exactly the series and values of the text exposition', async () => {
    const { registry, requests, depth, latency, sizes } = buildRegistry()
    requests.inc({ method: 'GET', status: '200' }, 3)
    requests.inc({ method: 'POST', status: '500' })
    depth.set(7.5)
    latency.observe({ route: '/orders' }, 0.05)
    latency.observe({ route: '/orders' }, 0.3)
    latency.observe({ route: '/orders' }, 2)
    sizes.observe(100)
    const store = new SampleStore()
    await new RegistryScraper(store, registry).scrape(1000)

    const expected = await exposition(registry)
    expect(stored(store, 1000)).toEqual(expected)
    expect([...expected.keys()]).toContain(
      'http_request_duration_seconds_bucket{le="+Inf", route="/orders", service="shop"}',
    )
    expect(
      expected.get('http_request_duration_seconds_bucket{le="0.5", route="/orders", service="shop"}'),
    ).toBe(2)
    expect(expected.get('http_requests_total{method="GET", service="shop", status="200"}')).toBe(3)
  })

  test('a series that disappears from the registry gets a staleness marker', async () => {
    const { registry, requests } = buildRegistry()
    requests.inc({ method: 'GET', status: '200' })
    requests.inc({ method: 'GET', status: '503' })
    const store = new SampleStore()
    const scraper = new RegistryScraper(store, registry)
    await scraper.scrape(0)
    requests.remove({ method: 'GET', status: '503' })
    await scraper.scrape(15_000)

    const query = new CompiledQuery('http_requests_total')
    const statuses = (t: number) => {
      const r = evaluateInstant(query, store, t)
      return r.resultType === 'vector' ? r.samples.map((s) => s.labels.status) : []
    }
    expect(statuses(14_999)).toEqual(['200', '503'])
    // Without the marker the 503 series would linger for the 5m lookback.
    expect(statuses(15_000)).toEqual(['200'])
    const gone = store.getSeries(
      labelsKey(
        labelsFrom({ __name__: 'http_requests_total', method: 'GET', status: '503', service: 'shop' }),
      ),
    )
    expect(gone && store.isStale(gone)).toBe(true)
  })

  test('rate() over scraped samples matches the counter’s growth', async () => {
    const { registry, requests } = buildRegistry()
    const store = new SampleStore()
    const scraper = new RegistryScraper(store, registry)
    for (let i = 0; i <= 20; i++) {
      requests.inc({ method: 'GET', status: '200' }, 15)
      await scraper.scrape(i * 15_000)
    }
    const result = evaluateInstant(new CompiledQuery('sum(rate(http_requests_total[5m]))'), store, 300_000)
    expect(result).toEqual({ resultType: 'vector', samples: [{ labels: {}, value: 1 }] })
  })

  test('the sampler scrapes on its interval, prunes by retention and marks series stale on stop', async () => {
    const { registry, depth } = buildRegistry()
    depth.set(1)
    let now = 0
    const store = new SampleStore({ retentionMs: 60_000 })
    const sampler = new RegistrySampler({ store, registry, intervalMs: 15_000, now: () => now })
    for (let i = 0; i < 20; i++) {
      now = i * 15_000
      await sampler.sampleOnce()
    }
    const series = store.select([{ name: '__name__', type: '=', value: 'queue_depth' }])
    expect(series).toHaveLength(1)
    // 60s retention at 15s: whole 8-sample chunks older than the cutoff are gone.
    const { samples, series: count } = store.stats()
    expect(count).toBe(4) // queue_depth and the summary's quantile, _sum and _count
    expect(samples / count).toBeLessThanOrEqual(5 + 8)
    expect(samples / count).toBeGreaterThanOrEqual(5)
    now = 300_000
    sampler.stop()
    expect(store.isStale(series[0] as (typeof series)[number])).toBe(true)
  })
})
