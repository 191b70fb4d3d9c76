import type { ElysiaAdapter } from 'elysia'
import type { ErrorReporter } from '../observability/error-reporter.ts'
import type { SentrySettings } from '../observability/sentry.ts'

/** How an error reached the top of the process uncaught. */
export type FatalErrorOrigin = 'uncaughtException' | 'unhandledRejection'

/** A listening HTTP server, whatever runtime serves it. */
export interface ServeHandle {
  /** The port actually bound (PORT=0 picks a free one). */
  port: number
  /**
   * Stops accepting connections. With `closeActive` false it resolves once in-flight
   * requests have finished; with true it drops them.
   */
  stop(closeActive: boolean): Promise<void>
}

/** A web-standard handler and the adapter-built app object some runtimes serve directly. */
export interface Servable {
  fetch: (request: Request) => Response | Promise<Response>
}

/**
 * Everything the service needs from the runtime that runs it. The entry files (Bun, Deno,
 * Node) each implement this in a few lines; the rest of the code is runtime-agnostic.
 */
export interface Runtime {
  name: 'bun' | 'deno' | 'node'
  version: string
  revision?: string
  env: Record<string, string | undefined>
  /** Log lines must be written synchronously: the runtime's exit drops pending writes (Deno). */
  syncLogs?: boolean
  /** Elysia adapter the app must be built with (Node needs one; Bun and Deno serve app.fetch). */
  adapter?: ElysiaAdapter
  serve(
    app: Servable,
    options: { port: number; hostname: string; maxRequestBodySize: number },
  ): Promise<ServeHandle>
  onShutdownSignal(handler: (signal: string) => void): void
  /**
   * Calls `handler` instead of the runtime's own crash for an error nothing caught: an
   * exception thrown from a timer or callback, a rejected promise nobody awaited. The handler
   * ends the process itself. Required: without it the runtime's default applies (Deno's
   * printed the error to stderr and exited 1 without the fatal log line).
   */
  onFatalError(handler: (error: unknown, origin: FatalErrorOrigin) => void): void
  exit(code: number): never
  /**
   * Initialises this runtime's Sentry SDK (`@sentry/bun`, `@sentry/node`, `@sentry/deno`),
   * loaded on demand, only when SENTRY_DSN is set, before the server starts.
   */
  startSentry(
    settings: SentrySettings,
  ): Promise<{ reporter: ErrorReporter; instrumentPostgres?: <T>(sql: T) => T }>
}
