/**
 * Go's `time.Time` as alert templates see it (Go 1.19, what promtool 2.42 is built with):
 * `toTime` gives a `*time.Time` in UTC, and a template may call its methods, most often
 * `(toTime $value).Format "2006-01-02 15:04"`. Times here are nanoseconds since the Unix epoch
 * in UTC (Prometheus' toTime calls `.UTC()`); Format, String, GoString, Duration.String and the
 * calendar arithmetic mirror `time/format.go` and `time/time.go`.
 */

import { goDateUnix, goUnixDate, UNIX_TO_INTERNAL } from '../go-calendar.ts'

const NS = 1_000_000_000n

/** A Go `time.Time` (or, with `pointer`, a `*time.Time`): an instant in UTC, in Unix nanoseconds. */
export class GoTime {
  constructor(
    readonly ns: bigint,
    readonly pointer = true,
    /** Made by Local(): the same instant in the process' zone, which Prometheus runs in UTC. */
    readonly local = false,
  ) {}

  /** The same instant as a `time.Time` value (what a method of the value returns). */
  value(local = this.local): GoTime {
    return new GoTime(this.ns, false, local)
  }
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
]
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']

/** time.Month's String: the English name, `%!Month(13)` out of range. */
export function goMonthString(month: number): string {
  return MONTHS[month - 1] ?? `%!Month(${month})`
}

/** time.Weekday's String: the English name, `%!Weekday(7)` out of range. */
export function goWeekdayString(day: number): string {
  return DAYS[day] ?? `%!Weekday(${day})`
}

const floorDiv = (a: bigint, b: bigint) => (a >= 0n ? a / b : -((-a + b - 1n) / b))

/** Whole seconds and the nanosecond within them (0 ≤ nsec < 1e9), as Go's sec() and nsec(). */
function split(t: GoTime): { sec: bigint; nsec: number } {
  const sec = floorDiv(t.ns, NS)
  return { sec, nsec: Number(t.ns - sec * NS) }
}

/** The calendar fields of a time, in UTC. */
export interface GoCivil {
  year: number
  /** 1–12. */
  month: number
  day: number
  hour: number
  minute: number
  second: number
  nanosecond: number
  /** 0 = Sunday. */
  weekday: number
  /** 1–366. */
  yearDay: number
}

export function goCivil(t: GoTime): GoCivil {
  const { sec, nsec } = split(t)
  const d = goUnixDate(sec)
  return {
    year: d.year,
    month: d.month,
    day: d.day,
    hour: d.hour,
    minute: d.minute,
    second: d.second,
    nanosecond: nsec,
    weekday: d.weekday,
    yearDay: d.yearDay,
  }
}

/** time.Date: a civil date and clock in UTC, each field normalised as Go does (month 13 is next January). */
export function goDate(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  nsec: number,
): bigint {
  const { seconds, nanosecond } = goDateUnix(
    BigInt(year),
    BigInt(month),
    BigInt(day),
    BigInt(hour),
    BigInt(minute),
    BigInt(second),
    BigInt(nsec),
  )
  return seconds * NS + BigInt(nanosecond)
}

/** format.go appendInt: the sign, then the digits zero-padded to `width`. */
function appendInt(x: number, width: number): string {
  const digits = String(Math.abs(x)).padStart(width, '0')
  return x < 0 ? `-${digits}` : digits
}

type Std =
  | 'January'
  | 'Jan'
  | '1'
  | '01'
  | 'Monday'
  | 'Mon'
  | '2'
  | '_2'
  | '02'
  | '__2'
  | '002'
  | '15'
  | '3'
  | '03'
  | '4'
  | '04'
  | '5'
  | '05'
  | '2006'
  | '06'
  | 'PM'
  | 'pm'
  | 'MST'
  | 'Z0700'
  | 'Z070000'
  | 'Z07'
  | 'Z07:00'
  | 'Z07:00:00'
  | '-0700'
  | '-070000'
  | '-07'
  | '-07:00'
  | '-07:00:00'
  | { frac: '0' | '9'; digits: number; separator: string }

const startsWithLower = (s: string) => s.length > 0 && s[0]! >= 'a' && s[0]! <= 'z'
const isDigitAt = (s: string, i: number) => i < s.length && s[i]! >= '0' && s[i]! <= '9'
const STD_0X: Std[] = ['01', '02', '03', '04', '05', '06']

