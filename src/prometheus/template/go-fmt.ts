/**
 * Go's number formatting (`strconv.FormatFloat`, `fmt` verbs) reimplemented so that
 * alert templates print exactly what Prometheus prints: the shortest representation for
 * `{{ $value }}` (1.234567e+06, not 1234567), correctly rounded fixed precision with ties to
 * even on the exact binary value (Go's `%.4g` of 12345 is 1.234e+04), and Go's `%!verb(...)`
 * markers for mismatched printf arguments.
 */

/** A Go `int` inside the template runtime (numbers are otherwise float64). */
export class GoInt {
  constructor(readonly value: number) {}
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

export type FloatFormat = 'e' | 'E' | 'f' | 'g' | 'G'

/** `strconv.FormatFloat(x, fmt, prec, 64)`; prec -1 means the shortest representation. */
export function formatFloat(x: number, fmt: FloatFormat, prec: number): string {
  if (Number.isNaN(x)) return 'NaN'
  if (x === Number.POSITIVE_INFINITY) return '+Inf'
  if (x === Number.NEGATIVE_INFINITY) return '-Inf'
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

/** Go's `%T` name of a template value. */
export function goTypeName(value: unknown): string {
  if (value instanceof GoInt) return 'int'
  if (typeof value === 'number') return 'float64'
  if (typeof value === 'string') return 'string'
  if (typeof value === 'boolean') return 'bool'
  if (Array.isArray(value)) return '[]interface {}'
  if (value === null || value === undefined) return '<nil>'
  return 'map[string]string'
}

/** Go's `%v` of a template value. */
export function formatValue(value: unknown): string {
  if (value instanceof GoInt) return String(value.value)
  if (typeof value === 'number') return formatFloatV(value)
  if (typeof value === 'string') return value
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (value === null || value === undefined) return '<nil>'
  if (Array.isArray(value)) return `[${value.map(formatValue).join(' ')}]`
  const entries = Object.keys(value as object)
    .sort()
    .map((k) => `${k}:${formatValue((value as Record<string, unknown>)[k])}`)
  return `map[${entries.join(' ')}]`
}

interface Spec {
  minus: boolean
  plus: boolean
  space: boolean
  zero: boolean
  sharp: boolean
  width: number | undefined
  prec: number | undefined
}

function pad(s: string, spec: Spec, allowZero: boolean): string {
  if (spec.width === undefined || s.length >= spec.width) return s
  const fill = spec.width - s.length
  if (spec.minus) return s + ' '.repeat(fill)
  if (spec.zero && allowZero) {
    const sign = /^[+\- ]/.test(s) ? (s[0] as string) : ''
    return sign + '0'.repeat(fill) + s.slice(sign.length)
  }
  return ' '.repeat(fill) + s
}

function signed(s: string, spec: Spec): string {
  if (s.startsWith('-') || s.startsWith('+')) return s
  if (spec.plus) return `+${s}`
  if (spec.space) return ` ${s}`
  return s
}

function badVerb(verb: string, arg: unknown): string {
  return `%!${verb}(${goTypeName(arg)}=${formatValue(arg)})`
}

function formatFloatVerb(x: number, verb: string, spec: Spec): string {
  let s: string
  switch (verb) {
    case 'v':
      s = formatFloat(x, 'g', spec.prec ?? -1)
      break
    case 'e':
    case 'E':
      s = formatFloat(x, verb, spec.prec ?? 6)
      break
    case 'f':
    case 'F':
      s = formatFloat(x, 'f', spec.prec ?? 6)
      break
    case 'g':
    case 'G':
      s = formatFloat(x, verb, spec.prec ?? -1)
      break
    default:
      return badVerb(verb, x)
  }
  // Go keeps the sign of +Inf, drops it for NaN unless asked, and never zero-pads either.
  if (s === '+Inf' && !spec.plus && !spec.space) return pad(s, spec, false)
  if (s === 'NaN') return pad(spec.plus ? '+NaN' : spec.space ? ' NaN' : 'NaN', spec, false)
  if (s === '-Inf') return pad(s, spec, false)
  return pad(signed(s, spec), spec, true)
}

function formatIntVerb(n: number, verb: string, spec: Spec): string {
  let s: string
  const neg = n < 0
  const abs = Math.abs(n)
  switch (verb) {
    case 'v':
    case 'd':
      s = String(abs)
      break
    case 'b':
      s = abs.toString(2)
      break
    case 'o':
      s = abs.toString(8)
      break
    case 'x':
      s = abs.toString(16)
      break
    case 'X':
      s = abs.toString(16).toUpperCase()
      break
    case 'c':
      return pad(String.fromCodePoint(n), spec, false)
    default:
      return badVerb(verb, new GoInt(n))
  }
  if (spec.prec !== undefined) s = s.padStart(spec.prec, '0')
  s = (neg ? '-' : '') + s
  return pad(signed(s, spec), spec, spec.prec === undefined)
}

/** Go's `fmt.Sprintf` for the verbs templates use with floats, ints, strings and bools. */
export function sprintf(format: string, args: readonly unknown[]): string {
  let out = ''
  let argIndex = 0
  let i = 0
  while (i < format.length) {
    const ch = format[i] as string
    if (ch !== '%') {
      out += ch
      i++
      continue
    }
    i++
    const spec: Spec = {
      minus: false,
      plus: false,
      space: false,
      zero: false,
      sharp: false,
      width: undefined,
      prec: undefined,
    }
    for (; i < format.length; i++) {
      const f = format[i]
      if (f === '-') spec.minus = true
      else if (f === '+') spec.plus = true
      else if (f === ' ') spec.space = true
      else if (f === '0') spec.zero = !spec.minus
      else if (f === '#') spec.sharp = true
      else break
    }
    let digits = /^\d+/.exec(format.slice(i))
    if (digits) {
      spec.width = Number(digits[0])
      i += digits[0].length
    }
    if (format[i] === '.') {
      i++
      digits = /^\d+/.exec(format.slice(i))
      spec.prec = digits ? Number(digits[0]) : 0
      if (digits) i += digits[0].length
    }
    const verb = format[i]
    i++
    if (verb === undefined) {
      out += '%!(NOVERB)'
      break
    }
    if (verb === '%') {
      out += '%'
      continue
    }
    if (argIndex >= args.length) {
      out += `%!${verb}(MISSING)`
      continue
    }
    const arg = args[argIndex++]
    out += formatArg(arg, verb, spec)
  }
  if (argIndex < args.length) {
    const extra = args.slice(argIndex).map((a) => `${goTypeName(a)}=${formatValue(a)}`)
    out += `%!(EXTRA ${extra.join(', ')})`
  }
  return out
}

function formatArg(arg: unknown, verb: string, spec: Spec): string {
  if (arg instanceof GoInt) return formatIntVerb(arg.value, verb, spec)
  if (typeof arg === 'number') return formatFloatVerb(arg, verb, spec)
  if (typeof arg === 'string') {
    switch (verb) {
      case 'v':
      case 's':
        return pad(spec.prec !== undefined ? [...arg].slice(0, spec.prec).join('') : arg, spec, false)
      case 'q':
        return pad(JSON.stringify(arg), spec, false)
      case 'x':
      case 'X': {
        const hex = [...new TextEncoder().encode(arg)].map((b) => b.toString(16).padStart(2, '0')).join('')
        return pad(verb === 'X' ? hex.toUpperCase() : hex, spec, false)
      }
      default:
        return badVerb(verb, arg)
    }
  }
  if (typeof arg === 'boolean') {
    if (verb === 'v' || verb === 't') return pad(arg ? 'true' : 'false', spec, false)
    return badVerb(verb, arg)
  }
  if (verb === 'v' || verb === 's') return pad(formatValue(arg), spec, false)
  return badVerb(verb, arg)
}
