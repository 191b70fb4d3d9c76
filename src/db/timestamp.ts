import { customType } from 'drizzle-orm/pg-core'

/**
 * PostgreSQL's text of a timestamp: `DateStyle` ISO (`0049-01-01 00:30:00+00`,
 * `1900-01-01 00:19:32.5+00:19:32`, `0001-01-01 00:00:00+00 BC`) or JSON's form of it
 * (`0049-01-01T00:30:00+00:00`, `to_json` and drizzle's relational queries). Groups: year,
 * month, day, hour, minute, second, fraction, offset sign, offset hours, minutes, seconds, era.
 */
const POSTGRES_TIMESTAMP =
  /^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:Z|([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?( BC)?$/

/**
 * The instant PostgreSQL printed as `text` (a `timestamptz`, or a `timestamp` read as UTC), to
 * the millisecond: microseconds are cut, as the earlier instant they lie after. Mirrors the
 * output of PostgreSQL's `EncodeDateTime` and `EncodeTimezone` (`src/backend/utils/adt/datetime.c`).
 *
 * `new Date(text)` (drizzle's own `PgTimestamp` mapping) reads this text wrongly: a year
 * 0001–0099 as 1901–2049 or 2000–2099 by the engine's two-digit-year rule (`0049-…` came back as
 * 2049), and an offset with seconds (`+00:19:32`, PostgreSQL's local mean time for dates before a
 * zone's standard time, when the session's TimeZone is not UTC) as an invalid date.
 *
 * A `Date` (a driver that parsed already) is copied as is. Text of another form (`infinity`, a
 * `DateStyle` other than ISO) is an invalid date, as `new Date` made it, rather than a guess.
 */
export function parsePostgresTimestamp(text: string | Date): Date {
  if (text instanceof Date) return new Date(text.getTime())
  const utc = utcMillis(text)
  if (utc !== undefined) return new Date(utc)
  const m = POSTGRES_TIMESTAMP.exec(text)
  if (!m) return new Date(Number.NaN)
  const [, year, month, day, hour, minute, second, fraction, sign, oh, om, os, bc] = m
  // setUTCFullYear, unlike Date.UTC, takes years 0–99 as written.
  const date = new Date(0)
  date.setUTCFullYear(bc ? 1 - Number(year) : Number(year), Number(month) - 1, Number(day))
  date.setUTCHours(
    Number(hour),
    Number(minute),
    Number(second),
    Math.floor(Number((fraction ?? '').padEnd(6, '0')) / 1000),
  )
  const offsetSeconds = sign
    ? (sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om ?? 0) * 60 + Number(os ?? 0))
    : 0
  return new Date(date.getTime() - offsetSeconds * 1000)
}

/** Offsets in `text` of the digits `YYYY-MM-DD HH:MM:SS` holds (the separators are checked apart). */
const DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
const SEPARATORS: ReadonlyArray<[offset: number, char: number]> = [
  [4, 0x2d],
  [7, 0x2d],
  [10, 0x20],
  [13, 0x3a],
  [16, 0x3a],
]

/**
 * The common case without the regular expression: what a UTC session prints for every row,
 * `YYYY-MM-DD HH:MM:SS[.f…]+00` with a year from 1000 (Date.UTC, unlike setUTCFullYear, moves
 * years 0–99). Reading two timestamps of a product this way, rather than by the regular
 * expression, saves about 1.5 µs a request. Undefined for any other text.
 */
function utcMillis(text: string): number | undefined {
  const end = text.length - 3
  if (
    end < 19 ||
    text.charCodeAt(end) !== 0x2b ||
    text.charCodeAt(end + 1) !== 0x30 ||
    text.charCodeAt(end + 2) !== 0x30
  )
    return undefined
  for (const [offset, char] of SEPARATORS) if (text.charCodeAt(offset) !== char) return undefined
  for (const offset of DIGITS) {
    const c = text.charCodeAt(offset)
    if (c < 0x30 || c > 0x39) return undefined
  }
  const digit = (offset: number) => text.charCodeAt(offset) - 0x30
  const pair = (offset: number) => digit(offset) * 10 + digit(offset + 1)
  const year = pair(0) * 100 + pair(2)
  if (year < 1000) return undefined
  let millis = 0
  if (end > 19) {
    // `.` and one to six digits: the first three are the milliseconds, the rest are cut.
    if (text.charCodeAt(19) !== 0x2e || end - 20 < 1 || end - 20 > 6) return undefined
    for (let offset = 20; offset < end; offset++) {
      const c = text.charCodeAt(offset)
      if (c < 0x30 || c > 0x39) return undefined
      if (offset < 23) millis += (c - 0x30) * 10 ** (22 - offset)
    }
  }
  return Date.UTC(year, pair(5) - 1, pair(8), pair(11), pair(14), pair(17), millis)
}

/**
 * A `timestamp with time zone` column read and written as a `Date`, exactly to the millisecond
 * for every year PostgreSQL and `Date` share (0001–9999 and beyond): drizzle's
 * `timestamp(…, { mode: 'date' })` reads the drivers' text with `new Date`, which moved years
 * 0001–0099 by centuries (see {@link parsePostgresTimestamp}). Both drivers hand drizzle the text
 * (drizzle turns their own timestamp parsing off), so this one mapping serves PGlite and
 * postgres.js alike. Written as `toISOString()`, which PostgreSQL reads back as written.
 */
export const timestamptz = customType<{ data: Date; driverData: string }>({
  dataType: () => 'timestamp with time zone',
  fromDriver: parsePostgresTimestamp,
  toDriver: (value) => value.toISOString(),
})
