import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { type AddressInfo, createServer } from 'node:net'
import { sql } from 'drizzle-orm'
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
  ])("Meta's throttling error %p (HTTP %p) is a pause", (code, status) => {
    expect(classifyError(code, status)).toBe('throttled')
  })

  test('131048 (spam rate limit) eight times: paused longer each time, never an attempt, then delivered once', async () => {
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url)
    ctx.fake.answer(
      ...Array.from({ length: 8 }, () => ({
        kind: 'error' as const,
        httpStatus: 400,
        code: 131048,
        message: '(#131048) Spam rate limit hit',
      })),
    )
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    const seen: Array<[string, number, string | null, number]> = []
    for (let i = 0; i < 12; i++) {
      await alerting.tick()
      const [row] = await outbox()
      if (row!.status !== 'pending') break
      seen.push([
        row!.status,
        row!.attempts,
        row!.lastErrorCode,
        row!.nextAttemptAt.getTime() - clock.now().getTime(),
      ])
      clock.set(row!.nextAttemptAt.toISOString())
    }
    // WHATSAPP_RETRY_BASE_MS (2 s) doubling per hit; WHATSAPP_MAX_ATTEMPTS (8) never reached.
    expect(seen).toEqual(
      [2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000].map((ms) => ['pending', 0, '131048', ms]),
    )
    expect((await outbox())[0]).toMatchObject({ status: 'sent', attempts: 1, waMessageId: 'wamid.1' })
    expect(ctx.fake.requests).toHaveLength(9)
  })

  test('a throttling pause honours Retry-After (131056 too), at most 15 minutes', async () => {
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url)
    ctx.fake.answer(
      {
        kind: 'raw',
        httpStatus: 429,
        headers: { 'retry-after': '120' },
        body: JSON.stringify({ error: { message: '(#131056) pair rate limit hit', code: 131056 } }),
      },
      { kind: 'raw', httpStatus: 429, headers: { 'retry-after': '86400' }, body: '' },
    )
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    const delays: number[] = []
    for (let i = 0; i < 2; i++) {
      await alerting.tick()
      const [row] = await outbox()
      expect(row).toMatchObject({ status: 'pending', attempts: 0 })
      delays.push(row!.nextAttemptAt.getTime() - clock.now().getTime())
      clock.set(row!.nextAttemptAt.toISOString())
    }
    expect(delays).toEqual([120_000, 900_000]) // not the 6 s pair pause; not a day
    await alerting.tick()
    expect((await outbox())[0]).toMatchObject({ status: 'sent', attempts: 1 })
    expect(ctx.fake.requests).toHaveLength(3)
  })

  test('after 24 h of throttling a throttling error spends an attempt, so the wait is bounded', async () => {
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url, { WHATSAPP_MAX_ATTEMPTS: '2' })
    const spam = { kind: 'error' as const, httpStatus: 400, code: 131048 }
    ctx.fake.answer(spam, spam, spam)
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    await alerting.tick() // first throttled at 10:00: a pause
    expect((await outbox())[0]).toMatchObject({ status: 'pending', attempts: 0, lastErrorCode: '131048' })
    clock.set('2026-03-03T10:00:00Z') // 24 h later, still throttled
    await alerting.tick()
    const [row] = await outbox()
    expect(row).toMatchObject({ status: 'pending', attempts: 1, lastErrorCode: '131048' })
    expect(row!.nextAttemptAt.getTime() - clock.now().getTime()).toBe(2000) // the retry backoff
    clock.set(row!.nextAttemptAt.toISOString())
    await alerting.tick()
    expect((await outbox())[0]).toMatchObject({ status: 'failed', attempts: 2, lastErrorCode: '131048' })
    expect(ctx.fake.requests).toHaveLength(3)
  })
})

