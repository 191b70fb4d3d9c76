import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { asc, eq } from 'drizzle-orm'
import { alertOutbox, alertOutboxAttempts, whatsappContacts } from '../../../src/db/schema.ts'
import { alertingFor, alertTestContext, firing, ONCALL } from '../../helpers/alerts.ts'

// Fresh databases and timed-out calls: well over bun's 5 s default.
setDefaultTimeout(60_000)

// Meta's status webhooks are not ordered and an attempt we re-queued may have reached the phone
// after all: a `delivered`/`read` for it (another device of the recipient, a delayed status), or
// a `sent` for a call that timed out. Each case below is one such late status of an earlier
// attempt: it must neither cause a second message nor disturb the newer attempt.

const ENV = { WHATSAPP_TEMPLATE_FIRING: 'alert_firing', WHATSAPP_TEMPLATE_RESOLVED: 'alert_resolved' }
const ctx = alertTestContext()

const outbox = async () => ctx.database.db.select().from(alertOutbox).orderBy(asc(alertOutbox.alertname))
const attempts = async () =>
  (await ctx.database.db.select().from(alertOutboxAttempts)).map((a) => ({
    groupId: a.groupId,
    waMessageId: a.waMessageId,
    status: a.status,
  }))
const earlierEvents = (events: string[]) => events.filter((e) => e.startsWith('earlier:'))

