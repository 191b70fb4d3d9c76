import { describe, expect, test } from 'bun:test'
import { Elysia, status, t } from 'elysia'
import type { Clock } from '../../src/core/clock.ts'
import { createLogger } from '../../src/core/logger.ts'
import { DISCONNECT_CHECK_SECONDS } from '../../src/http/http-metrics.ts'
import { createMetrics } from '../../src/metrics.ts'
import { buildTestApp } from '../helpers/app.ts'
import { exemplars, family, histogramSeries, sample } from '../helpers/scrape.ts'

/**
 * The real app plus probe routes, on a clock the test moves: `?ms=` advances it inside the
 * handler, so a request's measured duration is exactly that many milliseconds. With
 * `wallClock`, exemplars are stamped with it.
 */
async function probeApp(env: Record<string, string> = {}, wallClock?: () => number) {
  let now = 1000
  const clock: Clock = { now: () => new Date(), monotonic: () => now }
  const advance = (ms: unknown) => {
    now += Number(ms ?? 0)
  }
  let release: (() => void) | undefined
  const metrics = wallClock
    ? createMetrics({ log: createLogger({ level: 'silent', pretty: false }), clock: wallClock })
    : undefined
  const built = await buildTestApp({ env, clock, ...(metrics ? { metrics } : {}) })
  built.app.use(
    new Elysia()
      .get('/probe/users/:id', ({ params, query }) => {
        advance(query.ms)
        return { id: params.id }
      })
      .get('/probe/orders/:id', ({ params }) => ({ id: params.id }))
      .get('/probe/boom', () => {
        throw new Error('kaput')
      })
      .get('/probe/conflict', () =>
        status(409, { error: { code: 'CONFLICT', message: 'taken', requestId: 'x' } }),
      )
      .get('/probe/raw', () => new Response('no', { status: 401 }))
      .post('/probe/echo', ({ body }) => body, {
        body: t.Object({ qty: t.Integer({ minimum: 1 }) }, { additionalProperties: false }),
      })
      .route('PURGE', '/probe/cache', () => ({ purged: true }))
      .get('/probe/wait', async ({ query }) => {
        await new Promise<void>((resolve) => {
          release = resolve
        })
        advance(query.ms ?? 5000)
        return { done: true }
      }),
  )
  const scrape = async (init: RequestInit & { token?: string } = {}) =>
    (await built.call('/metrics', init)).text()
  return { ...built, scrape, release: () => release?.() }
}

const requests = (text: string) => family(text, 'http_requests_total')
const durations = (text: string) => family(text, 'http_request_duration_seconds')

