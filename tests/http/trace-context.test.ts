import { describe, expect, test } from 'bun:test'
import { createHttpClient } from '../../src/http/outbound.ts'
import { requestState } from '../../src/http/request-context.ts'
import { noErrorReporter } from '../../src/observability/error-reporter.ts'
import type { CallContext, PaymentProvider } from '../../src/payments/providers.ts'
import { buildTestApp } from '../helpers/app.ts'
import { createOrder, createProduct, createTenant } from '../helpers/commerce.ts'

const TRACE = '0af7651916cd43dd8448eb211c80319c'
const PARENT = 'b7ad6b7169203331'
const HEX32 = /^[0-9a-f]{32}$/

async function tracedApp(options: Parameters<typeof buildTestApp>[0] = {}) {
  const built = await buildTestApp(options)
  built.app.get('/probe/trace', ({ request }) => {
    const state = requestState(request)!
    state.log.warn({ step: 'inside' }, 'handler line')
    return { traceId: state.traceId, traceFlags: state.traceFlags, parentSpanId: state.parentSpanId ?? null }
  })
  const linesOf = (requestId: string) => built.logs.lines.filter((line) => line.requestId === requestId)
  return { ...built, linesOf }
}

describe('trace context on every request', () => {
  test('an incoming traceparent is continued: its trace id and flags, on every log line of the request', async () => {
    const { call, linesOf } = await tracedApp()
    const response = await call('/probe/trace', {
      headers: { 'x-request-id': 'tp-1', traceparent: `00-${TRACE}-${PARENT}-00` },
    })
    expect(await response.json()).toEqual({ traceId: TRACE, traceFlags: '00', parentSpanId: PARENT })
    expect(linesOf('tp-1').map((line) => [line.msg, line.trace_id])).toEqual([
      ['handler line', TRACE],
      ['request', TRACE],
    ])
  })

  test('without a traceparent, or with an invalid one, the request starts a trace of its own', async () => {
    const { call, linesOf } = await tracedApp()
    const invalid = await (
      await call('/probe/trace', {
        headers: { 'x-request-id': 'tp-2', traceparent: `00-${TRACE.toUpperCase()}-${PARENT}-01` },
      })
    ).json()
    const none = await (await call('/probe/trace', { headers: { 'x-request-id': 'tp-3' } })).json()
    for (const body of [invalid, none]) {
      expect(body.traceId).toMatch(HEX32)
      expect(body.traceId).not.toBe(TRACE)
      expect(body).toMatchObject({ traceFlags: '01', parentSpanId: null })
    }
    expect(invalid.traceId).not.toBe(none.traceId)
    expect(linesOf('tp-2').map((line) => line.trace_id)).toEqual([invalid.traceId, invalid.traceId])
    expect(linesOf('tp-3').map((line) => line.trace_id)).toEqual([none.traceId, none.traceId])
  })

  test("with error tracking on, a request without traceparent joins the tracker's active trace", async () => {
    const sentryTrace = 'c'.repeat(32)
    const { call } = await tracedApp({
      errorReporter: { ...noErrorReporter, enabled: true, activeTraceId: () => sentryTrace },
    })
    expect((await (await call('/probe/trace')).json()).traceId).toBe(sentryTrace)
    // A client's traceparent still wins: the client's trace is the one it can look up.
    const continued = await call('/probe/trace', { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } })
    expect((await continued.json()).traceId).toBe(TRACE)
  })

  test('error responses and their log lines carry the trace too', async () => {
    const { app, call, linesOf } = await tracedApp()
    app.get('/probe/trace-boom', () => {
      throw new Error('boom')
    })
    expect(
      (
        await call('/probe/trace-boom', {
          headers: { 'x-request-id': 'tp-4', traceparent: `00-${TRACE}-${PARENT}-01` },
        })
      ).status,
    ).toBe(500)
    const lines = linesOf('tp-4')
    expect(lines.length).toBeGreaterThanOrEqual(2)
    expect(lines.every((line) => line.trace_id === TRACE)).toBe(true)
    expect(lines.at(-1)).toMatchObject({ msg: 'request', status: 500, trace_id: TRACE })
  })
})

