/**
 * The calendar of Go's `time` package as promtool 2.42 computes it (Go 1.19.8, linux/amd64),
 * in UTC: for PromQL's date functions (`promql/functions.go` `dateWrapper`, `time.Unix(int64(v),
 * 0).UTC()` and its fields) and for the `time.Time` methods alert templates call. Over the
 * whole int64 range of seconds and with Go's wrapping uint64 arithmetic, where a JavaScript
 * Date covers ±8.64e12 s and is NaN beyond.
 *
 * Ports of Go 1.19 `time/time.go` (`abs`, `absDate`, `absWeekday`, `daysSinceEpoch`, `Date`),
 * in BigInt: the absolute clock counts seconds from the year -292277022399 as a uint64.
 */

const UINT64 = 64
const SECONDS_PER_MINUTE = 60n
const SECONDS_PER_HOUR = 3600n
const SECONDS_PER_DAY = 86_400n
const SECONDS_PER_WEEK = 7n * SECONDS_PER_DAY
const DAYS_PER_400_YEARS = 365n * 400n + 97n
const DAYS_PER_100_YEARS = 365n * 100n + 24n
const DAYS_PER_4_YEARS = 365n * 4n + 1n
const ABSOLUTE_ZERO_YEAR = -292_277_022_399n
/** `(absoluteZeroYear - internalYear) * 365.2425 * secondsPerDay`, exact as Go's untyped constants. */
const ABSOLUTE_TO_INTERNAL = ((ABSOLUTE_ZERO_YEAR - 1n) * 3_652_425n * SECONDS_PER_DAY) / 10_000n
/** Seconds from Go's zero time (January 1, year 1, UTC) to the Unix epoch (`unixToInternal`). */
export const UNIX_TO_INTERNAL = (1969n * 365n + 1969n / 4n - 1969n / 100n + 1969n / 400n) * SECONDS_PER_DAY
/** `unixToInternal + internalToAbsolute`: a Unix second's offset on the absolute clock. */
const UNIX_TO_ABSOLUTE = UNIX_TO_INTERNAL - ABSOLUTE_TO_INTERNAL
const MONDAY = 1n
/** Days before each month of a non-leap year (`daysBefore`), January first. */
const DAYS_BEFORE = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365] as const

const uint64 = (n: bigint) => BigInt.asUintN(UINT64, n)
const int64 = (n: bigint) => BigInt.asIntN(UINT64, n)

const isLeap = (year: bigint) => year % 4n === 0n && (year % 100n !== 0n || year % 400n === 0n)

/**
 * Go's `int64(v)` for a float64 on amd64 (CVTTSD2SI): truncated toward zero, and the
 * "integer indefinite" -2^63 for NaN, ±Inf and anything outside the int64 range.
 */
export function goInt64(v: number): bigint {
  if (!(v >= -(2 ** 63) && v < 2 ** 63)) return -(2n ** 63n)
  return BigInt(Math.trunc(v))
}

/** The fields PromQL's date functions read of `time.Unix(seconds, 0).UTC()`. */
export interface GoDate {
  year: number
  /** 1–12. */
  month: number
  /** Day of the month, 1–31. */
  day: number
  /** Day of the year, 1–366 (`YearDay`). */
  yearDay: number
  /** 0 (Sunday) to 6. */
  weekday: number
  hour: number
  minute: number
  second: number
  /** `32 - time.Date(year, month, 32, 0, 0, 0, 0, time.UTC).Day()`, as `funcDaysInMonth`; computed when read. */
  readonly daysInMonth: number
}

/** Year, month, day and day of the year (from 0) of an absolute time (`absDate`). */
function absDate(abs: bigint): { year: bigint; month: number; day: number; yday: number } {
  let d = abs / SECONDS_PER_DAY
  let n = d / DAYS_PER_400_YEARS
  let y = 400n * n
  d -= DAYS_PER_400_YEARS * n
  n = d / DAYS_PER_100_YEARS
  n -= n >> 2n
  y += 100n * n
  d -= DAYS_PER_100_YEARS * n
  n = d / DAYS_PER_4_YEARS
  y += 4n * n
  d -= DAYS_PER_4_YEARS * n
  n = d / 365n
  n -= n >> 2n
  y += n
  d -= 365n * n
  const year = y + ABSOLUTE_ZERO_YEAR
  const yday = Number(d)
  let day = yday
  if (isLeap(year)) {
    if (day === 31 + 29 - 1) return { year, month: 2, day: 29, yday }
    if (day > 31 + 29 - 1) day--
  }
  // Every month taken as 31 days: the estimate is at most one month low.
  let month = Math.floor(day / 31)
  const end = DAYS_BEFORE[month + 1] as number
  let begin: number
  if (day >= end) {
    month++
    begin = end
  } else begin = DAYS_BEFORE[month] as number
  return { year, month: month + 1, day: day - begin + 1, yday }
}

