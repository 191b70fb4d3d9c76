import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { alertOutbox, alertStates, whatsappContacts } from '../../../src/db/schema.ts'
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

// Meta re-delivers webhooks (for days when not answered 200) and does not order them; Alertmanager
// retries each notification on its own. Each case below is one instance of a re-delivered or
// overtaken event that must change nothing.

const AM_TOKEN = 'alertmanager-token-for-tests'
const ENV = {
  ...SIGNED_WEBHOOK_ENV,
  ALERTMANAGER_WEBHOOK_TOKEN: AM_TOKEN,
  WHATSAPP_TEMPLATE_FIRING: 'alert_firing',
  WHATSAPP_TEMPLATE_RESOLVED: 'alert_resolved',
}
const ctx = alertTestContext()

async function setup() {
  const built = await alertingApp(ctx, ENV)
  const hook = async (body: string) => {
    const res = await built.postWhatsapp(body)
    return { status: res.status, body: await res.json() }
  }
  /** Posts an Alertmanager notification of the one test alert; resolves with the receiver's answer. */
  const post = async (status: 'firing' | 'resolved', startsAt?: string) =>
    (await (
      await built.call('/alerts/alertmanager', {
        method: 'POST',
        token: AM_TOKEN,
        json: am(status, startsAt),
      })
    ).json()) as { enqueued: number }
  return { ...built, hook, post }
}

const value = (v: Record<string, unknown>) => JSON.stringify(whatsappWebhook(v))

const statusBody = (id: string, status: string, extra: Record<string, unknown> = {}) =>
  value({ statuses: [{ id, status, timestamp: '1', recipient_id: ONCALL.slice(1), ...extra }] })

const messageBody = (id: string, text: string, at: Date) =>
  value({
    messages: [
      {
        from: ONCALL.slice(1),
        id,
        timestamp: String(at.getTime() / 1000),
        type: 'text',
        text: { body: text },
      },
    ],
  })

/** The webhook's answer to a body holding one status. */
const ONE_STATUS = { received: true, statuses: 1, messages: 0, invalid: 0, otherNumber: 0, withoutNumber: 0 }
const outbox = async () => ctx.database.db.select().from(alertOutbox)
const states = async () => ctx.database.db.select().from(alertStates)

const am = (status: 'firing' | 'resolved', startsAt = '2026-03-02T09:50:00Z') => ({
  version: '4',
  status,
  groupKey: 'g',
  truncatedAlerts: 0,
  alerts: [
    {
      status,
      labels: { alertname: 'HighErrorRate', severity: 'critical' },
      annotations: { description: 'd' },
      startsAt,
      endsAt: status === 'resolved' ? '2026-03-02T09:58:00Z' : '0001-01-01T00:00:00Z',
      fingerprint: '5b4e2d7a9c1f3e80',
    },
  ],
})

