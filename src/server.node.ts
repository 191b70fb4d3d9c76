/**
 * Node entry (`bun run start:node`, which bundles this file for Node with `bun build
 * --target=node` and runs it with node): Elysia's Node adapter, Node's signals and
 * environment and `@sentry/node`, handed to the runtime-agnostic main().
 */
import type { AnyElysia } from 'elysia'
import { requestState } from './http/request-context.ts'
import { main } from './main.ts'
import { startSentry } from './observability/sentry.ts'
import { nodeAdapter } from './runtime/node-adapter.ts'
import { discardUnreadBodies } from './runtime/node-drain.ts'
import type { Runtime } from './runtime/types.ts'

interface NodeServer {
  node?: {
    server?: Parameters<typeof discardUnreadBodies>[0] & { address(): { port: number } | string | null }
  }
  ready?(): Promise<unknown>
  close(closeActiveConnections?: boolean): Promise<void>
}

const nodeRuntime: Runtime = {
  name: 'node',
  version: process.versions.node,
  env: process.env,
  // Not node() itself: it replaced the content type a route set (src/runtime/node-adapter.ts).
  adapter: nodeAdapter(),
  serve(app, options) {
    return new Promise((resolve, reject) => {
      ;(app as unknown as AnyElysia).listen({ port: options.port, hostname: options.hostname }, (info) => {
        const raw = (info as unknown as { raw: NodeServer }).raw
        // A 413 left its body unread and the connection stuck (src/runtime/node-drain.ts).
        if (raw.node?.server) discardUnreadBodies(raw.node.server)
        // srvx's ready() rejects with the server's listen error (EADDRINUSE, ENOTFOUND…): passed
        // on, main() reports it; left in this callback, it ended the process as an unhandled rejection.
        Promise.resolve(raw.ready?.()).then(() => {
          const address = raw.node?.server?.address()
          resolve({
            port: typeof address === 'object' && address ? address.port : options.port,
            stop: (closeActive) => raw.close(closeActive),
          })
        }, reject)
      })
    })
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
  // `@sentry/node` sees incoming requests through node:http's diagnostics channel
  // (http.server.request.start), so loading it after node:http, here rather than with
  // `node --import`, still gives each request its isolation scope and http.server span.
  async startSentry(settings) {
    return {
      reporter: startSentry(await import('@sentry/node'), settings, requestState),
      instrumentPostgres: (await import('@sentry/server-utils')).instrumentPostgresJsSql,
    }
  },
}

await main(nodeRuntime)
