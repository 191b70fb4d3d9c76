import postgres from 'postgres'
import { createLogger } from '../../src/core/logger.ts'
import type { DatabaseHandle } from '../../src/db/client.ts'
import { migrateEmbedded, openEmbedded } from '../../src/db/embedded.ts'
import { MIGRATIONS_FOLDER } from '../../src/db/open.ts'
import { migratePostgres, openPostgres } from '../../src/db/postgres.ts'
import type { QueryObserver } from '../../src/db/query-timing.ts'

const quiet = createLogger({ level: 'silent', pretty: false })

/** PostgreSQL server URL when the suite runs against PostgreSQL (CI's second pass). */
export const POSTGRES_URL = process.env.DATABASE_URL

export const usingPostgres = () => POSTGRES_URL !== undefined && POSTGRES_URL !== ''

function withDatabase(url: string, name: string): string {
  const u = new URL(url)
  u.pathname = `/${name}`
  return u.toString()
}

/**
 * A new, migrated, empty database: a fresh PostgreSQL database on the server named by
 * DATABASE_URL, or an in-memory PGlite. `close()` drops the PostgreSQL database.
 */
export async function freshDatabase(
  options: { poolSize?: number; onQuery?: QueryObserver } = {},
): Promise<DatabaseHandle & { url?: string }> {
  if (!usingPostgres()) {
    const handle = await openEmbedded({ onQuery: options.onQuery }, quiet)
    await migrateEmbedded(handle, MIGRATIONS_FOLDER, quiet)
    return handle
  }
  const name = `cc_test_${process.pid}_${crypto.randomUUID().slice(0, 8)}`
  const admin = postgres(POSTGRES_URL!, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  const url = withDatabase(POSTGRES_URL!, name)
  await migratePostgres(url, MIGRATIONS_FOLDER, quiet)
  const handle = openPostgres(
    { url, poolSize: options.poolSize ?? 10, connectTimeoutMs: 3000, onQuery: options.onQuery },
    quiet,
  )
  return {
    ...handle,
    url,
    async close() {
      await handle.close()
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    },
  }
}

let shared: Promise<DatabaseHandle> | undefined

/**
 * One database shared by all test files of this process (PGlite takes about a second to
 * start). Tests isolate themselves by creating their own tenants.
 */
export function sharedDatabase(): Promise<DatabaseHandle> {
  shared ??= freshDatabase()
  return shared
}

export async function closeSharedDatabase() {
  if (!shared) return
  const handle = await shared
  shared = undefined
  await handle.close()
}
