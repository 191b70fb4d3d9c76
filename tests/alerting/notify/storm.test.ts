import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { readAlertmanagerNotification } from '../../../src/alerting/notify/alertmanager-payload.ts'
import { TEMPLATE_PARAMETER_LIMITS } from '../../../src/alerting/notify/render.ts'
import { PAIR_PAUSES_MS } from '../../../src/alerting/notify/sender.ts'
import { createRuleManager, expandRuleFiles, loadRules } from '../../../src/alerting/rules/manager.ts'
import { toWhatsAppNumber } from '../../../src/alerting/whatsapp/client.ts'
import { loadConfig } from '../../../src/config.ts'
import { AppError } from '../../../src/core/errors.ts'
import { alertOutbox, alertRuleStates, alertStates } from '../../../src/db/schema.ts'
import type { InstantResult, QuerySource } from '../../../src/prometheus/promql/query-source.ts'
import {
  alertingFor,
  alertmanagerNotification,
  alertTestContext,
  firing,
  ONCALL,
} from '../../helpers/alerts.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { captureLogs } from '../../helpers/logs.ts'

// Fresh databases and thousands of alerts: well over bun's 5 s default.
setDefaultTimeout(60_000)

const ctx = alertTestContext()
const cleanups: Array<() => void> = []
afterAll(() => {
  for (const cleanup of cleanups) cleanup()
})
const ONCALL_DIGITS = toWhatsAppNumber(ONCALL)
const AM_TOKEN = 'alertmanager-token-for-tests'
const CRITICAL_FP = 'c0ffee0000000001'

/** One alert as Alertmanager's webhook marshals it. */
function amAlert(i: number, options: { severity?: string; annotationBytes?: number; status?: string } = {}) {
  const status = options.status ?? 'firing'
  return {
    status,
    labels: { alertname: 'StormNoise', severity: options.severity ?? 'warning', instance: `node-${i}` },
    annotations: {
      summary: `noise on node-${i}`,
      description: `node-${i} is noisy ${'x'.repeat(options.annotationBytes ?? 40)}`,
    },
    startsAt: '2026-03-02T09:50:00.000Z',
    endsAt: status === 'resolved' ? '2026-03-02T10:20:00.000Z' : '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus:9090/graph?g0.expr=noise',
    fingerprint: (0x1000 + i).toString(16).padStart(16, '0'),
  }
}

/** The one critical alert hidden in a storm. */
function criticalAlert(status = 'firing') {
  return {
    status,
    labels: { alertname: 'DatabaseDown', severity: 'critical', instance: 'db-0' },
    annotations: { summary: 'Database down', description: 'PostgreSQL on db-0 answers no query' },
    startsAt: '2026-03-02T09:51:00.000Z',
    endsAt: status === 'resolved' ? '2026-03-02T10:20:00.000Z' : '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus:9090/graph?g0.expr=up',
    fingerprint: CRITICAL_FP,
  }
}

const notification = alertmanagerNotification

/** A storm: `size` warnings with the critical alert in the middle. */
function storm(size: number, annotationBytes = 40) {
  const alerts: unknown[] = Array.from({ length: size - 1 }, (_, i) => amAlert(i, { annotationBytes }))
  alerts.splice(Math.floor(size / 2), 0, criticalAlert())
  return alerts
}

