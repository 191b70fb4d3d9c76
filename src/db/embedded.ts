import { closeSync, existsSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { drizzle } from 'drizzle-orm/pglite'
import { migrate } from 'drizzle-orm/pglite/migrator'
import { DEFAULT_EMBEDDED_SHARED_BUFFERS_MB } from '../config.ts'
import type { Logger } from '../core/logger.ts'
import { type Database, type DatabaseHandle, sqlLogger } from './client.ts'
import { migrationFailure } from './migrations.ts'
import { instrumentPglite, type QueryObserver } from './query-timing.ts'
import { schema } from './schema.ts'

/** Raised when another live process holds the embedded database folder. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError'
  /** An expected refusal with its own remedy: development logs print it as one line, without a stack. */
  readonly code = 'DATA_DIR_LOCKED'
}

/**
 * Raised when DATA_DIR cannot hold the embedded database: a file in its place or on its path,
 * a parent that does not exist and cannot be made, no permission, a read-only disk.
 */
export class DataDirUnusableError extends Error {
  override name = 'DataDirUnusableError'
  /** A setting with its own remedy, as DATA_DIR_LOCKED: one line at start-up, without a stack. */
  readonly code = 'DATA_DIR_UNUSABLE'
}

/**
 * `error` as a {@link DataDirUnusableError} naming DATA_DIR and the system's reason, when it is
 * a file-system refusal (a Node `E…` code); anything else (a bug) is returned as it is.
 */
function dataDirRefusal(dir: string, error: unknown): unknown {
  const { code, message } = error as { code?: unknown; message?: unknown }
  if (typeof code !== 'string' || !code.startsWith('E')) return error
  return new DataDirUnusableError(
    `DATA_DIR ${dir} is not a folder this process can create and write (${message}): set DATA_DIR to one that is, or set DATABASE_URL for PostgreSQL`,
  )
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM'
  }
}

/**
 * Takes an exclusive lock on `dir` with an O_EXCL lock file holding our PID. PGlite itself
 * takes no lock, and two processes on one data folder corrupt it. A lock file left by a
 * dead process (crash, SIGKILL) is taken over; in a container the restarted service may
 * get the same PID as its dead predecessor, so our own PID in the file also counts as stale.
 */
export function lockDataDir(dir: string): () => void {
  try {
    mkdirSync(dir, { recursive: true })
  } catch (error) {
    throw dataDirRefusal(dir, error)
  }
  const lockPath = join(dir, 'lock')
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
      return () => {
        try {
          if (readFileSync(lockPath, 'utf8') === String(process.pid)) unlinkSync(lockPath)
        } catch {
          // already gone
        }
      }
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw dataDirRefusal(dir, error)
      let holder = Number.NaN
      try {
        holder = Number.parseInt(readFileSync(lockPath, 'utf8'), 10)
      } catch {
        // removed between our open and read: retry
      }
      if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
        throw new DataDirLockedError(
          `DATA_DIR ${dir} is in use by process ${holder} (another \`bun run dev\` or \`bun run start\`?); the embedded database allows one process: stop that one, set DATA_DIR to another folder, or set DATABASE_URL to share PostgreSQL`,
        )
      }
      try {
        unlinkSync(lockPath)
      } catch {
        // another starter removed it first
      }
    }
  }
  throw new DataDirLockedError(`could not lock DATA_DIR ${dir}`)
}

/**
 * Memory, in bytes, that creating the embedded database needs: PGlite runs PostgreSQL's initdb
 * in a second WebAssembly instance (each instance's memory is at least 128 MiB) beside its own.
 * Measured with `bun run start` on an empty DATA_DIR in a memory cgroup: killed by the kernel at
 * 576 MiB, up at 640 MiB. Later starts on the same folder peaked at 142 MiB.
 */
export const EMBEDDED_CREATION_MEMORY_BYTES = 640 * 2 ** 20

/**
 * The memory this process may use, in bytes: a container's limit, else the machine's RAM, as
 * Node's and Bun's `process.constrainedMemory()` report it; undefined where the runtime does not
 * say (it is not a web-standard API).
 */
function memoryLimit(): number | undefined {
  const limit = (process as { constrainedMemory?: () => number }).constrainedMemory?.()
  return limit !== undefined && limit > 0 ? limit : undefined
}

