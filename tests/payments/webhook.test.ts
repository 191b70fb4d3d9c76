/**
 * POST /webhooks/payments/:provider: a provider's signed report of a payment's outcome, applied
 * through PaymentService.recordProviderReport. Signed Stripe's way (`<Provider>-Signature:
 * t=…,v1=…` over `${t}.${rawBody}`), answered 2xx only once committed, the same delivery any
 * number of times changing the payment once.
 */
import { describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { loadConfig } from '../../src/config.ts'
import { payments } from '../../src/db/schema.ts'
import { checkWebhookSignature, signWebhook } from '../../src/payments/webhook-signature.ts'
import { buildTestApp } from '../helpers/app.ts'
import { createOrder, createProduct, createTenant } from '../helpers/commerce.ts'
import { fileDatabase } from '../helpers/db.ts'
import { latePaymentApp } from './late-fixture.ts'

// Reconciliation leases every stale pending payment of its database.
const ownDatabase = fileDatabase()

const SECRET = 'whsec_test_0123456789abcdef'
const SANDBOX_SECRET = 'whsec_sandbox_0123456789abcdef'

const nowSeconds = () => Math.floor(Date.now() / 1000)

async function setup(env: Record<string, string> = { PAYMENT_WEBHOOK_SECRETS: `hooks=${SECRET}` }) {
  const app = await latePaymentApp(await ownDatabase(), env)
  /** Posts `body` as `provider`'s webhook, signed with `secret` at `t` unless `signature` is given. */
  const deliver = (
    body: unknown,
    options: { provider?: string; secret?: string; t?: number; signature?: string | null } = {},
  ) => {
    const raw = typeof body === 'string' ? body : JSON.stringify(body)
    const provider = options.provider ?? 'hooks'
    const signature =
      options.signature === undefined
        ? signWebhook(options.secret ?? SECRET, raw, options.t ?? nowSeconds())
        : options.signature
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (signature !== null) headers[`${provider}-signature`] = signature
    return app.call(`/webhooks/payments/${provider}`, { method: 'POST', headers, body: raw })
  }
  const success = (paymentId: string, overrides: Record<string, unknown> = {}) => ({
    paymentId,
    outcome: 'succeeded',
    reference: `ch_${paymentId.slice(0, 8)}`,
    amountMinor: 3000,
    currency: 'KES',
    eventId: `evt_${paymentId.slice(0, 8)}`,
    ...overrides,
  })
  return { ...app, deliver, success }
}

type Envelope = { error: { code: string; message: string } }

describe('POST /webhooks/payments/:provider applies a signed report', () => {
  test('a late success after reconciliation marked the payment error: 200 paid, the order paid', async () => {
    const app = await setup()
    const id = await app.givenUp()
    expect(await app.orderStatus()).toBe('pending')

    const res = await app.deliver(app.success(id))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ outcome: 'paid', paymentId: id, status: 'succeeded' })
    expect(app.fields(await app.row(id))).toEqual(['succeeded', `ch_${id.slice(0, 8)}`, null])
    expect(await app.orderStatus()).toBe('paid')
    expect(app.logs.lines.filter((l) => l.event === 'payment_webhook')).toEqual([
      expect.objectContaining({
        level: 'info',
        provider: 'hooks',
        paymentId: id,
        eventId: `evt_${id.slice(0, 8)}`,
        outcome: 'paid',
      }),
    ])
  })

  test('a retry storm: the same delivery 20× at once changes the payment once, every answer 200', async () => {
    const app = await setup()
    const id = await app.givenUp()
    const body = JSON.stringify(app.success(id))
    const signature = signWebhook(SECRET, body, nowSeconds())
    const answers = await Promise.all(Array.from({ length: 20 }, () => app.deliver(body, { signature })))
    expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200))
    const outcomes = (await Promise.all(answers.map((r) => r.json()))).map(
      (b) => (b as { outcome: string }).outcome,
    )
    expect(outcomes.filter((o) => o === 'paid')).toHaveLength(1)
    expect(outcomes.filter((o) => o === 'unchanged')).toHaveLength(19)
    const after = await app.row(id)
    expect(app.fields(after)).toEqual(['succeeded', `ch_${id.slice(0, 8)}`, null])
    expect(await app.orderStatus()).toBe('paid')
    const moved = app.logs.lines.filter((l) => l.event === 'payment_late_report' && l.level === 'warn')
    expect(moved.map((l) => [l.paymentId, l.from, l.to])).toEqual([[id, 'error', 'succeeded']])
    expect(await app.scrape('payment_webhook_reports_total{provider="hooks",result="paid"}')).toEqual([
      'payment_webhook_reports_total{provider="hooks",result="paid"} 1',
    ])
    expect(await app.scrape('payment_webhook_reports_total{provider="hooks",result="unchanged"}')).toEqual([
      'payment_webhook_reports_total{provider="hooks",result="unchanged"} 19',
    ])
    // Once more, later: still unchanged, not even updated_at moves.
    const again = await app.deliver(app.success(id))
    expect(await again.json()).toEqual({ outcome: 'unchanged', paymentId: id, status: 'succeeded' })
    expect(await app.row(id)).toEqual(after)
  })

  test('a pending payment is settled by the webhook; the request in flight then answers the success', async () => {
    const app = await setup()
    const request = app.pay('tok_gate')
    let id: string | undefined
    while (!id) {
      const rows = await app.database.db.select().from(payments).where(eq(payments.orderId, app.order.id))
      id = rows.find((r) => r.status === 'pending')?.id
    }
    const res = await app.deliver(app.success(id))
    expect(await res.json()).toEqual({ outcome: 'paid', paymentId: id, status: 'succeeded' })
    expect(await app.orderStatus()).toBe('paid')
    app.open()
    const answered = await request
    expect(answered.status).toBe(201)
    expect(app.fields(await app.row(id))).toEqual(['succeeded', `ch_${id.slice(0, 8)}`, null])
    expect(await app.scrape(`payments_processed_total{tenant_id="${app.tenant.id}"`)).toEqual([
      `payments_processed_total{tenant_id="${app.tenant.id}",provider="hooks",status="succeeded"} 1`,
    ])
  })

  test('a decline after a success changes nothing; a success of another amount is an error, not paid', async () => {
    const app = await setup()
    const paid = await app.pay('tok_success')
    const id = await app.paymentIdOf(paid)
    const before = await app.row(id)
    const declined = await app.deliver({ paymentId: id, outcome: 'declined', reason: 'card_declined' })
    expect(await declined.json()).toEqual({ outcome: 'unchanged', paymentId: id, status: 'succeeded' })
    expect(await app.row(id)).toEqual(before)

    const other = await setup()
    const lost = await other.givenUp()
    const res = await other.deliver(other.success(lost, { amountMinor: 2999 }))
    expect(await res.json()).toEqual({ outcome: 'amount_mismatch', paymentId: lost, status: 'error' })
    expect(await other.orderStatus()).toBe('pending')
  })

  test('the sandbox provider: a declined payment, then its signed success, pays the order', async () => {
    const database = await ownDatabase()
    const built = await buildTestApp({
      database,
      env: { PAYMENT_WEBHOOK_SECRETS: `sandbox=${SANDBOX_SECRET}` },
    })
    const tenant = await createTenant(built.call)
    const product = await createProduct(built.call, tenant.apiKey, { priceMinor: 700, stock: 5 })
    const order = await createOrder(built.call, tenant.apiKey, [{ productId: product.id, quantity: 1 }])
    const declined = await built.call(`/orders/${order.id}/payments`, {
      method: 'POST',
      token: tenant.apiKey,
      json: { provider: 'sandbox', source: 'tok_declined' },
    })
    expect(declined.status).toBe(402)
    const id = ((await declined.json()) as { error: { details: { payment: { id: string } } } }).error.details
      .payment.id
    const body = JSON.stringify({
      paymentId: id,
      outcome: 'succeeded',
      reference: 'sbx_late',
      amountMinor: 700,
      currency: 'kes',
    })
    const res = await built.call('/webhooks/payments/sandbox', {
      method: 'POST',
      headers: { 'Sandbox-Signature': signWebhook(SANDBOX_SECRET, body, nowSeconds()) },
      body,
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ outcome: 'paid', paymentId: id, status: 'succeeded' })
  })
})

