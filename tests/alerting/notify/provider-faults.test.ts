import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { classifyError } from '../../../src/alerting/whatsapp/client.ts'
import { alertOutbox } from '../../../src/db/schema.ts'
import { alertingFor, alertTestContext, firing } from '../../helpers/alerts.ts'

setDefaultTimeout(30_000)

const ctx = alertTestContext()
const outbox = () => ctx.database.db.select().from(alertOutbox).orderBy(alertOutbox.createdAt)

describe('provider faults', () => {
  test.each([
    [4, 400],
    [80007, 400],
    [130429, 400],
    [131048, 400],
    [131056, 429],
  ])("Meta's throttling error %p (HTTP %p) is retried", (code, status) => {
    expect(classifyError(code, status)).toBe('retry')
  })

  test('131048 (spam rate limit) is retried with backoff, then delivered once', async () => {
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url)
    ctx.fake.answer({
      kind: 'error',
      httpStatus: 400,
      code: 131048,
      message: '(#131048) Spam rate limit hit',
    })
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    await alerting.tick()
    const [waiting] = await outbox()
    expect(waiting).toMatchObject({ status: 'pending', attempts: 1, lastErrorCode: '131048' })
    expect(waiting!.nextAttemptAt.getTime() - clock.now().getTime()).toBe(2000)
    clock.set(waiting!.nextAttemptAt.toISOString())
    await alerting.tick()
    expect((await outbox())[0]).toMatchObject({ status: 'sent', attempts: 2, waMessageId: 'wamid.1' })
    expect(ctx.fake.requests).toHaveLength(2)
  })
})

describe('Retry-After', () => {
  /** Runs ticks until the row is sent, recording each wait the sender chose (ms). */
  async function delaysUntilSent(
    alerting: ReturnType<typeof alertingFor>['alerting'],
    clock: ReturnType<typeof alertingFor>['clock'],
  ) {
    const delays: number[] = []
    for (let i = 0; i < 10; i++) {
      await alerting.tick()
      const [row] = await outbox()
      if (row!.status !== 'pending') break
      delays.push(row!.nextAttemptAt.getTime() - clock.now().getTime())
      clock.set(row!.nextAttemptAt.toISOString())
    }
    return delays
  }

  test('429 waits as long as Retry-After asks (seconds, HTTP-date), at least the backoff, at most 5 minutes', async () => {
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url)
    const serverNow = 'Mon, 02 Mar 2026 10:00:00 GMT'
    const rateLimited = { error: { message: '(#130429) Rate limit hit', code: 130429 } }
    ctx.fake.answer(
      { kind: 'raw', httpStatus: 429, body: '' }, // no Retry-After: the backoff, 2 s
      { kind: 'raw', httpStatus: 429, headers: { 'retry-after': '30' }, body: '' },
      {
        kind: 'raw',
        httpStatus: 429,
        headers: { 'retry-after': 'Mon, 02 Mar 2026 10:01:30 GMT', date: serverNow },
        body: JSON.stringify(rateLimited),
      },
      { kind: 'raw', httpStatus: 429, headers: { 'retry-after': '1' }, body: '' }, // backoff 16 s wins
      { kind: 'raw', httpStatus: 429, headers: { 'retry-after': '86400' }, body: '' }, // capped
    )
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    expect(await delaysUntilSent(alerting, clock)).toEqual([2000, 30_000, 90_000, 16_000, 300_000])
    const [row] = await outbox()
    expect(row).toMatchObject({ status: 'sent', attempts: 6, waMessageId: 'wamid.1', lastErrorCode: null })
    expect(ctx.fake.requests).toHaveLength(6)
  })
})

describe('sending lease and call timeout', () => {
  test('ALERT_SEND_LEASE shorter than WHATSAPP_TIMEOUT_MS: a slow call is not taken over and sent twice', async () => {
    const env = { ALERT_SEND_LEASE: '1s', WHATSAPP_TIMEOUT_MS: '3000' }
    const a = alertingFor(ctx.database, ctx.fake.url, env)
    // The call takes 400 ms, well within its 3 s timeout but, on the replicas' clocks, longer
    // than the configured 1 s lease.
    ctx.fake.answer({ kind: 'delay', ms: 400 })
    await a.alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    const sending = a.alerting.tick()
    for (let i = 0; i < 100 && ctx.fake.requests.length === 0; i++) await Bun.sleep(5)
    expect(ctx.fake.requests).toHaveLength(1)
    const b = alertingFor(ctx.database, ctx.fake.url, env)
    b.clock.advance(1500)
    await b.alerting.tick()
    await sending
    expect(ctx.fake.requests).toHaveLength(1)
    expect((await outbox())[0]).toMatchObject({ status: 'sent', attempts: 1, waMessageId: 'wamid.1' })
    expect(a.logs.lines.some((l) => String(l.msg).startsWith('ALERT_SEND_LEASE is shorter'))).toBe(true)
  })
})
