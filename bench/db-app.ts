/**
 * The application the database benchmarks measure: `createApp` with everything production
 * wires, on the in-memory embedded database or on a PostgreSQL database of its own, and a
 * tenant with a product, so that `GET /products/:id` with the tenant's bearer key is the real
 * route (tenant authentication by key hash, product read, `product_views_total`).
 * Used by bench/server.ts (one variant per process) and bench/allocations.ts.
 */
import postgres from 'postgres'
import { createApp, SERVICE_VERSION } from '../src/app.ts'
import { hashApiKey } from '../src/auth/keys.ts'
import { loadConfig } from '../src/config.ts'
import { systemClock } from '../src/core/clock.ts'
import { createLogDestination, createLogger, flushLogs } from '../src/core/logger.ts'
import type { DatabaseHandle } from '../src/db/client.ts'
import { migrateEmbedded, openEmbedded } from '../src/db/embedded.ts'
import { MIGRATIONS_FOLDER } from '../src/db/open.ts'
import { migratePostgres, openPostgres } from '../src/db/postgres.ts'
import { products } from '../src/db/schema.ts'
import { createHttpClient } from '../src/http/outbound.ts'
import { createMetrics } from '../src/metrics.ts'
import { buildServices } from '../src/services.ts'
import { createTenantRepository } from '../src/tenants/repository.ts'

export interface BenchAppOptions {
  /** Metrics on (HTTP, statement timing, business metrics); off is `METRICS_ENABLED=false`. */
  metrics: boolean
  /** Statement timing (`db_query_duration_seconds`) when metrics are on; default true. */
  statementTiming?: boolean
  /** `info` writes an access line per request; `warn` writes none. */
  logLevel: 'info' | 'warn'
  /** Where the log lines go (the production destination, to a file). */
  logFile: string
  /** A PostgreSQL server's URL: the app gets a database of its own there. Else the in-memory embedded database. */
  postgresUrl?: string
}

export interface BenchApp {
  app: ReturnType<typeof createApp>
  database: DatabaseHandle
  /** Flushes the log, closes the database and drops the PostgreSQL database it made. */
  close(): Promise<void>
}

/** A PostgreSQL database of this process's own on the server of `url`, dropped by the returned `drop`. */
export async function ownPostgresDatabase(
  url: string,
  suffix = '',
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `cc_bench_${process.pid}${suffix}`
  const admin = postgres(url, { max: 1, onnotice: () => {} })
  await admin.unsafe(`drop database if exists ${name} with (force)`)
  await admin.unsafe(`create database ${name}`)
  const own = new URL(url)
  own.pathname = `/${name}`
  return {
    url: own.toString(),
    async drop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    },
  }
}

/** Builds the app as production does (NODE_ENV=production), with the database and log chosen. */
export async function openBenchApp(options: BenchAppOptions, suffix = ''): Promise<BenchApp> {
  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'production',
    LOG_LEVEL: options.logLevel,
    METRICS_ENABLED: String(options.metrics),
  })
  const log = createLogger(
    { level: config.logLevel, pretty: false },
    createLogDestination({ path: options.logFile }),
  )
  const metrics = createMetrics({
    log,
    enabled: config.metrics.enabled,
    seriesLimits: config.metrics.seriesLimits,
    build: { version: SERVICE_VERSION, commit: config.buildCommit, runtimeVersion: Bun.version },
  })
  const onQuery = options.statementTiming === false ? undefined : metrics.observeQuery
  let database: DatabaseHandle
  let drop = async () => {}
  if (options.postgresUrl) {
    const own = await ownPostgresDatabase(options.postgresUrl, suffix)
    drop = own.drop
    await migratePostgres(own.url, MIGRATIONS_FOLDER, log)
    database = openPostgres(
      {
        url: own.url,
        poolSize: config.database.poolSize,
        connectTimeoutMs: config.database.connectTimeoutMs,
        onQuery,
      },
      log,
    )
  } else {
    database = await openEmbedded({ onQuery, sharedBuffersMb: config.database.embeddedSharedBuffersMb }, log)
    await migrateEmbedded(database, MIGRATIONS_FOLDER, log)
  }
  const infra = { config, database, log, clock: systemClock, http: createHttpClient(fetch), metrics }
  const app = createApp({ ...infra, services: buildServices(infra) })
  return {
    app,
    database,
    async close() {
      await flushLogs(log)
      await database.close()
      await drop()
    },
  }
}

/** Creates a tenant whose key is `apiKey` (only its hash is stored) and one product; returns the product's id. */
export async function seedProduct(database: DatabaseHandle, apiKey: string): Promise<string> {
  const tenant = await createTenantRepository().insert(
    database.db,
    { name: 'bench', apiKeyHash: hashApiKey(apiKey) },
    '+15550100000',
  )
  const [product] = await database.db
    .insert(products)
    .values({ tenantId: tenant.id, name: 'Bench product', priceMinor: 1999, currency: 'USD', stock: 5 })
    .returning()
  return product!.id
}
