import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { and, eq } from 'drizzle-orm'
import { alertOutbox, alertOutboxAttempts, alertStates } from '../../../src/db/schema.ts'
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

// On-call answers an alert as people answer WhatsApp messages: a 👍 on it, a swipe-reply
// "ok" or "silence 1h". Meta sends a reaction as `reaction: { message_id, emoji }` and a reply
// with `context: { from, id }` (Meta's "Webhooks — messages"); either reaches exactly the
// alerts of the message answered, the outbox rows sent under that wamid to that number.

const OTHER = '+254700000002'
const ENV = {
  ...SIGNED_WEBHOOK_ENV,
  ALERT_PHONES: `${ONCALL},${OTHER}`,
}
const FROM = ONCALL.slice(1)
const FP_A = '000000000000000a'
const FP_B = '000000000000000b'
/** When the inbound messages below were written: the test clock's start, 2026-03-02T10:00:00Z. */
const AT = new Date('2026-03-02T10:00:00Z')
const TIMESTAMP = String(AT.getTime() / 1000)

const ctx = alertTestContext()

/**
 * Alert A sent alone, then alert B, each to on-call and to OTHER: on-call holds two alert
 * messages of one alert each. The fake numbers its wamids in the order the (concurrent) sends
 * reach it, so each sent row's wamid is renamed after what it holds: `wamid.a` and `wamid.b`
 * on-call's, `wamid.a.other` and `wamid.b.other` OTHER's.
 */
async function setup() {
  const built = await alertingApp(ctx, ENV)
  await built.alerting.dispatcher.ingest([firing('A', {}, {}, FP_A)], 'test')
  await built.alerting.tick()
  await built.alerting.dispatcher.ingest([firing('B', {}, {}, FP_B)], 'test')
  await built.alerting.tick()
  const sent = await ctx.database.db.select().from(alertOutbox)
  expect(sent.map((r) => r.status)).toEqual(['sent', 'sent', 'sent', 'sent'])
  for (const row of sent) {
    const name = `wamid.${row.fingerprint === FP_A ? 'a' : 'b'}${row.recipient === FROM ? '' : '.other'}`
    await ctx.database.db.update(alertOutbox).set({ waMessageId: name }).where(eq(alertOutbox.id, row.id))
  }
  /** Posts messages from on-call, signed as Meta signs them; resolves with the answer. */
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
  return { ...built, inbound }
}

const text = (body: string, quoted?: string) => ({
  type: 'text',
  text: { body },
  ...(quoted ? { context: { from: '15550001234', id: quoted } } : {}),
})
const reaction = (quoted: string, emoji?: string) => ({
  type: 'reaction',
  reaction: { message_id: quoted, ...(emoji === undefined ? {} : { emoji }) },
})

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
/** The reply rows: dedupe key, recipient, fingerprint and text. */
const replies = async () =>
  (await ctx.database.db.select().from(alertOutbox).where(eq(alertOutbox.transition, 'reply')))
    .map((r) => ({ key: r.dedupeKey, to: r.recipient, fingerprint: r.fingerprint, content: r.content }))
    .sort((a, b) => a.key.localeCompare(b.key))

/** Alert A acknowledged at AT, B untouched, and the one reply that says so to on-call. */
async function expectOnlyAAcknowledged() {
  expect(await states()).toEqual({ [FP_A]: { ackedAt: AT, silencedUntil: null }, [FP_B]: NONE })
  expect(await replies()).toEqual([
    {
      key: 'reply|wamid.in.0',
      to: FROM,
      fingerprint: FP_A,
      content: { text: 'Acknowledged: A. No more reminders until resolved.' },
    },
  ])
}

