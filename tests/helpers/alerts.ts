import { afterAll, beforeAll, beforeEach } from 'bun:test'
import { createHmac } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'drizzle-orm'
import { createAlerting } from '../../src/alerting/alerting.ts'
import type { AlertingMetrics } from '../../src/alerting/metrics.ts'
import { createRuleManager, expandRuleFiles, loadRules } from '../../src/alerting/rules/manager.ts'
import { loadConfig } from '../../src/config.ts'
import type { Clock } from '../../src/core/clock.ts'
import type { DatabaseHandle } from '../../src/db/client.ts'
import { alertRuleStates } from '../../src/db/schema.ts'
import { createHttpClient } from '../../src/http/outbound.ts'
import type { InstantResult, QuerySource } from '../../src/prometheus/promql/query-source.ts'
import { createTenantAlertContacts } from '../../src/tenants/alert-contacts.ts'
import { buildTestApp } from './app.ts'
import { freshDatabase } from './db.ts'
import { captureLogs } from './logs.ts'
import { startWhatsAppFake } from './whatsapp-fake.ts'

export const ONCALL = '+254700000001'
/** The sending number's id (WHATSAPP_PHONE_NUMBER_ID) of alertingFor's configuration. */
export const PHONE_NUMBER_ID = '106540352242922'
/**
 * What an app needs to take signed WhatsApp webhooks for PHONE_NUMBER_ID (`alertingApp`'s
 * `postWhatsapp` signs with this secret).
 */
export const SIGNED_WEBHOOK_ENV = {
  WHATSAPP_APP_SECRET: 'app-secret-for-tests',
  WHATSAPP_PHONE_NUMBER_ID: PHONE_NUMBER_ID,
}
/** A webhook change's `value.metadata` as Meta sends it for that number. */
export const OUR_NUMBER = { display_phone_number: '15550001234', phone_number_id: PHONE_NUMBER_ID }

/** A clock the test moves by hand. */
/**
 * A WhatsApp Cloud API webhook body with one change to our number (`value.metadata`), as
 * Meta's "Webhooks — messages" reference shows it; `value` adds statuses or messages.
 */
export const whatsappWebhook = (value: Record<string, unknown>) => ({
  object: 'whatsapp_business_account',
  entry: [
    {
      id: 'WABA',
      changes: [
        { field: 'messages', value: { messaging_product: 'whatsapp', metadata: OUR_NUMBER, ...value } },
      ],
    },
  ],
})

export function manualClock(start = '2026-03-02T10:00:00Z') {
  let now = new Date(start).getTime()
  const clock: Clock & { advance(ms: number): void; set(iso: string): void } = {
    now: () => new Date(now),
    monotonic: () => now,
    advance: (ms) => {
      now += ms
    },
    set: (iso) => {
      now = new Date(iso).getTime()
    },
  }
  return clock
}

export function recordingAlertMetrics() {
  const events: string[] = []
  const metrics: AlertingMetrics = {
    messageSent: (s) => events.push(`sent:${s}`),
    sendDuration: () => {},
    pending: (n) => events.push(`pending:${n}`),
    tokenValid: (v) => events.push(`token:${v}`),
    missingTenantPhone: () => events.push('missing-phone'),
    invalidAlerts: (n) => events.push(`invalid:${n}`),
    earlierAttemptStatus: (o) => events.push(`earlier:${o}`),
    alertsResolvedUnlisted: (reason, n) => events.push(`unlisted:${reason}:${n}`),
  }
  return { events, metrics }
}

export async function resetAlertTables(database: DatabaseHandle) {
  for (const table of ['alert_outbox', 'alert_states', 'whatsapp_contacts']) {
    await database.db.execute(sql.raw(`delete from ${table}`))
  }
}

/** Alert delivery against the fake Cloud API, with a manual clock and no jitter. */
export function alertingFor(
  database: DatabaseHandle,
  fakeUrl: string | undefined,
  env: Record<string, string> = {},
  /** When this process starts, by its manual clock (a restart after downtime starts later). */
  clockStart?: string,
) {
  const config = loadConfig({
    NODE_ENV: 'test',
    ALERT_PHONES: ONCALL,
    ...(fakeUrl
      ? {
          WHATSAPP_API_BASE: fakeUrl,
          WHATSAPP_PHONE_NUMBER_ID: PHONE_NUMBER_ID,
          WHATSAPP_ACCESS_TOKEN: 'EAAG-test-token-secret',
        }
      : {}),
    WHATSAPP_TIMEOUT_MS: '500',
    ...env,
  })
  const clock = manualClock(clockStart)
  const logs = captureLogs()
  const { events, metrics } = recordingAlertMetrics()
  const alerting = createAlerting({
    config,
    db: database.db,
    http: createHttpClient(fetch),
    clock,
    log: logs.log,
    metrics,
    contacts: createTenantAlertContacts(),
    random: () => 1,
  })
  return { alerting, config, clock, logs, events }
}

/**
 * The `X-Hub-Signature-256` header Meta sends with each webhook: `sha256=` and the hex
 * HMAC-SHA256 of the raw body under the app secret (Meta's "Webhooks — validate payloads").
 */
export const metaSignature = (body: string, appSecret: string) =>
  `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}`

/**
 * The real app with alert delivery against the test context's WhatsApp fake (`alertingFor`),
 * both configured from `env`. `postWhatsapp(body)` posts a raw webhook body to
 * /webhooks/whatsapp signed with `env.WHATSAPP_APP_SECRET`, as Meta posts it.
 */
