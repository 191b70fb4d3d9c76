/**
 * createSentryReporter against a recording stand-in for the SDK: which scope data goes with
 * which capture, the merge rules of payment failures, and that reporting never throws or
 * waits. The real SDK is exercised in sentry-sdk.test.ts.
 */
import { describe, expect, test } from 'bun:test'
import { AppError } from '../../src/core/errors.ts'
import { requestState } from '../../src/http/request-context.ts'
import { createMetrics } from '../../src/metrics.ts'
import type { PaymentProviderFailure } from '../../src/observability/error-reporter.ts'
import { createSentryReporter, type SentrySdk, type SentrySpan } from '../../src/observability/sentry.ts'
import { buildTestApp } from '../helpers/app.ts'
import { captureLogs } from '../helpers/logs.ts'

interface Capture {
  kind: 'exception' | 'message'
  value: unknown
  tags: Record<string, string>
  contexts: Record<string, unknown>
  extras: Record<string, unknown>
  user?: { id: string }
  transaction?: string
}

const SENTRY_TRACE_ID = 'a'.repeat(32)

function fakeSdk(
  options: { activeSpan?: boolean; flush?: () => PromiseLike<boolean>; explode?: boolean } = {},
) {
  const captures: Capture[] = []
  const spanCalls: string[] = []
  let current: Capture | undefined
  const root: SentrySpan = {
    setAttribute: (key, value) => spanCalls.push(`attr ${key}=${value}`),
    spanContext: () => ({ traceId: SENTRY_TRACE_ID, spanId: 'b'.repeat(16) }),
  }
  const sdk: SentrySdk = {
    withScope(callback) {
      if (options.explode) throw new Error('sdk broken')
      current = { kind: 'message', value: undefined, tags: {}, contexts: {}, extras: {} }
      const scope = {
        setTag: (k: string, v: string) => {
          current!.tags[k] = v
        },
        setContext: (k: string, v: Record<string, unknown>) => {
          current!.contexts[k] = v
        },
        setExtra: (k: string, v: unknown) => {
          current!.extras[k] = v
        },
        setUser: (u: { id: string }) => {
          current!.user = u
        },
        setTransactionName: (n: string) => {
          current!.transaction = n
        },
      }
      try {
        return callback(scope)
      } finally {
        current = undefined
      }
    },
    captureException(exception) {
      captures.push({ ...current!, kind: 'exception', value: exception })
      return 'id'
    },
    captureMessage(message) {
      captures.push({ ...current!, kind: 'message', value: message })
      return 'id'
    },
    getActiveSpan: () => (options.activeSpan ? { ...root, setAttribute: () => {} } : undefined),
    getRootSpan: () => root,
    updateSpanName: (_span, name) => {
      spanCalls.push(`name ${name}`)
    },
    flush: (timeout) => (options.flush ? options.flush() : Promise.resolve(timeout !== undefined)),
  }
  return { sdk, captures, spanCalls }
}

const providerError = new Error('gateway timeout for +4915112345678')
const failure: PaymentProviderFailure = {
  provider: 'mpesa',
  paymentId: 'pay-1',
  orderId: 'ord-1',
  amountMinor: 990,
  currency: 'KES',
  error: providerError,
}

/** A request that went through the app's request context (so it has a request id and state). */
async function servedRequest(
  id: string,
  tenantId?: string,
  headers: Record<string, string> = {},
): Promise<Request> {
  let seen: Request | undefined
  const { app, call } = await buildTestApp()
  app.get('/probe/capture', ({ request }) => {
    seen = request
    return 'ok'
  })
  await call('/probe/capture', { headers: { 'x-request-id': id, ...headers } })
  if (tenantId) requestState(seen!)!.tenantId = tenantId
  return seen!
}

