/**
 * Removes customer data and credentials from what is sent to Sentry. The SDK is already
 * configured to collect as little as possible (src/observability/sentry.ts); this is the
 * last line: it runs on every error event (beforeSend) and every span (beforeSendSpan).
 */

import { scrubDeep, scrubText } from '../core/scrub.ts'

export { FILTERED, scrubDeep, scrubText } from '../core/scrub.ts'

/** Request parts that carry customer input or credentials wholesale. */
const DROPPED_REQUEST_FIELDS = ['data', 'cookies', 'query_string', 'env'] as const

interface EventShape {
  request?: { url?: string; headers?: Record<string, unknown> } & Record<string, unknown>
  user?: Record<string, unknown>
  exception?: {
    values?: Array<{ value?: unknown; stacktrace?: { frames?: Array<Record<string, unknown>> } }>
  }
  [key: string]: unknown
}

// drizzle-orm's DrizzleQueryError message ends with the statement's parameters
// (`Failed query: …\nparams: +2547…,Jane`): what a request sent, names and phones alike.
const QUOTED_PARAMETERS = /\nparams: [\s\S]*$/

/**
 * `beforeSend`: drops request bodies, cookies, query strings, local variables and the
 * parameters a failed statement's message quotes, keeps only the user id (the tenant id),
 * then scrubs phone numbers and credentials from every field.
 */
export function scrubEvent<T extends object>(event: T): T {
  const e = event as EventShape
  if (e.request) {
    for (const field of DROPPED_REQUEST_FIELDS) delete e.request[field]
    if (typeof e.request.url === 'string') e.request.url = e.request.url.split('?')[0]
  }
  if (e.user) e.user = typeof e.user.id === 'string' ? { id: e.user.id } : {}
  for (const value of e.exception?.values ?? []) {
    if (typeof value.value === 'string' && value.value.startsWith('Failed query: '))
      value.value = value.value.replace(QUOTED_PARAMETERS, '\nparams: [redacted]')
    for (const frame of value.stacktrace?.frames ?? []) delete frame.vars
  }
  return scrubDeep(event)
}

/** `beforeSendSpan`: the span name and attributes (URLs, headers, SQL) get the same scrubbing. */
export function scrubSpan<T extends object>(span: T): T {
  const s = span as { name?: unknown; attributes?: Record<string, unknown> }
  if (typeof s.name === 'string') s.name = scrubText(s.name)
  if (s.attributes) scrubDeep(s.attributes)
  return span
}

/**
 * Scrubs an envelope's header in place, as the SDK's `beforeEnvelope` hook hands it over. Its
 * `trace` (the dynamic sampling context) is, for a continued trace, the caller's `baggage`
 * entries copied as sent (`sentry-transaction=GET /customers/+2547…`, any `sentry-*` key): no
 * beforeSend or beforeSendSpan sees it, and it rides on every event and span envelope.
 */
export function scrubEnvelopeHeader(envelope: readonly [Record<string, unknown>, ...unknown[]]): void {
  const trace = envelope[0]?.trace
  if (trace !== null && typeof trace === 'object') scrubDeep(trace)
}