describe('delivery statuses of an earlier attempt', () => {
  test('a re-delivered 131047 "failed" leaves the template retry queued, and it goes out', async () => {
    const { alerting, clock, hook } = await setup()
    // The window is open, so the alert goes out as free text (wamid.1), which Meta then refuses.
    await ctx.database.db
      .insert(whatsappContacts)
      .values({ phone: ONCALL.slice(1), lastInboundAt: clock.now() })
    await alerting.dispatcher.ingest([firing('A', {}, {}, '00000000000000aa')], 'test')
    await alerting.tick()
    const failed = statusBody('wamid.1', 'failed', {
      errors: [{ code: 131047, title: 'Re-engagement message' }],
    })

    expect((await hook(failed)).body).toEqual(ONE_STATUS)
    const [queued] = await outbox()
    expect(queued).toMatchObject({
      status: 'pending',
      waMessageId: null,
      groupId: null,
      lastErrorCode: '131047',
      content: expect.objectContaining({ forceTemplate: true }),
    })

    // Meta re-delivers the same webhook, then a late `sent` of the refused attempt arrives.
    expect((await hook(failed)).body).toEqual({
      received: true,
      statuses: 0,
      messages: 0,
      invalid: 0,
      otherNumber: 0,
      withoutNumber: 0,
    })
    expect((await hook(statusBody('wamid.1', 'sent'))).body.statuses).toBe(0)
    expect((await outbox())[0]).toEqual(queued!)

    clock.advance(10_000)
    await alerting.tick()
    expect(ctx.fake.requests.map((r) => r.body.type)).toEqual(['text', 'template'])
    expect((await outbox())[0]).toMatchObject({ status: 'sent', waMessageId: 'wamid.2', mode: 'template' })

    // And a failure of the template itself still counts: it is the row's current attempt.
    await hook(
      statusBody('wamid.2', 'failed', { errors: [{ code: 131047, title: 'Re-engagement message' }] }),
    )
    expect((await outbox())[0]).toMatchObject({
      status: 'failed',
      waMessageId: 'wamid.2',
      lastErrorCode: '131047',
    })
  })

  test('our group id finds a row only while it is still being sent', async () => {
    const { alerting, hook } = await setup()
    await alerting.dispatcher.ingest([firing('A', {}, {}, '00000000000000ab')], 'test')
    await alerting.tick()
    const [sent] = await outbox()
    // A status for another wamid naming this row's group: an earlier attempt, not this one.
    const other = statusBody('wamid.other', 'failed', {
      biz_opaque_callback_data: sent!.groupId,
      errors: [{ code: 131026, title: 'Message undeliverable' }],
    })
    expect((await hook(other)).body.statuses).toBe(0)
    expect((await outbox())[0]!.status).toBe('sent')
    // The crash case: Meta took the message but its wamid was never recorded.
    await ctx.database.db
      .update(alertOutbox)
      .set({ status: 'sending', waMessageId: null })
      .where(eq(alertOutbox.id, sent!.id))
    expect(
      (await hook(statusBody('wamid.9', 'sent', { biz_opaque_callback_data: sent!.groupId }))).body.statuses,
    ).toBe(1)
    expect((await outbox())[0]).toMatchObject({ status: 'sent', waMessageId: 'wamid.9' })
  })

  test('"read" and "failed" for one message at the same moment: read wins every time', async () => {
    const { alerting, hook, events } = await setup()
    const finals: string[] = []
    for (let i = 0; i < 10; i++) {
      await alerting.dispatcher.ingest(
        [firing(`A${i}`, {}, {}, `00000000000001${String(i).padStart(2, '0')}`)],
        'test',
      )
      await alerting.tick()
      const [row] = await ctx.database.db
        .select()
        .from(alertOutbox)
        .where(eq(alertOutbox.alertname, `A${i}`))
      await Promise.all([
        hook(statusBody(row!.waMessageId!, 'read')),
        hook(statusBody(row!.waMessageId!, 'failed', { errors: [{ code: 131026, title: 'x' }] })),
      ])
      const [after] = await ctx.database.db.select().from(alertOutbox).where(eq(alertOutbox.id, row!.id))
      finals.push(after!.status)
    }
    expect(finals).toEqual(Array(10).fill('read'))
    // A failure is counted only when it changed the row (it came first and read overtook it),
    // at most once per message; and a read row no longer carries the error it overtook.
    expect(events.filter((e) => e === 'sent:failed').length).toBeLessThanOrEqual(10)
    const rows = await outbox()
    expect(rows.map((r) => [r.status, r.lastErrorCode, r.lastErrorMessage])).toEqual(
      Array(10).fill(['read', null, null]),
    )
  })
})

describe('a resolution that overtook its firing', () => {
  test('the late firing of the same episode announces nothing and never repeats', async () => {
    const { post, alerting, clock } = await setup()
    expect((await post('resolved')).enqueued).toBe(0)
    expect(await states()).toEqual([
      expect.objectContaining({
        fingerprint: '5b4e2d7a9c1f3e80',
        status: 'resolved',
        startsAt: new Date('2026-03-02T09:50:00Z'),
        resolvedAt: new Date('2026-03-02T09:58:00Z'),
        lastNotifiedAt: null,
      }),
    ])
    expect((await post('firing')).enqueued).toBe(0)
    // An older episode's firing is as late as this one's.
    expect((await post('firing', '2026-03-02T09:40:00Z')).enqueued).toBe(0)
    await alerting.tick()
    clock.advance(5 * 3_600_000)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(0)
    expect((await states()).map((s) => s.status)).toEqual(['resolved'])

    // A real return fires with a later startsAt and is announced.
    expect((await post('firing', '2026-03-02T15:00:00Z')).enqueued).toBe(1)
    expect((await states()).map((s) => [s.status, s.startsAt.toISOString()])).toEqual([
      ['firing', '2026-03-02T15:00:00.000Z'],
    ])
  })

  test("a resolution that overtook a later episode's firing moves the resolved record to that episode", async () => {
    const { post } = await setup()
    expect((await post('resolved', '2026-03-02T09:00:00Z')).enqueued).toBe(0)
    expect((await post('resolved', '2026-03-02T09:50:00Z')).enqueued).toBe(0)
    // A late resolution of the older episode does not move it back.
    expect((await post('resolved', '2026-03-02T09:00:00Z')).enqueued).toBe(0)
    expect((await states()).map((s) => [s.status, s.startsAt.toISOString()])).toEqual([
      ['resolved', '2026-03-02T09:50:00.000Z'],
    ])
    expect((await post('firing', '2026-03-02T09:50:00Z')).enqueued).toBe(0)
  })
})

