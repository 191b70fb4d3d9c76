import { describe, expect, test } from 'bun:test'
import { eq, sql } from 'drizzle-orm'
import { classifyQuery } from '../../src/db/query-timing.ts'
import { tenants } from '../../src/db/schema.ts'
import { createMetrics } from '../../src/metrics.ts'
import { buildTestApp } from '../helpers/app.ts'
import { freshDatabase, usingPostgres } from '../helpers/db.ts'
import { captureLogs } from '../helpers/logs.ts'
import { family, sample } from '../helpers/scrape.ts'

describe('classifyQuery', () => {
  test.each([
    ['select "id", "name" from "products" where "products"."id" = $1 limit $2', 'select', 'products'],
    ['insert into "orders" ("id", "tenant_id") values ($1, $2) returning "id"', 'insert', 'orders'],
    ['update "payments" set "status" = $1 where "payments"."id" = $2', 'update', 'payments'],
    ['delete from "order_items" where "order_items"."order_id" = $1', 'delete', 'order_items'],
    ['SELECT * FROM Tenants', 'select', 'tenants'],
    ['select * from public."tenant_settings"', 'select', 'tenant_settings'],
    ['update only "tenants" set "name" = $1', 'update', 'tenants'],
    ['with "recent" as (select * from "orders") select * from "recent"', 'select', 'other'],
    [
      'with gone as (delete from "orders" returning *) insert into "payments" select * from gone',
      'insert',
      'payments',
    ],
    ['select extract(year from now()) from "tenants"', 'select', 'tenants'],
    [' /* note */ -- comment\n select \'from orders\' from "products"', 'select', 'products'],
    ['select 1', 'select', 'none'],
    ['select count(*)::int as n from drizzle.__drizzle_migrations', 'select', 'other'],
    ['select * from "secret_table_name_from_an_attacker"', 'select', 'other'],
    ['begin', 'other', 'none'],
    ['create table "x" ("id" int)', 'other', 'none'],
    ['', 'other', 'none'],
  ])('%p → %s %s', (text, operation, table) => {
    expect(classifyQuery(text)).toEqual({ operation: operation as never, table })
  })
})

const counts = (text: string) => {
  const out: Record<string, number> = {}
  for (const [key, value] of Object.entries(family(text, 'db_query_duration_seconds'))) {
    if (key.startsWith('db_query_duration_seconds_count')) out[key.slice(key.indexOf('{'))] = value
  }
  return out
}

describe(`db_query_duration_seconds on ${usingPostgres() ? 'PostgreSQL (postgres.js)' : 'the embedded database (PGlite)'}`, () => {
  test('every statement the data layer runs is timed with its operation and table, transactions included', async () => {
    const metrics = createMetrics({ log: captureLogs().log, processMetrics: false })
    const database = await freshDatabase({ poolSize: 3, onQuery: metrics.observeQuery })
    try {
      const { call } = await buildTestApp({ database, metrics })
      const before = counts(await metrics.render())
      const { db } = database
      const [tenant] = await db
        .insert(tenants)
        .values({ name: 'a', apiKeyHash: crypto.randomUUID() })
        .returning()
      await db.select().from(tenants).where(eq(tenants.id, tenant!.id))
      await db.update(tenants).set({ name: 'b' }).where(eq(tenants.id, tenant!.id))
      await db.transaction(async (tx) => {
        await tx.insert(tenants).values({ name: 'c', apiKeyHash: crypto.randomUUID() })
        await tx.select().from(tenants)
        await tx.transaction(async (nested) => {
          await nested.delete(tenants).where(eq(tenants.name, 'c'))
        })
      })
      const failed = await db.execute(sql`select * from "no_such_table"`).then(
        () => 'answered',
        () => 'failed',
      )
      expect(failed).toBe('failed')
      expect((await call('/health/db')).status).toBe(200)
      const text = await (await call('/metrics')).text()
      const after = counts(text)
      const delta: Record<string, number> = {}
      for (const [labels, value] of Object.entries(after)) {
        const change = value - (before[labels] ?? 0)
        if (change !== 0) delta[labels] = change
      }
      expect(delta).toEqual({
        '{operation="insert",table="tenants"}': 2,
        '{operation="select",table="tenants"}': 2,
        '{operation="update",table="tenants"}': 1,
        '{operation="delete",table="tenants"}': 1,
        // The failed statement, and /health/db's `select 1`.
        '{operation="select",table="other"}': 1,
        '{operation="select",table="none"}': 1,
        // drizzle sends SAVEPOINT / RELEASE itself on PGlite; postgres.js issues its own internally.
        ...(usingPostgres() ? {} : { '{operation="other",table="none"}': 2 }),
      })
      expect(
        sample(text, 'db_query_duration_seconds_bucket{operation="select",table="tenants",le="+Inf"}'),
      ).toBe(2)
      expect(
        sample(text, 'db_query_duration_seconds_sum{operation="select",table="tenants"}'),
      ).toBeGreaterThan(0)
      expect(family(text, 'db_connection_pool_size')).toEqual({
        db_connection_pool_size: usingPostgres() ? 3 : 1,
      })
    } finally {
      await database.close()
    }
  })
})