describe('outbound calls carry traceparent', () => {
  function recordingClient() {
    const sent: Headers[] = []
    const http = createHttpClient(async (_url, init) => {
      sent.push(new Headers(init?.headers))
      return new Response('ok')
    })
    return { http, sent }
  }

  test("a call made for a request: the request's trace id, a new span id per call, the flags", async () => {
    const { http, sent } = recordingClient()
    await http('http://127.0.0.1:9/provider', { requestId: 'r-1', traceId: TRACE })
    await http('http://127.0.0.1:9/provider', { requestId: 'r-1', traceId: TRACE, traceFlags: '00' })
    const [first, second] = sent.map((headers) => headers.get('traceparent')!.split('-'))
    expect(first).toEqual(['00', TRACE, expect.stringMatching(/^[0-9a-f]{16}$/), '01'])
    expect(second).toEqual(['00', TRACE, expect.stringMatching(/^[0-9a-f]{16}$/), '00'])
    expect(first![2]).not.toBe(second![2])
    expect(sent[0]!.get('x-request-id')).toBe('r-1')
  })

  test("a call continuing a trace carries the request's tracestate; one starting a trace carries none", async () => {
    const { http, sent } = recordingClient()
    await http('http://127.0.0.1:9/provider', {
      requestId: 'r-1',
      traceId: TRACE,
      traceState: 'rojo=1,congo=2',
    })
    // Without a trace id the call starts a trace of its own: a stray tracestate is not sent.
    await http('http://127.0.0.1:9/provider', {
      traceState: 'rojo=1',
      headers: [
        ['tracestate', 'rojo=1'],
        ['tracestate', 'congo=2'],
      ],
    })
    await http('http://127.0.0.1:9/provider', { traceId: TRACE })
    // A caller's own traceparent goes out with the tracestate it set beside it, and no other.
    await http('http://127.0.0.1:9/provider', {
      traceId: TRACE,
      traceState: 'rojo=1',
      headers: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'mine=1' },
    })
    expect(sent.map((headers) => headers.get('tracestate'))).toEqual(['rojo=1,congo=2', null, null, 'mine=1'])
  })

  test('a call outside a request starts its own trace; a traceparent the caller set is kept', async () => {
    const { http, sent } = recordingClient()
    await http('http://127.0.0.1:9/a')
    await http('http://127.0.0.1:9/b', {
      headers: { traceparent: `00-${TRACE}-${PARENT}-01` },
      traceId: 'f'.repeat(32),
    })
    expect(sent[0]!.get('traceparent')).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
    expect(sent[1]!.get('traceparent')).toBe(`00-${TRACE}-${PARENT}-01`)
  })
})

/** A provider that calls its API through the service's HTTP client, as its contract says. */
async function payingApp() {
  const sent: string[] = []
  const states: Array<string | null> = []
  const contexts: CallContext[] = []
  const http = createHttpClient(async (_url, init) => {
    const headers = new Headers(init?.headers)
    sent.push(headers.get('traceparent')!)
    states.push(headers.get('tracestate'))
    return new Response('{}')
  })
  const provider: PaymentProvider = {
    name: 'remote',
    async charge(request, context) {
      contexts.push(context)
      await http('http://127.0.0.1:9/charges', { method: 'POST', ...context })
      return {
        outcome: 'succeeded',
        reference: 'ref-1',
        amountMinor: request.amountMinor,
        currency: request.currency,
      }
    },
    async retrieve() {
      return undefined
    },
  }
  const built = await buildTestApp({ paymentProviders: [provider] })
  const tenant = await createTenant(built.call)
  const product = await createProduct(built.call, tenant.apiKey, { priceMinor: 1500, stock: 100 })
  const pay = async (headers: HeadersInit) => {
    const order = await createOrder(built.call, tenant.apiKey, [{ productId: product.id, quantity: 1 }])
    const res = await built.call(`/orders/${order.id}/payments`, {
      method: 'POST',
      token: tenant.apiKey,
      json: { provider: 'remote', source: 'tok_any' },
      headers,
    })
    expect(res.status).toBe(201)
  }
  return { pay, sent, states, contexts, logs: built.logs }
}

describe("a payment provider's outbound call continues the paying request's trace", () => {
  test("the caller's sampling decision travels with its trace id: not sampled stays not sampled", async () => {
    const { pay, sent } = await payingApp()
    await pay({ traceparent: `00-${TRACE}-${PARENT}-00` })
    await pay({ traceparent: `00-${TRACE}-${PARENT}-01` })
    // Undefined flags (here all of them) leave as zero, and a later version's as version 00's.
    await pay({ traceparent: `00-${TRACE}-${PARENT}-fe` })
    await pay({ traceparent: `cc-${TRACE}-${PARENT}-ff-later` })
    expect(sent.map((value) => value.replace(/-[0-9a-f]{16}-/, '-span-'))).toEqual([
      `00-${TRACE}-span-00`,
      `00-${TRACE}-span-01`,
      `00-${TRACE}-span-00`,
      `00-${TRACE}-span-01`,
    ])
    for (const value of sent) expect(value.split('-')[2]).not.toBe(PARENT)
  })
})