describe('an expired or invalid token', () => {
  test('190 holds every message without spending attempts, asking once a minute, until the token is replaced', async () => {
    const env = { ALERT_PHONES: '+254700000001,+254700000002' }
    const expired = {
      kind: 'error' as const,
      httpStatus: 401,
      code: 190,
      message: 'Error validating access token: Session has expired',
    }
    const old = alertingFor(ctx.database, ctx.fake.url, env)
    ctx.fake.answer(expired, expired)
    await old.alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    await old.alerting.tick()
    // One call refused; the other recipient's message is held without asking Meta again.
    expect(ctx.fake.requests).toHaveLength(1)
    const held = async () =>
      (await ctx.database.db.select().from(alertOutbox).orderBy(alertOutbox.recipient)).map((r) => [
        r.status,
        r.attempts,
        r.nextAttemptAt.getTime() - old.clock.now().getTime(),
      ])
    expect(await held()).toEqual([
      ['pending', 0, 60_000],
      ['pending', 0, 60_000],
    ])
    expect((await outbox()).map((r) => r.lastErrorCode).filter(Boolean)).toEqual(['190'])
    expect(old.events).toContain('token:false')
    old.clock.advance(59_000)
    await old.alerting.tick()
    expect(ctx.fake.requests).toHaveLength(1) // held: nothing before the minute is up
    old.clock.advance(1_000)
    await old.alerting.tick()
    expect(ctx.fake.requests).toHaveLength(2)
    expect(await held()).toEqual([
      ['pending', 0, 60_000],
      ['pending', 0, 60_000],
    ])
    // An hour later an operator restarts with a rotated token: the held alerts go out, once each.
    const rotated = alertingFor(ctx.database, ctx.fake.url, { ...env, WHATSAPP_ACCESS_TOKEN: 'EAAG-rotated' })
    rotated.clock.set(new Date(old.clock.now().getTime() + 3_600_000).toISOString())
    await rotated.alerting.tick()
    expect(ctx.fake.requests).toHaveLength(4)
    expect(ctx.fake.requests.slice(2).map((r) => [r.body.to, r.headers.authorization])).toEqual([
      ['254700000001', 'Bearer EAAG-rotated'],
      ['254700000002', 'Bearer EAAG-rotated'],
    ])
    const rows = await ctx.database.db.select().from(alertOutbox).orderBy(alertOutbox.recipient)
    expect(rows.map((r) => [r.status, r.attempts])).toEqual([
      ['sent', 1],
      ['sent', 1],
    ])
    expect(rotated.events).toContain('token:true')
  })

  test('an alert that resolves while its message is held for the token is cancelled, never announced', async () => {
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url)
    ctx.fake.answer({ kind: 'error', httpStatus: 401, code: 190 })
    const alert = firing('HighErrorRate')
    await alerting.dispatcher.ingest([alert], 'test')
    await alerting.tick()
    expect((await outbox())[0]).toMatchObject({ status: 'pending', attempts: 0, lastErrorCode: '190' })
    await alerting.dispatcher.ingest([{ ...alert, status: 'resolved', endsAt: clock.now() }], 'test')
    clock.advance(60_000)
    await alerting.tick()
    expect((await outbox()).map((r) => r.status)).toEqual(['cancelled'])
    expect(ctx.fake.requests).toHaveLength(1)
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

  test('429 waits as long as Retry-After asks (seconds, HTTP-date), at least the pause, at most 15 minutes', async () => {
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
      { kind: 'raw', httpStatus: 429, headers: { 'retry-after': '1' }, body: '' }, // pause 16 s wins
      { kind: 'raw', httpStatus: 429, headers: { 'retry-after': '86400' }, body: '' }, // capped
    )
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    expect(await delaysUntilSent(alerting, clock)).toEqual([2000, 30_000, 90_000, 16_000, 900_000])
    const [row] = await outbox()
    // Throttling is a pause, not an attempt: only the call that went through counts.
    expect(row).toMatchObject({ status: 'sent', attempts: 1, waMessageId: 'wamid.1', lastErrorCode: null })
    expect(ctx.fake.requests).toHaveLength(6)
  })
})

