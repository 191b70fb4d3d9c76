import { beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createHmac } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createRuleManager,
  expandRuleFiles,
  loadRules,
  noRuleManagerMetrics,
} from '../../src/alerting/rules/manager.ts'
import { QueryError } from '../../src/alerting/rules/prometheus-source.ts'
import type { DatabaseHandle } from '../../src/db/client.ts'
import { openPostgres } from '../../src/db/postgres.ts'
import { adminScope, requestFingerprint, tenantScope } from '../../src/idempotency/service.ts'
import { signWebhook } from '../../src/payments/webhook-signature.ts'
import type { InstantResult, QuerySource } from '../../src/prometheus/promql/query-source.ts'
import { alertingFor, manualClock } from '../helpers/alerts.ts'
import { ADMIN_TOKEN, buildTestApp } from '../helpers/app.ts'
import { testPhone } from '../helpers/commerce.ts'
import { freshDatabase, sharedDatabase } from '../helpers/db.ts'
import { createContract, type Operation } from './contract.ts'

// Builds three apps on the shared test database and sends a hundred requests: well over 5 s.
setDefaultTimeout(60_000)

/** Every credential configured, as in a full deployment, so every security scheme is in use. */
const ENV = {
  METRICS_TOKEN: 'contract-metrics-token-0123',
  ALERTMANAGER_WEBHOOK_TOKEN: 'contract-alertmanager-token',
  WHATSAPP_VERIFY_TOKEN: 'contract-verify-token',
  WHATSAPP_APP_SECRET: 'contract-app-secret',
  PAYMENT_WEBHOOK_SECRETS: 'sandbox=contract-webhook-secret-0123',
  MAX_BODY_BYTES: '4096',
  // The Alertmanager receiver has its own (storm-sized) limit: the same small one here.
  ALERTMANAGER_MAX_BODY_BYTES: '4096',
}

/** A webhook message from Alertmanager with one firing alert. */
const alertmanagerMessage = () => ({
  version: '4',
  status: 'firing',
  receiver: 'whatsapp',
  groupKey: '{}:{alertname="ContractTest"}',
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'ContractTest', severity: 'warning' },
      annotations: { summary: 'contract test' },
      startsAt: new Date().toISOString(),
      fingerprint: '0123456789abcdef',
    },
  ],
})

type Built = Awaited<ReturnType<typeof buildTestApp>>
type Auth = 'valid' | 'none' | 'wrong'

let built: Built
let contract: ReturnType<typeof createContract>
let tenantKey = ''

