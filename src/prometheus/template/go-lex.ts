/**
 * The scanner of Go's text/template (text/template/parse/lex.go, Go 1.19 as in promtool
 * 2.42): text, `{{`/`}}` with trim markers, comments, and the items inside an action, with
 * Go's error texts. It scans the whole template the way Go's lexer does, so a `}}` inside a
 * string literal or a comment does not end the action, and it keeps whether space preceded an
 * item, which the parser needs: `$x.a` is a field chain, `print .a` two arguments.
 */

import { GoNumError, goParseFloat, underscoreOK } from '../go-strconv.ts'
import { goQuote } from '../promql/strings.ts'
import { goStringFromBytes, goStringToBytes } from '../rules/go-bytes.ts'

export type LexKind =
  | 'ident'
  | 'keyword'
  | 'var'
  | 'field'
  | 'dot'
  | 'string'
  | 'rawString'
  | 'char'
  | 'number'
  | 'complex'
  | 'bool'
  | 'nil'
  | '('
  | ')'
  | '|'
  | ':='
  | '='
  | 'itemChar'
  | 'error'

/** One item inside an action: `pos` is its offset in the text, `spaced` whether space preceded it. */
export interface LexItem {
  kind: LexKind
  raw: string
  pos: number
  spaced: boolean
}

/** A piece of the template: text (already trimmed), an action's items, or a scanner error. */
export type Segment =
  | { kind: 'text'; text: string }
  | {
      kind: 'action'
      /** Offset of the `{{` and of the `}}` (or of the error that ended the scan). */
      open: number
      close: number
      items: LexItem[]
    }
  | { kind: 'error'; message: string; pos: number }

const KEYWORDS = new Set([
  'block',
  'break',
  'continue',
  'define',
  'else',
  'end',
  'if',
  'range',
  'template',
  'with',
])

/** lex.go isSpace: the four ASCII spaces Go allows inside actions. */
function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n'
}

/** lex.go isAlphaNumeric: `_`, a Unicode letter or a Unicode decimal digit. */
function isAlphaNumeric(c: string | undefined): boolean {
  return c !== undefined && (c === '_' || /^[\p{L}\p{Nd}]$/u.test(c))
}

