/**
 * What Go's YAML packages make of a scalar's text, as yaml.v3 and yaml.v2 `resolve.go`
 * `resolve` do (promtool 2.42: yaml.v3 for rule files, yaml.v2 for test files): the tag it
 * resolves to and its Go value, or the fatal `cannot decode` failure of an explicit tag the
 * text does not read as. The two packages differ only in the YAML 1.1 booleans (`yes`, `on`,
 * `n`…), which yaml.v2 alone resolves.
 */

/** A scalar's Go value by resolved tag; `int` is Go's int64, `uint` a uint64 above it. */
export type GoResolvedValue =
  | { readonly kind: 'null' }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'int' | 'uint'; readonly value: bigint }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'timestamp' }
  | { readonly kind: 'string' }

export interface GoResolved {
  /** The short tag: `!!int`, `!!str`…, or an explicit tag resolve does not handle (`!foo`), kept. */
  readonly tag: string
  readonly value: GoResolvedValue
}

const NULL: GoResolvedValue = { kind: 'null' }
const TRUE: GoResolvedValue = { kind: 'bool', value: true }
const FALSE: GoResolvedValue = { kind: 'bool', value: false }
const STRING: GoResolvedValue = { kind: 'string' }

/** resolve.go `resolveMap`, shared by both packages. */
const RESOLVE_MAP = new Map<string, GoResolved>([
  ...['true', 'True', 'TRUE'].map((s) => [s, { tag: '!!bool', value: TRUE }] as const),
  ...['false', 'False', 'FALSE'].map((s) => [s, { tag: '!!bool', value: FALSE }] as const),
  ...['', '~', 'null', 'Null', 'NULL'].map((s) => [s, { tag: '!!null', value: NULL }] as const),
  ...['.nan', '.NaN', '.NAN'].map(
    (s) => [s, { tag: '!!float', value: { kind: 'float', value: Number.NaN } }] as const,
  ),
  ...['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF'].map(
    (s) => [s, { tag: '!!float', value: { kind: 'float', value: Number.POSITIVE_INFINITY } }] as const,
  ),
  ...['-.inf', '-.Inf', '-.INF'].map(
    (s) => [s, { tag: '!!float', value: { kind: 'float', value: Number.NEGATIVE_INFINITY } }] as const,
  ),
  ['<<', { tag: '!!merge', value: STRING }],
])

/** yaml.v2's `resolveMap` adds YAML 1.1's booleans. */
const YAML11_BOOLS = new Map<string, GoResolved>([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON'].map(
    (s) => [s, { tag: '!!bool', value: TRUE }] as const,
  ),
  ...['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF'].map(
    (s) => [s, { tag: '!!bool', value: FALSE }] as const,
  ),
])

const RESOLVABLE_TAGS = new Set(['', '!!str', '!!bool', '!!int', '!!float', '!!null', '!!timestamp'])

const YAML_STYLE_FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
const UINT64_MAX = 2n ** 64n - 1n

const DIGITS: Record<number, RegExp> = { 2: /^[01]+$/, 8: /^[0-7]+$/, 10: /^[0-9]+$/, 16: /^[0-9a-fA-F]+$/ }
const PREFIX: Record<number, string> = { 2: '0b', 8: '0o', 16: '0x' }

/** strconv's digits of `base` (2, 8, 10, 16) as a bigint, or undefined when not all are digits. */
function digitsValue(digits: string, base: number): bigint | undefined {
  if (!DIGITS[base]!.test(digits)) return undefined
  return base === 10 ? BigInt(digits) : BigInt(`${PREFIX[base]}${digits}`)
}

/**
 * strconv.ParseInt / ParseUint (`signed` false) of `s` in `base`, 0 meaning Go's literal
 * syntax (`0x`, `0b`, `0o`, a leading `0` for octal); undefined on a syntax or range error.
 * `s` has no underscores here (resolve removes them first).
 */