const sign = (body: string, secret = ENV.WHATSAPP_APP_SECRET) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`

/** The credential each security scheme of the document takes, valid or wrong. */
function applyCredential(scheme: string, auth: Auth, url: URL, headers: Headers, body: string) {
  const bearer = (token: string) =>
    headers.set('authorization', `Bearer ${auth === 'valid' ? token : 'wrong-token-0123456789'}`)
  switch (scheme) {
    case 'tenantKey':
      return bearer(tenantKey)
    case 'adminToken':
      return bearer(ADMIN_TOKEN)
    case 'metricsToken':
      return bearer(ENV.METRICS_TOKEN)
    case 'alertmanagerToken':
      return bearer(ENV.ALERTMANAGER_WEBHOOK_TOKEN)
    case 'whatsappVerifyToken':
      return url.searchParams.set('hub.verify_token', auth === 'valid' ? ENV.WHATSAPP_VERIFY_TOKEN : 'wrong')
    case 'whatsappSignature':
      return headers.set('x-hub-signature-256', auth === 'valid' ? sign(body) : sign(body, 'wrong'))
    case 'paymentWebhookSignature': {
      const secret = auth === 'valid' ? ENV.PAYMENT_WEBHOOK_SECRETS.split('=')[1]! : 'wrong-secret-0123456789'
      return headers.set('sandbox-signature', signWebhook(secret, body, Math.floor(Date.now() / 1000)))
    }
    default:
      throw new Error(`the contract test has no credential for the security scheme ${scheme}`)
  }
}

interface Send {
  /** Path parameters by name; missing ones get a fresh UUID (an id that exists nowhere). */
  params?: Record<string, string>
  query?: Record<string, string>
  json?: unknown
  /** A body sent as is (the WhatsApp webhook signs the raw bytes). */
  raw?: string
  headers?: Record<string, string>
  auth?: Auth
  app?: Built
}

/** Sends a request to one operation of the document, with the credential its `security` names. */
async function send(operation: Operation, options: Send = {}): Promise<Response> {
  const { auth = 'valid', app = built } = options
  const path = operation.path.replace(
    /\{(\w+)\}/g,
    // A payment provider's webhook is the sandbox's, the provider the signature is for.
    (_, name: string) => options.params?.[name] ?? (name === 'provider' ? 'sandbox' : crypto.randomUUID()),
  )
  const url = new URL(`http://localhost${path}`)
  for (const [name, value] of Object.entries(options.query ?? {})) url.searchParams.set(name, value)
  const body = options.raw ?? (options.json === undefined ? '' : JSON.stringify(options.json))
  const headers = new Headers(options.headers)
  if ((options.json !== undefined || options.raw !== undefined) && !headers.has('content-type'))
    headers.set('content-type', 'application/json')
  // A header the document requires of every call (an idempotency key) gets a fresh value,
  // unless the call names its own.
  for (const parameter of operation.op.parameters ?? []) {
    if (
      parameter.in === 'header' &&
      /^idempotency-key$/i.test(parameter.name) &&
      !headers.has(parameter.name)
    )
      headers.set(parameter.name, crypto.randomUUID())
  }
  if (auth !== 'none') {
    for (const requirement of operation.op.security ?? []) {
      for (const scheme of Object.keys(requirement)) applyCredential(scheme, auth, url, headers, body)
    }
  }
  const res = await app.app.handle(
    new Request(url, {
      method: operation.method.toUpperCase(),
      headers,
      body: body === '' ? undefined : body,
    }),
  )
  await new Promise((resolve) => setTimeout(resolve, 0))
  return res
}

/** Sends to `key` and checks the answer against the document: status, media type, schema. */
async function expectCall(key: string, status: number, options: Send = {}) {
  return contract.expectResponse(key, await send(contract.operation(key), options), status)
}

const schemesOf = (operation: Operation) =>
  ((operation.op.security ?? []) as Array<Record<string, string[]>>).flatMap((r) => Object.keys(r))

beforeAll(async () => {
  built = await buildTestApp({ env: ENV })
  const doc = await (await built.call('/swagger/json')).json()
  contract = createContract(doc)
  const tenant = await contract.expectResponse(
    'POST /tenants',
    await built.call('/tenants', {
      method: 'POST',
      token: ADMIN_TOKEN,
      json: { name: 'Contract shop', ownerPhone: testPhone() },
    }),
    201,
  )
  tenantKey = tenant.apiKey
})

