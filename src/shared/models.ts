import { FormatRegistry, Kind, type SchemaOptions, Type, TypeRegistry } from '@sinclair/typebox'
import currencyCodes from 'currency-codes'
import { t } from 'elysia'
import { validation } from '../core/errors.ts'

/**
 * A strict JSON integer. Elysia's `t.Integer` also accepts numeric strings (it is meant for
 * query strings); request bodies must reject `"5"` where 5 is expected.
 */
export const JsonInteger = (options: Parameters<typeof Type.Integer>[0] = {}) => Type.Integer(options)

/**
 * A strict JSON number. Elysia's `t.Number` also accepts numeric strings, and its document says
 * `string | number`; a response field is a number, and its contract says so.
 */
export const JsonNumber = (options: Parameters<typeof Type.Number>[0] = {}) => Type.Number(options)

/** The schema kind of `Text`, checked by the function registered below. */
const TEXT_KIND = 'Text'

/** Characters (Unicode code points), as JSON Schema's `minLength`/`maxLength` count them. */
const characters = (value: string) => {
  let n = 0
  for (const _ of value) n++
  return n
}

// TypeBox's registry is process-wide; the check is a pure function of the schema and value.
/** What a name must hold besides whitespace (JSON Schema's `pattern` is unanchored ECMA-262, as here). */
const NOT_BLANK = '\\S'
const notBlank = new RegExp(NOT_BLANK, 'u')

TypeRegistry.Set<{ minLength?: number; maxLength: number }>(TEXT_KIND, (schema, value) => {
  if (typeof value !== 'string') return false
  const n = characters(value)
  return n >= (schema.minLength ?? 0) && n <= schema.maxLength && (n === 0 || notBlank.test(value))
})

/**
 * Free text (a name) of `minLength` to `maxLength` characters, counted as JSON Schema counts
 * them: in code points, and not whitespace alone (a name of spaces shows as no name in a
 * catalogue or a chat). TypeBox's `maxLength` counts UTF-16 units, so 150 emoji (300 units)
 * were refused by a `maxLength: 200` the document promises them, and a client validating
 * against the document (Ajv) sends them. Documented as a plain string with both bounds and
 * the `pattern` `\S`.
 */
export const Text = (options: SchemaOptions & { minLength?: number; maxLength: number }) =>
  Type.Unsafe<string>({
    ...options,
    [Kind]: TEXT_KIND,
    type: 'string',
    pattern: NOT_BLANK,
    error: `must be text of ${options.minLength ?? 0} to ${options.maxLength} characters, not only whitespace`,
  })

/**
 * An amount of money in integer minor units of the record's `currency`: the ISO 4217 minor
 * unit (cents for USD and KES, so 12500 KES is 125.00 KES). Money never travels as a float.
 */
export const MinorUnits = (description: string, options: Parameters<typeof Type.Integer>[0] = {}) =>
  JsonInteger({
    ...options,
    description: `${description}, in minor units of currency (ISO 4217 minor unit: 12500 KES = 125.00 KES)`,
  })

/** Largest amount accepted in minor units: keeps totals exact as JS numbers. */
export const MAX_MINOR = 100_000_000_000

export const E164 = t.String({
  pattern: '^\\+[1-9][0-9]{7,14}$',
  error:
    'must be a phone number in E.164 form: + then the country code and number, 8 to 15 digits, no spaces',
  description: 'phone number in E.164 form: + and 8 to 15 digits',
  examples: ['+254711000200'],
})

/**
 * Currencies a request may name: the codes of ISO 4217 list one (current currencies and
 * funds), as published by SIX and packaged by `currency-codes` (its `publishDate` says which
 * edition), plus codes that took effect after that edition. The list, not the shape, is the
 * check: `XYZ` or a withdrawn `DEM` priced a product nobody can pay for.
 */
export const ISO_4217_CODES: readonly string[] = [
  ...currencyCodes.codes(),
  // Caribbean guilder, in circulation since 2025-03-31 (Curaçao, Sint Maarten); the
  // package's edition predates it.
  ...['XCG'].filter((code) => currencyCodes.code(code) === undefined),
].sort()

const CURRENCY_ERROR = 'must be a current ISO 4217 currency code in capitals, such as KES'

/**
 * A currency in a request body: one of {@link ISO_4217_CODES}; `{type: string, enum}` in the
 * OpenAPI document.
 */
export const Currency = oneOf(ISO_4217_CODES as [string, ...string[]], {
  error: CURRENCY_ERROR,
  description: 'ISO 4217 code (list one: a current currency)',
  examples: ['KES'],
})

/**
 * A stored record's currency in a response: checked for shape only, because ISO withdraws
 * codes (HRK in 2023) and a record priced before the withdrawal must stay readable.
 */
