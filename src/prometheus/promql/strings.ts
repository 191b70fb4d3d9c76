/**
 * PromQL string literals: Go-style double-quoted, single-quoted (same escapes) or
 * backtick raw strings (Prometheus' `strutil.Unquote`).
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
  let out = ''
  for (let i = 0; i < body.length; i++) {
    const ch = body[i] as string
    if (ch === quote || ch === '\n') throw new Error(`invalid string literal ${literal}`)
    if (ch !== '\\') {
      out += ch
      continue
    }
    const esc = body[++i]
    switch (esc) {
      case 'a':
        out += '\u0007'
        break
      case 'b':
        out += '\b'
        break
      case 'f':
        out += '\f'
        break
      case 'n':
        out += '\n'
        break
      case 'r':
        out += '\r'
        break
      case 't':
        out += '\t'
        break
      case 'v':
        out += '\v'
        break
      case '\\':
        out += '\\'
        break
      case "'":
      case '"':
        if (esc !== quote) throw new Error(`invalid escape \\${esc} in ${literal}`)
        out += esc
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
        if (esc === 'x') out += String.fromCharCode(code)
        else {
          if (code > 0x10ffff || (code >= 0xd800 && code < 0xe000)) {
            throw new Error(`invalid escape \\${esc}${hex} in ${literal}`)
          }
          out += String.fromCodePoint(code)
        }
        i += len
        break
      }
      default: {
        const oct = body.slice(i, i + 3)
        if (!/^[0-7]{3}$/.test(oct) || Number.parseInt(oct, 8) > 255) {
          throw new Error(`invalid escape \\${esc ?? ''} in ${literal}`)
        }
        out += String.fromCharCode(Number.parseInt(oct, 8))
        i += 2
      }
    }
  }
  return out
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
