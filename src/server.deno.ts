/**
 * Deno entry (`bun run start:deno`): Deno.serve, Deno's signals and environment and
 * `@sentry/deno`, handed to the runtime-agnostic main().
 */
import { requestState } from './http/request-context.ts'
import { main } from './main.ts'
import { startSentry } from './observability/sentry.ts'
import { withSdk11RequestHeaders } from './runtime/sentry-deno.ts'
import type { Runtime } from './runtime/types.ts'

// Deno's global, typed here so that the project's TypeScript check (bun-types) accepts it.
declare const Deno: {
  version: { deno: string }
  env: { toObject(): Record<string, string> }
  serve(
    options: { port: number; hostname: string; signal: AbortSignal; onListen(addr: { port: number }): void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { finished: Promise<void>; shutdown(): Promise<void> }
  addSignalListener(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void
  exit(code: number): never
}

const deno: Runtime = {
  name: 'deno',
  version: Deno.version.deno,
  env: Deno.env.toObject(),
  // Deno.exit drops pino's pending asynchronous writes, among them the last lines of a shutdown.
  syncLogs: true,
  serve(app, options) {
    const abort = new AbortController()
    return new Promise((resolve) => {
      const server = Deno.serve(
        {
          port: options.port,
          hostname: options.hostname,
          signal: abort.signal,
          onListen: ({ port }) =>
            resolve({
              port,
              async stop(closeActive) {
                if (closeActive) abort.abort()
                else await server.shutdown()
              },
            }),
        },
        (request) => app.fetch(request),
      )
    })
  },
  onShutdownSignal(handler) {
    Deno.addSignalListener('SIGTERM', () => handler('SIGTERM'))
    Deno.addSignalListener('SIGINT', () => handler('SIGINT'))
  },
  // Deno's default for an uncaught error (an `error` event on globalThis) or an unhandled
  // rejection (`unhandledrejection`) prints it to stderr and exits 1 on the spot: no fatal log
  // line. preventDefault() keeps the process alive (Deno's "Program Lifecycle" docs; its own
  // test cli/tests/testdata/unhandled_rejection.js), here until main()'s handler has flushed
  // Sentry and the logs and exits itself.
  onFatalError(handler) {
    globalThis.addEventListener('error', (event) => {
      event.preventDefault()
      handler((event as ErrorEvent).error, 'uncaughtException')
    })
    globalThis.addEventListener('unhandledrejection', (event) => {
      event.preventDefault()
      handler((event as PromiseRejectionEvent).reason, 'unhandledRejection')
    })
  },
  exit: (code) => Deno.exit(code),
  // denoServeIntegration wraps Deno.serve when the SDK starts; serve() above looks it up only
  // when called, after main() has started Sentry, so every request gets its http.server span.
  async startSentry(settings) {
    const sdk = await import('@sentry/deno')
    return {
      reporter: startSentry(withSdk11RequestHeaders(sdk), settings, requestState),
      // The SDK's own copy: @sentry/server-utils would record spans in @sentry/core 11, which
      // @sentry/deno (10.x, the newest published) does not read.
      instrumentPostgres: sdk.instrumentPostgresJsSql,
    }
  },
}

await main(deno)