async function setup(env: Record<string, string> = {}) {
  const full = { ALERTMANAGER_WEBHOOK_TOKEN: AM_TOKEN, ...env }
  const delivery = alertingFor(ctx.database, ctx.fake.url, full)
  const built = await buildTestApp({ database: ctx.database, alerting: delivery.alerting, env: full })
  const post = (body: string | unknown) =>
    built.app.handle(
      new Request('http://localhost/alerts/alertmanager', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${AM_TOKEN}` },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    )
  return { ...built, ...delivery, post }
}

const texts = (digits = ONCALL_DIGITS) =>
  ctx.fake.requests
    .filter((r) => r.body.to === digits)
    .map((r) => (r.body.text as { body: string } | undefined)?.body ?? '')

describe('an Alertmanager storm', () => {
  test('1 500 alerts in one notification: accepted, the critical one reaches on-call first, one message within 4 096 characters', async () => {
    const { post, alerting } = await setup()
    const res = await post(notification(storm(1500), { truncatedAlerts: 250 }))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ accepted: 1500, invalid: 0, truncatedAlerts: 250, enqueued: 1 })
    await alerting.tick()
    const [message, ...others] = texts()
    expect(others).toEqual([])
    expect(message!.length).toBeLessThanOrEqual(4096)
    expect(message!.split('\n').slice(0, 5)).toEqual([
      '🔔 *1500 alerts firing*: 1 critical, 1499 warning',
      '',
      '*CRITICAL*',
      `• DatabaseDown ×1 on db-0 — PostgreSQL on db-0 answers no query — ref ${CRITICAL_FP}`,
      '*WARNING*',
    ])
    expect(message).toContain('• StormNoise ×1499 on node-0 … node-1498 — node-0 is noisy')
    expect(message).toContain('+250 more not shown by Alertmanager')
    // The outbox holds one row for the whole storm, not one per alert.
    const rows = await ctx.database.db.select().from(alertOutbox)
    expect(rows.map((r) => [r.status, r.severity, (r.content.alerts as unknown[]).length])).toEqual([
      ['sent', 'critical', 1500],
    ])
    expect(await ctx.database.db.$count(alertStates)).toBe(1500)
  })

  test('a 1.8 MB notification is accepted and its critical alert reaches on-call', async () => {
    const { post, alerting } = await setup()
    const body = JSON.stringify(notification(storm(600, 2900)))
    expect(body.length).toBeGreaterThan(1_800_000)
    const res = await post(body)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ accepted: 600, enqueued: 1 })
    await alerting.tick()
    expect(texts()).toHaveLength(1)
    expect(texts()[0]!.length).toBeLessThanOrEqual(4096)
    expect(texts()[0]).toContain(
      `DatabaseDown ×1 on db-0 — PostgreSQL on db-0 answers no query — ref ${CRITICAL_FP}`,
    )
  })

  test('the whole storm — re-sends, repeats, resolution, ACK — stays within 10 messages of 4 096 characters', async () => {
    const { post, alerting, clock } = await setup({ ALERT_REPEAT_INTERVAL: '1h' })
    const alerts = storm(1500)
    for (let i = 0; i < 3; i++) {
      // Alertmanager re-sends the group every group_interval: nothing new to say.
      expect((await post(notification(alerts))).status).toBe(200)
      await alerting.tick()
      clock.advance(5 * 60_000)
    }
    clock.advance(3_600_000)
    await alerting.tick() // the repeat: still firing
    await alerting.dispatcher.handleInbound({
      from: ONCALL_DIGITS,
      text: 'STATUS',
      id: 'wamid.in.1',
      at: clock.now(),
    })
    await alerting.tick()
    await alerting.dispatcher.handleInbound({
      from: ONCALL_DIGITS,
      text: 'ACK',
      id: 'wamid.in.2',
      at: clock.now(),
    })
    await alerting.tick()
    clock.advance(3_600_000)
    await alerting.tick() // acknowledged: no repeat
    const resolved = (alerts as Array<ReturnType<typeof amAlert>>).map((a) => ({
      ...a,
      status: 'resolved',
      endsAt: '2026-03-02T12:20:00.000Z',
    }))
    expect((await post(notification(resolved, { status: 'resolved' }))).status).toBe(200)
    await alerting.tick()
    const messages = texts()
    expect(messages.length).toBeLessThanOrEqual(10)
    for (const m of messages) expect(m.length).toBeLessThanOrEqual(4096)
    expect(messages.map((m) => m.split('\n')[0])).toEqual([
      '🔔 *1500 alerts firing*: 1 critical, 1499 warning',
      '🔔 *1500 alerts still firing*: 1 critical, 1499 warning',
      'Firing now (1500):',
      'Acknowledged: StormNoise ×1499, DatabaseDown. No more reminders until resolved.',
      '✅ *1500 resolved*',
    ])
    expect(messages[2]).toContain('…and 1480 more: StormNoise ×1479, DatabaseDown')
    expect(messages[4]).toContain('• DatabaseDown ×1 on db-0 — Database down')
  })

  test('malformed alerts are skipped and counted; the others are taken', async () => {
    const { post, alerting, events } = await setup()
    const alerts = [
      ...storm(20),
      { status: 'burning', labels: {} },
      { ...amAlert(99), fingerprint: 'xyz' },
      42,
    ]
    const res = await post(notification(alerts))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ accepted: 20, invalid: 3, truncatedAlerts: 0, enqueued: 1 })
    expect(events).toContain('invalid:3')
    await alerting.tick()
    expect(texts()[0]).toStartWith('🔔 *20 alerts firing*: 1 critical, 19 warning')
  })

  test('a firing re-send of an episode already resolved announces nothing; a return with a new startsAt does', async () => {
    const { post, alerting } = await setup()
    const answer = async (body: unknown) => (await (await post(body)).json()) as Record<string, number>
    expect((await answer(notification([criticalAlert(), amAlert(1)]))).enqueued).toBe(1)
    await alerting.tick()
    expect(
      (await answer(notification([criticalAlert('resolved'), amAlert(1, { status: 'resolved' })]))).enqueued,
    ).toBe(1)
    await alerting.tick()
    const sent = texts().length
    // Alertmanager's retry of the first notification, overtaken by the resolution.
    expect(await answer(notification([criticalAlert()]))).toEqual({
      accepted: 1,
      invalid: 0,
      truncatedAlerts: 0,
      enqueued: 0,
    })
    await alerting.tick()
    expect(texts()).toHaveLength(sent)
    // Prometheus gives a real return a new ActiveAt, so Alertmanager a new startsAt.
    const back = { ...criticalAlert(), startsAt: '2026-03-02T11:00:00.000Z' }
    expect((await answer(notification([back]))).enqueued).toBe(1)
    await alerting.tick()
    expect(texts().slice(sent)).toEqual([expect.stringMatching(/^🔔 \*CRITICAL ALERT\*: DatabaseDown\n/)])
  })

  test('alerts a group lists that were told before are not "not shown by Alertmanager"', async () => {
    // Alertmanager lists every alert of the group in each notification (dispatch/dispatch.go
    // aggrGroup.flush): the new one's message, and the resolution of one while another fires,
    // stand beside alerts told earlier, which Alertmanager did show. Only max_alerts hides any.
    const { post, alerting } = await setup()
    await post(notification([criticalAlert()]))
    await alerting.tick()
    await post(notification([criticalAlert(), amAlert(1)]))
    await alerting.tick()
    await post(notification([criticalAlert('resolved'), amAlert(1)], { status: 'resolved' }))
    await alerting.tick()
    expect(texts().slice(1)).toEqual([
      `🔔 *WARNING ALERT*: StormNoise\nnode-1 is noisy ${'x'.repeat(40)}\nref: ${amAlert(1).fingerprint}`,
      `✅ *RESOLVED*: DatabaseDown\nDatabase down\nref: ${CRITICAL_FP}`,
    ])
  })

  test('alerts PostgreSQL cannot store are skipped and counted, not a 500 for the whole notification', async () => {
    // Each was a 500 (or a whole-notification 422) that Alertmanager retried forever or dropped,
    // the valid critical alert beside it included.
    const { post, alerting, events, logs } = await setup()
    const bad = [
      { ...amAlert(90), startsAt: '0000-01-01T00:00:00Z' },
      { ...amAlert(91, { status: 'resolved' }), endsAt: '0000-01-01T00:00:00Z' },
      { ...amAlert(92), labels: { alertname: '\udc00' } },
      { ...amAlert(93), labels: { alertname: 'X\u0000' } },
      { ...amAlert(94), annotations: { 'k\u0000': 'v' } },
      { ...amAlert(95), endsAt: 'Tue 1' },
    ]
    // A tenant_id of 36 hyphens is no tenant: the alert is taken, for on-call only.
    const hyphens = { ...amAlert(96), labels: { alertname: 'T', tenant_id: '-'.repeat(36) } }
    const res = await post(notification([criticalAlert(), ...bad, hyphens]))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ accepted: 2, invalid: 6, truncatedAlerts: 0, enqueued: 1 })
    expect(events).toContain('invalid:6')
    const warning = logs.lines.find(
      (line) => line.msg === 'skipped malformed alerts in a notification; the others are taken',
    )
    expect(warning?.firstInvalid).toBe('alerts.1.startsAt — Expected an RFC 3339 time from year 1 to 9999')
    await alerting.tick()
    expect(texts()[0]).toStartWith('🔔 *CRITICAL ALERT*: DatabaseDown\n')
    expect(texts()[0]).toContain('\n\n🔔 *WARNING ALERT*: T\n')
  })

  test("a notification with no valid alert is a 422 naming the first one's problem, its alerts counted and logged", async () => {
    const { post, events, logs } = await setup()
    const res = await post(
      notification([
        { ...amAlert(1), fingerprint: 'XYZ' },
        { ...amAlert(2), status: 'x' },
      ]),
    )
    expect(res.status).toBe(422)
    const { error } = (await res.json()) as { error: Record<string, unknown> }
    expect(error).toEqual({
      code: 'VALIDATION',
      message:
        'Invalid body: none of the 2 alerts is a valid Alertmanager alert (first: alerts.0.fingerprint — Expected 1 to 16 hexadecimal digits, or none (computed from the labels))',
      details: {
        in: 'body',
        errors: [
          {
            field: 'alerts.0.fingerprint',
            message: 'Expected 1 to 16 hexadecimal digits, or none (computed from the labels)',
          },
        ],
      },
      requestId: expect.any(String),
    })
    // Alertmanager does not retry a 4xx: the refused alerts must show in the counter and the log.
    expect(events.filter((e) => e.startsWith('invalid:'))).toEqual(['invalid:2'])
    expect(
      logs.lines
        .filter((line) => line.msg === 'skipped malformed alerts in a notification; the others are taken')
        .map((line) => [line.level, line.invalid, line.valid, line.firstInvalid]),
    ).toEqual([
      [
        'warn',
        2,
        0,
        'alerts.0.fingerprint — Expected 1 to 16 hexadecimal digits, or none (computed from the labels)',
      ],
    ])
  })

  test.each([
    ['{"version":"4"}', 'alerts', 'Expected an array of alerts'],
    ['{"alerts":{}}', 'alerts', 'Expected an array of alerts'],
    [
      '{"alerts":[],"truncatedAlerts":-1}',
      'truncatedAlerts',
      'Expected a non-negative integer up to 9007199254740991',
    ],
    ['[]', 'body', 'Expected object'],
  ])('%s is a 422 with one entry in details.errors, as every 422', async (body, field, message) => {
    const { post } = await setup()
    const res = await post(body)
    expect(res.status).toBe(422)
    expect(((await res.json()) as { error: Record<string, unknown> }).error).toEqual({
      code: 'VALIDATION',
      message: `Invalid body: ${field} — ${message}`,
      details: { in: 'body', errors: [{ field, message }] },
      requestId: expect.any(String),
    })
  })

  test('a notification refused for a bad truncatedAlerts: its alerts, valid or not, are counted and logged', async () => {
    const { post, events, logs } = await setup()
    const res = await post(
      notification([amAlert(1), amAlert(2), { ...amAlert(3), fingerprint: 'XYZ' }], { truncatedAlerts: -1 }),
    )
    expect(res.status).toBe(422)
    expect(((await res.json()) as { error: { details: unknown } }).error.details).toEqual({
      in: 'body',
      errors: [
        { field: 'truncatedAlerts', message: 'Expected a non-negative integer up to 9007199254740991' },
      ],
    })
    expect(events.filter((e) => e.startsWith('invalid:'))).toEqual(['invalid:3'])
    expect(
      logs.lines
        .filter((line) => line.msg === 'skipped malformed alerts in a notification; the others are taken')
        .map((line) => [line.level, line.invalid, line.valid, line.firstInvalid]),
    ).toEqual([['warn', 3, 0, 'truncatedAlerts — Expected a non-negative integer up to 9007199254740991']])
  })

  test('above ALERTMANAGER_MAX_BODY_BYTES: 413 in the error envelope, nothing enqueued; other routes keep MAX_BODY_BYTES', async () => {
    const { post, call } = await setup({ ALERTMANAGER_MAX_BODY_BYTES: '100000', MAX_BODY_BYTES: '50000' })
    const body = JSON.stringify(notification(storm(300)))
    expect(body.length).toBeGreaterThan(100_000)
    const res = await post(body)
    expect(res.status).toBe(413)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE')
    // Without content-length (chunked): the stream is cut at the limit.
    const { app } = await setup({ ALERTMANAGER_MAX_BODY_BYTES: '100000' })
    const bytes = new TextEncoder().encode(body)
    const chunked = await app.handle(
      new Request('http://localhost/alerts/alertmanager', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${AM_TOKEN}` },
        body: new ReadableStream({
          start(controller) {
            for (let i = 0; i < bytes.length; i += 16_384) controller.enqueue(bytes.slice(i, i + 16_384))
            controller.close()
          },
        }),
      }),
    )
    expect(chunked.status).toBe(413)
    expect(await ctx.database.db.$count(alertOutbox)).toBe(0)
    expect(await ctx.database.db.$count(alertStates)).toBe(0)
    // 60 000 bytes fit the receiver's limit but not the global one of other routes.
    const small = JSON.stringify(notification(storm(150)))
    expect(small.length).toBeGreaterThan(50_000)
    expect((await post(small)).status).toBe(200)
    const orders = await call('/orders', {
      method: 'POST',
      body: small,
      headers: { 'content-type': 'application/json' },
    })
    expect(orders.status).toBe(413)
  })

  test('not JSON is 400 INVALID_JSON, another content type 415, no alerts array 422; nothing enqueued', async () => {
    const { post, app } = await setup()
    const bad = await post('{"alerts": [{"status": "firing"}, ')
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('INVALID_JSON')
    expect((await post({ version: '4', alerts: 'none' })).status).toBe(422)
    expect((await post({ version: '4' })).status).toBe(422)
    // Not JSON wherever the fault lies (found by differential fuzzing against JSON.parse): in a
    // key (a raw tab, a bad escape), or after a member that is already wrong.
    for (const body of [
      '{"rece\tiver": "r", "alerts": []}',
      '{"a\\u12": 1, "alerts": []}',
      '{"alerts": {"status": "firing"}, "x": ]',
      '{"truncatedAlerts": -1, "alerts": [] ',
    ]) {
      const notJson = await post(body)
      expect([
        body,
        notJson.status,
        ((await notJson.json()) as { error: { code: string } }).error.code,
      ]).toEqual([body, 400, 'INVALID_JSON'])
    }
    const xml = await app.handle(
      new Request('http://localhost/alerts/alertmanager', {
        method: 'POST',
        headers: { 'content-type': 'text/xml', authorization: `Bearer ${AM_TOKEN}` },
        body: '<alerts/>',
      }),
    )
    expect(xml.status).toBe(415)
    expect(await ctx.database.db.$count(alertOutbox)).toBe(0)
  })
})

