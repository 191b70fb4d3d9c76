/**
 * Sentry, runtime-agnostic: the init options and the ErrorReporter implementation are built
 * from an SDK object the entry file passes in (`@sentry/bun` in src/server.ts; `@sentry/node`
 * or `@sentry/deno` expose the same functions), so nothing here imports an SDK.
 */
import { AppError } from '../core/errors.ts'
import { createTraceIds } from '../core/trace-context.ts'
import type { ErrorReporter, PaymentProviderFailure, RequestLookup } from './error-reporter.ts'
import { Counter, type CounterSeries } from './instruments.ts'
import type { MetricsRegistry } from './metrics.ts'
import { scrubEnvelopeHeader, scrubEvent, scrubSpan, scrubText } from './scrub.ts'

export interface SentrySettings {
  dsn: string
  environment: string
  release: string
  tracesSampleRate: number
}

/** The scope methods the reporter uses. */
export interface SentryScope {
  setTag(key: string, value: string): unknown
  setContext(name: string, context: Record<string, unknown>): unknown
  setExtra(key: string, extra: unknown): unknown
  setUser(user: { id: string }): unknown
  setTransactionName(name: string): unknown
}

export interface SentrySpan {
  setAttribute(key: string, value: string): unknown
  spanContext(): { traceId: string; spanId: string }
}

/** The part of a Sentry SDK the reporter calls; `@sentry/bun`'s module namespace satisfies it. */
export interface SentrySdk {
  withScope<T>(callback: (scope: SentryScope) => T): T
  captureException(exception: unknown): string
  captureMessage(message: string, level: 'error'): string
  getActiveSpan(): SentrySpan | undefined
  getRootSpan(span: SentrySpan): SentrySpan
  updateSpanName(span: SentrySpan, name: string): void
  flush(timeout?: number): PromiseLike<boolean>
}

interface TransportOptions {
  url: string
  headers?: Record<string, string>
  recordDroppedEvent(...args: never[]): void
}

interface TransportResponse {
  statusCode?: number
  headers?: { 'x-sentry-rate-limits': string | null; 'retry-after': string | null }
}

/** What the SDK offers to build a transport; passed with the SDK by the entry file. */
export interface SentryTransportKit<Transport> {
  createTransport: (
    options: TransportOptions,
    makeRequest: (request: { body: string | Uint8Array }) => PromiseLike<TransportResponse>,
  ) => Transport
  suppressTracing: <T>(callback: () => T) => T
}

/** A Sentry request that takes longer than this is abandoned, so a hanging endpoint cannot fill the queue. */
export const TRANSPORT_TIMEOUT_MS = 5000

/**
 * The SDK's own fetch transport, plus a timeout: the stock one waits forever on an endpoint
 * that accepts connections and never answers, and the SDK drops every new event once 64
 * requests are pending.
 */
function timeoutFetchTransport<Transport>(kit: SentryTransportKit<Transport>, timeoutMs: number) {
  return (options: TransportOptions): Transport =>
    kit.createTransport(options, (request) =>
      kit.suppressTracing(() =>
        fetch(options.url, {
          method: 'POST',
          // The SDK builds envelopes on plain ArrayBuffers; TypeScript cannot know that.
          body: request.body as string | Uint8Array<ArrayBuffer>,
          headers: options.headers,
          signal: AbortSignal.timeout(timeoutMs),
        }).then((response) => {
          response.body?.cancel().catch(() => {})
          return {
            statusCode: response.status,
            headers: {
              'x-sentry-rate-limits': response.headers.get('x-sentry-rate-limits'),
              'retry-after': response.headers.get('retry-after'),
            },
          }
        }),
      ),
    )
}

/** The part of a Sentry client an integration's setup uses here. */
interface SentryClientHooks {
  on(hook: 'beforeEnvelope', callback: (envelope: [Record<string, unknown>, ...unknown[]]) => void): unknown
}

