/**
 * Query timing for both drivers. drizzle has no "query finished" hook (its logger is told
 * before a query runs), so the driver client handed to drizzle is wrapped instead: every
 * statement drizzle sends, inside transactions too, is timed from the moment it is started
 * until it settles, and reported with an operation and a table read from its SQL text.
 */
import type { PGlite, Transaction } from '@electric-sql/pglite'
import { getTableName } from 'drizzle-orm'
import type { Sql } from 'postgres'
import { schema } from './schema.ts'

export type QueryOperation = 'select' | 'insert' | 'update' | 'delete' | 'other'

/** A statement's labels: `table` is a table of the schema, `none` (no table) or `other`. */
export interface QueryInfo {
  readonly operation: QueryOperation
  readonly table: string
}

/** Told once per statement with its labels and duration; must not throw. */
export type QueryObserver = (query: QueryInfo, seconds: number) => void

/** Tables of the schema: the only values the `table` label takes besides `none` and `other`. */
export const SCHEMA_TABLES: ReadonlySet<string> = new Set(Object.values(schema).map((t) => getTableName(t)))

const OPERATIONS = new Set(['select', 'insert', 'update', 'delete'])

const UNCLASSIFIED: QueryInfo = { operation: 'other', table: 'none' }

interface Token {
  /** A lower-cased keyword or bare name, a quoted identifier, or a dot. */
  kind: 'word' | 'ident' | 'dot'
  text: string
  depth: number
}

const isWordStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95
const isWordPart = (c: number) => isWordStart(c) || (c >= 48 && c <= 57) || c === 36

/** Words, quoted identifiers and dots with their parenthesis depth; strings and comments skipped. */
function tokenize(sql: string): Token[] {
  const out: Token[] = []
  let depth = 0
  let i = 0
  const n = sql.length
  while (i < n) {
    const c = sql.charCodeAt(i)
    if (c === 40 /* ( */) {
      depth++
      i++
    } else if (c === 41 /* ) */) {
      depth = Math.max(0, depth - 1)
      i++
    } else if (c === 46 /* . */) {
      out.push({ kind: 'dot', text: '.', depth })
      i++
    } else if (c === 39 /* ' */) {
      i++
      while (i < n && !(sql.charCodeAt(i) === 39 && sql.charCodeAt(i + 1) !== 39)) {
        i += sql.charCodeAt(i) === 39 ? 2 : 1
      }
      i++
    } else if (c === 34 /* " */) {
      let text = ''
      i++
      while (i < n && !(sql.charCodeAt(i) === 34 && sql.charCodeAt(i + 1) !== 34)) {
        text += sql[i]
        i += sql.charCodeAt(i) === 34 ? 2 : 1
      }
      i++
      out.push({ kind: 'ident', text, depth })
    } else if (c === 45 /* - */ && sql.charCodeAt(i + 1) === 45) {
      const end = sql.indexOf('\n', i)
      i = end === -1 ? n : end + 1
    } else if (c === 47 /* / */ && sql.charCodeAt(i + 1) === 42 /* * */) {
      const end = sql.indexOf('*/', i + 2)
      i = end === -1 ? n : end + 2
    } else if (isWordStart(c)) {
      let j = i + 1
      while (j < n && isWordPart(sql.charCodeAt(j))) j++
      out.push({ kind: 'word', text: sql.slice(i, j).toLowerCase(), depth })
      i = j
    } else i++
  }
  return out
}

/** The relation named at `index` (`only` skipped); of `schema.table`, the table. */
function relationAt(tokens: Token[], index: number): string | undefined {
  let i = index
  if (tokens[i]?.kind === 'word' && tokens[i]!.text === 'only') i++
  let name: string | undefined
  while (tokens[i] && tokens[i]!.kind !== 'dot') {
    name = tokens[i]!.text
    if (tokens[i + 1]?.kind !== 'dot') break
    i += 2
  }
  return name
}

/** Index of the first depth-0 keyword `word` at or after `from`. */
function findKeyword(tokens: Token[], word: string, from: number): number {
  for (let i = from; i < tokens.length; i++) {
    const t = tokens[i]!
    if (t.depth === 0 && t.kind === 'word' && t.text === word) return i
  }
  return -1
}

/**
 * Operation and table of one SQL statement. Only the statement's own text is read (drizzle
 * sends parameters separately), and the table is kept only when it is one of `tables`,
 * so the label set stays bounded whatever SQL runs.
 */
