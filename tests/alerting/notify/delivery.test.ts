import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { ACK_USAGE, parseCommand, SILENCE_USAGE } from '../../../src/alerting/notify/dispatcher.ts'
import { quietUntil } from '../../../src/alerting/notify/recipients.ts'
import { notifiedAlert, renderText } from '../../../src/alerting/notify/render.ts'
import { backoffMs } from '../../../src/alerting/notify/sender.ts'
import {
  classifyError,
  loggableMessageId,
  sanitizeTemplateParameter,
  toWhatsAppNumber,
  whatsAppIdNumbers,
} from '../../../src/alerting/whatsapp/client.ts'
import {
  alertOutbox,
  alertStates,
  tenantSettings,
  tenants,
  whatsappContacts,
} from '../../../src/db/schema.ts'
import { alertingFor, alertTestContext, firing, ONCALL } from '../../helpers/alerts.ts'

// Starts real processes or fresh databases: well over bun's 5 s default.
setDefaultTimeout(30_000)

const ctx = alertTestContext()
const ONCALL_DIGITS = toWhatsAppNumber(ONCALL)

async function tenantWith(settings: {
  owner?: string | null
  extra?: string[]
  quiet?: [string, string]
  timezone?: string
}) {
  const [tenant] = await ctx.database.db
    .insert(tenants)
    .values({ name: 'T', apiKeyHash: crypto.randomUUID() })
    .returning()
  await ctx.database.db.insert(tenantSettings).values({
    tenantId: tenant!.id,
    ownerPhone: settings.owner === undefined ? '+254711000200' : settings.owner,
    alertPhones: settings.extra ?? [],
    timezone: settings.timezone ?? 'Africa/Nairobi',
    quietHoursStart: settings.quiet?.[0] ?? null,
    quietHoursEnd: settings.quiet?.[1] ?? null,
  })
  return tenant!.id
}

const outbox = () =>
  ctx.database.db.select().from(alertOutbox).orderBy(alertOutbox.createdAt, alertOutbox.recipient)
const textsTo = (digits: string) =>
  ctx.fake.requests
    .filter((r) => r.body.to === digits)
    .map((r) => (r.body.text as { body: string } | undefined)?.body)

