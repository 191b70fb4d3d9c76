import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { filterPaths, registerSchemaPath } from '@elysiajs/swagger/utils'
import { Elysia, type HTTPMethod } from 'elysia'
import { notFound } from '../core/errors.ts'
import { ErrorEnvelopeModel } from './models.ts'

type Json = Record<string, unknown>

/**
 * Rewrites TypeBox's JSON Schema into the OpenAPI 3.0 schema dialect: `const` becomes a
 * one-value `enum`, `examples` becomes `example`, `patternProperties` (records) becomes
 * `additionalProperties`, `{type: 'null'}` members of a union become `nullable`, and
 * Elysia's custom-message keyword `error` is left out. Client generators reject the 3.1-only forms in a 3.0.3 document.
 */
export function toOpenApi30Schema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toOpenApi30Schema)
  if (!node || typeof node !== 'object') return node
  const out: Json = {}
  for (const [key, value] of Object.entries(node as Json)) out[key] = toOpenApi30Schema(value)
  if ('const' in out) {
    out.enum = [out.const]
    delete out.const
  }
  // t.Record renders as JSON Schema patternProperties, which OpenAPI 3.0 lacks.
  if (out.patternProperties && typeof out.patternProperties === 'object') {
    const [valueSchema] = Object.values(out.patternProperties as Json)
    out.additionalProperties = valueSchema ?? true
    delete out.patternProperties
  }
  // Elysia's `error` (the words a refusal uses, see the error envelope) is no OpenAPI keyword;
  // a property named `error` is a schema object, not a string, and stays.
  if (typeof out.error === 'string') delete out.error
  if (Array.isArray(out.examples)) {
    if (out.examples.length > 0 && !('example' in out)) out.example = out.examples[0]
    delete out.examples
  }
  for (const combinator of ['anyOf', 'oneOf'] as const) {
    const members = out[combinator]
    if (!Array.isArray(members)) continue
    const nonNull = members.filter((m) => (m as Json)?.type !== 'null')
    if (nonNull.length === members.length) continue
    if (nonNull.length === 1) {
      delete out[combinator]
      Object.assign(out, nonNull[0] as Json, { nullable: true })
    } else {
      out[combinator] = nonNull
      out.nullable = true
    }
  }
  return out
}

/**
 * Elysia's `t.Integer`/`t.Numeric` accept a numeric string as well as a number, and render as
 * `anyOf: [{type: string, format: integer|numeric}, {type: integer|number}]`. On a query, path
 * or header parameter the string is only the wire form of the number, so the document states
 * the number alone; the request validator keeps accepting both.
 */
export function withoutNumericCoercion(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutNumericCoercion)
  if (!schema || typeof schema !== 'object') return schema
  const out: Json = {}
  for (const [key, value] of Object.entries(schema as Json)) out[key] = withoutNumericCoercion(value)
  const members = out.anyOf
  if (!Array.isArray(members) || members.length !== 2) return out
  const wire = members.find(
    (m) => (m as Json)?.type === 'string' && ['integer', 'numeric'].includes((m as Json).format as string),
  )
  const value = members.find((m) => ['integer', 'number'].includes((m as Json)?.type as string))
  if (!wire || !value) return out
  const { anyOf: _anyOf, ...rest } = out
  return { ...rest, ...(value as Json) }
}

const STATUS_TEXT: Record<string, string> = {
  '200': 'OK',
  '201': 'Created',
  '204': 'No content',
  '400': 'Malformed request',
  '401': 'Missing or invalid credentials',
  '402': 'Payment declined',
  '403': 'Forbidden',
  '404': 'Not found',
  '409': 'Conflict with the current state',
  '413': 'Payload too large',
  '422': 'Validation failed',
  '502': 'Upstream provider error',
  '503':
    'The database does not answer (UNAVAILABLE); retry later, with the same Idempotency-Key where the operation takes one',
}

const isStringSchema = (schema: unknown) => (schema as Json | undefined)?.type === 'string'

/** A documented error answer: the common envelope as JSON. */
const errorResponse = (description: string): Json => ({
  description,
  content: { 'application/json': { schema: structuredClone(ErrorEnvelopeModel) } },
})