/** Runs scrubEnvelopeHeader on every envelope before it is sent. */
const scrubEnvelopeIntegration = {
  name: 'ScrubEnvelopeHeader',
  setup(client: SentryClientHooks) {
    client.on('beforeEnvelope', scrubEnvelopeHeader)
  },
}

/**
 * `Sentry.init` options. The SDK (v11) collects request headers, bodies, cookies, query
 * strings, user IPs and stack-frame variables unless told not to; `dataCollection` is what
 * replaced `sendDefaultPii`, and everything personal is off here. `scrubEvent`/`scrubSpan`
 * catch what still slips into messages, URLs and attributes.
 */
export function sentryInitOptions<Transport>(settings: SentrySettings, kit: SentryTransportKit<Transport>) {
  return {
    dsn: settings.dsn,
    environment: settings.environment,
    release: settings.release,
    tracesSampleRate: settings.tracesSampleRate,
    dataCollection: {
      userInfo: false,
      cookies: false,
      httpHeaders: {
        request: { allow: ['content-type', 'content-length', 'user-agent', 'accept', 'x-request-id'] },
        response: { allow: ['content-type', 'content-length', 'x-request-id'] },
      },
      httpBodies: [],
      urlQueryParams: false,
      graphQL: { document: false, variables: false },
      genAI: { inputs: false, outputs: false },
      databaseQueryData: false,
      queues: false,
      stackFrameVariables: false,
    },
    // Third parties (payment providers, WhatsApp) get no sentry-trace/baggage headers.
    tracePropagationTargets: [],
    // Every failing request is one event (Sentry groups them into issues); Dedupe would drop
    // the second of two identical failures and make the counts lie. The envelope header is
    // scrubbed too: it carries the caller's baggage, which no beforeSend* hook sees.
    integrations: <I extends { name: string }>(defaults: I[]): Array<I | typeof scrubEnvelopeIntegration> => [
      ...defaults.filter((i) => i.name !== 'Dedupe'),
      scrubEnvelopeIntegration,
    ],
    transport: timeoutFetchTransport(kit, TRANSPORT_TIMEOUT_MS),
    beforeSend: scrubEvent,
    // SDK 11 streams spans (beforeSendSpan); an SDK that still sends transactions as events
    // (Deno's 10.x) must not skip the scrubber with them.
    beforeSendTransaction: scrubEvent,
    beforeSendSpan: scrubSpan,
  }
}

/** Default release: `convo-commerce@<version>`, with `+<commit>` when the commit is known. */
export function defaultRelease(version: string, commit: string | undefined): string {
  return commit ? `convo-commerce@${version}+${commit.slice(0, 12)}` : `convo-commerce@${version}`
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  return typeof error === 'string' ? error : 'unknown error'
}

const transactionName = (request: Request, route: string | undefined) =>
  `${request.method} ${route || '<unmatched>'}`

/** How many events of one kind (error class and route) are sent per clock minute; the rest are dropped. */
export const EVENTS_PER_MINUTE_PER_KIND = 30
/** How many kinds are counted per minute; events of further kinds share one allowance. */
export const EVENT_KINDS_PER_MINUTE = 500

export interface EventCapOptions {
  /** Events sent per kind per clock minute (default EVENTS_PER_MINUTE_PER_KIND). */
  perMinute?: number
  /** Kinds counted per minute (default EVENT_KINDS_PER_MINUTE). */
  maxKinds?: number
  /** Wall-clock milliseconds (default Date.now). */
  now?: () => number
}

/**
 * A client-side cap on an error storm: at most `perMinute` events per kind per clock minute
 * (so at most twice that over any 60 s), where a kind is the error's class and the request's
 * method and route template (`TypeError GET /orders/:id`), as Sentry would group them into
 * one issue. One error thrown on every request at 5 000 req/s is 30 events a minute, not
 * 300 000: Sentry's own 429 (`X-Sentry-Rate-Limits`) only answers once the quota is already
 * burnt, and every event costs the request a scope, a serialization and a queue slot. Memory
 * is bounded: past `maxKinds` kinds in a minute, new kinds share one allowance of `perMinute`.
 * `allow` returns false for an event to drop; `dropped` counts them since the start.
 */
