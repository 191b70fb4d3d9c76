/**
 * Go's fmt package (Go 1.19, what promtool 2.42 is built with) reimplemented so that alert
 * templates print exactly what Prometheus prints. `strconv.FormatFloat`: the shortest
 * representation for `{{ $value }}` (1.234567e+06, not 1234567), correctly rounded fixed
 * precision with ties to even on the exact binary value (Go's `%.4g` of 12345 is 1.234e+04),
 * `%b` and `%x` of floats. fmt/print.go and fmt/format.go: flags, width and precision (from
 * operands too, `%*d`, and with `%[n]` indexes), verbs applied to each map, struct and slice
 * element, `%#v` Go syntax, `%T`, the methods of `*time.Time`, and the `%!verb(type=value)`,
 * MISSING, EXTRA, BADWIDTH, BADPREC, BADINDEX and NOVERB markers, an operand in a marker
 * being formatted with the verb's own flags, width and precision as Go does.
 */

import { goQuote, goQuoteRune } from '../promql/strings.ts'
import { goStringToBytes } from '../rules/go-bytes.ts'
import {
  GoTime,
  goDurationString,
  goMonthString,
  goTimeFields,
  goTimeGoString,
  goTimeString,
  goWeekdayString,
} from './go-time.ts'

/** The integer types a template meets: `int` literals, bytes of strings, time's results. */
export type GoIntType = 'int' | 'uint8' | 'int64' | 'time.Month' | 'time.Weekday' | 'time.Duration'

/**
 * A Go integer inside the template runtime (numbers are otherwise float64): an `int`, the
 * `uint8` that `index` of a string gives (a byte), or what a time's methods return. `exact`
 * holds values beyond 2^53 (UnixNano, durations) digit for digit.
 */
export class GoInt {
  readonly exact: bigint

  constructor(
    readonly value: number,
    readonly type: GoIntType = 'int',
    exact?: bigint,
  ) {
    this.exact = exact ?? BigInt(Math.trunc(value))
  }

  /** An integer of a type from its exact value. */
  static of(exact: bigint, type: GoIntType): GoInt {
    return new GoInt(Number(exact), type, exact)
  }
}

/**
 * A Go `complex128`: what a template's imaginary or complex constant is (`1i`, `1+2i`; parse
 * node.go newNumber keeps IsComplex and exec.go idealConstant gives the complex128 first).
 */
export class GoComplex {
  constructor(
    readonly re: number,
    readonly im: number,
  ) {}
}

/** The String method of time's named integer types (fmt prints them by name with %v and %s). */
function intMethods(type: GoIntType, v: bigint): Methods | undefined {
  if (type === 'time.Month') return { String: () => goMonthString(Number(v)) }
  if (type === 'time.Weekday') return { String: () => goWeekdayString(Number(v)) }
  if (type === 'time.Duration') return { String: () => goDurationString(v) }
  return undefined
}

interface Decimal {
  /** Digits without leading or trailing zeros ("" for zero). */
  d: string
  /** Decimal point position: value = 0.d × 10^dp. */
  dp: number
}

/** Exact decimal expansion of a finite, non-negative double. */
function exactDecimal(x: number): Decimal {
  if (x === 0) return { d: '', dp: 0 }
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, x)
  const hi = view.getUint32(0)
  const lo = view.getUint32(4)
  const biased = (hi >>> 20) & 0x7ff
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo)
  let e: number
  if (biased === 0) e = -1074
  else {
    mant |= 1n << 52n
    e = biased - 1075
  }
  let digits: string
  let dp: number
  if (e >= 0) {
    digits = (mant << BigInt(e)).toString()
    dp = digits.length
  } else {
    digits = (mant * 5n ** BigInt(-e)).toString()
    dp = digits.length + e
  }
  return trim({ d: digits, dp })
}

function trim(dec: Decimal): Decimal {
  let end = dec.d.length
  while (end > 0 && dec.d[end - 1] === '0') end--
  let start = 0
  while (start < end && dec.d[start] === '0') start++
  return { d: dec.d.slice(start, end), dp: dec.dp - start }
}

/** Shortest digits that round-trip (what Go's and JavaScript's shortest algorithms agree on). */
function shortestDecimal(x: number): Decimal {
  if (x === 0) return { d: '', dp: 0 }
  const [mantissa, exponent] = x.toExponential().split('e') as [string, string]
  return trim({ d: mantissa.replace('.', ''), dp: Number(exponent) + 1 })
}

/** Rounds to nd digits, ties to even (the expansion is exact, so a tie is a real tie). */
function roundDecimal(dec: Decimal, nd: number): Decimal {
  if (nd < 0 || nd >= dec.d.length) return nd < 0 ? { d: '', dp: dec.dp } : dec
  const next = dec.d[nd] as string
  let up: boolean
  if (next === '5' && nd + 1 === dec.d.length) up = nd > 0 && Number(dec.d[nd - 1]) % 2 === 1
  else up = next >= '5'
  if (!up) return trim({ d: dec.d.slice(0, nd), dp: dec.dp })
  const digits = dec.d.slice(0, nd).split('')
  let i = nd - 1
  while (i >= 0 && digits[i] === '9') i--
  if (i < 0) return { d: '1', dp: dec.dp + 1 }
  digits[i] = String(Number(digits[i]) + 1)
  return trim({ d: digits.slice(0, i + 1).join(''), dp: dec.dp })
}

function fmtE(neg: boolean, dec: Decimal, prec: number, e: 'e' | 'E'): string {
  let out = neg ? '-' : ''
  out += dec.d.length === 0 ? '0' : dec.d[0]
  if (prec > 0) {
    out += '.'
    for (let i = 1; i <= prec; i++) out += i < dec.d.length ? dec.d[i] : '0'
  }
  const exp = dec.d.length === 0 ? 0 : dec.dp - 1
  const sign = exp < 0 ? '-' : '+'
  const abs = Math.abs(exp)
  return `${out}${e}${sign}${abs < 10 ? `0${abs}` : abs}`
}

