/**
 * promtool's series descriptions, read as Prometheus 2.42 reads them: `input_series` lines
 * (`metric{labels} values`, promql/parser ParseSeriesDesc) and `exp_samples` labels
 * (ParseMetric), with the PromQL lexer in series mode (promql/parser/lex.go) and the
 * grammar's error messages (generated_parser.y), so that a file promtool refuses is refused
 * with promtool's words and position (`1:22: parse error: unexpected identifier "two" in
 * series values, expected number or "stale"`).
 *
 * Values: `a+bxn` → a, a+b, …, a+n·b (n+1 values, by repeated addition as Prometheus does),
 * `a-bxn` likewise decreasing, `axn` → a repeated n+1 times, `_` → no sample, `_xn` → n
 * missing samples, `stale` → a staleness marker. Numbers are Go's `strconv.ParseInt(s, 0, 64)`
 * then `ParseFloat`, so `017` is octal 15 and `Inf`/`NaN` are accepted in any case; hex is not
 * lexed in series descriptions (`0x10` is 0 repeated 10 more times, as in Prometheus).
 *
 * Only the first error is reported, as Prometheus 2.42 prints ParseErrors (its yacc recovery
 * can find more after it). Where this differs from Prometheus: native histogram descriptions
 * (`{{…}}`) are refused with the lexer's message.
 */

import { compareStrings, type Labels, labelsFrom, METRIC_NAME } from '../promql/labels.ts'
import { LexError, quotedEnd } from '../promql/lexer.ts'
import { AGGREGATORS } from '../promql/parser.ts'
import { goQuote, unquote } from '../promql/strings.ts'
import { goSortSlice } from './go-sort.ts'

/**
 * A Prometheus 2.42 `labels.Labels` as ParseMetric builds it: name/value pairs sorted by name,
 * where, unlike our `Labels`, a name may appear more than once and a value may be empty. Kept
 * as such only where promtool prints or compares what it parsed (see `metric()`).
 */
export type LabelPairs = readonly (readonly [name: string, value: string])[]

/** `labels.New(ls...)`: the pairs sorted by name with Go's unstable `sort.Sort`, duplicates kept. */
function newLabels(pairs: (readonly [string, string])[]): LabelPairs {
  goSortSlice(pairs, (a, b) => a[0] < b[0])
  return pairs
}

/** Our `Labels` as the sorted pairs Prometheus holds them in. */
export function labelPairs(labels: Labels): LabelPairs {
  return Object.keys(labels).map((name) => [name, labels[name] as string] as const)
}

/** Prometheus' `labels.Compare`: name by name, then value, then length; duplicates included. */
export function compareLabelPairs(a: LabelPairs, b: LabelPairs): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const [an, av] = a[i] as readonly [string, string]
    const [bn, bv] = b[i] as readonly [string, string]
    if (an !== bn) return compareStrings(an, bn)
    if (av !== bv) return compareStrings(av, bv)
  }
  return a.length - b.length
}

/** Prometheus' `Labels.String()`, every pair as held: `{a="2", a="1", b=""}`. */
export function formatLabelPairs(pairs: LabelPairs): string {
  return `{${pairs.map(([name, value]) => `${name}=${goQuote(value)}`).join(', ')}}`
}

/** Identity of a pair list (what Go's `Labels.Hash()` tells apart), duplicates and empty values included. */
export function labelPairsKey(pairs: LabelPairs): string {
  let key = ''
  for (const [name, value] of pairs) key += `${name}\u0000${value}\u0000`
  return key
}

/**
 * What the TSDB head's `Append` makes of a parsed series (tsdb/head_append.go, 2.42): empty
 * values dropped (`WithoutEmpty`), then a set left empty or naming a label twice is refused
 * with the head's error text; otherwise the series' labels.
 */
export function appendableLabels(pairs: LabelPairs): Labels | string {
  const kept = pairs.filter(([, value]) => value !== '')
  if (kept.length === 0) return 'empty labelset: invalid sample'
  // HasDuplicateLabelNames: the first name equal to its (sorted) predecessor.
  for (let i = 1; i < kept.length; i++) {
    const name = (kept[i] as readonly [string, string])[0]
    if (name === (kept[i - 1] as readonly [string, string])[0])
      return `label name ${goQuote(name)} is not unique: invalid sample`
  }
  return labelsFrom(Object.fromEntries(kept))
}

export type SeriesValue = { kind: 'value'; value: number } | { kind: 'omitted' } | { kind: 'stale' }

