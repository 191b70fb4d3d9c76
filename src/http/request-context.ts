import { Elysia } from 'elysia'
import { invalidJson, payloadTooLarge, unsupportedMediaType } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'

/** What the service knows about one request while serving it. */
export interface RequestState {
  requestId: string
  log: Logger
  startedAt: number
  /** Status of the error envelope sent, when the error handler produced the response. */
  errorStatus?: number
  /** Set once the error has been reported (Sentry), so it is reported exactly once. */
  errorReported?: boolean
  tenantId?: string
  /** The raw request body as text, kept for signature checks (webhooks). */
  rawBody?: string
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** Accepts an incoming x-request-id only when it is short and made of safe characters. */
export function pickRequestId(incoming: string | null, generate: () => string): string {
  return incoming && SAFE_REQUEST_ID.test(incoming) ? incoming : generate()
}

const states = new WeakMap<Request, RequestState>()

/**
 * The per-request state. Keyed by the Request object so that it is available in every
 * lifecycle hook, including errors raised before Elysia's derive/resolve hooks run.
 */
export function requestState(request: Request): RequestState | undefined {
  return states.get(request)
}

/** Reads a request body as text, refusing to buffer more than `limit` bytes. */
export async function readBodyLimited(request: Request, limit: number): Promise<string> {
  const declared = request.headers.get('content-length')
  if (declared !== null && Number(declared) > limit) throw payloadTooLarge(limit)
  if (!request.body) return ''
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel().catch(() => {})
      throw payloadTooLarge(limit)
    }
    chunks.push(value)
  }
  const body = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    body.set(chunk, offset)
    offset += chunk.byteLength
  }
  return new TextDecoder().decode(body)
}

export interface RequestContextOptions {
  log: Logger
  maxBodyBytes: number
  newId: () => string
  now: () => number
  /** Routes whose handler gets the raw body text (signature checks happen before parsing). */
  rawBodyPaths?: string[]
  /**
   * Routes whose handler reads `request.body` as a stream itself, each with its own size limit
   * (bytes) instead of `maxBodyBytes`; their body reaches the handler as `STREAMED_BODY`.
   */
  streamedBodies?: Record<string, number>
}

/** The parsed body of a `streamedBodies` route: the handler reads the request stream itself. */
export const STREAMED_BODY: Readonly<Record<string, never>> = Object.freeze({})

/**
 * Request id, per-request child logger, bounded JSON body parsing and the response header.
 * Registered first so every later hook (metrics, access log, errors) can rely on it.
 */
export function requestContext(options: RequestContextOptions) {
  return new Elysia({ name: 'request-context' })
    .onRequest(({ request, set }) => {
      const requestId = pickRequestId(request.headers.get('x-request-id'), options.newId)
      states.set(request, {
        requestId,
        log: options.log.child({ requestId }),
        startedAt: options.now(),
      })
      set.headers['x-request-id'] = requestId
      const declared = request.headers.get('content-length')
      const limit = options.streamedBodies?.[new URL(request.url).pathname] ?? options.maxBodyBytes
      if (declared !== null && Number(declared) > limit) throw payloadTooLarge(limit)
    })
    .onParse({ as: 'global' }, async ({ request, contentType }) => {
      if (options.streamedBodies?.[new URL(request.url).pathname] !== undefined) return STREAMED_BODY
      const text = await readBodyLimited(request, options.maxBodyBytes)
      const state = states.get(request)
      if (state) state.rawBody = text
      if (options.rawBodyPaths?.includes(new URL(request.url).pathname)) return text
      const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase()
      if (type !== '' && type !== 'application/json' && !type.endsWith('+json')) throw unsupportedMediaType()
      if (text.trim() === '') throw invalidJson('Request body is empty; expected a JSON document')
      try {
        return JSON.parse(text)
      } catch {
        throw invalidJson()
      }
    })
}
