import { DurationError, parseDuration } from '../duration.ts'
import { formatFloat } from '../template/go-fmt.ts'
import {
  type AggregateOp,
  type AtModifier,
  type BinaryOp,
  type Cardinality,
  type Expr,
  isComparison,
  isSetOperator,
  type LabelMatcher,
  type MatchType,
  type Subquery,
  type ValueType,
  type VectorMatching,
  type VectorSelector,
  valueType,
} from './ast.ts'
import { METRIC_NAME } from './labels.ts'
import { type Token, type TokenType, tokenize } from './lexer.ts'
import { compileMatcherRegex, type MatcherRegex, RegexError } from './regex.ts'
import { goQuote, unquote } from './strings.ts'

/**
 * A PromQL expression the embedded engine refuses: a syntax or type error Prometheus'
 * parser would also report. `construct` names a construct that parses but that the engine
 * deliberately does not evaluate (none remain for float samples; kept for callers).
 */
/** Tokens Prometheus' lexer types as operators (lex.go, operatorsStart..operatorsEnd). */
const OPERATOR_TOKENS: ReadonlySet<string> = new Set([
  '+',
  '-',
  '*',
  '/',
  '%',
  '^',
  '==',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
  '=~',
  '!~',
  '@',
])

export class PromQLError extends Error {
  constructor(
    message: string,
    readonly construct?: string,
  ) {
    super(message)
    this.name = 'PromQLError'
  }
}

/** Signature of one PromQL function: argument types, optional trailing arguments, result. */
interface FunctionSignature {
  readonly args: readonly ValueType[]
  /** 0: fixed arity; -1: the last argument repeats any number of times; n > 0: up to n omitted. */
  readonly variadic: number
}

const V: ValueType = 'vector'
const M: ValueType = 'matrix'
const S: ValueType = 'scalar'
const STR: ValueType = 'string'

/** The functions of Prometheus 2.42 (`promql/parser/functions.go`). */
export const FUNCTIONS: Readonly<Record<string, FunctionSignature>> = {
  abs: { args: [V], variadic: 0 },
  absent: { args: [V], variadic: 0 },
  absent_over_time: { args: [M], variadic: 0 },
  acos: { args: [V], variadic: 0 },
  acosh: { args: [V], variadic: 0 },
  asin: { args: [V], variadic: 0 },
  asinh: { args: [V], variadic: 0 },
  atan: { args: [V], variadic: 0 },
  atanh: { args: [V], variadic: 0 },
  avg_over_time: { args: [M], variadic: 0 },
  ceil: { args: [V], variadic: 0 },
  changes: { args: [M], variadic: 0 },
  clamp: { args: [V, S, S], variadic: 0 },
  clamp_max: { args: [V, S], variadic: 0 },
  clamp_min: { args: [V, S], variadic: 0 },
  cos: { args: [V], variadic: 0 },
  cosh: { args: [V], variadic: 0 },
  count_over_time: { args: [M], variadic: 0 },
  days_in_month: { args: [V], variadic: 1 },
  day_of_month: { args: [V], variadic: 1 },
  day_of_week: { args: [V], variadic: 1 },
  day_of_year: { args: [V], variadic: 1 },
  deg: { args: [V], variadic: 0 },
  delta: { args: [M], variadic: 0 },
  deriv: { args: [M], variadic: 0 },
  exp: { args: [V], variadic: 0 },
  floor: { args: [V], variadic: 0 },
  histogram_count: { args: [V], variadic: 0 },
  histogram_fraction: { args: [S, S, V], variadic: 0 },
  histogram_quantile: { args: [S, V], variadic: 0 },
  histogram_sum: { args: [V], variadic: 0 },
  holt_winters: { args: [M, S, S], variadic: 0 },
  hour: { args: [V], variadic: 1 },
  idelta: { args: [M], variadic: 0 },
  increase: { args: [M], variadic: 0 },
  irate: { args: [M], variadic: 0 },
  label_replace: { args: [V, STR, STR, STR, STR], variadic: 0 },
  label_join: { args: [V, STR, STR, STR], variadic: -1 },
  last_over_time: { args: [M], variadic: 0 },
  ln: { args: [V], variadic: 0 },
  log10: { args: [V], variadic: 0 },
  log2: { args: [V], variadic: 0 },
  max_over_time: { args: [M], variadic: 0 },
  min_over_time: { args: [M], variadic: 0 },
  minute: { args: [V], variadic: 1 },
  month: { args: [V], variadic: 1 },
  pi: { args: [], variadic: 0 },
  predict_linear: { args: [M, S], variadic: 0 },
  present_over_time: { args: [M], variadic: 0 },
  quantile_over_time: { args: [S, M], variadic: 0 },
  rad: { args: [V], variadic: 0 },
  rate: { args: [M], variadic: 0 },
  resets: { args: [M], variadic: 0 },
  round: { args: [V, S], variadic: 1 },
  scalar: { args: [V], variadic: 0 },
  sgn: { args: [V], variadic: 0 },
  sin: { args: [V], variadic: 0 },
  sinh: { args: [V], variadic: 0 },
  sort: { args: [V], variadic: 0 },
  sort_desc: { args: [V], variadic: 0 },
  sqrt: { args: [V], variadic: 0 },
  stddev_over_time: { args: [M], variadic: 0 },
  stdvar_over_time: { args: [M], variadic: 0 },
  sum_over_time: { args: [M], variadic: 0 },
  tan: { args: [V], variadic: 0 },
  tanh: { args: [V], variadic: 0 },
  time: { args: [], variadic: 0 },
  timestamp: { args: [V], variadic: 0 },
  vector: { args: [S], variadic: 0 },
  year: { args: [V], variadic: 1 },
}

