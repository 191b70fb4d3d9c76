import { describe, expect, test } from 'bun:test'
import SwaggerParser from '@apidevtools/swagger-parser'
import { ADMIN_OPERATIONS } from '../../src/auth/plugin.ts'
import { fixOpenApiDocument, withoutNumericCoercion } from '../../src/http/openapi.ts'
import { buildTestApp } from '../helpers/app.ts'

type Json = Record<string, unknown>
interface Doc {
  openapi: string
  info: { title: string; license?: { name: string } }
  servers: Array<{ url: string; description?: string }>
  tags: Array<{ name: string; description?: string }>
  paths: Record<string, Record<string, Json>>
  components: { securitySchemes: Record<string, Json> }
}

async function servedDocument(env: Record<string, string> = {}) {
  const { call } = await buildTestApp({ env })
  return (await (await call('/swagger/json')).json()) as Doc
}

const operationsOf = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ id: `${method.toUpperCase()} ${path}`, op })),
  )

/** Every schema node under `node`, with a JSON-pointer-like location for messages. */
function* schemaNodes(node: unknown, at: string): Generator<{ at: string; schema: Json }> {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return
  const schema = node as Json
  yield { at, schema }
  for (const key of ['items', 'additionalProperties', 'not'] as const) {
    if (schema[key] && typeof schema[key] === 'object') yield* schemaNodes(schema[key], `${at}/${key}`)
  }
  for (const [name, child] of Object.entries((schema.properties ?? {}) as Json))
    yield* schemaNodes(child, `${at}/${name}`)
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    for (const [i, child] of ((schema[key] ?? []) as unknown[]).entries())
      yield* schemaNodes(child, `${at}/${key}/${i}`)
  }
}

/** Every response schema of the document, each with where it is. */
function responseSchemas(doc: Doc) {
  return operationsOf(doc).flatMap(({ id, op }) =>
    Object.entries(
      (op.responses ?? {}) as Record<string, { content?: Record<string, { schema: Json }> }>,
    ).flatMap(([status, response]) =>
      Object.entries(response.content ?? {}).flatMap(([media, { schema }]) => [
        ...schemaNodes(schema, `${id} ${status} ${media}`),
      ]),
    ),
  )
}

