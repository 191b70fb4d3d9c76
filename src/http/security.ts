import { cors } from '@elysiajs/cors'
import { Elysia } from 'elysia'

/**
 * Headers every response carries. The API serves JSON only, so nothing may be sniffed,
 * framed or cached by intermediaries; the docs page (src/http/openapi.ts) replaces the strict
 * content security policy with one that allows its own scripts and styles.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
})

/**
 * SECURITY_HEADERS as Elysia's default headers (`.headers()`), which Elysia copies into every
 * request's `set.headers` when it builds the context: no hook runs per request, where an
 * onRequest hook setting them cost about 0.4 µs. A route still overrides one by setting it.
 */
export function securityHeaders() {
  return new Elysia({ name: 'security-headers' }).headers({ ...SECURITY_HEADERS })
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
