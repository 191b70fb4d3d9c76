import { describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Elysia } from 'elysia'
import type { Clock } from '../../src/core/clock.ts'
import { createLogDestination, createLogger, flushLogs, type Logger } from '../../src/core/logger.ts'
import { accessLog } from '../../src/http/access-log.ts'
import { requestContext } from '../../src/http/request-context.ts'
import { buildTestApp } from '../helpers/app.ts'
import { createProduct, createTenant, testPhone } from '../helpers/commerce.ts'
import { captureLogs } from '../helpers/logs.ts'

/**
 * The real app plus probe routes on a clock the test moves: `?ms=` advances it inside the
 * handler, so a request's duration is exactly that many milliseconds.
 */
async function loggedApp(env: Record<string, string> = {}, log?: Logger) {
  let now = 5000
  const clock: Clock = { now: () => new Date(), monotonic: () => now }
  const built = await buildTestApp({ env, clock, ...(log ? { log } : {}) })
  built.app.use(
    new Elysia()
      .get('/probe/users/:id', ({ params, query }) => {
        now += Number(query.ms ?? 0)
        return { id: params.id }
      })
      .get('/probe/boom', () => {
        now += 2
        throw new Error('kaput')
      }),
  )
  const requestLines = () => built.logs.lines.filter((line) => line.msg === 'request')
  return { ...built, requestLines }
}