describe('a late failure re-queued the row, then a delivery status of that attempt arrives', () => {
  test('before the re-send: the re-send is cancelled, the row moves forward, nothing is sent again', async () => {
    const { alerting, clock, events, logs } = alertingFor(ctx.database, ctx.fake.url, ENV)
    await alerting.dispatcher.ingest([firing('HighErrorRate', {}, {}, '00000000000000a1')], 'test')
    await alerting.tick()
    const [sent] = await outbox()
    expect(sent).toMatchObject({ status: 'sent', waMessageId: 'wamid.1', attempts: 1 })
    // 131000: temporary, so re-queued with the sender's backoff.
    expect(await alerting.receipts.apply({ id: 'wamid.1', status: 'failed', errorCode: 131000 })).toBe(1)
    expect((await outbox())[0]).toMatchObject({ status: 'pending', waMessageId: null, groupId: null })
    expect(await attempts()).toEqual([{ groupId: sent!.groupId!, waMessageId: 'wamid.1', status: 'failed' }])

    // It reached the phone after all.
    expect(await alerting.receipts.apply({ id: 'wamid.1', status: 'delivered' })).toBe(1)
    expect((await outbox())[0]).toMatchObject({
      status: 'delivered',
      waMessageId: 'wamid.1',
      groupId: sent!.groupId,
      attempts: 1,
      lastErrorCode: null,
      lastErrorMessage: null,
      sentAt: sent!.sentAt,
    })
    expect(await attempts()).toEqual([
      { groupId: sent!.groupId!, waMessageId: 'wamid.1', status: 'delivered' },
    ])
    // Re-delivered: nothing moves, nothing is counted twice.
    expect(await alerting.receipts.apply({ id: 'wamid.1', status: 'delivered' })).toBe(0)
    expect(await alerting.receipts.apply({ id: 'wamid.1', status: 'sent' })).toBe(0)

    clock.advance(600_000)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(1)
    expect(await alerting.receipts.apply({ id: 'wamid.1', status: 'read' })).toBe(1)
    expect((await outbox())[0]).toMatchObject({ status: 'read', waMessageId: 'wamid.1' })
    expect(earlierEvents(events)).toEqual(['earlier:resend_cancelled'])
    const line = logs.lines.find((l) => String(l.msg).startsWith('WhatsApp delivered an earlier attempt'))
    expect(line).toMatchObject({
      level: 'info',
      waMessageId: 'wamid.1',
      status: 'delivered',
      rows: 1,
      alertnames: ['HighErrorRate'],
    })
    expect(logs.text()).not.toContain(ONCALL.slice(1))
  })

  test('after the re-send: recorded and counted, the newer attempt keeps its own state', async () => {
    const { alerting, clock, events, logs } = alertingFor(ctx.database, ctx.fake.url, ENV)
    // The window is open: free text first (wamid.1), which Meta refuses late with 131047.
    await ctx.database.db
      .insert(whatsappContacts)
      .values({ phone: ONCALL.slice(1), lastInboundAt: clock.now() })
    await alerting.dispatcher.ingest([firing('HighErrorRate', {}, {}, '00000000000000a2')], 'test')
    await alerting.tick()
    const [first] = await outbox()
    await alerting.receipts.apply({ id: 'wamid.1', status: 'failed', errorCode: 131047 })
    clock.advance(10_000)
    await alerting.tick()
    const [resent] = await outbox()
    expect(resent).toMatchObject({ status: 'sent', waMessageId: 'wamid.2', mode: 'template', attempts: 2 })

    expect(await alerting.receipts.apply({ id: 'wamid.1', status: 'delivered' })).toBe(1)
    expect((await outbox())[0]).toEqual(resent!)
    expect(await attempts()).toEqual([
      { groupId: first!.groupId!, waMessageId: 'wamid.1', status: 'delivered' },
    ])
    expect(await alerting.receipts.apply({ id: 'wamid.1', status: 'delivered' })).toBe(0)
    // The newer attempt's statuses still apply to the row.
    expect(await alerting.receipts.apply({ id: 'wamid.2', status: 'delivered' })).toBe(1)
    expect((await outbox())[0]).toMatchObject({ status: 'delivered', waMessageId: 'wamid.2' })
    // And the earlier one's `read` only moves its record.
    expect(await alerting.receipts.apply({ id: 'wamid.1', status: 'read' })).toBe(1)
    expect((await outbox())[0]).toMatchObject({ status: 'delivered', waMessageId: 'wamid.2' })
    expect(await attempts()).toEqual([{ groupId: first!.groupId!, waMessageId: 'wamid.1', status: 'read' }])

    clock.advance(600_000)
    await alerting.tick()
    expect(ctx.fake.requests.map((r) => r.body.type)).toEqual(['text', 'template'])
    expect(earlierEvents(events)).toEqual(['earlier:after_resend', 'earlier:after_resend'])
    expect(
      logs.lines
        .filter((l) => String(l.msg).startsWith('WhatsApp reports a status of an earlier attempt'))
        .map((l) => [l.level, l.waMessageId, l.status, l.rows]),
    ).toEqual([
      ['info', 'wamid.1', 'delivered', 1],
      ['info', 'wamid.1', 'read', 1],
    ])
    expect(logs.text()).not.toContain(ONCALL.slice(1))
  })

  test('one message of several rows: every row of it is cancelled, with one count', async () => {
    const { alerting, clock, events } = alertingFor(ctx.database, ctx.fake.url, ENV)
    // Two notifications, two rows, one message.
    await alerting.dispatcher.ingest([firing('A', {}, {}, '00000000000000a3')], 'test')
    await alerting.dispatcher.ingest([firing('B', {}, {}, '00000000000000a4')], 'test')
    expect(await outbox()).toHaveLength(2)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(1)
    expect(await alerting.receipts.apply({ id: 'wamid.1', status: 'failed', errorCode: 130429 })).toBe(2)
    expect(await alerting.receipts.apply({ id: 'wamid.1', status: 'read' })).toBe(2)
    expect((await outbox()).map((r) => [r.alertname, r.status, r.waMessageId])).toEqual([
      ['A', 'read', 'wamid.1'],
      ['B', 'read', 'wamid.1'],
    ])
    clock.advance(600_000)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(1)
    expect(earlierEvents(events)).toEqual(['earlier:resend_cancelled'])
  })

  test('a late "sent" of the failed attempt proves nothing (failed may follow sent): the re-send stands', async () => {
    const { alerting, clock, events } = alertingFor(ctx.database, ctx.fake.url, ENV)
    await alerting.dispatcher.ingest([firing('HighErrorRate', {}, {}, '00000000000000a5')], 'test')
    await alerting.tick()
    await alerting.receipts.apply({ id: 'wamid.1', status: 'failed', errorCode: 131000 })
    expect(await alerting.receipts.apply({ id: 'wamid.1', status: 'sent' })).toBe(0)
    clock.advance(600_000)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(2)
    expect((await outbox())[0]).toMatchObject({ status: 'sent', waMessageId: 'wamid.2', attempts: 2 })
    expect(earlierEvents(events)).toEqual([])
  })
})