function fmtF(neg: boolean, dec: Decimal, prec: number): string {
  let out = neg ? '-' : ''
  if (dec.dp > 0) {
    for (let i = 0; i < dec.dp; i++) out += i < dec.d.length ? dec.d[i] : '0'
  } else out += '0'
  if (prec > 0) {
    out += '.'
    for (let i = 1; i <= prec; i++) {
      const j = dec.dp + i - 1
      out += j >= 0 && j < dec.d.length ? dec.d[j] : '0'
    }
  }
  return out
}

export type FloatFormat = 'e' | 'E' | 'f' | 'g' | 'G' | 'b' | 'x' | 'X'

/** The fields of a float64 as strconv's FormatFloat splits them: mantissa with its implicit bit, exponent. */
function floatBits(x: number): { neg: boolean; mant: bigint; exp: number } {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, x)
  const bits = view.getBigUint64(0)
  let exp = Number((bits >> 52n) & 0x7ffn)
  let mant = bits & ((1n << 52n) - 1n)
  if (exp === 0) exp++
  else mant |= 1n << 52n
  return { neg: bits >> 63n === 1n, mant, exp: exp - 1023 }
}

/** strconv ftoa.go fmtB: `%b`, the decimal mantissa and the binary exponent (6755399441055744p-52). */
function fmtB(x: number): string {
  const { neg, mant, exp } = floatBits(x)
  const e = exp - 52
  return `${neg ? '-' : ''}${mant}p${e >= 0 ? '+' : ''}${e}`
}

/** strconv ftoa.go fmtX: `%x`, -0x1.yyyyp±dd, the mantissa rounded to prec hex digits (ties to even). */
function fmtX(x: number, prec: number, fmt: 'x' | 'X'): string {
  let { neg, mant, exp } = floatBits(x)
  if (mant === 0n) exp = 0
  // Shift the digits so that the leading 1 (if any) is at bit 60.
  mant <<= 8n
  while (mant !== 0n && (mant & (1n << 60n)) === 0n) {
    mant <<= 1n
    exp--
  }
  if (prec >= 0 && prec < 15) {
    const shift = BigInt(prec * 4)
    const extra = (mant << shift) & ((1n << 60n) - 1n)
    mant >>= 60n - shift
    if ((extra | (mant & 1n)) > 1n << 59n) mant++
    mant <<= 60n - shift
    if ((mant & (1n << 61n)) !== 0n) {
      // Rounding carried into a new leading digit.
      mant >>= 1n
      exp++
    }
  }
  const hex = fmt === 'X' ? '0123456789ABCDEF' : '0123456789abcdef'
  let out = `${neg ? '-' : ''}0${fmt}${(mant >> 60n) & 1n}`
  mant = (mant << 4n) & ((1n << 64n) - 1n)
  if (prec < 0 && mant !== 0n) {
    out += '.'
    while (mant !== 0n) {
      out += hex[Number((mant >> 60n) & 15n)]
      mant = (mant << 4n) & ((1n << 64n) - 1n)
    }
  } else if (prec > 0) {
    out += '.'
    for (let i = 0; i < prec; i++) {
      out += hex[Number((mant >> 60n) & 15n)]
      mant = (mant << 4n) & ((1n << 64n) - 1n)
    }
  }
  const abs = Math.abs(exp)
  return `${out}${fmt === 'X' ? 'P' : 'p'}${exp < 0 ? '-' : '+'}${abs < 10 ? `0${abs}` : abs}`
}

/** `strconv.FormatFloat(x, fmt, prec, 64)`; prec -1 means the shortest representation. */
export function formatFloat(x: number, fmt: FloatFormat, prec: number): string {
  if (Number.isNaN(x)) return 'NaN'
  if (x === Number.POSITIVE_INFINITY) return '+Inf'
  if (x === Number.NEGATIVE_INFINITY) return '-Inf'
  if (fmt === 'b') return fmtB(x)
  if (fmt === 'x' || fmt === 'X') return fmtX(x, prec, fmt)
  const neg = x < 0 || Object.is(x, -0)
  const abs = Math.abs(x)
  const shortest = prec < 0
  let dec: Decimal
  if (shortest) {
    dec = shortestDecimal(abs)
    if (fmt === 'e' || fmt === 'E') prec = Math.max(dec.d.length - 1, 0)
    else if (fmt === 'f') prec = Math.max(dec.d.length - dec.dp, 0)
    else prec = dec.d.length
  } else {
    const exact = exactDecimal(abs)
    if (fmt === 'e' || fmt === 'E') dec = roundDecimal(exact, prec + 1)
    else if (fmt === 'f') dec = roundDecimal(exact, exact.dp + prec)
    else {
      if (prec === 0) prec = 1
      dec = roundDecimal(exact, prec)
    }
  }
  if (fmt === 'e' || fmt === 'E') return fmtE(neg, dec, prec, fmt)
  if (fmt === 'f') return fmtF(neg, dec, prec)
  let eprec = prec
  if (eprec > dec.d.length && dec.d.length >= dec.dp) eprec = dec.d.length
  if (shortest) eprec = 6
  const exp = dec.dp - 1
  if (exp < -4 || exp >= eprec) {
    if (prec > dec.d.length) prec = dec.d.length
    return fmtE(neg, dec, prec - 1, fmt === 'g' ? 'e' : 'E')
  }
  if (prec > dec.dp) prec = dec.d.length
  return fmtF(neg, dec, Math.max(prec - dec.dp, 0))
}

/** How Go's fmt prints a float64 for `%v` (and text/template prints `{{ $value }}`). */
export function formatFloatV(x: number): string {
  return formatFloat(x, 'g', -1)
}

// ---------------------------------------------------------------- Go values as fmt sees them

/**
 * Implemented by template values that stand for a Go struct, pointer to struct, named slice or
 * named string (Prometheus' `*template.sample`, `template.queryResult`, the alert data struct,
 * html/template's `HTML`): what `reflect` would tell fmt about them, since fmt prints such
 * values field by field and names their types.
 */