/** format.go nextStdChunk: the text before the first layout element, the element, the rest. */
function nextStdChunk(layout: string): [string, Std | undefined, string] {
  for (let i = 0; i < layout.length; i++) {
    const at = (s: string) => layout.startsWith(s, i)
    const chunk = (std: Std, length: number): [string, Std, string] => [
      layout.slice(0, i),
      std,
      layout.slice(i + length),
    ]
    switch (layout[i]) {
      case 'J':
        if (at('Jan')) {
          if (at('January')) return chunk('January', 7)
          if (!startsWithLower(layout.slice(i + 3))) return chunk('Jan', 3)
        }
        break
      case 'M':
        if (at('Mon')) {
          if (at('Monday')) return chunk('Monday', 6)
          if (!startsWithLower(layout.slice(i + 3))) return chunk('Mon', 3)
        }
        if (at('MST')) return chunk('MST', 3)
        break
      case '0': {
        const next = layout[i + 1]
        if (next !== undefined && next >= '1' && next <= '6') return chunk(STD_0X[Number(next) - 1]!, 2)
        if (at('002')) return chunk('002', 3)
        break
      }
      case '1':
        return at('15') ? chunk('15', 2) : chunk('1', 1)
      case '2':
        return at('2006') ? chunk('2006', 4) : chunk('2', 1)
      case '_':
        if (at('_2')) {
          // `_2006` is a literal `_` and the year.
          if (at('_2006')) return [layout.slice(0, i + 1), '2006', layout.slice(i + 5)]
          return chunk('_2', 2)
        }
        if (at('__2')) return chunk('__2', 3)
        break
      case '3':
        return chunk('3', 1)
      case '4':
        return chunk('4', 1)
      case '5':
        return chunk('5', 1)
      case 'P':
        if (at('PM')) return chunk('PM', 2)
        break
      case 'p':
        if (at('pm')) return chunk('pm', 2)
        break
      case '-':
        for (const std of ['-070000', '-07:00:00', '-0700', '-07:00', '-07'] as const) {
          if (at(std)) return chunk(std, std.length)
        }
        break
      case 'Z':
        for (const std of ['Z070000', 'Z07:00:00', 'Z0700', 'Z07:00', 'Z07'] as const) {
          if (at(std)) return chunk(std, std.length)
        }
        break
      case '.':
      case ',': {
        const ch = layout[i + 1]
        if (ch === '0' || ch === '9') {
          let j = i + 1
          while (j < layout.length && layout[j] === ch) j++
          // Only a fractional second is all digits: the run must end here.
          if (!isDigitAt(layout, j)) {
            return [
              layout.slice(0, i),
              { frac: ch, digits: j - (i + 1), separator: layout[i]! },
              layout.slice(j),
            ]
          }
        }
        break
      }
    }
  }
  return [layout, undefined, '']
}

/** format.go appendNano. */
function appendNano(nanosec: number, std: { frac: '0' | '9'; digits: number; separator: string }): string {
  const trim = std.frac === '9'
  if (trim && (std.digits === 0 || nanosec === 0)) return ''
  let out = std.separator + appendInt(nanosec, 9)
  if (std.digits < 9) out = out.slice(0, out.length - 9 + std.digits)
  if (trim) {
    out = out.replace(/0+$/, '')
    if (out === std.separator) out = ''
  }
  return out
}

const hour12 = (c: GoCivil) => (c.hour % 12 === 0 ? 12 : c.hour % 12)

/**
 * What each layout element prints (format.go appendFormat) in UTC: zone name "UTC", offset 0,
 * so the ISO 8601 forms print Z and the numeric ones a zero offset.
 */
const STD_FORMAT: Record<Exclude<Std, object>, (c: GoCivil) => string> = {
  '06': (c) => appendInt(Math.abs(c.year) % 100, 2),
  '2006': (c) => appendInt(c.year, 4),
  Jan: (c) => goMonthString(c.month).slice(0, 3),
  January: (c) => goMonthString(c.month),
  '1': (c) => appendInt(c.month, 0),
  '01': (c) => appendInt(c.month, 2),
  Mon: (c) => goWeekdayString(c.weekday).slice(0, 3),
  Monday: (c) => goWeekdayString(c.weekday),
  '2': (c) => appendInt(c.day, 0),
  _2: (c) => (c.day < 10 ? ' ' : '') + appendInt(c.day, 0),
  '02': (c) => appendInt(c.day, 2),
  __2: (c) => ' '.repeat(c.yearDay < 10 ? 2 : c.yearDay < 100 ? 1 : 0) + appendInt(c.yearDay, 0),
  '002': (c) => appendInt(c.yearDay, 3),
  '15': (c) => appendInt(c.hour, 2),
  '3': (c) => appendInt(hour12(c), 0),
  '03': (c) => appendInt(hour12(c), 2),
  '4': (c) => appendInt(c.minute, 0),
  '04': (c) => appendInt(c.minute, 2),
  '5': (c) => appendInt(c.second, 0),
  '05': (c) => appendInt(c.second, 2),
  PM: (c) => (c.hour >= 12 ? 'PM' : 'AM'),
  pm: (c) => (c.hour >= 12 ? 'pm' : 'am'),
  Z0700: () => 'Z',
  Z070000: () => 'Z',
  Z07: () => 'Z',
  'Z07:00': () => 'Z',
  'Z07:00:00': () => 'Z',
  '-0700': () => '+0000',
  '-070000': () => '+000000',
  '-07': () => '+00',
  '-07:00': () => '+00:00',
  '-07:00:00': () => '+00:00:00',
  MST: () => 'UTC',
}

