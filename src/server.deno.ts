/**
 * Deno entry (`bun run start:deno`): Deno.serve, Deno's signals and environment, handed to
 * the runtime-agnostic main(). No Sentry SDK is wired on Deno (SENTRY_DSN logs a warning).
 */
import { main } from './main.ts'
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
  exit: (code) => Deno.exit(code),
}

await main(deno)
