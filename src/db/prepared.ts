import type { Executor } from './client.ts'

/**
 * A drizzle prepared statement per executor, built on first use and reused after.
 *
 * drizzle builds a statement's SQL text from its query builder on every call, about 20 µs of
 * CPU for a one-table select (`sql.js` `buildQueryFromSourceParams`, `mergeQueries`), more
 * than postgres.js spends sending it and parsing the answer. A prepared statement
 * (`.prepare(name)` over `sql.placeholder`s) is built once; each call only fills in its
 * parameters. The same SQL text object also makes the statement-timing classifier a cache
 * hit by identity. Use it for the statements every request runs (tenant authentication, the
 * product read), where that build is a third of the request.
 *
 * A prepared statement belongs to the session it was built on, so there is one per
 * executor: the database handle's, built once, and one per transaction that uses it (a
 * transaction's executor is new each time, and collected with its statement). On postgres.js
 * drizzle also runs it with `prepare: true` (`postgres-js/session.js`, `name !== undefined`),
 * so postgres.js keeps a server-side prepared statement per connection, under a name of its
 * own, and PostgreSQL parses and plans it once per connection; a client created with
 * `prepare: false` (for PgBouncer's transaction mode) overrides that. PGlite ignores `name`.
 *
 * @param build makes the statement on an executor, e.g.
 *   `(db) => db.select().from(t).where(eq(t.id, sql.placeholder('id'))).prepare('t_by_id')`
 * @returns the executor's statement; call `.execute({ id })` on it
 */
export function preparedPerExecutor<S>(build: (db: Executor) => S): (db: Executor) => S {
  const statements = new WeakMap<Executor, S>()
  return (db) => {
    let statement = statements.get(db)
    if (statement === undefined) {
      statement = build(db)
      statements.set(db, statement)
    }
    return statement
  }
}