describe('the shipped Alertmanager config', () => {
  test('groups criticals apart from warnings, and max_alerts of 6 KB alerts fits ALERTMANAGER_MAX_BODY_BYTES', () => {
    const config = parseYaml(
      readFileSync(join(import.meta.dir, '../../../ops/alertmanager/alertmanager.yml'), 'utf8'),
    )
    expect(config.route.group_by).toEqual(expect.arrayContaining(['alertname', 'severity']))
    const webhook = config.receivers[0].webhook_configs[0]
    const maxAlerts = webhook.max_alerts as number
    expect(maxAlerts).toBeGreaterThan(0)
    const alert = amAlert(0, { annotationBytes: 6000 })
    expect(JSON.stringify(alert).length).toBeGreaterThan(6000)
    const body = JSON.stringify(notification(Array.from({ length: maxAlerts }, () => alert)))
    expect(body.length).toBeLessThanOrEqual(loadConfig({}).alerts.alertmanagerMaxBodyBytes)
  })
})

describe('reading a notification as a stream', () => {
  const stream = (text: string, size: number) => {
    const bytes = new TextEncoder().encode(text)
    return new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += size) controller.enqueue(bytes.slice(i, i + size))
        controller.close()
      },
    })
  }

  test('truncatedAlerts up to 2^53 − 1 is read exactly', async () => {
    const read = await readAlertmanagerNotification(
      stream('{"alerts": [], "truncatedAlerts": 9007199254740991}', 5),
      1000,
    )
    expect(read.truncatedAlerts).toBe(9007199254740991)
  })

  test('chunk boundaries anywhere (1 byte, inside escapes and multi-byte characters) give the same alerts as JSON.parse', async () => {
    const tricky = {
      ...amAlert(1),
      annotations: { summary: 'quote " backslash \\ brace } bracket ] comma , ☃ 🔥', description: '\u2028' },
    }
    const sent = [tricky, amAlert(2), criticalAlert()]
    const payload = notification(sent, {
      commonAnnotations: { note: '{"alerts": [1, 2]}' },
      truncatedAlerts: 7,
    })
    const text = JSON.stringify(payload, null, 2)
    for (const size of [1, 2, 3, 7, 64, text.length]) {
      const read = await readAlertmanagerNotification(stream(text, size), 10_000_000)
      expect(read.truncatedAlerts).toBe(7)
      expect(read.invalid).toBe(0)
      expect(read.alerts.map((a) => [a.fingerprint, a.annotations.summary])).toEqual(
        sent.map((a) => [a.fingerprint, a.annotations.summary]),
      )
    }
  })

  test.each([
    ['', 400],
    ['[', 400],
    ['[1,]', 400],
    ['nul', 400],
    ['{"alerts": []} trailing', 400],
    ['{"alerts": [1,]}', 400],
    ['{"alerts": [}', 400],
    ['{"a" 1, "alerts": []}', 400],
    ['{"alerts": {}}', 422],
    ['{"alerts": [], "truncatedAlerts": -1}', 422],
    // Past 2^53 − 1 a count is no longer exact (Alertmanager's is a uint64): "+1e+300 more" in a
    // message to on-call staff says nothing.
    ['{"alerts": [], "truncatedAlerts": 1e300}', 422],
    ['{"alerts": [], "truncatedAlerts": 9007199254740992}', 422],
    ['{"alerts": [], "truncatedAlerts": 2.5}', 422],
    ['{"alerts": [{"status": "firing"}]}', 422],
    // JSON that is no object: the 422 every route gives an object body, not "not JSON".
    ['[]', 422],
    [' null ', 422],
    ['"x"', 422],
    ['[{"alerts": []}]', 422],
  ])('%p is refused with %p', async (text, status) => {
    const error = await readAlertmanagerNotification(stream(text, 3), 1000).catch((e) => e)
    expect(error).toBeInstanceOf(AppError)
    expect((error as AppError).status).toBe(status)
    if (status === 422 && !text.includes('alerts')) {
      expect([(error as AppError).message, (error as AppError).details]).toEqual([
        'Invalid body: body — Expected object',
        { in: 'body', errors: [{ field: 'body', message: 'Expected object' }] },
      ])
    }
  })

  test('a value spanning hundreds of chunks is read whole, its text joined once', async () => {
    // Re-joining the value's text with every chunk made an 8 MB annotation cost 6 s.
    const description = `${'x'.repeat(8_000_000)}☃`
    const text = JSON.stringify(notification([{ ...amAlert(1), annotations: { description } }]))
    const read = await readAlertmanagerNotification(stream(text, 16_384), 10_000_000)
    expect(read.alerts.map((a) => a.annotations.description === description)).toEqual([true])
  })

  test('an empty alerts list is a valid notification', async () => {
    expect(await readAlertmanagerNotification(stream('{"alerts": []}', 4), 1000)).toEqual({
      alerts: [],
      invalid: 0,
      truncatedAlerts: 0,
    })
  })
})