export interface EmbeddedOptions {
  /** Folder to persist in; undefined keeps the database in memory (tests). */
  dataDir?: string
  /** `shared_buffers` in MiB; default DEFAULT_EMBEDDED_SHARED_BUFFERS_MB. */
  sharedBuffersMb?: number
  /** Told about every statement the returned handle runs (db_query_duration_seconds). */
  onQuery?: QueryObserver
  /**
   * A database folder to start from, as `EmbeddedHandle.dumpDataDir` wrote it, when the
   * database is created (in memory, or in a `dataDir` that holds none yet): creating one from
   * a dump takes about 0.7 s where initdb takes 2 to 4 (the tests' fresh databases).
   */
  loadDataDir?: Blob
  /**
   * The memory the process may use, in bytes; default `process.constrainedMemory()`. Below
   * EMBEDDED_CREATION_MEMORY_BYTES, a start that creates the database warns first.
   */
  memoryLimitBytes?: number
}

/**
 * Warns, before creating the database, when the memory limit is below what creating it needs:
 * the kernel kills such a process without a word of its own (SIGKILL), so this line is the last
 * one the operator reads. The warning names no path or setting value beyond the two sizes.
 */
function warnIfCreationMayNotFit(pgdata: string | undefined, options: EmbeddedOptions, log: Logger) {
  const creating = pgdata === undefined || !existsSync(join(pgdata, 'PG_VERSION'))
  const limit = options.memoryLimitBytes ?? memoryLimit()
  if (!creating || limit === undefined || limit >= EMBEDDED_CREATION_MEMORY_BYTES) return
  log.warn(
    { memoryLimitMiB: Math.floor(limit / 2 ** 20), neededMiB: EMBEDDED_CREATION_MEMORY_BYTES / 2 ** 20 },
    'creating the embedded database needs more memory than this process may use: it may be killed (raise the memory limit, or set DATABASE_URL)',
  )
}

/** An open embedded database. */
export interface EmbeddedHandle extends DatabaseHandle {
  /** The whole database folder as an uncompressed tarball (PGlite's `dumpDataDir`). */
  dumpDataDir(): Promise<Blob>
}

/** Opens PGlite (an embedded PostgreSQL in WebAssembly), locking its folder first. */
export async function openEmbedded(options: EmbeddedOptions, log: Logger): Promise<EmbeddedHandle> {
  const unlock = options.dataDir ? lockDataDir(options.dataDir) : () => {}
  let client: PGlite
  // PGlite's PGDATA: the folder PostgreSQL's files (PG_VERSION first) go in.
  const pgdata = options.dataDir ? join(options.dataDir, 'pgdata') : undefined
  try {
    warnIfCreationMayNotFit(pgdata, options, log)
    // A start parameter, not `postgresqlconf`: PGlite writes that option over the data folder's
    // postgresql.conf, which is the operator's file once the folder exists.
    const settings = {
      startParams: [
        ...PGlite.defaultStartParams,
        '-c',
        `shared_buffers=${options.sharedBuffersMb ?? DEFAULT_EMBEDDED_SHARED_BUFFERS_MB}MB`,
      ],
      loadDataDir: options.loadDataDir,
    }
    client = pgdata ? await PGlite.create(pgdata, settings) : await PGlite.create(settings)
  } catch (error) {
    unlock()
    throw error
  }
  const queried = options.onQuery ? instrumentPglite(client, options.onQuery) : client
  const db = drizzle(queried, { schema, logger: sqlLogger(log) }) as unknown as Database
  let closed = false
  return {
    db,
    kind: 'pglite',
    poolSize: 1,
    dumpDataDir: () => client.dumpDataDir('none'),
    async close() {
      if (closed) return
      closed = true
      try {
        await client.close()
      } finally {
        unlock()
      }
    },
  }
}

/**
 * Applies the committed migrations to the embedded database.
 *
 * @throws `MigrationError` (`./migrations.ts`) when the database refused a migration's SQL
 *   (none is applied then).
 */
export async function migrateEmbedded(handle: DatabaseHandle, migrationsFolder: string, log: Logger) {
  // One process owns the folder (see lockDataDir), so no advisory lock is needed here.
  await migrate(handle.db as never, { migrationsFolder }).catch((error: unknown) => {
    throw migrationFailure(error, migrationsFolder)
  })
  log.info('database migrations applied')
}