describe('routing', () => {
  test('a tenant alert goes to the owner, the extra phones and on-call; a platform alert to on-call only', async () => {
    const tenantId = await tenantWith({ owner: '+254711000200', extra: ['+254722000300'] })
    const { alerting } = alertingFor(ctx.database, ctx.fake.url)
    await alerting.dispatcher.ingest(
      [firing('TenantPaymentFailureRate', { tenant_id: tenantId }), firing('HighErrorRate')],
      'test',
    )
    await alerting.tick()
    const recipients = ctx.fake.requests.map((r) => r.body.to).sort()
    expect(recipients).toEqual(['254700000001', '254711000200', '254722000300'])
    expect(textsTo('254711000200')).toEqual([
      `🔔 *CRITICAL ALERT*: TenantPaymentFailureRate\nTenantPaymentFailureRate description\nref: ${firing('TenantPaymentFailureRate', { tenant_id: tenantId }).fingerprint}`,
    ])
    // On-call gets both alerts due in this tick as ONE message.
    expect(textsTo(ONCALL_DIGITS)).toHaveLength(1)
    expect(textsTo(ONCALL_DIGITS)[0]).toContain('TenantPaymentFailureRate')
    expect(textsTo(ONCALL_DIGITS)[0]).toContain('HighErrorRate')
    const request = ctx.fake.requests[0]!
    expect(request.path).toBe('/v21.0/106540352242922/messages')
    expect(request.headers.authorization).toBe('Bearer EAAG-test-token-secret')
    expect(request.body).toMatchObject({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      type: 'text',
    })
  })

  test('a tenant with no phone: error logged, metric counted, on-call still notified', async () => {
    const tenantId = await tenantWith({ owner: null })
    const { alerting, logs, events } = alertingFor(ctx.database, ctx.fake.url, {
      ALERT_ONCALL_GETS_TENANT_ALERTS: 'false',
    })
    await alerting.dispatcher.ingest([firing('TenantPaymentFailureRate', { tenant_id: tenantId })], 'test')
    await alerting.tick()
    expect(ctx.fake.requests.map((r) => r.body.to)).toEqual([ONCALL_DIGITS])
    expect(events).toContain('missing-phone')
    expect(logs.lines.find((l) => l.level === 'error')).toMatchObject({
      tenantId,
      msg: 'tenant has no phone configured for alerts; notifying on-call only',
    })
  })

  test('an alert whose tenant_id names no tenant: logged as such (a label that is no UUID, not as written), metric counted, on-call notified', async () => {
    const { alerting, logs, events } = alertingFor(ctx.database, ctx.fake.url, {
      ALERT_ONCALL_GETS_TENANT_ALERTS: 'false',
    })
    const unknown = crypto.randomUUID()
    await alerting.dispatcher.ingest(
      [
        firing('TenantPaymentFailureRate', { tenant_id: unknown }),
        firing('Typo', { tenant_id: 'shop-1' }),
        firing('Phone', { tenant_id: '+15550104321' }),
      ],
      'test',
    )
    await alerting.tick()
    expect(ctx.fake.requests.map((r) => r.body.to)).toEqual([ONCALL_DIGITS])
    expect(events.filter((e) => e === 'missing-phone')).toHaveLength(3)
    expect(JSON.stringify(logs.lines)).not.toContain('5550104321')
    // Alerts are ingested in fingerprint order (locks in one order), which the random tenant id
    // moves: the lines are compared as a set.
    const byTenant = (a: { tenantId: unknown }, b: { tenantId: unknown }) =>
      String(a.tenantId).localeCompare(String(b.tenantId))
    expect(
      logs.lines
        .filter((l) => l.level === 'error')
        .map((l) => ({ tenantId: l.tenantId, msg: l.msg }))
        .sort(byTenant),
    ).toEqual(
      [
        {
          tenantId: unknown,
          msg: 'alert names no known tenant in its tenant_id label; notifying on-call only',
        },
        {
          tenantId: '(not a tenant id)',
          msg: 'alert names no known tenant in its tenant_id label; notifying on-call only',
        },
        {
          tenantId: '(not a tenant id)',
          msg: 'alert names no known tenant in its tenant_id label; notifying on-call only',
        },
      ].sort(byTenant),
    )
  })

  test('ALERT_ONCALL_GETS_TENANT_ALERTS=false keeps tenant alerts with the tenant', async () => {
    const tenantId = await tenantWith({ owner: '+254711000200' })
    const { alerting } = alertingFor(ctx.database, ctx.fake.url, { ALERT_ONCALL_GETS_TENANT_ALERTS: 'false' })
    await alerting.dispatcher.ingest([firing('X', { tenant_id: tenantId })], 'test')
    await alerting.tick()
    expect(ctx.fake.requests.map((r) => r.body.to)).toEqual(['254711000200'])
  })

  test('quiet hours hold warnings until the window ends (a row, not a timer); criticals go at once', async () => {
    // 10:00 UTC = 13:00 in Nairobi; quiet 12:00–14:30 local.
    const tenantId = await tenantWith({ owner: '+254711000200', quiet: ['12:00', '14:30'] })
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url, {
      ALERT_ONCALL_GETS_TENANT_ALERTS: 'false',
    })
    await alerting.dispatcher.ingest(
      [firing('Warn', { tenant_id: tenantId, severity: 'warning' }), firing('Crit', { tenant_id: tenantId })],
      'test',
    )
    await alerting.tick()
    expect(ctx.fake.requests.map((r) => (r.body.text as { body: string }).body.split('\n')[0])).toEqual([
      '🔔 *CRITICAL ALERT*: Crit',
    ])
    const held = (await outbox()).find((r) => r.alertname === 'Warn')!
    expect(held.status).toBe('pending')
    expect(held.nextAttemptAt.toISOString()).toBe('2026-03-02T11:30:00.000Z')
    clock.set('2026-03-02T11:30:00Z')
    // A new process (no memory of the first) sends it when the window ends.
    const restarted = alertingFor(ctx.database, ctx.fake.url, { ALERT_ONCALL_GETS_TENANT_ALERTS: 'false' })
    restarted.clock.set('2026-03-02T11:30:00Z')
    await restarted.alerting.tick()
    expect(ctx.fake.requests.map((r) => (r.body.text as { body: string }).body.split('\n')[0])).toEqual([
      '🔔 *CRITICAL ALERT*: Crit',
      '🔔 *WARNING ALERT*: Warn',
    ])
  })

  test('quietUntil handles windows across midnight and outside the window', () => {
    const quiet = { timezone: 'Africa/Nairobi', start: '22:00', end: '06:00' }
    expect(quietUntil(new Date('2026-03-02T20:00:00Z'), quiet)?.toISOString()).toBe(
      '2026-03-03T03:00:00.000Z',
    )
    expect(quietUntil(new Date('2026-03-02T01:30:00Z'), quiet)?.toISOString()).toBe(
      '2026-03-02T03:00:00.000Z',
    )
    expect(quietUntil(new Date('2026-03-02T12:00:00Z'), quiet)).toBeUndefined()
  })
})

describe('repeat and resolve', () => {
  test('first firing once, re-sends ignored, repeat after the interval, resolved only to those notified', async () => {
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url, { ALERT_REPEAT_INTERVAL: '4h' })
    const alert = firing('HighErrorRate')
    await alerting.dispatcher.ingest([alert], 'test')
    await alerting.tick()
    await alerting.dispatcher.ingest([alert], 'test') // Alertmanager re-sends the group
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(1)
    clock.advance(3 * 3_600_000)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(1)
    clock.advance(3_600_000)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(2)
    expect((ctx.fake.requests[1]!.body.text as { body: string }).body.split('\n')[0]).toBe(
      '🔔 *CRITICAL ALERT*: HighErrorRate (still firing)',
    )
    await alerting.dispatcher.ingest([{ ...alert, status: 'resolved', endsAt: clock.now() }], 'test')
    await alerting.dispatcher.ingest([{ ...alert, status: 'resolved', endsAt: clock.now() }], 'test')
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(3)
    expect((ctx.fake.requests[2]!.body.text as { body: string }).body).toBe(
      `✅ *RESOLVED*: HighErrorRate\nHighErrorRate summary\nref: ${alert.fingerprint}`,
    )
    clock.advance(5 * 3_600_000)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(3)
  })

  test('an alert resolved before it was sent is never sent, and no resolution follows', async () => {
    const tenantId = await tenantWith({ owner: '+254711000200', quiet: ['00:00', '23:59'] })
    const { alerting } = alertingFor(ctx.database, ctx.fake.url, { ALERT_ONCALL_GETS_TENANT_ALERTS: 'false' })
    const alert = firing('Warn', { tenant_id: tenantId, severity: 'warning' })
    await alerting.dispatcher.ingest([alert], 'test')
    await alerting.dispatcher.ingest([{ ...alert, status: 'resolved' }], 'test')
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(0)
    expect((await outbox()).map((r) => r.status)).toEqual(['cancelled'])
  })

  test('two notifiers ingesting the same payload enqueue one notification', async () => {
    const a = alertingFor(ctx.database, ctx.fake.url)
    const b = alertingFor(ctx.database, ctx.fake.url)
    const alert = firing('HighErrorRate')
    const counts = await Promise.all([
      a.alerting.dispatcher.ingest([alert], 'a'),
      b.alerting.dispatcher.ingest([alert], 'b'),
    ])
    expect(counts.sort()).toEqual([0, 1])
    await Promise.all([a.alerting.tick(), b.alerting.tick()])
    expect(ctx.fake.requests).toHaveLength(1)
  })
})

