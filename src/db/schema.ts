import { sql } from 'drizzle-orm'
import {
  bigint,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  uuid,
} from 'drizzle-orm/pg-core'
import { timestamptz } from './timestamp.ts'

// Money is always integer minor units (cents). bigint in SQL, a JS number in code:
// amounts are validated to stay below Number.MAX_SAFE_INTEGER.
const money = (name: string) => bigint(name, { mode: 'number' })
const createdAt = () => timestamptz('created_at').notNull().default(sql`now()`)
const updatedAt = () => timestamptz('updated_at').notNull().default(sql`now()`)

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

/** The most units a product's stock can be set to (the API's limit; the column is an int4). */
export const MAX_STOCK = 1_000_000_000

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
  (table) => [
    index('payments_order_idx').on(table.tenantId, table.orderId),
    // The reconciler's scan: pending payments, oldest first.
    index('payments_status_created_idx').on(table.status, table.createdAt),
  ],
)

/**
 * Idempotency keys (Stripe's semantics, IETF draft-ietf-httpapi-idempotency-key-header): one row
 * per (scope, key). A row is claimed (`lockToken` set) before the request runs, and its
 * response is written in the transaction that makes the request's effect real, so a key
 * replays exactly what was committed and never a second effect.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    /** `tenant:<id>`, or `admin:<sha-256 of the admin token>` for POST /tenants. */
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    /** SHA-256 (hex) of method, path and body: the same key with another request is refused. */
    fingerprint: text('fingerprint').notNull(),
    /** Request id of the first request (its error bodies carry it; replays repeat them). */
    requestId: text('request_id').notNull(),
    /** Set while a request holds the key; only its holder may store the response. */
    lockToken: text('lock_token'),
    /**
     * A claim with no effect recorded may be taken over after this (its holder died). Once its
     * request has handed an unsettled effect over (no lock token: a payment left pending), when
     * that effect should be settled: its retries' Retry-After.
     */
    lockedUntil: timestamptz('locked_until'),
    /** The effect started outside the response transaction (a payment's id), if any. */
    resourceId: uuid('resource_id'),
    responseStatus: integer('response_status'),
    /** The exact response bytes (UTF-8 JSON); encrypted when `sealed`. */
    responseBody: text('response_body'),
    /** True when responseBody is AES-GCM ciphertext (responses that carry a secret). */
    sealed: boolean('sealed').notNull().default(false),
    createdAt: createdAt(),
    expiresAt: timestamptz('expires_at').notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.scope, table.key] }),
    index('idempotency_keys_expires_idx').on(table.expiresAt),
    index('idempotency_keys_resource_idx').on(table.resourceId),
  ],
)

/**
 * The sandbox payment provider's own ledger, keyed by the idempotency key the service sends
 * (the payment id). It lives in the service's database so that, like a real provider's, it
 * outlives a crash of the service: reconciliation asks it what happened.
 */
export const sandboxCharges = pgTable('sandbox_charges', {
  idempotencyKey: text('idempotency_key').primaryKey(),
  /** succeeded | declined */
  outcome: text('outcome').notNull(),
  reference: text('reference'),
  reason: text('reason'),
  amountMinor: money('amount_minor').notNull(),
  currency: text('currency').notNull(),
  createdAt: createdAt(),
})

/**
 * What the dispatcher knows about each alert it was handed (by Alertmanager or the ruleManager),
 * keyed by the Alertmanager-compatible fingerprint of its label set.
 */
export const alertStates = pgTable(
  'alert_states',
  {
    fingerprint: text('fingerprint').primaryKey(),
    alertname: text('alertname').notNull(),
    severity: text('severity').notNull(),
    tenantId: uuid('tenant_id'),
    labels: jsonb('labels').$type<Record<string, string>>().notNull(),
    annotations: jsonb('annotations').$type<Record<string, string>>().notNull(),
    status: text('status').notNull(),
    /** Start of the current firing episode; a new episode after resolution starts over. */
    startsAt: timestamptz('starts_at').notNull(),
    resolvedAt: timestamptz('resolved_at'),
    /** When firing notifications for this episode were last enqueued (first or repeat). */
    lastNotifiedAt: timestamptz('last_notified_at'),
    repeatCycle: integer('repeat_cycle').notNull().default(0),
    ackedAt: timestamptz('acked_at'),
    silencedUntil: timestamptz('silenced_until'),
    /**
     * The Alertmanager aggregation group (`groupKey`) whose notification last listed the alert;
     * null for the rule manager's alerts. A later complete notification of that group that no
     * longer lists it ends it (see the dispatcher's `ingestAll`).
     */
    groupKey: text('group_key'),
    /**
     * Whether the episode was ended by its group no longer listing it (not by a resolution): the
     * same episode (same `startsAt`) listed firing again is then a new episode, not a late re-send.
     */
    resolvedUnlisted: boolean('resolved_unlisted').notNull().default(false),
    /**
     * When an Alertmanager notification last listed the alert, or a notification of its group
     * that may have (cut by `max_alerts`); null for the rule manager's alerts. Not `updated_at`:
     * a re-send that changes nothing writes nothing else. A firing alert not listed for
     * ALERTMANAGER_ALERT_STALE_AFTER is resolved (see the dispatcher's `resolveStale`).
     */
    listedAt: timestamptz('listed_at'),
    updatedAt: updatedAt(),
  },
  (table) => [
    // Every Alertmanager notification looks up the firing alerts its group listed last time.
    index('alert_states_group_key_idx').on(table.groupKey),
    // Every notifier tick looks for the firing alerts no notification listed for too long.
    index('alert_states_listed_at_idx').on(table.listedAt),
  ],
)

