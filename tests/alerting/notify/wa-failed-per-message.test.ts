/**
 * A message can carry several outbox rows (everything due for one recipient goes out as one
 * message), and the sender counts whatsapp_messages_sent_total once per message. A `failed`
 * status Meta reports later is one failed message too: counted once, logged once, however
 * many rows it moves, and not again when Meta re-delivers it.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { alertOutbox } from '../../../src/db/schema.ts'
import {
  alertingApp,
  alertTestContext,
  firing,
  ONCALL,
  SIGNED_WEBHOOK_ENV,
  whatsappWebhook,
} from '../../helpers/alerts.ts'

// A fresh database and app per test: well over bun's 5 s default.
setDefaultTimeout(60_000)

const ctx = alertTestContext()

/** The outbox rows, by alert name: what a status moved. */
const outboxRows = async () =>
  (
    await ctx.database.db
      .select({
        alertname: alertOutbox.alertname,
        status: alertOutbox.status,
        waMessageId: alertOutbox.waMessageId,
        lastErrorCode: alertOutbox.lastErrorCode,
      })
      .from(alertOutbox)
  ).sort((a, b) => a.alertname.localeCompare(b.alertname))

/** Meta's `failed` status of wamid.1 with one error, as its webhook delivers it. */
const failedStatus = (code: number, title: string) =>
  JSON.stringify(
    whatsappWebhook({
      statuses: [
        {
          id: 'wamid.1',
          status: 'failed',
          timestamp: '1772445600',
          recipient_id: ONCALL.slice(1),
          errors: [{ code, title, message: title }],
        },
      ],
    }),
  )

/** The webhook's answer for a delivery that changed `statuses` rows. */
const answered = (statuses: number) => ({
  received: true,
  statuses,
  messages: 0,
  invalid: 0,
  otherNumber: 0,
  withoutNumber: 0,
})

/** Delivers `body` twice, as Meta re-delivers it: the first changes both rows, the second nothing. */
async function deliveredTwice(postWhatsapp: (body: string) => Promise<Response>, body: string) {
  expect(await (await postWhatsapp(body)).json()).toEqual(answered(2))
  expect(await (await postWhatsapp(body)).json()).toEqual(answered(0))
}

describe('a late failed status of a message of two rows', () => {
  test('131026: both rows failed, one failed message counted and logged, none more on re-delivery', async () => {
    const { alerting, postWhatsapp, events, logs } = await alertingApp(ctx, SIGNED_WEBHOOK_ENV)
    // Two notifications before one tick: two rows, one message to on-call.
    await alerting.dispatcher.ingest([firing('A', {}, {}, '00000000000000a1')], 'test')
    await alerting.dispatcher.ingest([firing('B', {}, {}, '00000000000000b1')], 'test')
    await alerting.tick()
    expect(await outboxRows()).toEqual([
      { alertname: 'A', status: 'sent', waMessageId: 'wamid.1', lastErrorCode: null },
      { alertname: 'B', status: 'sent', waMessageId: 'wamid.1', lastErrorCode: null },
    ])
    await deliveredTwice(postWhatsapp, failedStatus(131026, 'Message undeliverable'))
    expect(await outboxRows()).toEqual([
      { alertname: 'A', status: 'failed', waMessageId: 'wamid.1', lastErrorCode: '131026' },
      { alertname: 'B', status: 'failed', waMessageId: 'wamid.1', lastErrorCode: '131026' },
    ])
    expect(events.filter((e) => e.startsWith('sent:'))).toEqual(['sent:sent', 'sent:failed'])
    expect(
      logs.lines
        .filter((l) => l.msg === 'WhatsApp reports the alert message failed')
        .map((l) => ({ waMessageId: l.waMessageId, code: l.code, alertnames: l.alertnames })),
    ).toEqual([{ waMessageId: 'wamid.1', code: 131026, alertnames: ['A', 'B'] }])
  })
})

describe('a late 131047 on a free-text message, with the firing template configured', () => {
  test('re-queued as the template: one retry counted and logged, as the sender counts it; none more on re-delivery', async () => {
    const { alerting, postWhatsapp, events, logs, clock } = await alertingApp(ctx, {
      ...SIGNED_WEBHOOK_ENV,
      WHATSAPP_TEMPLATE_FIRING: 'alert_firing_v1',
    })
    // On-call wrote to us an hour ago: the window looks open, so free text goes first.
    await alerting.dispatcher.handleInbound({
      from: ONCALL.slice(1),
      text: 'hello',
      id: 'wamid.in.1',
      at: new Date(clock.now().getTime() - 3_600_000),
    })
    await alerting.dispatcher.ingest([firing('A', {}, {}, '00000000000000a1')], 'test')
    await alerting.dispatcher.ingest([firing('B', {}, {}, '00000000000000b1')], 'test')
    await alerting.tick()
    await deliveredTwice(postWhatsapp, failedStatus(131047, 'Re-engagement message'))
    expect(await outboxRows()).toEqual([
      { alertname: 'A', status: 'pending', waMessageId: null, lastErrorCode: '131047' },
      { alertname: 'B', status: 'pending', waMessageId: null, lastErrorCode: '131047' },
    ])
    expect(events.filter((e) => e.startsWith('sent:'))).toEqual(['sent:sent', 'sent:retry'])
    expect(
      logs.lines
        .filter((l) => l.msg === 'WhatsApp window closed; retrying as a template')
        .map((l) => ({ waMessageId: l.waMessageId, code: l.code, alertnames: l.alertnames })),
    ).toEqual([{ waMessageId: 'wamid.1', code: 131047, alertnames: ['A', 'B'] }])
  })
})