export const GO_REFLECT: unique symbol = Symbol('go.reflect')

/** A field of a Go struct: a field typed `interface {}` holds its value behind an interface. */
export interface GoField {
  name: string
  value: unknown
  /** The declared type when it is an interface (`interface {}`), else the value's own type. */
  iface?: boolean
}

/** What a GO_REFLECT method returns. */
export type GoShape =
  | { kind: 'string'; type: string; value: string }
  | { kind: 'struct'; type: string; pointer: boolean; fields: readonly GoField[] }
  /** `nil`: a nil slice, which `%#v` prints as `type(nil)`. */
  | { kind: 'slice'; type: string; elemIface: boolean; elems: readonly unknown[]; nil?: boolean }

export interface GoReflectable {
  [GO_REFLECT](): GoShape
}

const INTERFACE_MAP: unique symbol = Symbol('go.map[string]interface {}')

/**
 * Marks a plain object as a Go `map[string]interface {}` (what Prometheus' `args` returns)
 * rather than the `map[string]string` of labels: fmt names the type in `%T`, `%#v` and in
 * `%!verb(type=…)` markers, and `%#v` of a nil element is `interface {}(nil)`.
 */
export function goInterfaceMap<T extends Record<string, unknown>>(map: T): T {
  Object.defineProperty(map, INTERFACE_MAP, { value: true, enumerable: false })
  return map
}

/**
 * The value a Go pointer to a struct points to (`reflect.Indirect`), for fmt; anything else
 * unchanged. text/template follows one pointer before it prints a pipeline's value and the
 * operands of `html`, `js` and `urlquery` (exec.go printableValue), so a `*template.sample`
 * prints as `{map[…] 1}` there and as `&{map[…] 1}` through `print` and `printf`. A `*time.Time`
 * needs nothing: its String method belongs to the value too.
 */
export function goIndirect(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || !(GO_REFLECT in value)) return value
  const shape = (value as GoReflectable)[GO_REFLECT]()
  if (shape.kind !== 'struct' || !shape.pointer) return value
  const pointee: GoReflectable = { [GO_REFLECT]: () => ({ ...shape, pointer: false }) }
  return pointee
}

/**
 * Whether a plain object stands for a Go `map[string]interface {}` (`args`, marked by
 * goInterfaceMap, or any map holding something other than strings) rather than the
 * `map[string]string` of labels: its missing keys index to nil, not to "".
 */
export function isGoInterfaceMap(map: object): boolean {
  return INTERFACE_MAP in map || Object.values(map).some((v) => typeof v !== 'string')
}

/** reflect.Value reduced to what fmt's print.go looks at. `exp`: CanInterface (an exported path). */
type RV =
  | { k: 'invalid' }
  | { k: 'bool'; t: string; exp: boolean; v: boolean }
  | { k: 'int' | 'uint'; t: string; exp: boolean; v: bigint; methods?: Methods }
  | { k: 'float'; t: string; exp: boolean; v: number }
  | { k: 'complex'; t: string; exp: boolean; re: number; im: number }
  | { k: 'string'; t: string; exp: boolean; v: string }
  | { k: 'map'; t: string; exp: boolean; entries: [RV, RV][] }
  | { k: 'struct'; t: string; exp: boolean; fields: { name: string; v: RV }[]; methods?: Methods }
  | { k: 'ptr'; t: string; exp: boolean; elem: RV | null; methods?: Methods }
  | { k: 'slice'; t: string; exp: boolean; elems: RV[]; nil?: boolean }
  | { k: 'iface'; t: string; exp: boolean; elem: RV }

/** The Stringer and GoStringer methods of a value (time.Time's, time.Month's, time.Duration's). */
interface Methods {
  String?: () => string
  GoString?: () => string
}

/**
 * A `*time.Time` (what toTime returns) as reflect sees it: a pointer to the struct
 * {wall uint64; ext int64; loc *Location} of unexported fields. Without a monotonic reading
 * wall holds the nanoseconds and ext the seconds since year 1; UTC() makes loc nil.
 */
function timeRV(t: GoTime, exp: boolean): RV {
  const methods: Methods = { String: () => goTimeString(t), GoString: () => goTimeGoString(t) }
  const { wall, ext } = goTimeFields(t)
  // Local() points loc at time.Local; an address prints as fmtPointer prints any.
  const loc: RV = { k: 'ptr', t: '*time.Location', exp: false, elem: t.local ? { k: 'invalid' } : null }
  const fields = [
    { name: 'wall', v: { k: 'uint', t: 'uint64', exp: false, v: wall } as RV },
    { name: 'ext', v: { k: 'int', t: 'int64', exp: false, v: ext } as RV },
    { name: 'loc', v: loc },
  ]
  const struct: RV = { k: 'struct', t: 'time.Time', exp, fields, methods }
  return t.pointer ? { k: 'ptr', t: '*time.Time', exp, elem: struct, methods } : struct
}

/** Go's fmtsort order of string keys: byte order, which is code point order. */
function compareKeys(a: string, b: string): number {
  const x = [...a]
  const y = [...b]
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] as string).codePointAt(0)! - (y[i] as string).codePointAt(0)!
    if (d !== 0) return d
  }
  return x.length - y.length
}

/** A value held in an interface (an `interface {}` map element or field), nil included. */
function ifaceRV(value: unknown): RV {
  const elem = reflectOf(value)
  return elem.k === 'invalid' ? { k: 'iface', t: 'interface {}', exp: true, elem } : elem
}

