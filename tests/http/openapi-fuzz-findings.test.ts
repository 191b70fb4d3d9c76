/**
 * Each kind of fault the OpenAPI-driven fuzzer (openapi-fuzz.test.ts) found, held with its
 * exact input and the exact answer expected.
 */
import { describe, expect, test } from 'bun:test'
import { buildTestApp } from '../helpers/app.ts'
import { createProduct, createTenant, tenantFootprint } from '../helpers/commerce.ts'
import { validator } from './openapi-fuzz.generator.ts'

const ALERTMANAGER_TOKEN = 'fuzz-alertmanager-token-117'

describe('what the fuzzer found, held exactly', () => {
  const channels = 'web, whatsapp, instagram, facebook, sms, pos'

  test('an x-channel header naming no channel is a 422 beside a valid ?channel= too (it was a 200)', async () => {
    const { call, deps } = await buildTestApp()
    const tenant = await createTenant(call)
    const product = await createProduct(call, tenant.apiKey)
    const before = await tenantFootprint(deps.database.db, tenant.id)
    const res = await call(`/products/${product.id}?channel=whatsapp`, {
      token: tenant.apiKey,
      headers: { 'x-channel': 'WHATSAPP' },
    })
    expect(res.status).toBe(422)
    expect(await res.json()).toEqual({
      error: {
        code: 'VALIDATION',
        message: `Invalid headers: x-channel — expected one of ${channels}`,
        details: { in: 'headers', errors: [{ field: 'x-channel', message: `expected one of ${channels}` }] },
        requestId: expect.any(String),
      },
    })
    expect(await tenantFootprint(deps.database.db, tenant.id)).toEqual(before)
    // The query's own fault is still named first, and a valid pair still counts the query's channel.
    const both = await call(`/products/${product.id}?channel=fax`, {
      token: tenant.apiKey,
      headers: { 'x-channel': 'fax' },
    })
    expect(((await both.json()) as { error: { message: string } }).error.message).toBe(
      `Invalid query: channel — expected one of ${channels}`,
    )
    const ok = await call(`/products/${product.id}?channel=sms`, {
      token: tenant.apiKey,
      headers: { 'x-channel': 'web' },
    })
    expect(ok.status).toBe(200)
  })

  test("the Alertmanager receiver's documented body takes what the receiver takes: any version and group status, null groupKey and truncatedAlerts, malformed alerts beside valid ones", async () => {
    const built = await buildTestApp({ env: { ALERTMANAGER_WEBHOOK_TOKEN: ALERTMANAGER_TOKEN } })
    const doc = await (await built.app.handle(new Request('http://localhost/swagger/json'))).json()
    const schema = doc.paths['/alerts/alertmanager'].post.requestBody.content['application/json'].schema
    const body = { version: 4, status: 'FIRING', groupKey: null, truncatedAlerts: null, alerts: [] }
    // It was typed `version: string`, `status: enum [firing, resolved]`, neither nullable: a
    // document promising refusals the receiver, reading as Go's encoding/json reads, never made.
    expect(validator()(schema, body)).toBe(true)
    const res = await built.call('/alerts/alertmanager', {
      method: 'POST',
      token: ALERTMANAGER_TOKEN,
      json: body,
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ accepted: 0, invalid: 0, truncatedAlerts: 0, enqueued: 0 })
    // A malformed alert beside a valid one is skipped and counted, as the description says.
    const mixed = {
      alerts: [
        { status: 'firing', labels: { alertname: 'FuzzAlert' }, startsAt: '2026-01-01T00:00:00Z' },
        null,
      ],
    }
    expect(validator()(schema, mixed)).toBe(true)
    const skipped = await built.call('/alerts/alertmanager', {
      method: 'POST',
      token: ALERTMANAGER_TOKEN,
      json: mixed,
    })
    expect(skipped.status).toBe(200)
    expect(await skipped.json()).toEqual({ accepted: 1, invalid: 1, truncatedAlerts: 0, enqueued: 0 })
    // What it does refuse, the document refuses too.
    expect(validator()(schema, { ...body, groupKey: 5 })).toBe(false)
    expect(validator()(schema, { ...body, truncatedAlerts: -1 })).toBe(false)
  })
})
