import { describe, expect, test } from 'bun:test'
import { readWhatsAppWebhook } from '../../../src/alerting/notify/whatsapp-payload.ts'
import { PHONE_NUMBER_ID, whatsappWebhook } from '../../helpers/alerts.ts'

const webhook = (message: Record<string, unknown>) =>
  JSON.stringify(
    whatsappWebhook({
      messages: [{ from: '254700000001', id: 'wamid.in.1', timestamp: '1764900000', ...message }],
    }),
  )

// Each kind of text-bearing message as Meta's "Webhooks — messages" reference shows it.
describe('readWhatsAppWebhook: what an inbound message says', () => {
  test.each([
    ['a text', { type: 'text', text: { body: 'STATUS' } }, 'STATUS'],
    [
      'a template quick-reply button',
      { type: 'button', button: { payload: 'ACK:0123456789abcdef', text: 'Acknowledge' } },
      'ACK:0123456789abcdef',
    ],
    ['a quick-reply button without payload', { type: 'button', button: { text: 'ACK' } }, 'ACK'],
    [
      'an interactive reply button',
      {
        type: 'interactive',
        interactive: {
          type: 'button_reply',
          button_reply: { id: 'ACK:0123456789abcdef', title: 'Acknowledge' },
        },
      },
      'ACK:0123456789abcdef',
    ],
    [
      'an interactive list row',
      {
        type: 'interactive',
        interactive: {
          type: 'list_reply',
          list_reply: { id: 'SILENCE:2h:0123456789abcdef', title: 'Silence 2h', description: 'this alert' },
        },
      },
      'SILENCE:2h:0123456789abcdef',
    ],
  ])('%s is read as its text or id', (_kind, message, text) => {
    expect(readWhatsAppWebhook(webhook(message), PHONE_NUMBER_ID)).toEqual({
      object: true,
      statuses: [],
      messages: [{ from: '254700000001', text, id: 'wamid.in.1', at: new Date(1_764_900_000_000) }],
      invalid: 0,
      otherNumber: 0,
    })
  })

  test("a message without text (an image, a voice note, a reaction) is read with text '', not malformed", () => {
    // No command, but a message: it opens the 24-hour window, as Meta counts it.
    for (const message of [
      { type: 'image', image: { id: 'media.1', mime_type: 'image/jpeg' } },
      { type: 'audio', audio: { id: 'media.2', mime_type: 'audio/ogg; codecs=opus', voice: true } },
      { type: 'reaction', reaction: { message_id: 'wamid.out.1', emoji: '👍' } },
      { type: 'unsupported', errors: [{ code: 131051, title: 'Message type unknown' }] },
    ]) {
      expect(readWhatsAppWebhook(webhook(message), PHONE_NUMBER_ID)).toMatchObject({
        messages: [{ from: '254700000001', text: '', id: 'wamid.in.1', at: new Date(1_764_900_000_000) }],
        invalid: 0,
      })
    }
    // A system message (the user changed number) is WhatsApp's, not the user's: no window.
    const system = {
      type: 'system',
      system: { body: 'User A changed from 254700000001 to …', type: 'user_changed_number' },
    }
    expect(readWhatsAppWebhook(webhook(system), PHONE_NUMBER_ID)).toMatchObject({ messages: [], invalid: 0 })
  })

  // Meta's "Webhooks — messages": a reply carries `context: { from, id }` (the business number
  // and the wamid quoted); a reaction `reaction: { message_id, emoji }`, `emoji` omitted when
  // the reaction is removed.
  test.each([
    [
      'a swipe-reply',
      { type: 'text', text: { body: 'ok' }, context: { from: '15550001234', id: 'wamid.out.1' } },
      { text: 'ok', replyTo: 'wamid.out.1' },
    ],
    [
      'a template button (its context names the template message)',
      {
        type: 'button',
        button: { payload: 'ACK:0123456789abcdef', text: 'Acknowledge' },
        context: { from: '15550001234', id: 'wamid.out.2' },
      },
      { text: 'ACK:0123456789abcdef', replyTo: 'wamid.out.2' },
    ],
    [
      'a reaction',
      { type: 'reaction', reaction: { message_id: 'wamid.out.1', emoji: '👍🏽' } },
      { text: '', replyTo: 'wamid.out.1', reaction: '👍🏽' },
    ],
    [
      'a removed reaction',
      { type: 'reaction', reaction: { message_id: 'wamid.out.1' } },
      { text: '', replyTo: 'wamid.out.1', reaction: '' },
    ],
    [
      'a reaction without a readable message id',
      { type: 'reaction', reaction: { message_id: 7, emoji: '👍' } },
      { text: '', reaction: '👍' },
    ],
    [
      'a reply whose context id is not text',
      { type: 'text', text: { body: 'ack' }, context: { from: '15550001234', id: null } },
      { text: 'ack' },
    ],
  ])('%s is read with what it answers', (_kind, message, read) => {
    expect(readWhatsAppWebhook(webhook(message), PHONE_NUMBER_ID)).toStrictEqual({
      object: true,
      statuses: [],
      messages: [{ from: '254700000001', id: 'wamid.in.1', at: new Date(1_764_900_000_000), ...read }],
      invalid: 0,
      otherNumber: 0,
    })
  })
})
