/**
 * The adapter that gives `@sentry/deno` (10.x) SDK 11's request-header filtering: its filter
 * against @sentry/core 11's own, and the init options it hands the SDK, built from the same
 * shared options as on Bun and Node. The Deno smoke test (smoke.test.ts) checks the result
 * end to end against a Sentry fake.
 */
import { describe, expect, test } from 'bun:test'
// @sentry/core 11 is what @sentry/bun and @sentry/node filter with: the reference.
import { _INTERNAL_filterKeyValueData as core11Filter } from '@sentry/core'
import { sentryInitOptions } from '../../src/observability/sentry.ts'
import {
  type CollectBehavior,
  filterHeaders,
  withSdk11RequestHeaders,
} from '../../src/runtime/sentry-deno.ts'

const HEADERS: Record<string, string> = {
  accept: '*/*',
  'accept-encoding': 'gzip',
  authorization: 'Bearer ck_live_secret',
  connection: 'keep-alive',
  'content-length': '43',
  'content-type': 'application/json',
  cookie: 'sid=abc',
  'User-Agent': 'curl/8',
  'x-api-key': 'sk_live_secret',
  'x-customer-phone': '+254711000952',
  'x-request-id': 'req-1',
  'X-Session-Hint': 'hint',
}

/** HEADERS as the service's allow-list leaves them: harmless ones in clear (`accept` matches by substring, as in core). */
const ALLOWED_HEADERS: Record<string, string> = {
  accept: '*/*',
  'accept-encoding': 'gzip',
  authorization: '[Filtered]',
  connection: '[Filtered]',
  'content-length': '43',
  'content-type': 'application/json',
  cookie: '[Filtered]',
  'User-Agent': 'curl/8',
  'x-api-key': '[Filtered]',
  'x-customer-phone': '[Filtered]',
  'x-request-id': 'req-1',
  'X-Session-Hint': '[Filtered]',
}

describe('filterHeaders is @sentry/core 11 filterKeyValueData', () => {
  const behaviors: Array<[string, CollectBehavior]> = [
    [
      'the service allow-list',
      { allow: ['content-type', 'content-length', 'user-agent', 'accept', 'x-request-id'] },
    ],
    ['a deny-list', { deny: ['phone', 'connection'] }],
    ['true', true],
    ['false', false],
  ]
  for (const [name, behavior] of behaviors) {
    test(name, () => {
      expect(filterHeaders(HEADERS, behavior)).toEqual(core11Filter(HEADERS, behavior))
    })
  }

  test('the allow-list keeps harmless headers and filters the rest, matching by substring as core does', () => {
    expect(filterHeaders(HEADERS, behaviors[0]![1])).toEqual(ALLOWED_HEADERS)
  })
})

/** An event hook as the SDK calls it. */
type EventHook = (
  event: object,
  hint: object,
) => Record<string, unknown> & { sdkProcessingMetadata: { spanCount: number; $: number } }

/** The init options the tests read: the shared ones plus what the adapter adds. */
type ReceivedOptions = ReturnType<typeof sentryInitOptions<object>> & {
  beforeSend: EventHook
  beforeSendTransaction: EventHook
}

