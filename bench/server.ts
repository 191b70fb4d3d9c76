/**
 * One benchmark target per process, so that any load tool can drive it:
 *
 *   BENCH_VARIANT=bare|metrics|full|bare+db PORT=8080 bun bench/server.ts   → GET /users/:id (no I/O)
 *   BENCH_VARIANT=db BENCH_INSTRUMENTED=true|false BENCH_API_KEY=… [DATABASE_URL=postgres://…]
 *     PORT=8080 bun bench/server.ts                                  → GET /products/:id
 *
 * bare    Elysia alone.
 * metrics Elysia plus the HTTP metrics plugin with the full metric set (counter, histogram,
 *         in-flight gauge, series budget), every request recording its duration bucket's
 *         exemplar (trace_id, request_id), as production does.
 * full    createApp with everything production wires per request: request id, metrics,
 *         access log at info to a file (BENCH_LOG_FILE, default a temp file of its own), security
 *         headers, error envelope.
 * bare+db Elysia alone, as `bare`, in a process that also holds what `full` holds: the migrated
 *         in-memory embedded database and an unused createApp. No request touches them; the
 *         variant is the memory baseline of `full` (how far garbage lets the RSS of a process
 *         of that size climb under load with no instrumentation at all).
 * db      createApp serving its real GET /products/:id (tenant authentication by the bearer
 *         key BENCH_API_KEY, product lookup, product_views_total) on the in-memory embedded
 *         database, or on PostgreSQL when DATABASE_URL is set (in a database of its own,
 *         dropped on exit). BENCH_INSTRUMENTED=true: metrics on and the access log at info
 *         to a file, as `full`; false: METRICS_ENABLED=false and the log at warn, so no
 *         request, statement or business metric and no access line. BENCH_WITHOUT leaves one
 *         part out of the instrumented app: `metrics` (metrics off, so statement timing too),
 *         `statements` (statement timing only) or `log` (the log at warn: no access line).
 *
 * Prints `listening <port>` once ready (and `product <id>` for db); SIGTERM or SIGINT stops it
 * (and removes the default log file).
 */
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Elysia } from 'elysia'
import { createLogger } from '../src/core/logger.ts'
import { httpMetrics } from '../src/http/http-metrics.ts'
import { createMetrics } from '../src/metrics.ts'
import { traceExemplar } from '../src/observability/instruments.ts'
import { openBenchApp, seedProduct } from './db-app.ts'

const variant = process.env.BENCH_VARIANT ?? 'bare'
const port = Number(process.env.PORT ?? 8080)
const instrumented = variant !== 'db' || process.env.BENCH_INSTRUMENTED !== 'false'
const without = process.env.BENCH_WITHOUT ?? ''
if (!['', 'metrics', 'statements', 'log'].includes(without)) {
  throw new Error(`unknown BENCH_WITHOUT ${without} (metrics, statements, log)`)
}
const cleanups: Array<() => Promise<unknown>> = []

const user = ({ params }: { params: { id: string } }) => ({ id: params.id, name: `User ${params.id}` })
const bareApp = () => new Elysia({ normalize: false }).get('/users/:id', user)

async function fullApp() {
  const logFile = process.env.BENCH_LOG_FILE ?? join(tmpdir(), `bench-${variant}-${process.pid}.log`)
  const bench = await openBenchApp({
    metrics: instrumented && without !== 'metrics',
    statementTiming: without !== 'statements',
    logLevel: instrumented && without !== 'log' ? 'info' : 'warn',
    logFile,
    postgresUrl: process.env.DATABASE_URL || undefined,
  })
  cleanups.push(() => bench.close())
  // A run of `bun run bench` writes a few hundred MB of access lines; a file of our own naming
  // is ours to remove, or every run would leave them in the temporary folder.
  if (process.env.BENCH_LOG_FILE === undefined) cleanups.push(() => rm(logFile, { force: true }))
  return bench
}

async function build() {
  if (variant === 'bare') return bareApp()
  if (variant === 'metrics') {
    const metrics = createMetrics({ log: createLogger({ level: 'silent', pretty: false }) })
    // No requestContext here (its cost is not the metrics'), so no request state to read the
    // ids from: the plugin is handed them, a fresh label set per request as in production.
    const exemplarOf = () => traceExemplar('4bf92f3577b34da6a3ce929d0e0e4736', 'bench-request-id')
    return new Elysia({ normalize: false })
      .use(httpMetrics({ instruments: metrics.http, exemplarOf }))
      .get('/users/:id', user)
  }
  if (variant === 'full') return (await fullApp()).app.get('/users/:id', user)
  if (variant === 'bare+db') {
    await fullApp()
    return bareApp()
  }
  if (variant === 'db') {
    const apiKey = process.env.BENCH_API_KEY
    if (!apiKey) throw new Error('BENCH_API_KEY is required for BENCH_VARIANT=db')
    const { app, database } = await fullApp()
    // The tenant is created by key hash, so the key never has to leave the load generator.
    console.log(`product ${await seedProduct(database, apiKey)}`)
    return app
  }
  throw new Error(`unknown BENCH_VARIANT ${variant} (bare, metrics, full, bare+db, db)`)
}

const app = await build()
// Idle RSS is read right after `listening`: collect start-up garbage (migrations) first.
Bun.gc(true)
const server = Bun.serve({ port, hostname: '127.0.0.1', fetch: app.fetch })
console.log(`listening ${server.port}`)
let stopping = false
async function stop() {
  // Ctrl-C reaches this process twice: SIGINT from the terminal, SIGTERM from bench/run.ts.
  if (stopping) return
  stopping = true
  for (const cleanup of cleanups) await cleanup().catch(() => {})
  process.exit(0)
}
process.on('SIGTERM', stop)
// Ctrl-C on `bun run bench` reaches the servers too: clean up as on SIGTERM.
process.on('SIGINT', stop)