/** PromQL's aggregation operators (Prometheus' `promql/parser/lex.go` key words); the series-notation lexer shares them. */
export const AGGREGATORS: ReadonlySet<string> = new Set<string>([
  'sum',
  'avg',
  'min',
  'max',
  'count',
  'group',
  'stddev',
  'stdvar',
  'topk',
  'bottomk',
  'count_values',
  'quantile',
])
const PARAM_AGGREGATORS = new Set<string>(['topk', 'bottomk', 'count_values', 'quantile'])

/** Binary operator precedence, lowest first (Prometheus' yacc `%left`/`%right` list). */
const PRECEDENCE: Record<string, number> = {
  or: 1,
  and: 2,
  unless: 2,
  '==': 3,
  '!=': 3,
  '>': 3,
  '<': 3,
  '>=': 3,
  '<=': 3,
  '+': 4,
  '-': 4,
  '*': 5,
  '/': 5,
  '%': 5,
  atan2: 5,
  '^': 6,
}
/** Unary `-`/`+` bind like `*` (`unary_expr ... %prec MUL`): only `^` binds tighter. */
const UNARY_OPERAND_PRECEDENCE = 6

/**
 * A number token's value as parse.go's `number` reads it: `strconv.ParseInt(s, 0, 64)` (so
 * `017` is octal, `0x1f` hex), else `strconv.ParseFloat(s, 64)`. Returns the error text
 * Prometheus reports after "error parsing number: " when neither takes it: `0x`, `1e`, a hex
 * literal beyond int64 (ParseFloat wants a `p` exponent for hex), `1e400` (out of range).
 */
export function parseNumberLiteral(text: string): number | { error: string } {
  const lower = text.toLowerCase()
  if (lower === 'inf' || lower === '+inf') return Number.POSITIVE_INFINITY
  if (lower === '-inf') return Number.NEGATIVE_INFINITY
  if (lower === 'nan') return Number.NaN
  const int = /^0[xX][0-9a-fA-F]+$/.test(text)
    ? BigInt(text)
    : /^0[0-7]*$/.test(text)
      ? BigInt(text.length > 1 ? `0o${text.slice(1)}` : text)
      : /^[1-9][0-9]*$/.test(text)
        ? BigInt(text)
        : undefined
  if (int !== undefined && int < 2n ** 63n) return Number(int)
  if (!/^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(text))
    return { error: `strconv.ParseFloat: parsing ${goQuote(text)}: invalid syntax` }
  const value = Number(text)
  if (!Number.isFinite(value))
    return { error: `strconv.ParseFloat: parsing ${goQuote(text)}: value out of range` }
  return value
}

function typeName(t: ValueType): string {
  switch (t) {
    case 'matrix':
      return 'range vector'
    case 'vector':
      return 'instant vector'
    default:
      return t
  }
}

function matchesEmpty(m: LabelMatcher): boolean {
  switch (m.type) {
    case '=':
      return m.value === ''
    case '!=':
      return m.value !== ''
    case '=~':
      return (m.regex as MatcherRegex).test('')
    case '!~':
      return !(m.regex as MatcherRegex).test('')
  }
}

const MATCH_TYPES = new Set<TokenType>(['=', '!=', '=~', '!~'])
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/**
 * Words the grammar takes as a metric name where an expression starts (`metric_identifier`),
 * besides plain names and the aggregators: `offset`, `by`, `and`, … are metric names there.
 */
const METRIC_WORDS: ReadonlySet<string> = new Set([
  'by',
  'without',
  'offset',
  'and',
  'or',
  'unless',
  'start',
  'end',
])

/** Largest magnitude of an `@` timestamp in seconds (parse.go `setTimestamp`: float64(math.MaxInt64)). */
const MAX_AT_SECONDS = 2 ** 63

/** A binary expression as written, for checkAST: where its operator is and its modifiers unnormalised. */
interface BinaryWritten {
  opPos: number
  returnBool: boolean
  matching: VectorMatching | undefined
}

/** Token text as lex.go's `Item.String` shows a long literal: 10 characters, then `...`. */
function shortQuote(text: string): string {
  const chars = [...text]
  return chars.length > 10 ? `${goQuote(chars.slice(0, 10).join(''))}...` : goQuote(text)
}

