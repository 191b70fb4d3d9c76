import {
  Elysia,
  ElysiaCustomStatusResponse,
  InvalidCookieSignature,
  InvalidFileType,
  NotFoundError,
  ParseError,
  ValidationError,
} from 'elysia'
import { AppError, type ErrorEnvelope, envelopeOf } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { scrubText } from '../core/scrub.ts'
import { isDatabaseUnavailable, isUnstorableText } from '../db/client.ts'
import type { AnswerRecorder } from './access-log.ts'
import { requestState } from './request-context.ts'

/**
 * The content type of every JSON answer, success or error, on every runtime. RFC 8259 defines
 * no `charset` for it (JSON is UTF-8); Bun's `Response.json` and Elysia's web adapter add one,
 * Elysia's Node adapter does not, so the type is always set, never left to them.
 */
export const JSON_CONTENT_TYPE = 'application/json'

interface FieldProblem {
  field: string
  message: string
}

interface SchemaIssue {
  path?: string
  message?: string
  /** The value that failed (undefined for a missing property). */
  value?: unknown
  /** `error`: Elysia's custom message keyword, what a failing value must be in words. */
  schema?: { enum?: unknown[]; error?: unknown; minProperties?: unknown }
  errors?: Iterable<SchemaIssue>[]
}

/**
 * A union error ("Expected union value") says nothing about which field is wrong; when a
 * member of the union failed on a nested field (e.g. `quietHours.start` of an object-or-null),
 * report those nested failures instead.
 */
function specific(issue: SchemaIssue): SchemaIssue[] {
  materialize(issue)
  const nested = (issue.errors ?? []).flatMap((variant) =>
    [...variant].filter((sub) => (sub.path ?? '').length > (issue.path ?? '').length),
  )
  return nested.length > 0 ? nested.flatMap(specific) : [issue]
}

/** TypeBox hands a union's members' errors as one-shot iterators: read each once, keep arrays. */
function materialize(issue: SchemaIssue): void {
  if (!issue.errors || issue.errors.every(Array.isArray)) return
  issue.errors = issue.errors.map((variant) => [...variant])
  for (const variant of issue.errors) for (const sub of variant) materialize(sub)
}

const UNION_VALUE = 'Expected union value'
// Elysia checks a number sent as text (a query parameter, t.Integer anywhere) as a union of
// the text's format and the number; the format's failure only repeats the number's.
const TRANSPORT_FORMAT = /^Expected string to match '(?:integer|numeric)' format$/

/** What each member of a union expected at the union's own path ("Expected union value" unfolded). */
function memberMessages(issue: SchemaIssue): string[] {
  if (issue.message !== UNION_VALUE || !issue.errors) return issue.message ? [issue.message] : []
  return issue.errors.flatMap((variant) => {
    const first = [...variant].find((sub) => (sub.path ?? '') === (issue.path ?? ''))
    return first ? memberMessages(first) : []
  })
}

/**
 * The message of one field's failure; for a union, what its members expected, e.g.
 * `Expected integer to be greater or equal to 0 or null` for an optional count sent as -3.
 */
function issueMessage(issue: SchemaIssue): string {
  if (issue.message === 'Unexpected property') return 'unknown field'
  // TypeBox says `Expected object to have at least 1 properties` of an empty PATCH body.
  const least = issue.schema?.minProperties
  if (typeof least === 'number' && issue.message?.startsWith('Expected object to have at least ')) {
    return least === 1 ? 'Expected at least one field' : `Expected at least ${least} fields`
  }
  // A pattern's failure would quote the regex (`Expected string to match '^\+[1-9]…$'`): a
  // schema that says in words what it takes (Elysia's `error`) is answered in those words.
  // A missing field is still told it is required.
  if (typeof issue.schema?.error === 'string' && issue.value !== undefined) return issue.schema.error
  if (Array.isArray(issue.schema?.enum) && issue.value !== undefined) {
    return `expected one of ${issue.schema.enum.join(', ')}`
  }
  const members = [...new Set(memberMessages(issue))]
  const meaningful = members.filter((m) => !TRANSPORT_FORMAT.test(m))
  const messages = meaningful.length > 0 ? meaningful : members
  if (messages.length === 0) return issue.message ?? 'invalid'
  return [messages[0], ...messages.slice(1).map((m) => m.replace(/^Expected /, ''))].join(' or ')
}