describe('message bodies', () => {
  test('templates carry sanitised body parameters', async () => {
    const { alerting } = alertingFor(ctx.database, ctx.fake.url, {
      WHATSAPP_TEMPLATE_FIRING: 'alert_firing_v1',
      WHATSAPP_TEMPLATE_RESOLVED: 'alert_resolved_v1',
      WHATSAPP_TEMPLATE_LANGUAGE: 'en',
    })
    const alert = firing('HighErrorRate', {}, { description: 'Error rate\n\tis    12.5%   ', value: '0.125' })
    await alerting.dispatcher.ingest([alert], 'test')
    await alerting.tick()
    expect(ctx.fake.requests[0]!.body).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: ONCALL_DIGITS,
      type: 'template',
      template: {
        name: 'alert_firing_v1',
        language: { code: 'en' },
        components: [
          {
            type: 'body',
            parameters: [
              { type: 'text', text: 'CRITICAL' },
              { type: 'text', text: 'HighErrorRate' },
              { type: 'text', text: 'Error rate is 12.5%' },
              { type: 'text', text: '0.125' },
            ],
          },
        ],
      },
      biz_opaque_callback_data: expect.stringMatching(/^[0-9a-f-]{36}$/),
    })
    await alerting.dispatcher.ingest([{ ...alert, status: 'resolved', annotations: { summary: '' } }], 'test')
    await alerting.tick()
    const resolved = ctx.fake.requests[1]!.body.template as {
      name: string
      components: Array<{ parameters: Array<{ text: string }> }>
    }
    expect(resolved.name).toBe('alert_resolved_v1')
    expect(resolved.components[0]!.parameters.map((p) => p.text)).toEqual([
      'CRITICAL',
      'HighErrorRate',
      '-',
      '-',
    ])
  })

  test('a firing alert links its absolute runbook_url; a relative one is left out', () => {
    const at = { fingerprint: 'c0ffee0000000001', startsAt: new Date('2026-03-02T09:55:00Z') }
    const labels = { alertname: 'DatabaseDown', severity: 'critical' }
    const url = 'https://docs.example.com/ops/runbooks/alerts.md#databasedown'
    const linked = notifiedAlert(
      { ...at, labels, annotations: { description: 'db down', runbook_url: url } },
      'firing',
    )
    expect(
      renderText({ replies: [], alerts: [{ ...linked, transition: 'firing' }], truncatedAlerts: 0 }),
    ).toBe(`🔔 *CRITICAL ALERT*: DatabaseDown\ndb down\nRunbook: ${url}\nref: c0ffee0000000001`)
    const relative = notifiedAlert(
      {
        ...at,
        labels,
        annotations: { description: 'db down', runbook_url: 'ops/runbooks/alerts.md#databasedown' },
      },
      'firing',
    )
    expect(
      renderText({ replies: [], alerts: [{ ...relative, transition: 'firing' }], truncatedAlerts: 0 }),
    ).toBe('🔔 *CRITICAL ALERT*: DatabaseDown\ndb down\nref: c0ffee0000000001')
  })

  test('sanitizeTemplateParameter: no newlines, tabs, 4+ spaces; never empty; capped', () => {
    expect(sanitizeTemplateParameter('a\nb\tc    d')).toBe('a b c d')
    expect(sanitizeTemplateParameter('   ')).toBe('-')
    expect(sanitizeTemplateParameter(undefined)).toBe('-')
    expect(sanitizeTemplateParameter('x'.repeat(50), 10)).toBe(`${'x'.repeat(9)}…`)
  })

  test('text is capped at 4096 characters; names that do not fit are counted, not dropped', () => {
    const alerts = Array.from({ length: 30 }, (_, i) => ({
      fingerprint: `${i}`.padStart(16, '0'),
      startsAt: '2026-03-02T09:55:00.000Z',
      alertname: `A${String(i).padStart(2, '0')}`,
      severity: 'critical',
      transition: 'firing' as const,
      detail: 'd'.repeat(300),
    }))
    const body = renderText({ replies: [], alerts, truncatedAlerts: 0 })
    expect(body.length).toBeLessThanOrEqual(4096)
    expect(body).toStartWith('🔔 *30 alerts firing*: 30 critical')
    const listed = body.split('\n').filter((line) => line.startsWith('• ')).length
    const rest = /…and (\d+) more alerts under (\d+) more names/.exec(body)
    expect(rest).not.toBeNull()
    expect(listed + Number(rest![1])).toBe(30)
  })

  test('phone numbers go out as international digits', () => {
    expect(toWhatsAppNumber('+254 711 000 200')).toBe('254711000200')
  })

  test('every send writes one audit line with the number masked', async () => {
    const { alerting, logs } = alertingFor(ctx.database, ctx.fake.url)
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    await alerting.tick()
    const audit = logs.lines.filter((l) => String(l.msg).startsWith('Alert sent to'))
    expect(audit).toHaveLength(1)
    expect(audit[0]).toMatchObject({
      msg: 'Alert sent to …0001: HighErrorRate (critical)',
      waMessageId: 'wamid.1',
      recipientMasked: '…0001',
    })
    expect(logs.text()).not.toContain('254700000001')
    expect(logs.text()).not.toContain('EAAG-test-token-secret')
  })

  test("a real wamid, which carries the recipient's number in base64, is logged without it", async () => {
    // As Meta's ids are made: `wamid.` + base64 of a record that starts with the number.
    const wamid = `wamid.${btoa(`\x1c\x18\x0c${ONCALL_DIGITS}\x15\x02\x00\x11\x18\x129A3CA5B3D4CD6E67E7\x00`)}`
    expect(atob(wamid.slice(6))).toContain(ONCALL_DIGITS)
    const { alerting, logs } = alertingFor(ctx.database, ctx.fake.url)
    ctx.fake.answer({ kind: 'ok', id: wamid })
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    await alerting.tick()
    await alerting.receipts.apply({ id: wamid, status: 'failed', errorCode: 131026 })
    expect((await outbox())[0]).toMatchObject({ status: 'failed', waMessageId: wamid })
    const logged = logs.lines.filter((l) => l.waMessageId !== undefined).map((l) => String(l.waMessageId))
    expect(logged).toHaveLength(2)
    for (const id of logged) {
      expect(id).toEndWith(wamid.slice(-12))
      expect(id).not.toContain(wamid.slice(6, 26))
    }
    // A variant no base64 decoder takes (URL-safe, unpadded) is masked all the same.
    const variant = wamid.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')
    expect(loggableMessageId(variant)).toBe(`wamid.…${variant.slice(-12)}`)
    expect(loggableMessageId('wamid.7')).toBe('wamid.7')
  })

  test('a phone number in an alert name, severity, group key or tenant_id label reaches no log line', async () => {
    const { alerting, logs } = alertingFor(ctx.database, ctx.fake.url)
    const phone = '+254 733 123 456'
    const alert = firing(`Call ${phone}`, { severity: `page ${phone}`, tenant_id: phone })
    await alerting.dispatcher.ingest([alert], 'alertmanager', undefined, {
      invalidAlerts: 1,
      firstInvalid: 'alerts[1].labels',
      groupKey: `{}:{alertname="Call ${phone}"}`,
    })
    await alerting.tick()
    expect(
      await alerting.receipts.apply({
        id: 'wamid.1',
        status: 'failed',
        errorCode: 131026,
        errorMessage: 'undeliverable',
      }),
    ).toBe(1)
    const messages = logs.lines.map((l) => String(l.msg))
    for (const expected of [
      'skipped malformed alerts in a notification; the others are taken',
      'alert names no known tenant in its tenant_id label; notifying on-call only',
      'Alert sent to …0001: Call [phone] (page [phone])',
      'WhatsApp reports the alert message failed',
    ]) {
      expect(messages).toContain(expected)
    }
    expect(logs.text()).not.toContain('733 123 456')
    expect(logs.text().replaceAll(/\D/g, '')).not.toContain('733123456')
  })

  test('a status whose biz_opaque_callback_data is 36 uuid-like characters but no uuid matches nothing, and throws nothing', async () => {
    const { alerting } = alertingFor(ctx.database, ctx.fake.url)
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    for (const callbackData of [
      '-'.repeat(36),
      'abcdef01-2345-6789-abcd-ef0123456789-'.slice(1),
      '0'.repeat(36),
    ]) {
      expect(await alerting.receipts.apply({ id: 'wamid.unknown', status: 'sent', callbackData })).toBe(0)
    }
  })

  test('without credentials the log transport shows the message and marks it sent', async () => {
    const { alerting, logs } = alertingFor(ctx.database, undefined)
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    await alerting.tick()
    const line = logs.lines.find((l) => l.transport === 'log')
    expect(line?.message).toBe(
      `🔔 *CRITICAL ALERT*: HighErrorRate\nHighErrorRate description\nref: ${firing('HighErrorRate').fingerprint}`,
    )
    const [row] = await outbox()
    expect(row!.status).toBe('sent')
    expect(row!.waMessageId).toMatch(/^log\./)
  })

  test('the log transport filters phone numbers and secrets from the message it logs', async () => {
    const { alerting, logs } = alertingFor(ctx.database, undefined)
    const alert = firing(
      'PaymentFailed',
      {},
      { description: 'Customer +254 711 000 999 got token=sk_live_abcdef123456' },
    )
    await alerting.dispatcher.ingest([alert], 'test')
    await alerting.tick()
    expect(logs.lines.find((l) => l.transport === 'log')?.message).toBe(
      `🔔 *CRITICAL ALERT*: PaymentFailed\nCustomer [phone] got token=[Filtered]\nref: ${alert.fingerprint}`,
    )
    expect(logs.text()).not.toContain('711 000 999')
    expect(logs.text()).not.toContain('abcdef123456')
  })
})

