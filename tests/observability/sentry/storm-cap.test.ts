/**
 * The client-side cap on an error storm (src/observability/sentry.ts `createEventCap`), through
 * the real @sentry/bun against the local ingestion fake: one error thrown on every request is
 * 30 events a minute per error class and route, not one per request; another route keeps its
 * own allowance, and the dropped ones are counted in sentry_events_capped_total. Sentry's 429 (rate-limits.test.ts) only stops the SDK once quota is burnt.
 */
import { expect, test } from 'bun:test'
import { startIngest } from '../../helpers/sentry-ingest.ts'
import { servedWithSentry } from './fixtures/served.ts'

/** sentry.ts EVENTS_PER_MINUTE_PER_KIND, written out: the number an operator reads in the docs. */
const EVENTS_PER_MINUTE_PER_KIND = 30

const served = servedWithSentry(() => startIngest())

const call = (path: string, requestId: string) =>
  fetch(`http://127.0.0.1:${served.app.port}${path}`, { headers: { 'x-request-id': requestId } })

test('a storm of one error on one route sends 30 events, and another route still gets its own', async () => {
  // A clock minute may turn during the storm and start a new allowance: then up to twice as many.
  const started = Math.floor(Date.now() / 60_000)
  const storm = 45
  for (let i = 0; i < storm; i++) expect((await call(`/probe/boom/${i}`, `storm-${i}`)).status).toBe(500)
  expect((await call('/probe/throw/string', 'other-route')).status).toBe(500)
  const flushed = await fetch(`http://127.0.0.1:${served.app.port}/probe/flush`)
  expect(await flushed.json()).toEqual({ delivered: true })
  await served.ingest.waitFor(() => served.ingest.eventsFor('other-route').length === 1, 'the other route')
  const stormEvents = served.ingest.events().filter((e) => String(e.tags?.request_id).startsWith('storm-'))
  if (Math.floor(Date.now() / 60_000) === started) {
    // The SDK sends concurrently, so events may arrive out of order: which ones went is the point.
    const sent = stormEvents.map((e) => String(e.tags?.request_id))
    expect(sent.sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))).toEqual(
      Array.from({ length: EVENTS_PER_MINUTE_PER_KIND }, (_, i) => `storm-${i}`),
    )
    // What was dropped is counted where the operator scrapes.
    const metrics = await (await fetch(`http://127.0.0.1:${served.app.port}/metrics`)).text()
    expect(metrics.split('\n').filter((line) => line.startsWith('sentry_events_capped_total'))).toEqual([
      `sentry_events_capped_total ${storm - EVENTS_PER_MINUTE_PER_KIND}`,
    ])
  } else {
    expect(stormEvents.length).toBeLessThan(storm)
  }
}, 60_000)