// What the printer (format.ts) needs of how an expression was written, kept beside the tree
// rather than in it: the tree stays what evaluation reads, and
// the written form must not make two equal expressions differ.
/**
 * Vector selectors whose metric name was written before the braces: Prometheus' parser sets
 * `VectorSelector.Name` only then, and `String()` prints `{__name__="foo"}` otherwise.
 */
const NAMED = new WeakSet<Expr>()
/**
 * The grouping labels of an aggregation and the `on`/`ignoring` labels of a binary operation
 * as written: the nodes hold them sorted for evaluation, `String()` prints them in written order.
 */
const WRITTEN_LABELS = new WeakMap<Expr, readonly string[]>()

/** Whether `node`, a vector selector, had its metric name written before the braces. */
export function nameWritten(node: Expr): boolean {
  return NAMED.has(node)
}

/** See WRITTEN_LABELS; the node's sorted labels for a node built elsewhere. */
export function writtenLabels(node: Expr): readonly string[] | undefined {
  return WRITTEN_LABELS.get(node)
}

/**
 * A recursive-descent (precedence-climbing) parser over Prometheus' grammar. Syntax errors
 * are raised where Prometheus' parser meets them (the first one wins, as `ParseErrors.Error`
 * reports the first); type errors only once the whole input parsed, by `checkAST`, in its
 * order and at its positions.
 */
class Parser {
  private i = 0
  private readonly tokens: Token[]
  /** Where each node starts in the input (Prometheus' `PositionRange().Start`). */
  private readonly starts = new WeakMap<Expr, number>()
  private readonly named = NAMED
  private readonly binaries = new WeakMap<Expr, BinaryWritten>()
  /** How many aggregations' parentheses the parser is inside. */
  private aggregations = 0

  constructor(private readonly input: string) {
    this.tokens = tokenize(input)
  }

  /** An error at offset `pos`: line and column as Prometheus counts them, the column in bytes. */
  errorAt(pos: number, message: string): PromQLError {
    const before = this.input.slice(0, pos)
    const line = before.split('\n').length
    const col = new TextEncoder().encode(before.slice(before.lastIndexOf('\n') + 1)).length + 1
    return new PromQLError(`${line}:${col}: parse error: ${message}`)
  }

  /**
   * The error for a token the grammar has no place for, worded as yacc's error recovery words
   * it: inside an aggregation's parentheses (not in a construct with an error rule of its own,
   * such as label matching) `unexpected X in aggregation`, elsewhere `unexpected X`.
   */
  unexpected(t: Token): PromQLError {
    return this.fail(t, `unexpected ${this.describe(t)}${this.aggregations > 0 ? ' in aggregation' : ''}`)
  }

  fail(token: Token, message: string): PromQLError {
    return this.errorAt(token.pos, message)
  }

  /** Records where `node` starts; a node rebuilt from another (`offset`, `@`) keeps its facts. */
  at<T extends Expr>(node: T, pos: number, from?: Expr): T {
    this.starts.set(node, pos)
    if (from !== undefined && this.named.has(from)) this.named.add(node)
    return node
  }

  startOf(node: Expr): number {
    return this.starts.get(node) as number
  }

  peek(offset = 0): Token {
    const t = this.tokens[Math.min(this.i + offset, this.tokens.length - 1)] as Token
    if (t.error !== undefined) throw this.fail(t, t.error)
    return t
  }

  next(): Token {
    const t = this.peek()
    if (this.i < this.tokens.length - 1) this.i++
    return t
  }

  /**
   * A token as Prometheus' parser names it in errors (lex.go `Item.desc`): `end of input`,
   * `identifier "x"`, `metric identifier "a:b"`, a keyword as `<by>`, a word operator as
   * `<op:and>`, an aggregator as `<aggr:sum>`, a number, duration or string with its first ten
   * characters (`number "1234567890"...`), an operator as `<op:+>`, punctuation quoted, `")"`.
   */
  describe(t: Token): string {
    switch (t.type) {
      case 'eof':
        return 'end of input'
      case 'identifier':
        switch (t.kind) {
          case 'keyword':
            return `<${t.text}>`
          case 'operator':
            return `<op:${t.text}>`
          case 'aggregator':
            return `<aggr:${t.text}>`
          case 'preprocessor':
            return shortQuote(t.text)
          case 'metric':
            return `metric identifier ${goQuote(t.text)}`
          default:
            return `identifier ${goQuote(t.text)}`
        }
      case 'number':
      case 'duration':
      case 'string':
        return `${t.type} ${shortQuote(t.text)}`
      case '@':
        // AT has no entry in lex.go's ItemTypeStr, so desc() prefixes the type's fallback
        // name, numbered as in the 2.42 grammar.
        return '"<Item 57385>" <op:@>'
      default:
        return OPERATOR_TOKENS.has(t.type) ? `<op:${t.text}>` : goQuote(t.text)
    }
  }

