/**
 * The real @sentry/bun against a Sentry-compatible ingestion endpoint. The app runs in a child
 * process (tests/observability/sentry/fixtures/serve.ts) because Sentry.init patches process globals
 * (Bun.serve, fetch, uncaught-exception handlers) that must not leak into other test files.
 */
import { describe, expect, test } from 'bun:test'
import {
  expectRequestScrubbed,
  expectSandboxProviderErrorEvent,
  leaks,
  type SentryEvent,
  startIngest,
} from '../../helpers/sentry-ingest.ts'
import { API_KEY, BEARER, BODY_MARKER, COOKIE_VALUE, PHONE, PHONE_DIGITS } from './fixtures/data.ts'
import { servedWithSentry } from './fixtures/served.ts'

const ADMIN = 'sentry-admin-token-0123456789'
const served = servedWithSentry(() => startIngest(), {
  ADMIN_TOKEN: ADMIN,
  SANDBOX_LATENCY_MS: '0',
  SENTRY_ENVIRONMENT: 'ci',
  SENTRY_RELEASE: 'convo-commerce@9.9.9+abc123',
})

const call = (path: string, init: RequestInit = {}) =>
  fetch(`http://127.0.0.1:${served.app.port}${path}`, init)

/** Waits for the request's event(s), then for everything queued to be delivered. */
async function eventsOf(requestId: string, count = 1): Promise<SentryEvent[]> {
  await served.ingest.waitFor(
    () => served.ingest.eventsFor(requestId).length >= count,
    `events of ${requestId}`,
  )
  await flush()
  return served.ingest.eventsFor(requestId)
}

async function flush() {
  const res = await call('/probe/flush')
  expect(await res.json()).toEqual({ delivered: true })
}

const withId = (requestId: string, headers: Record<string, string> = {}) => ({
  headers: { 'x-request-id': requestId, ...headers },
})

describe('error events', () => {
  test('a thrown error is one event carrying request id, route template, method, status, tenant, environment, release', async () => {
    const res = await call('/probe/boom/42', withId('boom-1', { 'x-test-tenant': 'tenant-a' }))
    expect(res.status).toBe(500)
    expect(res.headers.get('x-request-id')).toBe('boom-1')
    expect((await res.json()).error.requestId).toBe('boom-1')

    const events = await eventsOf('boom-1')
    expect(events).toHaveLength(1)
    const [event] = events
    expect(event!.transaction).toBe('GET /probe/boom/:id')
    expect(event!.tags).toEqual({
      request_id: 'boom-1',
      'http.method': 'GET',
      'http.status_code': '500',
      tenant_id: 'tenant-a',
    })
    expect(event!.user).toEqual({ id: 'tenant-a' })
    expect(event!.environment).toBe('ci')
    expect(event!.release).toBe('convo-commerce@9.9.9+abc123')
    expect(event!.level).toBe('error')
    expect(event!.exception?.values?.[0]).toMatchObject({
      type: 'Error',
      value: 'charge 42 for customer [phone] failed with key [Filtered]',
    })
    // The operator's path: alert → log line → Sentry issue, all by the same id.
    const logLine = await served.ingest.waitFor(
      () => served.app.lines.find((l) => l.msg === 'request failed' && l.requestId === 'boom-1'),
      'the error log line',
    )
    expect(logLine).toMatchObject({ level: 'error', status: 500 })
  })

  test('a returned 5xx is captured once, as an error message naming route and status', async () => {
    const returned = await call('/probe/returned', withId('returned-1'))
    expect(returned.status).toBe(503)
    const setStatus = await call('/probe/set-status', withId('set-status-1'))
    expect(setStatus.status).toBe(500)

    const [event] = await eventsOf('returned-1')
    expect(served.ingest.eventsFor('returned-1')).toHaveLength(1)
    expect(event).toMatchObject({
      level: 'error',
      message: 'GET /probe/returned answered 503',
      transaction: 'GET /probe/returned',
      tags: { request_id: 'returned-1', 'http.method': 'GET', 'http.status_code': '503' },
    })
    const [other] = await eventsOf('set-status-1')
    expect(served.ingest.eventsFor('set-status-1')).toHaveLength(1)
    expect(other).toMatchObject({
      message: 'GET /probe/set-status answered 500',
      tags: { 'http.status_code': '500' },
    })
  })

  test('4xx answers send nothing', async () => {
    const cases: Array<[string, RequestInit, number]> = [
      [
        '/probe/validated',
        { method: 'POST', body: '{"qty":0}', headers: { 'content-type': 'application/json' } },
        422,
      ],
      [
        '/probe/validated',
        { method: 'POST', body: '{oops', headers: { 'content-type': 'application/json' } },
        400,
      ],
      ['/probe/unauthorized', {}, 401],
      ['/probe/missing', {}, 404],
      ['/no/such/route', {}, 404],
    ]
    for (const [index, [path, init, status]] of cases.entries()) {
      const headers = { ...(init.headers as Record<string, string>), 'x-request-id': `client-error-${index}` }
      expect((await call(path, { ...init, headers })).status).toBe(status)
    }
    // A failing request after them: once its event is in, theirs would have been too.
    await call('/probe/boom/sentinel', withId('after-4xx'))
    await eventsOf('after-4xx')
    for (const index of cases.keys()) expect(served.ingest.eventsFor(`client-error-${index}`)).toEqual([])
  })

  test('concurrent requests never share scope data', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => i)
    const answers = await Promise.all(
      ids.map((i) => call(`/probe/boom/${i}`, withId(`parallel-${i}`, { 'x-test-tenant': `tenant-${i}` }))),
    )
    expect(answers.map((r) => r.status)).toEqual(ids.map(() => 500))
    await served.ingest.waitFor(
      () => ids.every((i) => served.ingest.eventsFor(`parallel-${i}`).length === 1),
      'one event per parallel request',
    )
    await flush()
    for (const i of ids) {
      const events = served.ingest.eventsFor(`parallel-${i}`)
      expect(events).toHaveLength(1)
      expect(events[0]!.tags?.tenant_id).toBe(`tenant-${i}`)
      expect(events[0]!.user).toEqual({ id: `tenant-${i}` })
      expect(events[0]!.exception?.values?.[0]?.value).toStartWith(`charge ${i} for customer`)
    }
  })
})

