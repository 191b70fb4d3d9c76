import { drizzle } from 'drizzle-orm/postgres-js'
import { migrate } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import type { Logger } from '../core/logger.ts'
import { type Database, type DatabaseHandle, sqlLogger } from './client.ts'
import { migrationFailure } from './migrations.ts'
import { instrumentPostgresJs, type QueryObserver } from './query-timing.ts'
import { schema } from './schema.ts'

export interface PostgresOptions {
  url: string
  poolSize: number
  connectTimeoutMs: number
  /** Wraps the postgres.js client, e.g. so that queries become Sentry child spans. */
  instrument?: <T>(sql: T) => T
  /** Told about every statement the returned handle runs (db_query_duration_seconds). */
  onQuery?: QueryObserver
}

/** postgres.js' `connect_timeout` (whole seconds, at least 1) for DB_CONNECT_TIMEOUT_MS. */
function connectTimeoutSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000))
}

/** The longest wait, in seconds, before a pool connection tries the server again after failing to reach it. */
export const MAX_RECONNECT_DELAY_SECONDS = 1

/**
 * Seconds a pool connection waits before its next connection attempt, after `retries`
 * consecutive failures of the pool: postgres.js' own curve (`0.01 × 3^retries`, jittered to
 * 50–100 %) capped at `MAX_RECONNECT_DELAY_SECONDS` instead of its 20. A statement queued on a
 * connection that is waiting waits with it, so postgres.js' cap held API calls for up to 20 s
 * (plus DB_CONNECT_TIMEOUT_MS) once an outage had lasted a dozen attempts, where they should
 * answer 503 promptly, and delayed recovery by as much after the server came back.
 */
export function reconnectDelaySeconds(retries: number, random: () => number = Math.random): number {
  return (0.5 + random() / 2) * Math.min(3 ** retries / 100, MAX_RECONNECT_DELAY_SECONDS)
}

/** postgres.js' `host`, `port` and `database` options. */
type UrlOptions = { host?: string; port?: number; database?: string }

/**
 * What postgres.js 3 reads wrongly from a URL, as options that override it; `{}` when it
 * reads the URL right.
 * - An IPv6 literal host (`postgres://shop@[::1]:5432/shop`): postgres.js cuts the host at its
 *   first `:`, so it dialled a host named `[` (`getaddrinfo ENOTFOUND [`); given as options,
 *   the address is taken as written. A multi-host URL (`h1,h2`) is left to postgres.js.
 * - A percent-encoded database name (`/my%20shop`): postgres.js decodes the user name and
 *   password but not the path, and asked for a database literally named `my%20shop`.
 */
export function postgresUrlOptions(url: string): UrlOptions {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    // postgres.js raises its own ERR_INVALID_URL, which the start-up reports.
    return {}
  }
  const options: UrlOptions = {}
  if (parsed.hostname.startsWith('[')) {
    // Arrays, as postgres.js keeps a multi-host URL: a string host would be cut at its `:`
    // again. Its typings declare only the string forms.
    Object.assign(options, {
      host: [parsed.hostname.slice(1, -1)],
      port: [Number(parsed.port || 5432)],
    })
  }
  if (parsed.pathname.includes('%')) {
    try {
      options.database = decodeURIComponent(parsed.pathname.slice(1))
    } catch {
      // A malformed escape is left as written: the server then names the database it lacks.
    }
  }
  return options
}

/**
 * The URL as postgres.js should read it. libpq's default `target_session_attrs=any` (written
 * out by tools that print a full libpq URI) is a value postgres.js 3 refuses with a bare Error
 * at start-up (`src/index.js` `tsa`); it asks for no restriction, which is postgres.js' own
 * default, so it is dropped. Every other parameter is passed on as written.
 */
export function postgresDriverUrl(url: string): string {
  if (!/[?&]target_session_attrs=any(?:&|$)/i.test(url)) return url
  const [base, query] = [url.slice(0, url.indexOf('?')), url.slice(url.indexOf('?') + 1)]
  const kept = query.split('&').filter((pair) => !/^target_session_attrs=any$/i.test(pair))
  return kept.length > 0 ? `${base}?${kept.join('&')}` : base
}