  expect(type: TokenType, context: string): Token {
    const t = this.next()
    if (t.type !== type) throw this.fail(t, `unexpected ${this.describe(t)} ${context}`)
    return t
  }

  /** The lower-cased word of a keyword, word operator, aggregator or preprocessor token. */
  keyword(t: Token): string | undefined {
    return t.type === 'identifier' && t.kind !== undefined && t.kind !== 'metric'
      ? t.text.toLowerCase()
      : undefined
  }

  /** Whether `t` can begin an expression (the grammar's FIRST(expr)). */
  startsExpr(t: Token): boolean {
    switch (t.type) {
      case 'number':
      case 'string':
      case '(':
      case '{':
      case '+':
      case '-':
        return true
      case 'identifier':
        return (
          t.kind === undefined ||
          t.kind === 'metric' ||
          t.kind === 'aggregator' ||
          METRIC_WORDS.has(t.text.toLowerCase())
        )
      default:
        return false
    }
  }

  parseTop(): Expr {
    if (this.peek().type === 'eof') throw this.errorAt(0, 'no expression found in input')
    const expr = this.expr(0)
    const t = this.peek()
    if (t.type !== 'eof') throw this.unexpected(t)
    this.checkAST(expr)
    return expr
  }

  /** Binary operator at the current token, with its precedence, or undefined. */
  binaryOp(): { op: BinaryOp; prec: number } | undefined {
    const t = this.peek()
    const key = t.type === 'identifier' ? (t.kind === 'operator' ? t.text.toLowerCase() : undefined) : t.type
    const prec = key === undefined ? undefined : PRECEDENCE[key]
    return prec === undefined ? undefined : { op: key as BinaryOp, prec }
  }

  expr(minPrec: number): Expr {
    const start = this.peek().pos
    let lhs = this.unary()
    for (;;) {
      const found = this.binaryOp()
      if (!found || found.prec < minPrec) break
      const opToken = this.next()
      const modifiers = this.binaryModifiers(found.op)
      // `^` is right-associative; every other operator is left-associative.
      const rhs = this.expr(found.op === '^' ? found.prec : found.prec + 1)
      lhs = this.binary(start, opToken, found.op, lhs, rhs, modifiers)
    }
    return lhs
  }

  binaryModifiers(op: BinaryOp): { returnBool: boolean; matching: VectorMatching | undefined } {
    let returnBool = false
    if (this.keyword(this.peek()) === 'bool') {
      this.next()
      returnBool = true
    }
    const kw = this.keyword(this.peek())
    if (kw !== 'on' && kw !== 'ignoring') {
      return { returnBool, matching: undefined }
    }
    this.next()
    const labels = this.groupingLabels()
    let card: Cardinality = isSetOperator(op) ? 'many-to-many' : 'one-to-one'
    let include: string[] = []
    const group = this.keyword(this.peek())
    if (group === 'group_left' || group === 'group_right') {
      this.next()
      card = group === 'group_left' ? 'many-to-one' : 'one-to-many'
      // The labels are optional: anything that cannot begin the right operand is a bad label list.
      const after = this.peek()
      if (after.type === '(') include = this.groupingLabels()
      else if (!this.startsExpr(after))
        throw this.fail(after, `unexpected ${this.describe(after)} in grouping opts, expected "("`)
    }
    return { returnBool, matching: { card, on: kw === 'on', labels, include } }
  }

  /** `(a, b, ...)` with an optional trailing comma; names may be keywords. In written order. */
  groupingLabels(): string[] {
    this.expect('(', 'in grouping opts, expected "("')
    const names: string[] = []
    while (this.peek().type !== ')') {
      const t = this.next()
      // Every keyword may name a label here (`maybe_label`) but `without`.
      if (t.type !== 'identifier' || !LABEL_NAME_RE.test(t.text) || this.keyword(t) === 'without') {
        throw this.fail(t, `unexpected ${this.describe(t)} in grouping opts, expected label`)
      }
      names.push(t.text)
      if (this.peek().type === ',') this.next()
      else if (this.peek().type !== ')') {
        const u = this.peek()
        throw this.fail(u, `unexpected ${this.describe(u)} in grouping opts, expected "," or ")"`)
      }
    }
    this.next()
    return names
  }

  /** A binary expression node; its checks wait for checkAST, which needs it as written. */
  binary(
    start: number,
    opToken: Token,
    op: BinaryOp,
    lhs: Expr,
    rhs: Expr,
    mods: { returnBool: boolean; matching: VectorMatching | undefined },
  ): Expr {
    let matching: VectorMatching | undefined
    if (valueType(lhs) === 'vector' && valueType(rhs) === 'vector') {
      const written = mods.matching ?? {
        card: isSetOperator(op) ? 'many-to-many' : 'one-to-one',
        on: false,
        labels: [],
        include: [],
      }
      matching = { ...written, labels: [...new Set(written.labels)].sort() }
    }
    const node = this.at({ kind: 'binary', op, lhs, rhs, returnBool: mods.returnBool, matching }, start)
    if (mods.matching) WRITTEN_LABELS.set(node, mods.matching.labels)
    this.binaries.set(node, { opPos: opToken.pos, returnBool: mods.returnBool, matching: mods.matching })
    return node
  }

