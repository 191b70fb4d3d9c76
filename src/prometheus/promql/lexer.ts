/**
 * PromQL tokens as Prometheus 2.x's lexer produces them (`promql/parser/lex.go`): `#`
 * comments to the end of the line are skipped anywhere outside strings, a number directly
 * followed by a unit is a duration, `Inf`/`NaN` (any case) are numbers, and outside braces the
 * words of lex.go's `key` map are typed case-insensitively (`kind`; identifiers keep their text).
 */
import { goQuote, goQuoteRune } from './strings.ts'

export type TokenType =
  | 'number'
  | 'duration'
  | 'string'
  | 'identifier'
  | '('
  | ')'
  | '{'
  | '}'
  | '['
  | ']'
  | ','
  | ':'
  | '@'
  | '='
  | '=='
  | '!='
  | '=~'
  | '!~'
  | '>'
  | '<'
  | '>='
  | '<='
  | '+'
  | '-'
  | '*'
  | '/'
  | '%'
  | '^'
  | 'eof'

/**
 * How lex.go types a word outside braces: a keyword (`by`, `offset`, …), a word operator
 * (`and`, `atan2`, …), an aggregator, a preprocessor (`start`, `end`), or a metric identifier
 * (a name with a colon). Undefined for a plain identifier and any other token.
 */
export type TokenKind = 'keyword' | 'operator' | 'aggregator' | 'preprocessor' | 'metric'

/** lex.go's `key` map: the words typed by the lexer outside braces, whatever their case. */
export const WORD_KINDS: Readonly<Record<string, TokenKind>> = {
  and: 'operator',
  or: 'operator',
  unless: 'operator',
  atan2: 'operator',
  sum: 'aggregator',
  avg: 'aggregator',
  count: 'aggregator',
  min: 'aggregator',
  max: 'aggregator',
  group: 'aggregator',
  stddev: 'aggregator',
  stdvar: 'aggregator',
  topk: 'aggregator',
  bottomk: 'aggregator',
  count_values: 'aggregator',
  quantile: 'aggregator',
  offset: 'keyword',
  by: 'keyword',
  without: 'keyword',
  on: 'keyword',
  ignoring: 'keyword',
  group_left: 'keyword',
  group_right: 'keyword',
  bool: 'keyword',
  start: 'preprocessor',
  end: 'preprocessor',
}

export interface Token {
  readonly type: TokenType
  readonly text: string
  /** Offset of the first character in the input. */
  readonly pos: number
  /** How the lexer typed an identifier outside braces (lex.go's item types). */
  readonly kind?: TokenKind
  /**
   * On the last token only: the error Prometheus' lexer raised there (a character it cannot
   * lex, or the end of the input inside a parenthesis, bracket or brace). lex.go runs as the
   * parser asks for tokens, so the parser raises it only when it reaches this token: a syntax
   * error before it is reported first, as in Prometheus.
   */
  readonly error?: string
}

/** A lexical error, with the 0-based offset where it happened. */
export class LexError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message)
    this.name = 'LexError'
  }
}

const HEX = '0123456789abcdefABCDEF'
const DIGITS = '0123456789'

