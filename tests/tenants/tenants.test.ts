import { describe, expect, test } from 'bun:test'
import { ADMIN_TOKEN, buildTestApp } from '../helpers/app.ts'
import { createTenant, expectRejectedWritingNothing, testPhone } from '../helpers/commerce.ts'

describe('POST /tenants (admin)', () => {
  test('creates a tenant and shows its API key once', async () => {
    const { call } = await buildTestApp()
    const res = await call('/tenants', {
      method: 'POST',
      token: ADMIN_TOKEN,
      json: { name: 'Duka', ownerPhone: '+254711000200' },
    })
    expect(res.status).toBe(201)
    const body = (await res.json()) as { id: string; name: string; apiKey: string }
    expect(Object.keys(body).sort()).toEqual(['apiKey', 'id', 'name'])
    expect(body.name).toBe('Duka')
    expect(body.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(body.apiKey).toMatch(/^ck_[A-Za-z0-9_-]{43}$/)
    const me = await call('/tenants/me', { token: body.apiKey })
    expect(me.status).toBe(200)
    expect(await me.json()).toMatchObject({
      id: body.id,
      name: 'Duka',
      settings: {
        ownerPhone: '+254711000200',
        alertPhones: [],
        timezone: 'UTC',
        currency: 'USD',
        quietHours: null,
      },
    })
  })

  test('the key is stored only as its SHA-256', async () => {
    const { call, deps } = await buildTestApp()
    const tenant = await createTenant(call)
    const digest = new Bun.CryptoHasher('sha256').update(tenant.apiKey).digest('hex')
    const rows = await deps.database.db.query.tenants.findFirst({ where: (t, { eq }) => eq(t.id, tenant.id) })
    expect(rows?.apiKeyHash).toBe(digest)
  })

  test.each([
    ['no token', undefined, 401, 'UNAUTHORIZED'],
    ['a wrong token', 'x'.repeat(26), 401, 'UNAUTHORIZED'],
    ['a tenant key', 'TENANT', 401, 'UNAUTHORIZED'],
  ])('rejects %s', async (_name, token, status, code) => {
    const { call } = await buildTestApp()
    const key = token === 'TENANT' ? (await createTenant(call)).apiKey : token
    const res = await call('/tenants', {
      method: 'POST',
      token: key,
      json: { name: 'x', ownerPhone: testPhone() },
    })
    expect(res.status).toBe(status)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code)
  })

  test('admin routes answer 403 when ADMIN_TOKEN is unset', async () => {
    const { call } = await buildTestApp({ env: { ADMIN_TOKEN: '' } })
    const res = await call('/tenants', {
      method: 'POST',
      token: 'anything-at-all-123',
      json: { name: 'x', ownerPhone: testPhone() },
    })
    expect(res.status).toBe(403)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN')
  })

  test.each(
    [
      [{ name: 'x', ownerPhone: '0711000200' }, 'ownerPhone'],
      [{ name: 'x', ownerPhone: '+12' }, 'ownerPhone'],
      [{ name: '', ownerPhone: '+254711000200' }, 'name'],
      [{ ownerPhone: '+254711000200' }, 'name'],
      [{ name: 'x', ownerPhone: '+254711000200', plan: 'gold' }, 'plan'],
    ].map(([json, field], i) => [field as string, i + 1, json] as const),
  )('422 naming %s for invalid body %i, and no phone number in the error', async (field, _case, json) => {
    const { call } = await buildTestApp()
    const res = await call('/tenants', { method: 'POST', token: ADMIN_TOKEN, json })
    expect(res.status).toBe(422)
    const text = await res.text()
    expect(JSON.parse(text).error.message).toContain(field)
    expect(text).not.toContain('0711000200')
    expect(text).not.toContain('254711000200')
  })
})

describe('tenant settings', () => {
  test('GET /tenants/me needs a valid key', async () => {
    const { call } = await buildTestApp()
    for (const token of [undefined, 'ck_not-a-real-key']) {
      const res = await call('/tenants/me', { token })
      expect(res.status).toBe(401)
    }
    const malformed = await call('/tenants/me', { headers: { authorization: 'Basic abc' } })
    expect(malformed.status).toBe(401)
  })

  test('PATCH updates phones, time zone, currency and quiet hours, and null clears quiet hours', async () => {
    const { call } = await buildTestApp()
    const { apiKey } = await createTenant(call)
    const res = await call('/tenants/me/settings', {
      method: 'PATCH',
      token: apiKey,
      json: {
        alertPhones: ['+254722000001', '+254733000002'],
        timezone: 'Africa/Nairobi',
        currency: 'KES',
        quietHours: { start: '22:00', end: '06:30' },
      },
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({
      alertPhones: ['+254722000001', '+254733000002'],
      timezone: 'Africa/Nairobi',
      currency: 'KES',
      quietHours: { start: '22:00', end: '06:30' },
    })
    const cleared = await call('/tenants/me/settings', {
      method: 'PATCH',
      token: apiKey,
      json: { quietHours: null },
    })
    expect(((await cleared.json()) as { quietHours: unknown }).quietHours).toBeNull()
  })

  test('a time zone sent in other letter case is stored and shown as IANA spells it', async () => {
    // Intl takes `africa/nairobi`, but zoneinfo files are case-sensitive names: Python's
    // ZoneInfo or Java's ZoneId reading the settings back refused what the service accepted.
    const { call } = await buildTestApp()
    const { apiKey } = await createTenant(call)
    for (const [sent, shown] of [
      ['africa/nairobi', 'Africa/Nairobi'],
      ['utc', 'UTC'],
      ['AMERICA/ARGENTINA/BUENOS_AIRES', 'America/Argentina/Buenos_Aires'],
    ]) {
      const res = await call('/tenants/me/settings', {
        method: 'PATCH',
        token: apiKey,
        json: { timezone: sent },
      })
      expect(res.status).toBe(200)
      expect(((await res.json()) as { timezone: string }).timezone).toBe(shown!)
      const me = (await (await call('/tenants/me', { token: apiKey })).json()) as {
        settings: { timezone: string }
      }
      expect(me.settings.timezone).toBe(shown!)
    }
  })

  test.each(
    [
      [{ timezone: 'Mars/Olympus' }, 'timezone'],
      // Offsets Intl takes since ECMA-402 2024: no zone, no daylight saving rules.
      [{ timezone: '+05:00' }, 'timezone'],
      [{ timezone: '-0500' }, 'timezone'],
      // As PATCH /products/:id: a PATCH that changes nothing.
      [{}, 'body'],
      [{ alertPhones: ['+254722000001', 'nope'] }, 'alertPhones.1'],
      [{ currency: 'kes' }, 'currency'],
      [{ currency: 'XYZ' }, 'currency'],
      [{ quietHours: { start: '25:00', end: '06:00' } }, 'quietHours.start'],
      [{ quietHours: { start: '22:00' } }, 'quietHours.end'],
      [{ color: 'red' }, 'color'],
    ].map(([json, field], i) => [field as string, i + 1, json] as const),
  )('422 naming %s for invalid settings %i, and nothing changes', async (field, _case, json) => {
    await expectRejectedWritingNothing(await buildTestApp(), 'PATCH', '/tenants/me/settings', json, field)
  })
})