describe('a reaction to an alert message', () => {
  test.each([
    '👍',
    '👍🏽',
    '👍🏿',
    '✅',
    '👌🏻',
    '🙏',
    '🙏🏾',
  ])('%s acknowledges exactly the alerts of that message, once per message id', async (emoji) => {
    const { inbound, alerting } = await setup()
    const body = reaction('wamid.b', emoji)
    expect(await inbound(body)).toEqual({
      received: true,
      statuses: 0,
      messages: 1,
      invalid: 0,
      otherNumber: 0,
      withoutNumber: 0,
    })
    expect(await states()).toEqual({ [FP_A]: NONE, [FP_B]: { ackedAt: AT, silencedUntil: null } })
    const expected = [
      {
        key: 'reply|wamid.in.0',
        to: FROM,
        fingerprint: FP_B,
        content: { text: 'Acknowledged: B. No more reminders until resolved.' },
      },
    ]
    expect(await replies()).toEqual(expected)
    // Meta re-delivers the webhook: nothing more is applied or answered.
    await inbound(body)
    expect(await replies()).toEqual(expected)
    await alerting.tick()
    expect(
      ctx.fake.requests.slice(4).map((r) => [r.body.to, (r.body.text as { body: string }).body]),
    ).toEqual([[FROM, 'Acknowledged: B. No more reminders until resolved.']])
  })

  test('on a message of several alerts, acknowledges each of them and no other', async () => {
    const { inbound, alerting } = await setup()
    // C and D go out together: one message, one row, two alerts.
    const FP_C = '000000000000000c'
    const FP_D = '000000000000000d'
    await alerting.dispatcher.ingest([firing('C', {}, {}, FP_C), firing('D', {}, {}, FP_D)], 'test')
    await alerting.tick()
    const [row] = await ctx.database.db
      .select()
      .from(alertOutbox)
      .where(and(eq(alertOutbox.recipient, FROM), eq(alertOutbox.fingerprint, FP_C)))
    expect((row!.content.alerts as Array<{ fingerprint: string }>).map((a) => a.fingerprint)).toEqual([
      FP_C,
      FP_D,
    ])
    await inbound(reaction(row!.waMessageId!, '✅'))
    const acked = { ackedAt: AT, silencedUntil: null }
    expect(await states()).toEqual({ [FP_A]: NONE, [FP_B]: NONE, [FP_C]: acked, [FP_D]: acked })
    expect((await replies())[0]!.content).toEqual({
      text: 'Acknowledged: C, D. No more reminders until resolved.',
    })
  })

  test('another emoji, a removed reaction, or a 👍 on a message that is not our alert to this number does nothing and answers nothing', async () => {
    const { inbound, alerting } = await setup()
    expect(
      await inbound(
        reaction('wamid.a', '❤️'),
        reaction('wamid.a', '😱'),
        reaction('wamid.a', '👍👍'),
        reaction('wamid.a'),
        reaction('wamid.a', ''),
        // OTHER's copy of the alert, an unknown (expired) wamid.
        reaction('wamid.a.other', '👍'),
        reaction('wamid.unknown', '👍'),
        // A reaction never reads as text, whatever it carries.
        { ...reaction('wamid.a', '❤️'), text: { body: 'ACK' } },
      ),
    ).toEqual({ received: true, statuses: 0, messages: 8, invalid: 0, otherNumber: 0, withoutNumber: 0 })
    expect(await states()).toEqual({ [FP_A]: NONE, [FP_B]: NONE })
    expect(await replies()).toEqual([])
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(4)
  })

  test('a 👍 on one of our replies (not an alert message) does nothing', async () => {
    const { inbound, alerting } = await setup()
    await inbound(text('STATUS'))
    await alerting.tick()
    const [status] = await replies()
    expect(status!.key).toBe('reply|wamid.in.0')
    const sentReply = await ctx.database.db
      .select({ wamid: alertOutbox.waMessageId })
      .from(alertOutbox)
      .where(eq(alertOutbox.transition, 'reply'))
    // The fifth message the fake took: the four alert messages, then this reply.
    expect(sentReply).toEqual([{ wamid: 'wamid.5' }])
    await inbound({ ...reaction('wamid.5', '👍'), id: 'wamid.in.react' })
    expect(await states()).toEqual({ [FP_A]: NONE, [FP_B]: NONE })
    expect(await replies()).toHaveLength(1)
  })
})

