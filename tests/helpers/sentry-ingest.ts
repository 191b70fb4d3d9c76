import { expect } from 'bun:test'
import { gunzipSync } from 'node:zlib'

/** One item of an envelope: its header line and its payload (parsed when JSON). */
export interface EnvelopeItem {
  header: { type: string; length?: number; [key: string]: unknown }
  payload: unknown
}

export interface Envelope {
  header: Record<string, unknown>
  items: EnvelopeItem[]
  /** The body as received (after gunzip): what privacy assertions search. */
  raw: string
}

/** An error event as the SDK sends it (the fields the tests read). */
export interface SentryEvent {
  event_id: string
  level?: string
  message?: string | { message?: string; formatted?: string }
  transaction?: string
  environment?: string
  release?: string
  tags?: Record<string, string>
  user?: Record<string, unknown>
  contexts?: Record<string, Record<string, unknown>>
  extra?: Record<string, unknown>
  request?: Record<string, unknown>
  exception?: { values?: Array<{ type?: string; value?: string }> }
  /** The SDK that sent the event (`sentry.javascript.bun`, `.node`, `.deno`). */
  sdk?: { name?: string; version?: string }
}

/** A span of a streamed span item (span v2). */
export interface StreamedSpan {
  name: string
  span_id: string
  trace_id: string
  parent_span_id?: string
  is_segment: boolean
  status: string
  attributes: Record<string, { value: unknown; type: string }>
}

/** A transaction event (SDK 10), the fields the tests read. */
interface TransactionEvent {
  transaction?: string
  contexts?: { trace?: { trace_id?: string; op?: string } }
}

/** A request's root span, from either form. */
export interface RootSpan {
  name: string | undefined
  traceId: string | undefined
  op: unknown
}

const NEWLINE = 0x0a

function parseJson(bytes: Uint8Array): unknown {
  const text = new TextDecoder().decode(bytes)
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/**
 * Parses the envelope format: a header line, then for each item a header line and a payload
 * of `length` bytes when the header says so, else up to the next newline.
 */
export function parseEnvelope(body: Uint8Array): Envelope {
  let offset = 0
  const line = () => {
    let end = body.indexOf(NEWLINE, offset)
    if (end < 0) end = body.length
    const bytes = body.subarray(offset, end)
    offset = end + 1
    return bytes
  }
  const header = parseJson(line()) as Record<string, unknown>
  const items: EnvelopeItem[] = []
  while (offset < body.length) {
    const headerBytes = line()
    if (headerBytes.length === 0) continue
    const itemHeader = parseJson(headerBytes) as EnvelopeItem['header']
    let payload: Uint8Array
    if (typeof itemHeader.length === 'number') {
      payload = body.subarray(offset, offset + itemHeader.length)
      offset += itemHeader.length
      if (body[offset] === NEWLINE) offset++
    } else {
      payload = line()
    }
    items.push({ header: itemHeader, payload: parseJson(payload) })
  }
  return { header, items, raw: new TextDecoder().decode(body) }
}

export type IngestMode = 'ok' | 'hang'

/**
 * A Sentry-compatible ingestion endpoint on 127.0.0.1: accepts envelopes on
 * `/api/<project>/envelope/`, optionally gzip-compressed, and keeps them for assertions.
 * In `hang` mode it accepts the request and never answers.
 */
export async function startIngest(mode: IngestMode = 'ok') {
  const envelopes: Envelope[] = []
  const rejected: string[] = []
  let current = mode
  let received = 0
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      received++
      if (current === 'hang') return new Promise<Response>(() => {})
      const url = new URL(request.url)
      const auth = request.headers.get('x-sentry-auth') ?? url.searchParams.toString()
      if (
        request.method !== 'POST' ||
        url.pathname !== '/api/1/envelope/' ||
        !auth.includes('sentry_key=public')
      ) {
        rejected.push(`${request.method} ${url.pathname}`)
        return new Response('bad request', { status: 400 })
      }
      let body = new Uint8Array(await request.arrayBuffer())
      if (request.headers.get('content-encoding') === 'gzip') body = new Uint8Array(gunzipSync(body))
      envelopes.push(parseEnvelope(body))
      return Response.json({})
    },
  })
  const dsn = `http://public@127.0.0.1:${server.port}/1`

  const itemsOf = (type: string) =>
    envelopes.flatMap((e) => e.items.filter((i) => i.header.type === type).map((i) => i.payload))
  const spans = () => (itemsOf('span') as Array<{ items: StreamedSpan[] }>).flatMap((s) => s.items)

  const ingest = {
    dsn,
    port: server.port,
    envelopes,
    rejected,
    /** HTTP requests that reached the endpoint, answered or not. */
    received: () => received,
    events: () => itemsOf('event') as SentryEvent[],
    /** Error events of one request, found by the request id tag. */
    eventsFor: (requestId: string) =>
      (itemsOf('event') as SentryEvent[]).filter((e) => e.tags?.request_id === requestId),
    spans,
    /**
     * The root span of each traced request, whatever the SDK sends it as: a segment span of a
     * streamed span item (SDK 11: Bun, Node) or a transaction event (SDK 10: `@sentry/deno`).
     */
    rootSpans: (): RootSpan[] => [
      ...spans()
        .filter((s) => s.is_segment)
        .map((s) => ({ name: s.name, traceId: s.trace_id, op: s.attributes['sentry.op']?.value })),
      ...(itemsOf('transaction') as TransactionEvent[]).map((t) => ({
        name: t.transaction,
        traceId: t.contexts?.trace?.trace_id,
        op: t.contexts?.trace?.op,
      })),
    ],
    /** Every received body as text, for "this string is nowhere" checks. */
    rawText: () => envelopes.map((e) => e.raw).join('\n'),
    /** Polls until `probe` returns a value; a hang detector, not a timing assertion. */
    async waitFor<T>(probe: () => T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const value = probe()
        if (value) return value
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
        await Bun.sleep(20)
      }
    },
    setMode(next: IngestMode) {
      current = next
    },
    /** Closes the port and drops open connections: the endpoint is then down. */
    stop() {
      server.stop(true)
    },
  }
  return ingest
}

