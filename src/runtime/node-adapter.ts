/**
 * Elysia's Node adapter (`@elysiajs/node` 1.4.5) with the content type a route set kept.
 *
 * The adapter's mapResponse and mapEarlyResponse write `content-type: text/plain` over any
 * type the route set for a string body, and `application/json` for an object or array, while
 * Elysia's web-standard handler (Bun, Deno) sets them only when none is set
 * (`set.headers["content-type"] || (set.headers["content-type"] = "text/plain")` in
 * elysia/dist/adapter/web-standard/handler.mjs). On Node the docs page at /swagger was served
 * as `text/plain` with `nosniff`: a browser showed its HTML source instead of the page.
 */
import { node } from '@elysiajs/node'
import type { ElysiaAdapter } from 'elysia'

type Set = { headers: Record<string, unknown> }
type Map = (response: unknown, set: Set, request?: Request) => unknown

/** The body Elysia serialises itself (string, array, plain object), behind any `status(…)` wrapper. */
function serialisedByAdapter(response: unknown): boolean {
  let inner = response as { constructor?: { name?: string }; response?: unknown } | null | undefined
  while (inner?.constructor?.name === 'ElysiaCustomStatusResponse') inner = inner.response as typeof inner
  const name = inner?.constructor?.name
  return name === 'String' || name === 'Array' || name === 'Object'
}

/** `map`, but a content type set before it ran is the response's again afterwards. */
function keepingContentType(map: Map): Map {
  return (response, set, request) => {
    const type = set?.headers?.['content-type']
    const mapped = map(response, set, request)
    if (typeof type !== 'string' || !serialisedByAdapter(response) || !(mapped instanceof Response))
      return mapped
    mapped.headers.set('content-type', type)
    return mapped
  }
}

/**
 * `node()` from `@elysiajs/node` whose response mapping keeps the content type a route or hook
 * set for a string, array or object body, as the web-standard adapter does on Bun and Deno.
 * The compact mapping (no `set` in play) is the adapter's own.
 */
export function nodeAdapter(): ElysiaAdapter {
  const adapter = node()
  const handler = adapter.handler as unknown as { mapResponse: Map; mapEarlyResponse: Map }
  return {
    ...adapter,
    handler: {
      ...adapter.handler,
      mapResponse: keepingContentType(handler.mapResponse),
      mapEarlyResponse: keepingContentType(handler.mapEarlyResponse),
    },
  } as ElysiaAdapter
}