describe('a reply quoting an alert message', () => {
  test.each([
    'ack',
    'Ack',
    ' ack.',
    'ACK!',
    '/ack',
    'ok',
    'OK',
    'Ok!',
    'okay',
    'on it',
    'On it!',
    '*on  it*',
    // A swipe-reply that is only an acknowledging emoji: the text a phone sends, not a reaction.
    '👍',
    '👍🏽',
    '👍️',
    ' ✅ ',
    '👌🏿',
  ])('%j acknowledges exactly the alerts of the message quoted', async (body) => {
    const { inbound } = await setup()
    await inbound(text(body, 'wamid.a'))
    await expectOnlyAAcknowledged()
  })

  test('free text that starts like an acknowledgement is not one, quoted or not; nor is a bare OK', async () => {
    const { inbound } = await setup()
    await inbound(
      text('okay, looking', 'wamid.a'),
      text('ok but not mine', 'wamid.a'),
      text('okay looking', 'wamid.a'),
      text('ok?!', 'wamid.unknown'),
      text('ok'),
      text('on it'),
      // `ok 👍` acknowledges (wa-commands-typed.test.ts); a 👎 beside it is still free text.
      text('ok 👎', 'wamid.a'),
      text('not ok', 'wamid.a'),
      text('ok', 'wamid.a.other'),
      text('👍'),
      text('❤️', 'wamid.a'),
      text('👍👎', 'wamid.a'),
    )
    expect(await states()).toEqual({ [FP_A]: NONE, [FP_B]: NONE })
    expect(await replies()).toEqual([])
  })

  test('"silence 1h" silences exactly the alerts of the message quoted', async () => {
    const { inbound } = await setup()
    await inbound(text('silence 1h', 'wamid.b'))
    const until = new Date('2026-03-02T11:00:00Z')
    expect(await states()).toEqual({ [FP_A]: NONE, [FP_B]: { ackedAt: null, silencedUntil: until } })
    expect(await replies()).toEqual([
      {
        key: 'reply|wamid.in.0',
        to: FROM,
        fingerprint: FP_B,
        content: { text: 'Silenced until 2026-03-02T11:00:00.000Z: B.' },
      },
    ])
  })

  test('an explicit ref wins over the message quoted', async () => {
    const { inbound } = await setup()
    await inbound(text(`ACK ${FP_B}`, 'wamid.a'))
    expect(await states()).toEqual({ [FP_A]: NONE, [FP_B]: { ackedAt: AT, silencedUntil: null } })
    expect((await replies())[0]!.content).toEqual({
      text: 'Acknowledged: B. No more reminders until resolved.',
    })
  })

  test.each([
    'wamid.unknown',
    'wamid.a.other',
  ])('a bare ACK quoting %s (not our alert to this number) acknowledges as before: every alert it was told of', async (quoted) => {
    const { inbound } = await setup()
    await inbound(text('ack', quoted))
    expect(await states()).toEqual({
      [FP_A]: { ackedAt: AT, silencedUntil: null },
      [FP_B]: { ackedAt: AT, silencedUntil: null },
    })
    expect((await replies())[0]!.content).toEqual({
      text: 'Acknowledged: A, B. No more reminders until resolved.',
    })
  })

  test('quoting a message whose alerts all resolved acknowledges nothing else', async () => {
    const { inbound, alerting } = await setup()
    await alerting.dispatcher.ingest([{ ...firing('A', {}, {}, FP_A), status: 'resolved' as const }], 'test')
    await inbound(text('on it', 'wamid.a'))
    expect(await states()).toEqual({ [FP_A]: NONE, [FP_B]: NONE })
    expect((await replies())[0]!.content).toEqual({ text: 'No firing alert to apply that to.' })
  })
})