/** What an operation taking the Idempotency-Key header answers while a request with its key runs. */
const IDEMPOTENCY_IN_USE =
  'A request with the same Idempotency-Key is still running (IDEMPOTENCY_KEY_IN_USE); retry it after Retry-After'

/**
 * The `Retry-After` of a 409 IDEMPOTENCY_KEY_IN_USE (IdempotencyKeyInUse, set by the error boundary),
 * documented on the 409 of every operation taking the Idempotency-Key header.
 */
const IDEMPOTENCY_RETRY_AFTER: Json = {
  description:
    'With IDEMPOTENCY_KEY_IN_USE only (RFC 9110 §10.2.3): seconds to wait before retrying. 1 while the first request with the key runs; when that request was a payment answered 503 PAYMENT_PENDING, the seconds until reconciliation should have settled it (up to PAYMENT_PENDING_LEASE plus a quarter lease, at most 30s more), and 1 once that time has passed. Absent from other 409 answers',
  schema: { type: 'integer', minimum: 1 },
}

/** What a replayed response carries (`IDEMPOTENT_REPLAYED_HEADER`), documented where a replay can answer. */
const IDEMPOTENT_REPLAYED: Json = {
  description:
    '`true` when this response is the stored answer to an earlier request with the same Idempotency-Key (nothing was done again); absent otherwise',
  schema: { type: 'string', enum: ['true'] },
}

/** Statuses an idempotent operation may replay: its successes, and a payment's 402 and 502. */
const replayable = (status: string) => status.startsWith('2') || status === '402' || status === '502'

/**
 * Where a route's `detail` lists header parameters that its handler reads itself (see
 * `documentedHeaders`): Elysia's generator replaces the schema-made parameters with
 * `detail.parameters`, so they travel under this extension and are appended here.
 */
const HEADER_PARAMETERS = 'x-header-parameters'

/**
 * Header parameters to document on an operation whose handler reads them itself rather than
 * through a `headers` schema (which would validate them before the handler decides whether
 * they count), as a spread into the route's `detail`.
 */
export function documentedHeaders(parameters: Array<{ name: string; description: string; schema: unknown }>) {
  return { [HEADER_PARAMETERS]: parameters.map((p) => ({ ...p, in: 'header', required: false })) }
}

/**
 * Where a route's `detail` lists headers some of its error answers carry (an AppError's own
 * `headers`, which the error boundary sets): Elysia's generator has no place for response
 * headers, so they travel under this extension and are merged into those responses here.
 */
const RESPONSE_HEADERS = 'x-response-headers'

/** A documented response header: what it says and its schema (OpenAPI 3.0 Header Object). */
export interface DocumentedHeader {
  description: string
  schema: Record<string, unknown>
}

/**
 * Response headers to document on an operation, by status (`{ '503': { 'Retry-After': … } }`),
 * as a spread into the route's `detail`; merged with what the document adds itself (the 409's
 * Retry-After, Idempotent-Replayed).
 */
export function documentedResponseHeaders(byStatus: Record<string, Record<string, DocumentedHeader>>) {
  return { [RESPONSE_HEADERS]: byStatus }
}

/**
 * What requestContext answers for any route that reads a JSON body, before the route's own
 * checks: documented on every operation with a request body, since a client meets them there.
 */
const BODY_ERRORS: Record<string, string> = {
  '400': 'The body is not JSON (INVALID_JSON)',
  '413': 'The body is larger than MAX_BODY_BYTES (PAYLOAD_TOO_LARGE)',
  '415': 'The body is not application/json (UNSUPPORTED_MEDIA_TYPE)',
}

/**
 * Makes Elysia's generated document valid OpenAPI 3.0.3 and exact about what the service sends:
 * JSON media types for JSON bodies and text/plain for string bodies (the API speaks nothing
 * else), a description on every response, the 400/413/415 of every JSON body, the 409 of every
 * operation taking an Idempotency-Key (with its `Retry-After`) and the `Idempotent-Replayed`
 * header of its replayable answers, response headers routes declare (`documentedResponseHeaders`),
 * header parameters routes read themselves (`documentedHeaders`), 3.0 schemas, parameters without Elysia's numeric
 * coercion union, no parameter that repeats an operation's apiKey credential (the security
 * scheme describes it), and only the security schemes some operation uses.
 */
