import { expect } from 'bun:test'
import { sql } from 'drizzle-orm'
import type { Database } from '../../src/db/client.ts'
import { ADMIN_TOKEN, type buildTestApp } from './app.ts'

type Call = Awaited<ReturnType<typeof buildTestApp>>['call']

let phoneSeq = 0
/** A distinct, valid E.164 number per call (tests grep logs for them). */
export const testPhone = () => `+2547${String(10_000_000 + ++phoneSeq * 7919).slice(-8)}`

export async function createTenant(call: Call, name = 'Shop') {
  const res = await call('/tenants', {
    method: 'POST',
    token: ADMIN_TOKEN,
    json: { name, ownerPhone: testPhone() },
  })
  if (res.status !== 201) throw new Error(`createTenant: ${res.status} ${await res.text()}`)
  return (await res.json()) as { id: string; name: string; apiKey: string }
}

export async function createProduct(
  call: Call,
  apiKey: string,
  product: { name?: string; priceMinor?: number; currency?: string; stock?: number | null } = {},
) {
  const res = await call('/products', {
    method: 'POST',
    token: apiKey,
    json: { name: 'Tea', priceMinor: 250, currency: 'KES', ...product },
  })
  if (res.status !== 201) throw new Error(`createProduct: ${res.status} ${await res.text()}`)
  return (await res.json()) as { id: string; priceMinor: number; stock: number | null }
}

export async function createOrder(
  call: Call,
  apiKey: string,
  items: Array<{ productId: string; quantity: number }>,
  channel?: string,
) {
  const res = await call('/orders', {
    method: 'POST',
    token: apiKey,
    json: { channel, customer: { phone: testPhone(), name: 'Amina' }, items },
  })
  if (res.status !== 201) throw new Error(`createOrder: ${res.status} ${await res.text()}`)
  return (await res.json()) as { id: string; status: string; totalMinor: number }
}

const rowsOf = (result: unknown) =>
  (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<Record<string, unknown>>

const tablesOf = new WeakMap<Database, Promise<string[]>>()

/** Every table with a `tenant_id` column, read from the catalogue so a new table is never missed. */
function tenantOwnedTables(db: Database): Promise<string[]> {
  let tables = tablesOf.get(db)
  if (!tables) {
    tables = db
      .execute(sql`
        select table_name from information_schema.columns
        where table_schema = 'public' and column_name = 'tenant_id'
        order by table_name
      `)
      .then((result) => rowsOf(result).map((row) => String(row.table_name)))
    tablesOf.set(db, tables)
  }
  return tables
}

/** Every row of `table` with `column` = `value`, every column, as JSON in a stable order. */
const allRows = (table: string, column: string, value: string) =>
  sql`(select coalesce(jsonb_agg(to_jsonb(t) order by to_jsonb(t)::text), '[]'::jsonb) from ${sql.identifier(table)} t where ${sql.identifier(column)} = ${value})`

/**
 * Everything one tenant owns: its `tenants` row and every row, every column, of every table
 * with a `tenant_id` column (`rows`), plus counts and statuses for readable `toMatchObject`
 * checks. Equal footprints before and after a request mean the request changed nothing of
 * that tenant's data — not even a price or a settings column.
 */
export async function tenantFootprint(db: Database, tenantId: string) {
  const tables = ['tenants', ...(await tenantOwnedTables(db))]
  const columns = tables.map(
    (table) =>
      sql`${allRows(table, table === 'tenants' ? 'id' : 'tenant_id', tenantId)} as ${sql.identifier(`rows:${table}`)}`,
  )
  // The stock sum as float8 (exact to 2^53): as int it overflowed past 2^31 − 1 units, which
  // a few products at the 10^9 stock maximum reach.
  const [row] = rowsOf(
    await db.execute(sql`
    select
      (select count(*)::int from products where tenant_id = ${tenantId}) as products,
      (select coalesce(sum(stock), 0)::float8 from products where tenant_id = ${tenantId}) as stock,
      (select count(*)::int from orders where tenant_id = ${tenantId}) as orders,
      (select count(*)::int from order_items where tenant_id = ${tenantId}) as order_items,
      (select count(*)::int from payments where tenant_id = ${tenantId}) as payments,
      (select string_agg(status, ',' order by id) from orders where tenant_id = ${tenantId}) as order_statuses,
      (select string_agg(status, ',' order by id) from payments where tenant_id = ${tenantId}) as payment_statuses,
      ${sql.join(columns, sql`, `)}
  `),
  )
  const summary = {} as {
    products: number
    stock: number
    orders: number
    order_items: number
    payments: number
    order_statuses: string | null
    payment_statuses: string | null
  }
  const rows: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(row!)) {
    if (key.startsWith('rows:')) rows[key.slice(5)] = value
    else (summary as Record<string, unknown>)[key] = value
  }
  return { ...summary, rows }
}

/**
 * Sends a request a fresh tenant makes with `json`, expects 422 VALIDATION naming `field`,
 * and that the tenant's rows are exactly as before: a rejected request writes nothing.
 */
export async function expectRejectedWritingNothing(
  built: Awaited<ReturnType<typeof buildTestApp>>,
  method: string,
  path: string,
  json: unknown,
  field: string,
  /** The refusal's message for `field`, when the test is about it. */
  message?: string,
) {
  const tenant = await createTenant(built.call)
  const before = await tenantFootprint(built.deps.database.db, tenant.id)
  const res = await built.call(path, { method, token: tenant.apiKey, json })
  expect(res.status).toBe(422)
  const body = (await res.json()) as {
    error: { code: string; details: { errors: Array<{ field: string; message: string }> } }
  }
  expect(body.error.code).toBe('VALIDATION')
  expect(body.error.details.errors.map((e) => e.field)).toContain(field)
  if (message !== undefined) expect(body.error.details.errors).toContainEqual({ field, message })
  expect(await tenantFootprint(built.deps.database.db, tenant.id)).toEqual(before)
}

/** A UUID with every other hex letter upper-cased: the same id as a client may spell it (RFC 9562). */
export const mixedCase = (id: string) => id.replace(/[a-f]/g, (c, i: number) => (i % 2 ? c.toUpperCase() : c))
