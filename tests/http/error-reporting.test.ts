/**
 * What the error boundary hands to the ErrorReporter, through the real app (app.handle), with a
 * reporter that records calls. The SDK side is covered against the ingestion fake in
 * sentry-sdk.test.ts; this pins the exactly-once and never-4xx rules precisely and fast.
 */
import { describe, expect, test } from 'bun:test'
import { Elysia, t } from 'elysia'
import { AppError, unauthorized } from '../../src/core/errors.ts'
import type { ErrorReporter, ServerErrorReport } from '../../src/observability/error-reporter.ts'
import { buildTestApp } from '../helpers/app.ts'

function recordingReporter() {
  const calls = {
    serverErrors: [] as ServerErrorReport[],
    routed: [] as Array<[string, string]>,
    finished: [] as Array<[string, number, string | undefined]>,
  }
  const reporter: ErrorReporter = {
    enabled: true,
    captureServerError: (report) => calls.serverErrors.push(report),
    capturePaymentProviderError() {},
    activeTraceId: () => undefined,
    requestRouted: (request, route) => calls.routed.push([request.headers.get('x-request-id') ?? '', route]),
    requestFinished: (request, status, route) =>
      calls.finished.push([request.headers.get('x-request-id') ?? '', status, route]),
    flush: async () => true,
  }
  return { reporter, calls }
}

const probes = () =>
  new Elysia()
    .get('/probe/boom/:id', () => {
      throw new Error('boom')
    })
    .get('/probe/bad-gateway', () => {
      throw new AppError(502, 'PROVIDER_ERROR', 'provider failed')
    })
    .get('/probe/returned', ({ status }) => status(503, { error: 'down' }))
    .get('/probe/set-status', ({ set }) => {
      set.status = 500
      return 'failed'
    })
    .get('/probe/response', () => new Response('gateway timeout', { status: 504 }))
    .get('/probe/unauthorized', () => {
      throw unauthorized()
    })
    .post('/probe/validated', ({ body }) => body, { body: t.Object({ qty: t.Integer({ minimum: 1 }) }) })

async function setup() {
  const { reporter, calls } = recordingReporter()
  const onServerError: ServerErrorReport[] = []
  const built = await buildTestApp({ errorReporter: reporter, onServerError: (r) => onServerError.push(r) })
  built.app.use(probes())
  const get = (path: string, id: string, init: RequestInit = {}) =>
    built.call(path, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), 'x-request-id': id },
    })
  return { ...built, calls, onServerError, get }
}

const summary = (reports: ServerErrorReport[]) =>
  reports.map((r) => ({
    id: r.request.headers.get('x-request-id'),
    status: r.status,
    route: r.route,
    error: r.error instanceof Error ? r.error.message : r.error,
  }))

describe('the error boundary reports to the ErrorReporter', () => {
  test('a thrown error: once, with status, route template and the error', async () => {
    const { get, calls, onServerError } = await setup()
    expect((await get('/probe/boom/1', 'thrown')).status).toBe(500)
    expect((await get('/probe/bad-gateway', 'mapped')).status).toBe(502)
    expect(summary(calls.serverErrors)).toEqual([
      { id: 'thrown', status: 500, route: '/probe/boom/:id', error: 'boom' },
      { id: 'mapped', status: 502, route: '/probe/bad-gateway', error: 'provider failed' },
    ])
    // The app's own onServerError hook still runs.
    expect(summary(onServerError)).toEqual(summary(calls.serverErrors))
  })

  test.each([
    ['/probe/returned', 503],
    ['/probe/set-status', 500],
    ['/probe/response', 504],
  ])('a returned %s (%i): once, after the response, without an error', async (path, status) => {
    const { get, calls } = await setup()
    expect((await get(path, 'returned')).status).toBe(status)
    expect(summary(calls.serverErrors)).toEqual([{ id: 'returned', status, route: path, error: undefined }])
  })

  test('4xx never', async () => {
    const { get, calls } = await setup()
    expect((await get('/probe/unauthorized', 'a')).status).toBe(401)
    expect((await get('/no/such/route', 'b')).status).toBe(404)
    const invalid = await get('/probe/validated', 'c', {
      method: 'POST',
      body: '{"qty":0}',
      headers: { 'content-type': 'application/json' },
    })
    expect(invalid.status).toBe(422)
    const malformed = await get('/probe/validated', 'd', {
      method: 'POST',
      body: '{',
      headers: { 'content-type': 'application/json' },
    })
    expect(malformed.status).toBe(400)
    expect(calls.serverErrors).toEqual([])
  })

  test('every routed request is named by its template, and every request reports how it ended', async () => {
    const { get, calls } = await setup()
    await get('/health', 'ok')
    await get('/probe/boom/7', 'thrown')
    await get('/no/such/route', 'unmatched')
    expect(calls.routed).toEqual([
      ['ok', '/health'],
      ['thrown', '/probe/boom/:id'],
    ])
    expect(calls.finished.map(([id, status]) => [id, status])).toEqual([
      ['ok', 200],
      ['thrown', 500],
      ['unmatched', 404],
    ])
    expect(calls.finished[1]![2]).toBe('/probe/boom/:id')
  })
})

test('with Sentry off the app installs no reporting hooks', async () => {
  const hooks = (app: { event: { transform?: unknown[]; afterResponse?: unknown[] } }) => ({
    transform: app.event.transform?.length ?? 0,
    afterResponse: app.event.afterResponse?.length ?? 0,
  })
  const off = hooks((await buildTestApp()).app)
  const on = hooks((await buildTestApp({ errorReporter: recordingReporter().reporter })).app)
  expect(on).toEqual({ transform: off.transform + 1, afterResponse: off.afterResponse + 1 })
})
