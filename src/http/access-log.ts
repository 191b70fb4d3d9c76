import { Elysia, StatusMap } from 'elysia'
import { requestState } from './request-context.ts'

/** The subset of Elysia's after-response context that tells what was actually sent. */
export interface SentContext {
  request: Request
  set: { status?: number | string }
  response?: unknown
  responseValue?: unknown
}

/**
 * Where the HTTP metrics hook leaves the status it resolved while the response was produced,
 * on Elysia's per-request context.
 */
export const SENT_STATUS = Symbol('sentStatus')
export type StatusStamped = { [SENT_STATUS]?: number }

/** Status recorded for a request whose client went away before the response (nginx's convention). */
export const CLIENT_CLOSED_REQUEST = 499

/**
 * The status of the response actually sent. Elysia's `set.status` is not reliable for this
 * (it stays 200 for 404s and for handlers that return a Response), so prefer, in order: 499
 * when the client disconnected before the response, the status our error handler chose,
 * then what the handler's result says (`responseStatus`).
 */
export function sentStatus(ctx: SentContext): number {
  if (ctx.request.signal.aborted) return CLIENT_CLOSED_REQUEST
  return requestState(ctx.request)?.errorStatus ?? responseStatus(ctx)
}

/**
 * The status the handler's result gives, for a request that did not go through the error
 * handler: the Response object, a returned `status(...)`, then `set`.
 */
export function responseStatus(ctx: Omit<SentContext, 'request'>): number {
  if (ctx.response instanceof Response) return ctx.response.status
  const value = ctx.responseValue as { code?: unknown } | undefined
  if (value instanceof Response) return value.status
  if (value && typeof value === 'object' && value.constructor?.name === 'ElysiaCustomStatusResponse') {
    if (typeof value.code === 'number') return value.code
  }
  const status = ctx.set.status
  if (typeof status === 'number') return status
  if (typeof status === 'string') return (StatusMap as Record<string, number>)[status] ?? 200
  return 200
}

export interface AccessLogOptions {
  now: () => number
}

/** One `request` log line per request with method, route template, status and duration. */
export function accessLog(options: AccessLogOptions) {
  return new Elysia({ name: 'access-log' }).onAfterResponse({ as: 'global' }, (context) => {
    const state = requestState(context.request)
    if (!state) return
    // Field by field: Elysia reads hook sources, and a hook that hands its whole context to a
    // function makes it parse headers, query and cookies of every request (about 3 µs).
    const status =
      (context as StatusStamped)[SENT_STATUS] ??
      sentStatus({
        request: context.request,
        set: context.set,
        response: context.response,
        responseValue: (context as SentContext).responseValue,
      })
    const durationMs = Math.round((options.now() - state.startedAt) * 1000) / 1000
    const line = {
      method: context.request.method,
      route: (context as { route?: string }).route || '<unmatched>',
      status,
      durationMs,
      ...(state.tenantId ? { tenantId: state.tenantId } : {}),
    }
    // Failures get their own error line from the error handler; this line stays at info.
    state.log.info(line, 'request')
  })
}