/** time.Time.Format in UTC, as format.go appendFormat. */
export function goTimeFormat(t: GoTime, layout: string): string {
  const c = goCivil(t)
  let out = ''
  let rest = layout
  while (rest !== '') {
    const [prefix, std, suffix] = nextStdChunk(rest)
    out += prefix
    if (std === undefined) break
    rest = suffix
    out += typeof std === 'object' ? appendNano(c.nanosecond, std) : STD_FORMAT[std](c)
  }
  return out
}

/** time.Time.String() (no monotonic reading: Prometheus' times have none). */
export function goTimeString(t: GoTime): string {
  return goTimeFormat(t, '2006-01-02 15:04:05.999999999 -0700 MST')
}

/** time.Time.GoString(): `time.Date(1970, time.January, 1, 0, 0, 1, 2000000, time.UTC)`. */
export function goTimeGoString(t: GoTime): string {
  const c = goCivil(t)
  const zone = t.local ? 'time.Local' : 'time.UTC'
  return `time.Date(${c.year}, time.${goMonthString(c.month)}, ${c.day}, ${c.hour}, ${c.minute}, ${c.second}, ${c.nanosecond}, ${zone})`
}

/** time.Time's unexported fields as reflect sees them: wall (nanoseconds) and ext (seconds since year 1). */
export function goTimeFields(t: GoTime): { wall: bigint; ext: bigint } {
  const { sec, nsec } = split(t)
  return { wall: BigInt(nsec), ext: sec + UNIX_TO_INTERNAL }
}

const MIN_DURATION = -(2n ** 63n)
const MAX_DURATION = 2n ** 63n - 1n

/** time.Duration.String(): `1h2m3.5s`, `1.5ms`, `0s`. */
export function goDurationString(d: bigint): string {
  const neg = d < 0n
  let u = neg ? -d : d
  const fmtFrac = (v: bigint, prec: number): [string, bigint] => {
    let frac = ''
    let print = false
    for (let i = 0; i < prec; i++) {
      const digit = v % 10n
      print ||= digit !== 0n
      if (print) frac = `${digit}${frac}`
      v /= 10n
    }
    return [print ? `.${frac}` : '', v]
  }
  let out: string
  if (u < NS) {
    if (u === 0n) return '0s'
    const [prec, unit] = u < 1000n ? [0, 'ns'] : u < 1_000_000n ? [3, 'µs'] : [6, 'ms']
    const [frac, whole] = fmtFrac(u, prec)
    out = `${whole}${frac}${unit}`
  } else {
    const [frac, seconds] = fmtFrac(u, 9)
    u = seconds
    out = `${u % 60n}${frac}s`
    u /= 60n
    if (u > 0n) {
      out = `${u % 60n}m${out}`
      u /= 60n
      if (u > 0n) out = `${u}h${out}`
    }
  }
  return neg ? `-${out}` : out
}

/** Time.Sub: the duration between two times, saturated at the int64 bounds as Go's. */
export function goTimeSub(t: GoTime, u: GoTime): bigint {
  const d = t.ns - u.ns
  return d > MAX_DURATION ? MAX_DURATION : d < MIN_DURATION ? MIN_DURATION : d
}

/** Time.AddDate: the civil date moved by years, months and days, normalised by time.Date. */
export function goAddDate(t: GoTime, years: number, months: number, days: number): bigint {
  const c = goCivil(t)
  return goDate(c.year + years, c.month + months, c.day + days, c.hour, c.minute, c.second, c.nanosecond)
}

/** The remainder of a time since Go's zero time divided by d > 0 (time.go div). */
function remainder(t: GoTime, d: bigint): bigint {
  const sinceZero = t.ns + UNIX_TO_INTERNAL * NS
  return ((sinceZero % d) + d) % d
}

/** Time.Truncate: rounded down to a multiple of d since the zero time; d ≤ 0 leaves it. */
export function goTruncate(t: GoTime, d: bigint): bigint {
  return d <= 0n ? t.ns : t.ns - remainder(t, d)
}

/** Time.Round: to the nearest multiple of d since the zero time, halves up; d ≤ 0 leaves it. */
export function goRound(t: GoTime, d: bigint): bigint {
  if (d <= 0n) return t.ns
  const r = remainder(t, d)
  return r + r < d ? t.ns - r : t.ns + (d - r)
}

/** The zero time.Time (January 1, year 1, UTC), what IsZero looks for. */
export const GO_ZERO_TIME_NS = -UNIX_TO_INTERNAL * NS