describe('retries and failures', () => {
  test.each([
    [130429, 400, 'throttled'],
    [131056, 429, 'throttled'],
    [131000, 500, 'retry'],
    [131016, 503, 'retry'],
    [1, 400, 'retry'],
    [2, 503, 'retry'],
    [4, 400, 'throttled'],
    [80007, 400, 'throttled'],
    [131047, 400, 'window-closed'],
    [100, 400, 'permanent'],
    [131026, 400, 'permanent'],
    [132000, 400, 'permanent'],
    [132012, 400, 'permanent'],
    [190, 401, 'unauthorized'],
    [0, 401, 'unauthorized'],
    [3, 500, 'unauthorized'],
    [10, 403, 'unauthorized'],
    [200, 403, 'unauthorized'],
    [299, 403, 'unauthorized'],
    [131005, 403, 'unauthorized'],
    [131031, 400, 'permanent'],
    [undefined, 502, 'retry'],
    [undefined, 429, 'throttled'],
    [undefined, 400, 'permanent'],
  ])('code %p (HTTP %p) is %s', (code, status, expected) => {
    expect(classifyError(code, status)).toBe(expected as never)
  })

  test('backoff doubles from the base, capped at 5 minutes, with jitter in [50%, 100%]', () => {
    expect([1, 2, 3, 4].map((n) => backoffMs(n, 2000, () => 1))).toEqual([2000, 4000, 8000, 16000])
    expect(backoffMs(20, 2000, () => 1)).toBe(300_000)
    expect(backoffMs(1, 2000, () => 0)).toBe(1000)
  })

  test('temporary errors are retried with backoff until delivered, never twice', async () => {
    const { alerting, clock, events } = alertingFor(ctx.database, ctx.fake.url)
    ctx.fake.answer(
      { kind: 'error', httpStatus: 500, code: 131000 },
      { kind: 'error', httpStatus: 503, code: 131016 },
      { kind: 'delay', ms: 900 }, // longer than WHATSAPP_TIMEOUT_MS=500: no answer
      { kind: 'disconnect' },
    )
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    const delays: number[] = []
    for (let i = 0; i < 5; i++) {
      await alerting.tick()
      const [row] = await outbox()
      if (row!.status === 'sent') break
      delays.push(row!.nextAttemptAt.getTime() - clock.now().getTime())
      clock.set(row!.nextAttemptAt.toISOString())
    }
    expect(delays).toEqual([2000, 4000, 8000, 16000])
    const [row] = await outbox()
    // The timed-out call may still be accepted by the fake after we gave up: the one case where a
    // duplicate can happen, because the API gave no answer in time.
    expect(row).toMatchObject({ status: 'sent', attempts: 5, lastErrorCode: null })
    expect(row!.waMessageId).toMatch(/^wamid\.[12]$/)
    expect(ctx.fake.requests).toHaveLength(5)
    expect(events.filter((e) => e.startsWith('sent:'))).toEqual([
      'sent:retry',
      'sent:retry',
      'sent:retry',
      'sent:retry',
      'sent:sent',
    ])
  })

  test('after WHATSAPP_MAX_ATTEMPTS the message is failed with the last error', async () => {
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url, { WHATSAPP_MAX_ATTEMPTS: '2' })
    ctx.fake.answer(
      { kind: 'error', httpStatus: 500, code: 131000 },
      { kind: 'error', httpStatus: 500, code: 131000 },
    )
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    await alerting.tick()
    clock.advance(10_000)
    await alerting.tick()
    const [row] = await outbox()
    expect(row).toMatchObject({ status: 'failed', attempts: 2, lastErrorCode: '131000' })
    clock.advance(600_000)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(2)
  })

  test('a permanent error fails at once with the code; an expired token holds the message, logs an error and sets the gauge', async () => {
    const { alerting, events, logs } = alertingFor(ctx.database, ctx.fake.url)
    ctx.fake.answer({ kind: 'error', httpStatus: 400, code: 131026, message: 'Message undeliverable' })
    await alerting.dispatcher.ingest([firing('A')], 'test')
    await alerting.tick()
    expect((await outbox())[0]).toMatchObject({
      status: 'failed',
      attempts: 1,
      lastErrorCode: '131026',
      lastErrorMessage: 'Message undeliverable',
    })
    ctx.fake.answer({
      kind: 'error',
      httpStatus: 401,
      code: 190,
      message: 'Error validating access token: Session has expired',
    })
    await alerting.dispatcher.ingest([firing('B')], 'test')
    await alerting.tick()
    const b = (await outbox()).find((r) => r.alertname === 'B')!
    expect(b).toMatchObject({ status: 'pending', attempts: 0, lastErrorCode: '190' })
    expect(events).toContain('token:false')
    expect(
      logs.lines.some(
        (l) => l.level === 'error' && String(l.msg).startsWith('WhatsApp access token expired'),
      ),
    ).toBe(true)
  })

  test('131047 on free text is retried once as the template when one is configured', async () => {
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url, {
      WHATSAPP_TEMPLATE_FIRING: 'alert_firing_v1',
    })
    // The on-call wrote to us an hour ago: the window looks open, so free text is tried first.
    await alerting.dispatcher.handleInbound({
      from: ONCALL_DIGITS,
      text: 'hello',
      id: 'wamid.in1',
      at: new Date(clock.now().getTime() - 3_600_000),
    })
    ctx.fake.answer({ kind: 'error', httpStatus: 400, code: 131047, message: 'Re-engagement message' })
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    await alerting.tick()
    await alerting.tick()
    expect(ctx.fake.requests.map((r) => r.body.type)).toEqual(['text', 'template'])
    expect((await outbox())[0]).toMatchObject({ status: 'sent', mode: 'template' })
  })
})