describe('a delivery that is refused changes nothing', () => {
  test('a missing, malformed or wrong signature: 401 with a challenge, the secret never echoed', async () => {
    const app = await setup()
    const id = await app.givenUp()
    const before = await app.row(id)
    const body = JSON.stringify(app.success(id))
    const t = nowSeconds()
    const cases: Array<[string | null, string]> = [
      [null, 'Missing Hooks-Signature'],
      ['', 'Missing Hooks-Signature'],
      [`v1=${'0'.repeat(64)}`, 'Invalid Hooks-Signature: expected t=<unix seconds>,v1=<hex HMAC-SHA256>'],
      [`t=${t}`, 'Invalid Hooks-Signature: expected t=<unix seconds>,v1=<hex HMAC-SHA256>'],
      [`t=${t}.5,v1=ab`, 'Invalid Hooks-Signature: expected t=<unix seconds>,v1=<hex HMAC-SHA256>'],
      [
        signWebhook('whsec_another_secret_0123456', body, t),
        'Invalid Hooks-Signature: no v1 signature matches the body',
      ],
      // Signed over another body (a tampered amount).
      [
        signWebhook(SECRET, body.replace('3000', '1'), t),
        'Invalid Hooks-Signature: no v1 signature matches the body',
      ],
      // The old WhatsApp form is no Stripe form.
      [`sha256=${'a'.repeat(64)}`, 'Invalid Hooks-Signature: expected t=<unix seconds>,v1=<hex HMAC-SHA256>'],
    ]
    for (const [signature, message] of cases) {
      const res = await app.deliver(body, { signature })
      expect([signature, res.status]).toEqual([signature, 401])
      expect(res.headers.get('www-authenticate')).toBe('Hooks-Signature realm="payments"')
      const text = await res.text()
      expect(text).not.toContain(SECRET)
      expect((JSON.parse(text) as Envelope).error).toMatchObject({ code: 'UNAUTHORIZED', message })
    }
    expect(await app.row(id)).toEqual(before)
    expect(await app.orderStatus()).toBe('pending')
    expect(await app.scrape('payment_webhook_reports_total{provider="hooks",result="unauthorized"}')).toEqual(
      [`payment_webhook_reports_total{provider="hooks",result="unauthorized"} ${cases.length}`],
    )
    expect(app.logs.text()).not.toContain(SECRET)
  })

  test('a stale or future timestamp (a replay): 401; within 300 s either way it is taken', async () => {
    const app = await setup()
    const id = await app.givenUp()
    const before = await app.row(id)
    for (const offset of [-301, 301, -3600]) {
      const res = await app.deliver(app.success(id), { t: nowSeconds() + offset })
      expect([offset, res.status]).toEqual([offset, 401])
      expect(((await res.json()) as Envelope).error.message).toBe(
        'Invalid Hooks-Signature: its timestamp is more than 300s away from our clock; sign each delivery when it is sent',
      )
    }
    expect(await app.row(id)).toEqual(before)
    const fresh = await app.deliver(app.success(id), { t: nowSeconds() - 290 })
    expect(fresh.status).toBe(200)
  })

  test('an unknown provider or payment: 404; another provider’s payment: 404', async () => {
    const app = await setup({ PAYMENT_WEBHOOK_SECRETS: `hooks=${SECRET},sandbox=${SANDBOX_SECRET}` })
    const id = await app.givenUp()
    const before = await app.row(id)
    const unknownProvider = await app.deliver(app.success(id), { provider: 'stripe' })
    expect(unknownProvider.status).toBe(404)
    expect(((await unknownProvider.json()) as Envelope).error.message).toBe('Payment provider not found')
    const unknownPayment = await app.deliver(app.success(crypto.randomUUID()))
    expect(unknownPayment.status).toBe(404)
    expect(((await unknownPayment.json()) as Envelope).error.message).toBe('Payment not found')
    expect((await app.deliver(app.success('pi_3Nq2'))).status).toBe(404)
    expect(await app.row(id)).toEqual(before)
    expect(
      await app.scrape('payment_webhook_reports_total{provider="hooks",result="unknown_payment"}'),
    ).toEqual(['payment_webhook_reports_total{provider="hooks",result="unknown_payment"} 2'])
    // The provider name from the path is never a label.
    expect((await app.scrape('payment_webhook_reports_total{')).join('\n')).not.toContain('stripe')
  })

  test('a body that is no report: 422 naming the field (400 when not JSON)', async () => {
    const app = await setup()
    const id = await app.givenUp()
    const before = await app.row(id)
    const cases: Array<[unknown, number, string]> = [
      [{ paymentId: id, outcome: 'refunded' }, 422, 'Invalid body: outcome — Expected succeeded or declined'],
      [
        { paymentId: id, outcome: 'error', reason: 'x' },
        422,
        'Invalid body: outcome — Expected succeeded or declined',
      ],
      [
        app.success(id, { amountMinor: undefined }),
        422,
        'Invalid body: amountMinor — Expected required property',
      ],
      [app.success(id, { amountMinor: 30.5 }), 422, 'Invalid body: amountMinor — Expected integer'],
      [app.success(id, { currency: 'shillings' }), 422, 'Invalid body: currency — Expected string to match'],
      [{ paymentId: id, outcome: 'declined' }, 422, 'Invalid body: reason — Expected required property'],
      [[app.success(id)], 422, 'Invalid body: (body) — Expected object'],
      ['{"paymentId":', 400, 'Request body is not valid JSON'],
    ]
    for (const [body, status, message] of cases) {
      const res = await app.deliver(body)
      expect([message, res.status]).toEqual([message, status])
      expect(((await res.json()) as Envelope).error.message).toStartWith(message)
    }
    expect(await app.row(id)).toEqual(before)
  })

  test('no secret for the provider: 503 naming PAYMENT_WEBHOOK_SECRETS', async () => {
    const app = await setup({})
    const id = await app.givenUp()
    const before = await app.row(id)
    const res = await app.deliver(app.success(id))
    expect(res.status).toBe(503)
    expect(((await res.json()) as Envelope).error).toMatchObject({
      code: 'UNAVAILABLE',
      message: 'Payment webhooks from hooks are disabled: PAYMENT_WEBHOOK_SECRETS has no secret for hooks',
    })
    expect(await app.row(id)).toEqual(before)
  })
})

