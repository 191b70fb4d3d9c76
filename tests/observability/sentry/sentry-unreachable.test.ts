/**
 * A request never waits on Sentry: with the ingestion endpoint hanging (accepts, never answers)
 * or down (closed port), failing requests answer as usual and promptly. The bounds are hang
 * detectors, far above the few milliseconds these requests take.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { type Spawned, spawnBun } from '../../helpers/process.ts'
import { closedPort, type Ingest, startIngest } from '../../helpers/sentry-ingest.ts'

const HANG_BOUND_MS = 2000

describe.each(['hanging', 'down'] as const)('Sentry endpoint %s', (mode) => {
  let ingest: Ingest | undefined
  let app: Spawned

  beforeAll(async () => {
    let dsn: string
    if (mode === 'hanging') {
      ingest = await startIngest('hang')
      dsn = ingest.dsn
    } else {
      dsn = `http://public@127.0.0.1:${closedPort()}/1`
    }
    app = await spawnBun(
      'tests/observability/sentry/fixtures/serve.ts',
      { SENTRY_DSN: dsn, SENTRY_TRACES_SAMPLE_RATE: '1' },
      // A hang detector, as in servedWithSentry: the fixture migrates an embedded database
      // first, which took over 20 s on a busy machine.
      60_000,
    )
  }, 90_000)

  afterAll(async () => {
    await app?.stop()
    ingest?.stop()
  }, 30_000)

  /** Calls the app and returns the answer and how long it took. */
  async function timed(path: string, init: RequestInit = {}) {
    const started = performance.now()
    const res = await fetch(`http://127.0.0.1:${app.port}${path}`, init)
    const body = await res.json()
    return { status: res.status, body, ms: performance.now() - started }
  }

  const failing: Array<[string, RequestInit, number]> = [
    ['/probe/boom/1', {}, 500],
    ['/probe/returned', {}, 503],
    [
      '/probe/payment-failed/ord-1',
      { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } },
      502,
    ],
  ]

  test('failing requests, one after another, answer normally and well inside the bound', async () => {
    for (let round = 0; round < 10; round++) {
      for (const [path, init, status] of failing) {
        const { status: got, body, ms } = await timed(path, init)
        expect(got).toBe(status)
        if (status !== 503) expect(typeof body.error.requestId).toBe('string')
        expect(ms).toBeLessThan(HANG_BOUND_MS)
      }
    }
    // The SDK did try to deliver (to an endpoint that never answers), so this exercised Sentry.
    if (ingest) expect(ingest.received()).toBeGreaterThan(0)
  })

  test('concurrent failing requests answer well inside the bound', async () => {
    const started = performance.now()
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        timed(`/probe/boom/${i}`, { headers: { 'x-request-id': `c-${i}` } }),
      ),
    )
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 500))
    expect(answers.map((a) => a.body.error.requestId)).toEqual(answers.map((_, i) => `c-${i}`))
    expect(performance.now() - started).toBeLessThan(HANG_BOUND_MS)
  })

  test('flushing gives up at its timeout instead of hanging', async () => {
    const { body, ms } = await timed('/probe/flush?timeoutMs=300')
    if (mode === 'hanging') {
      // Events are still waiting for an answer when the timeout ends the wait.
      expect(body).toEqual({ delivered: false })
      expect(ms).toBeLessThan(HANG_BOUND_MS)
    } else {
      // A closed port refuses every send at once: the queue is empty (nothing pending), so the
      // flush reports true before its 300 ms timeout instead of waiting it out.
      expect(body).toEqual({ delivered: true })
      expect(ms).toBeLessThan(300)
    }
  })

  test('the process still shuts down promptly', async () => {
    const { code, ms } = await app.stop()
    expect(code).toBe(0)
    // The fixture flushes for at most 1 s on SIGTERM.
    expect(ms).toBeLessThan(5000)
    expect(app.lines.at(-1)).toMatchObject({ stopped: true })
  })
})