export function createEventCap(options: EventCapOptions = {}) {
  const perMinute = options.perMinute ?? EVENTS_PER_MINUTE_PER_KIND
  const maxKinds = options.maxKinds ?? EVENT_KINDS_PER_MINUTE
  const now = options.now ?? Date.now
  let minute = Number.NaN
  let counts = new Map<string, number>()
  let dropped = 0
  let onDrop: (() => void) | undefined
  return {
    allow(kind: string): boolean {
      const current = Math.floor(now() / 60_000)
      if (current !== minute) {
        minute = current
        counts = new Map()
      }
      const key = counts.has(kind) || counts.size < maxKinds ? kind : '\u0000other'
      const sent = counts.get(key) ?? 0
      if (sent >= perMinute) {
        dropped++
        onDrop?.()
        return false
      }
      counts.set(key, sent + 1)
      return true
    },
    dropped: () => dropped,
    /** Calls `listener` at each drop from now on (the counter of `instrument`). */
    onDrop(listener: () => void) {
      onDrop = listener
    },
  }
}

/** sentry_events_capped_total: what the reporter's `instrument` registers. */
const CAPPED_EVENTS = 'sentry_events_capped_total'

/** The kind an event is capped by: what was thrown (its class) and where (method and route). */
function eventKind(error: unknown, request: Request | undefined, route: string | undefined): string {
  const what =
    error === undefined
      ? 'returned'
      : error instanceof Error
        ? error.name
        : error === null
          ? 'null'
          : typeof error
  return request ? `${what} ${transactionName(request, route)}` : `${what} background`
}

/**
 * The ErrorReporter on top of a Sentry SDK. Each event is built in its own `withScope`, from
 * the request's own state, so concurrent requests never share tags, user or payment context.
 * No method throws or waits: the SDK queues events and sends them in the background.
 */