describe('createSentryReporter', () => {
  test('a server error carries the request data on its own scope', async () => {
    const { sdk, captures } = fakeSdk()
    const reporter = createSentryReporter(sdk, requestState)
    const request = await servedRequest('req-1', 'tenant-1')
    const error = new Error('boom')
    reporter.captureServerError({ error, request, status: 500, route: '/orders/:id' })
    const traceId = requestState(request)!.traceId
    expect(traceId).toMatch(/^[0-9a-f]{32}$/)
    expect(captures).toEqual([
      {
        kind: 'exception',
        value: error,
        transaction: 'GET /orders/:id',
        tags: { request_id: 'req-1', 'http.method': 'GET', tenant_id: 'tenant-1', 'http.status_code': '500' },
        // No Sentry span runs the request here: the event names the request's own trace.
        contexts: { trace: { trace_id: traceId, span_id: expect.stringMatching(/^[0-9a-f]{16}$/) } },
        extras: {},
        user: { id: 'tenant-1' },
      },
    ])
  })

  test("an event is in the caller's trace: the traceparent's trace id, its span as the parent", async () => {
    const { sdk, captures } = fakeSdk({ activeSpan: true })
    const request = await servedRequest('req-tp', undefined, {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    })
    createSentryReporter(sdk, requestState).captureServerError({
      error: new Error('x'),
      request,
      status: 500,
    })
    expect(captures[0]!.contexts).toEqual({
      trace: {
        trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
        span_id: expect.stringMatching(/^[0-9a-f]{16}$/),
        parent_span_id: '00f067aa0ba902b7',
      },
    })
  })

  test("an event in Sentry's own request trace keeps the trace context Sentry gives it", async () => {
    const { sdk, captures } = fakeSdk({ activeSpan: true })
    const reporter = createSentryReporter(sdk, requestState)
    expect(reporter.activeTraceId()).toBe(SENTRY_TRACE_ID)
    const request = await servedRequest('req-s')
    // As when the request-context hook took Sentry's trace id for a request without traceparent.
    requestState(request)!.traceId = SENTRY_TRACE_ID
    reporter.captureServerError({ error: new Error('x'), request, status: 500 })
    expect(captures[0]!.contexts).toEqual({})
  })

  test('a returned 5xx becomes an error message naming route and status', async () => {
    const { sdk, captures } = fakeSdk()
    createSentryReporter(sdk, requestState).captureServerError({
      request: await servedRequest('req-2'),
      status: 503,
      route: '/health/db',
    })
    expect(captures.map((c) => [c.kind, c.value, c.tags.tenant_id, c.user])).toEqual([
      ['message', 'GET /health/db answered 503', undefined, undefined],
    ])
  })

  test('a payment failure is held until the request ends and merged into its 5xx', async () => {
    const { sdk, captures } = fakeSdk()
    const reporter = createSentryReporter(sdk, requestState)
    const request = await servedRequest('req-3', 'shop')
    reporter.capturePaymentProviderError(request, failure)
    expect(captures).toEqual([])
    reporter.captureServerError({
      error: new AppError(502, 'PROVIDER_ERROR', 'provider failed'),
      request,
      status: 502,
      route: '/orders/:id/payments',
    })
    reporter.requestFinished(request, 502, '/orders/:id/payments')
    expect(captures).toHaveLength(1)
    expect(captures[0]).toMatchObject({
      kind: 'exception',
      value: providerError,
      tags: { payment_provider: 'mpesa', 'http.status_code': '502', request_id: 'req-3' },
      contexts: { payment_data: { paymentId: 'pay-1', orderId: 'ord-1', amountMinor: 990, currency: 'KES' } },
      extras: { payment_state: 'failed', error_details: 'gateway timeout for [phone]' },
    })
  })

  test('an unexpected error in the same request stays the exception, with the payment context', async () => {
    const { sdk, captures } = fakeSdk()
    const reporter = createSentryReporter(sdk, requestState)
    const request = await servedRequest('req-4')
    reporter.capturePaymentProviderError(request, failure)
    const bug = new TypeError('cannot read settle of undefined')
    reporter.captureServerError({ error: bug, request, status: 500, route: '/orders/:id/payments' })
    expect(captures).toHaveLength(1)
    expect(captures[0]!.value).toBe(bug)
    expect(captures[0]!.tags.payment_provider).toBe('mpesa')
  })

  test('a held payment failure is sent when the request ends without a 5xx', async () => {
    const { sdk, captures } = fakeSdk()
    const reporter = createSentryReporter(sdk, requestState)
    const request = await servedRequest('req-5')
    reporter.capturePaymentProviderError(request, failure)
    reporter.requestFinished(request, 200, '/orders/:id/payments')
    reporter.requestFinished(request, 200, '/orders/:id/payments')
    expect(captures.map((c) => [c.value, c.tags['http.status_code'], c.transaction])).toEqual([
      [providerError, '200', 'GET /orders/:id/payments'],
    ])
  })

  test('routing renames the request root span after the route template, when there is one', async () => {
    const traced = fakeSdk({ activeSpan: true })
    const request = await servedRequest('req-6')
    createSentryReporter(traced.sdk, requestState).requestRouted(request, '/orders/:id')
    expect(traced.spanCalls).toEqual([
      'name GET /orders/:id',
      'attr sentry.segment.name.source=route',
      'attr http.route=/orders/:id',
    ])
    const untraced = fakeSdk({ activeSpan: false })
    createSentryReporter(untraced.sdk, requestState).requestRouted(request, '/orders/:id')
    expect(untraced.spanCalls).toEqual([])
  })

  test('a broken SDK never throws into the request path', async () => {
    const { sdk } = fakeSdk({ explode: true })
    const reporter = createSentryReporter(sdk, requestState)
    const request = await servedRequest('req-7')
    expect(() => reporter.captureServerError({ error: new Error('x'), request, status: 500 })).not.toThrow()
    expect(() => reporter.capturePaymentProviderError(undefined, failure)).not.toThrow()
  })

  test('flush gives up at its timeout even if the SDK never answers', async () => {
    const { sdk } = fakeSdk({ flush: () => new Promise<boolean>(() => {}) })
    const started = performance.now()
    expect(await createSentryReporter(sdk, requestState).flush(50)).toBe(false)
    expect(performance.now() - started).toBeLessThan(2000)
  })
})