/** A parse error worded and positioned as Prometheus' `ParseErrors.Error()` prints it. */
export class SeriesParseError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SeriesParseError'
  }
}

type Typ =
  | 'EOF'
  | 'ERROR'
  | 'IDENTIFIER'
  | 'METRIC_IDENTIFIER'
  | 'NUMBER'
  | 'DURATION'
  | 'STRING'
  | 'LEFT_BRACE'
  | 'RIGHT_BRACE'
  | 'LEFT_PAREN'
  | 'RIGHT_PAREN'
  | 'LEFT_BRACKET'
  | 'RIGHT_BRACKET'
  | 'COMMA'
  | 'EQL'
  | 'SPACE'
  | 'BLANK'
  | 'TIMES'
  | 'COMMENT'
  | 'AT'
  | `op:${string}`
  | `aggr:${string}`
  | `kw:${string}`

interface Item {
  typ: Typ
  pos: number
  val: string
}

const OPERATOR_WORDS: Record<string, string> = { and: 'and', or: 'or', unless: 'unless', atan2: 'atan2' }
const KEYWORDS = new Set([
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'start',
  'end',
])
/** The keywords the grammar's `metric_identifier` accepts as a metric name. */
const METRIC_KEYWORDS = new Set([
  'aggr:avg',
  'aggr:bottomk',
  'kw:by',
  'aggr:count',
  'aggr:count_values',
  'aggr:group',
  'op:and',
  'op:or',
  'op:unless',
  'aggr:max',
  'aggr:min',
  'kw:offset',
  'aggr:quantile',
  'aggr:stddev',
  'aggr:stdvar',
  'aggr:sum',
  'aggr:topk',
  'kw:without',
  'kw:start',
  'kw:end',
])
/** Tokens with a fixed spelling (lex.go ItemTypeStr), which the parser names by their text. */
const PUNCTUATION = new Set<Typ>([
  'LEFT_BRACE',
  'RIGHT_BRACE',
  'LEFT_PAREN',
  'RIGHT_PAREN',
  'LEFT_BRACKET',
  'RIGHT_BRACKET',
  'COMMA',
  'EQL',
  'BLANK',
  'TIMES',
  'SPACE',
  'AT',
])

const isSpace = (r: string) => r === ' ' || r === '\t' || r === '\n' || r === '\r'
const isDigit = (r: string) => r >= '0' && r <= '9'
const isAlpha = (r: string) => r === '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
const isAlphaNumeric = (r: string) => isAlpha(r) || isDigit(r)