export const CurrencyCode = t.String({
  pattern: '^[A-Z]{3}$',
  description: 'ISO 4217 code',
  examples: ['KES'],
})

export const Uuid = t.String({ format: 'uuid', description: 'UUID' })

/**
 * A UUID's text (8-4-4-4-12 hexadecimal digits), for values that reach a `uuid` cast outside a
 * route schema (a cursor's id, an alert's `tenant_id` label). A looser test (36 of
 * `[0-9a-f-]`) let 36 hyphens through to PostgreSQL: a 500, and for an alert its whole
 * notification.
 */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

// Elysia registers the `uuid` format with an optional `urn:uuid:` prefix, which PostgreSQL's
// uuid cast refuses: a path id or an item's productId so written was a 500. The format is
// the UUID's text alone, as the document's `format: uuid` (RFC 9562's string form) means it;
// set after Elysia's own registration (this module imports elysia first), for every schema.
FormatRegistry.Set('uuid', (value) => UUID_PATTERN.test(value))

export const IdParams = t.Object({ id: Uuid })

/**
 * A string enum: `{type: string, enum: [...]}` in the OpenAPI document, a literal union in
 * TypeScript. Elysia gives UnionEnum a default (its first value), which would silently fill
 * in missing fields; it is removed so that missing means missing.
 */
export function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
  options: Parameters<typeof t.UnionEnum>[1] = {},
) {
  const schema = t.UnionEnum(values, options)
  delete (schema as { default?: unknown }).default
  return schema
}

export const CHANNELS = ['web', 'whatsapp', 'instagram', 'facebook', 'sms', 'pos'] as const
export type Channel = (typeof CHANNELS)[number]
export const ChannelModel = oneOf(CHANNELS, { description: 'sales channel', examples: ['whatsapp'] })

export const Timestamp = t.String({ format: 'date-time' })

export const listOf = <T extends Parameters<typeof t.Array>[0]>(item: T, description: string) =>
  t.Object(
    {
      items: t.Array(item),
      nextCursor: t.Union([t.String(), t.Null()], {
        description: 'pass as ?cursor= for the next page; null at the end',
      }),
    },
    { description },
  )

/**
 * Integer query parameters. Elysia reads their text with `Number()`, which also takes `0x10`,
 * `1e1` and ` 16`; the request context refuses anything but decimal digits for these.
 */
export const DECIMAL_QUERY_PARAMETERS: ReadonlySet<string> = new Set(['limit'])

export const PageQuery = {
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 20, description: 'page size (1-100)' })),
  cursor: t.Optional(t.String({ maxLength: 200, description: 'opaque cursor from a previous page' })),
}

export interface Cursor {
  createdAt: Date
  id: string
}

/** Opaque keyset cursor: newest first, ties broken by id. */
export function encodeCursor(cursor: Cursor): string {
  return btoa(`${cursor.createdAt.toISOString()}|${cursor.id}`).replaceAll('=', '')
}

/** A UTC time as `Date.toISOString` writes it for years 1–9999. */
const CURSOR_TIME = /^(?!0000)\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const isoOrEmpty = (date: Date) => (Number.isNaN(date.getTime()) ? '' : date.toISOString())

/**
 * The position a cursor of `encodeCursor` holds; undefined when there is none.
 * Throws 422 VALIDATION naming `cursor` for anything encodeCursor could not have written.
 */
export function decodeCursor(value: string | undefined): Cursor | undefined {
  if (value === undefined) return undefined
  let decoded = ''
  try {
    decoded = atob(value)
  } catch {
    // falls through to the error below
  }
  const [iso = '', id] = decoded.split('|')
  const createdAt = new Date(iso)
  // Only the form encodeCursor writes: a time Date.parse accepts can still be one PostgreSQL
  // refuses (`+275000-01-01T00:00:00Z`, year 0), and that was a 500 instead of this 422.
  if (!id || !UUID_PATTERN.test(id) || !CURSOR_TIME.test(iso) || isoOrEmpty(createdAt) !== iso) {
    throw validation('Invalid query: cursor — not a cursor from this API', {
      in: 'query',
      errors: [{ field: 'cursor', message: 'not a cursor from this API' }],
    })
  }
  return { createdAt, id }
}

/** Splits a page fetched with limit + 1 rows into items and the next cursor. */
export function paginate<T extends { createdAt: Date; id: string }>(rows: T[], limit: number) {
  const items = rows.slice(0, limit)
  const last = items[items.length - 1]
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null }
}

/** A 422 naming one field, for rules a schema cannot express. */
export function fieldError(field: string, message: string, where = 'body') {
  return validation(`Invalid ${where}: ${field} — ${message}`, { in: where, errors: [{ field, message }] })
}