/** fmt's `%#U` of a rune: `U+0021 '!'`, the character omitted when it is not printable. */
export function formatRuneU(c: string): string {
  const cp = c.codePointAt(0) as number
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`
  return /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(c) || c === ' ' ? `${hex} '${c}'` : hex
}

function hasLeftTrimMarker(s: string, i: number): boolean {
  return s[i] === '-' && isSpace(s[i + 1])
}

function hasRightTrimMarker(s: string, i: number): boolean {
  return isSpace(s[i]) && s[i + 1] === '-'
}

/** A rune of `s` at `i` (a surrogate pair counts as one, as a UTF-8 sequence does in Go). */
function runeAt(s: string, i: number): string | undefined {
  const cp = s.codePointAt(i)
  return cp === undefined ? undefined : String.fromCodePoint(cp)
}

/**
 * Scans `text` into segments as lex.go does: each action's items until its `}}`, and the
 * scan stops at the first error (an error item inside an action, or a comment error).
 */
export function lexTemplate(text: string): Segment[] {
  const out: Segment[] = []
  let pos = 0
  for (;;) {
    const x = text.indexOf('{{', pos)
    if (x < 0) {
      if (pos < text.length) out.push({ kind: 'text', text: text.slice(pos) })
      return out
    }
    const trimLeft = hasLeftTrimMarker(text, x + 2)
    let textEnd = x
    if (trimLeft) while (textEnd > pos && isSpace(text[textEnd - 1])) textEnd--
    if (textEnd > pos) out.push({ kind: 'text', text: text.slice(pos, textEnd) })
    const p = x + 2 + (trimLeft ? 2 : 0)
    if (text.startsWith('/*', p)) {
      const end = text.indexOf('*/', p + 2)
      if (end < 0) {
        out.push({ kind: 'error', message: 'unclosed comment', pos: p })
        return out
      }
      let q = end + 2
      const trimRight = hasRightTrimMarker(text, q) && text.startsWith('}}', q + 2)
      if (!trimRight && !text.startsWith('}}', q)) {
        out.push({ kind: 'error', message: 'comment ends before closing delimiter', pos: p })
        return out
      }
      q += trimRight ? 4 : 2
      if (trimRight) while (isSpace(text[q])) q++
      pos = q
      continue
    }
    const action = lexAction(text, p)
    out.push({ kind: 'action', open: x, close: action.close, items: action.items })
    if (action.items.at(-1)?.kind === 'error') return out
    pos = action.next
  }
}

/** lex.go lexInsideAction and the states it leads to, from `start` to the closing `}}`. */
function lexAction(text: string, start: number): { items: LexItem[]; close: number; next: number } {
  const items: LexItem[] = []
  let i = start
  let spaced = false
  let parenDepth = 0
  const push = (kind: LexKind, from: number, to: number) => {
    items.push({ kind, raw: text.slice(from, to), pos: from, spaced })
    spaced = false
    i = to
  }
  const fail = (message: string, at: number) => {
    items.push({ kind: 'error', raw: message, pos: at, spaced })
    return { items, close: at, next: text.length }
  }
  /**
   * lex.go atTerminator (Go 1.19): what may follow an identifier, field or variable. The right
   * delimiter counts whole: `{{ $value}` is a "bad character" there, not an unexpected "}".
   */
  const atTerminator = (j: number) => {
    const c = text[j]
    return c === undefined || isSpace(c) || '.,|:)('.includes(c) || text.startsWith('}}', j)
  }
  const alnumRun = (j: number) => {
    for (;;) {
      const r = runeAt(text, j)
      if (!isAlphaNumeric(r)) return j
      j += (r as string).length
    }
  }
  for (;;) {
    const trimRight = hasRightTrimMarker(text, i) && text.startsWith('}}', i + 2)
    if (trimRight || text.startsWith('}}', i)) {
      if (parenDepth > 0) return fail('unclosed left paren', i)
      const close = trimRight ? i + 2 : i
      let next = close + 2
      if (trimRight) while (isSpace(text[next])) next++
      return { items, close, next }
    }
    const r = runeAt(text, i)
    if (r === undefined) return fail('unclosed action', i)
    if (isSpace(r)) {
      // A run of spaces; its last one may start a trim-marked ` -}}`.
      let j = i
      while (isSpace(text[j])) j++
      if (j > i + 1 && hasRightTrimMarker(text, j - 1) && text.startsWith('}}', j + 1)) j--
      i = j
      spaced = true
      continue
    }
    const from = i
    if (r === '=') push('=', from, i + 1)
    else if (r === ':') {
      if (text[i + 1] !== '=') return fail('expected :=', from)
      push(':=', from, i + 2)
    } else if (r === '|') push('|', from, i + 1)
    else if (r === '"' || r === "'") {
      let j = i + 1
      for (;;) {
        const c = text[j]
        if (c === '\\') {
          const d = text[j + 1]
          if (d === undefined || d === '\n') return fail(unterminated(r), from)
          j += 2
          continue
        }
        if (c === undefined || c === '\n') return fail(unterminated(r), from)
        j++
        if (c === r) break
      }
      push(r === '"' ? 'string' : 'char', from, j)
    } else if (r === '`') {
      const end = text.indexOf('`', i + 1)
      if (end < 0) return fail('unterminated raw quoted string', from)
      push('rawString', from, end + 1)
    } else if (r === '$') {
      if (atTerminator(i + 1)) push('var', from, i + 1)
      else {
        const j = alnumRun(i + 1)
        if (!atTerminator(j)) return fail(`bad character ${formatRuneU(runeAt(text, j) as string)}`, from)
        push('var', from, j)
      }
    } else if (r === '.' && text[i + 1] !== undefined && !/[0-9]/.test(text[i + 1] as string)) {
      if (atTerminator(i + 1)) push('dot', from, i + 1)
      else {
        const j = alnumRun(i + 1)
        if (!atTerminator(j)) return fail(`bad character ${formatRuneU(runeAt(text, j) as string)}`, from)
        push('field', from, j)
      }
    } else if (r === '.' || r === '+' || r === '-' || /[0-9]/.test(r)) {
      const j = scanNumber(text, i)
      if (j < 0) return fail(`bad number syntax: ${goQuote(text.slice(from, -j))}`, from)
      if (text[j] === '+' || text[j] === '-') {
        // A complex constant, 1+2i: no spaces, and it must end in `i`.
        const k = scanNumber(text, j)
        if (k < 0 || text[k - 1] !== 'i')
          return fail(`bad number syntax: ${goQuote(text.slice(from, Math.abs(k)))}`, from)
        push('complex', from, k)
      } else push('number', from, j)
    } else if (isAlphaNumeric(r)) {
      const j = alnumRun(i)
      if (!atTerminator(j)) return fail(`bad character ${formatRuneU(runeAt(text, j) as string)}`, from)
      const word = text.slice(i, j)
      push(
        KEYWORDS.has(word)
          ? 'keyword'
          : word === 'true' || word === 'false'
            ? 'bool'
            : word === 'nil'
              ? 'nil'
              : 'ident',
        from,
        j,
      )
    } else if (r === '(') {
      push('(', from, i + 1)
      parenDepth++
    } else if (r === ')') {
      push(')', from, i + 1)
      parenDepth--
      if (parenDepth < 0) return fail(`unexpected right paren ${formatRuneU(')')}`, from)
    } else {
      const cp = r.codePointAt(0) as number
      if (cp <= 0x7f && cp >= 0x20 && cp !== 0x7f) push('itemChar', from, i + 1)
      else return fail(`unrecognized character in action: ${formatRuneU(r)}`, from)
    }
  }
}