export async function alertingApp(ctx: ReturnType<typeof alertTestContext>, env: Record<string, string>) {
  const delivery = alertingFor(ctx.database, ctx.fake.url, env)
  const built = await buildTestApp({ database: ctx.database, alerting: delivery.alerting, env })
  const postWhatsapp = (body: string) =>
    built.call('/webhooks/whatsapp', {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'x-hub-signature-256': metaSignature(body, env.WHATSAPP_APP_SECRET ?? ''),
      },
    })
  return { ...built, ...delivery, postWhatsapp }
}

/**
 * Posts to `POST /alerts/alertmanager` with `token`, as a sender writes the body: a string is
 * sent as the raw text (keys JSON.stringify cannot repeat), anything else as its JSON.
 * @returns the status and the parsed answer
 */
export function alertmanagerPoster(app: Awaited<ReturnType<typeof buildTestApp>>, token: string) {
  return async (body: unknown) => {
    const response = await app.call('/alerts/alertmanager', {
      method: 'POST',
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
      token,
    })
    return { status: response.status, body: await response.json() }
  }
}

/**
 * An Alertmanager webhook body (version 4) with one firing critical alert, as the process
 * tests post it to a real server: its fingerprint fixed, so a re-send is the same alert.
 */
export const ONE_CRITICAL_NOTIFICATION = {
  version: '4',
  status: 'firing',
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'HighErrorRate', severity: 'critical' },
      annotations: { description: 'errors' },
      startsAt: '2026-03-02T09:50:00Z',
      fingerprint: 'aaaabbbbccccdddd',
    },
  ],
}

export function firing(
  name: string,
  labels: Record<string, string> = {},
  annotations: Record<string, string> = {},
  fp?: string,
) {
  return {
    fingerprint:
      fp ??
      Bun.hash(name + JSON.stringify(labels))
        .toString(16)
        .padStart(16, '0')
        .slice(0, 16),
    status: 'firing' as const,
    labels: { alertname: name, severity: 'critical', ...labels },
    annotations: { summary: `${name} summary`, description: `${name} description`, ...annotations },
    startsAt: new Date('2026-03-02T09:55:00Z'),
  }
}

/**
 * Per test file: a fresh database for the alert tables (outbox rows are not per tenant, so
 * files must not share one), emptied before each test, and a new WhatsApp fake per test.
 */
export function alertTestContext() {
  const ctx = {} as { database: DatabaseHandle; fake: ReturnType<typeof startWhatsAppFake> }
  beforeAll(async () => {
    ctx.database = await freshDatabase()
  })
  afterAll(async () => {
    ctx.fake?.stop()
    await ctx.database.close()
  })
  beforeEach(async () => {
    ctx.fake?.stop()
    ctx.fake = startWhatsAppFake()
    await resetAlertTables(ctx.database)
  })
  return ctx
}

/**
 * Per test file of the rule manager: a fresh database whose alert tables and stored rule
 * states (`alert_rule_states`) are emptied before each test, so that every test starts its
 * groups from no alerts.
 */
export function ruleManagerTestContext() {
  const ctx = {} as { database: DatabaseHandle }
  beforeAll(async () => {
    ctx.database = await freshDatabase()
  })
  afterAll(async () => {
    await ctx.database.close()
  })
  beforeEach(async () => {
    await resetAlertTables(ctx.database)
    await ctx.database.db.delete(alertRuleStates)
  })
  return ctx
}

/**
 * An Alertmanager webhook notification (notify/webhook/webhook.go `Message`, version 4) of
 * `alerts`, with empty group and common labels and a group key of `{}:{}`; `extra` replaces any
 * field (groupKey, truncatedAlerts, status…).
 */
export function alertmanagerNotification(alerts: unknown[], extra: Record<string, unknown> = {}) {
  return {
    receiver: 'convo-commerce',
    status: 'firing',
    alerts,
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    version: '4',
    groupKey: '{}:{}',
    truncatedAlerts: 0,
    ...extra,
  }
}

/**
 * One process of the service on `database` running the rule file `text` (groups without an
 * interval evaluate every 30 s), whose query source answers every expression with one series
 * `{job="shop"}` of value 1, with its own dispatcher (log transport). `step(ms)` advances
 * `clock` by `ms` (default 30 s), evaluates every group, then runs the delivery tick then.
 */
export function ruleProcess(database: DatabaseHandle, text: string, clock: ReturnType<typeof manualClock>) {
  const dir = mkdtempSync(join(tmpdir(), 'cc-rules-process-'))
  writeFileSync(join(dir, 'alerts.yml'), text)
  const source: QuerySource = {
    async instantQuery(): Promise<InstantResult> {
      return { resultType: 'vector', samples: [{ labels: { job: 'shop' }, value: 1 }] }
    },
  }
  const delivery = alertingFor(database, undefined)
  const manager = createRuleManager({
    db: database.db,
    groups: loadRules(expandRuleFiles(join(dir, '*.yml')), { defaultIntervalMs: 30_000 }),
    source,
    dispatcher: delivery.alerting.dispatcher,
    clock,
    log: captureLogs().log,
  })
  const step = async (ms = 30_000) => {
    clock.advance(ms)
    await manager.evaluateAll()
    delivery.clock.set(clock.now().toISOString())
    await delivery.alerting.tick()
  }
  return { manager, delivery, step }
}
