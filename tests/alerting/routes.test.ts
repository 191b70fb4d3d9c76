import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createHmac } from 'node:crypto'
import { alertOutbox } from '../../src/db/schema.ts'
import {
  alertingFor,
  alertTestContext,
  firing,
  ONCALL,
  OUR_NUMBER,
  PHONE_NUMBER_ID,
  whatsappWebhook,
} from '../helpers/alerts.ts'
import { buildTestApp } from '../helpers/app.ts'

// Starts real processes or fresh databases: well over bun's 5 s default.
setDefaultTimeout(30_000)

/** A webhook answer as the credential tests compare it: status, challenge and body. */
const challenged = async (res: Response) => ({
  status: res.status,
  challenge: res.headers.get('www-authenticate'),
  body: await res.json(),
})

/** The common error envelope, with whatever request id the answer got. */
const envelope = (code: string, message: string) => ({
  error: { code, message, requestId: expect.any(String) },
})

const APP_SECRET = 'app-secret-for-tests'
const VERIFY_TOKEN = 'verify-token-for-tests'
const AM_TOKEN = 'alertmanager-token-for-tests'
const ENV = {
  WHATSAPP_APP_SECRET: APP_SECRET,
  WHATSAPP_VERIFY_TOKEN: VERIFY_TOKEN,
  ALERTMANAGER_WEBHOOK_TOKEN: AM_TOKEN,
  WHATSAPP_PHONE_NUMBER_ID: PHONE_NUMBER_ID,
}

const ctx = alertTestContext()

async function setup() {
  const delivery = alertingFor(ctx.database, ctx.fake.url, ENV)
  const built = await buildTestApp({ database: ctx.database, alerting: delivery.alerting, env: ENV })
  return { ...built, ...delivery }
}

/** One firing alert handed to the dispatcher and sent (wamid.1 on a fresh fake). */
async function sentAlert(
  alerting: Awaited<ReturnType<typeof setup>>['alerting'],
  name: string,
  fingerprint: string,
) {
  await alerting.dispatcher.ingest([firing(name, {}, {}, fingerprint)], 'test')
  await alerting.tick()
}

