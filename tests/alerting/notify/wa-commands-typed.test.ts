import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { ACK_USAGE, parseCommand } from '../../../src/alerting/notify/dispatcher.ts'
import { alertOutbox, alertStates } from '../../../src/db/schema.ts'
import {
  alertingApp,
  alertTestContext,
  firing,
  ONCALL,
  SIGNED_WEBHOOK_ENV,
  whatsappWebhook,
} from '../../helpers/alerts.ts'

// Fresh databases and an app per test: well over bun's 5 s default.
setDefaultTimeout(60_000)

// Owners answer alert messages as they type to people: `ACK,`, `ack;`, `ACK 👍`, a swipe-reply
// `ok 👍`. Each was ignored in silence (or, `ok 👍`, not taken) while the owner believed the
// alert acknowledged.

const FROM = ONCALL.slice(1)
const FP_A = '000000000000000a'
const FP_B = '000000000000000b'
/** When the inbound messages below were written: the test clock's start, 2026-03-02T10:00:00Z. */
const AT = new Date('2026-03-02T10:00:00Z')
const TIMESTAMP = String(AT.getTime() / 1000)
const ctx = alertTestContext()

/** Alerts A and B sent to on-call in two messages, renamed `wamid.a` and `wamid.b`. */
async function setup() {
  const built = await alertingApp(ctx, SIGNED_WEBHOOK_ENV)
  await built.alerting.dispatcher.ingest([firing('A', {}, {}, FP_A)], 'test')
  await built.alerting.tick()
  await built.alerting.dispatcher.ingest([firing('B', {}, {}, FP_B)], 'test')
  await built.alerting.tick()
  const sent = await ctx.database.db.select().from(alertOutbox)
  expect(sent.map((r) => r.status)).toEqual(['sent', 'sent'])
  for (const row of sent)
    await ctx.database.db
      .update(alertOutbox)
      .set({ waMessageId: row.fingerprint === FP_A ? 'wamid.a' : 'wamid.b' })
      .where(eq(alertOutbox.id, row.id))
  const sentBefore = ctx.fake.requests.length
  /** Posts messages (from on-call unless they say otherwise), signed; resolves with the answer. */
  const inbound = async (...messages: Array<Record<string, unknown>>) => {
    const body = JSON.stringify(
      whatsappWebhook({
        messages: messages.map((m, i) => ({ from: FROM, id: `wamid.in.${i}`, timestamp: TIMESTAMP, ...m })),
      }),
    )
    const res = await built.postWhatsapp(body)
    expect(res.status).toBe(200)
    return res.json()
  }
  /** The texts of the replies the fake WhatsApp received after setup, sent by a tick. */
  const repliesSent = async () => {
    await built.alerting.tick()
    return ctx.fake.requests
      .slice(sentBefore)
      .map((r) => ({ to: r.body.to, text: (r.body.text as { body: string }).body }))
  }
  return { ...built, inbound, repliesSent }
}

const text = (body: string, context?: Record<string, unknown>) => ({
  type: 'text',
  text: { body },
  ...(context ? { context } : {}),
})
const quoting = (id: string) => ({ from: '15550001234', id })

/** Each alert's ack and silence, by fingerprint. */
const states = async () =>
  Object.fromEntries(
    (
      await ctx.database.db
        .select({
          fp: alertStates.fingerprint,
          ackedAt: alertStates.ackedAt,
          silencedUntil: alertStates.silencedUntil,
        })
        .from(alertStates)
    ).map((s) => [s.fp, { ackedAt: s.ackedAt, silencedUntil: s.silencedUntil }]),
  )
const NONE = { ackedAt: null, silencedUntil: null }
const ACKED = { ackedAt: AT, silencedUntil: null }

describe('parseCommand: a command as an owner types it', () => {
  test.each([
    ['ACK,', { kind: 'ack', fingerprint: undefined }],
    ['ack;', { kind: 'ack', fingerprint: undefined }],
    ['Ack.,', { kind: 'ack', fingerprint: undefined }],
    ['ACK 👍', { kind: 'ack', fingerprint: undefined }],
    ['ack👍🏽', { kind: 'ack', fingerprint: undefined }],
    ['👍 ACK', { kind: 'ack', fingerprint: undefined }],
    ['*ACK* ✅✅', { kind: 'ack', fingerprint: undefined }],
    ['ACK! 🙏', { kind: 'ack', fingerprint: undefined }],
    ['ACK,0123456789ABCDEF', { kind: 'ack', fingerprint: '0123456789abcdef' }],
    ['ACK 0123456789abcdef 👌', { kind: 'ack', fingerprint: '0123456789abcdef' }],
    ['status;', { kind: 'status' }],
    ['SILENCE 2h,', { kind: 'silence', durationMs: 7_200_000, fingerprint: undefined }],
    ['silence, 30m 👍', { kind: 'silence', durationMs: 1_800_000, fingerprint: undefined }],
    // Some word after ACK that is no ref: told the form, never silence, never every alert.
    ['ACK pls', { kind: 'usage', reply: ACK_USAGE }],
    ['ACK, thanks', { kind: 'usage', reply: ACK_USAGE }],
    ['ACK 👎', { kind: 'usage', reply: ACK_USAGE }],
    ['ACK ❤️', { kind: 'usage', reply: ACK_USAGE }],
    // A button payload that lost its ref still announces one.
    ['ACK:,', { kind: 'usage', reply: ACK_USAGE }],
  ])('%j', (typed, command) => {
    expect(parseCommand(typed)).toEqual(command as ReturnType<typeof parseCommand>)
  })

  test('an emoji alone, or not beside a command, is no command', () => {
    for (const typed of ['👍', '👍👍', ',', 'ok 👍', 'hello 👍', 'ack ack ack 👍'])
      expect(parseCommand(typed)).toBeUndefined()
  })
})

describe('typed commands through the signed webhook', () => {
  test('`ACK,`, unquoted, acknowledges every alert sent to on-call and says so', async () => {
    const { inbound, repliesSent } = await setup()
    expect(await inbound(text('ACK,'))).toEqual({
      received: true,
      statuses: 0,
      messages: 1,
      invalid: 0,
      otherNumber: 0,
    })
    expect(await states()).toEqual({ [FP_A]: ACKED, [FP_B]: ACKED })
    expect(await repliesSent()).toEqual([
      { to: FROM, text: 'Acknowledged: A, B. No more reminders until resolved.' },
    ])
  })

  test.each([
    'ack;',
    'ACK 👍',
    'ok 👍',
    'Ok, 👍🏽',
    'on it ✅',
  ])('%j quoting the message of A acknowledges A only', async (body) => {
    const { inbound, repliesSent } = await setup()
    await inbound(text(body, quoting('wamid.a')))
    expect(await states()).toEqual({ [FP_A]: ACKED, [FP_B]: NONE })
    expect(await repliesSent()).toEqual([
      { to: FROM, text: 'Acknowledged: A. No more reminders until resolved.' },
    ])
  })

  test('`ACK pls` and `ACK, thanks` are told the form; nothing is acknowledged', async () => {
    const { inbound, repliesSent } = await setup()
    await inbound(text('ACK pls'), text('ACK, thanks', quoting('wamid.b')))
    expect(await states()).toEqual({ [FP_A]: NONE, [FP_B]: NONE })
    // Replies due together to one number go as one message.
    expect(await repliesSent()).toEqual([{ to: FROM, text: `${ACK_USAGE}\n\n${ACK_USAGE}` }])
  })
})