/**
 * The notification outbox: one row per (alert, transition, recipient, repeat cycle), written
 * before anything is sent. Rows due for one recipient in one tick are sent as one message and
 * share `groupId` and `waMessageId`.
 */
export const alertOutbox = pgTable(
  'alert_outbox',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Re-enqueuing the same (fingerprint, episode, transition, recipient, cycle) is a no-op. */
    dedupeKey: text('dedupe_key').notNull().unique(),
    /** Digits only, international form, as the Cloud API wants it. */
    recipient: text('recipient').notNull(),
    tenantId: uuid('tenant_id'),
    fingerprint: text('fingerprint').notNull(),
    alertname: text('alertname').notNull(),
    severity: text('severity').notNull(),
    /** firing | resolved | reply (a free-text answer to an inbound command). */
    transition: text('transition').notNull(),
    /** What the message is made of: the alert's labels/annotations/value, or the reply text. */
    content: jsonb('content').$type<Record<string, unknown>>().notNull(),
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamptz('next_attempt_at').notNull(),
    leaseUntil: timestamptz('lease_until'),
    /** text | template: how the last attempt was sent. */
    mode: text('mode'),
    rendered: text('rendered'),
    groupId: uuid('group_id'),
    waMessageId: text('wa_message_id'),
    lastErrorCode: text('last_error_code'),
    lastErrorMessage: text('last_error_message'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    sentAt: timestamptz('sent_at'),
  },
  (table) => [
    index('alert_outbox_due_idx').on(table.status, table.nextAttemptAt),
    index('alert_outbox_wamid_idx').on(table.waMessageId),
    index('alert_outbox_fingerprint_idx').on(table.fingerprint, table.transition),
  ],
)

/**
 * The earlier attempts of an outbox row that may have reached WhatsApp: one whose fate Meta
 * reported late as a failure (its wamid), or one that got no usable answer (a timeout, a lost
 * lease: its group id, echoed as biz_opaque_callback_data). The row itself only knows its
 * current attempt; a `delivered` for one of these, arriving after the row was re-queued, must
 * still be recognised (it cancels the re-send, or is recorded if the re-send already went).
 */
export const alertOutboxAttempts = pgTable(
  'alert_outbox_attempts',
  {
    outboxId: uuid('outbox_id')
      .notNull()
      .references(() => alertOutbox.id, { onDelete: 'cascade' }),
    /** The claim the attempt was sent under (our callback data). */
    groupId: uuid('group_id').notNull(),
    /** Null while Meta never told us (a timed-out call): learnt from a late status. */
    waMessageId: text('wa_message_id'),
    /** unanswered | failed | sent | delivered | read: the furthest status heard, forward only. */
    status: text('status').notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (table) => [
    primaryKey({ columns: [table.outboxId, table.groupId] }),
    index('alert_outbox_attempts_wamid_idx').on(table.waMessageId),
    index('alert_outbox_attempts_group_idx').on(table.groupId),
  ],
)

/**
 * When each number last wrote to us: free-form text is only allowed within 24 hours of it
 * (WhatsApp's customer-service window); outside it alerts must be templates.
 */
export const whatsappContacts = pgTable('whatsapp_contacts', {
  phone: text('phone').primaryKey(),
  lastInboundAt: timestamptz('last_inbound_at').notNull(),
})

/**
 * The scheduled ruleManager's alerts, one row per (group, rule, alert identity): what Prometheus
 * keeps in memory, persisted so that a restart or a new leader neither restarts `for` timers
 * nor re-notifies.
 */
export const alertRuleStates = pgTable(
  'alert_rule_states',
  {
    ruleGroup: text('rule_group').notNull(),
    ruleName: text('rule_name').notNull(),
    /** Alertmanager-compatible fingerprint of the identity labels. */
    fingerprint: text('fingerprint').notNull(),
    labels: jsonb('labels').$type<Record<string, string>>().notNull(),
    annotations: jsonb('annotations').$type<Record<string, string>>().notNull(),
    state: text('state').notNull(),
    activeAt: timestamptz('active_at').notNull(),
    firedAt: timestamptz('fired_at'),
    resolvedAt: timestamptz('resolved_at'),
    keepFiringSince: timestamptz('keep_firing_since'),
    value: doublePrecision('value').notNull(),
    /** When the last firing/resolved transition was handed to the dispatcher. */
    lastNotifiedAt: timestamptz('last_notified_at'),
    /**
     * The interval (ms) of the group that last wrote the alert: how long it stays valid once
     * no one writes it (rules/alerting.go `sendAlerts` ValidUntil). Null for rows written
     * before the column existed.
     */
    intervalMs: integer('interval_ms'),
  },
  (table) => [primaryKey({ columns: [table.ruleGroup, table.ruleName, table.fingerprint] })],
)

export const schema = {
  tenants,
  tenantSettings,
  products,
  orders,
  orderItems,
  payments,
  idempotencyKeys,
  sandboxCharges,
  alertStates,
  alertOutbox,
  alertOutboxAttempts,
  whatsappContacts,
  alertRuleStates,
}