/** reflect.ValueOf of a template value. */
function reflectOf(value: unknown, exp = true): RV {
  if (value === null || value === undefined) return { k: 'invalid' }
  if (value instanceof GoInt) {
    const v = value.exact
    if (value.type === 'uint8') return { k: 'uint', t: 'uint8', exp, v }
    return { k: 'int', t: value.type, exp, v, methods: intMethods(value.type, v) }
  }
  if (typeof value === 'number') return { k: 'float', t: 'float64', exp, v: value }
  if (value instanceof GoComplex) return { k: 'complex', t: 'complex128', exp, re: value.re, im: value.im }
  if (typeof value === 'string') return { k: 'string', t: 'string', exp, v: value }
  if (typeof value === 'boolean') return { k: 'bool', t: 'bool', exp, v: value }
  if (value instanceof GoTime) return timeRV(value, exp)
  if (typeof value === 'object' && GO_REFLECT in value) {
    const shape = (value as GoReflectable)[GO_REFLECT]()
    if (shape.kind === 'string') return { k: 'string', t: shape.type, exp, v: shape.value }
    if (shape.kind === 'slice') {
      const elems = shape.elems.map((e) => (shape.elemIface ? ifaceRV(e) : reflectOf(e)))
      return { k: 'slice', t: shape.type, exp, elems, nil: shape.nil }
    }
    const fields = shape.fields.map((f) => ({
      name: f.name,
      v: f.iface ? ifaceRV(f.value) : reflectOf(f.value),
    }))
    const struct: RV = { k: 'struct', t: shape.type, exp, fields }
    return shape.pointer ? { k: 'ptr', t: `*${shape.type}`, exp, elem: struct } : struct
  }
  if (Array.isArray(value)) return { k: 'slice', t: '[]interface {}', exp, elems: value.map(ifaceRV) }
  const map = value as Record<string, unknown>
  // Labels are map[string]string; a map holding anything but strings can only be the
  // map[string]interface {} of `args` (goInterfaceMap says so for the all-string ones).
  const iface = isGoInterfaceMap(map)
  const entries = Object.keys(map)
    .sort(compareKeys)
    .map((key): [RV, RV] => [
      { k: 'string', t: 'string', exp, v: key },
      iface ? ifaceRV(map[key]) : reflectOf(map[key]),
    ])
  return { k: 'map', t: iface ? 'map[string]interface {}' : 'map[string]string', exp, entries }
}

/** Go's `%T` name of a template value (`reflect.TypeOf(v).String()`). */
export function goTypeName(value: unknown): string {
  const rv = reflectOf(value)
  return rv.k === 'invalid' ? '<nil>' : rv.t
}

// ---------------------------------------------------------------- fmt/format.go

const LDIGITS = '0123456789abcdefx'
const UDIGITS = '0123456789ABCDEFX'

/** unicode.IsPrint, as strconv and `%#U` use it. */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u

const runeCount = (s: string) => [...s].length

/** The rune Go's utf8 encoding writes for a code point: invalid ones become U+FFFD. */
function runeString(c: bigint): string {
  if (c > 0x10ffffn || (c >= 0xd800n && c <= 0xdfffn)) return '\ufffd'
  return String.fromCodePoint(Number(c))
}

/** fmt's `fmt` struct: the flags, width and precision of one verb, and the formatting of basic values. */
class Fmt {
  out = ''
  widPresent = false
  precPresent = false
  minus = false
  plus = false
  sharp = false
  space = false
  zero = false
  plusV = false
  sharpV = false
  wid = 0
  prec = 0

  clearflags(): void {
    this.widPresent = false
    this.precPresent = false
    this.minus = false
    this.plus = false
    this.sharp = false
    this.space = false
    this.zero = false
    this.plusV = false
    this.sharpV = false
  }

  writePadding(n: number): void {
    if (n > 0) this.out += (this.zero ? '0' : ' ').repeat(n)
  }

  /** pad and padString: width counts runes; zero padding applies to any operand, even a string. */
  pad(s: string): void {
    if (!this.widPresent || this.wid === 0) {
      this.out += s
      return
    }
    const width = this.wid - runeCount(s)
    if (!this.minus) {
      this.writePadding(width)
      this.out += s
    } else {
      this.out += s
      this.writePadding(width)
    }
  }

  fmtBoolean(v: boolean): void {
    this.pad(v ? 'true' : 'false')
  }

  /** fmtUnicode: U+0078, with `#` U+0078 'x' when printable; precision pads the hex digits. */
  fmtUnicode(u: bigint): void {
    let hex = u.toString(16).toUpperCase()
    const prec = this.precPresent && this.prec > 4 ? this.prec : 4
    hex = hex.padStart(prec, '0')
    let s = `U+${hex}`
    if (this.sharp && u <= 0x10ffffn && PRINTABLE.test(runeString(u)) && !(u >= 0xd800n && u <= 0xdfffn)) {
      s += ` '${String.fromCodePoint(Number(u))}'`
    }
    const oldZero = this.zero
    this.zero = false
    this.pad(s)
    this.zero = oldZero
  }

  /** fmtInteger: u is the uint64 bit pattern; signed values below zero print with a minus. */
  fmtInteger(u: bigint, base: number, isSigned: boolean, verb: string, digits: string): void {
    const negative = isSigned && BigInt.asIntN(64, u) < 0n
    if (negative) u = -BigInt.asIntN(64, u)
    let prec = 0
    if (this.precPresent) {
      prec = this.prec
      // Precision 0 and value 0 print nothing but the padding.
      if (prec === 0 && u === 0n) {
        const oldZero = this.zero
        this.zero = false
        this.writePadding(this.wid)
        this.zero = oldZero
        return
      }
    } else if (this.zero && this.widPresent) {
      prec = this.wid
      if (negative || this.plus || this.space) prec-- // leave room for the sign
    }
    let s = ''
    const b = BigInt(base)
    do {
      s = digits[Number(u % b)] + s
      u /= b
    } while (u > 0n)
    if (s.length < prec) s = '0'.repeat(prec - s.length) + s
    if (this.sharp) {
      if (base === 2) s = `0b${s}`
      else if (base === 8 && s[0] !== '0') s = `0${s}`
      else if (base === 16) s = `0${digits[16]}${s}`
    }
    if (verb === 'O') s = `0o${s}`
    if (negative) s = `-${s}`
    else if (this.plus) s = `+${s}`
    else if (this.space) s = ` ${s}`
    // Zero padding was done above as a precision, or an explicit precision overrules it.
    const oldZero = this.zero
    this.zero = false
    this.pad(s)
    this.zero = oldZero
  }