  unary(): Expr {
    const t = this.peek()
    if (t.type === '-' || t.type === '+') {
      this.next()
      const operand = this.expr(UNARY_OPERAND_PRECEDENCE)
      // Prometheus' parser folds a sign into a number literal, which then starts at the sign.
      if (operand.kind === 'number') {
        return this.at({ kind: 'number', value: t.type === '-' ? -operand.value : operand.value }, t.pos)
      }
      return this.at({ kind: 'unary', op: t.type, expr: operand }, t.pos)
    }
    return this.postfix(this.primary(), t.pos)
  }

  /** Range, subquery, `offset` and `@` suffixes, which bind tighter than any operator. */
  postfix(expr: Expr, start: number): Expr {
    for (;;) {
      const t = this.peek()
      if (t.type === '[') {
        expr = this.rangeOrSubquery(expr, start)
      } else if (this.keyword(t) === 'offset') {
        this.next()
        expr = this.offset(expr, start)
      } else if (t.type === '@') {
        this.next()
        expr = this.atModifier(expr, start)
      } else {
        return expr
      }
    }
  }

  /**
   * A duration token's milliseconds, as the grammar's `duration` rule: a zero duration is
   * refused (parse.go `parseDuration`: "duration must be greater than 0"), so `offset 0s`
   * and `[1m:0s]` are errors, as in Prometheus. `where` completes the message for any other
   * token (` in offset`, ` in subquery selector`), as the grammar's error for its position.
   */
  duration(t: Token, where = '', expected = 'duration'): number {
    if (t.type !== 'duration')
      throw this.fail(t, `unexpected ${this.describe(t)}${where}, expected ${expected}`)
    let ms: number
    try {
      ms = parseDuration(t.text)
    } catch (err) {
      if (err instanceof DurationError) throw this.fail(t, err.message)
      throw err
    }
    if (ms === 0) throw this.fail(t, 'duration must be greater than 0')
    return ms
  }

  rangeOrSubquery(expr: Expr, start: number): Expr {
    const open = this.next()
    const rangeMs = this.duration(this.next())
    if (this.peek().type === ']') {
      this.next()
      if (expr.kind !== 'vectorSelector') throw this.fail(open, 'ranges only allowed for vector selectors')
      if (expr.offsetMs !== 0) throw this.fail(open, 'no offset modifiers allowed before range')
      if (expr.at !== undefined) throw this.fail(open, 'no @ modifiers allowed before range')
      return this.at({ kind: 'matrixSelector', selector: expr, rangeMs }, start)
    }
    this.expect(':', 'in subquery or range, expected ":" or "]"')
    let stepMs = 0
    if (this.peek().type !== ']')
      stepMs = this.duration(this.next(), ' in subquery selector', 'duration or "]"')
    this.expect(']', 'in subquery selector, expected "]"')
    return this.at({ kind: 'subquery', expr, rangeMs, stepMs, offsetMs: 0, at: undefined }, start)
  }

  /**
   * The selector or subquery a modifier applies to, as parse.go's `addOffset` and
   * `getAtModifierVars` find it; their errors are at the start of the modified expression.
   */
  modified(expr: Expr, start: number, what: 'offset' | '@'): VectorSelector | Subquery {
    const target = expr.kind === 'matrixSelector' ? expr.selector : expr
    if (target.kind !== 'vectorSelector' && target.kind !== 'subquery') {
      throw this.errorAt(
        start,
        `${what} modifier must be preceded by an instant vector selector or range vector selector or a subquery`,
      )
    }
    return target
  }

  /** `target` rebuilt with a modifier, wrapped again in its range selector when it had one. */
  rebuilt(expr: Expr, start: number, updated: VectorSelector | Subquery): Expr {
    const target = expr.kind === 'matrixSelector' ? expr.selector : expr
    this.at(updated, this.startOf(target), target)
    return expr.kind === 'matrixSelector'
      ? this.at({ ...expr, selector: updated as VectorSelector }, start, expr)
      : updated
  }

  offset(expr: Expr, start: number): Expr {
    let sign = 1
    if (this.peek().type === '-') {
      this.next()
      sign = -1
    }
    const offsetMs = sign * this.duration(this.next(), ' in offset')
    const target = this.modified(expr, start, 'offset')
    if (target.offsetMs !== 0) throw this.errorAt(start, 'offset may not be set multiple times')
    return this.rebuilt(expr, start, { ...target, offsetMs })
  }

