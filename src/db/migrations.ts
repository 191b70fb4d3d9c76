import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * A migration the database refused: the database opened and answered, and the SQL of a file in
 * the migrations folder did not apply. drizzle's migrator runs every pending migration in one
 * transaction (`drizzle-orm` `PgDialect.migrate`), so none of them was applied.
 *
 * `message` is one line: the file, the database's reason and the statement (its first 120
 * characters), e.g. `0004_add_sku.sql: relation "nope" does not exist, at ALTER TABLE "nope" ADD COLUMN "b" int;`.
 * The cause is drizzle's `DrizzleQueryError`, whose own message is the whole statement over
 * several lines.
 */
export class MigrationError extends Error {
  override name = 'MigrationError'
  /** An expected refusal with its own remedy: development logs print it as one line, without a stack. */
  readonly code = 'MIGRATION_FAILED'
  /** The migration file that failed (`0004_add_sku.sql`), when the statement was found in one. */
  readonly file: string | undefined

  constructor(
    file: string | undefined,
    reason: string,
    statement: string | undefined,
    options: ErrorOptions,
  ) {
    const at = statement ? `, at ${statement}` : ''
    super(`${file ? `${file}: ` : ''}${reason}${at}`, options)
    this.file = file
  }
}

interface QueryFailure {
  /** `DrizzleQueryError.query`: the statement's SQL text. */
  query?: unknown
  cause?: unknown
  message?: unknown
}

/** The files of `meta/_journal.json` in order, with their statements (split as drizzle does). */
function migrationFiles(folder: string): Array<{ file: string; statements: string[] }> {
  try {
    const journal = JSON.parse(readFileSync(join(folder, 'meta/_journal.json'), 'utf8')) as {
      entries: Array<{ tag: string }>
    }
    return journal.entries.map(({ tag }) => ({
      file: `${tag}.sql`,
      statements: readFileSync(join(folder, `${tag}.sql`), 'utf8').split('--> statement-breakpoint'),
    }))
  } catch {
    return []
  }
}

/** How much of the failed statement the message quotes: its start says which one it is. */
const STATEMENT_CHARACTERS = 120

/** A statement on one line, comments left out, cut at {@link STATEMENT_CHARACTERS}. */
function oneLine(statement: string): string | undefined {
  const text = statement
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('--'))
    .join(' ')
  if (text === '') return undefined
  return text.length > STATEMENT_CHARACTERS ? `${text.slice(0, STATEMENT_CHARACTERS)}…` : text
}

/**
 * What a failed `migrate(…)` threw, as a {@link MigrationError} naming the file whose statement
 * failed (drizzle's own statements, such as `CREATE SCHEMA "drizzle"`, name no file); an error
 * without a failed statement (the folder or its journal unreadable) is returned as it came.
 */
export function migrationFailure(error: unknown, folder: string): unknown {
  const failure = error as QueryFailure | undefined
  if (typeof failure?.query !== 'string') return error
  const query = failure.query
  const reason = (failure.cause as { message?: unknown } | undefined)?.message ?? failure.message
  // A statement found in several files (a repeated `ALTER …`) names none: it is not known which one ran.
  const files = migrationFiles(folder).filter(({ statements }) => statements.includes(query))
  const file = files.length === 1 ? files[0]!.file : undefined
  return new MigrationError(file, String(reason), oneLine(query), { cause: error })
}