export type Ingest = Awaited<ReturnType<typeof startIngest>>

/** A port that nothing listens on (bound once, then released). */
export function closedPort(): number {
  const probe = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() })
  const port = probe.port
  probe.stop(true)
  return port!
}

/** The payment a sandbox `tok_error` charge failed on, as the API answered it. */
export interface FailedSandboxPayment {
  requestId: string
  tenantId: string
  orderId: string
  paymentId: string
  amountMinor: number
  currency: string
}

/**
 * The one event of a request whose sandbox payment failed (`tok_error`, answered 502): the
 * tags, user, payment context, extras and exception every runtime's SDK must send alike.
 */
export function expectSandboxProviderErrorEvent(
  event: SentryEvent | undefined,
  payment: FailedSandboxPayment,
) {
  const message = 'sandbox provider unavailable (simulated upstream 503)'
  expect(event).toMatchObject({
    transaction: 'POST /orders/:id/payments',
    tags: {
      request_id: payment.requestId,
      tenant_id: payment.tenantId,
      payment_provider: 'sandbox',
      'http.method': 'POST',
      'http.status_code': '502',
    },
    user: { id: payment.tenantId },
    contexts: {
      payment_data: {
        paymentId: payment.paymentId,
        orderId: payment.orderId,
        amountMinor: payment.amountMinor,
        currency: payment.currency,
      },
    },
    extra: { payment_state: 'failed', error_details: message },
    exception: { values: [{ type: 'ProviderError', value: message }] },
  })
}

/** Where `secret` occurs in `text`, with some context, so that a failure says where it leaked. */
export function leaks(text: string, secret: string): string[] {
  const found: string[] = []
  for (let at = text.indexOf(secret); at >= 0; at = text.indexOf(secret, at + 1)) {
    found.push(text.slice(Math.max(0, at - 150), at + secret.length + 50))
  }
  return found
}

/** Request headers the SDK is allowed to send in clear (`dataCollection.httpHeaders.request.allow`). */
const CLEAR_HEADER = /^(content-type|content-length|user-agent|accept.*|x-request-id)$/

/**
 * What the privacy settings leave of the request on an event: no body, cookies or query
 * string, and every header outside the allow-list as `[Filtered]`, never in clear.
 */
export function expectRequestScrubbed(event: SentryEvent | undefined) {
  const request = event?.request as
    | ({ headers?: Record<string, string> } & Record<string, unknown>)
    | undefined
  expect(request).toBeDefined()
  expect(request!.data).toBeUndefined()
  expect(request!.cookies).toBeUndefined()
  expect(request!.query_string).toBeUndefined()
  for (const [name, value] of Object.entries(request!.headers ?? {})) {
    if (!CLEAR_HEADER.test(name)) expect([name, value]).toEqual([name, '[Filtered]'])
  }
  expect(request!.headers?.authorization ?? '[Filtered]').toBe('[Filtered]')
  expect(request!.headers?.cookie ?? '[Filtered]').toBe('[Filtered]')
}
