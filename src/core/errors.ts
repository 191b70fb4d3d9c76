/**
 * The service's error vocabulary. Services throw these; the one `onError` handler
 * (src/http/errors-plugin.ts) turns every one of them into the common JSON envelope.
 */
export class AppError extends Error {
  override name = 'AppError'
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
export const unsupportedMediaType = (message = 'Request body must be application/json') =>
  new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', message)
export const validation = (message: string, details?: unknown) =>
  new AppError(422, 'VALIDATION', message, details)
export const unavailable = (message = 'Service temporarily unavailable') =>
  new AppError(503, 'UNAVAILABLE', message)

/** The JSON body of every 4xx and 5xx answer. */
export interface ErrorEnvelope {
  error: { code: string; message: string; details?: unknown; requestId: string }
}
