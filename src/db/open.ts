import { fileURLToPath } from 'node:url'
import type { Config } from '../config.ts'
import type { Logger } from '../core/logger.ts'
import type { DatabaseHandle } from './client.ts'
import { migrateEmbedded, openEmbedded } from './embedded.ts'
import { MigrationError } from './migrations.ts'
import { migratePostgres, openPostgres } from './postgres.ts'
import type { QueryObserver } from './query-timing.ts'

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url))

/**
 * Opens the configured database and applies migrations: PostgreSQL through postgres.js
 * when DATABASE_URL is set, otherwise the embedded PGlite under DATA_DIR. `onQuery` is told
 * the labels and duration of every statement run through the handle (on the embedded
 * database that includes the start-up migrations).
 * Called by entry files, never by createApp.
 */
export async function openMigratedDatabase(
  config: Config['database'],
  log: Logger,
  migrationsFolder = MIGRATIONS_FOLDER,
  instrumentation: { postgres?: <T>(sql: T) => T; onQuery?: QueryObserver } = {},
): Promise<DatabaseHandle> {
  const { onQuery } = instrumentation
  if (config.url) {
    await migratePostgres(config.url, migrationsFolder, log)
    return openPostgres(
      {
        url: config.url,
        poolSize: config.poolSize,
        connectTimeoutMs: config.connectTimeoutMs,
        instrument: instrumentation.postgres,
        onQuery,
      },
      log,
    )
  }
  const handle = await openEmbedded(
    { dataDir: config.dataDir, sharedBuffersMb: config.embeddedSharedBuffersMb, onQuery },
    log,
  )
  try {
    await migrateEmbedded(handle, migrationsFolder, log)
  } catch (error) {
    await handle.close()
    throw error
  }
  return handle
}

/** Where a PostgreSQL URL points, without its credentials: `127.0.0.1:5432/shop`. */
export function postgresTarget(url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`
  } catch {
    return 'an unparseable URL'
  }
}

/**
 * The start-up's fatal line when the database would not open or migrate. For PostgreSQL it
 * names DATABASE_URL (the driver's own error, `ECONNREFUSED` or `role "x" does not exist`,
 * says nothing of where the address came from) and the way back to the embedded database.
 * A {@link MigrationError} (`error`) is not a connection problem: the line says a migration
 * did not apply, and the error's message says which and why.
 */
export function databaseOpenProblem(
  config: Pick<Config['database'], 'url' | 'dataDir'>,
  error?: unknown,
): string {
  const where = config.url
    ? `PostgreSQL at ${postgresTarget(config.url)} (DATABASE_URL)`
    : `the embedded database in DATA_DIR ${config.dataDir}`
  if (error instanceof MigrationError) {
    return `a migration did not apply to ${where}; none of the pending migrations was applied`
  }
  if (!config.url) return `cannot open ${where}`
  return `cannot open the database: ${where}; check that it is running and that the URL's user and database exist, or unset DATABASE_URL for the embedded database`
}