function unterminated(quote: string): string {
  return quote === '"' ? 'unterminated quoted string' : 'unterminated character constant'
}

/**
 * lex.go scanNumber: sign, base prefix, digits with `_`, fraction, exponent, `i`. Returns the
 * end offset, or minus the offset after the offending character when a letter or digit
 * follows (Go then reports "bad number syntax" over the text scanned so far).
 */
function scanNumber(text: string, i: number): number {
  const accept = (valid: string) => {
    const c = text[i]
    if (c !== undefined && valid.includes(c)) {
      i++
      return true
    }
    return false
  }
  const acceptRun = (valid: string) => {
    while (accept(valid)) {}
  }
  accept('+-')
  let digits = '0123456789_'
  if (accept('0')) {
    if (accept('xX')) digits = '0123456789abcdefABCDEF_'
    else if (accept('oO')) digits = '01234567_'
    else if (accept('bB')) digits = '01_'
  }
  acceptRun(digits)
  if (accept('.')) acceptRun(digits)
  if (digits.length === 11 && accept('eE')) {
    accept('+-')
    acceptRun('0123456789_')
  }
  if (digits.length === 23 && accept('pP')) {
    accept('+-')
    acceptRun('0123456789_')
  }
  accept('i')
  const r = runeAt(text, i)
  if (isAlphaNumeric(r)) return -(i + (r as string).length)
  return i
}

/** Thrown for strconv's "invalid syntax" when a literal does not unquote. */
export class UnquoteError extends Error {}

/**
 * One escape of strconv.UnquoteChar starting at `s[i]` (a backslash, or any other character)
 * inside a literal quoted with `quote`; returns the character and the offset after it, and
 * for `\xNN` and octal escapes `true`: in a string those are one byte each, not a character
 * (UnquoteChar's `multibyte` false), where in a character constant they are the code point.
 */
function unquoteChar(s: string, i: number, quote: string): [string, number, boolean?] {
  const c = runeAt(s, i) as string
  if (c === quote && (quote === "'" || quote === '"')) throw new UnquoteError('invalid syntax')
  if (c !== '\\') return [c, i + c.length]
  const e = s[i + 1]
  const simple: Record<string, string> = {
    a: '\x07',
    b: '\b',
    f: '\f',
    n: '\n',
    r: '\r',
    t: '\t',
    v: '\v',
    '\\': '\\',
  }
  if (e !== undefined && e in simple) return [simple[e] as string, i + 2]
  if (e === "'" || e === '"') {
    if (e !== quote) throw new UnquoteError('invalid syntax')
    return [e, i + 2]
  }
  const hexLen = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0
  if (hexLen > 0) {
    const h = s.slice(i + 2, i + 2 + hexLen)
    if (!new RegExp(`^[0-9a-fA-F]{${hexLen}}$`).test(h)) throw new UnquoteError('invalid syntax')
    const v = Number.parseInt(h, 16)
    if (e !== 'x' && (v > 0x10ffff || (v >= 0xd800 && v < 0xe000))) throw new UnquoteError('invalid syntax')
    return [String.fromCodePoint(v), i + 2 + hexLen, e === 'x']
  }
  if (e !== undefined && /[0-7]/.test(e)) {
    const o = s.slice(i + 1, i + 4)
    if (!/^[0-7]{3}$/.test(o) || Number.parseInt(o, 8) > 255) throw new UnquoteError('invalid syntax')
    return [String.fromCodePoint(Number.parseInt(o, 8)), i + 4, true]
  }
  throw new UnquoteError('invalid syntax')
}