describe('pacing', () => {
  test('131056 (pair rate limit) pauses the recipient and sends later; it never counts as a failed attempt', async () => {
    const { alerting, clock, events } = alertingFor(ctx.database, ctx.fake.url, {
      WHATSAPP_MAX_ATTEMPTS: '1',
    })
    ctx.fake.answer(
      { kind: 'error', httpStatus: 429, code: 131056, message: '(#131056) pair rate limit hit' },
      { kind: 'error', httpStatus: 429, code: 131056, message: '(#131056) pair rate limit hit' },
    )
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    await alerting.tick()
    const row = async () => (await ctx.database.db.select().from(alertOutbox))[0]!
    expect(await row()).toMatchObject({ status: 'pending', attempts: 0, lastErrorCode: '131056' })
    expect((await row()).nextAttemptAt.getTime() - clock.now().getTime()).toBe(PAIR_PAUSES_MS[0]!)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(1) // paused: nothing sent before the pause ends
    clock.advance(PAIR_PAUSES_MS[0]!)
    await alerting.tick()
    // A second hit pauses longer.
    expect((await row()).nextAttemptAt.getTime() - clock.now().getTime()).toBe(PAIR_PAUSES_MS[1]!)
    clock.advance(PAIR_PAUSES_MS[1]!)
    await alerting.tick()
    expect(await row()).toMatchObject({ status: 'sent', waMessageId: 'wamid.1' })
    expect(ctx.fake.requests).toHaveLength(3)
    expect(events.filter((e) => e.startsWith('sent:'))).toEqual(['sent:retry', 'sent:retry', 'sent:sent'])
  })

  test("a storm to many recipients stays within the number's throughput: the rest waits in the outbox, critical first", async () => {
    const phones = Array.from({ length: 5 }, (_, i) => `+25470000010${i}`)
    const { alerting } = alertingFor(ctx.database, ctx.fake.url, {
      ALERT_PHONES: phones.join(','),
      WHATSAPP_MESSAGES_PER_SECOND: '2',
      ALERT_NOTIFY_INTERVAL: '1s',
    })
    await alerting.dispatcher.ingest([firing('Noise', { severity: 'warning' })], 'test')
    await alerting.dispatcher.ingest([firing('Down', { severity: 'critical' })], 'test')
    const sentPerTick: number[] = []
    for (let i = 0; i < 6; i++) {
      const before = ctx.fake.requests.length
      await alerting.tick()
      sentPerTick.push(ctx.fake.requests.length - before)
    }
    // 10 rows (2 alerts × 5 recipients), 2 messages a tick; each tick merges what is due.
    expect(sentPerTick.every((n) => n <= 2)).toBe(true)
    const firstLines = ctx.fake.requests.map((r) => (r.body.text as { body: string }).body)
    // Both criticals go out before any warning-only message.
    expect(firstLines.slice(0, 2).every((body) => body.includes('Down'))).toBe(true)
    const rows = await ctx.database.db.select().from(alertOutbox)
    expect(rows.filter((r) => r.status !== 'sent')).toEqual([])
    expect(new Set(ctx.fake.requests.map((r) => r.body.to)).size).toBe(5)
  })

  test('a recipient who got 10 messages within a minute waits; nothing is dropped', async () => {
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url)
    for (let i = 0; i < 12; i++) {
      await alerting.dispatcher.ingest([firing(`Alert${i}`)], 'test')
      await alerting.tick()
      clock.advance(1000)
    }
    expect(ctx.fake.requests).toHaveLength(10)
    clock.advance(60_000)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(11)
    expect((ctx.fake.requests[10]!.body.text as { body: string }).body).toContain('Alert10')
    expect((ctx.fake.requests[10]!.body.text as { body: string }).body).toContain('Alert11')
  })
})