/** Registers the reporter's families in a fresh registry; reads sentry_events_capped_total's lines. */
function cappedCounter(reporter: ReturnType<typeof createSentryReporter>) {
  const metrics = createMetrics({ log: captureLogs().log, processMetrics: false })
  reporter.instrument?.(metrics)
  return async () =>
    (await metrics.render()).split('\n').filter((l) => l.startsWith('sentry_events_capped_total'))
}

describe('the cap on an error storm', () => {
  test('at most perMinute events per error class and route per clock minute; the rest are dropped and counted', async () => {
    const { sdk, captures } = fakeSdk()
    let now = 60_000 * 1000 + 5_000
    const reporter = createSentryReporter(sdk, requestState, { perMinute: 3, now: () => now })
    const request = await servedRequest('storm-1')
    const boom = (route: string, error: unknown = new TypeError('boom')) =>
      reporter.captureServerError({ error, request, status: 500, route })
    for (let i = 0; i < 10; i++) boom('/orders/:id')
    // Another route, another class, a returned 5xx: each its own allowance.
    boom('/products/:id')
    boom('/orders/:id', new RangeError('out of range'))
    reporter.captureServerError({ request, status: 503, route: '/orders/:id' })
    expect(captures.map((c) => `${c.kind} ${c.transaction} ${(c.value as Error).name ?? c.value}`)).toEqual([
      'exception GET /orders/:id TypeError',
      'exception GET /orders/:id TypeError',
      'exception GET /orders/:id TypeError',
      'exception GET /products/:id TypeError',
      'exception GET /orders/:id RangeError',
      'message GET /orders/:id GET /orders/:id answered 503',
    ])
    // Registered after the drops (the app is built after Sentry starts): they count from the start.
    const capped = cappedCounter(reporter)
    expect(await capped()).toEqual(['sentry_events_capped_total 7'])
    boom('/orders/:id')
    expect(await capped()).toEqual(['sentry_events_capped_total 8'])
    // The next clock minute starts a new allowance.
    now += 55_000
    boom('/orders/:id')
    expect(captures).toHaveLength(7)
    expect(await capped()).toEqual(['sentry_events_capped_total 8'])
  })

  test('past maxKinds kinds in a minute, new kinds share one allowance', async () => {
    const { sdk, captures } = fakeSdk()
    const reporter = createSentryReporter(sdk, requestState, { perMinute: 2, maxKinds: 2, now: () => 0 })
    const capped = cappedCounter(reporter)
    for (const name of ['A', 'B', 'C', 'D', 'E', 'A']) {
      const error = new Error(name)
      error.name = name
      reporter.capturePaymentProviderError(undefined, { ...failure, error })
    }
    expect(captures.map((c) => (c.value as Error).name)).toEqual(['A', 'B', 'C', 'D', 'A'])
    expect(await capped()).toEqual(['sentry_events_capped_total 1'])
  })
})
