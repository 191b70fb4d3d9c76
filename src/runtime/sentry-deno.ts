/**
 * `@sentry/deno` is published up to 10.x, while Bun and Node run SDK 11, whose `dataCollection`
 * the shared init options (src/observability/sentry.ts) are written for. Core 10.75 already
 * reads `dataCollection` for user IPs, cookies, query strings, bodies and span headers; two
 * differences remain, and both would send an `Authorization` header in clear:
 * - its RequestData integration copies every request header onto events, where core 11 sends
 *   the headers outside `httpHeaders.request` as `[Filtered]`;
 * - it sends traces as transaction events, which pass `beforeSendTransaction`, not the
 *   `beforeSend` scrubber (SDK 11 streams spans, which pass `beforeSendSpan`).
 * The wrapper gives error and transaction events alike core 11's header filter, then the
 * shared `beforeSend`. A third difference is cardinality: 10.x names a request's root span
 * `<method> <URL path>` until something renames it, so a request refused before routing (an
 * unknown route's 404, a 405) became a transaction named by whatever path a client or scanner
 * sent (`GET /no-such-route`); SDK 11's bunServerIntegration names such a span by its method
 * alone. The wrapper renames transactions still named from their URL the same way. A transaction's `sdkProcessingMetadata` (the SDK's own scopes, never
 * sent: the envelope drops it) is kept out of the scrubber, which writes every field it visits
 * and would throw on the getter-only properties down there.
 */

/** How much of one kind of key-value data is collected, as @sentry/core 11's `CollectBehavior`. */
export type CollectBehavior = boolean | { allow: string[] } | { deny: string[] }

const FILTERED_VALUE = '[Filtered]'

/** @sentry/core 11's `SENSITIVE_KEY_SNIPPETS`: keys withheld even when the behaviour allows them. */
const SENSITIVE_KEY_SNIPPETS = [
  'auth',
  'token',
  'secret',
  'session',
  'password',
  'passwd',
  'pwd',
  'key',
  'jwt',
  'bearer',
  'sso',
  'saml',
  'csrf',
  'xsrf',
  'credentials',
  'sid',
  'identity',
  'set-cookie',
  'cookie',
]

/** Whether the value of `key` is withheld, as @sentry/core 11's `shouldFilterDataKey`. */
function withheld(key: string, behavior: CollectBehavior): boolean {
  if (behavior === false) return true
  const lower = key.toLowerCase()
  if (SENSITIVE_KEY_SNIPPETS.some((snippet) => lower.includes(snippet))) return true
  if (behavior === true) return false
  const terms = 'deny' in behavior ? behavior.deny : behavior.allow
  const matches = terms.some((term) => lower.includes(term.toLowerCase()))
  return 'deny' in behavior ? matches : !matches
}

/**
 * Request headers as @sentry/core 11's `filterKeyValueData` leaves them: every key kept, the
 * value of a withheld one replaced by `[Filtered]`; `false` keeps none.
 */
export function filterHeaders(
  headers: Record<string, string>,
  behavior: CollectBehavior,
): Record<string, string> {
  if (behavior === false) return {}
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name, withheld(name, behavior) ? FILTERED_VALUE : value]),
  )
}

/** The part of the SDK 11 init options the wrapper reads. */
interface Sdk11Options {
  dataCollection?: { httpHeaders?: { request?: CollectBehavior } }
  beforeSend?: (event: SentryEventShape, hint: unknown) => unknown
}

interface SentryEventShape {
  request?: { headers?: Record<string, string> }
  sdkProcessingMetadata?: unknown
  transaction?: string
  transaction_info?: { source?: string }
  contexts?: { trace?: { data?: Record<string, unknown> } }
}

/**
 * A transaction event's name as SDK 11 gives its root span (@sentry/bun 11
 * integrations/bunserver.js: a span whose name source is not `route` is named by its upper-case
 * method): one still named from its URL (source `url`, never renamed by the app's router)
 * keeps only its method, `http.request.method` (or the first word of 10.x's `<method> <path>`).
 * The source stays `url`, so Sentry still knows the name for a fallback. Other events are
 * returned as they are.
 */
export function nameUnroutedTransaction<Event extends SentryEventShape>(event: Event): Event {
  if (event.transaction_info?.source !== 'url' || event.transaction === undefined) return event
  const method = event.contexts?.trace?.data?.['http.request.method']
  const name = typeof method === 'string' && method !== '' ? method : event.transaction.split(' ', 1)[0]!
  event.transaction = name.toUpperCase()
  return event
}

/**
 * `@sentry/deno`'s module namespace with an `init` that runs every error and transaction event
 * through the request-header filter of `dataCollection.httpHeaders.request`, as SDK 11 does,
 * and then through the options' own `beforeSend`; a transaction is first named as SDK 11 names
 * an unrouted request (nameUnroutedTransaction). Everything else is the SDK's own.
 */
export function withSdk11RequestHeaders<Sdk extends { init(options: never): unknown }>(sdk: Sdk): Sdk {
  const init = (options: Sdk11Options) => {
    const behavior = options.dataCollection?.httpHeaders?.request
    const scrub = options.beforeSend
    const beforeSend = (event: SentryEventShape, hint: unknown) => {
      if (behavior !== undefined && event.request?.headers) {
        event.request.headers = filterHeaders(event.request.headers, behavior)
      }
      if (!scrub) return event
      const { sdkProcessingMetadata, ...sent } = event
      const scrubbed = scrub(sent, hint)
      return scrubbed && sdkProcessingMetadata !== undefined
        ? { ...scrubbed, sdkProcessingMetadata }
        : scrubbed
    }
    const beforeSendTransaction = (event: SentryEventShape, hint: unknown) =>
      beforeSend(nameUnroutedTransaction(event), hint)
    return sdk.init({ ...options, beforeSend, beforeSendTransaction } as never)
  }
  return { ...sdk, init }
}