describe('templates in a storm', () => {
  test('parameters stay within their limits and within a 1 024-character body', async () => {
    const { alerting } = alertingFor(ctx.database, ctx.fake.url, {
      WHATSAPP_TEMPLATE_FIRING: 'alert_firing_v1',
      WHATSAPP_TEMPLATE_RESOLVED: 'alert_resolved_v1',
    })
    const alerts = Array.from({ length: 2000 }, (_, i) =>
      firing(`Noise${i % 40}`, { severity: 'warning', instance: `node-${i}` }, { value: `${i}.5` }),
    )
    alerts.push(firing('DatabaseDown', { instance: 'db-0' }))
    await alerting.dispatcher.ingest(alerts, 'test', undefined, { truncatedAlerts: 12 })
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(1)
    const template = ctx.fake.requests[0]!.body.template as {
      name: string
      components: Array<{ parameters: Array<{ text: string }> }>
    }
    const parameters = template.components[0]!.parameters.map((p) => p.text)
    expect(template.name).toBe('alert_firing_v1')
    expect(parameters[0]).toBe('CRITICAL')
    expect(parameters[1]).toStartWith('DatabaseDown, Noise0 ×50, Noise1 ×50')
    expect(parameters[2]).toStartWith(
      '2001 alerts: 1 critical, 2000 warning | +12 more not shown by Alertmanager |',
    )
    parameters.forEach((p, i) => {
      expect(p.length).toBeLessThanOrEqual(TEMPLATE_PARAMETER_LIMITS[i]!)
      expect(p).not.toMatch(/[\n\t]| {4}/)
    })
    expect(parameters.join('').length).toBeLessThanOrEqual(1024)
  })
})

