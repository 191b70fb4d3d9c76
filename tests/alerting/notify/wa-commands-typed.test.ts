import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { ACK_USAGE, parseCommand } from '../../../src/alerting/notify/dispatcher.ts'
import { readWhatsAppWebhook } from '../../../src/alerting/notify/whatsapp-payload.ts'
import { alertOutbox, alertStates, whatsappContacts } from '../../../src/db/schema.ts'
import {
  alertingApp,
  alertTestContext,
  firing,
  ONCALL,
  PHONE_NUMBER_ID,
  SIGNED_WEBHOOK_ENV,
  whatsappWebhook,
} from '../../helpers/alerts.ts'

// Fresh databases and an app per test: well over bun's 5 s default.
setDefaultTimeout(60_000)

// Owners answer alert messages as they type to people: `ACK,`, `ack;`, `ACK 👍`, a swipe-reply
// `ok 👍`. Each was ignored in silence (or, `ok 👍`, not taken) while the owner believed the
// alert acknowledged. A forwarded `ACK` is someone else's and is told so; a sender Meta names
// only by business-scoped user id is not a malformed item.

const FROM = ONCALL.slice(1)
const FP_A = '000000000000000a'
const FP_B = '000000000000000b'
/** When the inbound messages below were written: the test clock's start, 2026-03-02T10:00:00Z. */
const AT = new Date('2026-03-02T10:00:00Z')
const TIMESTAMP = String(AT.getTime() / 1000)
const BSUID = 'KE.1502576394655843'
/** What a forwarded command is answered, word for word. */
const FORWARDED_USAGE =
  'A forwarded message is not taken as a command: type ACK, SILENCE or STATUS yourself. Nothing was changed.'
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

  test('forwarded, a command is told it is not one; other text is still nothing', () => {
    for (const typed of ['ACK', 'ACK,', 'SILENCE 2h', 'STATUS', 'ACK 0123456789abcdef', 'ACK pls'])
      expect(parseCommand(typed, true)).toEqual({ kind: 'usage', reply: FORWARDED_USAGE })
    for (const typed of ['hello', 'ok', '👍']) expect(parseCommand(typed, true)).toBeUndefined()
    expect(parseCommand('ACK', false)).toEqual({ kind: 'ack', fingerprint: undefined })
  })
})

describe('readWhatsAppWebhook: forwarded messages and senders without a number', () => {
  const read = (message: Record<string, unknown>) =>
    readWhatsAppWebhook(
      JSON.stringify(
        whatsappWebhook({
          messages: [{ id: 'wamid.in.1', timestamp: '1764900000', type: 'text', ...message }],
        }),
      ),
      PHONE_NUMBER_ID,
    )
  const at = new Date(1_764_900_000_000)

  test('context.forwarded and context.frequently_forwarded mark the message forwarded, quoting nothing', () => {
    for (const context of [
      { forwarded: true },
      { frequently_forwarded: true },
      { forwarded: true, id: 'wamid.a' },
    ])
      expect(read({ from: FROM, text: { body: 'ACK' }, context })).toEqual({
        object: true,
        statuses: [],
        messages: [{ from: FROM, text: 'ACK', id: 'wamid.in.1', at, forwarded: true }],
        invalid: 0,
        otherNumber: 0,
      })
    // Meta's `false`s, and a reply's context, are not forwarded.
    expect(
      read({ from: FROM, text: { body: 'ACK' }, context: { forwarded: false, ...quoting('wamid.a') } }),
    ).toEqual({
      object: true,
      statuses: [],
      messages: [{ from: FROM, text: 'ACK', id: 'wamid.in.1', at, replyTo: 'wamid.a' }],
      invalid: 0,
      otherNumber: 0,
    })
  })

  test('a message naming its sender by BSUID only is counted apart, not malformed', () => {
    expect(read({ from_user_id: BSUID, text: { body: 'ACK' } })).toEqual({
      object: true,
      statuses: [],
      messages: [],
      invalid: 0,
      otherNumber: 0,
      withoutNumber: 1,
    })
    // With the number still given (Meta's contact book), the number is the sender.
    expect(read({ from: FROM, from_user_id: BSUID, text: { body: 'ACK' } })).toEqual({
      object: true,
      statuses: [],
      messages: [{ from: FROM, text: 'ACK', id: 'wamid.in.1', at }],
      invalid: 0,
      otherNumber: 0,
    })
    // Neither a number nor a BSUID: malformed, as before.
    expect(read({ text: { body: 'ACK' } })).toMatchObject({
      messages: [],
      invalid: 1,
      firstInvalid: 'entry.0.changes.0.value.messages.0.from — Expected a phone number string',
    })
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
      withoutNumber: 0,
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

  test('a forwarded ACK or STATUS changes nothing and is told why; a forwarded ok draws no answer', async () => {
    const { inbound, repliesSent } = await setup()
    await inbound(
      text('ACK', { forwarded: true }),
      text('STATUS', { frequently_forwarded: true, forwarded: true }),
      text('ok', { forwarded: true, id: 'wamid.a' }),
    )
    expect(await states()).toEqual({ [FP_A]: NONE, [FP_B]: NONE })
    expect(await repliesSent()).toEqual([{ to: FROM, text: `${FORWARDED_USAGE}\n\n${FORWARDED_USAGE}` }])
  })

  test('a message from a BSUID without a number is not malformed, applies nothing and logs no number', async () => {
    const { inbound, repliesSent, logs } = await setup()
    expect(await inbound({ ...text('ACK'), from: undefined, from_user_id: BSUID })).toEqual({
      received: true,
      statuses: 0,
      messages: 0,
      invalid: 0,
      otherNumber: 0,
      withoutNumber: 1,
    })
    expect(await states()).toEqual({ [FP_A]: NONE, [FP_B]: NONE })
    expect(await repliesSent()).toEqual([])
    expect(logs.lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([])
    expect(logs.text()).not.toContain(BSUID)
    expect(logs.text()).not.toContain(FROM)
    // Not a message of on-call's: their 24-hour window is where their last message left it.
    expect(
      await ctx.database.db.select().from(whatsappContacts).where(eq(whatsappContacts.phone, FROM)),
    ).toEqual([])
  })
})