export function classifyQuery(sql: string, tables: ReadonlySet<string> = SCHEMA_TABLES): QueryInfo {
  const tokens = tokenize(sql)
  const first = tokens[0]
  if (!first || first.kind !== 'word') return { operation: 'other', table: 'none' }
  let verbAt = 0
  if (first.text === 'with') {
    // The statement's verb is the first one at depth 0 after the CTE definitions.
    verbAt = tokens.findIndex((t, i) => i > 0 && t.depth === 0 && t.kind === 'word' && OPERATIONS.has(t.text))
    if (verbAt === -1) return { operation: 'other', table: 'none' }
  } else if (!OPERATIONS.has(first.text)) return { operation: 'other', table: 'none' }
  const operation = tokens[verbAt]!.text as QueryOperation
  let relationIndex: number
  if (operation === 'update') relationIndex = verbAt + 1
  else {
    const keyword = findKeyword(tokens, operation === 'insert' ? 'into' : 'from', verbAt + 1)
    relationIndex = keyword === -1 ? -1 : keyword + 1
  }
  const relation = relationIndex === -1 ? undefined : relationAt(tokens, relationIndex)
  if (relation === undefined) return { operation, table: 'none' }
  return { operation, table: tables.has(relation) ? relation : 'other' }
}

/**
 * A classifier that remembers the labels of statements it has seen. drizzle sends the same
 * text for each query shape, so the parse runs once per shape; the memory is capped in case
 * raw SQL with inlined values produces endless distinct texts.
 */
export function cachedClassifier(tables: ReadonlySet<string> = SCHEMA_TABLES, capacity = 2000) {
  const cache = new Map<string, QueryInfo>()
  return (sql: string): QueryInfo => {
    // A driver rejects a text that is not a string on its own, as a rejected promise; the
    // timing around it must not throw first.
    if (typeof sql !== 'string') return UNCLASSIFIED
    const known = cache.get(sql)
    if (known) return known
    const info = classifyQuery(sql, tables)
    if (cache.size < capacity) cache.set(sql, info)
    return info
  }
}

type Now = () => number

type AnyFunction = (...args: unknown[]) => unknown

/** The settle callbacks postgres.js keeps on each query (`src/query.js` `Query`). */
interface SettlingQuery {
  resolve: (value: unknown) => unknown
  reject: (error: unknown) => unknown
}

/** What a timed statement carries until it settles: its labels, start and own callbacks. */
interface StatementTiming {
  readonly info: QueryInfo
  /** `now()` when the statement was created, in milliseconds. */
  readonly start: number
  readonly resolve: SettlingQuery['resolve']
  readonly reject: SettlingQuery['reject']
}

const TIMING: unique symbol = Symbol('statement timing')

interface TimedQuery extends SettlingQuery {
  [TIMING]: StatementTiming
}

/**
 * Times postgres.js queries from their creation (drizzle awaits every statement as soon as it
 * makes it) until the connection settles them. Each query's `resolve` and `reject`, which
 * postgres.js calls when the server has answered (`src/connection.js`), are replaced by
 * wrappers that observe first, as Sentry's postgres.js integration does
 * (`@sentry/server-utils` `_wrapSingleQueryHandle`).
 *
 * The wrappers are two functions shared by every statement, which find the statement's
 * timing through `this`: postgres.js calls the callbacks as methods of the query everywhere
 * (`query.resolve(…)`, `queries.shift().reject(…)`; checked for postgres 3.4.9). A statement
 * then costs one small record, where a pair of closures per statement cost three objects
 * (two functions and their scope), and wrapping `then` nine. The query's `then` stays
 * untouched. Not timed: cursors (postgres.js replaces the callbacks per batch; drizzle uses
 * none).
 *
 * @returns `time(query, info)`, to call right after postgres.js made the query.
 */
function postgresStatementTimer(
  observe: QueryObserver,
  now: Now,
): (query: SettlingQuery, info: QueryInfo) => void {
  // postgres.js may settle a query more than once (rejected while its message is built, e.g.
  // over 65 534 parameters, then resolved when the server's ReadyForQuery arrives; a dead
  // connection's query again at reconnect). The promise keeps the first; so does the timing:
  // the first call puts the original callbacks back before it observes.
  const settle = (query: TimedQuery): StatementTiming => {
    const timing = query[TIMING]
    query.resolve = timing.resolve
    query.reject = timing.reject
    observe(timing.info, (now() - timing.start) / 1000)
    return timing
  }
  function resolve(this: TimedQuery, value: unknown) {
    return settle(this).resolve(value)
  }
  function reject(this: TimedQuery, error: unknown) {
    return settle(this).reject(error)
  }
  return (query, info) => {
    ;(query as TimedQuery)[TIMING] = { info, start: now(), resolve: query.resolve, reject: query.reject }
    query.resolve = resolve
    query.reject = reject
  }
}

