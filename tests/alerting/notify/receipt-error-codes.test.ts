/**
 * A delivery row's error code belongs to its failure: once WhatsApp reports the message
 * delivered or read after all (another device of the recipient), or a `sent` proves a
 * timed-out attempt went out, the row no longer carries the error of a state it left.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { eq } from 'drizzle-orm'
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

const statusBody = (id: string, status: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify(
    whatsappWebhook({ statuses: [{ id, status, timestamp: '1', recipient_id: ONCALL.slice(1), ...extra }] }),
  )

const row = async () => {
  const [r] = await ctx.database.db.select().from(alertOutbox)
  return {
    status: r!.status,
    waMessageId: r!.waMessageId,
    code: r!.lastErrorCode,
    message: r!.lastErrorMessage,
  }
}

describe('the error code of a delivery row', () => {
  test('failed with 131026, then delivered, then read: the code and message go with the failure', async () => {
    const { alerting, postWhatsapp } = await alertingApp(ctx, SIGNED_WEBHOOK_ENV)
    await alerting.dispatcher.ingest([firing('A', {}, {}, '00000000000000c1')], 'test')
    await alerting.tick()
    await postWhatsapp(
      statusBody('wamid.1', 'failed', {
        errors: [{ code: 131026, title: 'Message undeliverable', message: 'Message undeliverable' }],
      }),
    )
    expect(await row()).toEqual({
      status: 'failed',
      waMessageId: 'wamid.1',
      code: '131026',
      message: 'Message undeliverable',
    })
    await postWhatsapp(statusBody('wamid.1', 'delivered'))
    expect(await row()).toEqual({ status: 'delivered', waMessageId: 'wamid.1', code: null, message: null })
    await postWhatsapp(statusBody('wamid.1', 'read'))
    expect(await row()).toEqual({ status: 'read', waMessageId: 'wamid.1', code: null, message: null })
  })

  test('a row waiting to retry a timed-out send, found sent by its group id: sent, and no timeout', async () => {
    const { alerting, postWhatsapp } = await alertingApp(ctx, SIGNED_WEBHOOK_ENV)
    await alerting.dispatcher.ingest([firing('A', {}, {}, '00000000000000c2')], 'test')
    await alerting.tick()
    const [sent] = await ctx.database.db.select().from(alertOutbox)
    // What the sender leaves after a call that got no answer: pending for a retry, no wamid.
    await ctx.database.db
      .update(alertOutbox)
      .set({ status: 'pending', waMessageId: null, lastErrorCode: 'timeout', lastErrorMessage: 'no answer' })
      .where(eq(alertOutbox.id, sent!.id))
    await postWhatsapp(statusBody('wamid.9', 'sent', { biz_opaque_callback_data: sent!.groupId }))
    expect(await row()).toEqual({ status: 'sent', waMessageId: 'wamid.9', code: null, message: null })
  })
})