export function createSentryReporter(
  sdk: SentrySdk,
  requestState: RequestLookup = () => undefined,
  cap: EventCapOptions = {},
): ErrorReporter {
  const traceIds = createTraceIds()
  const eventCap = createEventCap(cap)

  /**
   * Puts the event in the request's trace: Sentry fills `contexts.trace` from its active span,
   * whose trace is the request's unless the client sent a `traceparent` (Sentry's runtime
   * integrations continue only `sentry-trace`); then the scope's `trace` context, which Sentry
   * applies over the span's (@sentry/core `applySpanToEvent`), names the request's trace, a
   * span of ours and the caller's span as its parent.
   */
  function traceEventInRequestTrace(scope: SentryScope, state: { traceId: string; parentSpanId?: string }) {
    const active = sdk.getActiveSpan()?.spanContext()
    if (active?.traceId === state.traceId) return
    scope.setContext('trace', {
      trace_id: state.traceId,
      span_id: traceIds.spanId(),
      ...(state.parentSpanId ? { parent_span_id: state.parentSpanId } : {}),
    })
  }

  /** Payment failures reported during a request, sent when the request ends. */
  const heldPayments = new WeakMap<Request, PaymentProviderFailure>()

  function send(event: {
    request?: Request
    status?: number
    route?: string
    error?: unknown
    payment?: PaymentProviderFailure
  }) {
    try {
      if (!eventCap.allow(eventKind(event.error, event.request, event.route))) return
      sdk.withScope((scope) => {
        const { request, payment } = event
        if (request) {
          const state = requestState(request)
          scope.setTransactionName(transactionName(request, event.route))
          if (state) {
            scope.setTag('request_id', state.requestId)
            traceEventInRequestTrace(scope, state)
          }
          scope.setTag('http.method', request.method)
          if (state?.tenantId) {
            scope.setTag('tenant_id', state.tenantId)
            scope.setUser({ id: state.tenantId })
          }
        }
        if (event.status !== undefined) scope.setTag('http.status_code', String(event.status))
        if (payment) {
          scope.setTag('payment_provider', payment.provider)
          scope.setContext('payment_data', {
            paymentId: payment.paymentId,
            orderId: payment.orderId,
            amountMinor: payment.amountMinor,
            currency: payment.currency,
          })
          scope.setExtra('payment_state', 'failed')
          scope.setExtra('error_details', scrubText(errorMessage(payment.error)))
        }
        if (event.error !== undefined) sdk.captureException(event.error)
        else if (request) {
          sdk.captureMessage(`${transactionName(request, event.route)} answered ${event.status}`, 'error')
        }
      })
    } catch {
      // Reporting must never break the request that failed.
    }
  }

  return {
    enabled: true,

    captureServerError({ error, request, status, route }) {
      const payment = heldPayments.get(request)
      heldPayments.delete(request)
      // A 5xx that only maps the provider failure (an AppError) is reported as that failure;
      // an unexpected error in the same request stays the event's exception.
      const reported = payment && (error === undefined || error instanceof AppError) ? payment.error : error
      send({ request, status, route, error: reported, payment })
    },

    capturePaymentProviderError(request, failure) {
      if (request && requestState(request)) heldPayments.set(request, failure)
      else send({ error: failure.error, payment: failure })
    },

    instrument(metrics: MetricsRegistry) {
      if (!metrics.enabled) return
      const counter = metrics.register(
        new Counter({
          name: CAPPED_EVENTS,
          help: 'Sentry events dropped by the client-side cap on an error storm (30 a minute per error class and route), never sent.',
        }),
      )
      const series: CounterSeries = counter.unlabelled
      // Drops before the app was built (a background error at start-up) count too.
      series.inc(eventCap.dropped())
      eventCap.onDrop(() => series.inc())
    },

    activeTraceId() {
      try {
        return sdk.getActiveSpan()?.spanContext().traceId
      } catch {
        return undefined
      }
    },

    requestRouted(request, route) {
      try {
        const span = sdk.getActiveSpan()
        if (!span) return
        // The runtime integration (bunServerIntegration on Bun) opened the request's root span
        // under the raw method; the route template is only known once Elysia has routed.
        const root = sdk.getRootSpan(span)
        sdk.updateSpanName(root, transactionName(request, route))
        root.setAttribute('sentry.segment.name.source', 'route')
        root.setAttribute('http.route', route)
      } catch {
        // Naming is cosmetic; never fail the request for it.
      }
    },

    requestFinished(request, status, route) {
      const payment = heldPayments.get(request)
      if (!payment) return
      heldPayments.delete(request)
      send({ request, status, route, error: payment.error, payment })
    },

    async flush(timeoutMs) {
      let timer: ReturnType<typeof setTimeout> | undefined
      const timeout = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs)
      })
      try {
        return await Promise.race([Promise.resolve(sdk.flush(timeoutMs)).catch(() => false), timeout])
      } finally {
        clearTimeout(timer)
      }
    },
  }
}

export type SentryInitOptions<Transport> = ReturnType<typeof sentryInitOptions<Transport>>

/**
 * Initialises the SDK (once per process, before the app is built and before `Bun.serve`,
 * which the SDK instruments) and returns the reporter the app is given.
 */
export function startSentry<Transport>(
  sdk: SentrySdk & SentryTransportKit<Transport> & { init(options: SentryInitOptions<Transport>): unknown },
  settings: SentrySettings,
  requestState?: RequestLookup,
): ErrorReporter {
  sdk.init(sentryInitOptions(settings, sdk))
  return createSentryReporter(sdk, requestState)
}
