import { swagger } from '@elysiajs/swagger'
import { Elysia } from 'elysia'

type Json = Record<string, unknown>

/**
 * Rewrites TypeBox's JSON Schema into the OpenAPI 3.0 schema dialect: `const` becomes a
 * one-value `enum`, `examples` becomes `example`, `patternProperties` (records) becomes
 * `additionalProperties`, and `{type: 'null'}` members of a union become `nullable`. Client generators reject the 3.1-only forms in a 3.0.3 document.
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
  '503': 'Unavailable',
}

/**
 * Makes Elysia's generated document valid OpenAPI 3.0.3: JSON-only media types (the API
 * speaks nothing else), a description on every response, and 3.0 schemas.
 */
export function fixOpenApiDocument(doc: Json): Json {
  const fixed = structuredClone(doc) as Json
  const paths = (fixed.paths ?? {}) as Record<string, Record<string, Json>>
  for (const operations of Object.values(paths)) {
    for (const operation of Object.values(operations)) {
      if (!operation || typeof operation !== 'object') continue
      const body = operation.requestBody as Json | undefined
      if (body?.content) {
        const content = body.content as Json
        body.content = { 'application/json': content['application/json'] ?? Object.values(content)[0] }
        body.required ??= true
      }
      const responses = (operation.responses ?? {}) as Record<string, Json>
      for (const [status, response] of Object.entries(responses)) {
        response.description ??= STATUS_TEXT[status] ?? `Status ${status}`
        const content = response.content as Json | undefined
        if (content) {
          // Elysia lists JSON, form data and text/plain for every schema; keep JSON alone.
          // Routes that declare their own media types (/metrics) keep all of them.
          const declared = Object.keys(content).filter(
            (type) => type !== 'multipart/form-data' && type !== 'text/plain',
          )
          const kept = declared.includes('application/json') ? ['application/json'] : declared
          if (kept.length > 0)
            response.content = Object.fromEntries(kept.map((type) => [type, content[type]]))
        }
      }
      operation.responses = responses
    }
  }
  return toOpenApi30Schema(fixed) as Json
}

export interface OpenApiInfo {
  title: string
  version: string
  description: string
  tags: Array<{ name: string; description: string }>
}

/** Swagger UI at /swagger and a valid OpenAPI 3.0.3 document at /swagger/json. */
export function openApiDocs(info: OpenApiInfo) {
  const specPath = '/swagger/json'
  let cached: Json | undefined
  return new Elysia({ name: 'openapi-docs' })
    .onAfterHandle(({ route, response }) => {
      if (route !== specPath || !response || typeof response !== 'object') return
      cached ??= fixOpenApiDocument(response as Json)
      return cached
    })
    .use(
      swagger({
        path: '/swagger',
        specPath,
        exclude: ['/swagger', specPath],
        documentation: {
          info: { title: info.title, version: info.version, description: info.description },
          tags: info.tags,
          components: {
            securitySchemes: {
              tenantKey: { type: 'http', scheme: 'bearer', description: 'Tenant API key' },
              adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' },
              metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN' },
              alertmanagerToken: {
                type: 'http',
                scheme: 'bearer',
                description: 'ALERTMANAGER_WEBHOOK_TOKEN',
              },
            },
          },
        },
      }),
    )
}