describe('a firing and its resolution at the same moment', () => {
  test('the resolution committed after the firing it waited for ends that episode; it never fires for good', async () => {
    // Two replicas, or a timed-out attempt still running while Alertmanager's next flush
    // resolves: the resolution finds no state, so records a tombstone, which waits on the key
    // the firing is inserting. On PostgreSQL it then found the firing committed, left it, and
    // answered 200: the resolution was lost and the alert repeated until someone noticed.
    const { alerting, clock } = await setup()
    const alert = firing('Race', {}, {}, '7a3c0e5d9b1f2468')
    let release!: () => void
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let inserted!: () => void
    const firingWritten = new Promise<void>((resolve) => {
      inserted = resolve
    })
    const first = ctx.database.db.transaction(async (tx) => {
      const enqueued = await alerting.dispatcher.ingest([alert], 'alertmanager', tx)
      inserted()
      await held
      return enqueued
    })
    await firingWritten
    const second = alerting.dispatcher.ingest(
      [{ ...alert, status: 'resolved', endsAt: new Date('2026-03-02T09:59:00Z') }],
      'alertmanager',
    )
    await Bun.sleep(300)
    release()
    expect(await first).toBe(1)
    // Nobody was told: the firing row is cancelled, and no resolution is written.
    expect(await second).toBe(0)
    expect((await states()).map((s) => [s.status, s.resolvedAt?.toISOString()])).toEqual([
      ['resolved', '2026-03-02T09:59:00.000Z'],
    ])
    await alerting.tick()
    clock.advance(5 * 3_600_000)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(0)
  })
})

describe('a late resolution of an earlier episode', () => {
  test('changes nothing of the episode firing now and announces nothing', async () => {
    const { post, alerting, clock } = await setup()
    expect((await post('firing', '2026-03-02T09:00:00Z')).enqueued).toBe(1)
    await alerting.tick()
    expect((await post('resolved', '2026-03-02T09:00:00Z')).enqueued).toBe(1)
    await alerting.tick()
    expect((await post('firing', '2026-03-02T10:10:00Z')).enqueued).toBe(1)
    await alerting.tick()
    const sent = ctx.fake.requests.length
    // Alertmanager retries the first episode's resolution after the second episode fired.
    expect((await post('resolved', '2026-03-02T09:00:00Z')).enqueued).toBe(0)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(sent)
    expect(await states()).toEqual([
      expect.objectContaining({
        fingerprint: '5b4e2d7a9c1f3e80',
        status: 'firing',
        startsAt: new Date('2026-03-02T10:10:00Z'),
        resolvedAt: null,
      }),
    ])
    expect(
      (await outbox()).map((r) => [
        r.transition,
        (r.content as { alerts?: Array<{ startsAt: string }> }).alerts?.[0]?.startsAt,
      ]),
    ).toEqual([
      ['firing', '2026-03-02T09:00:00.000Z'],
      ['resolved', '2026-03-02T09:00:00.000Z'],
      ['firing', '2026-03-02T10:10:00.000Z'],
    ])
    // Its own resolution still ends it.
    clock.advance(60_000)
    expect((await post('resolved', '2026-03-02T10:10:00Z')).enqueued).toBe(1)
    expect((await states()).map((s) => s.status)).toEqual(['resolved'])
  })
})

