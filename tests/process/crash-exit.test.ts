import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { type ServerProcess, startServer } from '../helpers/process.ts'
import { type Ingest, startIngest } from '../helpers/sentry-ingest.ts'

// Starts real processes: well over bun's 5 s default.
setDefaultTimeout(30_000)

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** The server with a fixture that crashes it on SIGUSR2 (a throw) or SIGHUP (a rejection). */
async function startCrashable(env: Record<string, string> = {}): Promise<ServerProcess> {
  const server = await startServer(env, undefined, [
    'bun',
    '--preload',
    './tests/process/fixtures/crash-on-signal.ts',
    'src/server.ts',
  ])
  cleanups.push(() => server.cleanup())
  return server
}

/** Resolves with the exit code, or 'still running' after `ms` (the test then fails, and cleanup kills it). */
const exitWithin = (server: ServerProcess, ms: number) =>
  Promise.race([server.exited, Bun.sleep(ms).then(() => 'still running' as const)])

const REQUESTS = 25

const cases = [
  {
    origin: 'uncaughtException',
    signal: 'SIGUSR2',
    msg: 'uncaught exception: crash test: thrown from a timer',
  },
  {
    origin: 'unhandledRejection',
    signal: 'SIGHUP',
    msg: 'unhandled rejection: crash test: rejected, never awaited',
  },
] as const

describe('a crash outside any request (real process, stdout a pipe)', () => {
  for (const { origin, signal, msg } of cases) {
    test(`${origin}: the access lines of the last requests and a fatal line reach stdout, exit 1`, async () => {
      const server = await startCrashable()
      for (let i = 0; i < REQUESTS; i++) await (await fetch(`${server.url}/crash-test/${i}`)).text()
      // Within the destination's 100 ms batching delay: these lines are still queued.
      server.proc.kill(signal)
      expect(await exitWithin(server, 10_000)).toBe(1)
      await Bun.sleep(100) // the last chunk of stdout, read after the exit
      const access = server.lines.filter((l) => l.msg === 'request')
      expect(access).toHaveLength(REQUESTS)
      const fatal = server.lines.at(-1)!
      expect(fatal).toMatchObject({ level: 'fatal', origin, msg })
    })

    test(`${origin}: the error reaches Sentry before the process exits`, async () => {
      const ingest: Ingest = await startIngest()
      cleanups.push(() => ingest.stop())
      const server = await startCrashable({ SENTRY_DSN: ingest.dsn, SENTRY_TRACES_SAMPLE_RATE: '0' })
      server.proc.kill(signal)
      // With Sentry's own handler registered, a rejection used not to end the process at all.
      expect(await exitWithin(server, 10_000)).toBe(1)
      const values = ingest.events().flatMap((e) => e.exception?.values ?? [])
      expect(values.map((v) => v.value)).toContain(msg.slice(msg.indexOf(': ') + 2))
    })
  }
})
