import { goStringFromBytes, goStringToBytes } from '../rules/go-bytes.ts'

const NAMED_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92 }

/**
 * PromQL string literals: Go-style double-quoted, single-quoted (same escapes) or
 * backtick raw strings (Prometheus' `strutil.Unquote`). As in Go, the literal is bytes: a
 * `\x` or octal escape is one byte, so `"\xc3\xa9"` is é, and a byte that is not part of
 * valid UTF-8 (`"\xff"`) is kept as go-bytes keeps it (a lone surrogate U+DC80 + byte),
 * which no label value equals and a regex matcher refuses, as Go's does.
 */
export function unquote(literal: string): string {
  const quote = literal[0]
  if (literal.length < 2 || literal[literal.length - 1] !== quote) {
    throw new Error(`invalid string literal ${literal}`)
  }
  const body = literal.slice(1, -1)
  if (quote === '`') {
    if (body.includes('`')) throw new Error(`invalid string literal ${literal}`)
    return body
  }
  if (quote !== '"' && quote !== "'") throw new Error(`invalid string literal ${literal}`)
  if (!body.includes('\\')) {
    if (body.includes(quote) || body.includes('\n')) throw new Error(`invalid string literal ${literal}`)
    return body
  }
  const bytes: number[] = []
  let text = ''
  const flush = () => {
    if (text !== '') bytes.push(...goStringToBytes(text))
    text = ''
  }
  for (let i = 0; i < body.length; i++) {
    const ch = body[i] as string
    if (ch === quote || ch === '\n') throw new Error(`invalid string literal ${literal}`)
    if (ch !== '\\') {
      text += ch
      continue
    }
    flush()
    const esc = body[++i]
    if (esc !== undefined && NAMED_ESCAPES[esc] !== undefined) {
      bytes.push(NAMED_ESCAPES[esc] as number)
      continue
    }
    switch (esc) {
      case "'":
      case '"':
        if (esc !== quote) throw new Error(`invalid escape \\${esc} in ${literal}`)
        bytes.push(esc.charCodeAt(0))
        break
      case 'x':
      case 'u':
      case 'U': {
        const len = esc === 'x' ? 2 : esc === 'u' ? 4 : 8
        const hex = body.slice(i + 1, i + 1 + len)
        if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) {
          throw new Error(`invalid escape \\${esc} in ${literal}`)
        }
        const code = Number.parseInt(hex, 16)
        if (esc === 'x') bytes.push(code)
        else {
          if (code > 0x10ffff || (code >= 0xd800 && code < 0xe000)) {
            throw new Error(`invalid escape \\${esc}${hex} in ${literal}`)
          }
          bytes.push(...goStringToBytes(String.fromCodePoint(code)))
        }
        i += len
        break
      }
      default: {
        const oct = body.slice(i, i + 3)
        if (!/^[0-7]{3}$/.test(oct) || Number.parseInt(oct, 8) > 255) {
          throw new Error(`invalid escape \\${esc ?? ''} in ${literal}`)
        }
        bytes.push(Number.parseInt(oct, 8))
        i += 2
      }
    }
  }
  flush()
  return goStringFromBytes(Uint8Array.from(bytes))
}

/** Go's `unicode.IsPrint`, for the characters Go's quoting keeps as they are. */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u

function quoteChar(ch: string, quote: string): string {
  if (ch === quote || ch === '\\') return `\\${ch}`
  if (PRINTABLE.test(ch)) return ch
  const code = ch.codePointAt(0) as number
  const named: Record<number, string> = { 7: 'a', 8: 'b', 12: 'f', 10: 'n', 13: 'r', 9: 't', 11: 'v' }
  if (named[code] !== undefined) return `\\${named[code]}`
  if (code < 0x20 || code === 0x7f) return `\\x${code.toString(16).padStart(2, '0')}`
  // A byte that is not UTF-8, kept as U+DC80–U+DCFF (go-bytes.ts): Go writes it as \xff.
  if (code >= 0xdc80 && code <= 0xdcff) return `\\x${(code - 0xdc00).toString(16)}`
  if (code >= 0xd800 && code < 0xe000) return '\\ufffd'
  if (code < 0x10000) return `\\u${code.toString(16).padStart(4, '0')}`
  return `\\U${code.toString(16).padStart(8, '0')}`
}

/** Go's `strconv.Quote` (`%q` of a string), as Prometheus' error messages quote text. */
export function goQuote(s: string): string {
  let out = '"'
  for (const ch of s) out += quoteChar(ch, '"')
  return `${out}"`
}

/** Go's `strconv.QuoteRune` (`%q` of a rune): `'x'`, as the lexer's errors name a character. */
export function goQuoteRune(ch: string): string {
  return `'${quoteChar(ch, "'")}'`
}