export function fixOpenApiDocument(doc: Json): Json {
  const fixed = structuredClone(doc) as Json
  const components = (fixed.components ?? {}) as Json
  const schemes = (components.securitySchemes ?? {}) as Record<string, Json>
  const usedSchemes = new Set<string>()
  const paths = (fixed.paths ?? {}) as Record<string, Record<string, Json>>
  for (const operations of Object.values(paths)) {
    for (const operation of Object.values(operations)) {
      if (!operation || typeof operation !== 'object') continue
      const body = operation.requestBody as Json | undefined
      const responses = (operation.responses ?? {}) as Record<string, Json>
      if (body?.content) {
        const content = body.content as Json
        body.content = { 'application/json': content['application/json'] ?? Object.values(content)[0] }
        body.required ??= true
        for (const [status, description] of Object.entries(BODY_ERRORS)) {
          responses[status] ??= errorResponse(description)
        }
      }
      const responseHeaders = operation[RESPONSE_HEADERS] as
        | Record<string, Record<string, DocumentedHeader>>
        | undefined
      if (responseHeaders) {
        for (const [status, headers] of Object.entries(responseHeaders)) {
          // Only where the route answers that status: a header alone is no documented answer.
          const response = responses[status]
          if (!response) continue
          response.headers = { ...(response.headers as Json | undefined), ...structuredClone(headers) }
        }
        delete operation[RESPONSE_HEADERS]
      }
      const takesIdempotencyKey =
        Array.isArray(operation.parameters) &&
        (operation.parameters as Json[]).some(
          (p) => p.in === 'header' && String(p.name).toLowerCase() === 'idempotency-key',
        )
      if (takesIdempotencyKey) {
        responses['409'] ??= errorResponse(IDEMPOTENCY_IN_USE)
        const inUse = responses['409']
        inUse.headers = { ...(inUse.headers as Json | undefined), 'Retry-After': IDEMPOTENCY_RETRY_AFTER }
        for (const [status, response] of Object.entries(responses)) {
          if (!replayable(status)) continue
          response.headers = {
            ...(response.headers as Json | undefined),
            'Idempotent-Replayed': IDEMPOTENT_REPLAYED,
          }
        }
      }
      const extraHeaders = operation[HEADER_PARAMETERS]
      if (Array.isArray(extraHeaders)) {
        operation.parameters = [...((operation.parameters as Json[] | undefined) ?? []), ...extraHeaders]
        delete operation[HEADER_PARAMETERS]
      }
      for (const [status, response] of Object.entries(responses)) {
        response.description ??= STATUS_TEXT[status] ?? `Status ${status}`
        const content = response.content as Json | undefined
        if (content) {
          // Elysia lists JSON, form data and text/plain for every schema; it sends a string as
          // text/plain and anything else as JSON. Routes that declare their own media types
          // (/metrics) keep all of them.
          const declared = Object.keys(content).filter(
            (type) => type !== 'multipart/form-data' && type !== 'text/plain',
          )
          const generated = declared.includes('application/json')
          const json = content['application/json'] as Json | undefined
          const kept = !generated
            ? declared.length > 0
              ? declared
              : Object.keys(content)
            : isStringSchema(json?.schema)
              ? ['text/plain']
              : ['application/json']
          const source = (type: string) => (generated ? json : content[type])
          response.content = Object.fromEntries(kept.map((type) => [type, source(type)]))
        }
      }
      operation.responses = responses
      const security = (operation.security ?? []) as Array<Record<string, string[]>>
      const credentials = new Set<string>()
      for (const requirement of security) {
        for (const name of Object.keys(requirement)) {
          usedSchemes.add(name)
          const scheme = schemes[name]
          if (scheme?.type === 'apiKey') credentials.add(`${scheme.in}:${String(scheme.name).toLowerCase()}`)
        }
      }
      if (Array.isArray(operation.parameters)) {
        operation.parameters = (operation.parameters as Json[])
          .filter((p) => !credentials.has(`${p.in}:${String(p.name).toLowerCase()}`))
          .map((p) => ({ ...p, schema: withoutNumericCoercion(p.schema) }))
      }
    }
  }
  if (components.securitySchemes) {
    components.securitySchemes = Object.fromEntries(
      Object.entries(schemes).filter(([name]) => usedSchemes.has(name)),
    )
  }
  return toOpenApi30Schema(fixed) as Json
}

