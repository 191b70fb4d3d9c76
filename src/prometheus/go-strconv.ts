/**
 * Go's strconv number parsing where Prometheus relies on it: one port for the template
 * functions and the PromQL engine.
 */

import { goQuote } from './promql/strings.ts'

export class GoNumError extends Error {}

/**
 * strconv.ParseFloat(s, 64) (atof.go): decimal and hexadecimal (`0x1p-2`, the `p` exponent
 * required) floats, "inf"/"infinity" with an optional sign and "nan" without one, in any case,
 * underscores between digits (`2_5`); no spaces. A hexadecimal mantissa is rounded to float64
 * half to even. A finite literal beyond float64 is a range error (`value out of range`);
 * underflow is 0. Used by templates (`humanize` of a string) and by PromQL (`le` labels).
 * @throws GoNumError with strconv's message
 */
export function goParseFloat(s: string): number {
  const invalid = () => new GoNumError(`strconv.ParseFloat: parsing ${goQuote(s)}: invalid syntax`)
  const lower = s.toLowerCase()
  if (/^[+-]?(?:inf|infinity)$/.test(lower)) return lower.startsWith('-') ? -Infinity : Infinity
  if (lower === 'nan') return Number.NaN
  if (s.includes('_') && !underscoreOK(s)) throw invalid()
  const plain = s.replaceAll('_', '')
  let value: number
  if (/^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(plain)) value = Number(plain)
  else {
    const hex = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?[0-9]+)$/.exec(plain)
    if (!hex) throw invalid()
    const [, sign, whole = '', frac = '', exp = '0'] = hex
    const digits = `${whole}${frac}`
    if (digits === '') throw invalid()
    value = hexFloat(BigInt(`0x${digits}`), Number(exp) - 4 * frac.length)
    if (sign === '-') value = -value
  }
  if (!Number.isFinite(value)) {
    throw new GoNumError(`strconv.ParseFloat: parsing ${goQuote(s)}: value out of range`)
  }
  return value
}

/**
 * strconv's underscoreOK: an underscore only between digits, or between a base prefix and a
 * digit ("1_000" and "0x_1p0" are numbers, "1__0" and "_1" are not).
 */
export function underscoreOK(text: string): boolean {
  let s = text.replace(/^[+-]/, '')
  let saw = '^'
  let hex = false
  if (/^0[bBoOxX]/.test(s)) {
    saw = '0'
    hex = /^0[xX]/.test(s)
    s = s.slice(2)
  }
  for (const c of s) {
    if ((c >= '0' && c <= '9') || (hex && /[a-fA-F]/.test(c))) saw = '0'
    else if (c === '_') {
      if (saw !== '0') return false
      saw = '_'
    } else {
      if (saw === '_') return false
      saw = '!'
    }
  }
  return saw !== '_'
}

/** mantissa × 2^exponent rounded to the nearest float64, ties to even (Infinity past the range). */
function hexFloat(mantissa: bigint, exponent: number): number {
  if (mantissa === 0n) return 0
  let m = mantissa
  let e = exponent
  // Keep 53 significant bits, rounding the rest off half to even.
  const excess = m.toString(2).length - 53
  if (excess > 0) {
    const dropped = m & ((1n << BigInt(excess)) - 1n)
    const half = 1n << BigInt(excess - 1)
    m >>= BigInt(excess)
    if (dropped > half || (dropped === half && (m & 1n) === 1n)) m += 1n
    e += excess
  }
  // Exact from here: a 53-bit integer times a power of two (two steps keep each factor finite).
  const half = Math.trunc(e / 2)
  return Number(m) * 2 ** half * 2 ** (e - half)
}
