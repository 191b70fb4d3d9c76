import { afterAll } from 'bun:test'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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

let migrated: Promise<Blob> | undefined

/**
 * A migrated, empty embedded database folder as a tarball, made once per test process the
 * way production makes one (openEmbedded, then migrateEmbedded). Each fresh embedded database
 * starts from it, as PostgreSQL's CREATE DATABASE starts from a template: initdb takes 2 to
 * 4 s in WebAssembly, loading the dump about 0.7 s.
 */
function migratedDump(): Promise<Blob> {
  migrated ??= (async () => {
    const handle = await openEmbedded({}, quiet)
    try {
      await migrateEmbedded(handle, MIGRATIONS_FOLDER, quiet)
      return await handle.dumpDataDir()
    } finally {
      await handle.close()
    }
  })()
  return migrated
}

let templateFolder: Promise<string> | undefined

/**
 * A migrated, empty embedded database folder (PGDATA) on disk, for server processes: copied
 * into a DATA_DIR, it is what a server's first start would have left there. Removed by
 * `closeSharedDatabase`.
 */
function embeddedTemplateFolder(): Promise<string> {
  templateFolder ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-template-'))
    const handle = await openEmbedded({ dataDir: dir, loadDataDir: await migratedDump() }, quiet)
    await handle.close()
    return join(dir, 'pgdata')
  })()
  return templateFolder
}

/**
 * Gives `dataDir` a migrated, empty embedded database, as a server's first start would: a
 * server started on it opens the database instead of creating it. For tests about anything
 * but that first creation.
 */
export async function seedEmbeddedDataDir(dataDir: string): Promise<void> {
  cpSync(await embeddedTemplateFolder(), join(dataDir, 'pgdata'), { recursive: true })
}

/**
 * A new, migrated, empty database: a fresh PostgreSQL database on the server named by
 * DATABASE_URL, or an in-memory PGlite started from a migrated dump (`migratedDump`).
 * `close()` drops the PostgreSQL database.
 */
export async function freshDatabase(
  options: { poolSize?: number; onQuery?: QueryObserver } = {},
): Promise<DatabaseHandle & { url?: string }> {
  if (!usingPostgres()) {
    const handle = await openEmbedded({ onQuery: options.onQuery, loadDataDir: await migratedDump() }, quiet)
    // Applies nothing (the dump is migrated), but checks that it is.
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
  if (templateFolder) {
    const folder = await templateFolder
    templateFolder = undefined
    rmSync(join(folder, '..'), { recursive: true, force: true })
  }
  if (!shared) return
  const handle = await shared
  shared = undefined
  await handle.close()
}

/**
 * A fresh database for the calling test file alone, created on first use and closed after the
 * file: for tests whose work reaches every row of a kind (a reconciliation tick leases every
 * stale pending payment), which rows other files leave in the shared database would disturb.
 */
export function fileDatabase(): () => Promise<DatabaseHandle> {
  let own: Promise<DatabaseHandle> | undefined
  afterAll(async () => {
    await (await own)?.close()
  })
  return () => {
    own ??= freshDatabase()
    return own
  }
}
