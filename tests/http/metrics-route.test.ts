import { describe, expect, test } from 'bun:test'
import { SERVICE_VERSION } from '../../src/app.ts'
import { CONTENT_TYPES } from '../../src/observability/exposition.ts'
import { buildTestApp } from '../helpers/app.ts'
import { family, familyTypes, sample } from '../helpers/scrape.ts'

const TOKEN = 'metrics-token-0123456789'

/** Accept headers real scrapers send. */
const PROMETHEUS_2_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
const PROMETHEUS_3_TEXT_ONLY_ACCEPT = 'text/plain;version=0.0.4;q=0.5,*/*;q=0.1'

describe('GET /metrics', () => {
  test('serves the Prometheus text format 0.0.4 with its versioned content type by default', async () => {
    const { call } = await buildTestApp()
    for (const accept of [undefined, '*/*', 'text/plain', PROMETHEUS_3_TEXT_ONLY_ACCEPT]) {
      const response = await call('/metrics', { headers: accept ? { accept } : {} })
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
      expect(response.headers.get('vary')).toBe('Accept')
      const text = await response.text()
      expect(text).toContain('# TYPE http_requests_total counter\n')
      expect(text).not.toContain('# EOF')
    }
  })

  test('serves OpenMetrics 1.0.0 when the scraper prefers it, from the same metrics', async () => {
    const { call, deps } = await buildTestApp()
    deps.metrics.business.orderCreated({ tenantId: 'tenant-a', channel: 'whatsapp' })
    const response = await call('/metrics', { headers: { accept: PROMETHEUS_2_ACCEPT } })
    expect(response.headers.get('content-type')).toBe(
      'application/openmetrics-text; version=1.0.0; charset=utf-8',
    )
    const text = await response.text()
    expect(text.endsWith('\n# EOF\n')).toBe(true)
    // Counter families are named without _total; their samples keep it.
    expect(text).toContain(
      '# HELP orders_created Orders created (counted after the transaction commits), by tenant and channel.\n# TYPE orders_created counter\norders_created_total{tenant_id="tenant-a",channel="whatsapp"} 1\n',
    )
    expect(familyTypes(text)).toMatchObject({
      http_requests: 'counter',
      http_request_duration_seconds: 'histogram',
      process_cpu_seconds: 'counter',
      metrics_cardinality_overflow: 'counter',
    })
    expect(text.split('\n').filter((line) => line === '')).toEqual([''])
    // A later plain scrape still has the _total family names (prom-client would have renamed them).
    const plain = await (await call('/metrics')).text()
    expect(plain).toContain(
      '# TYPE orders_created_total counter\norders_created_total{tenant_id="tenant-a",channel="whatsapp"} 1\n',
    )
  })

  test('with METRICS_TOKEN set, a scrape needs the bearer token', async () => {
    const { call } = await buildTestApp({ env: { METRICS_TOKEN: TOKEN } })
    for (const token of [undefined, 'wrong-token-0123456789', `${TOKEN}x`]) {
      const response = await call('/metrics', { headers: { 'x-request-id': 'rid-401' }, token })
      expect(response.status).toBe(401)
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="metrics"')
      expect(await response.json()).toEqual({
        error: { code: 'UNAUTHORIZED', message: 'Missing or invalid credentials', requestId: 'rid-401' },
      })
    }
    const basic = await call('/metrics', { headers: { authorization: `Basic ${btoa(`x:${TOKEN}`)}` } })
    expect(basic.status).toBe(401)
    const ok = await call('/metrics', { token: TOKEN })
    expect(ok.status).toBe(200)
    expect(ok.headers.get('content-type')).toBe(CONTENT_TYPES.prometheus)
  })

  test('without METRICS_TOKEN the endpoint is open', async () => {
    const { call } = await buildTestApp()
    expect((await call('/metrics')).status).toBe(200)
  })

  test('is documented in the OpenAPI document with both media types and the 401', async () => {
    const { call } = await buildTestApp({ env: { METRICS_TOKEN: TOKEN } })
    const doc = (await (await call('/swagger/json')).json()) as {
      paths: Record<string, Record<string, Record<string, unknown>>>
    }
    const operation = doc.paths['/metrics']!.get!
    expect(operation.summary).toBe('Prometheus metrics')
    expect(operation.tags).toEqual(['Monitoring'])
    expect(operation.security).toEqual([{ metricsToken: [] }])
    const responses = operation.responses as Record<string, { content: Record<string, unknown> }>
    expect(Object.keys(responses['200']!.content)).toEqual([
      CONTENT_TYPES.prometheus,
      CONTENT_TYPES.openmetrics,
    ])
    expect(Object.keys(responses['401']!.content)).toEqual(['application/json'])
  })

  test('reports the build, the Bun runtime and process metrics that work on Bun; Bun stubs are left out', async () => {
    const { call, deps } = await buildTestApp({ env: { BUILD_COMMIT: 'abc1234' } })
    const text = await (await call('/metrics')).text()
    expect(family(text, 'app_build_info')).toEqual({
      [`app_build_info{version="${SERVICE_VERSION}",commit="abc1234"}`]: 1,
    })
    expect(Object.keys(family(text, 'bun_version_info'))).toEqual([
      `bun_version_info{version="${Bun.version}",revision="unknown"}`,
    ])
    // 1 on the embedded database, the pool size on PostgreSQL.
    expect(family(text, 'db_connection_pool_size')).toEqual({
      db_connection_pool_size: deps.database.poolSize,
    })
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'process_start_time_seconds',
      'process_open_fds',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect({ name, value: sample(text, name) }).toEqual({ name, value: expect.any(Number) })
    }
    const types = familyTypes(text)
    for (const stub of [
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_gc_duration_seconds',
    ]) {
      expect(types[stub]).toBeUndefined()
    }
  })

  test('self-metrics: scrape durations and series per family', async () => {
    const { call, deps } = await buildTestApp()
    deps.metrics.business.productViewed({ tenantId: 't', productId: 'p1', channel: 'web' })
    deps.metrics.business.productViewed({ tenantId: 't', productId: 'p2', channel: 'web' })
    await call('/metrics')
    const text = await (await call('/metrics')).text()
    expect(sample(text, 'metrics_scrape_duration_seconds_count')).toBe(1)
    expect(sample(text, 'metrics_series{metric="product_views_total"}')).toBe(2)
    expect(sample(text, 'metrics_series{metric="http_requests_total"}')).toBe(0)
    expect(sample(text, 'metrics_series{metric="app_build_info"}')).toBe(1)
    // A histogram label set is 10 buckets + +Inf + _sum + _count time series.
    expect(sample(text, 'metrics_series{metric="metrics_scrape_duration_seconds"}')).toBe(13)
    const declared = Object.keys(familyTypes(text))
    const counted = Object.keys(family(text, 'metrics_series')).map((key) => /metric="([^"]+)"/.exec(key)![1])
    expect(counted.sort()).toEqual(declared.sort())
  })

  test('two apps in one process have independent registries', async () => {
    const first = await buildTestApp()
    const second = await buildTestApp()
    first.deps.metrics.business.orderCreated({ tenantId: 'only-first', channel: 'web' })
    expect(family(await (await first.call('/metrics')).text(), 'orders_created_total')).toEqual({
      'orders_created_total{tenant_id="only-first",channel="web"}': 1,
    })
    expect(family(await (await second.call('/metrics')).text(), 'orders_created_total')).toEqual({})
  })
})
