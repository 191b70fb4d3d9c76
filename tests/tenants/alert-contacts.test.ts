import { describe, expect, test } from 'bun:test'
import { createTenantAlertContacts } from '../../src/tenants/alert-contacts.ts'
import { createTenantRepository } from '../../src/tenants/repository.ts'
import { createTenantService } from '../../src/tenants/service.ts'
import { sharedDatabase } from '../helpers/db.ts'

/** A phone no other test in the process uses: the lookups below search every tenant. */
const uniquePhone = () =>
  `+2547${String(crypto.getRandomValues(new Uint32Array(1))[0]! % 100_000_000).padStart(8, '0')}`

async function setup() {
  const { db } = await sharedDatabase()
  const tenants = createTenantService({ db })
  const owner = uniquePhone()
  const { id } = await tenants.create({ name: 'Shop', ownerPhone: owner })
  return { db, tenants, contacts: createTenantAlertContacts(), id, owner }
}

describe('tenant alert contacts', () => {
  test('contactsOf lists the owner first, then the alert phones, with quiet hours in the tenant time zone', async () => {
    const { db, tenants, contacts, id, owner } = await setup()
    expect(await contacts.contactsOf(db, id)).toEqual({ phones: [owner], quietHours: undefined })
    const extra = [uniquePhone(), uniquePhone()]
    await tenants.updateSettings(id, {
      alertPhones: extra,
      timezone: 'Africa/Nairobi',
      quietHours: { start: '22:00', end: '06:30' },
    })
    expect(await contacts.contactsOf(db, id)).toEqual({
      phones: [owner, ...extra],
      quietHours: { timezone: 'Africa/Nairobi', start: '22:00', end: '06:30' },
    })
    // Upper-case hex is the same UUID (alert labels are free text).
    expect(await contacts.contactsOf(db, id.toUpperCase())).toEqual(await contacts.contactsOf(db, id))
  })

  test('a tenant with no owner phone gets its alert phones only; a half-set quiet-hours row means none', async () => {
    const { db, contacts, id } = await setup()
    const extra = uniquePhone()
    await createTenantRepository().updateSettings(db, id, {
      ownerPhone: null,
      alertPhones: [extra],
      quietHoursStart: '22:00',
      quietHoursEnd: null,
    })
    expect(await contacts.contactsOf(db, id)).toEqual({ phones: [extra], quietHours: undefined })
    await createTenantRepository().updateSettings(db, id, { quietHoursStart: null, quietHoursEnd: '06:30' })
    expect(await contacts.contactsOf(db, id)).toEqual({ phones: [extra], quietHours: undefined })
  })

  // All but the dashless form would fail PostgreSQL's uuid cast if they reached the query.
  const uuid = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d'
  const groups = uuid.split('-')
  const reshaped = groups.flatMap((group, i) => {
    const with_ = (g: string) => groups.map((x, j) => (j === i ? g : x)).join('-')
    return [with_(`${group}a`), with_(group.slice(1))]
  })
  test.each([
    ['a service name', 'checkout'],
    ['an empty label', ''],
    ['a UUID with a prefix', `x${uuid}`],
    ['a UUID with a suffix', `${uuid}x`],
    ['a UUID with a non-hex digit', uuid.replace('0a1b', '0g1b')],
    ['a UUID without dashes', uuid.replaceAll('-', '')],
    ...reshaped.map((id, i) => [
      `a UUID with group ${Math.floor(i / 2) + 1} ${i % 2 ? 'short' : 'long'}`,
      id,
    ]),
  ])('contactsOf %s (%p) is undefined, not an error', async (_name, label) => {
    const { db, contacts } = await setup()
    expect(await contacts.contactsOf(db, label!)).toBeUndefined()
  })

  test('contactsOf an unknown tenant is undefined', async () => {
    const { db, contacts } = await setup()
    expect(await contacts.contactsOf(db, crypto.randomUUID())).toBeUndefined()
  })

  test("tenantsOfPhone finds the tenants whose owner or alert phones hold the number, and no one else's", async () => {
    const { db, tenants, contacts, id: first, owner } = await setup()
    const other = await setup()
    await tenants.updateSettings(other.id, { alertPhones: [owner] })
    const digits = (phone: string) => phone.slice(1)
    expect((await contacts.tenantsOfPhone(db, digits(owner))).sort()).toEqual([first, other.id].sort())
    expect(await contacts.tenantsOfPhone(db, digits(other.owner))).toEqual([other.id])
    expect(await contacts.tenantsOfPhone(db, digits(uniquePhone()))).toEqual([])
  })
})
