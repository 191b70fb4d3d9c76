import { describe, expect, test } from 'bun:test'
import type { Executor } from '../../src/db/client.ts'
import { preparedPerExecutor } from '../../src/db/prepared.ts'
import { createProductRepository } from '../../src/products/repository.ts'
import { createTenantRepository } from '../../src/tenants/repository.ts'
import { sharedDatabase } from '../helpers/db.ts'

describe('preparedPerExecutor', () => {
  test('builds once per executor and hands each executor its own statement', () => {
    const built: unknown[] = []
    const statementOf = preparedPerExecutor((db) => {
      built.push(db)
      return { on: db }
    })
    const a = {} as Executor
    const b = {} as Executor
    const first = statementOf(a)
    expect(statementOf(a)).toBe(first)
    expect(statementOf(b)).not.toBe(first)
    expect(statementOf(b).on).toBe(b)
    expect(built).toEqual([a, b])
  })
})

describe('prepared lookups on the database', () => {
  test('the tenant by key hash: each call reads its own parameter, also inside a transaction', async () => {
    const { db } = await sharedDatabase()
    const repo = createTenantRepository()
    const suffix = crypto.randomUUID()
    const one = await repo.insert(db, { name: 'one', apiKeyHash: `hash-one-${suffix}` }, '+15550100001')
    const two = await repo.insert(db, { name: 'two', apiKeyHash: `hash-two-${suffix}` }, '+15550100002')
    // Alternating calls through the one prepared statement: a parameter left over from the
    // previous call would answer the other tenant.
    expect((await repo.findByKeyHash(db, `hash-one-${suffix}`))?.id).toBe(one.id)
    expect((await repo.findByKeyHash(db, `hash-two-${suffix}`))?.id).toBe(two.id)
    expect((await repo.findByKeyHash(db, `hash-one-${suffix}`))?.name).toBe('one')
    expect(await repo.findByKeyHash(db, `hash-none-${suffix}`)).toBeUndefined()
    const inTransaction = await db.transaction(async (tx) => [
      (await repo.findByKeyHash(tx, `hash-two-${suffix}`))?.id,
      (await repo.findByKeyHash(tx, `hash-one-${suffix}`))?.id,
    ])
    expect(inTransaction).toEqual([two.id, one.id])
  })

  test("the product by tenant and id: another tenant's id answers nothing", async () => {
    const { db } = await sharedDatabase()
    const tenants = createTenantRepository()
    const products = createProductRepository()
    const suffix = crypto.randomUUID()
    const a = await tenants.insert(db, { name: 'a', apiKeyHash: `hash-a-${suffix}` }, '+15550100003')
    const b = await tenants.insert(db, { name: 'b', apiKeyHash: `hash-b-${suffix}` }, '+15550100004')
    const product = { name: 'Tea', priceMinor: 250, currency: 'KES', stock: 3 }
    const ofA = await products.insert(db, { tenantId: a.id, ...product })
    const ofB = await products.insert(db, { tenantId: b.id, ...product, name: 'Coffee' })
    expect((await products.find(db, a.id, ofA.id))?.name).toBe('Tea')
    expect((await products.find(db, b.id, ofB.id))?.name).toBe('Coffee')
    expect(await products.find(db, a.id, ofB.id)).toBeUndefined()
    expect(await products.find(db, b.id, ofA.id)).toBeUndefined()
    const found = await products.find(db, a.id, ofA.id)
    expect(found?.priceMinor).toBe(250)
    expect(found?.createdAt).toBeInstanceOf(Date)
  })
})