describe('payment context', () => {
  const paymentData = (orderId: string) => ({
    paymentId: `pay-${orderId}`,
    orderId,
    amountMinor: 12500,
    currency: 'KES',
  })
  const extras = {
    payment_state: 'failed',
    error_details: 'gateway timeout charging [phone] with key [Filtered]',
  }

  test('tok_error through the real payment route: one event with the provider tag, payment_data and extras', async () => {
    const json = async (path: string, token: string, body: unknown, requestId?: string) => {
      const res = await call(path, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          ...(requestId ? { 'x-request-id': requestId } : {}),
        },
        body: JSON.stringify(body),
      })
      return { status: res.status, body: (await res.json()) as Record<string, any> }
    }
    const tenant = (await json('/tenants', ADMIN, { name: 'Sentry shop', ownerPhone: PHONE })).body
    const product = (
      await json('/products', tenant.apiKey, { name: 'Tea', priceMinor: 6250, currency: 'KES' })
    ).body
    const order = (
      await json('/orders', tenant.apiKey, {
        customer: { phone: PHONE },
        items: [{ productId: product.id, quantity: 2 }],
      })
    ).body
    const res = await json(
      `/orders/${order.id}/payments`,
      tenant.apiKey,
      { provider: 'sandbox', source: 'tok_error' },
      'pay-1',
    )
    expect(res.status).toBe(502)
    const payment = res.body.error.details.payment
    const events = await eventsOf('pay-1')
    expect(events).toHaveLength(1)
    expectSandboxProviderErrorEvent(events[0], {
      requestId: 'pay-1',
      tenantId: tenant.id,
      orderId: order.id,
      paymentId: payment.id,
      amountMinor: 12500,
      currency: 'KES',
    })
    const raw = JSON.stringify(events)
    expect(raw).not.toContain(tenant.apiKey)
    expect(raw).not.toContain(PHONE_DIGITS)
  })

  test('a provider failure the route answers without a 5xx is still one event, with the status sent', async () => {
    const res = await call('/probe/payment-recorded/ord-8', withId('pay-2'))
    expect(res.status).toBe(200)
    const events = await eventsOf('pay-2')
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({
      transaction: 'GET /probe/payment-recorded/:id',
      tags: { payment_provider: 'mpesa', 'http.status_code': '200' },
      contexts: { payment_data: paymentData('ord-8') },
      extra: extras,
    })
  })

  test('outside a request the failure is sent at once, without request tags', async () => {
    const res = await call('/probe/background-payment/ord-9')
    expect(res.status).toBe(202)
    const byOrder = () =>
      served.ingest
        .events()
        .filter((e) => (e.contexts?.payment_data as { orderId?: string })?.orderId === 'ord-9')
    await served.ingest.waitFor(() => byOrder().length > 0, 'the background payment event')
    await flush()
    expect(byOrder()).toHaveLength(1)
    expect(byOrder()[0]!.tags).toEqual({ payment_provider: 'mpesa' })
    expect(byOrder()[0]!.extra).toEqual(extras)
  })
})

