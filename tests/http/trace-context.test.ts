import { describe, expect, test } from 'bun:test'
import { createHttpClient } from '../../src/http/outbound.ts'
import { requestState } from '../../src/http/request-context.ts'
import { noErrorReporter } from '../../src/observability/error-reporter.ts'
import type { PaymentProvider } from '../../src/payments/providers.ts'
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

describe("a payment provider's outbound call continues the paying request's trace", () => {
  /** A provider that calls its API through the service's HTTP client, as its contract says. */
  async function payingApp() {
    const sent: string[] = []
    const http = createHttpClient(async (_url, init) => {
      sent.push(new Headers(init?.headers).get('traceparent')!)
      return new Response('{}')
    })
    const provider: PaymentProvider = {
      name: 'remote',
      async charge(_request, context) {
        await http('http://127.0.0.1:9/charges', { method: 'POST', ...context })
        return { outcome: 'succeeded', reference: 'ref-1' }
      },
      async retrieve() {
        return undefined
      },
    }
    const built = await buildTestApp({ paymentProviders: [provider] })
    const tenant = await createTenant(built.call)
    const product = await createProduct(built.call, tenant.apiKey, { priceMinor: 1500, stock: 10 })
    const pay = async (headers: Record<string, string>) => {
      const order = await createOrder(built.call, tenant.apiKey, [{ productId: product.id, quantity: 1 }])
      const res = await built.call(`/orders/${order.id}/payments`, {
        method: 'POST',
        token: tenant.apiKey,
        json: { provider: 'remote', source: 'tok_any' },
        headers,
      })
      expect(res.status).toBe(201)
    }
    return { pay, sent }
  }

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
