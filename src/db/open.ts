import { fileURLToPath } from 'node:url'
import type { Config } from '../config.ts'
import type { Logger } from '../core/logger.ts'
import { scrubText } from '../core/scrub.ts'
import type { DatabaseHandle } from './client.ts'
import { DataDirLockedError, DataDirUnusableError, migrateEmbedded, openEmbedded } from './embedded.ts'
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
    await migratePostgres(config.url, migrationsFolder, log, { connectTimeoutMs: config.connectTimeoutMs })
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

/**
 * What the URL parser, the network, the driver or the server says when PostgreSQL cannot be
 * reached or will not take the connection: a setting or an outage, never a bug of ours. The
 * codes are Node's (Bun and Deno use them too), postgres.js' own, TLS's, and the SQLSTATEs a
 * server answers a connection with.
 */
const CONNECTION_CODES = new Set([
  // A URL the config's pattern let through but postgres.js cannot parse (port 99999); the
  // error's `input` is the whole URL, password included, so it must not reach the log as is.
  'ERR_INVALID_URL',
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ERR_SOCKET_BAD_PORT',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'SSL_NOT_SUPPORTED',
  'SASL_SIGNATURE_MISMATCH',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  // invalid_catalog_name (no such database), too_many_connections, cannot_connect_now
  // (starting up, shutting down), insufficient_privilege (no CONNECT on the database)
  '3D000',
  '53300',
  '57P03',
  '42501',
])

/** SQLSTATE classes of a refused connection: 08 connection exception, 28 invalid authorization. */
const CONNECTION_SQLSTATE_CLASSES = ['08', '28']

/**
 * The start-up's one fatal line when the database would not open for a reason of
 * configuration or connection: for PostgreSQL, DATABASE_URL, where it points and the cause
 * (`connect ECONNREFUSED 127.0.0.1:1`, `database "shop" does not exist (SQLSTATE 3D000)`),
 * with the URL's password cut out wherever the driver may have quoted it; for the embedded
 * database, a DATA_DIR held by another process or one it cannot create or write. `undefined`
 * for any other failure: a bug, or a migration the database refused, whose line
 * {@link databaseOpenProblem} writes and whose stack the log keeps.
 */
export function databaseConnectionProblem(
  config: Pick<Config['database'], 'url' | 'connectTimeoutMs'>,
  error: unknown,
): string | undefined {
  if (!config.url) {
    return error instanceof DataDirLockedError || error instanceof DataDirUnusableError
      ? `cannot open the embedded database: ${error.message}`
      : undefined
  }
  if (!(error instanceof Error) || error instanceof MigrationError) return undefined
  const code = (error as { code?: unknown }).code
  if (
    typeof code !== 'string' ||
    !(
      CONNECTION_CODES.has(code) ||
      (error.name === 'PostgresError' &&
        (CONNECTION_SQLSTATE_CLASSES.includes(code.slice(0, 2)) ||
          // FATAL ends the session: at start-up, the server refusing the connection as configured,
          // such as a URL query parameter postgres.js passes on as a setting (`?schema=public`,
          // Prisma's: 42704 unrecognized configuration parameter). A statement's error is ERROR.
          (error as { severity?: unknown }).severity === 'FATAL'))
    )
  ) {
    return undefined
  }
  const cause = withoutPassword(connectionCause(error, code, config.connectTimeoutMs), config.url)
  return `cannot open the database: PostgreSQL at ${postgresTarget(config.url)} (DATABASE_URL): ${cause}; check that it is running and reachable and that the URL's host, port, user, password and database are right, or unset DATABASE_URL for the embedded database`
}

/** The driver's reason in one line, with its code. */
function connectionCause(error: Error, code: string, connectTimeoutMs: number): string {
  if (error.name === 'PostgresError' && code === '42704')
    return `${error.message} (SQLSTATE ${code}): a DATABASE_URL query parameter postgres.js does not know is sent to the server as a setting; remove it (Prisma's schema= is options=-c%20search_path%3D<schema> here, connection_limit= is DB_POOL_SIZE)`
  if (error.name === 'PostgresError') return `${error.message} (SQLSTATE ${code})`
  // postgres.js words its own connection errors `write CONNECT_TIMEOUT host:port`.
  const message = error.message.replace(/^write (?=[A-Z_]+ )/, '')
  if (code === 'CONNECT_TIMEOUT')
    return `${message} (no answer within DB_CONNECT_TIMEOUT_MS, ${connectTimeoutMs} ms)`
  return message.includes(code) ? message : `${code}: ${message}`
}

/** `text` with every occurrence of the URL's password, as written and decoded, replaced. */
function withoutPassword(text: string, url: string): string {
  let password = ''
  try {
    password = new URL(url).password
  } catch {
    return text
  }
  let out = text
  for (const form of new Set([password, safeDecode(password)])) {
    if (form) out = out.split(form).join('[redacted]')
  }
  return out
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/**
 * The one line a command-line tool (`db:migrate`, `alerts:evaluate`) prints when
 * {@link openMigratedDatabase} throws, as the server's start-up says it: a setting or an outage
 * with its cause (`databaseConnectionProblem`), otherwise where the database was and the
 * error's message, with any URL password or phone number it quotes scrubbed. Never a stack.
 */
export function databaseFailureLine(
  config: Pick<Config['database'], 'url' | 'dataDir' | 'connectTimeoutMs'>,
  error: unknown,
): string {
  return (
    databaseConnectionProblem(config, error) ??
    `${databaseOpenProblem(config, error)} — ${scrubText(String((error as Error)?.message ?? error))}`
  )
}