describe('sending lease and call timeout', () => {
  test('a lease of WHATSAPP_TIMEOUT_MS plus 2 s, renewed before the call: a slow call is not taken over and sent twice', async () => {
    const env = { ALERT_SEND_LEASE: '3s', WHATSAPP_TIMEOUT_MS: '1000' }
    const a = alertingFor(ctx.database, ctx.fake.url, env)
    // The call takes 400 ms, within its 1 s timeout; the other replica ticks 2.5 s later on its
    // clock, past when a lease taken at the claim and not renewed would have let it in.
    ctx.fake.answer({ kind: 'delay', ms: 400 })
    await a.alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    const sending = a.alerting.tick()
    for (let i = 0; i < 100 && ctx.fake.requests.length === 0; i++) await Bun.sleep(5)
    expect(ctx.fake.requests).toHaveLength(1)
    const b = alertingFor(ctx.database, ctx.fake.url, env)
    b.clock.advance(2500)
    await b.alerting.tick()
    await sending
    expect(ctx.fake.requests).toHaveLength(1)
    expect((await outbox())[0]).toMatchObject({ status: 'sent', attempts: 1, waMessageId: 'wamid.1' })
  })
})

describe('fault sequence', () => {
  test('HTML 5xx, reset, timeout, malformed 200, 200 without an id: each retried with its code, then delivered once', async () => {
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url)
    const html = (status: number) => ({
      kind: 'raw' as const,
      httpStatus: status,
      headers: { 'content-type': 'text/html' },
      body: `<html><body><h1>${status}</h1>Bearer EAAG-test-token-secret +254700000001</body></html>`,
    })
    ctx.fake.answer(
      html(500),
      html(502),
      html(503),
      { kind: 'delay', ms: 900 }, // WHATSAPP_TIMEOUT_MS=500
      {
        kind: 'raw',
        httpStatus: 200,
        headers: { 'content-type': 'application/json' },
        body: '{"messages":[',
      },
      { kind: 'raw', httpStatus: 200, body: JSON.stringify({ messaging_product: 'whatsapp', messages: [] }) },
    )
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    const seen: Array<[string, number, string | null, string | null]> = []
    for (let i = 0; i < 10; i++) {
      await alerting.tick()
      const [row] = await outbox()
      seen.push([row!.status, row!.attempts, row!.lastErrorCode, row!.lastErrorMessage])
      if (row!.status !== 'pending') break
      clock.set(row!.nextAttemptAt.toISOString())
    }
    expect(seen.map(([s, a, c]) => [s, a, c])).toEqual([
      ['pending', 1, 'http_500'],
      ['pending', 2, 'http_502'],
      ['pending', 3, 'http_503'],
      ['pending', 4, 'timeout'],
      ['pending', 5, 'http_200'],
      ['pending', 6, 'http_200'],
      ['sent', 7, null],
    ])
    for (const [, , , message] of seen) {
      expect(String(message)).not.toContain('254700000001')
      expect(String(message)).not.toContain('EAAG')
    }
    expect(ctx.fake.requests).toHaveLength(7)
  })

  test('a connection reset is retried as a network error, then delivered once', async () => {
    // A peer that closes the connection as soon as the request arrives.
    const resets = createServer((socket) => socket.once('data', () => socket.resetAndDestroy()))
    await new Promise<void>((resolve) => resets.listen(0, '127.0.0.1', resolve))
    try {
      const port = (resets.address() as AddressInfo).port
      const first = alertingFor(ctx.database, `http://127.0.0.1:${port}`)
      await first.alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
      await first.alerting.tick()
      const [row] = await outbox()
      expect(row).toMatchObject({ status: 'pending', attempts: 1, lastErrorCode: 'network' })
      const second = alertingFor(ctx.database, ctx.fake.url)
      second.clock.set(row!.nextAttemptAt.toISOString())
      await second.alerting.tick()
      expect((await outbox())[0]).toMatchObject({ status: 'sent', attempts: 2, waMessageId: 'wamid.1' })
      expect(ctx.fake.requests).toHaveLength(1)
    } finally {
      resets.close()
    }
  })

  test.each([
    [131026, 'Message undeliverable'],
    [132001, 'Template name does not exist in the translation'],
    [132000, 'Number of parameters does not match the expected number of params'],
  ])('permanent %p fails at once, not retried', async (code, message) => {
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url)
    ctx.fake.answer({ kind: 'error', httpStatus: 400, code, message: `(#${code}) ${message}` })
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    await alerting.tick()
    clock.advance(3_600_000)
    await alerting.tick()
    expect((await outbox())[0]).toMatchObject({
      status: 'failed',
      attempts: 1,
      lastErrorCode: String(code),
      lastErrorMessage: `(#${code}) ${message}`,
    })
    expect(ctx.fake.requests).toHaveLength(1)
  })

  test("a Meta error message quoting the recipient's number or the token is stored without them", async () => {
    const { alerting } = alertingFor(ctx.database, ctx.fake.url)
    ctx.fake.answer({
      kind: 'error',
      httpStatus: 400,
      code: 100,
      message: '(#100) Invalid parameter: to +254700000001 (EAAG-test-token-secret)',
    })
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    await alerting.tick()
    const [row] = await outbox()
    expect(row).toMatchObject({ status: 'failed', attempts: 1, lastErrorCode: '100' })
    expect(row!.lastErrorMessage).not.toContain('254700000001')
    expect(row!.lastErrorMessage).not.toContain('EAAG-test-token-secret')
  })

  test("a failed status webhook quoting the recipient's number is stored without it", async () => {
    const { alerting } = alertingFor(ctx.database, ctx.fake.url)
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    await alerting.tick()
    expect(
      await alerting.receipts.apply({
        id: 'wamid.1',
        status: 'failed',
        errorCode: 131026,
        errorMessage: 'Message undeliverable to +254700000001',
      }),
    ).toBe(1)
    const [row] = await outbox()
    expect(row).toMatchObject({ status: 'failed', lastErrorCode: '131026' })
    expect(row!.lastErrorMessage).not.toContain('254700000001')
  })
})