function parseGoInteger(s: string, base: number, signed: boolean): bigint | undefined {
  let rest = s
  let negative = false
  if (signed && (rest.startsWith('+') || rest.startsWith('-'))) {
    negative = rest.startsWith('-')
    rest = rest.slice(1)
  }
  let radix = base
  if (base === 0) {
    radix = 10
    if (rest.length > 1 && rest[0] === '0') {
      const marker = rest[1]!.toLowerCase()
      if (marker === 'x' || marker === 'b' || marker === 'o') {
        radix = marker === 'x' ? 16 : marker === 'b' ? 2 : 8
        rest = rest.slice(2)
      } else {
        radix = 8
        rest = rest.slice(1)
      }
    }
  }
  const magnitude = rest === '' ? undefined : digitsValue(rest, radix)
  if (magnitude === undefined) return undefined
  const value = negative ? -magnitude : magnitude
  if (signed) return value >= INT64_MIN && value <= INT64_MAX ? value : undefined
  return value <= UINT64_MAX ? value : undefined
}

/** strconv.ParseFloat of a decimal that matched YAML_STYLE_FLOAT: undefined when out of range (±Inf). */
function parseGoFloat(s: string): number | undefined {
  const value = Number(s)
  return Number.isFinite(value) ? value : undefined
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/** time/format.go `getnum(s, false)`: one or two digits. */
function getnum(s: string, at: number): [number, number] | undefined {
  const d0 = s.charCodeAt(at) - 48
  if (!(d0 >= 0 && d0 <= 9)) return undefined
  const d1 = s.charCodeAt(at + 1) - 48
  return d1 >= 0 && d1 <= 9 ? [d0 * 10 + d1, at + 2] : [d0, at + 1]
}

const isDigitAt = (s: string, at: number) => at < s.length && s[at]! >= '0' && s[at]! <= '9'

/**
 * time/format.go `stdFracSecond9` of `.999999999`: optional, a `.` or `,` and up to nine
 * digits; a tenth is left for what follows to refuse.
 */
function skipFraction(s: string, at: number): number {
  if ((s[at] !== '.' && s[at] !== ',') || !isDigitAt(s, at + 1)) return at
  let i = at + 1
  while (i < at + 10 && isDigitAt(s, i)) i++
  return i
}

/** `stdISO8601ColonTZ`: `Z`, or a sign, two digits, `:` and two digits. */
function skipZone(s: string, at: number): number | undefined {
  if (s[at] === 'Z') return at + 1
  if (s.length - at < 6 || s[at + 3] !== ':' || (s[at] !== '+' && s[at] !== '-')) return undefined
  return /^[0-9]{2}$/.test(s.slice(at + 1, at + 3)) && /^[0-9]{2}$/.test(s.slice(at + 4, at + 6))
    ? at + 6
    : undefined
}

/**
 * time.Parse of `s` with one of resolve.go's `allowedTimestampFormats`: `2006-1-2` then, by
 * `rest`, `T15:4:5.999999999Z07:00` (`T` or `t`), ` 15:4:5.999999999` (a layout space
 * matching any run of spaces) or nothing. Ranges are checked as time.Parse checks them: month
 * 1–12, hour < 24, minute and second < 60, the day within its month of that year.
 */
function parsesAsLayout(s: string, rest: 'T' | 't' | ' ' | ''): boolean {
  const year = Number(s.slice(0, 4))
  const month = getnum(s, 5)
  if (month === undefined || s[month[1]] !== '-') return false
  const day = getnum(s, month[1] + 1)
  if (day === undefined) return false
  let at = day[1]
  if (rest !== '') {
    if (rest === ' ') {
      if (at < s.length && s[at] !== ' ') return false
      while (s[at] === ' ') at++
    } else if (s[at++] !== rest) return false
    const hour = getnum(s, at)
    if (hour === undefined || s[hour[1]] !== ':') return false
    const minute = getnum(s, hour[1] + 1)
    if (minute === undefined || s[minute[1]] !== ':') return false
    const second = getnum(s, minute[1] + 1)
    if (second === undefined || hour[0] >= 24 || minute[0] >= 60 || second[0] >= 60) return false
    at = skipFraction(s, second[1])
    if (rest !== ' ') {
      const end = skipZone(s, at)
      if (end === undefined) return false
      at = end
    }
  }
  if (at !== s.length || month[0] < 1 || month[0] > 12) return false
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  const days = month[0] === 2 && leap ? 29 : DAYS_IN_MONTH[month[0] - 1]!
  return day[0] >= 1 && day[0] <= days
}

/** resolve.go `parseTimestamp`: four digits and `-`, then the first layout that parses. */
export function isGoTimestamp(s: string): boolean {
  if (!/^[0-9]{4}-/.test(s)) return false
  return (['T', 't', ' ', ''] as const).some((rest) => parsesAsLayout(s, rest))
}

const asInt = (value: bigint | undefined): GoResolved | undefined =>
  value === undefined
    ? undefined
    : { tag: '!!int', value: { kind: value > INT64_MAX ? 'uint' : 'int', value } }

/** The 'D'/'S' hint's readings after a timestamp, in resolve.go's order. */
function resolveNumber(text: string, v3: boolean): GoResolved | undefined {
  const plain = text.replaceAll('_', '')
  const number = asInt(parseGoInteger(plain, 0, true) ?? parseGoInteger(plain, 0, false))
  if (number !== undefined) return number
  if (YAML_STYLE_FLOAT.test(plain)) {
    const value = parseGoFloat(plain)
    if (value !== undefined) return { tag: '!!float', value: { kind: 'float', value } }
  }
  // resolve.go's own binary and (yaml.v3 only) octal readings: ParseInt of what follows the
  // prefix, which may carry a sign of its own (`0b-1` is -1).
  for (const [prefix, base] of v3
    ? ([
        ['0b', 2],
        ['0o', 8],
      ] as const)
    : ([['0b', 2]] as const)) {
    if (plain.startsWith(prefix)) {
      return asInt(parseGoInteger(plain.slice(2), base, true) ?? parseGoInteger(plain.slice(2), base, false))
    }
    if (plain.startsWith(`-${prefix}`)) return asInt(parseGoInteger(`-${plain.slice(3)}`, base, true))
  }
  return undefined
}

/**
 * resolve.go `resolve(tag, in)`: the tag and value of a plain scalar (`tag` undefined) or of
 * an explicitly tagged one. A tag outside !!str, !!bool, !!int, !!float, !!null and
 * !!timestamp is kept with the text as a string.
 *
 * @returns the resolved tag and value, or `failure`: the message of Go's fatal
 *   `failf("cannot decode %s `%s` as a %s")` when the text does not read as its explicit tag
 *   (a !!float may hold an int64).
 */
export function goResolve(
  tag: string | undefined,
  text: string,
  v3: boolean,
): GoResolved | { readonly failure: string } {
  const explicit = tag ?? ''
  if (!RESOLVABLE_TAGS.has(explicit)) return { tag: explicit, value: STRING }
  const resolved = resolveText(explicit, text, v3)
  if (explicit === '' || explicit === resolved.tag || explicit === '!!str') return resolved
  if (explicit === '!!float' && resolved.value.kind === 'int') {
    return { tag: '!!float', value: { kind: 'float', value: Number(resolved.value.value) } }
  }
  return { failure: `yaml: cannot decode ${resolved.tag} \`${text}\` as a ${explicit}` }
}

function resolveText(tag: string, text: string, v3: boolean): GoResolved {
  // resolve.go `resolveTable`: the first byte's hint; an empty text is looked up ('N').
  const first = text[0] ?? ''
  const hint =
    text === ''
      ? 'N'
      : first === '+' || first === '-'
        ? 'S'
        : first >= '0' && first <= '9'
          ? 'D'
          : 'yYnNtTfFoO~'.includes(first)
            ? 'M'
            : first === '.'
              ? '.'
              : ''
  if (hint === '' || tag === '!!str') return { tag: '!!str', value: STRING }
  const mapped = RESOLVE_MAP.get(text) ?? (v3 ? undefined : YAML11_BOOLS.get(text))
  if (mapped !== undefined) return mapped
  if (hint === '.') {
    // strconv.ParseFloat of the text itself: a decimal fraction, no underscores.
    if (/^\.[0-9]+(?:[eE][-+]?[0-9]+)?$/.test(text)) {
      const value = parseGoFloat(text)
      if (value !== undefined) return { tag: '!!float', value: { kind: 'float', value } }
    }
  } else if (hint === 'D' || hint === 'S') {
    if ((tag === '' || tag === '!!timestamp') && isGoTimestamp(text)) {
      return { tag: '!!timestamp', value: { kind: 'timestamp' } }
    }
    const number = resolveNumber(text, v3)
    if (number !== undefined) return number
  }
  return { tag: '!!str', value: STRING }
}