  truncateString(s: string): string {
    if (!this.precPresent) return s
    const runes = [...s]
    return runes.length > this.prec ? runes.slice(0, this.prec).join('') : s
  }

  fmtS(s: string): void {
    this.pad(this.truncateString(s))
  }

  /** fmtSbx: the bytes in hex; precision limits the bytes, space separates them, # adds 0x. */
  fmtSx(s: string, digits: string): void {
    const bytes = goStringToBytes(s)
    let length = bytes.length
    if (this.precPresent && this.prec < length) length = this.prec
    let width = 2 * length
    if (width > 0) {
      if (this.space) {
        if (this.sharp) width *= 2
        width += length - 1
      } else if (this.sharp) width += 2
    } else {
      if (this.widPresent) this.writePadding(this.wid)
      return
    }
    if (this.widPresent && this.wid > width && !this.minus) this.writePadding(this.wid - width)
    let out = this.sharp ? `0${digits[16]}` : ''
    for (let i = 0; i < length; i++) {
      if (this.space && i > 0) {
        out += ' '
        if (this.sharp) out += `0${digits[16]}`
      }
      const c = bytes[i] as number
      out += (digits[c >> 4] as string) + (digits[c & 15] as string)
    }
    this.out += out
    if (this.widPresent && this.wid > width && this.minus) this.writePadding(this.wid - width)
  }

  /** fmtQ: strconv.Quote, QuoteToASCII with `+`, a raw string with `#` when CanBackquote. */
  fmtQ(s: string): void {
    s = this.truncateString(s)
    if (this.sharp && canBackquote(s)) this.pad(`\`${s}\``)
    else this.pad(this.plus ? goQuoteASCII(s) : goQuote(s))
  }

  fmtC(c: bigint): void {
    this.pad(runeString(c))
  }

  fmtQc(c: bigint): void {
    const r = runeString(c)
    this.pad(this.plus ? goQuoteRuneASCII(r) : goQuoteRune(r))
  }

  /** fmtFloat: strconv's digits, then the sign, `#` (keep the point and trailing zeros) and padding. */
  fmtFloat(v: number, verb: FloatFormat, prec: number): void {
    if (this.precPresent) prec = this.prec
    let num = formatFloat(v, verb, prec)
    if (num[0] !== '-' && num[0] !== '+') num = `+${num}`
    if (this.space && num[0] === '+' && !this.plus) num = ` ${num.slice(1)}`
    // Infinities and NaN don't look like numbers, so they are never zero padded.
    if (num[1] === 'I' || num[1] === 'N') {
      const oldZero = this.zero
      this.zero = false
      if (num[1] === 'N' && !this.space && !this.plus) num = num.slice(1)
      this.pad(num)
      this.zero = oldZero
      return
    }
    if (this.sharp && verb !== 'b') {
      let digits = 0
      if (verb === 'g' || verb === 'G' || verb === 'x') digits = prec === -1 ? 6 : prec
      let tail = ''
      let hasDecimalPoint = false
      let sawNonzeroDigit = false
      for (let i = 1; i < num.length; i++) {
        const c = num[i] as string
        if (c === '.') hasDecimalPoint = true
        else if (c === 'p' || c === 'P' || ((c === 'e' || c === 'E') && verb !== 'x' && verb !== 'X')) {
          tail = num.slice(i)
          num = num.slice(0, i)
        } else {
          if (c !== '0') sawNonzeroDigit = true
          // Count the significant digits after the first non-zero one.
          if (sawNonzeroDigit) digits--
        }
      }
      if (!hasDecimalPoint) {
        // A lone leading 0 counts once as a digit.
        if (num.length === 2 && num[1] === '0') digits--
        num += '.'
      }
      if (digits > 0) num += '0'.repeat(digits)
      num += tail
    }
    if (this.plus || num[0] !== '+') {
      // Zero padding goes between the sign and the digits.
      if (this.zero && this.widPresent && this.wid > num.length) {
        this.out += num[0]
        this.writePadding(this.wid - num.length)
        this.out += num.slice(1)
        return
      }
      this.pad(num)
      return
    }
    this.pad(num.slice(1))
  }
}

/** strconv.CanBackquote: no control characters but tab, no backquote, valid UTF-8, no U+FEFF. */
function canBackquote(s: string): boolean {
  for (const c of s) {
    const cp = c.codePointAt(0) as number
    if (c === '`' || c === '\ufeff' || (cp < 0x20 && c !== '\t') || cp === 0x7f) return false
    if (cp >= 0xd800 && cp <= 0xdfff) return false
  }
  return true
}