/**
 * The query parameter an Elysia `property` error is about. Elysia decodes a number sent as
 * text (`t.Integer` in a query) on its own and throws the failure with neither the field's
 * name nor where it came from (type `property`, the decoded value); the parameter is the one
 * whose text decodes to that value.
 */
function propertyField(error: ValidationError, request: Request): string | undefined {
  const value = (error as { value?: unknown }).value
  for (const [key, text] of new URL(request.url).searchParams) {
    if (text === String(value) || (text.trim() !== '' && Number(text) === value)) return key
  }
  return undefined
}

/**
 * Turns Elysia's TypeBox validation errors into field names a client can act on: one problem
 * per field, the first TypeBox reports (a missing field is also "Expected string", which only
 * repeats it).
 */
export function describeValidation(
  error: ValidationError,
  request?: Request,
): { message: string; details: unknown } {
  const seen = new Set<string>()
  const problems: FieldProblem[] = []
  let where: string = error.type
  let property: string | undefined
  if (where === 'property' && request) {
    property = propertyField(error, request)
    if (property !== undefined) where = 'query'
  }
  for (const issue of (error.all as SchemaIssue[]).flatMap(specific)) {
    // An unknown field's name is the client's text: one that is a phone number or a key
    // (`{"+2547…": 1}`) is named scrubbed, as the error body and the log line must not hold it.
    const field = scrubText((issue.path ?? '').replace(/^\//, '').replaceAll('/', '.') || property || where)
    if (seen.has(field)) continue
    seen.add(field)
    problems.push({ field, message: issueMessage(issue) })
  }
  const first = problems[0]
  const message = first
    ? `Invalid ${where}: ${first.field} — ${first.message}${problems.length > 1 ? ` (and ${problems.length - 1} more ${problems.length > 2 ? 'fields' : 'field'})` : ''}`
    : `Invalid ${where}`
  return { message, details: { in: where, errors: problems } }
}

export interface ErrorReport {
  error: unknown
  request: Request
  status: number
  /** Route template, empty when no route matched. */
  route?: string
}

export interface ErrorEnvelopeOptions {
  log: Logger
  /** Called once for each 5xx the handler produces (Sentry hooks in here). */
  onServerError?: (report: ErrorReport) => void
  /**
   * The methods the app's routes answer on a path (see `allowedMethods`): a request that no
   * route matched, on a path that some route serves with another method, is a 405 with
   * `Allow`, not a 404. Without it every unmatched request is a 404.
   */
  allowedMethods?: (pathname: string) => string[]
}

/** What the error boundary answers to one thrown value: the status, the envelope and its headers. */
interface ErrorAnswer {
  status: number
  body: ErrorEnvelope['error']
  headers: Record<string, string>
}

/**
 * Classifies a thrown value by what it is, never by the `code` Elysia reads off it: Elysia
 * names an error by its `code` property, so a library's `Error` with `code: 'NOT_FOUND'` (or a
 * thrown `{ code: 'PARSE' }`) would otherwise be answered as a missed route or bad JSON, a 4xx
 * that is neither logged nor reported. Only Elysia's own error classes get Elysia's answers.
 */
function classify(
  raised: unknown,
  request: Request,
  requestId: string,
  options: ErrorEnvelopeOptions,
): ErrorAnswer & { error: unknown } {
  // Elysia wraps whatever a parse hook throws in a ParseError; our parser throws AppErrors.
  const cause = raised instanceof ParseError ? (raised as { cause?: unknown }).cause : undefined
  const error = cause instanceof AppError ? cause : raised
  const answer = (status: number, body: ErrorEnvelope['error'], headers: Record<string, string> = {}) => ({
    status,
    body,
    headers,
    error,
  })
  if (error instanceof AppError) {
    return answer(error.status, envelopeOf(error, requestId).error, error.headers)
  }
  if (error instanceof ValidationError) {
    const { message, details } = describeValidation(error, request)
    return answer(422, { code: 'VALIDATION', message, details, requestId })
  }
  if (error instanceof ParseError) {
    return answer(400, { code: 'INVALID_JSON', message: 'Request body is not valid JSON', requestId })
  }
  if (error instanceof NotFoundError) {
    const allow = options.allowedMethods?.(new URL(request.url).pathname) ?? []
    if (allow.length > 0) {
      // RFC 9110 §15.5.6: a 405 names the methods the resource supports in `Allow`. The
      // method itself is not echoed: any token is a method, a phone number too.
      return answer(
        405,
        {
          code: 'METHOD_NOT_ALLOWED',
          message: `Method not allowed on this path; it answers ${allow.join(', ')}`,
          details: { allow },
          requestId,
        },
        { allow: allow.join(', ') },
      )
    }
    return answer(404, { code: 'NOT_FOUND', message: 'Route not found', requestId })
  }
  if (error instanceof InvalidCookieSignature || error instanceof InvalidFileType) {
    return answer(400, { code: 'BAD_REQUEST', message: 'Malformed request', requestId })
  }
  if (isUnstorableText(error)) {
    return answer(422, {
      code: 'VALIDATION',
      message: 'Invalid input: text with a character the database cannot store (such as U+0000)',
      requestId,
    })
  }
  if (isDatabaseUnavailable(error)) {
    return answer(503, { code: 'UNAVAILABLE', message: 'Database unavailable, retry later', requestId })
  }
  return answer(500, { code: 'INTERNAL', message: 'Internal server error', requestId })
}

/**
 * The one error boundary: every error thrown anywhere in the app (AppError, Elysia's own
 * PARSE/VALIDATION/NOT_FOUND, database outages, bugs) leaves as the common JSON envelope.
 * What Elysia cannot hand to `onError` (a thrown `null` or `undefined`) is caught by
 * `escapedErrors`, which the app installs around its whole fetch handler.
 *
 * A thrown `status(code, body)` is no error but the answer, as in Elysia (compose.ts
 * composeErrorHandler maps it to its code and body): `throw status(200, …)` or
 * `throw status(302, …)` answers exactly what `return status(…)` would, with any code, so a
 * thrown 5xx is reported as a returned one is (errorReporting), not as a bug.
 */
export function errorEnvelope(options: ErrorEnvelopeOptions) {
  return new Elysia({ name: 'error-envelope' }).onError(
    { as: 'global' },
    ({ error: raised, request, route, set }) => {
      // The body is handed on unwrapped, as a returned status() reaches the mapResponse hooks
      // (which set the JSON content type on it); Elysia's handler sets a thrown non-Error's
      // status to 500 first, so the code is set again here.
      if (raised instanceof ElysiaCustomStatusResponse) {
        set.status = raised.code
        return raised.response ?? raised
      }
      const state = requestState(request)
      const requestId = state?.requestId ?? 'unknown'
      const { status, body, headers, error } = classify(raised, request, requestId, options)
      Object.assign(set.headers, headers)
      const log = state?.log ?? options.log
      if (status >= 500) {
        log.error({ err: error, status }, 'request failed')
        if (!state?.errorReported) {
          if (state) state.errorReported = true
          options.onServerError?.({ error, request, status, route })
        }
      }
      if (state) state.errorStatus = status
      set.status = status
      set.headers['content-type'] = JSON_CONTENT_TYPE
      return { error: body } satisfies ErrorEnvelope
    },
  )
}

/**
 * What Elysia threw instead of answering: it reads `error.code` of every thrown value, so a
 * handler or hook that throws `null` or `undefined` (or rejects with it) fails inside Elysia's
 * own catch block with a TypeError that skips `onError` and rejects the fetch handler.
 */
export class EscapedError extends Error {
  override name = 'EscapedError'
}

/** Elysia's TypeError reading `error.code` of a thrown null: Bun's, V8's (Node, Deno) wording. */
const ELYSIA_READING_CODE =
  /^(?:(?:null|undefined) is not an object \(evaluating '\w+\.code'\)|Cannot read properties of (?:null|undefined) \(reading 'code'\))$/

export interface EscapedErrorsOptions extends ErrorEnvelopeOptions {
  /** Adds the headers every response carries (security headers, the echoed request id). */
  responseHeaders?: (set: { headers: Record<string, unknown> }, request: Request) => void
  /** The route template a request matched (allowed-methods.ts routeFinder): Elysia's is lost. */
  routeOf?: (method: string, pathname: string) => string | undefined
  /** Monotonic milliseconds, the clock of RequestState.startedAt. */
  now?: () => number
  /** The access log's and HTTP metrics' records of a request answered here (AnswerRecorder). */
  recordAnswer?: readonly AnswerRecorder[]
}

/**
 * The last line of the error boundary, for Elysia's `app.wrap` (a higher-order function around
 * the compiled fetch handler, so `app.fetch` and `app.handle` both pass through it): whatever
 * still rejects or throws out of Elysia is answered with the common envelope (a 500 with the
 * request's id), logged once and reported once. A request that `onError` already answered
 * (a route's mapResponse hook that throws again on the error's answer) is not logged or
 * reported a second time. Its access-log line and HTTP metrics, which mapResponse hooks
 * write and Elysia never reached, are written here (`recordAnswer`), each once per request.
 */
export function escapedErrors(options: EscapedErrorsOptions): Parameters<Elysia['wrap']>[0] {
  const answer = (thrown: unknown, request: Request): Response => {
    const state = requestState(request)
    const requestId = state?.requestId ?? 'unknown'
    const error =
      thrown instanceof TypeError && ELYSIA_READING_CODE.test(thrown.message)
        ? new EscapedError(
            `A handler or hook threw a value Elysia cannot handle (null or undefined): ${thrown.message}`,
            { cause: thrown },
          )
        : thrown
    const { status, body, headers, error: reported } = classify(error, request, requestId, options)
    const route = options.routeOf?.(request.method, new URL(request.url).pathname) ?? ''
    // A request onError already answered was logged and reported then.
    if (status >= 500 && !state?.errorReported) {
      if (state) state.errorReported = true
      ;(state?.log ?? options.log).error({ err: reported, status }, 'request failed')
      options.onServerError?.({ error: reported, request, status, route })
    }
    if (state) {
      state.errorStatus = status
      const elapsedMs = options.now ? options.now() - state.startedAt : 0
      for (const record of options.recordAnswer ?? []) record(request, route, status, elapsedMs)
    }
    const set = { headers: { ...headers } as Record<string, unknown> }
    options.responseHeaders?.(set, request)
    set.headers['content-type'] = JSON_CONTENT_TYPE
    return new Response(JSON.stringify({ error: body } satisfies ErrorEnvelope), {
      status,
      headers: set.headers as Record<string, string>,
    })
  }
  // Elysia types the handler it wraps as returning a Function; it returns the Response.
  return (fetch) =>
    ((request: Request, ...rest: unknown[]): Response | Promise<Response> => {
      try {
        const response = fetch(request, ...rest) as unknown as Response | Promise<Response>
        return response instanceof Promise ? response.catch((thrown) => answer(thrown, request)) : response
      } catch (thrown) {
        return answer(thrown, request)
      }
    }) as never
}
