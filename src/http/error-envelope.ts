import { Elysia, ValidationError } from 'elysia'
import { AppError, type ErrorEnvelope, envelopeOf } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { isDatabaseUnavailable } from '../db/client.ts'
import { requestState } from './request-context.ts'

interface FieldProblem {
  field: string
  message: string
}

interface SchemaIssue {
  path?: string
  message?: string
  schema?: { enum?: unknown[] }
  errors?: Iterable<SchemaIssue>[]
}

/**
 * A union error ("Expected union value") says nothing about which field is wrong; when a
 * member of the union failed on a nested field (e.g. `quietHours.start` of an object-or-null),
 * report those nested failures instead.
 */
function specific(issue: SchemaIssue): SchemaIssue[] {
  const nested = (issue.errors ?? []).flatMap((variant) =>
    [...variant].filter((sub) => (sub.path ?? '').length > (issue.path ?? '').length),
  )
  return nested.length > 0 ? nested.flatMap(specific) : [issue]
}

/**
 * Turns Elysia's TypeBox validation errors into field names a client can act on: one problem
 * per field, the first TypeBox reports (a missing field is also "Expected string", which only
 * repeats it).
 */
export function describeValidation(error: ValidationError): { message: string; details: unknown } {
  const seen = new Set<string>()
  const problems: FieldProblem[] = []
  for (const issue of (error.all as SchemaIssue[]).flatMap(specific)) {
    const field = (issue.path ?? '').replace(/^\//, '').replaceAll('/', '.')
    const message =
      issue.message === 'Unexpected property'
        ? 'unknown field'
        : Array.isArray(issue.schema?.enum)
          ? `expected one of ${issue.schema.enum.join(', ')}`
          : (issue.message ?? 'invalid')
    if (seen.has(field)) continue
    seen.add(field)
    problems.push({ field: field || error.type, message })
  }
  const first = problems[0]
  const message = first
    ? `Invalid ${error.type}: ${first.field} — ${first.message}${problems.length > 1 ? ` (and ${problems.length - 1} more ${problems.length > 2 ? 'fields' : 'field'})` : ''}`
    : `Invalid ${error.type}`
  return { message, details: { in: error.type, errors: problems } }
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
}

/**
 * The one error boundary: every error thrown anywhere in the app (AppError, Elysia's own
 * PARSE/VALIDATION/NOT_FOUND, database outages, bugs) leaves as the common JSON envelope.
 */
export function errorEnvelope(options: ErrorEnvelopeOptions) {
  return new Elysia({ name: 'error-envelope' }).onError(
    { as: 'global' },
    ({ code, error: raised, request, route, set }) => {
      // Elysia wraps whatever a parse hook throws in a ParseError; our parser throws AppErrors.
      const cause = (raised as { cause?: unknown }).cause
      const error = code === 'PARSE' && cause instanceof AppError ? cause : raised
      const state = requestState(request)
      const requestId = state?.requestId ?? 'unknown'
      let status: number
      let body: ErrorEnvelope['error']
      if (error instanceof AppError) {
        status = error.status
        body = envelopeOf(error, requestId).error
      } else if (code === 'VALIDATION' && error instanceof ValidationError) {
        status = 422
        const { message, details } = describeValidation(error)
        body = { code: 'VALIDATION', message, details, requestId }
      } else if (code === 'PARSE') {
        status = 400
        body = { code: 'INVALID_JSON', message: 'Request body is not valid JSON', requestId }
      } else if (code === 'NOT_FOUND') {
        status = 404
        body = { code: 'NOT_FOUND', message: 'Route not found', requestId }
      } else if (code === 'INVALID_COOKIE_SIGNATURE' || code === 'INVALID_FILE_TYPE') {
        status = 400
        body = { code: 'BAD_REQUEST', message: 'Malformed request', requestId }
      } else if (isDatabaseUnavailable(error)) {
        status = 503
        body = { code: 'UNAVAILABLE', message: 'Database unavailable, retry later', requestId }
      } else {
        status = 500
        body = { code: 'INTERNAL', message: 'Internal server error', requestId }
      }
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
      set.headers['content-type'] = 'application/json'
      return { error: body } satisfies ErrorEnvelope
    },
  )
}
