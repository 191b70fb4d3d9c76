/**
 * One benchmark target per process, so that any load tool can drive it:
 *
 *   BENCH_VARIANT=bare|metrics|full PORT=8080 bun bench/server.ts   → GET /users/:id (no I/O)
 *   BENCH_VARIANT=db METRICS_ENABLED=true|false PORT=8080 bun bench/server.ts → GET /products/:id
 *
 * bare    Elysia alone.
 * metrics Elysia plus the HTTP metrics plugin with the full metric set (counter, histogram,
 *         in-flight gauge, series budget).
 * full    createApp with everything production wires per request: request id, metrics,
 *         access log at info to a file (BENCH_LOG_FILE, default a temp file), error envelope.
 * db      the full app on the embedded database (in memory), with db_query_duration_seconds
 *         when METRICS_ENABLED is true. The commerce routes are not on this branch yet, so the
 *         route and its product row are created here with drizzle.
 *
 * Prints `listening <port>` once ready; SIGTERM stops it.
 */
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eq } from 'drizzle-orm'
import { Elysia, t } from 'elysia'
import pino from 'pino'
import { createApp, SERVICE_VERSION } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import { systemClock } from '../src/core/clock.ts'
import { notFound } from '../src/core/errors.ts'
import { createLogger } from '../src/core/logger.ts'
import { migrateEmbedded, openEmbedded } from '../src/db/embedded.ts'
import { MIGRATIONS_FOLDER } from '../src/db/open.ts'
import { products, tenants } from '../src/db/schema.ts'
import { httpMetrics } from '../src/http/http-metrics.ts'
import { UuidParam } from '../src/http/models.ts'
import { createHttpClient } from '../src/http/outbound.ts'
import { createMetrics } from '../src/metrics.ts'
import { buildServices } from '../src/services.ts'

const variant = process.env.BENCH_VARIANT ?? 'bare'
const port = Number(process.env.PORT ?? 8080)

const user = ({ params }: { params: { id: string } }) => ({ id: params.id, name: `User ${params.id}` })

async function fullApp() {
  const config = loadConfig({ ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'info' })
  const logFile = process.env.BENCH_LOG_FILE ?? join(tmpdir(), `bench-${variant}-${process.pid}.log`)
  const log = createLogger({ level: 'info', pretty: false }, pino.destination({ dest: logFile, sync: false }))
  const metrics = createMetrics({
    log,
    enabled: config.metrics.enabled,
    seriesLimits: config.metrics.seriesLimits,
    build: { version: SERVICE_VERSION, commit: config.buildCommit, runtimeVersion: Bun.version },
  })
  const database = await openEmbedded({ onQuery: metrics.observeQuery }, log)
  await migrateEmbedded(database, MIGRATIONS_FOLDER, log)
  const infra = { config, database, log, clock: systemClock, http: createHttpClient(fetch), metrics }
  const app = createApp({ ...infra, services: buildServices(infra) })
  return { app, database, log }
}

async function build() {
  if (variant === 'bare') return new Elysia({ normalize: false }).get('/users/:id', user)
  if (variant === 'metrics') {
    const metrics = createMetrics({ log: createLogger({ level: 'silent', pretty: false }) })
    return new Elysia({ normalize: false })
      .use(httpMetrics({ instruments: metrics.http }))
      .get('/users/:id', user)
  }
  if (variant === 'full') return (await fullApp()).app.get('/users/:id', user)
  if (variant === 'db') {
    const { app, database } = await fullApp()
    const [tenant] = await database.db
      .insert(tenants)
      .values({ name: 'bench', apiKeyHash: 'bench' })
      .returning()
    const [product] = await database.db
      .insert(products)
      .values({ tenantId: tenant!.id, name: 'Bench product', priceMinor: 1999, currency: 'USD', stock: 5 })
      .returning()
    console.log(`product ${product!.id}`)
    return app.get(
      '/products/:id',
      async ({ params }) => {
        const [row] = await database.db.select().from(products).where(eq(products.id, params.id)).limit(1)
        if (!row) throw notFound('Product')
        return {
          id: row.id,
          name: row.name,
          priceMinor: row.priceMinor,
          currency: row.currency,
          stock: row.stock,
        }
      },
      { params: t.Object({ id: UuidParam }) },
    )
  }
  throw new Error(`unknown BENCH_VARIANT ${variant} (bare, metrics, full, db)`)
}

const app = await build()
const server = Bun.serve({ port, hostname: '127.0.0.1', fetch: app.fetch })
console.log(`listening ${server.port}`)
process.on('SIGTERM', () => {
  server.stop(true)
  process.exit(0)
})
