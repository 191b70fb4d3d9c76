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