  atModifier(expr: Expr, start: number): Expr {
    let at: AtModifier
    const kw = this.keyword(this.peek())
    const unexpected = (t: Token) => this.fail(t, `unexpected ${this.describe(t)} in @, expected timestamp`)
    if (kw === 'start' || kw === 'end') {
      this.next()
      const open = this.next()
      if (open.type !== '(') throw unexpected(open)
      const close = this.next()
      if (close.type !== ')') throw unexpected(close)
      at = { type: kw }
    } else {
      let sign = 1
      if (this.peek().type === '-' || this.peek().type === '+') sign = this.next().type === '-' ? -1 : 1
      const n = this.next()
      if (n.type !== 'number') throw unexpected(n)
      const seconds = sign * this.number(n)
      if (!(seconds < MAX_AT_SECONDS && seconds > -MAX_AT_SECONDS)) {
        throw this.errorAt(start, `timestamp out of bounds for @ modifier: ${formatFloat(seconds, 'f', 6)}`)
      }
      // timestamp.FromFloatSeconds: int64(math.Round(s * 1000)), which on amd64 turns an
      // out-of-range product into math.MinInt64.
      const ms = Math.round(seconds * 1000)
      at = { type: 'time', ms: Math.abs(ms) >= 2 ** 63 ? -(2 ** 63) : ms }
    }
    const target = this.modified(expr, start, '@')
    if (target.at !== undefined) throw this.errorAt(start, '@ <timestamp> may not be set multiple times')
    return this.rebuilt(expr, start, { ...target, at })
  }

  primary(): Expr {
    const t = this.next()
    switch (t.type) {
      case 'number':
        return this.at({ kind: 'number', value: this.number(t) }, t.pos)
      case 'string':
        return this.at({ kind: 'string', value: this.unquote(t) }, t.pos)
      case '(': {
        const inner = this.expr(0)
        const close = this.next()
        if (close.type !== ')') throw this.unexpected(close)
        return this.at({ kind: 'paren', expr: inner }, t.pos)
      }
      case '{':
        return this.selector(t, undefined)
      case 'identifier': {
        const word = t.text.toLowerCase()
        if (t.kind === 'aggregator') {
          // An aggregator not followed by its arguments or a grouping is a metric name.
          const next = this.peek()
          const kw = this.keyword(next)
          if (next.type === '(' || kw === 'by' || kw === 'without')
            return this.aggregate(t, word as AggregateOp)
        } else if (t.kind === undefined && this.peek().type === '(') {
          return this.call(t)
        } else if ((t.kind === 'keyword' || t.kind === 'operator') && !METRIC_WORDS.has(word)) {
          throw this.unexpected(t)
        }
        return this.selector(t, t.text)
      }
      default:
        throw this.unexpected(t)
    }
  }

  /** A number token's value; a literal Go cannot read is an error at the token, as in parse.go. */
  number(t: Token): number {
    const value = parseNumberLiteral(t.text)
    if (typeof value === 'number') return value
    throw this.fail(t, `error parsing number: ${value.error}`)
  }

  unquote(t: Token): string {
    try {
      return unquote(t.text)
    } catch (err) {
      throw this.fail(t, (err as Error).message)
    }
  }

  /**
   * A vector selector starting at `first`: a metric name (`name`) with optional `{...}`, or
   * `{...}` alone (`first` is its brace). Its checks wait for checkAST.
   */
  selector(first: Token, name: string | undefined): VectorSelector {
    const braces = name === undefined || this.peek().type === '{'
    if (name !== undefined && braces) this.next()
    const matchers: LabelMatcher[] = braces ? this.matchers() : []
    if (name !== undefined) matchers.unshift({ name: METRIC_NAME, type: '=', value: name })
    const nameMatcher = matchers.find((m) => m.name === METRIC_NAME && m.type === '=')
    const node = this.at(
      { kind: 'vectorSelector', name: nameMatcher?.value, matchers, offsetMs: 0, at: undefined } as const,
      first.pos,
    )
    if (name !== undefined) this.named.add(node)
    return node
  }

  /** The body of `{...}` (the `{` already read): matchers with an optional trailing comma. */
  matchers(): LabelMatcher[] {
    const out: LabelMatcher[] = []
    while (this.peek().type !== '}') {
      const nameToken = this.next()
      if (nameToken.type !== 'identifier') {
        throw this.fail(
          nameToken,
          `unexpected ${this.describe(nameToken)} in label matching, expected identifier or "}"`,
        )
      }
      const opToken = this.next()
      if (!MATCH_TYPES.has(opToken.type)) {
        throw this.fail(
          opToken,
          `unexpected ${this.describe(opToken)} in label matching, expected label matching operator`,
        )
      }
      const valueToken = this.next()
      if (valueToken.type !== 'string') {
        throw this.fail(
          valueToken,
          `unexpected ${this.describe(valueToken)} in label matching, expected string`,
        )
      }
      out.push(this.matcher(nameToken.text, opToken.type as MatchType, this.unquote(valueToken), nameToken))
      if (this.peek().type === ',') this.next()
      else if (this.peek().type !== '}') {
        const u = this.peek()
        throw this.fail(u, `unexpected ${this.describe(u)} in label matching, expected "," or "}"`)
      }
    }
    this.next()
    return out
  }

