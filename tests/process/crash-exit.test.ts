/**
 * An error nothing caught, outside any request, ends the service the same way on Bun, Deno and
 * Node (main.ts exitOnFatalError behind each entry's `onFatalError`): one `fatal` line naming
 * the origin, the last access lines and the error's Sentry event delivered, exit code 1. Deno
 * and Node run when their binaries are on the PATH; under REQUIRE_OPS_TOOLS=1 a missing one is
 * a failure.
 */
import { afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { type ServerProcess, startServer } from '../helpers/process.ts'
import { available, RUNTIMES, type RuntimeEntry } from '../helpers/runtimes.ts'
import { type Ingest, startIngest } from '../helpers/sentry-ingest.ts'
import { skipTest } from '../helpers/skips.ts'

// Starts real processes: well over bun's 5 s default.
setDefaultTimeout(30_000)

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Crashes the server on SIGUSR2 (a throw) or SIGHUP (a rejection). */
const CRASH_FIXTURE = 'tests/process/fixtures/crash-on-signal.mjs'

/** `runtime`'s server with the crash fixture loaded before its entry. */
async function startCrashable(
  runtime: RuntimeEntry,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const server = await startServer(env, undefined, runtime.command(CRASH_FIXTURE))
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

for (const runtime of RUNTIMES) {
  const present = available(runtime.binary)
  if (!present && process.env.REQUIRE_OPS_TOOLS !== '1') {
    skipTest(`crash exit: ${runtime.name}`, `${runtime.binary} is not on the PATH`)
    continue
  }
  describe(`${runtime.name}: a crash outside any request (real process, stdout a pipe)`, () => {
    beforeAll(() => {
      expect(present).toBe(true)
      if (runtime.prepare) expect(Bun.spawnSync(runtime.prepare).exitCode).toBe(0)
    })

    for (const { origin, signal, msg } of cases) {
      test(`${origin}: the access lines of the last requests and one fatal line reach stdout, exit 1`, async () => {
        const server = await startCrashable(runtime)
        for (let i = 0; i < REQUESTS; i++) await (await fetch(`${server.url}/crash-test/${i}`)).text()
        // Within the destination's 100 ms batching delay: these lines are still queued.
        server.proc.kill(signal)
        expect(await exitWithin(server, 10_000)).toBe(1)
        await Bun.sleep(100) // the last chunk of stdout, read after the exit
        const access = server.lines.filter((l) => l.msg === 'request')
        expect(access).toHaveLength(REQUESTS)
        const fatal = server.lines.filter((l) => l.level === 'fatal')
        expect(fatal).toHaveLength(1)
        expect(server.lines.at(-1)).toMatchObject({ level: 'fatal', origin, msg })
      })

      test(`${origin}: the error reaches Sentry before the process exits, one fatal line`, async () => {
        const ingest: Ingest = await startIngest()
        cleanups.push(() => ingest.stop())
        const server = await startCrashable(runtime, {
          SENTRY_DSN: ingest.dsn,
          SENTRY_TRACES_SAMPLE_RATE: '0',
        })
        server.proc.kill(signal)
        // With Sentry's own handler registered, a rejection used not to end the process at all.
        expect(await exitWithin(server, 10_000)).toBe(1)
        await Bun.sleep(100) // the last chunk of stdout, read after the exit
        const values = ingest.events().flatMap((e) => e.exception?.values ?? [])
        expect(values.map((v) => v.value)).toContain(msg.slice(msg.indexOf(': ') + 2))
        // The SDK's own handler reports it; main()'s handler alone logs it, once.
        expect(server.lines.filter((l) => l.level === 'fatal')).toEqual([
          expect.objectContaining({ origin, msg }),
        ])
      })
    }
  })
}
