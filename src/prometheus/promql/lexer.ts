/**
 * PromQL tokens as Prometheus 2.x's lexer produces them (`promql/parser/lex.go`): `#`
 * comments to the end of the line are skipped anywhere outside braces and strings,
 * a number directly followed by a unit is a duration, `Inf`/`NaN` (any case) are numbers,
 * and keywords are recognised case-insensitively by the parser (identifiers keep their text).
 */

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

export interface Token {
  readonly type: TokenType
  readonly text: string
  /** Offset of the first character in the input. */
  readonly pos: number
  /**
   * On the `eof` token only: the error Prometheus' lexer raises at the end of the input while
   * a parenthesis, bracket or brace is open (lex.go `lexStatements`, `lexInsideBraces`). The
   * parser raises it as soon as it looks at the end, as Prometheus' parser meets it there.
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

const DURATION_RE = /(?:\d+(?:ms|[smhdwy]))+/y
const NUMBER_RE = /(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/y
const IDENT_RE = /[a-zA-Z_:][a-zA-Z0-9_:]*/y
const LABEL_RE = /[a-zA-Z_][a-zA-Z0-9_]*/y

function isSpace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r'
}

function isAlnum(ch: string | undefined): boolean {
  return ch !== undefined && /[a-zA-Z0-9_]/.test(ch)
}

function sticky(re: RegExp, input: string, pos: number): string | undefined {
  re.lastIndex = pos
  const m = re.exec(input)
  return m ? m[0] : undefined
}

/** Splits a PromQL expression into tokens, ending with one `eof` token. */
export function tokenize(input: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  let braces = false
  // Inside `[...]` a colon separates a subquery's range and step.
  let brackets = 0
  let parens = 0
  const push = (type: TokenType, text: string, pos: number) => tokens.push({ type, text, pos })
  while (i < input.length) {
    const ch = input[i] as string
    if (isSpace(ch)) {
      i++
      continue
    }
    if (ch === '#' && !braces) {
      while (i < input.length && input[i] !== '\n') i++
      continue
    }
    if (ch === '"' || ch === "'" || ch === '`') {
      let j = i + 1
      while (j < input.length && input[j] !== ch) {
        if (input[j] === '\\' && ch !== '`') j++
        else if (input[j] === '\n' && ch !== '`') throw new LexError('unterminated quoted string', i)
        j++
      }
      if (j >= input.length)
        throw new LexError(`unterminated ${ch === '`' ? 'raw string' : 'quoted string'}`, i)
      push('string', input.slice(i, j + 1), i)
      i = j + 1
      continue
    }
    if (braces) {
      if (/[a-zA-Z_]/.test(ch)) {
        const word = sticky(LABEL_RE, input, i) as string
        push('identifier', word, i)
        i += word.length
        continue
      }
      if (ch === '}') {
        braces = false
        push('}', ch, i)
        i++
        continue
      }
      if (ch === ',') {
        push(',', ch, i)
        i++
        continue
      }
      const two = input.slice(i, i + 2)
      if (two === '=~' || two === '!~' || two === '!=') {
        push(two, two, i)
        i += 2
        continue
      }
      if (ch === '=') {
        push('=', ch, i)
        i++
        continue
      }
      throw new LexError(`unexpected character inside braces: ${JSON.stringify(ch)}`, i)
    }
    if (/[0-9.]/.test(ch)) {
      // Right after `[` Prometheus' lexer reads a duration and nothing else (lex.go
      // `lexDuration`): a plain number there is a lexing error of its own.
      const rangeStart = tokens.at(-1)?.type === '['
      const duration = sticky(DURATION_RE, input, i)
      if (duration && !isAlnum(input[i + duration.length])) {
        push('duration', duration, i)
        i += duration.length
        continue
      }
      const number = sticky(NUMBER_RE, input, i)
      if (number && !isAlnum(input[i + number.length]) && input[i + number.length] !== '.') {
        if (rangeStart) throw new LexError('missing unit character in duration', i)
        push('number', number, i)
        i += number.length
        continue
      }
      let j = i
      while (j < input.length && (isAlnum(input[j]) || input[j] === '.')) j++
      const what = rangeStart ? 'duration' : 'number or duration'
      throw new LexError(`bad ${what} syntax: ${JSON.stringify(input.slice(i, j))}`, i)
    }
    if (ch === ':' && brackets > 0) {
      push(':', ch, i)
      i++
      continue
    }
    if (/[a-zA-Z_:]/.test(ch)) {
      const word = sticky(IDENT_RE, input, i) as string
      const lower = word.toLowerCase()
      push(lower === 'inf' || lower === 'nan' ? 'number' : 'identifier', word, i)
      i += word.length
      continue
    }
    const two = input.slice(i, i + 2)
    if (two === '==' || two === '!=' || two === '>=' || two === '<=' || two === '=~' || two === '!~') {
      push(two, two, i)
      i += 2
      continue
    }
    switch (ch) {
      case '{':
        braces = true
        push('{', ch, i)
        break
      case '[':
        brackets++
        push(ch, ch, i)
        break
      case ']':
        if (brackets === 0) throw new LexError("unexpected right bracket ']'", i)
        brackets--
        push(ch, ch, i)
        break
      case '(':
        parens++
        push(ch, ch, i)
        break
      case ')':
        // lex.go emits the parenthesis first, so the error points past it.
        if (parens === 0) throw new LexError("unexpected right parenthesis ')'", i + 1)
        parens--
        push(ch, ch, i)
        break
      case ',':
      case ':':
      case '@':
      case '=':
      case '>':
      case '<':
      case '+':
      case '-':
      case '*':
      case '/':
      case '%':
      case '^':
      case '}':
        push(ch, ch, i)
        break
      default:
        throw new LexError(`unexpected character: ${JSON.stringify(ch)}`, i)
    }
    i++
  }
  const error = braces
    ? 'unexpected end of input inside braces'
    : parens > 0
      ? 'unclosed left parenthesis'
      : brackets > 0
        ? 'unclosed left bracket'
        : undefined
  tokens.push(
    error
      ? { type: 'eof', text: '', pos: input.length, error }
      : { type: 'eof', text: '', pos: input.length },
  )
  return tokens
}
