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
 * The status of the response actually sent. Elysia's `set.status` is not reliable for this
 * (it stays 200 for 404s and for handlers that return a Response), so prefer, in order: the
 * status our error handler chose, the Response object, a returned `status(...)`, then `set`.
 */
export function sentStatus(ctx: SentContext): number {
  const fromError = requestState(ctx.request)?.errorStatus
  if (fromError !== undefined) return fromError
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
  return new Elysia({ name: 'access-log' }).onAfterResponse({ as: 'global' }, (ctx) => {
    const state = requestState(ctx.request)
    if (!state) return
    const status = sentStatus(ctx as SentContext)
    const durationMs = Math.round((options.now() - state.startedAt) * 1000) / 1000
    const line = {
      method: ctx.request.method,
      route: (ctx as { route?: string }).route || '<unmatched>',
      status,
      durationMs,
      ...(state.tenantId ? { tenantId: state.tenantId } : {}),
    }
    // Failures get their own error line from the error handler; this line stays at info.
    state.log.info(line, 'request')
  })
}