describe('the signature', () => {
  test('is Stripe’s v1: HMAC-SHA256 of "<t>.<body>", as openssl computes it', () => {
    // printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test_0123456789abcdef
    expect(signWebhook(SECRET, '{"a":1}', 1700000000)).toBe(
      't=1700000000,v1=07728d7e7b1736bac3de36a46c9bc0b660d59aa4a6f251544124fede1dc42a6c',
    )
  })

  test('any v1 and any of the secrets (a rotation) verifies; v0 is ignored', () => {
    const body = '{"a":1}'
    const t = 1700000000
    const v1 = signWebhook(SECRET, body, t).split(',v1=')[1]!
    const check = (header: string, secrets = [SECRET]) =>
      checkWebhookSignature({ header, rawBody: body, secrets, nowSeconds: t })
    expect(check(`t=${t},v1=${'0'.repeat(64)},v1=${v1}`)).toBe('valid')
    expect(check(`t=${t},v1=${v1.toUpperCase()}`)).toBe('valid')
    expect(check(`t=${t},v1=${v1}`, ['whsec_old_secret_0123456789', SECRET])).toBe('valid')
    expect(check(`t=${t},v0=${v1}`)).toBe('malformed')
    expect(check(`t=${t},v1=${v1}`, ['whsec_old_secret_0123456789'])).toBe('mismatch')
  })

  test('PAYMENT_WEBHOOK_SECRETS: provider=secret pairs; a bad value is refused without echoing it', () => {
    const config = loadConfig({
      NODE_ENV: 'test',
      PAYMENT_WEBHOOK_SECRETS: `sandbox=${SANDBOX_SECRET}, mpesa=abc=def=0123456789abcdef,sandbox=${SECRET}`,
    })
    expect(config.payments.webhookSecrets).toEqual({
      sandbox: [SANDBOX_SECRET, SECRET],
      mpesa: ['abc=def=0123456789abcdef'],
    })
    expect(loadConfig({ NODE_ENV: 'test' }).payments.webhookSecrets).toEqual({})
    // A provider spelled like a prototype key is an own entry, not the object's prototype.
    const odd = loadConfig({ NODE_ENV: 'test', PAYMENT_WEBHOOK_SECRETS: `__proto__=${SECRET}` })
    expect(Object.hasOwn(odd.payments.webhookSecrets, '__proto__')).toBe(true)
    expect(Object.getPrototypeOf(odd.payments.webhookSecrets)).toBe(Object.prototype)
    for (const bad of ['sandbox', 'sandbox=short', `Sandbox=${SECRET}`, `sandbox=${SECRET},`]) {
      let message = ''
      try {
        loadConfig({ NODE_ENV: 'test', PAYMENT_WEBHOOK_SECRETS: bad })
      } catch (error) {
        message = (error as Error).message
      }
      expect(message).toStartWith('Invalid PAYMENT_WEBHOOK_SECRETS: expected provider=secret pairs')
      expect(message).toEndWith('got (value hidden)')
      expect(message).not.toContain(SECRET)
    }
  })
})
