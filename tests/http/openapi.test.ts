import { describe, expect, test } from 'bun:test'
import SwaggerParser from '@apidevtools/swagger-parser'
import { buildTestApp } from '../helpers/app.ts'

describe('OpenAPI', () => {
  test('/swagger serves the UI', async () => {
    const { call } = await buildTestApp()
    const res = await call('/swagger')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/html')
  })

  test('/swagger/json is a valid OpenAPI 3.0 document where every operation has a summary, a tag and responses', async () => {
    const { call } = await buildTestApp()
    const res = await call('/swagger/json')
    expect(res.status).toBe(200)
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, any>> }
    expect(doc.openapi).toBe('3.0.3')
    await SwaggerParser.validate(structuredClone(doc) as never)
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ id: `${method.toUpperCase()} ${path}`, op })),
    )
    expect(operations.length).toBeGreaterThan(0)
    for (const { id, op } of operations) {
      expect({ id, summary: typeof op.summary }).toEqual({ id, summary: 'string' })
      expect({ id, tags: op.tags?.length > 0 }).toEqual({ id, tags: true })
      expect({ id, responses: Object.keys(op.responses).length > 0 }).toEqual({ id, responses: true })
    }
  })
})
