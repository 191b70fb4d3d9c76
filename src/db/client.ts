import { type Logger as DrizzleLogger, sql } from 'drizzle-orm'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import type { Logger } from '../core/logger.ts'
import type { schema } from './schema.ts'

export type Schema = typeof schema

/** The drizzle database both drivers (postgres.js and PGlite) produce. */
export type Database = PgDatabase<PgQueryResultHKT, Schema>

/** A drizzle transaction, or the database itself: repositories accept either. */
export type Executor = Pick<
  Database,
  'select' | 'selectDistinct' | 'insert' | 'update' | 'delete' | 'execute'
>

export interface DatabaseHandle {
  db: Database
  kind: 'postgres' | 'pglite'
  /** Connections the driver may open: the pool size on PostgreSQL, 1 on PGlite. */
  poolSize: number
  close(): Promise<void>
}

/** Logs SQL text at debug level only (never parameters: they may carry phone numbers). */
export function sqlLogger(log: Logger): DrizzleLogger | false {
  if (!log.isLevelEnabled('debug')) return false
  return { logQuery: (query) => log.debug({ sql: query }, 'sql') }
}

/**
 * Runs `SELECT 1` with a timeout. Resolves when the database answered, rejects with a
 * short reason otherwise (never the connection string).
 */
export async function pingDatabase(db: Database, timeoutMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), timeoutMs)
  })
  try {
    await Promise.race([db.execute(sql`select 1`), timeout])
  } finally {
    clearTimeout(timer)
  }
}

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'ERR_SOCKET_CLOSED',
  'ConnectionRefused',
  'ConnectionClosed',
])

/**
 * The string `code`s of `error` and of its `cause` chain (drizzle wraps the driver's error),
 * outermost first, at most five deep: SQLSTATEs and the drivers' own codes.
 */
function errorCodes(error: unknown): string[] {
  const codes: string[] = []
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') codes.push(code)
  }
  return codes
}

/**
 * True when `error` (or any error in its `cause` chain, since drizzle wraps driver errors)
 * means the database cannot be reached, as opposed to a bad query.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (const code of errorCodes(error)) {
    if (CONNECTION_ERROR_CODES.has(code)) return true
    // SQLSTATE class 08 (connection exception), 57P0x (shutdown), 53300 (too many connections).
    if (/^08/.test(code) || /^57P0[1-3]$/.test(code) || code === '53300') return true
  }
  return false
}

/**
 * True when `error` (or its `cause` chain) is the database refusing text it cannot store:
 * SQLSTATE 22021 (`character_not_in_repertoire`: U+0000 in a parameter on PostgreSQL) or
 * 22P05 (`untranslatable_character`). The request's input is at fault, not the service, so
 * the error envelope answers 422; request bodies are checked before this (http/json-body.ts),
 * this covers what reaches a statement by any other way.
 */
export function isUnstorableText(error: unknown): boolean {
  return errorCodes(error).some((code) => code === '22021' || code === '22P05')
}

/** A short, credential-free reason for a database failure, for /health/db. */
export function databaseFailureReason(error: unknown): string {
  if (error instanceof Error && error.message === 'timeout') return 'timeout'
  const code = errorCodes(error)[0]
  if (code === undefined) return 'error'
  if (code === 'CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return 'timeout'
  if (CONNECTION_ERROR_CODES.has(code) || /^08/.test(code)) return 'unreachable'
  return `error ${code}`
}