/**
 * The credentials the service accepts, as OpenAPI security schemes. A route names the one it
 * checks in `detail.security` (`[]` for public routes); the document keeps those some route uses.
 */
export const SECURITY_SCHEMES = {
  tenantKey: {
    type: 'http',
    scheme: 'bearer',
    description: "The tenant's API key (POST /tenants shows it once)",
  },
  adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN; unset = admin routes answer 403' },
  metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, when one is configured' },
  alertmanagerToken: {
    type: 'http',
    scheme: 'bearer',
    description:
      "ALERTMANAGER_WEBHOOK_TOKEN, sent by Alertmanager's webhook_config http_config.authorization; unset = 403",
  },
  whatsappSignature: {
    type: 'apiKey',
    in: 'header',
    name: 'X-Hub-Signature-256',
    description:
      '`sha256=` and the hex HMAC-SHA256 of the raw request body keyed with WHATSAPP_APP_SECRET, as Meta signs webhook events',
  },
  paymentWebhookSignature: {
    type: 'apiKey',
    in: 'header',
    name: 'Sandbox-Signature',
    description:
      '`<Provider>-Signature` (Sandbox-Signature for the sandbox): `t=<Unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` keyed with the provider\'s secret in PAYMENT_WEBHOOK_SECRETS, as Stripe signs webhook events',
  },
  whatsappVerifyToken: {
    type: 'apiKey',
    in: 'query',
    name: 'hub.verify_token',
    description: "WHATSAPP_VERIFY_TOKEN, echoed by Meta's webhook verification request",
  },
} as const

/** The document's `info`, `servers` and `tags` (OpenAPI 3.0.3 Info, Server and Tag objects). */
export interface OpenApiInfo {
  title: string
  version: string
  description: string
  /** SPDX name (and URL) of the API's licence, the OpenAPI `info.license`. */
  license?: { name: string; url?: string }
  /** The base URL clients reach the API at (`servers[0].url`); default `/`, the document's own origin. */
  serverUrl?: string
  tags: Array<{ name: string; description: string }>
}

const SPEC_PATH = '/swagger/json'
const ASSET_PREFIX = '/swagger/assets/'
const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'PATCH', 'TRACE']

/**
 * Swagger UI's files served from the pinned `swagger-ui-dist` package (no CDN at run time), and
 * the page's start script (a file, so the page runs under a CSP without inline scripts).
 */
const ASSETS: Record<string, { file?: string; type: string; text?: string }> = {
  'swagger-ui.css': { file: 'swagger-ui.css', type: 'text/css; charset=utf-8' },
  'swagger-ui-bundle.js': { file: 'swagger-ui-bundle.js', type: 'text/javascript; charset=utf-8' },
  'favicon-32x32.png': { file: 'favicon-32x32.png', type: 'image/png' },
  'docs.js': {
    type: 'text/javascript; charset=utf-8',
    text: `window.addEventListener('load', () => {
  const root = document.getElementById('swagger-ui')
  window.ui = SwaggerUIBundle({
    url: new URL(root.dataset.spec, document.baseURI).href,
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  })
})
`,
  },
}

/** The page's policy: its own scripts and styles only (Swagger UI sets inline styles and data: images). */
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/**
 * The docs page. Its links are relative to the URL it was served at, so `/swagger` and
 * `/swagger/` (and a reverse proxy's prefix) all reach the same document and assets.
 */