describe('a late firing of an earlier episode', () => {
  test('leaves the episode firing now, its ACK and its repeat cycle as they are, and announces nothing', async () => {
    const { post, alerting, clock, hook } = await setup()
    expect((await post('firing', '2026-03-02T09:00:00Z')).enqueued).toBe(1)
    await alerting.tick()
    expect((await post('resolved', '2026-03-02T09:00:00Z')).enqueued).toBe(1)
    await alerting.tick()
    expect((await post('firing', '2026-03-02T09:59:00Z')).enqueued).toBe(1)
    await alerting.tick()
    const acked = clock.now()
    await hook(messageBody('wamid.in.late', 'ACK', acked))
    await alerting.tick()
    const before = await states()
    expect(before).toEqual([
      expect.objectContaining({
        status: 'firing',
        startsAt: new Date('2026-03-02T09:59:00Z'),
        ackedAt: acked,
      }),
    ])
    const sent = ctx.fake.requests.length
    // Alertmanager retries the first episode's firing notification after all that.
    clock.advance(60_000)
    expect((await post('firing', '2026-03-02T09:00:00Z')).enqueued).toBe(0)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(sent)
    expect(await states()).toEqual(before)
  })
})

describe('a re-delivered inbound command', () => {
  test('a second delivery of an ACK does not acknowledge alerts that fired after it was written', async () => {
    const { alerting, clock, hook } = await setup()
    await alerting.dispatcher.ingest([firing('A', {}, {}, '000000000000000a')], 'test')
    await alerting.tick()
    const written = clock.now()
    const ack = messageBody('wamid.in.1', 'ACK', written)
    expect((await hook(ack)).body).toEqual({
      received: true,
      statuses: 0,
      messages: 1,
      invalid: 0,
      otherNumber: 0,
      withoutNumber: 0,
    })
    clock.advance(60_000)
    await alerting.dispatcher.ingest(
      [{ ...firing('B', {}, {}, '000000000000000b'), startsAt: clock.now() }],
      'test',
    )
    await alerting.tick()
    await hook(ack)
    const byName = Object.fromEntries((await states()).map((s) => [s.alertname, s.ackedAt]))
    expect(byName).toEqual({ A: written, B: null })
    expect((await outbox()).filter((r) => r.transition === 'reply').map((r) => r.content)).toEqual([
      { text: 'Acknowledged: A. No more reminders until resolved.' },
    ])
  })

  test('an ACK or SILENCE handled late reaches only alerts that had started when it was written', async () => {
    const { alerting, clock, hook } = await setup()
    await alerting.dispatcher.ingest([firing('A', {}, {}, '000000000000000a')], 'test')
    const written = clock.now()
    clock.advance(60_000)
    await alerting.dispatcher.ingest(
      [{ ...firing('B', {}, {}, '000000000000000b'), startsAt: clock.now() }],
      'test',
    )
    await alerting.tick()
    await hook(messageBody('wamid.in.2', 'SILENCE 2h', written))
    await hook(messageBody('wamid.in.3', 'ACK', written))
    const byName = Object.fromEntries(
      (await states()).map((s) => [s.alertname, [s.ackedAt, s.silencedUntil]]),
    )
    expect(byName).toEqual({
      A: [written, new Date(written.getTime() + 2 * 3_600_000)],
      B: [null, null],
    })
  })

  test('a message timestamp ahead of our clock counts as now', async () => {
    const { alerting, clock, hook } = await setup()
    await alerting.dispatcher.ingest([firing('A', {}, {}, '000000000000000a')], 'test')
    await alerting.tick()
    await hook(messageBody('wamid.in.4', 'ACK', new Date('9999-12-31T23:59:59Z')))
    const [contact] = await ctx.database.db.select().from(whatsappContacts)
    expect(contact!.lastInboundAt).toEqual(clock.now())
    expect((await states())[0]!.ackedAt).toEqual(clock.now())
  })
})