  /** A label matcher; a bad regex is an error at the label's name, as parse.go's `newLabelMatcher`. */
  matcher(name: string, type: MatchType, value: string, at: Token): LabelMatcher {
    if (type !== '=~' && type !== '!~') return { name, type, value }
    try {
      return { name, type, value, regex: compileMatcherRegex(value) }
    } catch (err) {
      if (err instanceof RegexError) throw this.fail(at, err.message)
      throw err
    }
  }

  /** `(arg, ...)`; a trailing comma is refused as Prometheus refuses it. */
  callArgs(): Expr[] {
    this.expect('(', 'expected "("')
    const args: Expr[] = []
    while (this.peek().type !== ')') {
      args.push(this.expr(0))
      if (this.peek().type === ',') {
        const comma = this.next()
        // The grammar's `function_call_args COMMA` rule: whatever cannot begin another argument.
        if (!this.startsExpr(this.peek()))
          throw this.fail(comma, 'trailing commas not allowed in function call args')
      } else if (this.peek().type !== ')') {
        throw this.unexpected(this.peek())
      }
    }
    this.next()
    return args
  }

  call(nameToken: Token): Expr {
    const name = nameToken.text
    // After the arguments, as Prometheus' grammar looks the function up once the call is read:
    // `foo(` is an unclosed parenthesis before it is an unknown function.
    const args = this.callArgs()
    if (!FUNCTIONS[name]) throw this.fail(nameToken, `unknown function with name ${goQuote(name)}`)
    return this.at({ kind: 'call', func: name, args }, nameToken.pos)
  }

  /**
   * `op [by|without (…)] (args) [by|without (…)]`; the argument count is checked here, as
   * parse.go's `newAggregateExpr` checks it, the types later by checkAST.
   */
  aggregate(opToken: Token, op: AggregateOp): Expr {
    let grouping: string[] | undefined
    let without = false
    const modifier = (): boolean => {
      const kw = this.keyword(this.peek())
      if (kw !== 'by' && kw !== 'without') return false
      this.next()
      without = kw === 'without'
      grouping = this.groupingLabels()
      return true
    }
    if (modifier() && this.peek().type !== '(') {
      const u = this.peek()
      throw this.fail(u, `unexpected ${this.describe(u)} in aggregation`)
    }
    this.aggregations++
    const args = this.callArgs()
    this.aggregations--
    if (grouping === undefined) modifier()
    if (args.length === 0) throw this.fail(opToken, 'no arguments for aggregate expression provided')
    const expected = PARAM_AGGREGATORS.has(op) ? 2 : 1
    if (args.length !== expected) {
      throw this.fail(
        opToken,
        `wrong number of arguments for aggregate expression provided, expected ${expected}, got ${args.length}`,
      )
    }
    const node = this.at(
      {
        kind: 'aggregate',
        op,
        grouping: [...new Set(grouping ?? [])].sort(),
        without,
        expr: args[expected - 1] as Expr,
        param: expected === 2 ? (args[0] as Expr) : undefined,
      },
      opToken.pos,
    )
    WRITTEN_LABELS.set(node, grouping ?? [])
    return node
  }

  /** parse.go `expectType`: the node's own errors first, then its type, at its start. */
  expectType(node: Expr, want: ValueType, context: string): void {
    const got = this.checkAST(node)
    if (got !== want) {
      throw this.errorAt(
        this.startOf(node),
        `expected type ${typeName(want)} in ${context}, got ${typeName(got)}`,
      )
    }
  }

