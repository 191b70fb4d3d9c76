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