describe('every operation of /swagger/json, against the real app', () => {
  test('declares its security: without a credential a secured operation answers a documented 401 or 403, with a wrong one too, and a public one asks for none', async () => {
    for (const operation of contract.operations) {
      const secured = schemesOf(operation).length > 0
      for (const auth of ['none', 'wrong'] as const) {
        if (!secured && auth === 'wrong') continue
        const res = await send(operation, { auth, json: {} })
        const refused = res.status === 401 || res.status === 403
        expect({ operation: operation.key, auth, refused }).toEqual({
          operation: operation.key,
          auth,
          refused: secured,
        })
        await contract.expectResponse(operation.key, res, res.status)
      }
    }
  })

  test("a read without path parameters answers its documented 200 to a caller with the credential it names and the query parameters' examples", async () => {
    const reads = contract.operations.filter((o) => o.method === 'get' && !o.path.includes('{'))
    expect(reads.length).toBeGreaterThan(0)
    for (const operation of reads) {
      const parameters = (operation.op.parameters ?? []) as Array<{
        in: string
        name: string
        example?: unknown
      }>
      const query = Object.fromEntries(
        parameters
          .filter((p) => p.in === 'query' && p.example !== undefined)
          .map((p) => [p.name, String(p.example)]),
      )
      await contract.expectResponse(operation.key, await send(operation, { query }), 200)
    }
  })

  test('is closed with a documented 403 when the credential it names is not configured (ADMIN_TOKEN, ALERTMANAGER_WEBHOOK_TOKEN, WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN)', async () => {
    const bare = await buildTestApp({
      env: { ADMIN_TOKEN: '', WHATSAPP_APP_SECRET: '', WHATSAPP_VERIFY_TOKEN: '' },
    })
    const closable = contract.operations.filter((o) =>
      schemesOf(o).some((s) =>
        ['adminToken', 'alertmanagerToken', 'whatsappSignature', 'whatsappVerifyToken'].includes(s),
      ),
    )
    expect(closable.map((o) => o.key)).toContain('POST /webhooks/whatsapp')
    expect(closable.map((o) => o.key)).toContain('GET /webhooks/whatsapp')
    for (const operation of closable) {
      await contract.expectResponse(operation.key, await send(operation, { app: bare, json: {} }), 403)
    }
  })

  test('rejects a body outside its documented request schema with a documented 422', async () => {
    const withBody = contract.operations.filter((o) => o.op.requestBody)
    expect(withBody.length).toBeGreaterThan(0)
    for (const operation of withBody) {
      await contract.expectResponse(
        operation.key,
        await send(operation, { json: { contractUnknownField: true } }),
        422,
      )
    }
  })

  test('answers a body that is not JSON with a documented 400, one not declared as JSON with 415, and one over MAX_BODY_BYTES with 413', async () => {
    const withBody = contract.operations.filter((o) => o.op.requestBody)
    for (const operation of withBody) {
      await contract.expectResponse(operation.key, await send(operation, { raw: '{"name": ' }), 400)
      const asText = { raw: '{}', headers: { 'content-type': 'text/plain' } }
      await contract.expectResponse(operation.key, await send(operation, asText), 415)
      const oversized = { json: { padding: 'x'.repeat(Number(ENV.MAX_BODY_BYTES)) } }
      await contract.expectResponse(operation.key, await send(operation, oversized), 413)
    }
  })

  test('rejects a path id that is not a UUID with a documented 422', async () => {
    const withId = contract.operations.filter((o) => o.path.includes('{'))
    expect(withId.length).toBeGreaterThan(0)
    for (const operation of withId) {
      await contract.expectResponse(
        operation.key,
        await send(operation, { params: { id: 'not-a-uuid' }, json: {} }),
        422,
      )
    }
  })
})

