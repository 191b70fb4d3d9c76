import { cors } from '@elysiajs/cors'
import { Elysia } from 'elysia'

/**
 * Headers every response carries. The API serves JSON only, so nothing may be sniffed,
 * framed or cached by intermediaries; the docs page (src/http/openapi.ts) replaces the strict
 * content security policy with one that allows its own scripts and styles.
 */
export function securityHeaders() {
  return new Elysia({ name: 'security-headers' }).onRequest(({ set }) => {
    set.headers['x-content-type-options'] = 'nosniff'
    set.headers['x-frame-options'] = 'DENY'
    set.headers['referrer-policy'] = 'no-referrer'
    set.headers['cache-control'] = 'no-store'
    set.headers['content-security-policy'] = "default-src 'none'; frame-ancestors 'none'"
  })
}

/** CORS for the listed origins only; with none configured the plugin is not installed at all. */
export function corsFor(origins: string[]) {
  if (origins.length === 0) return new Elysia({ name: 'cors-off' })
  return cors({
    origin: origins,
    methods: ['GET', 'POST', 'PATCH', 'OPTIONS'],
    allowedHeaders: ['authorization', 'content-type', 'x-request-id', 'x-channel', 'idempotency-key'],
    exposeHeaders: ['x-request-id', 'idempotent-replayed'],
    credentials: false,
    maxAge: 600,
  })
}