describe('crash safety', () => {
  test('a crash after enqueue, before sending: the next process sends it once', async () => {
    const first = alertingFor(ctx.database, ctx.fake.url)
    await first.alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    // "crash": the first process never ticks.
    const second = alertingFor(ctx.database, ctx.fake.url)
    await second.alerting.tick()
    await second.alerting.tick()
    expect(ctx.fake.requests).toHaveLength(1)
  })

  test('a crash while sending with no answer (row left in sending): retried after the lease', async () => {
    const first = alertingFor(ctx.database, ctx.fake.url, { ALERT_SEND_LEASE: '1m' })
    await first.alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    // Simulate the dead sender: the claim committed, the HTTP call never completed.
    await ctx.database.db
      .update(alertOutbox)
      .set({ status: 'sending', leaseUntil: new Date(first.clock.now().getTime() + 60_000), attempts: 1 })
    const second = alertingFor(ctx.database, ctx.fake.url)
    await second.alerting.tick()
    expect(ctx.fake.requests).toHaveLength(0)
    second.clock.advance(61_000)
    await second.alerting.tick()
    expect(ctx.fake.requests).toHaveLength(1)
    expect((await outbox())[0]).toMatchObject({ status: 'sent', attempts: 2 })
  })

  test('a crash after Meta accepted but before the commit: the sent status webhook (callback data) prevents a re-send', async () => {
    const first = alertingFor(ctx.database, ctx.fake.url)
    await first.alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    await first.alerting.tick()
    // Undo the commit of the send, as if the process died right after the HTTP answer.
    const [row] = await outbox()
    await ctx.database.db
      .update(alertOutbox)
      .set({ status: 'sending', waMessageId: null, sentAt: null })
      .where(eq(alertOutbox.id, row!.id))
    const second = alertingFor(ctx.database, ctx.fake.url)
    await second.alerting.receipts.apply({ id: 'wamid.1', status: 'sent', callbackData: row!.groupId! })
    second.clock.advance(120_000)
    await second.alerting.tick()
    expect(ctx.fake.requests).toHaveLength(1)
    expect((await outbox())[0]).toMatchObject({ status: 'sent', waMessageId: 'wamid.1' })
  })
})

