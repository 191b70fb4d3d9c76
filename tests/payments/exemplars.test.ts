import { describe, expect, test } from 'bun:test'
import type { Clock } from '../../src/core/clock.ts'
import { createLogger } from '../../src/core/logger.ts'
import { createMetrics } from '../../src/metrics.ts'
import { type CallContext, type PaymentProvider, ProviderError } from '../../src/payments/providers.ts'
import { buildTestApp } from '../helpers/app.ts'
import { createOrder, createProduct, createTenant } from '../helpers/commerce.ts'
import { exemplars } from '../helpers/scrape.ts'

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const AT = 1_700_000_000_123

/**
 * The app with a provider that takes exactly `latencyMs` on the monotonic clock and records
 * the call context it is given; exemplars stamped at AT.
 */
async function setup(latencyMs: number) {
  let now = 0
  const clock: Clock = { now: () => new Date(), monotonic: () => now }
  const contexts: CallContext[] = []
  const provider: PaymentProvider = {
    name: 'fake',
    async charge(request, context) {
      contexts.push(context)
      now += latencyMs
      if (request.source === 'tok_error') throw new ProviderError('down', { ambiguous: false })
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
  const metrics = createMetrics({ log: createLogger({ level: 'silent', pretty: false }), clock: () => AT })
  const built = await buildTestApp({ clock, metrics, paymentProviders: [provider] })
  const tenant = await createTenant(built.call)
  const product = await createProduct(built.call, tenant.apiKey, { priceMinor: 1500, stock: 10 })
  const pay = async (source: string, headers: Record<string, string>) => {
    const order = await createOrder(built.call, tenant.apiKey, [{ productId: product.id, quantity: 1 }])
    return built.call(`/orders/${order.id}/payments`, {
      method: 'POST',
      token: tenant.apiKey,
      json: { provider: 'fake', source },
      headers,
    })
  }
  const scrape = async () =>
    (await built.call('/metrics', { headers: { accept: 'application/openmetrics-text' } })).text()
  return { pay, scrape, contexts }
}

const paymentExemplars = (text: string) =>
  Object.fromEntries(
    Object.entries(exemplars(text)).filter(([key]) => key.startsWith('payment_processing_duration_seconds')),
  )

describe('payment_processing_duration_seconds exemplars', () => {
  test("the provider call's duration carries the paying request's trace_id and request_id, on its bucket", async () => {
    const { pay, scrape, contexts } = await setup(67)
    const res = await pay('tok_success', {
      traceparent: `00-${TRACE}-00f067aa0ba902b7-01`,
      'x-request-id': 'req-pay-1',
    })
    expect(res.status).toBe(201)
    expect(paymentExemplars(await scrape())).toEqual({
      'payment_processing_duration_seconds_bucket{provider="fake",le="0.1"}': {
        labels: { trace_id: TRACE, request_id: 'req-pay-1' },
        value: 0.067,
        timestamp: 1_700_000_000.123,
      },
    })
    // The provider is given the ids and flags, for its outbound call's x-request-id and traceparent.
    // And the deadline's signal, for its outbound call: not aborted, the provider answered in time.
    expect(contexts.map(({ signal, ...ids }) => ({ ...ids, aborted: signal?.aborted }))).toEqual([
      { requestId: 'req-pay-1', traceId: TRACE, traceFlags: '01', aborted: false },
    ])
  })

  test('a failed provider call (502) is an exemplar too; the latest of a bucket wins', async () => {
    const { pay, scrape } = await setup(2500)
    const other = '0af7651916cd43dd8448eb211c80319c'
    await pay('tok_success', { traceparent: `00-${TRACE}-00f067aa0ba902b7-01`, 'x-request-id': 'req-a' })
    const failed = await pay('tok_error', {
      traceparent: `00-${other}-00f067aa0ba902b7-01`,
      'x-request-id': 'req-b',
    })
    expect(failed.status).toBe(502)
    // 2.5 s is the le="2.5" bucket's bound (inclusive).
    expect(paymentExemplars(await scrape())).toEqual({
      'payment_processing_duration_seconds_bucket{provider="fake",le="2.5"}': {
        labels: { trace_id: other, request_id: 'req-b' },
        value: 2.5,
        timestamp: 1_700_000_000.123,
      },
    })
  })

  test("a failed or errored payment is its payments_processed_total series' exemplar; a success is not", async () => {
    const { pay, scrape } = await setup(10)
    await pay('tok_success', { traceparent: `00-${TRACE}-00f067aa0ba902b7-01`, 'x-request-id': 'req-ok' })
    const failed = await pay('tok_error', {
      traceparent: `00-${TRACE}-00f067aa0ba902b7-01`,
      'x-request-id': 'req-err',
    })
    expect(failed.status).toBe(502)
    const processed = Object.fromEntries(
      Object.entries(exemplars(await scrape())).filter(([key]) => key.startsWith('payments_processed_total')),
    )
    expect(Object.keys(processed)).toEqual([expect.stringContaining('status="error"')])
    expect(Object.values(processed)).toEqual([
      { labels: { trace_id: TRACE, request_id: 'req-err' }, value: 1, timestamp: 1_700_000_000.123 },
    ])
  })
})
