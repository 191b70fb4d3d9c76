import { sql } from 'drizzle-orm'
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core'

// Money is always integer minor units (cents). bigint in SQL, a JS number in code:
// amounts are validated to stay below Number.MAX_SAFE_INTEGER.
const money = (name: string) => bigint(name, { mode: 'number' })
const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow()
const updatedAt = () => timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow()

export const tenants = pgTable('tenants', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
  /** SHA-256 (hex) of the API key; the key itself is shown once at creation and never stored. */
  apiKeyHash: text('api_key_hash').notNull().unique(),
  createdAt: createdAt(),
})

export const tenantSettings = pgTable('tenant_settings', {
  tenantId: uuid('tenant_id')
    .primaryKey()
    .references(() => tenants.id, { onDelete: 'cascade' }),
  ownerPhone: text('owner_phone'),
  alertPhones: text('alert_phones').array().notNull().default(sql`'{}'::text[]`),
  timezone: text('timezone').notNull().default('UTC'),
  currency: text('currency').notNull().default('USD'),
  /** Quiet hours as local `HH:MM` in `timezone`; both null = no quiet hours. */
  quietHoursStart: text('quiet_hours_start'),
  quietHoursEnd: text('quiet_hours_end'),
  updatedAt: updatedAt(),
})

export const products = pgTable(
  'products',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    priceMinor: money('price_minor').notNull(),
    currency: text('currency').notNull(),
    /** null = unlimited stock. */
    stock: integer('stock'),
    active: boolean('active').notNull().default(true),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (table) => [
    index('products_tenant_created_idx').on(table.tenantId, table.createdAt, table.id),
    check('products_stock_non_negative', sql`${table.stock} IS NULL OR ${table.stock} >= 0`),
    check('products_price_non_negative', sql`${table.priceMinor} >= 0`),
  ],
)

export const orders = pgTable(
  'orders',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    channel: text('channel').notNull(),
    customerPhone: text('customer_phone').notNull(),
    customerName: text('customer_name'),
    status: text('status').notNull(),
    totalMinor: money('total_minor').notNull(),
    currency: text('currency').notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (table) => [index('orders_tenant_created_idx').on(table.tenantId, table.createdAt, table.id)],
)

export const orderItems = pgTable(
  'order_items',
  {
    orderId: uuid('order_id')
      .notNull()
      .references(() => orders.id, { onDelete: 'cascade' }),
    line: integer('line').notNull(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    productId: uuid('product_id')
      .notNull()
      .references(() => products.id),
    quantity: integer('quantity').notNull(),
    /** Price captured when the order was placed; later price changes do not alter the order. */
    unitPriceMinor: money('unit_price_minor').notNull(),
  },
  (table) => [primaryKey({ columns: [table.orderId, table.line] })],
)

export const payments = pgTable(
  'payments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orderId: uuid('order_id')
      .notNull()
      .references(() => orders.id, { onDelete: 'cascade' }),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    provider: text('provider').notNull(),
    status: text('status').notNull(),
    amountMinor: money('amount_minor').notNull(),
    currency: text('currency').notNull(),
    providerReference: text('provider_reference'),
    failureReason: text('failure_reason'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (table) => [index('payments_order_idx').on(table.tenantId, table.orderId)],
)

export const schema = { tenants, tenantSettings, products, orders, orderItems, payments }