/** strconv.QuoteToASCII: strconv.Quote with every non-ASCII rune escaped. */
function goQuoteASCII(s: string): string {
  let out = ''
  for (const c of s) {
    const cp = c.codePointAt(0) as number
    if (cp < 0x80) out += goQuote(c).slice(1, -1)
    else if (cp >= 0xdc80 && cp <= 0xdcff) out += `\\x${(cp - 0xdc00).toString(16)}`
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd'
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`
    else out += `\\U${cp.toString(16).padStart(8, '0')}`
  }
  return `"${out}"`
}

/** strconv.QuoteRuneToASCII. */
function goQuoteRuneASCII(r: string): string {
  const q = goQuoteASCII(r).slice(1, -1)
  return `'${q === "'" ? "\\'" : q === '\\"' ? '"' : q}'`
}

// ---------------------------------------------------------------- fmt/print.go

/** fmt's `pp`: one Sprintf, Sprint or Sprintln call. */
class Printer {
  readonly f = new Fmt()
  /** The current operand as an interface value (printArg), or null when printing a reflect value. */
  private arg: RV | null = null
  private value: RV = { k: 'invalid' }
  private erroring = false
  private reordered = false
  private goodArgNum = true

  get out(): string {
    return this.f.out
  }

  private badVerb(verb: string): void {
    this.erroring = true
    this.f.out += `%!${verb}(`
    if (this.arg !== null && this.arg.k !== 'invalid') {
      this.f.out += `${this.arg.t}=`
      // The operand is printed with %v but with the verb's flags, width and precision.
      this.printArgRV(this.arg, 'v')
    } else if (this.value.k !== 'invalid') {
      this.f.out += `${this.value.t}=`
      this.printValue(this.value, 'v', 0)
    } else this.f.out += '<nil>'
    this.f.out += ')'
    this.erroring = false
  }

  private fmtBool(v: boolean, verb: string): void {
    if (verb === 't' || verb === 'v') this.f.fmtBoolean(v)
    else this.badVerb(verb)
  }

  private fmtInteger(v: bigint, isSigned: boolean, verb: string): void {
    const u = BigInt.asUintN(64, v)
    const f = this.f
    switch (verb) {
      case 'v':
        if (f.sharpV && !isSigned) {
          // fmt0x64: %#v of an unsigned integer is hexadecimal with 0x.
          const sharp = f.sharp
          f.sharp = true
          f.fmtInteger(u, 16, false, 'v', LDIGITS)
          f.sharp = sharp
        } else f.fmtInteger(u, 10, isSigned, verb, LDIGITS)
        break
      case 'd':
        f.fmtInteger(u, 10, isSigned, verb, LDIGITS)
        break
      case 'b':
        f.fmtInteger(u, 2, isSigned, verb, LDIGITS)
        break
      case 'o':
      case 'O':
        f.fmtInteger(u, 8, isSigned, verb, LDIGITS)
        break
      case 'x':
        f.fmtInteger(u, 16, isSigned, verb, LDIGITS)
        break
      case 'X':
        f.fmtInteger(u, 16, isSigned, verb, UDIGITS)
        break
      case 'c':
        f.fmtC(u)
        break
      case 'q':
        f.fmtQc(u)
        break
      case 'U':
        f.fmtUnicode(u)
        break
      default:
        this.badVerb(verb)
    }
  }

  private fmtFloat(v: number, verb: string): void {
    switch (verb) {
      case 'v':
        this.f.fmtFloat(v, 'g', -1)
        break
      case 'b':
      case 'g':
      case 'G':
      case 'x':
      case 'X':
        this.f.fmtFloat(v, verb, -1)
        break
      case 'f':
      case 'e':
      case 'E':
        this.f.fmtFloat(v, verb, 6)
        break
      case 'F':
        this.f.fmtFloat(v, 'f', 6)
        break
      default:
        this.badVerb(verb)
    }
  }

  /**
   * print.go fmtComplex: `(re+imi)`, each part a float formatted with the verb, flags, width
   * and precision (the width applies to each part), the imaginary part always signed.
   */
  private fmtComplex(re: number, im: number, verb: string): void {
    if (!/^[vbgGxXfFeE]$/.test(verb)) {
      this.badVerb(verb)
      return
    }
    const oldPlus = this.f.plus
    this.f.out += '('
    this.fmtFloat(re, verb)
    this.f.plus = true
    this.fmtFloat(im, verb)
    this.f.out += 'i)'
    this.f.plus = oldPlus
  }

  private fmtString(v: string, verb: string): void {
    switch (verb) {
      case 'v':
        if (this.f.sharpV) this.f.fmtQ(v)
        else this.f.fmtS(v)
        break
      case 's':
        this.f.fmtS(v)
        break
      case 'x':
        this.f.fmtSx(v, LDIGITS)
        break
      case 'X':
        this.f.fmtSx(v, UDIGITS)
        break
      case 'q':
        this.f.fmtQ(v)
        break
      default:
        this.badVerb(verb)
    }
  }

  /**
   * fmtPointer. No template pointer has an address worth printing (Go prints 0xc000…, which
   * differs from run to run), so a non-nil one prints as a fixed address.
   */
  private fmtPointer(value: RV & { k: 'ptr' }, verb: string): void {
    const u = value.elem === null ? 0n : 0xc000010000n
    switch (verb) {
      case 'v':
        if (this.f.sharpV) this.f.out += `(${value.t})(${u === 0n ? 'nil' : `0x${u.toString(16)}`})`
        else if (u === 0n) this.f.pad('<nil>')
        else this.fmt0x64(u, !this.f.sharp)
        break
      case 'p':
        this.fmt0x64(u, !this.f.sharp)
        break
      case 'b':
      case 'o':
      case 'd':
      case 'x':
      case 'X':
        this.fmtInteger(u, false, verb)
        break
      default:
        this.badVerb(verb)
    }
  }

  private fmt0x64(u: bigint, leading0x: boolean): void {
    const sharp = this.f.sharp
    this.f.sharp = leading0x
    this.f.fmtInteger(u, 16, false, 'v', LDIGITS)
    this.f.sharp = sharp
  }

  /**
   * handleMethods: GoString for %#v, String for the verbs that accept a string. %w outside
   * Errorf is a bad verb (Go 1.19), before the operand's elements or methods are looked at.
   */
  private handleMethods(rv: RV, verb: string): boolean {
    if (this.erroring) return false
    if (verb === 'w') {
      this.badVerb(verb)
      return true
    }
    const methods = rv.k === 'ptr' || rv.k === 'struct' || rv.k === 'int' ? rv.methods : undefined
    if (!methods) return false
    if (this.f.sharpV) {
      if (!methods.GoString) return false
      this.f.fmtS(methods.GoString())
      return true
    }
    if ('vsxXq'.includes(verb) && methods.String) {
      this.fmtString(methods.String(), verb)
      return true
    }
    return false
  }

  printArg(arg: unknown, verb: string): void {
    this.printArgRV(reflectOf(arg), verb)
  }

  private printArgRV(rv: RV, verb: string): void {
    this.arg = rv
    this.value = { k: 'invalid' }
    if (rv.k === 'invalid') {
      if (verb === 'T' || verb === 'v') this.f.pad('<nil>')
      else this.badVerb(verb)
      return
    }
    // %T and %p come first, whatever the operand.
    if (verb === 'T') {
      this.f.fmtS(rv.t)
      return
    }
    if (verb === 'p') {
      if (rv.k === 'ptr') this.fmtPointer(rv, 'p')
      else if (rv.k === 'map' || rv.k === 'slice') this.fmt0x64(0xc000010000n, !this.f.sharp)
      else this.badVerb('p')
      return
    }
    // A named type (time.Month) is not one of printArg's basic types: its methods come first.
    if (rv.k === 'int' && rv.methods) {
      if (!this.handleMethods(rv, verb)) this.printValue(rv, verb, 0)
      return
    }
    if (!this.printBasic(rv, verb) && !this.handleMethods(rv, verb)) this.printValue(rv, verb, 0)
  }

  /** The kinds printArg and printValue both format directly; false for any other. */
  private printBasic(rv: RV, verb: string): boolean {
    switch (rv.k) {
      case 'bool':
        this.fmtBool(rv.v, verb)
        return true
      case 'float':
        this.fmtFloat(rv.v, verb)
        return true
      case 'complex':
        this.fmtComplex(rv.re, rv.im, verb)
        return true
      case 'int':
      case 'uint':
        this.fmtInteger(rv.v, rv.k === 'int', verb)
        return true
      case 'string':
        this.fmtString(rv.v, verb)
        return true
      default:
        return false
    }
  }

  /** printValue: maps, structs, slices and pointers, with the verb applied to each element. */
  private printValue(value: RV, verb: string, depth: number): void {
    if (depth > 0 && value.k !== 'invalid' && value.exp) {
      this.arg = value
      if (this.handleMethods(value, verb)) return
    }
    this.arg = null
    this.value = value
    const f = this.f
    if (this.printBasic(value, verb)) return
    switch (value.k) {
      case 'invalid':
        if (depth === 0) f.out += '<invalid reflect.Value>'
        else if (verb === 'v') f.out += '<nil>'
        else this.badVerb(verb)
        return
      case 'map':
        f.out += f.sharpV ? `${value.t}{` : 'map['
        value.entries.forEach(([k, v], i) => {
          if (i > 0) f.out += f.sharpV ? ', ' : ' '
          this.printValue(k, verb, depth + 1)
          f.out += ':'
          this.printValue(v, verb, depth + 1)
        })
        f.out += f.sharpV ? '}' : ']'
        return
      case 'struct':
        if (f.sharpV) f.out += value.t
        f.out += '{'
        value.fields.forEach((field, i) => {
          if (i > 0) f.out += f.sharpV ? ', ' : ' '
          if (f.plusV || f.sharpV) f.out += `${field.name}:`
          this.printValue(field.v, verb, depth + 1)
        })
        f.out += '}'
        return
      case 'iface':
        // Only a nil interface stays an interface: reflectOf unwraps the others.
        f.out += f.sharpV ? `${value.t}(nil)` : '<nil>'
        return
      case 'slice':
        // fmt's printValue: `%#v` of a nil slice is its type and (nil).
        if (f.sharpV && value.nil) {
          f.out += `${value.t}(nil)`
        } else if (f.sharpV) {
          f.out += `${value.t}{`
          value.elems.forEach((e, i) => {
            if (i > 0) f.out += ', '
            this.printValue(e, verb, depth + 1)
          })
          f.out += '}'
        } else {
          f.out += '['
          value.elems.forEach((e, i) => {
            if (i > 0) f.out += ' '
            this.printValue(e, verb, depth + 1)
          })
          f.out += ']'
        }
        return
      case 'ptr':
        // A pointer to a struct, map or slice prints as &{…} at the top level only (no loops).
        if (depth === 0 && value.elem !== null && ['struct', 'map', 'slice'].includes(value.elem.k)) {
          f.out += '&'
          this.printValue(value.elem, verb, depth + 1)
          return
        }
        this.fmtPointer(value, verb)
    }
  }

  /** doPrintf. */
  doPrintf(format: string, a: readonly unknown[]): void {
    const f = this.f
    const end = format.length
    let argNum = 0
    let afterIndex = false
    this.reordered = false
    let i = 0
    formatLoop: while (i < end) {
      this.goodArgNum = true
      const lasti = i
      while (i < end && format[i] !== '%') i++
      if (i > lasti) f.out += format.slice(lasti, i)
      if (i >= end) break
      i++ // the %
      f.clearflags()
      simpleFormat: for (; i < end; i++) {
        const c = format[i] as string
        switch (c) {
          case '#':
            f.sharp = true
            break
          case '0':
            f.zero = !f.minus // Only allow zero padding to the left.
            break
          case '+':
            f.plus = true
            break
          case '-':
            f.minus = true
            f.zero = false // Do not pad with zeros to the right.
            break
          case ' ':
            f.space = true
            break
          default:
            // Fast path: flags then a lower-case verb, an operand left.
            if (c >= 'a' && c <= 'z' && argNum < a.length) {
              if (c === 'v') {
                f.sharpV = f.sharp
                f.sharp = false
                f.plusV = f.plus
                f.plus = false
              }
              this.printArg(a[argNum], c)
              argNum++
              i++
              continue formatLoop
            }
            break simpleFormat
        }
      }
      ;[argNum, i, afterIndex] = this.argNumber(argNum, format, i, a.length)
      if (i < end && format[i] === '*') {
        i++
        ;[f.wid, f.widPresent, argNum] = intFromArg(a, argNum)
        if (!f.widPresent) f.out += '%!(BADWIDTH)'
        // A negative width means the minus flag.
        if (f.wid < 0) {
          f.wid = -f.wid
          f.minus = true
          f.zero = false
        }
        afterIndex = false
      } else {
        ;[f.wid, f.widPresent, i] = parsenum(format, i, end)
        if (afterIndex && f.widPresent) this.goodArgNum = false // "%[3]2d"
      }
      if (i + 1 < end && format[i] === '.') {
        i++
        if (afterIndex)
          this.goodArgNum = false // "%[3].2d"
        ;[argNum, i, afterIndex] = this.argNumber(argNum, format, i, a.length)
        if (i < end && format[i] === '*') {
          i++
          ;[f.prec, f.precPresent, argNum] = intFromArg(a, argNum)
          // A negative precision makes no sense.
          if (f.prec < 0) {
            f.prec = 0
            f.precPresent = false
          }
          if (!f.precPresent) f.out += '%!(BADPREC)'
          afterIndex = false
        } else {
          ;[f.prec, f.precPresent, i] = parsenum(format, i, end)
          if (!f.precPresent) {
            f.prec = 0
            f.precPresent = true
          }
        }
      }
      if (!afterIndex) [argNum, i, afterIndex] = this.argNumber(argNum, format, i, a.length)
      if (i >= end) {
        f.out += '%!(NOVERB)'
        break
      }
      const cp = format.codePointAt(i) as number
      // A byte that is not UTF-8 (kept as U+DC80–U+DCFF) decodes to U+FFFD, one byte long.
      const verb = cp >= 0xd800 && cp <= 0xdfff ? '\ufffd' : String.fromCodePoint(cp)
      i += cp > 0xffff ? 2 : 1
      if (verb === '%') {
        // Percent takes no operand and ignores width and precision.
        f.out += '%'
      } else if (!this.goodArgNum) f.out += `%!${verb}(BADINDEX)`
      else if (argNum >= a.length) f.out += `%!${verb}(MISSING)`
      else {
        if (verb === 'v') {
          f.sharpV = f.sharp
          f.sharp = false
          f.plusV = f.plus
          f.plus = false
        }
        this.printArg(a[argNum], verb)
        argNum++
      }
    }
    // Extra operands are reported unless the format reordered them.
    if (!this.reordered && argNum < a.length) {
      f.clearflags()
      f.out += '%!(EXTRA '
      a.slice(argNum).forEach((arg, j) => {
        if (j > 0) f.out += ', '
        const rv = reflectOf(arg)
        if (rv.k === 'invalid') f.out += '<nil>'
        else {
          f.out += `${rv.t}=`
          this.printArgRV(rv, 'v')
        }
      })
      f.out += ')'
    }
  }

  /** argNumber: an explicit `[n]` operand index at format[i], one-based. */
  private argNumber(argNum: number, format: string, i: number, numArgs: number): [number, number, boolean] {
    if (format.length <= i || format[i] !== '[') return [argNum, i, false]
    this.reordered = true
    const [index, wid, ok] = parseArgNumber(format.slice(i))
    if (ok && index >= 0 && index < numArgs) return [index, i + wid, true]
    this.goodArgNum = false
    return [argNum, i + wid, ok]
  }

  /** doPrint: spaces between operands when neither side is a string. */
  doPrint(a: readonly unknown[]): void {
    let prevString = false
    a.forEach((arg, argNum) => {
      // By kind: a named string type (template.HTML) counts as a string.
      const isString = reflectOf(arg).k === 'string'
      if (argNum > 0 && !isString && !prevString) this.f.out += ' '
      this.printArg(arg, 'v')
      prevString = isString
    })
  }

  /** doPrintln: always a space between operands, and a newline. */
  doPrintln(a: readonly unknown[]): void {
    a.forEach((arg, argNum) => {
      if (argNum > 0) this.f.out += ' '
      this.printArg(arg, 'v')
    })
    this.f.out += '\n'
  }
}

/** parsenum: a decimal number at s[start:end]; an absurdly long one consumes the rest of the format. */
function parsenum(s: string, start: number, end: number): [number, boolean, number] {
  if (start >= end) return [0, false, end]
  let num = 0
  let isnum = false
  let i = start
  for (; i < end && s[i]! >= '0' && s[i]! <= '9'; i++) {
    if (tooLarge(num)) return [0, false, end]
    num = num * 10 + Number(s[i])
    isnum = true
  }
  return [num, isnum, i]
}

function tooLarge(x: number): boolean {
  return x > 1e6 || x < -1e6
}

/** parseArgNumber: `[n]` at format[0] as a zero-based index, the bytes it takes, and whether it parsed. */
function parseArgNumber(format: string): [number, number, boolean] {
  if (format.length < 3) return [0, 1, false]
  for (let i = 1; i < format.length; i++) {
    if (format[i] === ']') {
      const [width, ok, newi] = parsenum(format, 1, i)
      if (!ok || newi !== i) return [0, i + 1, false]
      return [width - 1, i + 1, true]
    }
  }
  return [0, 1, false]
}

/** intFromArg: a `*` width or precision must be an int operand (within ±1e6). */
function intFromArg(a: readonly unknown[], argNum: number): [number, boolean, number] {
  let num = 0
  let isInt = false
  let newArgNum = argNum
  if (argNum < a.length) {
    const arg = a[argNum]
    if (arg instanceof GoInt) {
      num = arg.value
      isInt = true
    }
    newArgNum = argNum + 1
    if (tooLarge(num)) {
      num = 0
      isInt = false
    }
  }
  return [num, isInt, newArgNum]
}

/** Go's `fmt.Sprintf` (fmt/print.go doPrintf and fmt/format.go), for template values. */
export function sprintf(format: string, args: readonly unknown[]): string {
  const p = new Printer()
  p.doPrintf(format, args)
  return p.out
}

/** Go's `fmt.Sprint` (print.go doPrint): text/template's `print`. */
export function sprint(args: readonly unknown[]): string {
  const p = new Printer()
  p.doPrint(args)
  return p.out
}

/** Go's `fmt.Sprintln` (print.go doPrintln): text/template's `println`. */
export function sprintln(args: readonly unknown[]): string {
  const p = new Printer()
  p.doPrintln(args)
  return p.out
}

/** Go's `%v` of a template value (print.go printArg with verb 'v'). */
export function formatValue(value: unknown): string {
  const p = new Printer()
  p.printArg(value, 'v')
  return p.out
}