/**
 * A postgres.js client whose statements (`unsafe`, which drizzle uses for everything,
 * also inside `begin` transactions and savepoints) are timed. Everything else, including
 * the `options` object drizzle adjusts, is the original client's, inherited.
 */
export function instrumentPostgresJs(
  client: Sql,
  observe: QueryObserver,
  now: Now = () => performance.now(),
): Sql {
  const classify = cachedClassifier()
  const time = postgresStatementTimer(observe, now)
  // A transaction callback gets a wrapped transaction client, so its statements are timed too.
  const withWrappedClient =
    (original: AnyFunction, self: unknown) =>
    (...args: unknown[]) => {
      const fn = args.pop() as (tx: Sql) => unknown
      return original.call(self, ...args, (tx: Sql) => fn(wrap(tx)))
    }
  const wrap = (sql: Sql): Sql => {
    // Named parameters, not a rest array (an allocation per statement); the argument count is
    // passed on because postgres.js reads `unsafe(text, options)` by it.
    const unsafe = function (text: string, parameters?: unknown, options?: unknown) {
      const client = sql as unknown as { unsafe: AnyFunction }
      // biome-ignore-start lint/complexity/noArguments: the count, not the values, without allocating an array
      const query = (arguments.length < 2
        ? client.unsafe(text)
        : arguments.length === 2
          ? client.unsafe(text, parameters)
          : client.unsafe(text, parameters, options)) as unknown as SettlingQuery
      // biome-ignore-end lint/complexity/noArguments: see above
      time(query, classify(text))
      return query
    }
    const own: PropertyDescriptorMap = {
      unsafe: { value: unsafe },
      begin: { value: withWrappedClient(sql.begin as AnyFunction, sql) },
    }
    const savepoint = (sql as { savepoint?: unknown }).savepoint
    if (typeof savepoint === 'function') {
      own.savepoint = { value: withWrappedClient(savepoint as AnyFunction, sql) }
    }
    // A function (still a tagged template) whose own `unsafe`, `begin` and `savepoint` are the
    // wrappers and whose prototype is the client, so every other property is the client's
    // own (drizzle adjusts `options` in place). Where a Proxy's get trap ran for each
    // statement's `unsafe`, about 50 ns, this is a plain property read. postgres.js' methods
    // are closures that never read `this`, so calling them through the prototype is the same.
    const wrapped = (...args: unknown[]) => (sql as unknown as AnyFunction)(...args)
    Object.setPrototypeOf(wrapped, sql)
    Object.defineProperties(wrapped, own)
    return wrapped as unknown as Sql
  }
  return wrap(client)
}

type Queryable = Pick<PGlite, 'query'> | Transaction

/**
 * A PGlite client whose `query` calls (drizzle's only way in, also inside transactions)
 * are timed. Other methods run on the original object, since PGlite keeps private state.
 * Each wrapped object has one `query` wrapper (drizzle reads the property per statement),
 * and a statement's timing is one `then` on PGlite's promise: an async wrapper with rest
 * arguments allocated about 11 objects per statement, this about 5.
 */
export function instrumentPglite<T extends Queryable>(
  client: T,
  observe: QueryObserver,
  now: Now = () => performance.now(),
): T {
  const classify = cachedClassifier()
  // The closures capture parameters only: captured local constants would be a second scope.
  const observeSettled = <R>(pending: Promise<R>, info: QueryInfo, start: number): Promise<R> =>
    pending.then(
      (result) => {
        observe(info, (now() - start) / 1000)
        return result
      },
      (error: unknown) => {
        observe(info, (now() - start) / 1000)
        throw error
      },
    )
  const wrap = <C extends object>(target: C): C => {
    const queryable = target as unknown as Transaction
    const query = (text: string, params?: unknown[], options?: unknown) => {
      const start = now()
      return observeSettled(queryable.query(text, params, options as never), classify(text), start)
    }
    const transaction = (fn: (tx: Transaction) => unknown) =>
      (target as unknown as PGlite).transaction((tx) => fn(wrap(tx)) as never)
    // Methods bound to this object (a transaction's are its own, not the client's).
    const bound = new Map<PropertyKey, unknown>()
    return new Proxy(target, {
      get(object, property) {
        if (property === 'query') return query
        if (property === 'transaction') return transaction
        const value = Reflect.get(object, property, object)
        if (typeof value !== 'function') return value
        let method = bound.get(property)
        if (method === undefined) {
          method = value.bind(object)
          bound.set(property, method)
        }
        return method
      },
    })
  }
  return wrap(client)
}