describe('a failure Meta reports late, in the status webhook', () => {
  // Meta returns an error code "either synchronously … asynchronously via Webhook, or sometimes
  // through both" (its error-codes page): a code the sender retries must be retried when it
  // comes late too, or a critical alert ends `failed` after one try.
  test('a temporary or throttling code re-queues the row with the backoff; a permanent one fails it', async () => {
    const { alerting, clock, hook, events } = await setup()
    await alerting.dispatcher.ingest(
      [firing('A', {}, {}, '00000000000000a1'), firing('B', {}, {}, '00000000000000b1')],
      'test',
    )
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(1)
    const failed = (id: string, code: number, title: string) =>
      statusBody(id, 'failed', { errors: [{ code, title, message: title, error_data: { details: title } }] })

    const start = clock.now().getTime()
    expect((await hook(failed('wamid.1', 131000, 'Something went wrong'))).body).toEqual(ONE_STATUS)
    const [queued] = await outbox()
    expect(queued).toMatchObject({
      status: 'pending',
      attempts: 1,
      waMessageId: null,
      groupId: null,
      leaseUntil: null,
      lastErrorCode: '131000',
      lastErrorMessage: 'Something went wrong',
      // WHATSAPP_RETRY_BASE_MS (2 000) after the first attempt, jitter at its top (random = 1).
      nextAttemptAt: new Date(start + 2_000),
    })
    expect(events.filter((e) => e.startsWith('sent:'))).toEqual(['sent:sent', 'sent:retry'])
    // A re-delivery of the same status finds no row: the attempt it is about is over.
    expect((await hook(failed('wamid.1', 131000, 'Something went wrong'))).body.statuses).toBe(0)

    clock.advance(2_000)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(2)
    // The same message again, under the new attempt's group id.
    expect(ctx.fake.requests[1]!.body).toEqual({
      ...ctx.fake.requests[0]!.body,
      biz_opaque_callback_data: (await outbox())[0]!.groupId,
    })
    expect((await outbox())[0]).toMatchObject({ status: 'sent', waMessageId: 'wamid.2', attempts: 2 })

    // The pair rate limit, late: the same, with the backoff of the second attempt.
    const second = clock.now().getTime()
    await hook(failed('wamid.2', 131056, 'Pair rate limit hit'))
    expect((await outbox())[0]).toMatchObject({
      status: 'pending',
      lastErrorCode: '131056',
      nextAttemptAt: new Date(second + 4_000),
    })
    clock.advance(4_000)
    await alerting.tick()
    expect((await outbox())[0]).toMatchObject({ status: 'sent', waMessageId: 'wamid.3', attempts: 3 })

    // A permanent code ends it, as a failed send would.
    await hook(failed('wamid.3', 131026, 'Message undeliverable'))
    expect((await outbox())[0]).toMatchObject({
      status: 'failed',
      waMessageId: 'wamid.3',
      lastErrorCode: '131026',
    })
    expect(ctx.fake.requests).toHaveLength(3)
  })

  test('the rows of one message wait alike, after the backoff of its most attempts, and go out together again', async () => {
    const { alerting, clock, hook } = await setup()
    // A's first send fails at once (attempt 1); B joins it for the second, one message of two rows.
    ctx.fake.answer({ kind: 'error', httpStatus: 500, code: 131000 })
    await alerting.dispatcher.ingest([firing('A', {}, {}, '00000000000000a3')], 'test')
    await alerting.tick()
    clock.advance(2_000)
    await alerting.dispatcher.ingest([firing('B', {}, {}, '00000000000000b3')], 'test')
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(2)
    const sent = await outbox()
    expect(sent.map((r) => [r.alertname, r.attempts, r.waMessageId]).sort()).toEqual([
      ['A', 2, 'wamid.1'],
      ['B', 1, 'wamid.1'],
    ])

    const at = clock.now().getTime()
    await hook(statusBody('wamid.1', 'failed', { errors: [{ code: 131000, title: 'Something went wrong' }] }))
    // Both wait the backoff after attempt 2 (4 s), not 4 s and 2 s: one message again, not two.
    expect((await outbox()).map((r) => [r.status, r.nextAttemptAt])).toEqual([
      ['pending', new Date(at + 4_000)],
      ['pending', new Date(at + 4_000)],
    ])
    clock.advance(4_000)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(3)
    expect((await outbox()).map((r) => r.waMessageId)).toEqual(['wamid.2', 'wamid.2'])
  })

  test('with its attempts spent (WHATSAPP_MAX_ATTEMPTS), a late temporary failure fails the row', async () => {
    const { alerting, postWhatsapp } = await alertingApp(ctx, { ...ENV, WHATSAPP_MAX_ATTEMPTS: '1' })
    await alerting.dispatcher.ingest([firing('A', {}, {}, '00000000000000a2')], 'test')
    await alerting.tick()
    const body = statusBody('wamid.1', 'failed', { errors: [{ code: 131016, title: 'Service unavailable' }] })
    const res = await postWhatsapp(body)
    expect((await res.json()).statuses).toBe(1)
    expect((await outbox())[0]).toMatchObject({
      status: 'failed',
      attempts: 1,
      waMessageId: 'wamid.1',
      lastErrorCode: '131016',
      lastErrorMessage: 'Service unavailable',
    })
  })
})
