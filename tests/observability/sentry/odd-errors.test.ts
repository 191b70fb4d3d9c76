/**
 * Odd things thrown (strings, plain objects, cause chains, AggregateError) through the real
 * @sentry/bun: each failing request is one event, and no phone number (in any script's digits),
 * card number, bearer token, API key, WhatsApp token or idempotency key is in the bytes the
 * ingestion endpoint received. 4xx answers (409 included) send nothing.
 */
import { describe, expect, test } from 'bun:test'
import { leaks, type SentryEvent, startIngest } from '../../helpers/sentry-ingest.ts'
import {
  API_KEY,
  BEARER,
  CARD,
  CARD_DIGITS,
  IDEMPOTENCY_KEY,
  PHONE_ARABIC,
  PHONE_DIGITS,
  WHATSAPP_TOKEN,
} from './fixtures/data.ts'
import { servedWithSentry } from './fixtures/served.ts'

const served = servedWithSentry(() => startIngest())

const call = (path: string, requestId: string) =>
  fetch(`http://127.0.0.1:${served.app.port}${path}?card=${CARD_DIGITS}&phone=${PHONE_DIGITS}`, {
    headers: {
      'x-request-id': requestId,
      'idempotency-key': IDEMPOTENCY_KEY,
      authorization: `Bearer ${BEARER}`,
      'x-card': CARD,
    },
  })

async function flush() {
  const res = await fetch(`http://127.0.0.1:${served.app.port}/probe/flush`)
  expect(await res.json()).toEqual({ delivered: true })
}

async function eventOf(requestId: string): Promise<SentryEvent> {
  await served.ingest.waitFor(
    () => served.ingest.eventsFor(requestId).length > 0,
    `the event of ${requestId}`,
  )
  await flush()
  const events = served.ingest.eventsFor(requestId)
  expect(events).toHaveLength(1)
  return events[0]!
}

const exceptionsOf = (event: SentryEvent) =>
  (event.exception?.values ?? []).map((v) => ({ type: v.type, value: v.value }))

describe('odd throws', () => {
  test('a thrown string is one event whose exception is the scrubbed string', async () => {
    expect((await call('/probe/throw/string', 'odd-string')).status).toBe(500)
    const event = await eventOf('odd-string')
    expect(event.transaction).toBe('GET /probe/throw/:kind')
    expect(exceptionsOf(event)).toEqual([{ type: 'Error', value: 'customer [phone] card [card] failed' }])
  })

  test('a thrown plain object is one event; its keys and values are scrubbed', async () => {
    expect((await call('/probe/throw/object', 'odd-object')).status).toBe(500)
    const event = await eventOf('odd-object')
    expect(event.extra?.__serialized__).toEqual({
      '[phone]': 'opted out',
      card: '[card]',
      note: 'Idempotency-Key: [Filtered]',
      auth: 'Bearer [Filtered]',
    })
  })

  test('a cause chain is sent cause by cause, each scrubbed', async () => {
    expect((await call('/probe/throw/cause', 'odd-cause')).status).toBe(500)
    const event = await eventOf('odd-cause')
    // Sentry lists the chain innermost first.
    expect(exceptionsOf(event)).toEqual([
      { type: 'Error', value: 'card [card] declined, key [Filtered]' },
      { type: 'Error', value: 'provider said [phone] with token [Filtered]' },
      { type: 'Error', value: 'charge failed' },
    ])
  })

  test('an AggregateError is sent with its errors, each scrubbed', async () => {
    expect((await call('/probe/throw/aggregate', 'odd-aggregate')).status).toBe(500)
    const event = await eventOf('odd-aggregate')
    expect(exceptionsOf(event)).toEqual([
      { type: 'TypeError', value: 'retry 2 Bearer [Filtered] card [card]' },
      { type: 'Error', value: 'retry 1 for [phone]' },
      { type: 'AggregateError', value: 'all retries failed for [phone]' },
    ])
  })

  test('a 409 sends nothing', async () => {
    expect((await call('/probe/conflict', 'odd-409')).status).toBe(409)
    expect((await call('/probe/throw/string', 'odd-after-409')).status).toBe(500)
    await eventOf('odd-after-409')
    expect(served.ingest.eventsFor('odd-409')).toEqual([])
  })

  test('nothing sensitive is in the bytes received', async () => {
    await flush()
    const sent = served.ingest.rawText()
    expect(sent).toContain('odd-aggregate')
    for (const secret of [
      PHONE_DIGITS,
      PHONE_ARABIC,
      CARD,
      CARD_DIGITS,
      BEARER,
      API_KEY,
      WHATSAPP_TOKEN,
      IDEMPOTENCY_KEY,
    ])
      expect(leaks(sent, secret)).toEqual([])
  })
})
