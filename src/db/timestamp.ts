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