describe('privacy', () => {
  test('no phone number, API key, token, cookie or request body anywhere in what is sent', async () => {
    const secretHeaders = {
      authorization: `Bearer ${BEARER}`,
      'x-api-key': API_KEY,
      cookie: `sid=${COOKIE_VALUE}`,
      'x-customer-phone': PHONE,
      'content-type': 'application/json',
    }
    const payment = await call(
      `/probe/payment-failed/${encodeURIComponent(PHONE)}?phone=${PHONE_DIGITS}&api_key=${API_KEY}`,
      {
        method: 'POST',
        headers: { ...secretHeaders, 'x-request-id': 'privacy-1' },
        body: JSON.stringify({ phone: PHONE, note: BODY_MARKER, apiKey: API_KEY }),
      },
    )
    expect(payment.status).toBe(502)
    const boom = await call(`/probe/boom/${PHONE_DIGITS}?token=${BEARER}`, {
      headers: { ...secretHeaders, 'x-request-id': 'privacy-2' },
    })
    expect(boom.status).toBe(500)
    const [paymentEvent] = await eventsOf('privacy-1')
    const [boomEvent] = await eventsOf('privacy-2')

    const sent = served.ingest.rawText()
    for (const secret of [PHONE_DIGITS, API_KEY, BEARER, COOKIE_VALUE, BODY_MARKER]) {
      expect(leaks(sent, secret)).toEqual([])
    }
    expectRequestScrubbed(paymentEvent)
    expectRequestScrubbed(boomEvent)
    expect(paymentEvent!.request?.url).toBe(
      `http://127.0.0.1:${served.app.port}/probe/payment-failed/[phone]`,
    )
  })

  test("a caller's baggage (the envelope header's trace) reaches Sentry without its phone numbers or keys", async () => {
    const trace = 'ba99a9e0aaaabbbbccccddddeeeeffff'
    const baggage = [
      `sentry-trace_id=${trace}`,
      'sentry-public_key=public',
      `sentry-transaction=GET%20%2Fcustomers%2F${encodeURIComponent(PHONE)}`,
      `sentry-release=${API_KEY}`,
      `sentry-user_phone=${PHONE_DIGITS}`,
    ].join(',')
    const headers = { 'sentry-trace': `${trace}-abcdefabcdef1234-1`, baggage }
    expect((await call('/health', withId('baggage-1', headers))).status).toBe(200)
    expect((await call('/probe/boom/1', withId('baggage-2', headers))).status).toBe(500)
    await eventsOf('baggage-2')
    await served.ingest.waitFor(
      () =>
        served.ingest.envelopes.filter((e) => (e.header.trace as { trace_id?: string })?.trace_id === trace)
          .length >= 2,
      'the envelopes of the continued trace',
    )
    const sent = served.ingest.rawText()
    for (const secret of [PHONE_DIGITS, API_KEY]) expect(leaks(sent, secret)).toEqual([])
  })
})

