/**
 * Sentry's answer to a quota storm: a 429 with `X-Sentry-Rate-Limits` (or only `Retry-After`)
 * stops the SDK sending what it names until the time given, so a failing deploy burns no more
 * quota than the one envelope Sentry refused. Checked with the real @sentry/bun through our
 * transport (src/observability/sentry.ts passes both headers on), against a fake endpoint that
 * counts the envelopes it received, by item type.
 */
import { describe, expect, test } from 'bun:test'
import { parseEnvelope } from '../../helpers/sentry-ingest.ts'
import { servedWithSentry } from './fixtures/served.ts'

interface Limiter {
  /** The headers of the 429 answered to the first envelope holding an event; later ones get 200. */
  first429: Record<string, string>
}

async function startLimitingIngest(limiter: Limiter) {
  const received: string[][] = []
  let refused = false
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      const envelope = parseEnvelope(new Uint8Array(await request.arrayBuffer()))
      const types = envelope.items.map((i) => i.header.type)
      received.push(types)
      if (!refused && types.includes('event')) {
        refused = true
        return new Response('', { status: 429, headers: limiter.first429 })
      }
      return Response.json({})
    },
  })
  return {
    dsn: `http://public@127.0.0.1:${server.port}/1`,
    /** Envelopes received that hold an item of `type`. */
    count: (type: string) => received.filter((types) => types.includes(type)).length,
    stop: () => server.stop(true),
  }
}

describe.each([
  ['X-Sentry-Rate-Limits for errors only', { 'x-sentry-rate-limits': '60:error:organization' }, true],
  ['Retry-After alone (every category)', { 'retry-after': '60' }, false],
] as const)('a 429 with %s', (_, headers, spansStillSent) => {
  const served = servedWithSentry(() => startLimitingIngest({ first429: headers }))

  const call = (path: string) => fetch(`http://127.0.0.1:${served.app.port}${path}`)
  const flush = async () => expect(await (await call('/probe/flush')).json()).toEqual({ delivered: true })

  test('the first failure is refused, and the next 50 are not sent at all', async () => {
    expect((await call('/probe/boom/first')).status).toBe(500)
    await flush()
    expect(served.ingest.count('event')).toBe(1)
    const spansBefore = served.ingest.count('span')
    // The storm: the same exception, request after request.
    for (let i = 0; i < 50; i++) expect((await call(`/probe/boom/${i}`)).status).toBe(500)
    await flush()
    expect(served.ingest.count('event')).toBe(1)
    // Requests' spans are another category: an error limit leaves them alone, Retry-After not.
    expect(served.ingest.count('span') > spansBefore).toBe(spansStillSent)
  })
})