describe('success and error responses of each operation validate against the document', () => {
  test('health probes: 200, and 503 when the database does not answer', async () => {
    await expectCall('GET /health', 200)
    await expectCall('GET /health/db', 200)
    const shared = await sharedDatabase()
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
    const down: DatabaseHandle = {
      ...shared,
      db: new Proxy(shared.db, {
        get: (target, prop, receiver) =>
          prop === 'execute' ? () => Promise.reject(refused) : Reflect.get(target, prop, receiver),
      }),
    }
    const outage = await buildTestApp({ env: ENV, database: down })
    const body = await expectCall('GET /health/db', 503, { app: outage })
    expect(body).toEqual({ status: 'error', database: 'unreachable' })
  })

  test('while the database does not answer: each operation that reads or writes it answers a documented 503 UNAVAILABLE, the others as usual', async () => {
    // A real postgres.js pool on a port nothing listens on: every statement fails with
    // ECONNREFUSED. A connection per call, so that no call waits out a reconnect delay.
    const down = openPostgres(
      { url: 'postgres://postgres@127.0.0.1:1/test', poolSize: 32, connectTimeoutMs: 1000 },
      built.logs.log,
    )
    try {
      const outage = await buildTestApp({ env: ENV, database: down })
      const whatsappStatus = JSON.stringify({
        object: 'whatsapp_business_account',
        entry: [
          {
            id: 'WABA',
            changes: [
              {
                field: 'messages',
                value: { statuses: [{ id: 'wamid.contract', status: 'delivered', timestamp: '1' }] },
              },
            ],
          },
        ],
      })
      // Valid requests, so that only the database stands between each and its success.
      const valid: Record<string, Send> = {
        'POST /tenants': { json: { name: 'Outage shop', ownerPhone: testPhone() } },
        'PATCH /tenants/me/settings': { json: { timezone: 'Africa/Nairobi' } },
        'POST /products': { json: { name: 'Rice 1 kg', priceMinor: 25_000, currency: 'KES' } },
        'PATCH /products/{id}': { json: { priceMinor: 26_000 } },
        'POST /orders': {
          json: {
            customer: { phone: testPhone() },
            items: [{ productId: crypto.randomUUID(), quantity: 1 }],
          },
        },
        'PATCH /orders/{id}/status': { json: { status: 'confirmed' } },
        'POST /orders/{id}/payments': { json: { provider: 'sandbox', source: 'tok_success' } },
        'GET /webhooks/whatsapp': { query: { 'hub.mode': 'subscribe', 'hub.challenge': '42' } },
        'POST /webhooks/whatsapp': { raw: whatsappStatus },
        'POST /alerts/alertmanager': { json: alertmanagerMessage() },
        'POST /webhooks/payments/{provider}': {
          json: {
            paymentId: crypto.randomUUID(),
            outcome: 'succeeded',
            reference: 'sbx_outage',
            amountMinor: 100,
            currency: 'KES',
          },
        },
      }
      const answered: Record<string, number> = {}
      for (const operation of contract.operations) {
        const res = await send(operation, { app: outage, ...valid[operation.key] })
        answered[operation.key] = res.status
        const body = await contract.expectResponse(operation.key, res, res.status)
        if (res.status === 503 && operation.key !== 'GET /health/db') {
          expect(body.error.code).toBe('UNAVAILABLE')
        }
      }
      const unavailable = [
        'GET /health/db',
        'POST /tenants',
        'GET /tenants/me',
        'PATCH /tenants/me/settings',
        'POST /products',
        'GET /products',
        'GET /products/{id}',
        'PATCH /products/{id}',
        'POST /orders',
        'GET /orders',
        'GET /orders/{id}',
        'PATCH /orders/{id}/status',
        'POST /orders/{id}/payments',
        'POST /webhooks/whatsapp',
        'POST /alerts/alertmanager',
        'POST /webhooks/payments/{provider}',
      ]
      // The probes, the exposition and the rule manager's views read no database.
      const served = [
        'GET /health',
        'GET /metrics',
        'GET /webhooks/whatsapp',
        'GET /alerts',
        'GET /alerts/rules',
        'GET /slo',
      ]
      expect(answered).toEqual(
        Object.fromEntries([...unavailable.map((key) => [key, 503]), ...served.map((key) => [key, 200])]),
      )
    } finally {
      await down.close()
    }
  })

  test('metrics: both exposition formats are documented media types', async () => {
    await expectCall('GET /metrics', 200)
    await expectCall('GET /metrics', 200, {
      headers: { accept: 'application/openmetrics-text; version=1.0.0' },
    })
  })

  test('tenant: read and settings (set and cleared), and a settings value out of range', async () => {
    await expectCall('GET /tenants/me', 200)
    await expectCall('PATCH /tenants/me/settings', 200, {
      json: {
        alertPhones: [testPhone()],
        timezone: 'Africa/Nairobi',
        quietHours: { start: '22:00', end: '06:00' },
      },
    })
    const cleared = await expectCall('PATCH /tenants/me/settings', 200, { json: { quietHours: null } })
    expect(cleared.quietHours).toBeNull()
    await expectCall('POST /tenants', 422, { json: { name: '', ownerPhone: testPhone() } })
    await expectCall('PATCH /tenants/me/settings', 422, {
      json: { quietHours: { start: '25:00', end: '06:00' } },
    })
  })

  test('an Idempotency-Key whose first request still runs: 409 IDEMPOTENCY_KEY_IN_USE where a key is taken', async () => {
    // The first request is held by claiming its key in the service, as the running request has.
    const me = (await (await built.call('/tenants/me', { token: tenantKey })).json()) as { id: string }
    const cases: Array<[string, string, string, unknown]> = [
      ['POST /products', tenantScope(me.id), '/products', { name: 'Held', priceMinor: 100, currency: 'KES' }],
      ['POST /tenants', adminScope(ADMIN_TOKEN), '/tenants', { name: 'Held shop', ownerPhone: testPhone() }],
    ]
    for (const [key, scope, path, json] of cases) {
      const idempotencyKey = crypto.randomUUID()
      const fingerprint = requestFingerprint('POST', path, JSON.stringify(json))
      const held = await built.deps.services.idempotency.claim({
        scope,
        key: idempotencyKey,
        fingerprint,
        requestId: 'held',
      })
      expect(held.kind).toBe('claimed')
      const answer = await expectCall(key, 409, { json, headers: { 'idempotency-key': idempotencyKey } })
      expect(answer.error.code).toBe('IDEMPOTENCY_KEY_IN_USE')
    }
  })

  test('catalogue, orders and payments: every success, 402, 404, 409, 422 and 502', async () => {
    const limited = await expectCall('POST /products', 201, {
      json: { name: 'Sugar 1 kg', priceMinor: 18_000, currency: 'KES', stock: 2 },
    })
    const unlimited = await expectCall('POST /products', 201, {
      json: { name: 'Delivery', priceMinor: 10_000, currency: 'KES' },
    })
    expect([limited.stock, unlimited.stock]).toEqual([2, null])
    await expectCall('POST /products', 422, {
      json: { name: 'Free lunch', priceMinor: 1.5, currency: 'KES' },
    })
    const page = await expectCall('GET /products', 200, { query: { limit: '1' } })
    expect(page.nextCursor).toEqual(expect.any(String))
    await expectCall('GET /products', 422, { query: { limit: '0' } })
    await expectCall('GET /products/{id}', 200, {
      params: { id: limited.id },
      query: { channel: 'whatsapp' },
    })
    await expectCall('GET /products/{id}', 404)
    await expectCall('PATCH /products/{id}', 200, {
      params: { id: unlimited.id },
      json: { priceMinor: 12_000 },
    })
    await expectCall('PATCH /products/{id}', 404, { json: { active: false } })

    const order = (quantity: number) => ({
      channel: 'whatsapp',
      customer: { phone: testPhone(), name: 'Amina' },
      items: [
        { productId: limited.id, quantity },
        { productId: unlimited.id, quantity: 1 },
      ],
    })
    const declined = await expectCall('POST /orders', 201, { json: order(1) })
    await expectCall('POST /orders', 409, { json: order(5) })
    const failing = await expectCall('POST /orders', 201, { json: order(1) })
    const paid = await expectCall('POST /orders', 201, {
      json: { customer: { phone: testPhone() }, items: [{ productId: unlimited.id, quantity: 3 }] },
    })
    expect(paid.totalMinor).toBe(36_000)
    await expectCall('GET /orders', 200, { query: { status: 'pending', channel: 'whatsapp' } })
    await expectCall('GET /orders', 422, { query: { status: 'lost' } })
    await expectCall('GET /orders/{id}', 200, { params: { id: paid.id } })
    await expectCall('GET /orders/{id}', 404)
    await expectCall('PATCH /orders/{id}/status', 200, {
      params: { id: paid.id },
      json: { status: 'confirmed' },
    })
    await expectCall('PATCH /orders/{id}/status', 409, {
      params: { id: paid.id },
      json: { status: 'delivered' },
    })
    await expectCall('PATCH /orders/{id}/status', 404, { json: { status: 'confirmed' } })

    const pay = (id: string, source: string) => ({ params: { id }, json: { provider: 'sandbox', source } })
    const refusal = await expectCall('POST /orders/{id}/payments', 402, pay(declined.id, 'tok_declined'))
    expect(refusal.error.details.payment.status).toBe('failed')
    const outage = await expectCall('POST /orders/{id}/payments', 502, pay(failing.id, 'tok_error'))
    expect(outage.error.details.payment.status).toBe('error')
    const payment = await expectCall('POST /orders/{id}/payments', 201, pay(paid.id, 'tok_success'))
    expect(payment.amountMinor).toBe(36_000)
    await expectCall('POST /orders/{id}/payments', 409, pay(paid.id, 'tok_success'))
    await expectCall('POST /orders/{id}/payments', 404, pay(crypto.randomUUID(), 'tok_success'))

    // The provider reports the declined payment charged after all.
    const declinedPayment = refusal.error.details.payment
    const report = (paymentId: string) => ({
      json: {
        paymentId,
        outcome: 'succeeded',
        reference: 'sbx_late',
        amountMinor: declinedPayment.amountMinor,
        currency: 'KES',
      },
    })
    const late = await expectCall('POST /webhooks/payments/{provider}', 200, report(declinedPayment.id))
    expect(late).toEqual({ outcome: 'paid', paymentId: declinedPayment.id, status: 'succeeded' })
    await expectCall('POST /webhooks/payments/{provider}', 404, report(crypto.randomUUID()))
    const unset = await buildTestApp({ env: { ...ENV, PAYMENT_WEBHOOK_SECRETS: '' } })
    await expectCall('POST /webhooks/payments/{provider}', 503, {
      ...report(crypto.randomUUID()),
      app: unset,
    })
  })

  test('alert delivery: WhatsApp handshake and events, the Alertmanager receiver, the rule manager views', async () => {
    const challenge = await expectCall('GET /webhooks/whatsapp', 200, {
      query: { 'hub.mode': 'subscribe', 'hub.challenge': '1158201444' },
    })
    expect(challenge).toBe('1158201444')
    await expectCall('GET /webhooks/whatsapp', 422, {
      query: { 'hub.mode': 'subscribe', 'hub.challenge': 'x'.repeat(201) },
    })
    const event = JSON.stringify({ object: 'whatsapp_business_account', entry: [] })
    await expectCall('POST /webhooks/whatsapp', 200, { raw: event })
    await expectCall('POST /webhooks/whatsapp', 413, { raw: JSON.stringify({ padding: 'x'.repeat(5000) }) })
    const received = await expectCall('POST /alerts/alertmanager', 200, { json: alertmanagerMessage() })
    expect(received.accepted).toBe(1)
    await expectCall('GET /alerts', 200)
    await expectCall('GET /alerts/rules', 200)
    await expectCall('GET /alerts/rules', 422, { query: { type: 'bogus' } })
  })

  test('the rule manager views with a firing, a pending and a failing rule: every field of an alert and a rule is documented', async () => {
    const database = await freshDatabase()
    try {
      const dir = mkdtempSync(join(tmpdir(), 'cc-contract-rules-'))
      writeFileSync(
        join(dir, 'alerts.yml'),
        `groups:
  - name: contract
    rules:
      - alert: Firing
        expr: errors > 0
        labels: { severity: warning }
        annotations: { summary: "{{ $labels.route }} fails" }
      - alert: Pending
        expr: errors > 0
        for: 5m
      - alert: Failing
        expr: broken > 0
`,
      )
      const source: QuerySource = {
        async instantQuery(expr: string): Promise<InstantResult> {
          if (expr === 'broken > 0') throw new Error('Prometheus unreachable: connection refused')
          return { resultType: 'vector', samples: [{ labels: { route: '/orders' }, value: 0.25 }] }
        },
      }
      const clock = manualClock()
      const ruleManager = createRuleManager({
        db: database.db,
        groups: loadRules(expandRuleFiles(join(dir, '*.yml')), { defaultIntervalMs: 30_000 }),
        source,
        dispatcher: alertingFor(database, undefined).alerting.dispatcher,
        clock,
        log: built.logs.log,
        metrics: noRuleManagerMetrics,
      })
      await ruleManager.evaluateAll()
      const app = await buildTestApp({ env: ENV, database, ruleManager })
      const alerts = await expectCall('GET /alerts', 200, { app })
      expect(alerts.data.alerts.map((a: { state: string }) => a.state).sort()).toEqual(['firing', 'pending'])
      const rules = await expectCall('GET /alerts/rules', 200, { app })
      expect(rules.data.groups[0].rules.map((r: { health: string }) => r.health)).toEqual(['ok', 'ok', 'err'])
      // Prometheus (PROMETHEUS_URL) down: GET /slo is a 503 in the envelope, as a database outage.
      const unreachable = createRuleManager({
        db: database.db,
        groups: [],
        source: {
          async instantQuery() {
            throw new QueryError('Prometheus unreachable: connection refused')
          },
        },
        dispatcher: alertingFor(database, undefined).alerting.dispatcher,
        clock,
        log: built.logs.log,
        metrics: noRuleManagerMetrics,
      })
      const sloDown = await buildTestApp({ env: ENV, database, ruleManager: unreachable })
      const down = await expectCall('GET /slo', 503, { app: sloDown })
      expect(down.error).toMatchObject({
        code: 'UNAVAILABLE',
        message:
          "SLOs cannot be read now: the rule manager's query source (PROMETHEUS_URL) did not answer; retry later",
      })
      rmSync(dir, { recursive: true, force: true })
    } finally {
      await database.close()
    }
  })

  test('every documented response of every operation was produced and validated above', () => {
    expect(contract.unseen()).toEqual([])
  })
})