describe('withSdk11RequestHeaders', () => {
  /** The shared options, through the adapter, as a fake SDK's init receives them. */
  function initOptions() {
    let received: ReceivedOptions | undefined
    const sdk = {
      init(options: ReceivedOptions) {
        received = options
      },
      captureMessage: () => 'id',
    }
    const wrapped = withSdk11RequestHeaders(sdk)
    const kit = { createTransport: () => ({}), suppressTracing: <T>(callback: () => T) => callback() }
    wrapped.init(
      sentryInitOptions(
        { dsn: 'http://public@127.0.0.1:9/1', environment: 'test', release: 'r', tracesSampleRate: 1 },
        kit,
      ) as never,
    )
    expect(wrapped.captureMessage).toBe(sdk.captureMessage)
    return received!
  }

  const event = () => ({
    type: 'transaction',
    transaction: 'POST /orders/:id/payments',
    request: {
      url: 'http://127.0.0.1:3000/orders/1/payments?phone=254711000952',
      headers: { ...HEADERS },
      cookies: { sid: 'abc' },
    },
    user: { id: 'tenant-1', ip_address: '127.0.0.1' },
    // The SDK's own bookkeeping, with a getter-only property as on its scopes: never sent.
    sdkProcessingMetadata: Object.defineProperty({ spanCount: 3 }, '$', { get: () => 1, enumerable: true }),
  })

  const expected = {
    type: 'transaction',
    transaction: 'POST /orders/:id/payments',
    request: {
      url: 'http://127.0.0.1:3000/orders/1/payments',
      headers: ALLOWED_HEADERS,
    },
    user: { id: 'tenant-1' },
  }

  test('errors and transactions both get the header filter, then the shared scrubber', () => {
    const options = initOptions()
    for (const hook of ['beforeSend', 'beforeSendTransaction'] as const) {
      const sent = options[hook](event(), {})
      const { sdkProcessingMetadata, ...rest } = sent
      expect({ hook, rest }).toEqual({ hook, rest: expected })
      // Handed back untouched: the SDK reads it after the hook (span counts, scopes).
      expect(sdkProcessingMetadata.spanCount).toBe(3)
      expect(sdkProcessingMetadata.$).toBe(1)
    }
  })

  /** A transaction as @sentry/deno 10.x sends it for a request the router never named. */
  const unrouted = (path: string, source: string, method = 'GET') => ({
    type: 'transaction',
    transaction: `${method} ${path}`,
    transaction_info: { source },
    contexts: {
      trace: { op: 'http.server', data: { 'http.request.method': method, 'sentry.source': source } },
    },
  })

  test('a transaction still named from its URL is named by its method alone, as SDK 11 names it', () => {
    const options = initOptions()
    const names = [
      unrouted('/no-such-route', 'url'),
      unrouted('/wp-login.php', 'url', 'POST'),
      unrouted('/health', 'url', 'DELETE'),
      // Renamed by requestRouted (updateSpanName: source `custom`), or the root path (`route`).
      unrouted('/orders/:id/payments', 'custom', 'POST'),
      unrouted('/', 'route'),
    ].map((t) => {
      const sent = options.beforeSendTransaction(t, {})
      return [sent.transaction, sent.transaction_info]
    })
    expect(names).toEqual([
      ['GET', { source: 'url' }],
      ['POST', { source: 'url' }],
      ['DELETE', { source: 'url' }],
      ['POST /orders/:id/payments', { source: 'custom' }],
      ['GET /', { source: 'route' }],
    ])
  })

  test('without http.request.method the first word of the name is the method', () => {
    const options = initOptions()
    const t = { type: 'transaction', transaction: 'patch /x/y', transaction_info: { source: 'url' } }
    expect(options.beforeSendTransaction(t, {}).transaction).toBe('PATCH')
  })

  test('error events keep their transaction name: the reporter sets it from the route', () => {
    const options = initOptions()
    const error = { ...unrouted('/no-such-route', 'url'), type: undefined }
    expect(options.beforeSend(error, {}).transaction).toBe('GET /no-such-route')
  })

  test('everything else of the shared options reaches the SDK unchanged', () => {
    const options = initOptions()
    expect(options.dsn).toBe('http://public@127.0.0.1:9/1')
    expect(options.dataCollection.httpHeaders.request).toEqual({
      allow: ['content-type', 'content-length', 'user-agent', 'accept', 'x-request-id'],
    })
    expect(options.tracePropagationTargets).toEqual([])
    expect(options.integrations([{ name: 'Dedupe' }, { name: 'DenoServe' }]).map((i) => i.name)).toEqual([
      'DenoServe',
      'ScrubEnvelopeHeader',
    ])
  })
})