/**
 * strconv.Unquote of a string literal ("…" or `…`); raw strings lose their carriage returns.
 * A Go string is bytes: `"\xc3\xa9"` is `é` and `"\xff"` the byte 0xFF alone (go-bytes.ts
 * keeps a byte that is not UTF-8 as U+DC00 + byte, which `%q` prints as `\xff`).
 */
export function goUnquote(literal: string): string {
  if (literal.startsWith('`')) return literal.slice(1, -1).replaceAll('\r', '')
  const body = literal.slice(1, -1)
  let out = ''
  let bytes: number[] = []
  let i = 0
  while (i < body.length) {
    const [c, next, byte] = unquoteChar(body, i, '"')
    if (byte) bytes.push(c.codePointAt(0) as number)
    else if (bytes.length > 0) {
      out += goStringFromBytes(Uint8Array.from([...bytes, ...goStringToBytes(c)]))
      bytes = []
    } else out += c
    i = next
  }
  return bytes.length > 0 ? out + goStringFromBytes(Uint8Array.from(bytes)) : out
}

/** A number literal as text/template's parser reads it (parse/node.go newNumber). */
export interface GoNumber {
  isInt: boolean
  isUint: boolean
  isFloat: boolean
  int: number
  /** The integer digit for digit (`int` loses precision beyond 2^53). */
  big: bigint
  float: number
  /** A character constant: `'a'`. */
  isChar: boolean
  /** An imaginary or complex constant (`1i`, `1+2i`), which exec.go evaluates as complex128. */
  complex?: { re: number; im: number }
}

/** A GoNumber of no kind yet, which node.go's `newNumber` fills in kind by kind. */
function noNumber(): GoNumber {
  return { isInt: false, isUint: false, isFloat: false, int: 0, big: 0n, float: 0, isChar: false }
}

/**
 * node.go simplifyComplex: a complex constant with no imaginary part is also a float, and an
 * int where float64(int64(f)) == f (which is what lets `0i` be a method's int argument).
 */
function complexNumber(re: number, im: number): GoNumber {
  const n = noNumber()
  n.complex = { re, im }
  if (im !== 0) return n
  n.isFloat = true
  n.float = re
  if (Number.isInteger(re) && re >= -(2 ** 63) && re < 2 ** 63) {
    n.isInt = true
    n.int = re
    n.big = BigInt(re)
  }
  n.isUint = Number.isInteger(re) && re >= 0 && re < 2 ** 64
  return n
}

/** strconv.ParseFloat, undefined where it fails (newNumber then tries the other readings). */
function parseFloatOrUndefined(text: string): number | undefined {
  try {
    return goParseFloat(text)
  } catch (err) {
    if (err instanceof GoNumError) return undefined
    throw err
  }
}

/**
 * parse/node.go newNumber of a complex item (`1+2i`, what lex.go scans as one): fmt.Sscan into
 * a complex128 (fmt/scan.go complexTokens, floatToken and convertFloat), so its errors are
 * Sscan's: "syntax error scanning complex number" or strconv's, naming the whole part that
 * failed (a lower-case `p` exponent is split off first, and the hexadecimal mantissa alone,
 * `0x1`, is no float: `0x1p2` fails here although it is a float elsewhere).
 * @throws Error with Go's message
 */
export function goComplexConstant(text: string): GoNumber {
  let i = 0
  const accept = (chars: string): boolean => {
    const c = text[i]
    if (c === undefined || !chars.includes(c)) return false
    i++
    return true
  }
  const errComplex = () => new Error('syntax error scanning complex number')
  const floatToken = (start: number): string => {
    if (accept('nN') && accept('aA') && accept('nN')) return text.slice(start, i)
    accept('+-')
    if (accept('iI') && accept('nN') && accept('fF')) return text.slice(start, i)
    let digits = '0123456789_'
    let exp = 'eEpP'
    if (accept('0') && accept('xX')) {
      digits = '0123456789aAbBcCdDeEfF_'
      exp = 'pP'
    }
    while (accept(digits)) {}
    if (accept('.')) while (accept(digits)) {}
    if (accept(exp)) {
      accept('+-')
      while (accept('0123456789_')) {}
    }
    return text.slice(start, i)
  }
  const convertFloat = (str: string): number => {
    const p = str.indexOf('p')
    const parse = (part: string, parser: (s: string) => number): number => {
      try {
        return parser(part)
      } catch (err) {
        if (!(err instanceof GoNumError)) throw err
        // scan.go puts the full string into the error.
        throw new Error(err.message.replace(`parsing ${goQuote(part)}`, `parsing ${goQuote(str)}`))
      }
    }
    if (p < 0) return parse(str, goParseFloat)
    const f = parse(str.slice(0, p), goParseFloat)
    const m = parse(str.slice(p + 1), goAtoi)
    return f * 2 ** m
  }
  const parens = accept('(')
  const real = floatToken(i)
  if (!accept('+-')) throw errComplex()
  const imag = floatToken(i - 1)
  if (!accept('i')) throw errComplex()
  if (parens && !accept(')')) throw errComplex()
  return complexNumber(convertFloat(real), convertFloat(imag))
}