/** Days from the absolute zero year to January 1 of `year` (`daysSinceEpoch`), as a uint64. */
function daysSinceEpoch(year: bigint): bigint {
  let y = uint64(year - ABSOLUTE_ZERO_YEAR)
  let n = y / 400n
  y -= 400n * n
  let d = DAYS_PER_400_YEARS * n
  n = y / 100n
  y -= 100n * n
  d += DAYS_PER_100_YEARS * n
  n = y / 4n
  y -= 4n * n
  d += DAYS_PER_4_YEARS * n
  d += 365n * y
  return uint64(d)
}

/**
 * `time.Unix(seconds, 0).UTC()`'s date fields, as Go 1.19 computes them: beyond about
 * ±2.9e11 years the absolute clock wraps, and Go reads the wrapped value (the int64 minimum,
 * `int64(NaN)`, is the year 292277026596). `seconds` is an int64.
 */
export function goUnixDate(seconds: bigint): GoDate {
  const abs = uint64(seconds + UNIX_TO_ABSOLUTE)
  const { year, month, day, yday } = absDate(abs)
  return {
    year: Number(year),
    month,
    day,
    yearDay: yday + 1,
    weekday: Number((uint64(abs + MONDAY * SECONDS_PER_DAY) % SECONDS_PER_WEEK) / SECONDS_PER_DAY),
    hour: Number((abs % SECONDS_PER_DAY) / SECONDS_PER_HOUR),
    minute: Number((abs % SECONDS_PER_HOUR) / SECONDS_PER_MINUTE),
    second: Number(abs % SECONDS_PER_MINUTE),
    // On demand: a second pass through Date and absDate that only days_in_month reads.
    get daysInMonth() {
      const thirtySecond = goDateUnix(year, BigInt(month), 32n, 0n, 0n, 0n, 0n).seconds
      return 32 - absDate(uint64(thirtySecond + UNIX_TO_ABSOLUTE)).day
    },
  }
}

/** Go's `norm`: `lo` brought into [0, base), the overflow carried into `hi`. */
function norm(hi: bigint, lo: bigint, base: bigint): [bigint, bigint] {
  if (lo < 0n) {
    const n = (-lo - 1n) / base + 1n
    hi -= n
    lo += n * base
  }
  if (lo >= base) {
    const n = lo / base
    hi += n
    lo -= n * base
  }
  return [hi, lo]
}

/**
 * `time.Date(year, month, day, hour, min, sec, nsec, time.UTC)` as Unix seconds and the
 * nanosecond within them: every field normalised into the next larger one (month 13 is the
 * next January, day 0 the previous month's last), then counted on the wrapping absolute clock.
 */
export function goDateUnix(
  year: bigint,
  month: bigint,
  day: bigint,
  hour: bigint,
  min: bigint,
  sec: bigint,
  nsec: bigint,
): { seconds: bigint; nanosecond: number } {
  let m: bigint
  ;[year, m] = norm(year, month - 1n, 12n)
  ;[sec, nsec] = norm(sec, nsec, 1_000_000_000n)
  ;[min, sec] = norm(min, sec, 60n)
  ;[hour, min] = norm(hour, min, 60n)
  ;[day, hour] = norm(day, hour, 24n)
  year = int64(year)
  let days = daysSinceEpoch(year) + BigInt(DAYS_BEFORE[Number(m)] as number)
  if (isLeap(year) && m >= 2n) days++
  days = uint64(days + uint64(day - 1n))
  const abs = uint64(
    days * SECONDS_PER_DAY + uint64(hour * SECONDS_PER_HOUR + min * SECONDS_PER_MINUTE + sec),
  )
  return { seconds: int64(abs - UNIX_TO_ABSOLUTE), nanosecond: Number(nsec) }
}
