/**
 * Bun entry (`bun run start`): the Bun server, signals and Sentry SDK, handed to the
 * runtime-agnostic main().
 */
import { requestState } from './http/request-context.ts'
import { main } from './main.ts'
import { startSentry } from './observability/sentry.ts'
import type { Runtime } from './runtime/types.ts'

const bun: Runtime = {
  name: 'bun',
  version: Bun.version,
  revision: Bun.revision,
  env: Bun.env,
  async serve(app, options) {
    const server = Bun.serve({ ...options, fetch: app.fetch })
    return { port: server.port ?? options.port, stop: (closeActive) => server.stop(closeActive) }
  },
  onShutdownSignal(handler) {
    process.on('SIGTERM', () => handler('SIGTERM'))
    process.on('SIGINT', () => handler('SIGINT'))
  },
  onFatalError(handler) {
    process.on('uncaughtException', (error) => handler(error, 'uncaughtException'))
    process.on('unhandledRejection', (reason) => handler(reason, 'unhandledRejection'))
  },
  exit: (code) => process.exit(code),
  async startSentry(settings) {
    return {
      reporter: startSentry(await import('@sentry/bun'), settings, requestState),
      instrumentPostgres: (await import('@sentry/server-utils')).instrumentPostgresJsSql,
    }
  },
}

await main(bun)