describe('STATUS quoting an alert message', () => {
  test("answers for that message's alerts only, each with its state; unquoted STATUS still lists everything firing", async () => {
    const { inbound, alerting } = await setup()
    // C, D and E go out together: one message. C is then acknowledged, D silenced, E resolved.
    const [FP_C, FP_D, FP_E] = ['000000000000000c', '000000000000000d', '000000000000000e']
    await alerting.dispatcher.ingest(
      [firing('C', {}, {}, FP_C), firing('D', { severity: 'warning' }, {}, FP_D), firing('E', {}, {}, FP_E)],
      'test',
    )
    await alerting.tick()
    const [row] = await ctx.database.db
      .select()
      .from(alertOutbox)
      .where(and(eq(alertOutbox.recipient, FROM), eq(alertOutbox.fingerprint, FP_C)))
    await ctx.database.db
      .update(alertOutbox)
      .set({ waMessageId: 'wamid.cde' })
      .where(eq(alertOutbox.id, row!.id))
    await inbound({ ...text(`ACK ${FP_C}`), id: 'wamid.in.ack' })
    await inbound({ ...text(`SILENCE 2h ${FP_D}`), id: 'wamid.in.silence' })
    await alerting.dispatcher.ingest([{ ...firing('E', {}, {}, FP_E), status: 'resolved' as const }], 'test')

    await inbound({ ...text('status', 'wamid.cde'), id: 'wamid.in.quoted' })
    await inbound({ ...text('STATUS', 'wamid.b'), id: 'wamid.in.quoted.b' })
    await inbound({ ...text('STATUS'), id: 'wamid.in.status' })
    await inbound({ ...text('STATUS', 'wamid.a.other'), id: 'wamid.in.not.ours' })
    const since = '2026-03-02T09:55:00.000Z'
    const everything = [
      'Firing now (4):',
      `• A [critical] since ${since} — ref ${FP_A}`,
      `• B [critical] since ${since} — ref ${FP_B}`,
      `• C [critical] since ${since} — ref ${FP_C}`,
      `• D [warning] since ${since} — ref ${FP_D}`,
    ].join('\n')
    const byKey = Object.fromEntries((await replies()).map((r) => [r.key, [r.fingerprint, r.content]]))
    expect({
      quoted: byKey['reply|wamid.in.quoted'],
      quotedB: byKey['reply|wamid.in.quoted.b'],
      unquoted: byKey['reply|wamid.in.status'],
      notOurs: byKey['reply|wamid.in.not.ours'],
    }).toEqual({
      quoted: [
        FP_C,
        {
          text: [
            "That message's alerts (3, 2 firing):",
            `• C [critical] since ${since} — ref ${FP_C}: firing, acknowledged`,
            `• D [warning] since ${since} — ref ${FP_D}: firing, silenced until 2026-03-02T12:00:00.000Z`,
            `• E [critical] since ${since} — ref ${FP_E}: resolved at 2026-03-02T10:00:00.000Z`,
          ].join('\n'),
        },
      ],
      quotedB: [
        FP_B,
        { text: `That message's alerts (1, 1 firing):\n• B [critical] since ${since} — ref ${FP_B}: firing` },
      ],
      unquoted: [FP_A, { text: everything }],
      // Quoting what is not our alert message to this number is STATUS as before.
      notOurs: [FP_A, { text: everything }],
    })
    // STATUS changes nothing.
    expect(await states()).toEqual({
      [FP_A]: NONE,
      [FP_B]: NONE,
      [FP_C]: { ackedAt: AT, silencedUntil: null },
      [FP_D]: { ackedAt: null, silencedUntil: new Date('2026-03-02T12:00:00Z') },
      [FP_E]: NONE,
    })
  })
})