describe('calls that timed out', () => {
  test('two timeouts, then the first one\'s "sent" arrives while the third attempt waits: not sent again', async () => {
    const { alerting, clock, events } = alertingFor(ctx.database, ctx.fake.url, ENV)
    // WHATSAPP_TIMEOUT_MS=500: Meta took both calls, we never heard.
    ctx.fake.answer({ kind: 'delay', ms: 900 }, { kind: 'delay', ms: 900 })
    await alerting.dispatcher.ingest([firing('HighErrorRate', {}, {}, '00000000000000a6')], 'test')
    await alerting.tick()
    const [first] = await outbox()
    clock.advance(600_000)
    await alerting.tick()
    const [second] = await outbox()
    expect(second).toMatchObject({ status: 'pending', attempts: 2, lastErrorCode: 'timeout' })
    expect(second!.groupId).not.toBe(first!.groupId)
    expect(await attempts()).toEqual([{ groupId: first!.groupId!, waMessageId: null, status: 'unanswered' }])

    expect(
      await alerting.receipts.apply({ id: 'wamid.1', status: 'sent', callbackData: first!.groupId! }),
    ).toBe(1)
    expect((await outbox())[0]).toMatchObject({
      status: 'sent',
      waMessageId: 'wamid.1',
      groupId: first!.groupId,
      attempts: 2,
      lastErrorCode: null,
    })
    clock.advance(600_000)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(2)
    // Its later statuses find it by wamid, and the second call's own `sent` is recorded apart.
    expect(await alerting.receipts.apply({ id: 'wamid.1', status: 'delivered' })).toBe(1)
    expect((await outbox())[0]).toMatchObject({ status: 'delivered', waMessageId: 'wamid.1' })
    expect(
      await alerting.receipts.apply({ id: 'wamid.2', status: 'sent', callbackData: second!.groupId! }),
    ).toBe(1)
    expect((await outbox())[0]).toMatchObject({ status: 'delivered', waMessageId: 'wamid.1' })
    expect(await attempts()).toEqual([
      { groupId: first!.groupId!, waMessageId: 'wamid.1', status: 'delivered' },
      { groupId: second!.groupId!, waMessageId: 'wamid.2', status: 'sent' },
    ])
    expect(earlierEvents(events)).toEqual(['earlier:resend_cancelled', 'earlier:after_resend'])
  })

  test("the retry already went: the timed-out call's statuses are recorded, the row is the retry's", async () => {
    const { alerting, clock, events } = alertingFor(ctx.database, ctx.fake.url, ENV)
    ctx.fake.answer({ kind: 'delay', ms: 900 }, { kind: 'ok', id: 'wamid.2' })
    await alerting.dispatcher.ingest([firing('HighErrorRate', {}, {}, '00000000000000a7')], 'test')
    await alerting.tick()
    const [first] = await outbox()
    clock.advance(600_000)
    await alerting.tick()
    const [retried] = await outbox()
    expect(retried).toMatchObject({ status: 'sent', waMessageId: 'wamid.2', attempts: 2 })

    expect(
      await alerting.receipts.apply({ id: 'wamid.1', status: 'sent', callbackData: first!.groupId! }),
    ).toBe(1)
    // Meta's later statuses name the wamid, learnt from the first.
    expect(await alerting.receipts.apply({ id: 'wamid.1', status: 'delivered' })).toBe(1)
    expect(await alerting.receipts.apply({ id: 'wamid.1', status: 'delivered' })).toBe(0)
    expect((await outbox())[0]).toEqual(retried!)
    expect(await attempts()).toEqual([
      { groupId: first!.groupId!, waMessageId: 'wamid.1', status: 'delivered' },
    ])
    expect(ctx.fake.requests).toHaveLength(2)
    expect(earlierEvents(events)).toEqual(['earlier:after_resend', 'earlier:after_resend'])
  })

  test('a sender that lost its lease: the re-claim remembers the attempt it may have sent', async () => {
    const { alerting, clock, events } = alertingFor(ctx.database, ctx.fake.url, ENV)
    await alerting.dispatcher.ingest([firing('HighErrorRate', {}, {}, '00000000000000a8')], 'test')
    await alerting.tick()
    const [sent] = await outbox()
    // The crash case: Meta took the message, its wamid was never recorded, the lease ran out.
    await ctx.database.db
      .update(alertOutbox)
      .set({ status: 'sending', waMessageId: null, leaseUntil: clock.now() })
      .where(eq(alertOutbox.id, sent!.id))
    clock.advance(1_000)
    await alerting.tick()
    const [again] = await outbox()
    expect(again).toMatchObject({ status: 'sent', waMessageId: 'wamid.2', attempts: 2 })
    expect(await attempts()).toEqual([{ groupId: sent!.groupId!, waMessageId: null, status: 'unanswered' }])
    expect(
      await alerting.receipts.apply({ id: 'wamid.1', status: 'read', callbackData: sent!.groupId! }),
    ).toBe(1)
    expect((await outbox())[0]).toEqual(again!)
    expect(await attempts()).toEqual([{ groupId: sent!.groupId!, waMessageId: 'wamid.1', status: 'read' }])
    expect(earlierEvents(events)).toEqual(['earlier:after_resend'])
  })
})