describe("the request's tracestate reaches the payment provider's outbound call", () => {
  const CONTINUED = `00-${TRACE}-${PARENT}-01`
  const PHONE_STATE = 'acme=wa254711000200,congo=t61rcWkgMzE'

  test('exactly as parsed: combined lines, OWS and empty members dropped, order kept', async () => {
    const { pay, states, contexts } = await payingApp()
    await pay({ traceparent: CONTINUED, tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE' })
    await pay([
      ['traceparent', CONTINUED],
      ['tracestate', 'foo=1 \t , bar=2'],
      ['tracestate', ''],
      ['tracestate', 'rojo=1,congo=2'],
    ])
    await pay([
      ['traceparent', CONTINUED],
      ['TraceState', 'a=1,,b=2'],
    ])
    expect(states).toEqual([
      'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
      'foo=1,bar=2,rojo=1,congo=2',
      'a=1,b=2',
    ])
    expect(contexts[0]).toEqual({
      requestId: expect.any(String),
      traceId: TRACE,
      traceFlags: '01',
      traceState: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
      // The payment deadline's, for the provider's outbound call.
      signal: expect.any(AbortSignal),
    })
  })

  test('none when the tracestate is invalid, empty, or its traceparent is invalid or absent', async () => {
    const { pay, states, contexts } = await payingApp()
    const bar = (from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => `bar${from + i}=${from + i}`).join(',')
    const invalid: HeadersInit[] = [
      { traceparent: CONTINUED, tracestate: 'foo=1,foo=2' },
      [
        ['traceparent', CONTINUED],
        ['tracestate', 'foo=1'],
        ['tracestate', 'foo=1'],
      ],
      { traceparent: CONTINUED, tracestate: 'FOO=1' },
      { traceparent: CONTINUED, tracestate: 'foo@bar@baz=1,bar=2' },
      { traceparent: CONTINUED, tracestate: 'foo=bar=baz' },
      { traceparent: CONTINUED, tracestate: 'foo=,bar=3' },
      { traceparent: CONTINUED, tracestate: `foo=${'v'.repeat(257)}` },
      [
        ['traceparent', CONTINUED],
        ['tracestate', bar(1, 20)],
        ['tracestate', bar(21, 33)],
      ],
      { traceparent: CONTINUED, tracestate: ' , ' },
      { traceparent: `00-${TRACE.toUpperCase()}-${PARENT}-01`, tracestate: 'rojo=1' },
      { traceparent: `ff-${TRACE}-${PARENT}-01`, tracestate: 'rojo=1' },
      { tracestate: 'rojo=1' },
    ]
    for (const headers of invalid) await pay(headers)
    expect(states).toEqual(invalid.map(() => null))
    expect(contexts.every((context) => !('traceState' in context))).toBe(true)
  })

  test('32 members pass; over 512 characters it is cut by whole entries, long ones first', async () => {
    const { pay, states } = await payingApp()
    const bar = (from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => `bar${from + i}=${from + i}`).join(',')
    await pay([
      ['traceparent', CONTINUED],
      ['tracestate', bar(1, 20)],
      ['tracestate', bar(21, 32)],
    ])
    const long = `long${'g'.repeat(96)}=${'x'.repeat(200)}` // 301 characters
    const short = (i: number) => `k${i}=${'y'.repeat(60)}` // 63 characters
    const shorts = [0, 1, 2, 3, 4].map(short).join(',') // 319
    // 301 + 319 + 1 comma = 621 > 512: the long entry goes, the short ones stay.
    await pay({ traceparent: CONTINUED, tracestate: `${shorts},${long}` })
    await pay({ traceparent: CONTINUED, tracestate: `${long},${shorts}` })
    expect(states).toEqual([bar(1, 32), shorts, shorts])
  })

  test('forwarded to the provider but never logged, even when a vendor put a phone number in it', async () => {
    const { pay, states, logs } = await payingApp()
    await pay({ traceparent: CONTINUED, tracestate: PHONE_STATE, 'x-request-id': 'ts-log' })
    expect(states).toEqual([PHONE_STATE])
    const text = JSON.stringify(logs.lines)
    expect(text).not.toContain('254711000200')
    expect(text).not.toContain('t61rcWkgMzE')
    expect(logs.lines.some((line) => line.requestId === 'ts-log')).toBe(true)
  })
})