const sign = (body: string, secret = APP_SECRET) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`

function webhook(
  call: Awaited<ReturnType<typeof setup>>['call'],
  payload: unknown,
  signature?: string,
  path = '/webhooks/whatsapp',
) {
  const body = JSON.stringify(payload)
  return call(path, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      ...(signature !== undefined ? { 'x-hub-signature-256': signature } : {}),
    },
  })
}

/** Posts `payload` (an ACK to our number, signed): one message handled, HighErrorRate acknowledged. */
async function expectAcknowledged(
  call: Awaited<ReturnType<typeof setup>>['call'],
  alerting: Awaited<ReturnType<typeof setup>>['alerting'],
  payload: unknown,
) {
  const res = await webhook(call, payload, sign(JSON.stringify(payload)))
  expect(res.status).toBe(200)
  expect(await res.json()).toEqual({
    received: true,
    statuses: 0,
    messages: 1,
    invalid: 0,
    otherNumber: 0,
    withoutNumber: 0,
  })
  await alerting.tick()
  expect((ctx.fake.requests.at(-1)!.body.text as { body: string }).body).toBe(
    'Acknowledged: HighErrorRate. No more reminders until resolved.',
  )
}

const statusPayload = (statuses: Array<Record<string, unknown>>) => whatsappWebhook({ statuses })
const messagePayload = (from: string, id: string, text: string) =>
  whatsappWebhook({ messages: [{ from, id, timestamp: '1772445600', type: 'text', text: { body: text } }] })

/** A payload as Alertmanager 0.27 sends it to a webhook receiver. */
function alertmanagerPayload(status: 'firing' | 'resolved') {
  return {
    receiver: 'whatsapp',
    status,
    alerts: [
      {
        status,
        labels: { alertname: 'HighErrorRate', severity: 'critical', job: 'convo-commerce' },
        annotations: { summary: 'High error rate', description: 'More than 5% of requests fail (7.5%)' },
        startsAt: '2026-03-02T09:50:00.000Z',
        endsAt: status === 'resolved' ? '2026-03-02T10:20:00.000Z' : '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus:9090/graph?g0.expr=...',
        fingerprint: '5b4e2d7a9c1f3e80',
      },
    ],
    groupLabels: { alertname: 'HighErrorRate' },
    commonLabels: { alertname: 'HighErrorRate', severity: 'critical', job: 'convo-commerce' },
    commonAnnotations: { summary: 'High error rate' },
    externalURL: 'http://alertmanager:9093',
    version: '4',
    groupKey: '{}:{alertname="HighErrorRate"}',
    truncatedAlerts: 0,
  }
}

describe('GET /webhooks/whatsapp (verification handshake)', () => {
  test('answers the challenge as plain text with the right token, 403 otherwise', async () => {
    const { call } = await setup()
    const ok = await call(
      `/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`,
    )
    expect(ok.status).toBe(200)
    expect(ok.headers.get('content-type')).toStartWith('text/plain')
    expect(await ok.text()).toBe('1158201444')
    const wrongToken =
      "Webhook verification failed: hub.verify_token does not match WHATSAPP_VERIFY_TOKEN (set the same value as the Verify token in Meta's webhook settings)"
    const wrongMode = 'Webhook verification failed: hub.mode must be subscribe'
    for (const [query, message] of [
      ['hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1', wrongToken],
      ['hub.mode=subscribe&hub.challenge=1', wrongToken],
      [`hub.mode=unsubscribe&hub.verify_token=${VERIFY_TOKEN}`, wrongMode],
      ['', wrongMode],
    ]) {
      const res = await call(`/webhooks/whatsapp?${query}`)
      const body = await res.json()
      // The 403 says which of the two was wrong, and never echoes either token.
      expect({ status: res.status, body }).toEqual({ status: 403, body: envelope('FORBIDDEN', message!) })
      expect(JSON.stringify(body)).not.toContain(VERIFY_TOKEN)
    }
  })

  test('with WHATSAPP_VERIFY_TOKEN unset, every handshake is a 403 naming the variable', async () => {
    const { call } = await buildTestApp({
      database: ctx.database,
      env: { ...ENV, WHATSAPP_VERIFY_TOKEN: '' },
    })
    for (const query of ['hub.mode=subscribe&hub.verify_token=&hub.challenge=1', 'hub.mode=subscribe', '']) {
      const res = await call(`/webhooks/whatsapp?${query}`)
      expect({ status: res.status, body: await res.json() }).toEqual({
        status: 403,
        body: envelope(
          'FORBIDDEN',
          'WhatsApp webhook verification is disabled: WHATSAPP_VERIFY_TOKEN is not configured',
        ),
      })
    }
  })
})

describe('POST /webhooks/whatsapp (credential)', () => {
  test('with WHATSAPP_APP_SECRET unset, every body is a 403 naming the variable, without a challenge', async () => {
    const { call } = await buildTestApp({ database: ctx.database, env: { ...ENV, WHATSAPP_APP_SECRET: '' } })
    const payload = statusPayload([{ id: 'wamid.1', status: 'read', timestamp: '1', recipient_id: '1' }])
    for (const signature of [undefined, sign(JSON.stringify(payload), ''), sign(JSON.stringify(payload))]) {
      const res = await webhook(call, payload, signature)
      expect(await challenged(res)).toEqual({
        status: 403,
        challenge: null,
        body: envelope('FORBIDDEN', 'WhatsApp webhook is disabled: WHATSAPP_APP_SECRET is not configured'),
      })
    }
  })

  test('a missing or wrong signature is a 401 with the X-Hub-Signature-256 challenge', async () => {
    const { call } = await setup()
    const payload = statusPayload([{ id: 'wamid.1', status: 'read', timestamp: '1', recipient_id: '1' }])
    for (const signature of [undefined, sign(JSON.stringify(payload), 'other-secret')]) {
      const res = await webhook(call, payload, signature)
      expect(await challenged(res)).toEqual({
        status: 401,
        challenge: 'X-Hub-Signature-256 realm="whatsapp"',
        body: envelope('UNAUTHORIZED', 'Missing or invalid X-Hub-Signature-256'),
      })
    }
  })
})

describe('POST /webhooks/whatsapp', () => {
  test('a reaction or an image from a recipient opens the 24-hour window: the next alert goes as free text', async () => {
    const env = { ...ENV, WHATSAPP_TEMPLATE_FIRING: 'alert_firing_v1' }
    const delivery = alertingFor(ctx.database, ctx.fake.url, env)
    const { call } = await buildTestApp({ database: ctx.database, alerting: delivery.alerting, env })
    const timestamp = String(Math.floor(delivery.clock.now().getTime() / 1000) - 60)
    const from = ONCALL.slice(1)
    const payload = whatsappWebhook({
      messages: [
        {
          from,
          id: 'wamid.in.react',
          timestamp,
          type: 'reaction',
          reaction: { message_id: 'wamid.1', emoji: '👍' },
        },
      ],
    })
    const res = await webhook(call, payload, sign(JSON.stringify(payload)))
    expect(await res.json()).toEqual({
      received: true,
      statuses: 0,
      messages: 1,
      invalid: 0,
      otherNumber: 0,
      withoutNumber: 0,
    })
    await delivery.alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    await delivery.alerting.tick()
    // Free text, not the (billed) template; and a reaction is no command: nothing answers it.
    expect(ctx.fake.requests.map((r) => [r.body.to, r.body.type])).toEqual([[from, 'text']])
  })

  test('unsigned, wrongly signed or tampered payloads are rejected with 401 and change nothing', async () => {
    const { call, alerting } = await setup()
    await sentAlert(alerting, 'A', '0000000000000001')
    const payload = statusPayload([
      { id: 'wamid.1', status: 'read', timestamp: '1', recipient_id: '254700000001' },
    ])
    expect((await webhook(call, payload)).status).toBe(401)
    expect((await webhook(call, payload, sign(JSON.stringify(payload), 'other-secret'))).status).toBe(401)
    expect((await webhook(call, payload, 'sha256=zz')).status).toBe(401)
    const tampered = await call('/webhooks/whatsapp', {
      method: 'POST',
      body: `${JSON.stringify(payload)} `,
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(JSON.stringify(payload)) },
    })
    expect(tampered.status).toBe(401)
    const notJson = await call('/webhooks/whatsapp', {
      method: 'POST',
      body: '{nope',
      headers: { 'content-type': 'application/json' },
    })
    expect(notJson.status).toBe(401)
    expect((await ctx.database.db.select().from(alertOutbox))[0]!.status).toBe('sent')
  })

  test('delivery statuses apply by message id, idempotently and out of order', async () => {
    const { call, alerting } = await setup()
    await sentAlert(alerting, 'A', '0000000000000002')
    const status = async () => (await ctx.database.db.select().from(alertOutbox))[0]!.status
    const send = async (s: string, extra: Record<string, unknown> = {}) => {
      const payload = statusPayload([
        { id: 'wamid.1', status: s, timestamp: '1', recipient_id: '254700000001', ...extra },
      ])
      const res = await webhook(call, payload, sign(JSON.stringify(payload)))
      expect(res.status).toBe(200)
    }
    await send('read')
    expect(await status()).toBe('read')
    await send('delivered') // late
    await send('sent') // later still
    await send('read') // re-delivered
    expect(await status()).toBe('read')
    await send('failed', { errors: [{ code: 131026, title: 'Message undeliverable' }] })
    expect(await status()).toBe('read')
  })

  test('a failed status records the code; delivered after failed wins', async () => {
    const { call, alerting } = await setup()
    await sentAlert(alerting, 'A', '0000000000000003')
    const failed = statusPayload([
      {
        id: 'wamid.1',
        status: 'failed',
        timestamp: '1',
        recipient_id: '254700000001',
        errors: [{ code: 131026, title: 'Message undeliverable' }],
      },
    ])
    expect((await webhook(call, failed, sign(JSON.stringify(failed)))).status).toBe(200)
    expect((await ctx.database.db.select().from(alertOutbox))[0]).toMatchObject({
      status: 'failed',
      lastErrorCode: '131026',
    })
    const delivered = statusPayload([
      { id: 'wamid.1', status: 'delivered', timestamp: '2', recipient_id: '254700000001' },
    ])
    await webhook(call, delivered, sign(JSON.stringify(delivered)))
    expect((await ctx.database.db.select().from(alertOutbox))[0]!.status).toBe('delivered')
  })

  test('a failed status whose error text holds U+0000 is applied, and the rest of the webhook too (200)', async () => {
    const { call, alerting } = await setup()
    await sentAlert(alerting, 'HighErrorRate', '0000000000000006')
    // Meta retries anything but a 200 for days: a 4xx here would have refused the STATUS beside it
    // at every retry.
    const payload = whatsappWebhook({
      statuses: [
        {
          id: 'wamid.1',
          status: 'failed',
          timestamp: '1',
          recipient_id: '254700000001',
          errors: [{ code: 131026, title: 'Message undeliverable', message: 'Undeliverable\u0000 message' }],
        },
      ],
      messages: [
        {
          from: ONCALL.slice(1),
          id: 'wamid.in.nul',
          timestamp: '1772445600',
          type: 'text',
          text: { body: 'STATUS' },
        },
      ],
    })
    const res = await webhook(call, payload, sign(JSON.stringify(payload)))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      received: true,
      statuses: 1,
      messages: 1,
      invalid: 0,
      otherNumber: 0,
      withoutNumber: 0,
    })
    const rows = await ctx.database.db.select().from(alertOutbox)
    expect(rows.find((r) => r.transition === 'firing')).toMatchObject({
      status: 'failed',
      lastErrorCode: '131026',
      lastErrorMessage: 'Undeliverable\ufffd message',
    })
    expect(rows.find((r) => r.transition === 'reply')!.content).toEqual({
      text: 'Firing now (1):\n• HighErrorRate [critical] since 2026-03-02T09:55:00.000Z — ref 0000000000000006',
    })
  })

  test('an ACK reply from on-call acknowledges; the webhook answers 200 with what it applied', async () => {
    const { call, alerting } = await setup()
    await sentAlert(alerting, 'HighErrorRate', '0000000000000004')
    await expectAcknowledged(call, alerting, messagePayload(ONCALL.slice(1), 'wamid.inbound.1', 'ack'))
  })

  test('statuses and replies addressed to another phone number of the app are ignored and counted', async () => {
    const { call, alerting } = await setup()
    await sentAlert(alerting, 'HighErrorRate', '0000000000000006')
    // One app's webhook gets every number's events: a shop's customer line among them.
    const toOther = <T extends { entry: Array<{ changes: Array<{ value: object }> }> }>(payload: T) => {
      const copy = structuredClone(payload)
      copy.entry[0]!.changes[0]!.value = {
        ...copy.entry[0]!.changes[0]!.value,
        metadata: { display_phone_number: '15550009999', phone_number_id: '109999999999999' },
      }
      return copy
    }
    const ack = messagePayload(ONCALL.slice(1), 'wamid.inbound.other', 'ACK')
    const read = statusPayload([
      { id: 'wamid.1', status: 'read', timestamp: '1', recipient_id: '254700000001' },
    ])
    for (const payload of [toOther(ack), toOther(read)]) {
      const res = await webhook(call, payload, sign(JSON.stringify(payload)))
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({
        received: true,
        statuses: 0,
        messages: 0,
        invalid: 0,
        otherNumber: 1,
        withoutNumber: 0,
      })
    }
    await alerting.tick()
    expect((await ctx.database.db.select().from(alertOutbox)).map((r) => [r.transition, r.status])).toEqual([
      ['firing', 'sent'],
    ])
    // The same message id on our number is not taken for a re-delivery: it acts.
    await expectAcknowledged(call, alerting, ack)
  })

  test('signed bodies of unexpected shape answer 200: malformed items skipped and counted, the rest applied', async () => {
    const { call, alerting } = await setup()
    await sentAlert(alerting, 'HighErrorRate', '0000000000000005')
    const post = async (body: string) => {
      const res = await call('/webhooks/whatsapp', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(body) },
      })
      return { body, status: res.status, json: await res.json() }
    }
    const value = (v: Record<string, unknown>) =>
      JSON.stringify({
        object: 'whatsapp_business_account',
        entry: [{ id: 'WABA', changes: [{ field: 'messages', value: { metadata: OUR_NUMBER, ...v } }] }],
      })
    const message = (m: Record<string, unknown>) =>
      value({
        messages: [
          {
            from: ONCALL.slice(1),
            id: 'wamid.in.x',
            timestamp: '1772445600',
            type: 'text',
            text: { body: 'STATUS' },
            ...m,
          },
        ],
      })
    const answer = (received: boolean, invalid: number) => ({
      received,
      statuses: 0,
      messages: 0,
      invalid,
      otherNumber: 0,
      withoutNumber: 0,
    })
    // Meta only sends objects: anything else is junk that a 4xx would only have retried for days.
    const cases: Array<[string, ReturnType<typeof answer>]> = [
      ['null', answer(false, 0)],
      ['[]', answer(false, 0)],
      ['"entry"', answer(false, 0)],
      ['{nope', answer(false, 0)],
      ['{}', answer(true, 0)],
      ['{"entry":{}}', answer(true, 1)],
      ['{"entry":[null]}', answer(true, 1)],
      ['{"entry":[{"changes":{}}]}', answer(true, 1)],
      ['{"entry":[{"changes":[null]}]}', answer(true, 1)],
      [value({ statuses: {} }), answer(true, 1)],
      [value({ statuses: [null] }), answer(true, 1)],
      [value({ statuses: [{ id: 7, status: 'read' }] }), answer(true, 1)],
      [
        value({ statuses: [{ id: 'wamid.1', status: 'failed', errors: [{ code: '131026' }] }] }),
        answer(true, 1),
      ],
      [value({ statuses: [{ id: 'wamid.1', status: 'deleted' }] }), answer(true, 0)],
      [value({ messages: {} }), answer(true, 1)],
      [message({ from: 254700000001 }), answer(true, 1)],
      [message({ id: 'wamid.\u0000' }), answer(true, 1)],
      [message({ text: { body: 42 } }), answer(true, 1)],
      [message({ timestamp: '99999999999999' }), answer(true, 1)],
      [message({ timestamp: '1e300' }), answer(true, 1)],
      [message({ timestamp: 1772445600 }), answer(true, 1)],
      [message({ timestamp: undefined }), answer(true, 1)],
      // Carries no command, but is a message: it opens the 24-hour window.
      [
        message({ type: 'image', text: undefined, image: { id: 'media' } }),
        { ...answer(true, 0), messages: 1 },
      ],
      // Meta names the receiving number in every change that carries statuses or messages.
      [value({ metadata: undefined, statuses: [{ id: 'wamid.1', status: 'read' }] }), answer(true, 1)],
      [value({ metadata: { phone_number_id: Number(PHONE_NUMBER_ID) }, messages: [] }), answer(true, 0)],
      [
        value({
          metadata: { phone_number_id: Number(PHONE_NUMBER_ID) },
          statuses: [{ id: 'wamid.1', status: 'read' }],
        }),
        answer(true, 1),
      ],
      // Other fields of the app's webhook (template reviews) carry neither: not malformed.
      [value({ metadata: undefined, event: 'APPROVED', message_template_id: 42 }), answer(true, 0)],
    ]
    const results = []
    for (const [body] of cases) results.push(await post(body))
    expect(results).toEqual(cases.map(([body, json]) => ({ body, status: 200, json })))
    expect((await ctx.database.db.select().from(alertOutbox)).map((r) => r.status)).toEqual(['sent'])

    // One malformed item does not stop the good ones beside it.
    const mixed = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [
        null,
        {
          changes: [
            null,
            { value: { metadata: OUR_NUMBER, statuses: [null, { id: 'wamid.1', status: 'read' }] } },
            {
              value: {
                metadata: OUR_NUMBER,
                messages: [
                  { from: 1 },
                  { from: ONCALL.slice(1), id: 'wamid.in.y', timestamp: '1772445600', text: { body: 'ack' } },
                ],
              },
            },
          ],
        },
      ],
    })
    expect((await post(mixed)).json).toEqual({
      received: true,
      statuses: 1,
      messages: 1,
      invalid: 4,
      otherNumber: 0,
      withoutNumber: 0,
    })
    const rows = await ctx.database.db.select().from(alertOutbox).orderBy(alertOutbox.transition)
    expect(rows.map((r) => [r.transition, r.status])).toEqual([
      ['firing', 'read'],
      ['reply', 'pending'],
    ])
  })

  test('oversized payloads get 413', async () => {
    const built = await buildTestApp({ database: ctx.database, env: { ...ENV, MAX_BODY_BYTES: '1024' } })
    const body = JSON.stringify({ entry: [{ pad: 'x'.repeat(4000) }] })
    const res = await built.call('/webhooks/whatsapp', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(body) },
    })
    expect(res.status).toBe(413)
  })
})

describe('POST /alerts/alertmanager', () => {
  test('needs the bearer token; 403 when the receiver is not configured', async () => {
    const { call } = await setup()
    expect(
      (await call('/alerts/alertmanager', { method: 'POST', json: alertmanagerPayload('firing') })).status,
    ).toBe(401)
    expect(
      (
        await call('/alerts/alertmanager', {
          method: 'POST',
          token: 'wrong-token',
          json: alertmanagerPayload('firing'),
        })
      ).status,
    ).toBe(401)
    const closed = await buildTestApp({ database: ctx.database, env: { ALERTMANAGER_WEBHOOK_TOKEN: '' } })
    expect(
      (
        await closed.call('/alerts/alertmanager', {
          method: 'POST',
          token: AM_TOKEN,
          json: alertmanagerPayload('firing'),
        })
      ).status,
    ).toBe(403)
    expect(await ctx.database.db.select().from(alertOutbox)).toEqual([])
  })

  test('a real-shaped payload notifies once; re-sends are accepted and deduplicated; resolution follows', async () => {
    const { call, alerting } = await setup()
    for (let i = 0; i < 3; i++) {
      const res = await call('/alerts/alertmanager', {
        method: 'POST',
        token: AM_TOKEN,
        json: alertmanagerPayload('firing'),
      })
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({
        accepted: 1,
        invalid: 0,
        truncatedAlerts: 0,
        enqueued: i === 0 ? 1 : 0,
      })
    }
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(1)
    expect((ctx.fake.requests[0]!.body.text as { body: string }).body).toBe(
      '🔔 *CRITICAL ALERT*: HighErrorRate\nMore than 5% of requests fail (7.5%)\nref: 5b4e2d7a9c1f3e80',
    )
    const resolved = await call('/alerts/alertmanager', {
      method: 'POST',
      token: AM_TOKEN,
      json: alertmanagerPayload('resolved'),
    })
    expect(await resolved.json()).toEqual({ accepted: 1, invalid: 0, truncatedAlerts: 0, enqueued: 1 })
    await alerting.tick()
    expect((ctx.fake.requests[1]!.body.text as { body: string }).body).toBe(
      '✅ *RESOLVED*: HighErrorRate\nHigh error rate\nref: 5b4e2d7a9c1f3e80',
    )
  })

  test('an emoji where a label or annotation is cut is not split: the alert is taken and sent whole', async () => {
    const { call, alerting } = await setup()
    // Cut at 300 (detail), 64 (where) and 40 (value) UTF-16 units, each right inside an emoji's
    // surrogate pair: a lone half is JSON PostgreSQL refuses, and each retry of the 500 failed too.
    const real = alertmanagerPayload('firing')
    const alert = real.alerts[0]!
    const payload = {
      ...real,
      alerts: [
        {
          ...alert,
          labels: { ...alert.labels, instance: `${'h'.repeat(62)}🔥` },
          annotations: { description: `${'x'.repeat(298)}🔥 disk full`, value: `${'9'.repeat(38)}🔥` },
        },
      ],
    }
    const res = await call('/alerts/alertmanager', { method: 'POST', token: AM_TOKEN, json: payload })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ accepted: 1, invalid: 0, truncatedAlerts: 0, enqueued: 1 })
    await alerting.tick()
    const body = (ctx.fake.requests[0]!.body.text as { body: string }).body
    expect(body.isWellFormed()).toBe(true)
    expect(body).toContain(`${'x'.repeat(298)}…`)
  })

  test('a malformed payload is 422 and changes nothing', async () => {
    const { call } = await setup()
    const bad = { ...alertmanagerPayload('firing'), alerts: [{ status: 'burning', labels: {} }] }
    const res = await call('/alerts/alertmanager', { method: 'POST', token: AM_TOKEN, json: bad })
    expect(res.status).toBe(422)
    expect(await ctx.database.db.select().from(alertOutbox)).toEqual([])
  })
})

describe('receiver URLs written with a trailing slash', () => {
  test('are the same routes: the signed body stays raw, the Alertmanager body keeps its own limit', async () => {
    // Elysia serves both spellings with one route; the body rules keyed by it must follow.
    const env = { ...ENV, MAX_BODY_BYTES: '2048' }
    const delivery = alertingFor(ctx.database, ctx.fake.url, env)
    const { call } = await buildTestApp({ database: ctx.database, alerting: delivery.alerting, env })
    const status = whatsappWebhook({
      statuses: [
        {
          id: 'wamid.1',
          status: 'failed',
          timestamp: '1772445600',
          recipient_id: '254700000001',
          errors: [{ code: 131026, message: 'a\u0000b' }],
        },
      ],
    })
    const signed = await webhook(call, status, sign(JSON.stringify(status)), '/webhooks/whatsapp/')
    expect([signed.status, await signed.json()]).toEqual([
      200,
      { received: true, statuses: 0, messages: 0, invalid: 0, otherNumber: 0, withoutNumber: 0 },
    ])
    const one = alertmanagerPayload('firing')
    const storm = {
      ...one,
      alerts: Array.from({ length: 30 }, (_, i) => ({
        ...one.alerts[0]!,
        labels: { ...one.alerts[0]!.labels, alertname: `Storm${i}` },
        fingerprint: i.toString(16).padStart(16, '0'),
      })),
    }
    const body = JSON.stringify(storm)
    expect(body.length).toBeGreaterThan(2048)
    const res = await call('/alerts/alertmanager/', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${AM_TOKEN}` },
    })
    expect([res.status, await res.json()]).toEqual([
      200,
      { accepted: 30, invalid: 0, truncatedAlerts: 0, enqueued: 1 },
    ])
  })
})