describe('the rule manager path', () => {
  test('a rule that suddenly matches 1 500 series in one tick gives on-call one message within 4 096 characters', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-storm-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(
      join(dir, 'storm.yml'),
      `groups:
  - name: storm
    interval: 30s
    rules:
      - alert: DiskFull
        expr: disk_free_ratio < 0.05
        labels:
          severity: critical
        annotations:
          summary: Disk almost full
          description: "{{ $labels.instance }} has {{ $value | humanizePercentage }} free"
`,
    )
    const series = Array.from({ length: 1500 }, (_, i) => ({
      labels: { __name__: 'disk_free_ratio', instance: `node-${String(i).padStart(4, '0')}` },
      value: 0.01,
    }))
    let answer = series
    const source: QuerySource = {
      async instantQuery(): Promise<InstantResult> {
        return { resultType: 'vector', samples: answer }
      },
    }
    const delivery = alertingFor(ctx.database, ctx.fake.url)
    await ctx.database.db.delete(alertRuleStates)
    const ruleManager = createRuleManager({
      db: ctx.database.db,
      groups: loadRules(expandRuleFiles(join(dir, '*.yml')), { defaultIntervalMs: 30_000 }),
      source,
      dispatcher: delivery.alerting.dispatcher,
      clock: delivery.clock,
      log: captureLogs().log,
    })
    await ruleManager.evaluateAll()
    await delivery.alerting.tick()
    expect(texts()).toHaveLength(1)
    expect(texts()[0]!.length).toBeLessThanOrEqual(4096)
    expect(texts()[0]).toContain('🔔 *1500 alerts firing*: 1500 critical')
    expect(texts()[0]).toContain('• DiskFull ×1500 on node-0000 … node-1499 — node-0000 has 1% free')
    expect(await ctx.database.db.$count(alertOutbox)).toBe(1)
    // All of them resolve in the next tick: one resolution message.
    answer = []
    delivery.clock.advance(30_000)
    await ruleManager.evaluateAll()
    await delivery.alerting.tick()
    expect(texts()).toHaveLength(2)
    expect(texts()[1]).toStartWith('✅ *1500 resolved*')
    await ctx.database.db.delete(alertRuleStates)
  })
})