describe('tracing', () => {
  const accessLineOf = (requestId: string) =>
    served.ingest.waitFor(
      () => served.app.lines.find((l) => l.msg === 'request' && l.requestId === requestId),
      `the access line of ${requestId}`,
    )
  const traceId = (n: number) => `${String(n).padStart(4, '0')}aaaabbbbccccddddeeeeffff0000`
  const parentSpanId = 'abcdefabcdef1234'
  const segmentsOf = (trace: string) =>
    served.ingest.spans().filter((s) => s.trace_id === trace && s.is_segment)

  test('one transaction per request, named by route template, continuing the incoming trace', async () => {
    const trace = traceId(1)
    const res = await call(
      '/probe/boom/77',
      withId('trace-1', { 'sentry-trace': `${trace}-${parentSpanId}-1` }),
    )
    expect(res.status).toBe(500)
    const [event] = await eventsOf('trace-1')
    await served.ingest.waitFor(() => segmentsOf(trace).length > 0, 'the transaction')
    await flush()
    const segments = segmentsOf(trace)
    expect(segments).toHaveLength(1)
    expect(segments[0]).toMatchObject({ name: 'GET /probe/boom/:id', parent_span_id: parentSpanId })
    expect(segments[0]!.attributes['sentry.segment.name.source']?.value).toBe('route')
    expect(segments[0]!.attributes['http.route']?.value).toBe('/probe/boom/:id')
    expect(segments[0]!.attributes['http.response.status_code']?.value).toBe(500)
    // The error links to the trace.
    expect(event!.contexts?.trace).toMatchObject({ trace_id: trace, span_id: segments[0]!.span_id })
    // The request's log lines are in Sentry's trace too.
    expect(await accessLineOf('trace-1')).toMatchObject({ status: 500, trace_id: trace })
  })

  test("without any incoming trace, the event, the access line and Sentry's transaction share one trace id", async () => {
    expect((await call('/probe/boom/78', withId('trace-own'))).status).toBe(500)
    const [event] = await eventsOf('trace-own')
    const trace = event!.contexts?.trace?.trace_id as string
    expect(trace).toMatch(/^[0-9a-f]{32}$/)
    expect(await accessLineOf('trace-own')).toMatchObject({ trace_id: trace })
    await served.ingest.waitFor(() => segmentsOf(trace).length > 0, 'the transaction')
    expect(segmentsOf(trace)[0]).toMatchObject({ name: 'GET /probe/boom/:id' })
  })

  test("a W3C traceparent is continued: the event and the access line carry the caller's trace", async () => {
    const trace = traceId(3)
    const res = await call(
      '/probe/boom/79',
      withId('trace-w3c', { traceparent: `00-${trace}-${parentSpanId}-01` }),
    )
    expect(res.status).toBe(500)
    const [event] = await eventsOf('trace-w3c')
    expect(event!.contexts?.trace).toMatchObject({ trace_id: trace, parent_span_id: parentSpanId })
    expect(await accessLineOf('trace-w3c')).toMatchObject({ trace_id: trace })
  })

  test('a request without incoming trace starts its own, sampled at the configured rate', async () => {
    const res = await call('/health', withId('trace-2'))
    expect(res.status).toBe(200)
    await flush()
    const health = served.ingest.spans().filter((s) => s.is_segment && s.name === 'GET /health')
    expect(health.length).toBeGreaterThanOrEqual(1)
    expect(health.at(-1)!.parent_span_id).toBeUndefined()
    expect(health.at(-1)!.attributes['sentry.sample_rate']?.value).toBe(1)
  })

  test('an unsampled request still names its error event by route template, and sends no transaction', async () => {
    const trace = traceId(2)
    const res = await call(
      '/probe/returned',
      withId('trace-3', { 'sentry-trace': `${trace}-${parentSpanId}-0` }),
    )
    expect(res.status).toBe(503)
    const [event] = await eventsOf('trace-3')
    expect(event!.transaction).toBe('GET /probe/returned')
    expect(event!.contexts?.trace).toMatchObject({ trace_id: trace })
    expect(served.ingest.spans().filter((s) => s.trace_id === trace)).toEqual([])
  })
})

test('the endpoint saw only well-formed envelope posts', () => {
  expect(served.ingest.rejected).toEqual([])
})