/** Go's `%q` of a rune. */
function quoteRune(r: string): string {
  const q = goQuote(r)
  const body = q.slice(1, -1).replace(/\\"/g, '"')
  return `'${body === "'" ? "\\'" : body}'`
}

/** Go's `%q` of a string. */
function quote(s: string): string {
  return goQuote(s)
}

/** The PromQL lexer (promql/parser/lex.go, Prometheus 2.42) for metrics and series descriptions. */
function lex(input: string, seriesDesc: boolean): Item[] {
  const items: Item[] = []
  let pos = 0
  let start = 0
  let braceOpen = false
  let parenDepth = 0
  let width = 0
  const next = (): string => {
    if (pos >= input.length) {
      width = 0
      return ''
    }
    const r = String.fromCodePoint(input.codePointAt(pos) as number)
    width = r.length
    pos += width
    return r
  }
  const backup = () => {
    pos -= width
  }
  const peek = (): string => {
    const r = next()
    backup()
    return r
  }
  const emit = (typ: Typ) => {
    items.push({ typ, pos: start, val: input.slice(start, pos) })
    start = pos
  }
  const error = (message: string) => {
    items.push({ typ: 'ERROR', pos: start, val: message })
    return undefined
  }
  const accept = (valid: string) => {
    const r = next()
    if (r !== '' && valid.includes(r)) return true
    backup()
    return false
  }
  const acceptRun = (valid: string) => {
    while (accept(valid));
  }
  type State = (() => State) | undefined

  const scanNumber = (): boolean => {
    let digits = '0123456789'
    if (!seriesDesc && accept('0') && accept('xX')) digits = '0123456789abcdefABCDEF'
    acceptRun(digits)
    if (accept('.')) acceptRun(digits)
    if (accept('eE')) {
      accept('+-')
      acceptRun('0123456789')
    }
    const r = peek()
    return (seriesDesc && r === 'x') || !isAlphaNumeric(r)
  }
  const lexNumber = (): State => {
    if (!scanNumber()) return error(`bad number syntax: ${quote(input.slice(start, pos))}`)
    emit('NUMBER')
    return lexStatements
  }
  const acceptRemainingDuration = (): boolean => {
    if (!accept('smhdwy')) return false
    accept('s')
    while (accept('0123456789')) {
      acceptRun('0123456789')
      if (!accept('smhdw')) return false
      accept('s')
    }
    // Go reads one more rune and backs up over it only when the duration is good.
    const r = next()
    if (r !== '' && isAlphaNumeric(r)) return false
    backup()
    return true
  }
  const lexNumberOrDuration = (): State => {
    if (scanNumber()) {
      emit('NUMBER')
      return lexStatements
    }
    if (acceptRemainingDuration()) {
      emit('DURATION')
      return lexStatements
    }
    return error(`bad number or duration syntax: ${quote(input.slice(start, pos))}`)
  }
  const lexKeywordOrIdentifier = (): State => {
    for (;;) {
      const r = next()
      if (r !== '' && (isAlphaNumeric(r) || r === ':')) continue
      backup()
      const word = input.slice(start, pos)
      const lower = word.toLowerCase()
      if (lower === 'inf' || lower === 'nan') emit('NUMBER')
      else if (lower in OPERATOR_WORDS) emit(`op:${lower}`)
      else if (AGGREGATORS.has(lower)) emit(`aggr:${lower}`)
      else if (KEYWORDS.has(lower)) emit(`kw:${lower}`)
      else if (!word.includes(':')) emit('IDENTIFIER')
      else emit('METRIC_IDENTIFIER')
      break
    }
    if (seriesDesc && peek() !== '{') return lexValueSequence
    return lexStatements
  }
  const lexIdentifier = (): State => {
    while (peek() !== '' && isAlphaNumeric(peek())) next()
    emit('IDENTIFIER')
    return lexStatements
  }
  // The escapes are checked as the expression lexer checks them (lex.go lexEscape): `"\\x"` is
  // `illegal character U+0022 '"' in escape sequence` at the string's start.
  const lexString = (): State => {
    try {
      pos = quotedEnd(input, start) + 1
    } catch (err) {
      if (err instanceof LexError) return error(err.message)
      throw err
    }
    emit('STRING')
    return lexStatements
  }
  const lexRawString = (): State => {
    for (;;) {
      const r = next()
      if (r === '') return error('unterminated raw string')
      if (r === '`') break
    }
    emit('STRING')
    return lexStatements
  }
  const lexSpace = (): State => {
    while (peek() !== '' && isSpace(peek())) next()
    start = pos
    return lexStatements
  }
  const lexInsideBraces = (): State => {
    const r = next()
    if (r === '') return error('unexpected end of input inside braces')
    if (isSpace(r)) return lexSpace
    if (isAlpha(r)) {
      backup()
      return lexIdentifier
    }
    if (r === ',') emit('COMMA')
    else if (r === '"' || r === "'") return lexString
    else if (r === '`') return lexRawString
    else if (r === '=') {
      if (next() === '~') emit('op:=~')
      else {
        backup()
        emit('EQL')
      }
    } else if (r === '!') {
      const nr = next()
      if (nr === '~') emit('op:!~')
      else if (nr === '=') emit('op:!=')
      else return error(`unexpected character after '!' inside braces: ${quoteRune(nr)}`)
    } else if (r === '{') return error(`unexpected left brace ${quoteRune(r)}`)
    else if (r === '}') {
      emit('RIGHT_BRACE')
      braceOpen = false
      return seriesDesc ? lexValueSequence : lexStatements
    } else return error(`unexpected character inside braces: ${quoteRune(r)}`)
    return lexInsideBraces
  }
  const lexValueSequence = (): State => {
    const r = next()
    if (r === '') return lexStatements
    if (isSpace(r)) {
      emit('SPACE')
      lexSpace()
    } else if (r === '+') emit('op:+')
    else if (r === '-') emit('op:-')
    else if (r === 'x') emit('TIMES')
    else if (r === '_') emit('BLANK')
    else if (isDigit(r) || (r === '.' && isDigit(peek()))) {
      backup()
      if (lexNumber() === undefined) return undefined
    } else if (isAlpha(r)) {
      backup()
      return lexKeywordOrIdentifier
    } else return error(`unexpected character in series sequence: ${quoteRune(r)}`)
    return lexValueSequence
  }
  const lexStatements = (): State => {
    if (braceOpen) return lexInsideBraces
    if (input.startsWith('#', pos)) {
      while (peek() !== '' && peek() !== '\n' && peek() !== '\r') next()
      emit('COMMENT')
      return lexStatements
    }
    const r = next()
    if (r === '') {
      if (parenDepth !== 0) return error('unclosed left parenthesis')
      emit('EOF')
      return undefined
    }
    if (r === ',') emit('COMMA')
    else if (isSpace(r)) return lexSpace
    else if ('*/%+-^'.includes(r)) emit(`op:${r}`)
    else if (r === '=') {
      const t = peek()
      if (t === '=') {
        next()
        emit('op:==')
      } else if (t === '~') return error(`unexpected character after '=': ${quoteRune(t)}`)
      else emit('EQL')
    } else if (r === '!') {
      const t = next()
      if (t !== '=') return error(`unexpected character after '!': ${quoteRune(t)}`)
      emit('op:!=')
    } else if (r === '<' || r === '>') {
      if (peek() === '=') next()
      emit(`op:${input.slice(start, pos)}`)
    } else if (isDigit(r) || (r === '.' && isDigit(peek()))) {
      backup()
      return lexNumberOrDuration
    } else if (r === '"' || r === "'") return lexString
    else if (r === '`') return lexRawString
    else if (isAlpha(r) || r === ':') {
      backup()
      return lexKeywordOrIdentifier
    } else if (r === '(') {
      emit('LEFT_PAREN')
      parenDepth++
    } else if (r === ')') {
      emit('RIGHT_PAREN')
      parenDepth--
      if (parenDepth < 0) return error(`unexpected right parenthesis ${quoteRune(r)}`)
    } else if (r === '{') {
      emit('LEFT_BRACE')
      braceOpen = true
      return lexInsideBraces
    } else if (r === '[') emit('LEFT_BRACKET')
    else if (r === ']') return error(`unexpected right bracket ${quoteRune(r)}`)
    else if (r === '@') emit('AT')
    else return error(`unexpected character: ${quoteRune(r)}`)
    return lexStatements
  }

  let state: State = lexStatements
  while (state) {
    const before = items.length
    state = state()
    const last = items[items.length - 1]
    if (items.length > before && last && (last.typ === 'ERROR' || last.typ === 'EOF')) break
  }
  if (items.length === 0 || (items[items.length - 1] as Item).typ !== 'ERROR') {
    if ((items[items.length - 1] as Item | undefined)?.typ !== 'EOF') items.push({ typ: 'EOF', pos, val: '' })
  }
  // The parser never sees comments.
  return items.filter((i) => i.typ !== 'COMMENT')
}

/** lex.go Item.desc(): how the parser names a token in "unexpected …". */
function describe(item: Item): string {
  if (item.typ === 'EOF') return 'end of input'
  if (PUNCTUATION.has(item.typ)) return quote(item.val)
  if (item.typ.startsWith('op:')) return `<op:${item.val}>`
  if (item.typ.startsWith('aggr:')) return `<aggr:${item.val}>`
  if (item.typ.startsWith('kw:')) return `<${item.val}>`
  const kind =
    item.typ === 'IDENTIFIER'
      ? 'identifier'
      : item.typ === 'METRIC_IDENTIFIER'
        ? 'metric identifier'
        : item.typ === 'STRING'
          ? 'string'
          : item.typ === 'NUMBER'
            ? 'number'
            : item.typ === 'DURATION'
              ? 'duration'
              : 'error'
  const shown =
    item.typ !== 'IDENTIFIER' && item.typ !== 'METRIC_IDENTIFIER' && item.val.length > 10
      ? `${quote(item.val.slice(0, 10))}...`
      : quote(item.val)
  return `${kind} ${shown}`
}

/** Unwinds the parser at the first syntax error (yacc would recover and may report more). */
class StopParsing extends Error {}

class Parser {
  private i = 0
  readonly errors: { pos: number; message: string }[] = []

  constructor(
    private readonly input: string,
    private readonly items: Item[],
  ) {}

  peek(): Item {
    return this.items[this.i] as Item
  }

  take(): Item {
    const item = this.peek()
    this.i++
    return item
  }

  /** yylex.unexpected(context, expected), or the lexer's own error when the token is one. */
  unexpected(item: Item, context: string, expected: string): never {
    if (item.typ === 'ERROR') this.errors.push({ pos: item.pos, message: item.val })
    else {
      let message = `unexpected ${describe(item)}`
      if (context) message += ` in ${context}`
      if (expected) message += `, expected ${expected}`
      this.errors.push({ pos: item.pos, message })
    }
    throw new StopParsing()
  }

  semantic(pos: number, message: string): void {
    this.errors.push({ pos, message })
  }

  /**
   * `metric: metric_identifier label_set | label_set` (generated_parser.y, 2.42). The label set
   * is `labels.New(pairs...)`: sorted, keeping repeated names and empty values. With a metric
   * name it goes through `labels.NewBuilder(set).Set("__name__", name).Labels()`: the builder's
   * Reset marks every empty-valued name deleted (so `m{a="1",a=""}` loses both), `Set` overrides
   * any `__name__` in the braces, and the rest, repeats included, is sorted again.
   */
  metric(): LabelPairs {
    let metricName: string | undefined
    const pairs: [string, string][] = []
    const first = this.peek()
    if (first.typ === 'IDENTIFIER' || first.typ === 'METRIC_IDENTIFIER' || METRIC_KEYWORDS.has(first.typ)) {
      this.take()
      metricName = first.val
    }
    if (this.peek().typ === 'LEFT_BRACE') {
      this.take()
      if (this.peek().typ === 'RIGHT_BRACE') this.take()
      else {
        for (;;) {
          const name = this.peek()
          if (name.typ !== 'IDENTIFIER') this.unexpected(name, 'label set', 'identifier or "}"')
          this.take()
          if (this.peek().typ !== 'EQL') this.unexpected(this.peek(), 'label set', '"="')
          this.take()
          const value = this.peek()
          if (value.typ !== 'STRING') this.unexpected(value, 'label set', 'string')
          this.take()
          pairs.push([name.val, unquote(value.val)])
          const sep = this.peek()
          if (sep.typ === 'RIGHT_BRACE') {
            this.take()
            break
          }
          if (sep.typ !== 'COMMA') this.unexpected(sep, 'label set', '"," or "}"')
          this.take()
          if (this.peek().typ === 'RIGHT_BRACE') {
            this.take()
            break
          }
        }
      }
    }
    const set = newLabels(pairs)
    if (metricName === undefined) return set
    const deleted = new Set(set.filter(([, value]) => value === '').map(([name]) => name))
    const kept: (readonly [string, string])[] = set.filter(
      ([name]) => !deleted.has(name) && name !== METRIC_NAME,
    )
    kept.push([METRIC_NAME, metricName])
    return newLabels(kept)
  }

  /** strconv.ParseInt(s, 0, 64), then ParseFloat: what parser.number() accepts. */
  number(item: Item): number {
    const text = item.val
    if (/^[+-]?(?:0[0-7]*|[1-9][0-9]*)$/.test(text)) {
      const n = /^[+-]?0[0-7]+$/.test(text) ? Number.parseInt(text, 8) : Number(text)
      if (Math.abs(n) <= 2 ** 63) return n
    }
    const lower = text.toLowerCase()
    if (/^[+-]?(?:inf|infinity)$/.test(lower)) return lower.startsWith('-') ? -Infinity : Infinity
    if (/^[+-]?nan$/.test(lower)) return Number.NaN
    if (/^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(text)) {
      const f = Number(text)
      if (Number.isFinite(f)) return f
      this.semantic(
        item.pos,
        `error parsing number: strconv.ParseFloat: parsing ${quote(text)}: value out of range`,
      )
      return f
    }
    this.semantic(
      item.pos,
      `error parsing number: strconv.ParseFloat: parsing ${quote(text)}: invalid syntax`,
    )
    return 0
  }

  uint(): number {
    const item = this.peek()
    if (item.typ !== 'NUMBER') this.unexpected(item, 'series values', '')
    this.take()
    if (/^[0-9]+$/.test(item.val) && Number(item.val) < 2 ** 64) return Number(item.val)
    const why = /^[0-9]+$/.test(item.val) ? 'value out of range' : 'invalid syntax'
    this.semantic(
      item.pos,
      `invalid repetition in series values: strconv.ParseUint: parsing ${quote(item.val)}: ${why}`,
    )
    return 0
  }

  /** `series_values` after the metric: SPACE-separated items. */
  seriesValues(): SeriesValue[] {
    const out: SeriesValue[] = []
    const after = this.peek()
    if (after.typ !== 'SPACE' && after.typ !== 'EOF') this.unexpected(after, 'series values', '')
    while (this.peek().typ === 'SPACE') {
      this.take()
      const item = this.peek()
      if (item.typ === 'EOF' || item.typ === 'SPACE') continue
      if (item.typ === 'BLANK') {
        this.take()
        if (this.peek().typ === 'TIMES') {
          this.take()
          const n = this.uint()
          for (let k = 0; k < n; k++) out.push({ kind: 'omitted' })
        } else out.push({ kind: 'omitted' })
      } else {
        let value: number
        let stale = false
        if (item.typ === 'IDENTIFIER') {
          this.take()
          if (item.val !== 'stale')
            this.semantic(
              item.pos,
              `unexpected ${describe(item)} in series values, expected number or "stale"`,
            )
          value = Number.NaN
          stale = true
        } else if (item.typ === 'NUMBER') {
          this.take()
          value = this.number(item)
        } else if (item.typ === 'op:+' || item.typ === 'op:-') {
          this.take()
          const n = this.peek()
          if (n.typ !== 'NUMBER') this.unexpected(n, 'series values', '')
          this.take()
          value = item.typ === 'op:-' ? -this.number(n) : this.number(n)
        } else {
          // A token that cannot start an item: yacc's default reduction ends the values, and
          // the top-level rule reports it without a context.
          this.unexpected(item, '', '')
        }
        const push = (v: number, first: boolean) =>
          out.push(stale && first ? { kind: 'stale' } : { kind: 'value', value: v })
        const op = this.peek()
        if (op.typ === 'TIMES') {
          this.take()
          const n = this.uint()
          for (let k = 0; k <= n; k++) push(value, true)
        } else if (op.typ === 'op:+' || op.typ === 'op:-') {
          this.take()
          const n = this.peek()
          if (n.typ !== 'NUMBER') this.unexpected(n, 'series values', '')
          this.take()
          const step = op.typ === 'op:-' ? -this.number(n) : this.number(n)
          if (this.peek().typ !== 'TIMES') this.unexpected(this.peek(), 'series values', '')
          this.take()
          const times = this.uint()
          let v = value
          for (let k = 0; k <= times; k++) {
            push(v, k === 0)
            v += step
          }
        } else push(value, true)
      }
      const end = this.peek()
      if (end.typ !== 'SPACE' && end.typ !== 'EOF') this.unexpected(end, '', '')
    }
    return out
  }

  end(): void {
    const item = this.peek()
    if (item.typ !== 'EOF') this.unexpected(item, '', '')
  }

  /**
   * ParseErrors.Error() of Prometheus 2.42: the first error only, `line:col: parse error: msg`
   * (col 1-based, in bytes); later releases join them all, one per line.
   */
  fail(): never {
    const first = this.errors[0]!
    const before = this.input.slice(0, first.pos)
    const line = before.split('\n').length
    const col = new TextEncoder().encode(before.slice(before.lastIndexOf('\n') + 1)).length + 1
    throw new SeriesParseError(`${line}:${col}: parse error: ${first.message}`)
  }
}

/**
 * Parses `exp_samples` labels as promtool does (`parser.ParseMetric`): `name{l="v",…}`,
 * `{…}`, a bare name, or "" (no labels), as Prometheus' label pairs (see `Parser.metric`).
 * Throws SeriesParseError with Prometheus' message.
 */
export function parseMetric(input: string): LabelPairs {
  const p = new Parser(input, lex(input, false))
  let labels: LabelPairs = []
  try {
    labels = p.metric()
    p.end()
  } catch (err) {
    if (!(err instanceof StopParsing)) throw err
  }
  if (p.errors.length > 0) p.fail()
  return labels
}

/**
 * Parses one series description line (`parser.ParseSeriesDesc`): the metric, as Prometheus'
 * label pairs (see `Parser.metric`), and its values. Throws SeriesParseError with Prometheus'
 * message and position.
 */
export function parseSeriesDesc(input: string): { labels: LabelPairs; values: SeriesValue[] } {
  const p = new Parser(input, lex(input, true))
  let labels: LabelPairs = []
  let values: SeriesValue[] = []
  try {
    labels = p.metric()
    values = p.seriesValues()
    p.end()
  } catch (err) {
    if (!(err instanceof StopParsing)) throw err
  }
  if (p.errors.length > 0) p.fail()
  return { labels, values }
}