describe('http_requests_total and http_request_duration_seconds', () => {
  test('a matched route is counted under its template, with cumulative buckets and _count equal to the counter', async () => {
    const { call, scrape } = await probeApp()
    for (const [id, ms] of [
      ['1', 31.25],
      ['2', 250],
      ['3', 3000],
    ]) {
      expect((await call(`/probe/users/${id}?ms=${ms}`)).status).toBe(200)
    }
    const text = await scrape()
    expect(requests(text)).toEqual({
      'http_requests_total{method="GET",endpoint="/probe/users/:id",status="200"}': 3,
    })
    // 0.03125 s, 0.25 s (a bucket bound is inclusive) and 3 s.
    expect(durations(text)).toEqual(
      histogramSeries(
        'http_request_duration_seconds',
        'method="GET",endpoint="/probe/users/:id"',
        [0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3],
        3.28125,
      ),
    )
  })

  test('404s on any number of unknown paths share one series', async () => {
    const { call, scrape } = await probeApp()
    const paths = [
      '/wp-admin/setup-config.php',
      '/.env',
      '/users/1/../../etc/passwd',
      '/probe/users',
      '/probe/users/1/extra',
      ...Array.from({ length: 20 }, (_, i) => `/scan/${crypto.randomUUID()}/${i}`),
    ]
    for (const path of paths) expect((await call(path)).status).toBe(404)
    const text = await scrape()
    expect(requests(text)).toEqual({
      'http_requests_total{method="GET",endpoint="<unmatched>",status="404"}': 25,
    })
    expect(Object.keys(durations(text))).toEqual(
      Object.keys(
        histogramSeries(
          'http_request_duration_seconds',
          'method="GET",endpoint="<unmatched>"',
          Array(13).fill(0),
          0,
        ),
      ),
    )
    expect(sample(text, 'http_request_duration_seconds_count{method="GET",endpoint="<unmatched>"}')).toBe(25)
  })

  test('the status is what was sent: thrown errors, returned errors, Responses, validation and parse failures', async () => {
    const { call, scrape } = await probeApp({ MAX_BODY_BYTES: '64' })
    expect((await call('/probe/boom')).status).toBe(500)
    expect((await call('/probe/conflict')).status).toBe(409)
    expect((await call('/probe/raw')).status).toBe(401)
    expect((await call('/probe/echo', { method: 'POST', json: { qty: 'many' } })).status).toBe(422)
    expect((await call('/probe/echo', { method: 'POST', json: { qty: 2 } })).status).toBe(200)
    const malformed = { method: 'POST', body: '{"qty":', headers: { 'content-type': 'application/json' } }
    expect((await call('/probe/echo', malformed)).status).toBe(400)
    // Refused by its declared length, before a byte of the body is read.
    const big = JSON.stringify({ qty: 1, pad: 'x'.repeat(100) })
    const declared = { 'content-type': 'application/json', 'content-length': String(big.length) }
    expect((await call('/probe/echo', { method: 'POST', body: big, headers: declared })).status).toBe(413)
    expect(requests(await scrape())).toEqual({
      'http_requests_total{method="GET",endpoint="/probe/boom",status="500"}': 1,
      'http_requests_total{method="GET",endpoint="/probe/conflict",status="409"}': 1,
      'http_requests_total{method="GET",endpoint="/probe/raw",status="401"}': 1,
      'http_requests_total{method="POST",endpoint="/probe/echo",status="422"}': 1,
      'http_requests_total{method="POST",endpoint="/probe/echo",status="200"}': 1,
      'http_requests_total{method="POST",endpoint="/probe/echo",status="400"}': 1,
      'http_requests_total{method="POST",endpoint="/probe/echo",status="413"}': 1,
    })
  })

  test('requests refused before their handler runs are counted under their route: 413, 415, 400 on POST /orders', async () => {
    const { call, scrape } = await probeApp({ MAX_BODY_BYTES: '64' })
    const big = JSON.stringify({ items: [], pad: 'x'.repeat(100) })
    const json = { 'content-type': 'application/json' }
    const post = (body: string, headers: Record<string, string>) =>
      call('/orders', { method: 'POST', body, headers })
    expect((await post(big, { ...json, 'content-length': String(big.length) })).status).toBe(413)
    expect((await post('items=1', { 'content-type': 'text/plain' })).status).toBe(415)
    expect((await post('{"items":', json)).status).toBe(400)
    expect((await call('/no/such/route', { method: 'POST', body: big, headers: json })).status).toBe(404)
    const text = await scrape()
    expect(requests(text)).toEqual({
      'http_requests_total{method="POST",endpoint="/orders",status="413"}': 1,
      'http_requests_total{method="POST",endpoint="/orders",status="415"}': 1,
      'http_requests_total{method="POST",endpoint="/orders",status="400"}': 1,
      'http_requests_total{method="POST",endpoint="<unmatched>",status="404"}': 1,
    })
    expect(sample(text, 'http_request_duration_seconds_count{method="POST",endpoint="/orders"}')).toBe(3)
  })

  test('methods outside the standard set become _OTHER, matched or not', async () => {
    const { call, scrape } = await probeApp()
    expect((await call('/probe/users/1', { method: 'PURGE' })).status).toBe(405)
    expect((await call('/probe/cache', { method: 'PURGE', json: {} })).status).toBe(200)
    expect((await call('/probe/users/1', { method: 'HEAD' })).status).toBe(200)
    expect(requests(await scrape())).toEqual({
      'http_requests_total{method="_OTHER",endpoint="<unmatched>",status="405"}': 1,
      'http_requests_total{method="_OTHER",endpoint="/probe/cache",status="200"}': 1,
      'http_requests_total{method="HEAD",endpoint="/probe/users/:id",status="200"}': 1,
    })
  })

  /**
   * GET /probe/wait whose client goes away 5 ms in; the handler then takes `ms` on the test's
   * clock. Returns the scrape's http_requests_total.
   */
  async function abandonedRequest(ms: number) {
    const { app, scrape, release } = await probeApp()
    const abort = new AbortController()
    const pending = app.handle(new Request(`http://localhost/probe/wait?ms=${ms}`, { signal: abort.signal }))
    await Bun.sleep(5)
    abort.abort()
    release()
    await pending
    await Bun.sleep(1)
    return requests(await scrape())
  }

  test('a client that disconnects before the response (here after 5 ms) is recorded as 499', async () => {
    expect(await abandonedRequest(5000)).toEqual({
      'http_requests_total{method="GET",endpoint="/probe/wait",status="499"}': 1,
    })
  })

  test('a request answered within DISCONNECT_CHECK_SECONDS is recorded with its status even if its client left', async () => {
    expect(await abandonedRequest(DISCONNECT_CHECK_SECONDS * 1000 - 1)).toEqual({
      'http_requests_total{method="GET",endpoint="/probe/wait",status="200"}': 1,
    })
  })

  test('http_requests_in_flight counts requests being served, without an endpoint label', async () => {
    const { app, scrape, release } = await probeApp()
    const pending = app.handle(new Request('http://localhost/probe/wait'))
    await Bun.sleep(5)
    expect(family(await scrape(), 'http_requests_in_flight')).toEqual({ http_requests_in_flight: 1 })
    release()
    expect((await pending).status).toBe(200)
    expect(family(await scrape(), 'http_requests_in_flight')).toEqual({ http_requests_in_flight: 0 })
  })

  test('the /metrics and /health* routes are not counted by default, and a scrape does not see itself in flight', async () => {
    const { call, scrape } = await probeApp()
    await call('/health')
    await call('/health/db')
    await scrape()
    const text = await scrape()
    expect(requests(text)).toEqual({})
    expect(durations(text)).toEqual({})
    expect(family(text, 'http_requests_in_flight')).toEqual({ http_requests_in_flight: 0 })
    // Exclusion is by route template: an unknown path under /health is an unmatched request.
    await call('/health/nope')
    expect(requests(await scrape())).toEqual({
      'http_requests_total{method="GET",endpoint="<unmatched>",status="404"}': 1,
    })
  })

  test('METRICS_EXCLUDE_PATHS=none counts them too', async () => {
    const { call, scrape } = await probeApp({ METRICS_EXCLUDE_PATHS: 'none' })
    await call('/health')
    await scrape()
    expect(requests(await scrape())).toEqual({
      'http_requests_total{method="GET",endpoint="/health",status="200"}': 1,
      'http_requests_total{method="GET",endpoint="/metrics",status="200"}': 1,
    })
  })

  test('past the series limit new label sets fold into __overflow__, counted once each, with one warning', async () => {
    const { call, scrape, logs } = await probeApp({
      METRICS_SERIES_LIMITS: 'http_requests_total=2,http_request_duration_seconds=2',
    })
    await call('/probe/users/1')
    await call('/probe/orders/1')
    await call('/probe/boom')
    await call('/probe/raw')
    await call('/probe/raw')
    await call('/probe/users/2')
    const text = await scrape()
    expect(requests(text)).toEqual({
      'http_requests_total{method="GET",endpoint="/probe/users/:id",status="200"}': 2,
      'http_requests_total{method="GET",endpoint="/probe/orders/:id",status="200"}': 1,
      'http_requests_total{method="__overflow__",endpoint="__overflow__",status="__overflow__"}': 3,
    })
    expect(
      sample(text, 'http_request_duration_seconds_count{method="__overflow__",endpoint="__overflow__"}'),
    ).toBe(3)
    // The other budgeted families sit at 0 (tests/observability/business-metrics.test.ts).
    const overflowed = Object.entries(family(text, 'metrics_cardinality_overflow_total')).filter(
      ([, value]) => value !== 0,
    )
    expect(Object.fromEntries(overflowed)).toEqual({
      'metrics_cardinality_overflow_total{metric="http_request_duration_seconds"}': 3,
      'metrics_cardinality_overflow_total{metric="http_requests_total"}': 3,
    })
    const warnings = logs.lines.filter((line) => line.level === 'warn').map((line) => line.metric)
    expect(warnings).toEqual(['http_request_duration_seconds', 'http_requests_total'])
  })

  test('over a mixed workload every histogram _count equals the sum of its counters and buckets never decrease', async () => {
    const { call, scrape } = await probeApp()
    for (let i = 0; i < 7; i++) await call(`/probe/users/${i}?ms=${i * 400}`)
    for (let i = 0; i < 3; i++) await call(`/nowhere/${i}`)
    await call('/probe/boom')
    await call('/probe/echo', { method: 'POST', json: { qty: 0 } })
    await call('/probe/echo', { method: 'POST', json: { qty: 1 } })
    const text = await scrape()
    const counted = new Map<string, number>()
    for (const [key, value] of Object.entries(requests(text))) {
      const labels = key.slice(key.indexOf('{') + 1, key.indexOf(',status='))
      counted.set(labels, (counted.get(labels) ?? 0) + value)
    }
    expect(counted.size).toBe(4)
    for (const [labels, total] of counted) {
      expect({ labels, count: sample(text, `http_request_duration_seconds_count{${labels}}`) }).toEqual({
        labels,
        count: total,
      })
      const buckets = Object.entries(durations(text))
        .filter(([key]) => key.startsWith(`http_request_duration_seconds_bucket{${labels},`))
        .map(([, value]) => value)
      expect(buckets).toHaveLength(13)
      expect(buckets).toEqual([...buckets].sort((a, b) => a - b))
      expect(buckets.at(-1)).toBe(total)
    }
  })
  test("a request's duration runs from the request state's start: the clock is read once at each end", async () => {
    // A clock that moves 1 ms at every reading: any reading besides the request state's start
    // and the metrics' end (the metrics' own start, as before) would make the duration 2 ms.
    let readings = 0
    const clock: Clock = { now: () => new Date(), monotonic: () => ++readings }
    const { call, logs } = await buildTestApp({ clock })
    expect((await call('/nowhere', { headers: { 'x-request-id': 'req-one-reading' } })).status).toBe(404)
    expect(readings).toBe(2)
    const line = logs.lines.find((l) => l.requestId === 'req-one-reading')
    expect(line?.durationMs).toBe(1)
  })
})