describe('/swagger/json', () => {
  test('the admin operations are the ones the start-up warning names when ADMIN_TOKEN is unset', async () => {
    const admin = operationsOf(await servedDocument())
      .filter(({ op }) => JSON.stringify(op.security ?? []).includes('adminToken'))
      .map(({ id }) => id)
    expect(admin.sort()).toEqual([...ADMIN_OPERATIONS].sort())
  })

  test('is a valid OpenAPI 3.0.3 document where every operation has a summary, a description, a described tag and responses', async () => {
    const doc = await servedDocument()
    expect(doc.openapi).toBe('3.0.3')
    await SwaggerParser.validate(structuredClone(doc) as never)
    const operations = operationsOf(doc)
    expect(operations.length).toBeGreaterThan(0)
    const tags = new Map(doc.tags.map((tag) => [tag.name, tag.description ?? '']))
    for (const { id, op } of operations) {
      const opTags = (op.tags ?? []) as string[]
      expect({ id, summary: typeof op.summary, description: typeof op.description }).toEqual({
        id,
        summary: 'string',
        description: 'string',
      })
      expect({
        id,
        tags: opTags.length > 0 && opTags.every((tag) => (tags.get(tag) ?? '').length > 0),
      }).toEqual({
        id,
        tags: true,
      })
      expect({ id, responses: Object.keys(op.responses as Json).length > 0 }).toEqual({ id, responses: true })
    }
  })

  test('every operation declares its security, from the schemes the document defines, and every scheme is used', async () => {
    const doc = await servedDocument({ METRICS_TOKEN: 'metrics-token-0123456789' })
    const used = new Set<string>()
    for (const { id, op } of operationsOf(doc)) {
      expect({ id, declared: Array.isArray(op.security) }).toEqual({ id, declared: true })
      for (const requirement of op.security as Array<Record<string, string[]>>) {
        for (const name of Object.keys(requirement)) {
          expect({ id, scheme: name, defined: name in doc.components.securitySchemes }).toEqual({
            id,
            scheme: name,
            defined: true,
          })
          used.add(name)
        }
      }
    }
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual([...used].sort())
    expect(doc.paths['/metrics']!.get!.security).toEqual([{ metricsToken: [] }])
    expect(doc.paths['/health']!.get!.security).toEqual([])
  })

  test('/metrics is public in the document exactly when METRICS_TOKEN is unset', async () => {
    const doc = await servedDocument()
    expect(doc.paths['/metrics']!.get!.security).toEqual([])
    expect(doc.components.securitySchemes.metricsToken).toBeUndefined()
  })

  test('response schemas say exactly what is sent: one type per field, no numeric-string coercion, nullable only beside a type', async () => {
    const nodes = responseSchemas(await servedDocument())
    expect(nodes.length).toBeGreaterThan(100)
    const problems = nodes.flatMap(({ at, schema }) => {
      const found: string[] = []
      if ('anyOf' in schema || 'oneOf' in schema) found.push(`${at}: a union of types`)
      if (schema.nullable === true && typeof schema.type !== 'string')
        found.push(`${at}: nullable without a type`)
      if (schema.type === 'string' && ['integer', 'numeric'].includes(schema.format as string))
        found.push(`${at}: a number sent as a string`)
      return found
    })
    expect(problems).toEqual([])
  })

  test('Idempotent-Replayed is documented on exactly the answers a replay can give, and x-channel where it is read', async () => {
    const doc = await servedDocument()
    const replayed = operationsOf(doc).flatMap(({ id, op }) =>
      Object.entries((op.responses ?? {}) as Record<string, { headers?: Json }>)
        .filter(([, response]) => response.headers?.['Idempotent-Replayed'] !== undefined)
        .map(([status]) => `${id} ${status}`),
    )
    expect(replayed.sort()).toEqual([
      'POST /orders 201',
      'POST /orders/{id}/payments 201',
      'POST /orders/{id}/payments 402',
      'POST /orders/{id}/payments 502',
      'POST /products 201',
      'POST /tenants 201',
    ])
    const headers = operationsOf(doc).flatMap(({ id, op }) =>
      ((op.parameters ?? []) as Json[])
        .filter((p) => p.in === 'header' && p.name !== 'idempotency-key')
        .map((p) => ({ id, name: p.name, required: p.required, values: (p.schema as Json).enum })),
    )
    expect(headers).toEqual([
      {
        id: 'GET /products/{id}',
        name: 'x-channel',
        required: false,
        values: ['web', 'whatsapp', 'instagram', 'facebook', 'sms', 'pos'],
      },
    ])
    expect(JSON.stringify(doc)).not.toContain('x-header-parameters')
  })

  test('money is an integer in minor units, and says so', async () => {
    const doc = await servedDocument()
    const money = [...responseSchemas(doc)].flatMap(({ at, schema }) =>
      Object.entries((schema.properties ?? {}) as Record<string, Json>)
        .filter(([name]) => name.endsWith('Minor'))
        .map(([name, field]) => ({
          field: `${at}/${name}`,
          type: field.type,
          description: field.description,
        })),
    )
    expect(money.length).toBeGreaterThan(0)
    for (const field of money) {
      expect(field).toEqual({
        ...field,
        type: 'integer',
        description: expect.stringContaining('minor units'),
      })
    }
  })

  test('servers is the configured public base URL (default /, the same origin), and the licence is stated', async () => {
    const relative = await servedDocument()
    expect(relative.servers).toEqual([{ url: '/', description: 'this service' }])
    expect(relative.info.license).toEqual({ name: 'UNLICENSED' })
    const configured = await servedDocument({ PUBLIC_BASE_URL: 'https://api.example.com/shop' })
    expect(configured.servers).toEqual([{ url: 'https://api.example.com/shop', description: 'this service' }])
  })
})