const isSpace = (ch: string | undefined) => ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r'
const isDigit = (ch: string | undefined) => ch !== undefined && ch >= '0' && ch <= '9'
const isAlpha = (ch: string | undefined) =>
  ch !== undefined && (ch === '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
const isAlnum = (ch: string | undefined) => isAlpha(ch) || isDigit(ch)
const inSet = (set: string, ch: string | undefined) => ch !== undefined && ch.length === 1 && set.includes(ch)

/** The character (code point) at `i`, as Go's lexer reads a rune. */
const runeAt = (input: string, i: number) => String.fromCodePoint(input.codePointAt(i) as number)

/**
 * lex.go `scanNumber` from `p`: hex, decimal digits, a fraction, an exponent. `ok` when no
 * letter or digit follows (else the text may be a duration); `end` is where it stopped.
 */
function scanNumber(input: string, p: number): { ok: boolean; end: number } {
  let digits = DIGITS
  if (input[p] === '0') {
    p++
    if (input[p] === 'x' || input[p] === 'X') {
      p++
      digits = HEX
    }
  }
  while (inSet(digits, input[p])) p++
  if (input[p] === '.') {
    p++
    while (inSet(digits, input[p])) p++
  }
  if (input[p] === 'e' || input[p] === 'E') {
    p++
    if (input[p] === '+' || input[p] === '-') p++
    while (isDigit(input[p])) p++
  }
  return { ok: !isAlnum(input[p]), end: p }
}

/**
 * lex.go `acceptRemainingDuration` from `p`: units and further numbers. Its last step reads
 * one more character, which must be no letter or digit: on failure `end` includes it, as
 * the lexer's error text does; on success `end` is the duration's end.
 */
function remainingDuration(input: string, p: number): { ok: boolean; end: number } {
  if (!inSet('smhdwy', input[p])) return { ok: false, end: p }
  p++
  if (input[p] === 's') p++
  while (isDigit(input[p])) {
    while (isDigit(input[p])) p++
    if (!inSet('smhdw', input[p])) return { ok: false, end: p }
    p++
    if (input[p] === 's') p++
  }
  if (p < input.length && isAlnum(input[p])) return { ok: false, end: p + 1 }
  return { ok: true, end: p }
}

/** Go's `%#U`: `U+0071 'q'`, the character itself only when printable. */
function goU(ch: string): string {
  const code = ch.codePointAt(0) as number
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`
  return /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(ch) ? `${hex} '${ch}'` : hex
}

const digitVal = (ch: string | undefined) =>
  ch === undefined ? 16 : Number.parseInt(ch, 16) >= 0 ? Number.parseInt(ch, 16) : 16

/**
 * The offset of the closing quote of the `"` or `'` string opening at `start`, checking its
 * escapes as lex.go `lexString` and `lexEscape` do; throws their errors at the string's start.
 */
export function quotedEnd(input: string, start: number): number {
  const quote = input[start]
  const fail = (message: string) => new LexError(message, start)
  let j = start + 1
  for (;;) {
    const c = input[j]
    if (c === undefined || c === '\n') throw fail('unterminated quoted string')
    if (c === quote) return j
    if (c !== '\\') {
      j += c.length
      continue
    }
    const esc = input[j + 1]
    if (esc === undefined) throw fail('escape sequence not terminated')
    j += 2
    if ('abfnrtv\\'.includes(esc) || esc === quote) continue
    let digits: number
    let base: number
    let max: number
    if (esc >= '0' && esc <= '7') {
      ;[digits, base, max] = [3, 8, 255]
      j--
    } else if (esc === 'x') [digits, base, max] = [2, 16, 255]
    else if (esc === 'u') [digits, base, max] = [4, 16, 0x10ffff]
    else if (esc === 'U') [digits, base, max] = [8, 16, 0x10ffff]
    else throw fail(`unknown escape sequence ${goU(runeAt(input, j - 1))}`)
    let x = 0
    for (; digits > 0; digits--, j++) {
      const d = digitVal(input[j])
      if (d >= base) {
        if (input[j] === undefined) throw fail('escape sequence not terminated')
        throw fail(`illegal character ${goU(runeAt(input, j))} in escape sequence`)
      }
      x = x * base + d
    }
    if (x > max || (x >= 0xd800 && x < 0xe000)) throw fail('escape sequence is an invalid Unicode code point')
  }
}

/**
 * Splits a PromQL expression into tokens as lex.go's state machine does, ending with one
 * `eof` token. A lexing error ends the tokens: the last one then carries it (`error`).
 * Inside `[...]`, as in lex.go, the first thing is a duration and nothing else, and a letter
 * or colon after it is read as the subquery's colon (once: a second is an error).
 */
export function tokenize(input: string): Token[] {
  const tokens: Token[] = []
  try {
    lex(input, tokens)
  } catch (err) {
    if (!(err instanceof LexError)) throw err
    tokens.push({ type: 'eof', text: '', pos: err.pos, error: err.message })
  }
  return tokens
}

function lex(input: string, tokens: Token[]): void {
  const n = input.length
  let i = 0
  let braces = false
  let bracket = false
  let gotColon = false
  let parens = 0
  const push = (type: TokenType, text: string, pos: number, kind?: TokenKind) =>
    tokens.push(kind === undefined ? { type, text, pos } : { type, text, pos, kind })
  while (i < n) {
    const ch = input[i] as string
    if (ch === '#') {
      while (i < n && input[i] !== '\n' && input[i] !== '\r') i++
      continue
    }
    if (isSpace(ch)) {
      i++
      continue
    }
    if (ch === '"' || ch === "'" || ch === '`') {
      const end = ch === '`' ? input.indexOf('`', i + 1) : quotedEnd(input, i)
      if (end === -1) throw new LexError('unterminated raw string', i)
      push('string', input.slice(i, end + 1), i)
      i = end + 1
      continue
    }
    if (braces) {
      // lex.go `lexInsideBraces`: keywords are plain identifiers here.
      if (isAlpha(ch)) {
        let j = i + 1
        while (isAlnum(input[j])) j++
        push('identifier', input.slice(i, j), i)
        i = j
      } else if (ch === ',') {
        push(',', ch, i++)
      } else if (ch === '=') {
        if (input[i + 1] === '~') {
          push('=~', '=~', i)
          i += 2
        } else push('=', ch, i++)
      } else if (ch === '!') {
        const next = input[i + 1]
        if (next !== '~' && next !== '=') {
          const what = next === undefined ? '\ufffd' : runeAt(input, i + 1)
          throw new LexError(`unexpected character after '!' inside braces: ${goQuoteRune(what)}`, i)
        }
        push(`!${next}` as TokenType, `!${next}`, i)
        i += 2
      } else if (ch === '{') {
        throw new LexError("unexpected left brace '{'", i)
      } else if (ch === '}') {
        braces = false
        push('}', ch, i++)
      } else {
        throw new LexError(`unexpected character inside braces: ${goQuoteRune(runeAt(input, i))}`, i)
      }
      continue
    }
    if (isDigit(ch) || (ch === '.' && isDigit(input[i + 1]))) {
      // lex.go `lexNumberOrDuration`.
      const number = scanNumber(input, i)
      if (number.ok) {
        push('number', input.slice(i, number.end), i)
        i = number.end
        continue
      }
      const duration = remainingDuration(input, number.end)
      if (!duration.ok)
        throw new LexError(`bad number or duration syntax: ${goQuote(input.slice(i, duration.end))}`, i)
      push('duration', input.slice(i, duration.end), i)
      i = duration.end
      continue
    }
    if (isAlpha(ch) || ch === ':') {
      if (bracket) {
        if (gotColon) throw new LexError(`unexpected colon ${goQuoteRune(ch)}`, i)
        push(':', ch, i++)
        gotColon = true
        continue
      }
      // lex.go `lexKeywordOrIdentifier`.
      let j = i + 1
      while (isAlnum(input[j]) || input[j] === ':') j++
      const word = input.slice(i, j)
      const lower = word.toLowerCase()
      if (lower === 'inf' || lower === 'nan') push('number', word, i)
      else push('identifier', word, i, WORD_KINDS[lower] ?? (word.includes(':') ? 'metric' : undefined))
      i = j
      continue
    }
    switch (ch) {
      case '(':
        parens++
        push(ch, ch, i++)
        continue
      case ')':
        // lex.go emits the parenthesis first, so the error points past it.
        if (parens === 0) throw new LexError("unexpected right parenthesis ')'", i + 1)
        parens--
        push(ch, ch, i++)
        continue
      case '{':
        braces = true
        push(ch, ch, i++)
        continue
      case '[': {
        if (bracket) throw new LexError("unexpected left bracket '['", i)
        gotColon = false
        push(ch, ch, i++)
        while (isSpace(input[i])) i++
        bracket = true
        // lex.go `lexDuration`: a duration and nothing else.
        const start = i
        const number = scanNumber(input, i)
        if (number.ok) throw new LexError('missing unit character in duration', start)
        const duration = remainingDuration(input, number.end)
        if (!duration.ok)
          throw new LexError(`bad duration syntax: ${goQuote(input.slice(start, duration.end))}`, start)
        push('duration', input.slice(start, duration.end), start)
        i = duration.end
        continue
      }
      case ']':
        if (!bracket) throw new LexError("unexpected right bracket ']'", i)
        bracket = false
        push(ch, ch, i++)
        continue
      case '=':
        if (input[i + 1] === '=') {
          push('==', '==', i)
          i += 2
        } else if (input[i + 1] === '~') {
          throw new LexError("unexpected character after '=': '~'", i)
        } else push('=', ch, i++)
        continue
      case '!': {
        if (input[i + 1] === '=') {
          push('!=', '!=', i)
          i += 2
          continue
        }
        const what = i + 1 < n ? runeAt(input, i + 1) : '\ufffd'
        throw new LexError(`unexpected character after '!': ${goQuoteRune(what)}`, i)
      }
      case '<':
      case '>':
        if (input[i + 1] === '=') {
          push(`${ch}=` as TokenType, `${ch}=`, i)
          i += 2
        } else push(ch, ch, i++)
        continue
      case ',':
      case '@':
      case '+':
      case '-':
      case '*':
      case '/':
      case '%':
      case '^':
        push(ch, ch, i++)
        continue
      default:
        throw new LexError(`unexpected character: ${goQuoteRune(runeAt(input, i))}`, i)
    }
  }
  const error = braces
    ? 'unexpected end of input inside braces'
    : parens > 0
      ? 'unclosed left parenthesis'
      : bracket
        ? 'unclosed left bracket'
        : undefined
  tokens.push(error ? { type: 'eof', text: '', pos: n, error } : { type: 'eof', text: '', pos: n })
}