describe('two replicas', () => {
  test('429s then recovery, two replicas ticking together: exactly one message per recipient', async () => {
    const phones = ['+254700000001', '+254700000002', '+254700000003']
    const env = { ALERT_PHONES: phones.join(',') }
    const a = alertingFor(ctx.database, ctx.fake.url, env)
    const b = alertingFor(ctx.database, ctx.fake.url, env)
    ctx.fake.answer(
      ...Array.from({ length: 4 }, () => ({
        kind: 'raw' as const,
        httpStatus: 429,
        headers: { 'retry-after': '3' },
        body: '',
      })),
    )
    await Promise.all([
      a.alerting.dispatcher.ingest([firing('HighErrorRate')], 'test'),
      b.alerting.dispatcher.ingest([firing('HighErrorRate')], 'test'),
    ])
    for (let i = 0; i < 6; i++) {
      await Promise.all([a.alerting.tick(), b.alerting.tick()])
      a.clock.advance(5_000)
      b.clock.advance(5_000)
    }
    const rows = await ctx.database.db.select().from(alertOutbox).orderBy(alertOutbox.recipient)
    expect(rows.map((r) => r.status)).toEqual(['sent', 'sent', 'sent'])
    const delivered = ctx.fake.requests.slice(4).map((r) => r.body.to)
    expect(delivered.sort()).toEqual(['254700000001', '254700000002', '254700000003'])
    expect(new Set(rows.map((r) => r.waMessageId)).size).toBe(3)
    expect(ctx.fake.requests).toHaveLength(7)
  })
})

describe('recording a send', () => {
  test('a database error recording an accepted message is not a failed send: it is recorded, never sent again', async () => {
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url)
    // The first UPDATE to `sent` fails once (a dropped connection, a failover); a sequence,
    // unlike a table, keeps its count through the rollback of the failed statement.
    for (const statement of [
      'create sequence hunt_sent_failures',
      `create function hunt_fail_first_sent() returns trigger language plpgsql as $$
      begin
        if new.status = 'sent' and nextval('hunt_sent_failures') = 1 then
          raise exception 'injected: connection lost';
        end if;
        return new;
      end $$`,
      `create trigger hunt_fail_first_sent before update on alert_outbox
        for each row execute function hunt_fail_first_sent()`,
    ])
      await ctx.database.db.execute(sql.raw(statement))
    try {
      await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
      await alerting.tick()
      clock.advance(600_000)
      await alerting.tick()
      expect(ctx.fake.requests).toHaveLength(1)
      expect((await outbox())[0]).toMatchObject({ status: 'sent', attempts: 1, waMessageId: 'wamid.1' })
    } finally {
      for (const statement of [
        'drop trigger hunt_fail_first_sent on alert_outbox',
        'drop function hunt_fail_first_sent()',
        'drop sequence hunt_sent_failures',
      ])
        await ctx.database.db.execute(sql.raw(statement))
    }
  })
})

