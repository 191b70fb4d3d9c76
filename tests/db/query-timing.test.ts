import { describe, expect, test } from 'bun:test'
import { PGlite } from '@electric-sql/pglite'
import { eq, sql } from 'drizzle-orm'
import postgres from 'postgres'
import { classifyQuery, instrumentPglite, instrumentPostgresJs } from '../../src/db/query-timing.ts'
import { tenants } from '../../src/db/schema.ts'
import { createMetrics } from '../../src/metrics.ts'
import { buildTestApp } from '../helpers/app.ts'
import { freshDatabase, POSTGRES_URL, usingPostgres } from '../helpers/db.ts'
import { captureLogs } from '../helpers/logs.ts'
import { family, sample } from '../helpers/scrape.ts'
import { recordSkip } from '../helpers/skips.ts'

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
  }, 30_000) // opens its own database and runs every kind of API call
})

if (!usingPostgres()) {
  recordSkip(
    'PostgreSQL only: postgres.js statement timing',
    'runs only on PostgreSQL (DATABASE_URL unset)',
    {
      expected: true,
    },
  )
}

describe.if(usingPostgres())('PostgreSQL only: postgres.js statement timing', () => {
  /** A clock that moves 250 ms per reading: each statement reads it twice, at creation and when settled. */
  const steppingClock = () => {
    let t = 1000
    return () => {
      t += 250
      return t
    }
  }

  test('each statement is observed once, from creation until the server answered, in every call form', async () => {
    const raw = postgres(POSTGRES_URL ?? '', { max: 2, onnotice: () => {} })
    const observed: Array<[string, string, number]> = []
    const sql = instrumentPostgresJs(
      raw,
      (q, seconds) => observed.push([q.operation, q.table, seconds]),
      steppingClock(),
    )
    try {
      // drizzle's form: text, parameters and options, read as values.
      expect([...(await sql.unsafe('select $1::int as x', [5], { prepare: true }).values())]).toEqual([[5]])
      // postgres.js reads a second argument that is not an array as options, by the argument count
      // (a form its types do not declare).
      const unsafe = sql.unsafe as unknown as (text: string, options: object) => Promise<Array<{ x: number }>>
      expect((await unsafe('select 2 as x', { prepare: false })).map((row) => row.x)).toEqual([2])
      expect((await sql.unsafe('select 3 as x')).map((row) => row.x)).toEqual([3])
      const code = await sql.unsafe('select * from "no_such_table"').then(
        () => 'answered',
        (error: { code?: string }) => error.code,
      )
      expect(code).toBe('42P01')
      const inTransaction = await sql.begin(async (tx) =>
        (await tx.unsafe('select 4 as x')).map((row) => row.x),
      )
      expect(inTransaction).toEqual([4])
      // Everything else is the client's own: the options object drizzle adjusts in place, and
      // the tagged template (not timed: drizzle never uses it).
      expect(sql.options).toBe(raw.options)
      expect((await sql`select ${6}::int as x`).map((row) => row.x)).toEqual([6])
      expect(observed).toEqual([
        ['select', 'none', 0.25],
        ['select', 'none', 0.25],
        ['select', 'none', 0.25],
        ['select', 'other', 0.25],
        ['select', 'none', 0.25],
      ])
    } finally {
      await raw.end({ timeout: 5 })
    }
  })

  test('a statement postgres.js settles more than once is observed once', async () => {
    const raw = postgres(POSTGRES_URL ?? '', { max: 1, onnotice: () => {} })
    const admin = postgres(POSTGRES_URL ?? '', { max: 1, onnotice: () => {} })
    const observed: string[] = []
    const sql = instrumentPostgresJs(raw, (q) => observed.push(`${q.operation} ${q.table}`))
    const code = (query: PromiseLike<unknown>) =>
      query.then(
        () => 'answered',
        (error: { code?: string }) => error.code,
      )
    try {
      // Rejected while its message is built, then resolved by the server's ReadyForQuery.
      const params = Array.from({ length: 65_535 }, (_, i) => i)
      const text = `select ${params.map((_, i) => `$${i + 1}::int`).join(',')} limit 0`
      expect(await code(sql.unsafe(text, params))).toBe('MAX_PARAMETERS_EXCEEDED')
      // Resolved with its description, then again when the server is ready.
      await sql.unsafe('select $1::int as x', [1]).describe()
      // A connection killed mid-query (a failover): its query is settled again at reconnect.
      const [backend] = (await sql.unsafe('select pg_backend_pid() as pid')) as unknown as Array<{
        pid: number
      }>
      const slow = code(sql.unsafe('select pg_sleep(5)'))
      await Bun.sleep(300)
      await admin`select pg_terminate_backend(${backend!.pid})`
      expect(await slow).toBe('CONNECTION_CLOSED')
      // (postgres.js hands this one the dead session's 57P01; its answer is not the point here.)
      await code(sql.unsafe('select 2'))
      // Each settles its connection's state before this last one answers.
      await sql.unsafe('select 3')
      expect(observed).toEqual([
        'select none',
        'select none',
        'select none',
        'select none',
        'select none',
        'select none',
      ])
    } finally {
      await admin.end({ timeout: 5 })
      await raw.end({ timeout: 5 })
    }
  })

  test('a statement is timed until it settles, not until its caller resumes', async () => {
    const raw = postgres(POSTGRES_URL ?? '', { max: 1, onnotice: () => {} })
    const observed: number[] = []
    const sql = instrumentPostgresJs(raw, (_q, seconds) => observed.push(seconds))
    try {
      const started = performance.now()
      await sql.unsafe('select pg_sleep(0.2)')
      const elapsed = (performance.now() - started) / 1000
      expect(observed).toHaveLength(1)
      expect(observed[0]!).toBeGreaterThanOrEqual(0.2)
      expect(observed[0]!).toBeLessThanOrEqual(elapsed)
    } finally {
      await raw.end({ timeout: 5 })
    }
  })
})

describe('PGlite statement timing', () => {
  test('queries and transactions are timed, and a transaction’s own methods act on that transaction', async () => {
    const client = await PGlite.create()
    const observed: Array<[string, string]> = []
    const db = instrumentPglite(client, (q) => observed.push([q.operation, q.table]))
    try {
      expect((await db.query<{ x: number }>('select $1::int as x', [7])).rows).toEqual([{ x: 7 }])
      await expect(db.query('select * from "no_such_table"')).rejects.toThrow('no_such_table')
      // Each transaction's exec must run on that transaction: bound to the first one, the
      // second call would run on a transaction already closed.
      for (const n of [1, 2]) {
        await db.transaction(async (tx) => {
          await tx.exec(`select ${n}`)
          expect((await tx.query<{ n: number }>(`select ${n} as n`)).rows).toEqual([{ n }])
        })
      }
      // A text that is not a string is PGlite's to judge: the timing around it does not throw
      // first, and the call still returns PGlite's promise.
      const notText = db.query(undefined as unknown as string)
      expect(notText).toBeInstanceOf(Promise)
      await notText.catch(() => undefined)
      expect(observed).toEqual([
        ['select', 'none'],
        ['select', 'other'],
        ['select', 'none'],
        ['select', 'none'],
        ['other', 'none'],
      ])
    } finally {
      await client.close()
    }
  })
})