/** Opens a postgres.js pool. postgres.js connects lazily, so this never blocks on the network. */
export function openPostgres(options: PostgresOptions, log: Logger): DatabaseHandle {
  const raw = postgres(postgresDriverUrl(options.url), {
    ...postgresUrlOptions(options.url),
    max: options.poolSize,
    connect_timeout: connectTimeoutSeconds(options.connectTimeoutMs),
    backoff: reconnectDelaySeconds,
    idle_timeout: 60,
    onnotice: () => {},
    // Timestamps are read from PostgreSQL's text (./timestamp.ts), which only DateStyle ISO
    // prints unambiguously: a server or database set to 'SQL, DMY' printed 02/03/2026 for
    // 2 March, which read as Invalid Date. A startup parameter outranks ALTER DATABASE/ROLE
    // settings and the server's; a DateStyle given in DATABASE_URL's query still wins.
    connection: { DateStyle: 'ISO' },
  })
  const client = options.instrument ? options.instrument(raw) : raw
  const queried = options.onQuery ? instrumentPostgresJs(client, options.onQuery) : client
  const db = drizzle(queried, { schema, logger: sqlLogger(log) }) as unknown as Database
  return {
    db,
    kind: 'postgres',
    poolSize: options.poolSize,
    close: () => client.end({ timeout: 5 }),
  }
}

/**
 * `query`, or a CONNECT_TIMEOUT error (the code and wording of postgres.js' own) when it has
 * no answer after `ms`. postgres.js' connect_timeout covers one attempt: a port that accepts
 * and at once closes the connection (Docker's proxy of a published port whose container is not
 * listening yet, a firewall's reset) makes it reconnect for ever without failing the query,
 * and the start-up hung without a word. The first statement is bounded here; the advisory lock
 * after it may wait for another replica's migrations as long as they take.
 */
async function answeredWithin<T>(query: Promise<T>, url: string, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const { hostname, port } = new URL(url)
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          Object.assign(new Error(`write CONNECT_TIMEOUT ${hostname}:${port || 5432}`), {
            code: 'CONNECT_TIMEOUT',
          }),
        ),
      ms,
    )
  })
  try {
    return await Promise.race([query, timeout])
  } finally {
    clearTimeout(timer)
  }
}

// Any fixed 64-bit key works; this one is "convo-commerce migrations" hashed once.
const MIGRATION_LOCK_KEY = 7_301_204_551_202_271n

/**
 * Applies the committed migrations under a session-level advisory lock, so that replicas
 * starting together apply them once. A dedicated single connection keeps the lock and the
 * migration on the same session.
 *
 * @throws `MigrationError` (`./migrations.ts`) when the database refused a migration's SQL (none is applied then);
 *   the driver's own error when the database cannot be reached (after `connectTimeoutMs`,
 *   DB_CONNECT_TIMEOUT_MS, when it does not answer) or refuses the connection.
 */
export async function migratePostgres(
  url: string,
  migrationsFolder: string,
  log: Logger,
  options: { connectTimeoutMs?: number } = {},
): Promise<void> {
  // Without a timeout of our own, postgres.js waits 30 s for a host that never answers.
  const client = postgres(postgresDriverUrl(url), {
    ...postgresUrlOptions(url),
    max: 1,
    onnotice: () => {},
    ...(options.connectTimeoutMs === undefined
      ? {}
      : { connect_timeout: connectTimeoutSeconds(options.connectTimeoutMs) }),
  })
  try {
    if (options.connectTimeoutMs !== undefined) {
      await answeredWithin(
        client`select 1`,
        url,
        connectTimeoutSeconds(options.connectTimeoutMs) * 1000 + 500,
      )
    }
    await client`select pg_advisory_lock(${MIGRATION_LOCK_KEY.toString()}::bigint)`
    try {
      await migrate(drizzle(client), { migrationsFolder }).catch((error: unknown) => {
        throw migrationFailure(error, migrationsFolder)
      })
      log.info('database migrations applied')
    } finally {
      await client`select pg_advisory_unlock(${MIGRATION_LOCK_KEY.toString()}::bigint)`
    }
  } finally {
    await client.end({ timeout: 5 })
  }
}