describe('one group failing on our side', () => {
  test("a database error in one group's failure-path update leaves the pass's other groups to be sent", async () => {
    const phones = ['+254700000001', '+254700000002']
    const { alerting, clock, logs } = alertingFor(ctx.database, ctx.fake.url, {
      ALERT_PHONES: phones.join(','),
      ALERT_SEND_LEASE: '1m',
    })
    // The first call gets a temporary error, and recording it as a retry fails in the database.
    ctx.fake.answer({ kind: 'error', httpStatus: 500, code: 131000 })
    for (const statement of [
      `create function hunt_fail_retry() returns trigger language plpgsql as $$
      begin
        if new.status = 'pending' and new.last_error_code = '131000' then
          raise exception 'injected: connection lost';
        end if;
        return new;
      end $$`,
      `create trigger hunt_fail_retry before update on alert_outbox
        for each row execute function hunt_fail_retry()`,
    ])
      await ctx.database.db.execute(sql.raw(statement))
    let failedTo: unknown
    try {
      await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
      await alerting.tick()
      expect(ctx.fake.requests).toHaveLength(2)
      failedTo = ctx.fake.requests[0]!.body.to
      const rows = await ctx.database.db.select().from(alertOutbox)
      const byRecipient = new Map(rows.map((r) => [r.recipient, [r.status, r.attempts, r.waMessageId]]))
      const other = failedTo === '254700000001' ? '254700000002' : '254700000001'
      expect(byRecipient.get(String(failedTo))).toEqual(['sending', 1, null])
      expect(byRecipient.get(other)).toEqual(['sent', 1, 'wamid.1'])
      const line = logs.lines.find((l) =>
        String(l.msg).startsWith('sending an alert message failed on our side'),
      )
      expect(line).toMatchObject({ level: 'error', recipientMasked: `…${String(failedTo).slice(-4)}` })
    } finally {
      for (const statement of [
        'drop trigger hunt_fail_retry on alert_outbox',
        'drop function hunt_fail_retry()',
      ])
        await ctx.database.db.execute(sql.raw(statement))
    }
    expect(logs.text()).not.toContain(String(failedTo))
    // The failed group is taken again once its lease expires, like after a crash.
    clock.advance(61_000)
    await alerting.tick()
    expect(ctx.fake.requests.map((r) => r.body.to)).toEqual([failedTo, expect.any(String), failedTo])
    const rows = await ctx.database.db.select().from(alertOutbox)
    expect(rows.map((r) => r.status)).toEqual(['sent', 'sent'])
  })
})

describe('a call without an answer', () => {
  test('timed out, then its sent status arrives while the retry waits: recorded, not sent again', async () => {
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url)
    ctx.fake.answer({ kind: 'delay', ms: 900 }) // WHATSAPP_TIMEOUT_MS=500: Meta sends it, we never hear
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    await alerting.tick()
    const [waiting] = await outbox()
    expect(waiting).toMatchObject({ status: 'pending', attempts: 1, lastErrorCode: 'timeout' })
    // Meta's status webhook for the timed-out call, carrying its group id.
    expect(
      await alerting.receipts.apply({ id: 'wamid.1', status: 'sent', callbackData: waiting!.groupId! }),
    ).toBe(1)
    clock.advance(600_000)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(1)
    expect((await outbox())[0]).toMatchObject({ status: 'sent', attempts: 1, waMessageId: 'wamid.1' })
  })

  test('a failed status for the unanswered call leaves its retry alone', async () => {
    const { alerting, clock } = alertingFor(ctx.database, ctx.fake.url)
    ctx.fake.answer({ kind: 'delay', ms: 900 })
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    await alerting.tick()
    const [waiting] = await outbox()
    expect(
      await alerting.receipts.apply({
        id: 'wamid.x',
        status: 'failed',
        errorCode: 131000,
        callbackData: waiting!.groupId!,
      }),
    ).toBe(0)
    clock.advance(600_000)
    await alerting.tick()
    expect(ctx.fake.requests).toHaveLength(2)
    expect((await outbox())[0]).toMatchObject({ status: 'sent', attempts: 2 })
  })
})
