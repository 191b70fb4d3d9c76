/**
 * The error message a `failed` status carries (`errors[0].message`, Meta's "Webhooks —
 * messages" status object) is kept as the row's last_error_message, cut at 500 UTF-16 units.
 * Cut through an emoji, its lone half reached PostgreSQL as U+FFFD and the message ended `�`.
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
/** 499 units, then an emoji (two units) across the 500-unit cut. */
const LONG = `${'x'.repeat(499)}😀 and more`

describe("a failed status' error message, cut at 500 units", () => {
  test.each([
    // 131026 (undeliverable): the row ends failed.
    [131026, { status: 'failed', lastErrorCode: '131026', lastErrorMessage: 'x'.repeat(499) }],
    // 131000 (temporary): the row waits, pending, for its retry.
    [131000, { status: 'pending', lastErrorCode: '131000', lastErrorMessage: 'x'.repeat(499) }],
  ])('code %p: cut before the emoji, not through it', async (code, expected) => {
    const { alerting, postWhatsapp } = await alertingApp(ctx, SIGNED_WEBHOOK_ENV)
    await alerting.dispatcher.ingest([firing('A', {}, {}, '00000000000000a1')], 'test')
    await alerting.tick()
    const [sent] = await ctx.database.db.select().from(alertOutbox)
    const res = await postWhatsapp(
      JSON.stringify(
        whatsappWebhook({
          statuses: [
            {
              id: sent!.waMessageId,
              status: 'failed',
              timestamp: '1772445600',
              recipient_id: ONCALL.slice(1),
              errors: [{ code, title: 'Title', message: LONG, error_data: { details: 'd' } }],
            },
          ],
        }),
      ),
    )
    expect(await res.json()).toEqual({
      received: true,
      statuses: 1,
      messages: 0,
      invalid: 0,
      otherNumber: 0,
      withoutNumber: 0,
    })
    const [row] = await ctx.database.db
      .select({
        status: alertOutbox.status,
        lastErrorCode: alertOutbox.lastErrorCode,
        lastErrorMessage: alertOutbox.lastErrorMessage,
      })
      .from(alertOutbox)
    expect(row).toEqual(expected)
  })
})