describe('exemplars', () => {
  const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
  const OTHER_TRACE = '0af7651916cd43dd8448eb211c80319c'
  const traced = (traceId: string, requestId: string) => ({
    headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, 'x-request-id': requestId },
  })
  const openMetrics = { headers: { accept: 'application/openmetrics-text; version=1.0.0' } }
  const at = 1_700_000_000.123

  test("the OpenMetrics scrape has the request's trace id on exactly the bucket it fell in, and a 5xx's on its counter series", async () => {
    const { call, scrape } = await probeApp({}, () => 1_700_000_000_123)
    expect((await call('/probe/users/1?ms=31.25', traced(TRACE, 'req-fast'))).status).toBe(200)
    expect((await call('/probe/boom', traced(OTHER_TRACE, 'req-boom'))).status).toBe(500)
    expect(exemplars(await scrape(openMetrics))).toEqual({
      // 0.03125 s lands in le="0.05"; the cumulative lines above it carry no copy.
      'http_request_duration_seconds_bucket{method="GET",endpoint="/probe/users/:id",le="0.05"}': {
        labels: { trace_id: TRACE, request_id: 'req-fast' },
        value: 0.03125,
        timestamp: at,
      },
      'http_request_duration_seconds_bucket{method="GET",endpoint="/probe/boom",le="0.005"}': {
        labels: { trace_id: OTHER_TRACE, request_id: 'req-boom' },
        value: 0,
        timestamp: at,
      },
      'http_requests_total{method="GET",endpoint="/probe/boom",status="500"}': {
        labels: { trace_id: OTHER_TRACE, request_id: 'req-boom' },
        value: 1,
        timestamp: at,
      },
    })
  })

  test("a request's access line carries its exemplar's timestamp as its time; a request without an exemplar, the clock's", async () => {
    // A wall clock that moves 1 ms at every reading: a second reading for the line would show.
    let wall = 1_700_000_000_123
    const { call, scrape, logs } = await probeApp({ ACCESS_LOG_PROBES: 'true' }, () => wall++)
    await call('/probe/users/1?ms=31.25', traced(TRACE, 'req-timed'))
    const [exemplar] = Object.values(exemplars(await scrape(openMetrics)))
    expect(exemplar?.timestamp).toBe(at)
    const line = logs.lines.find((l) => l.requestId === 'req-timed')
    expect(line?.time).toBe('2023-11-14T22:13:20.123Z')
    // A probe is not counted, so it has no exemplar: its line (ACCESS_LOG_PROBES) reads Date.now.
    const before = Date.now()
    await call('/health', { headers: { 'x-request-id': 'req-untimed' } })
    const untimed = logs.lines.find((l) => l.requestId === 'req-untimed')
    expect(Date.parse(untimed?.time as string)).toBeGreaterThanOrEqual(before)
  })

  test('the latest request of a bucket replaces its exemplar; a 4xx leaves the counter without one', async () => {
    const { call, scrape } = await probeApp({}, () => 1_700_000_000_123)
    await call('/probe/users/1?ms=200', traced(TRACE, 'req-1'))
    await call('/probe/users/2?ms=150', traced(OTHER_TRACE, 'req-2'))
    await call('/probe/conflict', traced(TRACE, 'req-3'))
    const found = exemplars(await scrape(openMetrics))
    expect(Object.keys(found)).toEqual([
      'http_request_duration_seconds_bucket{method="GET",endpoint="/probe/users/:id",le="0.25"}',
      'http_request_duration_seconds_bucket{method="GET",endpoint="/probe/conflict",le="0.005"}',
    ])
    expect(Object.values(found).map((e) => [e.labels.request_id, e.value])).toEqual([
      ['req-2', 0.15],
      ['req-3', 0],
    ])
  })

  test('a request id too long for the 128-character limit beside the trace id is left out', async () => {
    const { call, scrape } = await probeApp()
    const longId = 'r'.repeat(100)
    await call('/probe/boom', traced(TRACE, longId))
    const found = Object.values(exemplars(await scrape(openMetrics)))
    expect(found.map((e) => e.labels)).toEqual([{ trace_id: TRACE }, { trace_id: TRACE }])
  })

  test('the text format 0.0.4 carries none', async () => {
    const { call, scrape } = await probeApp()
    await call('/probe/boom', traced(TRACE, 'req-boom'))
    const text = await scrape()
    expect(text).toContain('http_requests_total{method="GET",endpoint="/probe/boom",status="500"} 1\n')
    expect(text.split('\n').filter((line) => !line.startsWith('#') && line.includes('#'))).toEqual([])
    // The same scrape in OpenMetrics does have them.
    expect(Object.keys(exemplars(await scrape(openMetrics)))).toHaveLength(2)
  })
})

describe('METRICS_ENABLED=false', () => {
  test('requests and business events are not recorded; /metrics still serves process metrics', async () => {
    const { call, deps } = await probeApp({ METRICS_ENABLED: 'false' })
    await call('/probe/users/1')
    await call('/nowhere')
    deps.metrics.business.orderCreated({ tenantId: 't', channel: 'web' })
    const response = await call('/metrics')
    expect(response.status).toBe(200)
    const text = await response.text()
    expect(requests(text)).toEqual({})
    expect(durations(text)).toEqual({})
    expect(family(text, 'orders_created_total')).toEqual({})
    expect(deps.metrics.observeQuery).toBeUndefined()
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0)
    expect(text).toContain('# TYPE http_requests_total counter')
  })
})