describe('answering an earlier attempt of an alert message', () => {
  // Meta refused wamid.a late (131000, temporary): the row was re-queued and re-sent under a
  // new wamid, its first attempt kept in alert_outbox_attempts. That first message reached the
  // phone after all, and on-call answers it: the answer proves they got it.
  async function refusedThenResent() {
    const built = await setup()
    for (const wamid of ['wamid.a', 'wamid.a.other'])
      expect(await built.alerting.receipts.apply({ id: wamid, status: 'failed', errorCode: 131000 })).toBe(1)
    built.clock.advance(600_000)
    await built.alerting.tick()
    const resent = await ctx.database.db
      .select({ to: alertOutbox.recipient, wamid: alertOutbox.waMessageId, status: alertOutbox.status })
      .from(alertOutbox)
      .where(eq(alertOutbox.fingerprint, FP_A))
    expect(resent.map((r) => r.wamid).every((w) => w !== 'wamid.a' && w !== 'wamid.a.other')).toBe(true)
    expect(resent.map((r) => r.status)).toEqual(['sent', 'sent'])
    return built
  }

  test('a 👍 on it acknowledges exactly that message’s alerts', async () => {
    const { inbound } = await refusedThenResent()
    await inbound(reaction('wamid.a', '👍'))
    await expectOnlyAAcknowledged()
  })

  test('answered before its re-send went: the re-send to that number is cancelled, the row is read under the answered wamid; the other number still gets its re-send', async () => {
    const built = await setup()
    for (const wamid of ['wamid.a', 'wamid.a.other'])
      expect(await built.alerting.receipts.apply({ id: wamid, status: 'failed', errorCode: 131000 })).toBe(1)
    const [oncallA] = await ctx.database.db
      .select()
      .from(alertOutbox)
      .where(and(eq(alertOutbox.fingerprint, FP_A), eq(alertOutbox.recipient, FROM)))
    expect(oncallA).toMatchObject({ status: 'pending', waMessageId: null, groupId: null })
    const [failedAttempt] = await ctx.database.db
      .select()
      .from(alertOutboxAttempts)
      .where(eq(alertOutboxAttempts.waMessageId, 'wamid.a'))
    const sends = ctx.fake.requests.length

    await built.inbound(reaction('wamid.a', '👍'))
    await expectOnlyAAcknowledged()
    built.clock.advance(600_000)
    await built.alerting.tick()

    const rowsOfA = await ctx.database.db
      .select({
        to: alertOutbox.recipient,
        status: alertOutbox.status,
        wamid: alertOutbox.waMessageId,
        groupId: alertOutbox.groupId,
        attempts: alertOutbox.attempts,
        lastErrorCode: alertOutbox.lastErrorCode,
      })
      .from(alertOutbox)
      .where(and(eq(alertOutbox.fingerprint, FP_A), eq(alertOutbox.transition, 'firing')))
    const byNumber = Object.fromEntries(rowsOfA.map(({ to, ...row }) => [to, row]))
    expect(byNumber[FROM]).toEqual({
      status: 'read',
      wamid: 'wamid.a',
      groupId: failedAttempt!.groupId,
      attempts: 1,
      lastErrorCode: null,
    })
    expect(byNumber[OTHER.slice(1)]).toMatchObject({ status: 'sent', attempts: 2, lastErrorCode: null })
    // One re-send, to OTHER (who never answered), and the ACK's reply to on-call: nothing of A to on-call.
    const sent = ctx.fake.requests.slice(sends).map((r) => (r.body as { to: string }).to)
    expect(sent.sort()).toEqual([FROM, OTHER.slice(1)].sort())
    expect(
      await ctx.database.db
        .select({ status: alertOutboxAttempts.status })
        .from(alertOutboxAttempts)
        .where(eq(alertOutboxAttempts.waMessageId, 'wamid.a')),
    ).toEqual([{ status: 'read' }])
    expect(built.events.filter((e) => e.startsWith('earlier:'))).toEqual(['earlier:resend_cancelled'])
  })

  test('a quoted "silence 1h" silences exactly its alerts; an earlier attempt sent to another number reaches nothing', async () => {
    const { inbound } = await refusedThenResent()
    await inbound(text('silence 1h', 'wamid.a'), { ...reaction('wamid.a.other', '👍'), id: 'wamid.in.other' })
    const until = new Date('2026-03-02T11:00:00Z')
    expect(await states()).toEqual({ [FP_A]: { ackedAt: null, silencedUntil: until }, [FP_B]: NONE })
    expect(await replies()).toEqual([
      {
        key: 'reply|wamid.in.0',
        to: FROM,
        fingerprint: FP_A,
        content: { text: 'Silenced until 2026-03-02T11:00:00.000Z: A.' },
      },
    ])
  })
})