/** strconv.Atoi for convertFloat's binary exponent. @throws GoNumError */
function goAtoi(s: string): number {
  if (!/^[+-]?[0-9]+$/.test(s)) throw new GoNumError(`strconv.Atoi: parsing ${goQuote(s)}: invalid syntax`)
  return Number(s)
}

/** strconv.ParseInt/ParseUint with base 0: prefixes, a leading 0 for octal, `_` between digits. */
function parseIntBase0(text: string, signed: boolean): bigint | undefined {
  let s = text
  let neg = false
  if (s[0] === '+' || s[0] === '-') {
    if (!signed) return undefined
    neg = s[0] === '-'
    s = s.slice(1)
  }
  let base = 10
  if (/^0[xX]/.test(s)) [base, s] = [16, s.slice(2)]
  else if (/^0[oO]/.test(s)) [base, s] = [8, s.slice(2)]
  else if (/^0[bB]/.test(s)) [base, s] = [2, s.slice(2)]
  else if (s.length > 1 && s[0] === '0') [base, s] = [8, s.slice(1)]
  if (s.includes('_')) {
    if (!underscoreOK(text)) return undefined
    s = s.replaceAll('_', '')
  }
  if (s === '') return undefined
  const digits = '0123456789abcdef'.slice(0, base)
  if (![...s.toLowerCase()].every((c) => digits.includes(c))) return undefined
  const big =
    BigInt(base === 10 ? s : `0${base === 16 ? 'x' : base === 8 ? 'o' : 'b'}${s}`) * (neg ? -1n : 1n)
  const max = signed ? 2n ** 63n - 1n : 2n ** 64n - 1n
  const min = signed ? -(2n ** 63n) : 0n
  if (big > max || big < min) return undefined
  return big
}

/**
 * parse/node.go newNumber for a number or character constant item; throws an Error with
 * Go's message ("illegal number syntax", "integer overflow", strconv's "invalid syntax").
 */
export function goNumber(kind: 'number' | 'char', text: string): GoNumber {
  if (kind === 'char') {
    const body = text.slice(1)
    const [c, next] = unquoteChar(body, 0, "'")
    if (body.slice(next) !== "'") throw new Error(`malformed character constant: ${text}`)
    const cp = c.codePointAt(0) as number
    return { isInt: true, isUint: true, isFloat: true, int: cp, big: BigInt(cp), float: cp, isChar: true }
  }
  // Imaginary constants can only be complex unless they are zero (node.go).
  if (text.endsWith('i')) {
    const f = parseFloatOrUndefined(text.slice(0, -1))
    if (f !== undefined) return complexNumber(0, f)
  }
  const n = noNumber()
  const u = parseIntBase0(text, false)
  if (u !== undefined) {
    n.isUint = true
    n.big = u
    n.int = Number(u)
  }
  const i = parseIntBase0(text, true)
  if (i !== undefined) {
    n.isInt = true
    n.big = i
    n.int = Number(i)
    if (i === 0n) n.isUint = true
  }
  if (n.isInt || n.isUint) {
    n.isFloat = true
    n.float = n.int
  } else {
    let f: number | undefined
    try {
      f = goParseFloat(text)
    } catch (err) {
      if (!(err instanceof GoNumError)) throw err
    }
    if (f !== undefined) {
      if (!/[.eEpP]/.test(text)) throw new Error(`integer overflow: ${goQuote(text)}`)
      n.isFloat = true
      n.float = f
      if (Number.isInteger(f) && Math.abs(f) < 2 ** 63) {
        n.isInt = true
        n.int = f
        n.big = BigInt(f)
      }
      if (Number.isInteger(f) && f >= 0 && f < 2 ** 64) n.isUint = true
    }
  }
  if (!n.isInt && !n.isUint && !n.isFloat) throw new Error(`illegal number syntax: ${goQuote(text)}`)
  return n
}