/** A WhatsApp message to the service, as the webhook hands it over (from on-call by default). */
function say(
  alerting: ReturnType<typeof alertingFor>['alerting'],
  clock: ReturnType<typeof alertingFor>['clock'],
  text: string,
  id: string,
  from = ONCALL_DIGITS,
) {
  return alerting.dispatcher.handleInbound({ from, text, id, at: clock.now() })
}

describe('commands', () => {
  test('parseCommand', () => {
    expect(parseCommand('ack')).toEqual({ kind: 'ack', fingerprint: undefined })
    expect(parseCommand('ACK:0123456789abcdef')).toEqual({ kind: 'ack', fingerprint: '0123456789abcdef' })
    expect(parseCommand('silence 2h')).toEqual({
      kind: 'silence',
      durationMs: 7_200_000,
      fingerprint: undefined,
    })
    expect(parseCommand('SILENCE 30m 0123456789abcdef')).toEqual({
      kind: 'silence',
      durationMs: 1_800_000,
      fingerprint: '0123456789abcdef',
    })
    expect(parseCommand('status')).toEqual({ kind: 'status' })
    // As phones send them: punctuated, WhatsApp-formatted, full-width, with invisible marks,
    // from a Turkish keyboard. Each was ignored in silence.
    for (const text of ['STATUS.', '*STATUS*', '_status_', 'ＳＴＡＴＵＳ', '\u200bSTATUS\u200e', '`Status?`'])
      expect(parseCommand(text)).toEqual({ kind: 'status' })
    for (const text of ['ACK!', 'Ack.', '*ACK*', 'ＡＣＫ', '\u2066ACK\u2069'])
      expect(parseCommand(text)).toEqual({ kind: 'ack', fingerprint: undefined })
    expect(parseCommand('*ACK 0123456789ABCDEF*')).toEqual({ kind: 'ack', fingerprint: '0123456789abcdef' })
    expect(parseCommand('ack ０１２３４５６７８９abcdef.')).toEqual({
      kind: 'ack',
      fingerprint: '0123456789abcdef',
    })
    for (const text of ['SİLENCE 2h', 'sılence 2h!', '*SILENCE 2h*'])
      expect(parseCommand(text)).toEqual({ kind: 'silence', durationMs: 7_200_000, fingerprint: undefined })
    for (const text of ['hello', 'ack ack ack', 'status please', 'acknowledged', '*hello*', '!'])
      expect(parseCommand(text)).toBeUndefined()
    // A command verb with an argument that is not one: told how, never widened to every alert.
    for (const text of [
      'ACK 111100000000001',
      'ACK:zzzz',
      'ack 0123456789abcdef0',
      'ACK 0123456789abcdeg',
      'ACK:',
      ' ack : ',
    ])
      expect(parseCommand(text)).toEqual({ kind: 'usage', reply: ACK_USAGE })
    for (const text of [
      'silence forever',
      'SILENCE 30d',
      'SILENCE abc',
      'SILENCE -5m',
      'SILENCE 0s',
      'SILENCE 99999999h',
      'SILENCE 2h 123',
      'SILENCE',
      'SILENCE 2h 0123456789abcdef please',
      'SILENCE 2h for the night',
      'SILENCE 500ms',
      'SILENCE 1ms',
      'SILENCE 999ms',
      'SILENCE:2h:',
      'silence 2h :',
    ])
      expect(parseCommand(text)).toEqual({ kind: 'usage', reply: SILENCE_USAGE })
    expect(parseCommand('SILENCE 7d')).toEqual({
      kind: 'silence',
      durationMs: 7 * 86_400_000,
      fingerprint: undefined,
    })
    expect(parseCommand('SILENCE 1s')).toEqual({ kind: 'silence', durationMs: 1000, fingerprint: undefined })
    expect(parseCommand('SILENCE:2h')).toEqual({
      kind: 'silence',
      durationMs: 7_200_000,
      fingerprint: undefined,
    })
    expect(parseCommand('SILENCE:2h:0123456789ABCDEF')).toEqual({
      kind: 'silence',
      durationMs: 7_200_000,
      fingerprint: '0123456789abcdef',
    })
  })

  test('an ACK or SILENCE naming a ref that is not one acknowledges and silences nothing, and says why', async () => {
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url, { ALERT_REPEAT_INTERVAL: '1h' })
    await alerting.dispatcher.ingest(
      [firing('A', {}, {}, '1111000000000001'), firing('B', {}, {}, '1111000000000002')],
      'test',
    )
    await alerting.tick()
    await say(alerting, clock, 'ACK 111100000000001', 'wamid.in.typo')
    await say(alerting, clock, 'ACK:zzzz', 'wamid.in.button')
    await say(alerting, clock, 'SILENCE 2h 11110000000001', 'wamid.in.silence')
    await alerting.tick()
    expect(textsTo(ONCALL_DIGITS).slice(1)).toEqual([[ACK_USAGE, ACK_USAGE, SILENCE_USAGE].join('\n\n')])
    const rows = await ctx.database.db.select().from(alertStates)
    expect(rows.map((r) => [r.alertname, r.ackedAt, r.silencedUntil])).toEqual([
      ['A', null, null],
      ['B', null, null],
    ])
  })

  test('ACK stops repeats until the alert resolves; the reply goes out as text', async () => {
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url, { ALERT_REPEAT_INTERVAL: '1h' })
    const alert = firing('HighErrorRate')
    await alerting.dispatcher.ingest([alert], 'test')
    await alerting.tick()
    await say(alerting, clock, 'ACK', 'wamid.in.ack')
    await say(alerting, clock, 'ACK', 'wamid.in.ack') // re-delivered webhook
    await alerting.tick()
    expect(textsTo(ONCALL_DIGITS).slice(1)).toEqual([
      'Acknowledged: HighErrorRate. No more reminders until resolved.',
    ])
    clock.advance(3 * 3_600_000)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(2)
    await alerting.dispatcher.ingest([{ ...alert, status: 'resolved' }], 'test')
    await alerting.tick()
    expect(textsTo(ONCALL_DIGITS)[2]).toStartWith('✅ *RESOLVED*: HighErrorRate')
  })

  test("a sender's wa_id in another spelling of a configured number (Brazil, Mexico) is that number", async () => {
    expect(whatsAppIdNumbers('551187654321')).toEqual(['551187654321', '5511987654321'])
    expect(whatsAppIdNumbers('5511987654321')).toEqual(['5511987654321', '551187654321'])
    expect(whatsAppIdNumbers('5215512345678')).toEqual(['5215512345678', '525512345678'])
    expect(whatsAppIdNumbers('5491112345678')).toEqual(['5491112345678', '541112345678'])
    expect(whatsAppIdNumbers('254700000001')).toEqual(['254700000001'])
    expect(whatsAppIdNumbers('5511312345678')).toEqual(['5511312345678'])
    const brazil = '5511987654321'
    const mexico = '525512345678'
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url, {
      ALERT_PHONES: `+${brazil},+${mexico}`,
      ALERT_REPEAT_INTERVAL: '1h',
    })
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    await alerting.tick()
    // Each owner's account predates their number's current form: WhatsApp sends the old one.
    await say(alerting, clock, 'ACK', 'wamid.in.br', '551187654321')
    await say(alerting, clock, 'STATUS', 'wamid.in.mx', '5215512345678')
    await say(alerting, clock, 'STATUS', 'wamid.in.stranger', '5215599999999')
    await alerting.tick()
    expect(textsTo(brazil).slice(1)).toEqual([
      'Acknowledged: HighErrorRate. No more reminders until resolved.',
    ])
    expect(textsTo(mexico).slice(1)).toHaveLength(1)
    expect(textsTo(mexico)[1]).toStartWith('Firing now (1):')
    expect(ctx.fake.requests).toHaveLength(4)
    const contacts = await ctx.database.db.select().from(whatsappContacts).orderBy(whatsappContacts.phone)
    expect(contacts.map((c) => c.phone)).toEqual([mexico, brazil])
  })

  test('ACK and SILENCE without a ref reach only alerts sent to the number, not a warning quiet hours still hold', async () => {
    // 10:00 UTC = 13:00 in Nairobi; quiet 12:00–14:30 local: Crit goes out, Warn waits.
    const tenantId = await tenantWith({ owner: '+254711000200', quiet: ['12:00', '14:30'] })
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url, {
      ALERT_ONCALL_GETS_TENANT_ALERTS: 'false',
    })
    await alerting.dispatcher.ingest(
      [
        firing('Warn', { tenant_id: tenantId, severity: 'warning' }, {}, '00000000000000a1'),
        firing('Crit', { tenant_id: tenantId }, {}, '00000000000000c1'),
      ],
      'test',
    )
    await alerting.tick()
    for (const [text, id] of [
      ['STATUS', 'wamid.in.st'],
      ['SILENCE 1h', 'wamid.in.si'],
      ['ACK', 'wamid.in.ack'],
    ] as const) {
      await say(alerting, clock, text, id, '254711000200')
      await alerting.tick()
    }
    expect(textsTo('254711000200').slice(1)).toEqual([
      // STATUS answers with all that fires for the number, the held warning included.
      'Firing now (2):\n' +
        '• Warn [warning] since 2026-03-02T09:55:00.000Z — ref 00000000000000a1\n' +
        '• Crit [critical] since 2026-03-02T09:55:00.000Z — ref 00000000000000c1',
      'Silenced until 2026-03-02T11:00:00.000Z: Crit.',
      'Acknowledged: Crit. No more reminders until resolved.',
    ])
    const byName = Object.fromEntries(
      (await ctx.database.db.select().from(alertStates)).map((s) => [
        s.alertname,
        [s.ackedAt, s.silencedUntil],
      ]),
    )
    expect(byName.Warn).toEqual([null, null])
    // Named by its ref (as STATUS shows it), the held warning is the sender's choice.
    await say(alerting, clock, 'ACK 00000000000000a1', 'wamid.in.ref', '254711000200')
    await alerting.tick()
    expect(textsTo('254711000200').at(-1)).toBe('Acknowledged: Warn. No more reminders until resolved.')
  })

  test('a bare ACK does not reach a new episode of an alert held back, though the number was told of an earlier one', async () => {
    const tenantId = await tenantWith({ owner: '+254711000200', quiet: ['12:00', '14:30'] })
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url, {
      ALERT_ONCALL_GETS_TENANT_ALERTS: 'false',
    })
    // 08:00 UTC = 11:00 in Nairobi, before the quiet hours: the first episode goes out.
    clock.set('2026-03-02T08:00:00Z')
    const first = { ...firing('Warn', { tenant_id: tenantId, severity: 'warning' }), startsAt: clock.now() }
    await alerting.dispatcher.ingest([first], 'test')
    await alerting.tick()
    clock.set('2026-03-02T09:00:00Z')
    await alerting.dispatcher.ingest([{ ...first, status: 'resolved', endsAt: clock.now() }], 'test')
    await alerting.tick()
    // 10:00 UTC = 13:00, inside them: the second episode waits until 14:30.
    clock.set('2026-03-02T10:00:00Z')
    await alerting.dispatcher.ingest([{ ...first, startsAt: clock.now() }], 'test')
    await alerting.tick()
    expect(textsTo('254711000200')).toHaveLength(2)
    await say(alerting, clock, 'ACK', 'wamid.in.ack', '254711000200')
    await alerting.tick()
    expect(textsTo('254711000200').at(-1)).toBe('No firing alert to apply that to.')
    expect((await ctx.database.db.select().from(alertStates))[0]!.ackedAt).toBeNull()
  })

  test('SILENCE 2h silences repeats for two hours; STATUS lists what fires; strangers are ignored', async () => {
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url, { ALERT_REPEAT_INTERVAL: '1h' })
    const alert = firing('HighErrorRate')
    await alerting.dispatcher.ingest([alert], 'test')
    await alerting.tick()
    await say(alerting, clock, 'SILENCE 2h', 'wamid.in.s')
    await say(alerting, clock, 'STATUS', 'wamid.in.x', '254799999999')
    await alerting.tick()
    expect(textsTo(ONCALL_DIGITS)[1]).toBe('Silenced until 2026-03-02T12:00:00.000Z: HighErrorRate.')
    expect(ctx.fake.requests.map((r) => r.body.to)).not.toContain('254799999999')
    clock.advance(90 * 60_000)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(2)
    clock.advance(31 * 60_000)
    await alerting.tick()
    expect(textsTo(ONCALL_DIGITS)[2]).toStartWith('🔔 *CRITICAL ALERT*: HighErrorRate (still firing)')
    await say(alerting, clock, 'status', 'wamid.in.st')
    await alerting.tick()
    expect(textsTo(ONCALL_DIGITS)[3]).toBe(
      `Firing now (1):\n• HighErrorRate [critical] since 2026-03-02T09:55:00.000Z — ref ${alert.fingerprint}`,
    )
  })
})

test('pending gauge reports outbox rows waiting', async () => {
  const { alerting, events } = alertingFor(ctx.database, ctx.fake.url)
  ctx.fake.answer({ kind: 'error', httpStatus: 500, code: 131000 })
  await alerting.dispatcher.ingest([firing('A')], 'test')
  await alerting.tick()
  expect(events.filter((e) => e.startsWith('pending:'))).toEqual(['pending:1'])
  expect((await outbox()).map((r) => r.status)).toEqual(['pending'])
})
