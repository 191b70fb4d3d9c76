/**
 * A photo, video or document sent with a caption: Meta's "Webhooks — messages" reference
 * (image, video and document messages) carries what its sender typed in `<kind>.caption`.
 * On-call answers an alert with a screenshot of the dashboard captioned `ACK` as often as with
 * a text; read as no text, it was ignored in silence, and the alert kept paging.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { readWhatsAppWebhook } from '../../../src/alerting/notify/whatsapp-payload.ts'
import { alertOutbox, alertStates } from '../../../src/db/schema.ts'
import {
  alertingApp,
  alertTestContext,
  firing,
  ONCALL,
  PHONE_NUMBER_ID,
  SIGNED_WEBHOOK_ENV,
  whatsappWebhook,
} from '../../helpers/alerts.ts'

// A fresh database and app per test: well over bun's 5 s default.
setDefaultTimeout(60_000)

const FROM = ONCALL.slice(1)
const FP = '00000000000000a1'
/** When the messages below were written: the test clock's start. */
const AT = new Date('2026-03-02T10:00:00Z')
const body = (...messages: Array<Record<string, unknown>>) =>
  JSON.stringify(
    whatsappWebhook({
      messages: messages.map((m, i) => ({
        from: FROM,
        id: `wamid.in.${i}`,
        timestamp: String(AT.getTime() / 1000),
        ...m,
      })),
    }),
  )
const media = { mime_type: 'image/jpeg', sha256: 'c2hhMjU2', id: '1013859600285441' }

describe('readWhatsAppWebhook: a captioned media message', () => {
  test.each([
    ['an image', { type: 'image', image: { ...media, caption: 'ACK' } }, 'ACK'],
    [
      'a video',
      { type: 'video', video: { ...media, mime_type: 'video/mp4', caption: 'silence 2h' } },
      'silence 2h',
    ],
    [
      'a document',
      {
        type: 'document',
        document: { ...media, mime_type: 'application/pdf', filename: 'graph.pdf', caption: 'STATUS' },
      },
      'STATUS',
    ],
    ['an image without caption', { type: 'image', image: media }, ''],
    ['an image whose caption is not a string', { type: 'image', image: { ...media, caption: 7 } }, ''],
  ])('%s is read with text %p', (_kind, message, text) => {
    expect(readWhatsAppWebhook(body(message), PHONE_NUMBER_ID)).toEqual({
      object: true,
      statuses: [],
      messages: [{ from: FROM, text, id: 'wamid.in.0', at: AT }],
      invalid: 0,
      otherNumber: 0,
    })
  })
})

describe('a captioned screenshot answering an alert message', () => {
  const ctx = alertTestContext()

  test('captioned ACK acknowledges the quoted alert and is answered once, also when Meta re-delivers it', async () => {
    const { alerting, postWhatsapp } = await alertingApp(ctx, SIGNED_WEBHOOK_ENV)
    await alerting.dispatcher.ingest([firing('A', {}, {}, FP)], 'test')
    await alerting.tick()
    const [sent] = await ctx.database.db.select().from(alertOutbox)
    expect(sent!.status).toBe('sent')
    const screenshot = body({
      type: 'image',
      image: { ...media, caption: 'ACK' },
      context: { from: '15550001234', id: sent!.waMessageId },
    })
    for (let delivery = 0; delivery < 2; delivery++) {
      const res = await postWhatsapp(screenshot)
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({
        received: true,
        statuses: 0,
        messages: 1,
        invalid: 0,
        otherNumber: 0,
        withoutNumber: 0,
      })
      expect(
        await ctx.database.db
          .select({
            fp: alertStates.fingerprint,
            ackedAt: alertStates.ackedAt,
            silencedUntil: alertStates.silencedUntil,
          })
          .from(alertStates),
      ).toEqual([{ fp: FP, ackedAt: AT, silencedUntil: null }])
      expect(
        (await ctx.database.db.select().from(alertOutbox).where(eq(alertOutbox.transition, 'reply'))).map(
          (r) => ({
            key: r.dedupeKey,
            to: r.recipient,
            content: r.content,
          }),
        ),
      ).toEqual([
        {
          key: 'reply|wamid.in.0',
          to: FROM,
          content: { text: 'Acknowledged: A. No more reminders until resolved.' },
        },
      ])
    }
  })

  test('a captioned SILENCE on a video silences for the duration typed', async () => {
    const { alerting, postWhatsapp } = await alertingApp(ctx, SIGNED_WEBHOOK_ENV)
    await alerting.dispatcher.ingest([firing('A', {}, {}, FP)], 'test')
    await alerting.tick()
    const res = await postWhatsapp(
      body({ type: 'video', video: { ...media, mime_type: 'video/mp4', caption: 'SILENCE 2h' } }),
    )
    expect(await res.json()).toEqual({
      received: true,
      statuses: 0,
      messages: 1,
      invalid: 0,
      otherNumber: 0,
      withoutNumber: 0,
    })
    expect(
      await ctx.database.db
        .select({ ackedAt: alertStates.ackedAt, silencedUntil: alertStates.silencedUntil })
        .from(alertStates),
    ).toEqual([{ ackedAt: null, silencedUntil: new Date('2026-03-02T12:00:00Z') }])
  })
})