describe('the access log', () => {
  test('one line per request, with exactly the documented fields in pino order', async () => {
    const { call, logs, requestLines } = await loggedApp()
    await call('/probe/users/7?ms=31.25', {
      headers: {
        'x-request-id': 'req-shape-1',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      },
    })
    expect(requestLines()).toHaveLength(1)
    const raw = logs
      .text()
      .trim()
      .split('\n')
      .find((l) => l.includes('"req-shape-1"'))!
    const line = JSON.parse(raw) as Record<string, unknown>
    expect(Object.keys(line)).toEqual([
      'level',
      'time',
      'name',
      'requestId',
      'trace_id',
      'method',
      'route',
      'status',
      'durationMs',
      'msg',
    ])
    expect(line).toEqual({
      level: 'info',
      time: line.time,
      name: 'convo-commerce',
      requestId: 'req-shape-1',
      trace_id: '0af7651916cd43dd8448eb211c80319c',
      method: 'GET',
      route: '/probe/users/:id',
      status: 200,
      durationMs: 31.25,
      msg: 'request',
    })
    expect(new Date(line.time as string).toISOString()).toBe(line.time as string)
  })

  test('the line matches what pino writes for the same fields (a differential check of the fast path)', async () => {
    const { call, logs } = await loggedApp()
    await call('/probe/users/7?ms=1.5', { headers: { 'x-request-id': 'req-diff-1' } })
    const fast = logs
      .text()
      .trim()
      .split('\n')
      .find((l) => l.includes('"req-diff-1"'))!
    const { time, trace_id } = JSON.parse(fast) as { time: string; trace_id: string }
    logs.log
      .child({ requestId: 'req-diff-1', trace_id })
      .info({ method: 'GET', route: '/probe/users/:id', status: 200, durationMs: 1.5 }, 'request')
    const viaPino = logs.text().trim().split('\n').at(-1)!
    expect(viaPino.replace(/"time":"[^"]+"/, `"time":"${time}"`)).toBe(fast)
  })

  test('a request id JSON must escape (from an injected id generator) is written as pino writes it', async () => {
    const logs = captureLogs()
    const odd = 'id "quoted"\\ \n\u2028 ünï'
    const app = new Elysia()
      .use(requestContext({ log: logs.log, maxBodyBytes: 1024, newId: () => odd, now: () => 0 }))
      .use(accessLog({ log: logs.log, now: () => 2.5 }))
      .get('/probe/:id', () => 'ok')
      .get('/other', () => 'ok')
    for (const path of ['/probe/1', '/probe/2', '/other'])
      await app.handle(new Request(`http://localhost${path}`))
    const fast = logs.text().trim().split('\n')
    expect(fast).toHaveLength(3)
    const { time, trace_id } = JSON.parse(fast[0]!) as { time: string; trace_id: string }
    const viaPino = captureLogs()
    for (const route of ['/probe/:id', '/probe/:id', '/other']) {
      viaPino.log
        .child({ requestId: odd, trace_id })
        .info({ method: 'GET', route, status: 200, durationMs: 2.5 }, 'request')
    }
    const expected = viaPino
      .text()
      .trim()
      .split('\n')
      .map((line) => line.replace(/"time":"[^"]+"/, `"time":"${time}"`))
    // Each request has its own trace id; the first line's stands in for all.
    expect(
      fast.map((line) =>
        line
          .replace(/"time":"[^"]+"/, `"time":"${time}"`)
          .replace(/"trace_id":"[0-9a-f]{32}"/, `"trace_id":"${trace_id}"`),
      ),
    ).toEqual(expected)
    expect(JSON.parse(fast[2]!).requestId).toBe(odd)
  })

  test('through the production log destination (encoded piece by piece) the lines are byte for byte the same', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'access-log-')), 'out.log')
    const fileLog = createLogger({ level: 'info', pretty: false }, createLogDestination({ path }))
    const viaFile = await loggedApp({}, fileLog)
    const viaString = await loggedApp()
    const tenant = await createTenant(viaString.call)
    const product = await createProduct(viaString.call, tenant.apiKey)
    const requests: Array<[string, RequestInit & { token?: string }]> = [
      ['/probe/users/7?ms=31.25', {}],
      ['/probe/users/8?ms=0.0005', {}],
      ['/probe/users/9?ms=1234.5678', {}],
      ['/probe/boom', {}],
      ['/probe/users/1', { method: 'PURGE' }],
      [`/products/${product.id}`, { token: tenant.apiKey }],
      [`/products/${product.id}`, { token: 'wrong-key' }],
    ]
    for (const [n, [path, init]] of requests.entries()) {
      const headers = {
        'x-request-id': `req-bytes-${n}`,
        traceparent: `00-0af7651916cd43dd8448eb211c8031${String(n).padStart(2, '0')}-b7ad6b7169203331-01`,
      }
      for (const app of [viaFile, viaString]) await app.call(path, { ...init, headers })
    }
    await flushLogs(fileLog)
    const requestLines = (text: string) =>
      text
        .split('\n')
        .filter((line) => line.includes('"msg":"request"}') && line.includes('req-bytes-'))
        .map((line) => line.replace(/"time":"[^"]+"/, '"time":"T"'))
    const fromFile = requestLines(readFileSync(path, 'utf8'))
    expect(fromFile).toHaveLength(requests.length)
    expect(fromFile).toEqual(requestLines(viaString.logs.text()))
    expect(fromFile.map((line) => JSON.parse(line).durationMs)).toEqual([31.25, 0.001, 1234.568, 2, 0, 0, 0])
    expect(JSON.parse(fromFile[5]!).tenantId).toBe(tenant.id)
  })

  test('errors and unknown routes are logged with the status sent; unmatched paths as <unmatched>', async () => {
    const { call, requestLines } = await loggedApp()
    expect((await call('/probe/boom')).status).toBe(500)
    expect((await call('/no/such/path/+254700000001')).status).toBe(404)
    expect((await call('/probe/users/1', { method: 'PURGE' })).status).toBe(405)
    expect(
      requestLines().map(({ method, route, status, durationMs }) => ({ method, route, status, durationMs })),
    ).toEqual([
      { method: 'GET', route: '/probe/boom', status: 500, durationMs: 2 },
      { method: 'GET', route: '<unmatched>', status: 404, durationMs: 0 },
      { method: 'PURGE', route: '<unmatched>', status: 405, durationMs: 0 },
    ])
  })

  test('durationMs is the duration http_request_duration_seconds observed, not a reading of its own', async () => {
    // Each reading of the monotonic clock jumps ten times further than the one before, so no
    // two spans between separate readings are the same length.
    let step = 1
    let now = 0
    const clock: Clock = {
      now: () => new Date(),
      monotonic: () => {
        now += step
        step *= 10
        return now
      },
    }
    const { app, deps, logs } = await buildTestApp({ clock })
    app.use(new Elysia().get('/probe/clocked', () => ({ ok: true })))
    await app.handle(new Request('http://localhost/probe/clocked'))
    const [line] = logs.lines.filter((l) => l.msg === 'request' && l.route === '/probe/clocked')
    const observed = deps.metrics.http.duration.labels('GET', '/probe/clocked')
    expect(observed.count).toBe(1)
    expect(observed.sum).toBeGreaterThan(0)
    expect(line!.durationMs).toBe(Math.round(observed.sum * 1000 * 1000) / 1000)
  })

  test('with METRICS_ENABLED=false the line resolves the status itself', async () => {
    const { call, requestLines } = await loggedApp({ METRICS_ENABLED: 'false' })
    expect((await call('/probe/boom')).status).toBe(500)
    expect((await call('/nowhere')).status).toBe(404)
    expect((await call('/probe/users/3?ms=4')).status).toBe(200)
    expect(requestLines().map(({ route, status, durationMs }) => ({ route, status, durationMs }))).toEqual([
      { route: '/probe/boom', status: 500, durationMs: 2 },
      { route: '<unmatched>', status: 404, durationMs: 0 },
      { route: '/probe/users/:id', status: 200, durationMs: 4 },
    ])
  })

  test('requests rejected before their handler keep their route: 413, 415 and 400 on POST /orders', async () => {
    const { call, requestLines } = await loggedApp({ MAX_BODY_BYTES: '64' })
    const big = JSON.stringify({ pad: 'x'.repeat(100) })
    const json = { 'content-type': 'application/json' }
    const rejected = [
      await call('/orders', {
        method: 'POST',
        body: big,
        headers: { ...json, 'content-length': String(big.length) },
      }),
      await call('/orders', { method: 'POST', body: 'qty=1', headers: { 'content-type': 'text/plain' } }),
      await call('/orders', { method: 'POST', body: '{"items":', headers: json }),
    ]
    expect(rejected.map((r) => r.status)).toEqual([413, 415, 400])
    expect(requestLines().map(({ route, status }) => ({ route, status }))).toEqual([
      { route: '/orders', status: 413 },
      { route: '/orders', status: 415 },
      { route: '/orders', status: 400 },
    ])
  })

  test('an authenticated request carries its tenantId once; no key or phone number reaches the log', async () => {
    const { call, logs, requestLines } = await loggedApp()
    const tenant = await createTenant(call)
    const product = await createProduct(call, tenant.apiKey)
    const phone = testPhone()
    await call(`/products/${product.id}?channel=whatsapp`, {
      token: tenant.apiKey,
      headers: { 'x-request-id': 'req-tenant-1' },
    })
    // A phone number as a path parameter and a secret in the query string.
    await call(`/products/${encodeURIComponent(phone)}?token=hunter2-secret`, { token: tenant.apiKey })
    const raw = logs
      .text()
      .split('\n')
      .find((l) => l.includes('"req-tenant-1"'))!
    expect(raw.match(/"tenantId"/g)).toHaveLength(1)
    expect(requestLines().slice(-2)).toEqual([
      expect.objectContaining({ route: '/products/:id', status: 200, tenantId: tenant.id }),
      expect.objectContaining({ route: '/products/:id', status: 422, tenantId: tenant.id }),
    ])
    const text = logs.text()
    expect(text).not.toContain(tenant.apiKey)
    expect(text).not.toContain(phone)
    expect(text).not.toContain(phone.slice(1))
    expect(text).not.toContain('hunter2-secret')
  })

  test('/health* and /metrics are not logged by default', async () => {
    const { call, requestLines } = await loggedApp()
    for (const path of ['/health', '/health/db', '/metrics', '/probe/users/1']) {
      expect((await call(path)).status).toBe(200)
    }
    expect(requestLines().map((l) => l.route)).toEqual(['/probe/users/:id'])
  })

  test('ACCESS_LOG_PROBES=true logs them too', async () => {
    const { call, requestLines } = await loggedApp({ ACCESS_LOG_PROBES: 'true' })
    for (const path of ['/health', '/health/db', '/metrics']) expect((await call(path)).status).toBe(200)
    expect(requestLines().map(({ route, status }) => ({ route, status }))).toEqual([
      { route: '/health', status: 200 },
      { route: '/health/db', status: 200 },
      { route: '/metrics', status: 200 },
    ])
  })

  test('above info (LOG_LEVEL=warn) nothing is written, and failures still get their error line', async () => {
    const built = await buildTestApp()
    built.logs.log.level = 'warn'
    built.app.get('/probe/boom', () => {
      throw new Error('kaput')
    })
    await built.call('/health/nothing-here')
    expect((await built.call('/probe/boom', { headers: { 'x-request-id': 'req-warn-1' } })).status).toBe(500)
    expect(built.logs.lines.map(({ level, msg, requestId }) => ({ level, msg, requestId }))).toEqual([
      { level: 'error', msg: 'request failed', requestId: 'req-warn-1' },
    ])
  })
})