export function docsPage(info: Pick<OpenApiInfo, 'title'>, trailingSlash: boolean): string {
  const base = trailingSlash ? '' : 'swagger/'
  const title = escapeHtml(info.title)
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" type="image/png" href="${base}assets/favicon-32x32.png">
<link rel="stylesheet" href="${base}assets/swagger-ui.css">
</head>
<body>
<p style="margin: 1em 20px; font-family: sans-serif">OpenAPI 3.0 document (for client generators): <a href="${base}json">/swagger/json</a></p>
<div id="swagger-ui" data-spec="${base}json"></div>
<noscript>The interactive docs need JavaScript; the OpenAPI document is at <a href="${base}json">/swagger/json</a>.</noscript>
<script src="${base}assets/swagger-ui-bundle.js"></script>
<script src="${base}assets/docs.js"></script>
</body>
</html>
`
}

/** Where `swagger-ui-dist` is installed; resolved like an import, on Bun, Node and Deno. */
function swaggerUiDir(): string {
  const packageJson = createRequire(import.meta.url).resolve('swagger-ui-dist/package.json')
  return packageJson.slice(0, -'package.json'.length)
}

interface RouteSource {
  getGlobalRoutes(): Array<{ method: string; path: string; hooks: Json }>
  getGlobalDefinitions?(): { type: Record<string, unknown> }
}

/**
 * Swagger UI at `/swagger` (and `/swagger/`), its assets under `/swagger/assets/`, and the
 * OpenAPI 3.0.3 document of every route at `/swagger/json`, generated from the routes' schemas
 * and `detail` (as @elysiajs/swagger does) and made exact by fixOpenApiDocument.
 */
export function openApiDocs(info: OpenApiInfo) {
  let cached: { routes: number; doc: Json } | undefined
  const assets = new Map<string, Uint8Array<ArrayBuffer>>()

  async function asset(name: string): Promise<Uint8Array<ArrayBuffer> | undefined> {
    // Own keys only: `toString` and friends are not assets.
    const entry = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined
    if (!entry) return undefined
    let bytes = assets.get(name)
    if (!bytes) {
      bytes =
        entry.text !== undefined
          ? new TextEncoder().encode(entry.text)
          : await readFile(swaggerUiDir() + entry.file)
      assets.set(name, bytes)
    }
    return bytes
  }

  function document(app: RouteSource): Json {
    const routes = app.getGlobalRoutes()
    if (cached?.routes === routes.length) return cached.doc
    const paths: Record<string, never> = {}
    const models = (app.getGlobalDefinitions?.().type ?? {}) as never
    for (const route of routes) {
      if ((route.hooks?.detail as Json | undefined)?.hide === true) continue
      if (!METHODS.includes(route.method)) continue
      registerSchemaPath({
        schema: paths,
        hook: route.hooks as never,
        method: route.method as HTTPMethod,
        path: route.path,
        models,
      })
    }
    const doc = fixOpenApiDocument({
      openapi: '3.0.3',
      info: {
        title: info.title,
        description: info.description,
        version: info.version,
        license: info.license,
      },
      servers: [{ url: info.serverUrl ?? '/', description: 'this service' }],
      tags: info.tags,
      paths: filterPaths(paths, { excludeStaticFile: true, exclude: [] }),
      components: { securitySchemes: structuredClone(SECURITY_SCHEMES) },
    })
    cached = { routes: routes.length, doc }
    return doc
  }

  const hidden = { detail: { hide: true } }
  const plugin = new Elysia({ name: 'openapi-docs' })
  return plugin
    .get(
      '/swagger',
      ({ request, set }) => {
        set.headers['content-type'] = 'text/html; charset=utf-8'
        set.headers['content-security-policy'] = PAGE_CSP
        return docsPage(info, new URL(request.url).pathname.endsWith('/'))
      },
      hidden,
    )
    .get(SPEC_PATH, () => document(plugin as unknown as RouteSource), hidden)
    .get(
      `${ASSET_PREFIX}:name`,
      async ({ params, set }) => {
        const bytes = await asset(params.name)
        if (!bytes) throw notFound('Docs asset')
        set.headers['content-type'] = ASSETS[params.name]!.type
        return new Response(bytes, { headers: { 'content-type': ASSETS[params.name]!.type } })
      },
      hidden,
    )
}