  /**
   * Prometheus' `checkAST` (promql/parser/parse.go), run once the whole input parsed: the
   * type and matching errors, in its order (children first, a call's argument count before
   * its arguments) and at its positions. Throws the first; returns the node's type.
   */
  checkAST(node: Expr): ValueType {
    const at = (n: Expr, message: string) => this.errorAt(this.startOf(n), message)
    switch (node.kind) {
      case 'aggregate':
        this.expectType(node.expr, 'vector', 'aggregation expression')
        if (node.op === 'topk' || node.op === 'bottomk' || node.op === 'quantile')
          this.expectType(node.param as Expr, 'scalar', 'aggregation parameter')
        if (node.op === 'count_values') this.expectType(node.param as Expr, 'string', 'aggregation parameter')
        break
      case 'binary': {
        const lt = this.checkAST(node.lhs)
        const rt = this.checkAST(node.rhs)
        const written = this.binaries.get(node) as BinaryWritten
        const op = node.op
        const atOp = (message: string) => this.errorAt(written.opPos, message)
        if (written.returnBool && !isComparison(op))
          throw atOp('bool modifier can only be used on comparison operators')
        if (isComparison(op) && !written.returnBool && lt === 'scalar' && rt === 'scalar')
          throw atOp('comparisons between scalars must use BOOL modifier')
        const m = written.matching
        if (m?.on) {
          for (const l1 of m.labels) {
            if (m.include.includes(l1))
              throw atOp(`label ${goQuote(l1)} must not occur in ON and GROUP clause at once`)
          }
        }
        if (lt !== 'scalar' && lt !== 'vector')
          throw at(node.lhs, 'binary expression must contain only scalar and instant vector types')
        if (rt !== 'scalar' && rt !== 'vector')
          throw at(node.rhs, 'binary expression must contain only scalar and instant vector types')
        if (lt !== 'vector' || rt !== 'vector') {
          if (m !== undefined && m.labels.length > 0)
            throw at(node, 'vector matching only allowed between instant vectors')
        } else if (isSetOperator(op) && (m?.card === 'one-to-many' || m?.card === 'many-to-one')) {
          throw at(node, `no grouping allowed for ${goQuote(op)} operation`)
        }
        if ((lt === 'scalar' || rt === 'scalar') && isSetOperator(op))
          throw at(node, `set operator ${goQuote(op)} not allowed in binary scalar expression`)
        break
      }
      case 'call': {
        const sig = FUNCTIONS[node.func] as FunctionSignature
        const nargs = sig.args.length
        const got = node.args.length
        const name = goQuote(node.func)
        if (sig.variadic === 0) {
          if (nargs !== got) throw at(node, `expected ${nargs} argument(s) in call to ${name}, got ${got}`)
        } else if (nargs - 1 > got) {
          throw at(node, `expected at least ${nargs - 1} argument(s) in call to ${name}, got ${got}`)
        } else if (sig.variadic > 0 && nargs - 1 + sig.variadic < got) {
          throw at(
            node,
            `expected at most ${nargs - 1 + sig.variadic} argument(s) in call to ${name}, got ${got}`,
          )
        }
        node.args.forEach((arg, i) => {
          this.expectType(arg, sig.args[Math.min(i, nargs - 1)] as ValueType, `call to function ${name}`)
        })
        break
      }
      case 'paren':
        this.checkAST(node.expr)
        break
      case 'unary': {
        const t = this.checkAST(node.expr)
        if (t !== 'scalar' && t !== 'vector')
          throw at(
            node,
            `unary expression only allowed on expressions of type scalar or instant vector, got "${typeName(t)}"`,
          )
        break
      }
      case 'subquery': {
        const t = this.checkAST(node.expr)
        if (t !== 'vector') throw at(node, `subquery is only allowed on instant vector, got ${t} instead`)
        break
      }
      case 'matrixSelector':
        this.checkAST(node.selector)
        break
      case 'vectorSelector':
        if (this.named.has(node)) {
          // The name written before the braces is the first matcher here (Prometheus: the last).
          for (const m of node.matchers.slice(1)) {
            if (m.name === METRIC_NAME)
              throw at(
                node,
                `metric name must not be set twice: ${goQuote(node.matchers[0]?.value ?? '')} or ${goQuote(m.value)}`,
              )
          }
        } else if (!node.matchers.some((m) => !matchesEmpty(m))) {
          throw at(node, 'vector selector must contain at least one non-empty matcher')
        }
        break
    }
    return valueType(node)
  }

  /** A series description (`name{a="b", ...}`) as promtool test files use it. */
  seriesLabels(): Record<string, string> {
    const labels: Record<string, string> = {}
    let t = this.next()
    if (t.type === 'identifier') {
      labels[METRIC_NAME] = t.text
      t = this.next()
    }
    if (t.type === '{') {
      for (const m of this.matchers()) {
        if (m.type !== '=')
          throw new PromQLError(`series description ${JSON.stringify(this.input)} may only use "="`)
        labels[m.name] = m.value
      }
      t = this.next()
    }
    if (t.type !== 'eof' || (Object.keys(labels).length === 0 && !this.input.includes('{'))) {
      throw new PromQLError(`invalid series description ${JSON.stringify(this.input)}`)
    }
    return labels
  }
}

/**
 * Parses a PromQL expression as Prometheus 2.42's parser does (`promql/parser`): operator
 * precedence and associativity, `#` comments anywhere, offset/`@`/range/subquery suffixes
 * binding tightest, and Prometheus' type checks. Throws `PromQLError` for syntax and type
 * errors. A range vector or string is a valid expression, as in Prometheus, whose rule
 * loading accepts it: a rule of that type fails each evaluation instead (`evaluateInstant`:
 * "rule result is not a vector or scalar").
 */
export function parsePromQL(input: string): Expr {
  return new Parser(input).parseTop()
}

/** Parses a series description such as `http_requests_total{status="500"}` into labels. */
export function parseSeriesLabels(input: string): Record<string, string> {
  try {
    return new Parser(input).seriesLabels()
  } catch (err) {
    if (err instanceof PromQLError && err.message.startsWith('series description')) throw err
    throw new PromQLError(`invalid series description ${JSON.stringify(input)}`)
  }
}
