/**
 * The service's error vocabulary. Services throw these; the one `onError` handler
 * (src/http/error-envelope.ts) turns every one of them into the common JSON envelope.
 */

import { type Static, Type } from '@sinclair/typebox'
export class AppError extends Error {
  override name = 'AppError'
  /**
   * Response headers the error's answer carries beside the envelope (lower-case names), such as
   * `retry-after` (RFC 9110 §10.2.3) on a 409 or 503 that a retry must wait out; the error
   * boundary sets them.
   */
  headers: Record<string, string> = {}
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message)
  }
}

export const badRequest = (message: string, details?: unknown) =>
  new AppError(400, 'BAD_REQUEST', message, details)
export const invalidJson = (message = 'Request body is not valid JSON') =>
  new AppError(400, 'INVALID_JSON', message)
export const unauthorized = (message = 'Missing or invalid credentials') =>
  new AppError(401, 'UNAUTHORIZED', message)
export const forbidden = (message: string) => new AppError(403, 'FORBIDDEN', message)
export const notFound = (what = 'Resource') => new AppError(404, 'NOT_FOUND', `${what} not found`)
export const conflict = (message: string, details?: unknown) =>
  new AppError(409, 'CONFLICT', message, details)
export const payloadTooLarge = (limit: number) =>
  new AppError(413, 'PAYLOAD_TOO_LARGE', `Request body exceeds ${limit} bytes`)
// curl -d sends application/x-www-form-urlencoded unless told otherwise: name the header to add.
export const unsupportedMediaType = (
  message = 'Request body must be JSON: send it with the header content-type: application/json',
) => new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', message)
export const validation = (message: string, details?: unknown) =>
  new AppError(422, 'VALIDATION', message, details)
/**
 * An `Idempotency-Key` reused with a different request (method, path or body): 422, as
 * Stripe answers and draft-ietf-httpapi-idempotency-key-header §2.7 recommends.
 */
export const idempotencyKeyReused = () =>
  new AppError(
    422,
    'IDEMPOTENCY_KEY_REUSED',
    'This Idempotency-Key was already used with a different request; use a new key for a new request',
  )
/** A request with this `Idempotency-Key` is still being processed: 409; retry later. */
export const idempotencyKeyInUse = () =>
  new AppError(
    409,
    'IDEMPOTENCY_KEY_IN_USE',
    'A request with this Idempotency-Key is still being processed; retry after it finishes',
  )
export const unavailable = (message = 'Service temporarily unavailable') =>
  new AppError(503, 'UNAVAILABLE', message)

/** The JSON body of every 4xx and 5xx answer: the one schema, documented in OpenAPI as is. */
export const ErrorEnvelopeModel = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ examples: ['VALIDATION'] }),
      message: Type.String({ examples: ['Invalid body: items.0.quantity — Expected integer'] }),
      details: Type.Optional(Type.Unknown()),
      requestId: Type.String({ examples: ['3f1c2a9e-8d0b-4c55-9e3a-1f6b2c7d8e90'] }),
    }),
  },
  { description: 'Error envelope' },
)

/** The JSON body of every 4xx and 5xx answer (derived from `ErrorEnvelopeModel`). */
export type ErrorEnvelope = Static<typeof ErrorEnvelopeModel>

/**
 * The envelope of an AppError, with its fields in the order the error boundary sends them:
 * idempotency stores this body for replays, so both must produce the same bytes.
 */
export function envelopeOf(error: AppError, requestId: string): ErrorEnvelope {
  // `details` before `requestId`, as in validation errors and the README's example.
  const body: ErrorEnvelope['error'] =
    error.details === undefined
      ? { code: error.code, message: error.message, requestId }
      : { code: error.code, message: error.message, details: error.details, requestId }
  return { error: body }
}
