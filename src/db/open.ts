import { fileURLToPath } from 'node:url'
import type { Config } from '../config.ts'
import type { Logger } from '../core/logger.ts'
import type { DatabaseHandle } from './client.ts'
import { migrateEmbedded, openEmbedded } from './embedded.ts'
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