describe('fixOpenApiDocument', () => {
  test("a parameter keeps Elysia's request-side coercion out of the document: integer, not string | integer", () => {
    const coerced = {
      anyOf: [
        { type: 'string', format: 'integer', default: 0 },
        { type: 'integer', minimum: 1, default: 20 },
      ],
      minimum: 1,
      default: 20,
    }
    expect(withoutNumericCoercion(coerced)).toEqual({ type: 'integer', minimum: 1, default: 20 })
    expect(withoutNumericCoercion({ anyOf: [{ type: 'string' }, { type: 'integer' }] })).toEqual({
      anyOf: [{ type: 'string' }, { type: 'integer' }],
    })
  })

  test('drops a query parameter that is the apiKey credential of the operation, and unused schemes', () => {
    const fixed = fixOpenApiDocument({
      paths: {
        '/hook': {
          get: {
            parameters: [
              { in: 'query', name: 'hub.verify_token', schema: { type: 'string' } },
              { in: 'query', name: 'hub.challenge', schema: { type: 'string' } },
            ],
            security: [{ verify: [] }],
            responses: { '200': { content: { 'application/json': { schema: { type: 'string' } } } } },
          },
        },
      },
      components: {
        securitySchemes: {
          verify: { type: 'apiKey', in: 'query', name: 'hub.verify_token' },
          unused: { type: 'http', scheme: 'bearer' },
        },
      },
    }) as { paths: Record<string, Record<string, Json>>; components: Json }
    const get = fixed.paths['/hook']!.get!
    expect(get.parameters).toEqual([{ in: 'query', name: 'hub.challenge', schema: { type: 'string' } }])
    // A string body is sent as text/plain by Elysia, so that is what the document says.
    expect(get.responses).toEqual({
      '200': { description: 'OK', content: { 'text/plain': { schema: { type: 'string' } } } },
    })
    expect(Object.keys(fixed.components.securitySchemes as Json)).toEqual(['verify'])
  })
})

describe('/swagger (the docs page)', () => {
  for (const [path, base] of [
    ['/swagger', 'http://localhost/swagger'],
    ['/swagger/', 'http://localhost/swagger/'],
  ] as const) {
    test(`${path} links only to the service's own document and assets, all of which it serves`, async () => {
      const { call } = await buildTestApp()
      const res = await call(path)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'")
      const html = await res.text()
      const links = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => new URL(m[1]!, base))
      expect(links.map((url) => url.pathname).sort()).toEqual([
        '/swagger/assets/docs.js',
        '/swagger/assets/favicon-32x32.png',
        '/swagger/assets/swagger-ui-bundle.js',
        '/swagger/assets/swagger-ui.css',
        '/swagger/json',
        '/swagger/json',
      ])
      expect(new URL(html.match(/data-spec="([^"]+)"/)![1]!, base).pathname).toBe('/swagger/json')
      for (const url of links) {
        expect(url.origin).toBe('http://localhost')
        const asset = await call(url.pathname)
        expect({ path: url.pathname, status: asset.status }).toEqual({ path: url.pathname, status: 200 })
      }
    })
  }

  test('serves the Swagger UI bundle from the pinned swagger-ui-dist package, and 404 for anything else under assets', async () => {
    const { call } = await buildTestApp()
    const bundle = await call('/swagger/assets/swagger-ui-bundle.js')
    expect(bundle.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    const installed = await Bun.file(
      new URL('../../node_modules/swagger-ui-dist/swagger-ui-bundle.js', import.meta.url),
    ).text()
    expect(await bundle.text()).toBe(installed)
    for (const name of ['..%2Fpackage.json', 'toString', 'index.html']) {
      const missing = await call(`/swagger/assets/${name}`)
      expect({ name, status: missing.status }).toEqual({ name, status: 404 })
      expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND')
    }
  })
})
