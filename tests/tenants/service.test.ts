import { describe, expect, test } from 'bun:test'
import { AppError } from '../../src/core/errors.ts'
import type { TenantView, UpdateSettings } from '../../src/tenants/model.ts'
import { createTenantRepository } from '../../src/tenants/repository.ts'
import { createTenantService, DEMO_OWNER_PHONE } from '../../src/tenants/service.ts'
import { testPhone } from '../helpers/commerce.ts'
import { freshDatabase, sharedDatabase } from '../helpers/db.ts'

async function service() {
  const tenants = createTenantService({ db: (await sharedDatabase()).db })
  const created = await tenants.create({ name: 'Duka la Mama', ownerPhone: '+254711000300' })
  return { tenants, created }
}

/** What a rejected call threw, as the error envelope would show it. */
async function rejection(promise: Promise<unknown>) {
  try {
    await promise
  } catch (error) {
    if (error instanceof AppError) return { status: error.status, code: error.code, message: error.message }
    throw error
  }
  throw new Error('expected a rejection')
}

type Settings = TenantView['settings']

const DEFAULT_SETTINGS: Settings = {
  ownerPhone: '+254711000300',
  alertPhones: [],
  timezone: 'UTC',
  currency: 'USD',
  quietHours: null,
}

describe('tenant service', () => {
  test('create → authenticate → get round-trips the tenant with default settings', async () => {
    const { tenants, created } = await service()
    expect(Object.keys(created).sort()).toEqual(['apiKey', 'id', 'name'])
    expect(created.name).toBe('Duka la Mama')
    expect(await tenants.authenticate(created.apiKey)).toEqual({ id: created.id, name: 'Duka la Mama' })
    expect(await tenants.authenticate(`${created.apiKey}x`)).toBeUndefined()
    const view = await tenants.get(created.id)
    expect(view).toEqual({
      id: created.id,
      name: 'Duka la Mama',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      settings: DEFAULT_SETTINGS,
    })
  })

  test('get of an unknown tenant is a 404 naming the tenant', async () => {
    const { tenants } = await service()
    expect(await rejection(tenants.get(crypto.randomUUID()))).toEqual({
      status: 404,
      code: 'NOT_FOUND',
      message: 'Tenant not found',
    })
  })

  test('each setting is written alone and leaves every other setting as it was', async () => {
    const { tenants, created } = await service()
    const owner = testPhone()
    const steps: Array<[UpdateSettings, Partial<Settings>]> = [
      [{ quietHours: { start: '22:00', end: '06:30' } }, { quietHours: { start: '22:00', end: '06:30' } }],
      [{ ownerPhone: owner }, { ownerPhone: owner }],
      [{ alertPhones: ['+254722000001'] }, { alertPhones: ['+254722000001'] }],
      [{ timezone: 'Africa/Nairobi' }, { timezone: 'Africa/Nairobi' }],
      [{ currency: 'KES' }, { currency: 'KES' }],
      [{ quietHours: null }, { quietHours: null }],
    ]
    let expected: Settings = { ...DEFAULT_SETTINGS }
    for (const [input, change] of steps) {
      expected = { ...expected, ...change }
      expect({ input, settings: await tenants.updateSettings(created.id, input) }).toEqual({
        input,
        settings: expected,
      })
      expect((await tenants.get(created.id)).settings).toEqual(expected)
    }
  })

  // The schema allows a row with one end of the window only (no CHECK constraint); the API's
  // quietHours is both ends or null, never a window with a null end.
  test.each([
    [{ quietHoursStart: '22:00', quietHoursEnd: null }],
    [{ quietHoursStart: null, quietHoursEnd: '06:30' }],
  ])('a half-set quiet-hours row %p reads as no quiet hours', async (row) => {
    const { tenants, created } = await service()
    await createTenantRepository().updateSettings((await sharedDatabase()).db, created.id, row)
    expect((await tenants.get(created.id)).settings.quietHours).toBeNull()
  })

  test('an unknown time zone is a 422 naming the field, and writes nothing', async () => {
    const { tenants, created } = await service()
    expect(
      await rejection(tenants.updateSettings(created.id, { timezone: 'Mars/Olympus', currency: 'KES' })),
    ).toEqual({
      status: 422,
      code: 'VALIDATION',
      message: 'Invalid body: timezone — not an IANA time zone',
    })
    expect((await tenants.get(created.id)).settings).toEqual(DEFAULT_SETTINGS)
  })

  test('quiet hours that end where they start are a 422 naming the field, and write nothing', async () => {
    const { tenants, created } = await service()
    expect(
      await rejection(
        tenants.updateSettings(created.id, { quietHours: { start: '22:00', end: '22:00' }, currency: 'KES' }),
      ),
    ).toEqual({
      status: 422,
      code: 'VALIDATION',
      message:
        'Invalid body: quietHours.end — must differ from start (send quietHours: null for no quiet hours)',
    })
    expect((await tenants.get(created.id)).settings).toEqual(DEFAULT_SETTINGS)
  })

  test('ensureDemoTenant creates the demo shop only in an empty database', async () => {
    const handle = await freshDatabase()
    try {
      const tenants = createTenantService({ db: handle.db })
      const demo = await tenants.ensureDemoTenant()
      expect(demo).toBeDefined()
      const view = await tenants.get(demo!.id)
      expect({ name: view.name, ownerPhone: view.settings.ownerPhone }).toEqual({
        name: 'Demo Shop',
        ownerPhone: DEMO_OWNER_PHONE,
      })
      expect(await tenants.authenticate(demo!.apiKey)).toEqual({ id: demo!.id, name: 'Demo Shop' })
      expect(await tenants.ensureDemoTenant()).toBeUndefined()
    } finally {
      await handle.close()
    }
  })
})
