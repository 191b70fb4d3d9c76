import { DurationError, parseDuration } from '../duration.ts'
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
  type ValueType,
  type VectorMatching,
  type VectorSelector,
  valueType,
} from './ast.ts'
import { METRIC_NAME } from './labels.ts'
import { LexError, type Token, type TokenType, tokenize } from './lexer.ts'
import { compileMatcherRegex, type MatcherRegex, RegexError } from './regex.ts'
import { unquote } from './strings.ts'

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

const NUMBER_RE = /^(?:0[xX][0-9a-fA-F]+|0[0-7]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$/

/** Number literals as Prometheus' lexer reads them (hex, octal, float, Inf, NaN). */
export function parseNumberLiteral(literal: string): number | undefined {
  const sign = literal.startsWith('-') ? -1 : 1
  const text = /^[+-]/.test(literal) ? literal.slice(1) : literal
  const value = parseUnsigned(text)
  return value === undefined ? undefined : sign * value
}

function parseUnsigned(text: string): number | undefined {
  const lower = text.toLowerCase()
  if (lower === 'inf') return Number.POSITIVE_INFINITY
  if (lower === 'nan') return Number.NaN
  if (!NUMBER_RE.test(text)) return undefined
  // Go's strconv.ParseInt(s, 0, 64) runs first: a leading 0 means octal.
  if (/^0[0-7]+$/.test(text)) return Number.parseInt(text, 8)
  return Number(text)
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

/** A recursive-descent (precedence-climbing) parser over Prometheus' grammar. */
class Parser {
  private i = 0
  private readonly tokens: Token[]

  constructor(private readonly input: string) {
    try {
      this.tokens = tokenize(input)
    } catch (err) {
      if (err instanceof LexError) throw this.errorAt(err.pos, err.message)
      throw err
    }
  }

  errorAt(pos: number, message: string): PromQLError {
    const before = this.input.slice(0, pos)
    const line = before.split('\n').length
    const col = pos - before.lastIndexOf('\n')
    return new PromQLError(`${line}:${col}: parse error: ${message}`)
  }

  fail(token: Token, message: string): PromQLError {
    return this.errorAt(token.pos, message)
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
   * `identifier "x"` (likewise number, duration, string), an operator as `<op:+>` and
   * punctuation quoted, `")"`.
   */
  describe(t: Token): string {
    if (t.type === 'eof') return 'end of input'
    if (t.type === 'identifier' || t.type === 'number' || t.type === 'duration' || t.type === 'string')
      return `${t.type} ${JSON.stringify(t.text)}`
    return OPERATOR_TOKENS.has(t.type) ? `<op:${t.text}>` : JSON.stringify(t.text)
  }

  expect(type: TokenType, context: string): Token {
    const t = this.next()
    if (t.type !== type) throw this.fail(t, `unexpected ${this.describe(t)} ${context}`)
    return t
  }

  keyword(t: Token): string | undefined {
    return t.type === 'identifier' ? t.text.toLowerCase() : undefined
  }

  parseTop(): Expr {
    if (this.peek().type === 'eof') throw new PromQLError('no expression found in input')
    const expr = this.expr(0)
    const t = this.peek()
    if (t.type !== 'eof') throw this.fail(t, `unexpected ${this.describe(t)}`)
    return expr
  }

  /** Binary operator at the current token, with its precedence, or undefined. */
  binaryOp(): { op: BinaryOp; prec: number } | undefined {
    const t = this.peek()
    const key = t.type === 'identifier' ? t.text.toLowerCase() : t.type
    const prec = PRECEDENCE[key]
    if (prec === undefined || (t.type === 'identifier' && !['and', 'or', 'unless', 'atan2'].includes(key)))
      return undefined
    return { op: key as BinaryOp, prec }
  }

  expr(minPrec: number): Expr {
    const lhsStart = this.peek()
    let lhs = this.unary()
    for (;;) {
      const found = this.binaryOp()
      if (!found || found.prec < minPrec) break
      const opToken = this.next()
      const modifiers = this.binaryModifiers(found.op)
      const rhsStart = this.peek()
      // `^` is right-associative; every other operator is left-associative.
      const rhs = this.expr(found.op === '^' ? found.prec : found.prec + 1)
      lhs = this.binary({ op: opToken, lhs: lhsStart, rhs: rhsStart }, found.op, lhs, rhs, modifiers)
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
      const groupToken = this.next()
      if (isSetOperator(op)) throw this.fail(groupToken, `no grouping allowed for "${op}" operation`)
      card = group === 'group_left' ? 'many-to-one' : 'one-to-many'
      if (this.peek().type === '(') include = this.groupingLabels()
      for (const name of include) {
        if (labels.includes(name) && kw === 'on') {
          throw this.fail(groupToken, `label "${name}" must not occur in ON and GROUP clause at once`)
        }
      }
    }
    return { returnBool, matching: { card, on: kw === 'on', labels, include } }
  }

  /** `(a, b, ...)` with an optional trailing comma; names may be keywords. Sorted, deduplicated. */
  groupingLabels(): string[] {
    this.expect('(', 'in grouping opts, expected "("')
    const names: string[] = []
    while (this.peek().type !== ')') {
      const t = this.next()
      if (t.type !== 'identifier' || !LABEL_NAME_RE.test(t.text)) {
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

  /**
   * A binary expression, checked in the order of Prometheus' `checkAST`: the operator's own
   * errors at the operator, then an operand of the wrong type at that operand's start.
   * `at` holds the tokens where the operator and each operand begin.
   */
  binary(
    at: { op: Token; lhs: Token; rhs: Token },
    op: BinaryOp,
    lhs: Expr,
    rhs: Expr,
    mods: { returnBool: boolean; matching: VectorMatching | undefined },
  ): Expr {
    const lt = valueType(lhs)
    const rt = valueType(rhs)
    const fail = (message: string) => this.fail(at.op, message)
    if (mods.returnBool && !isComparison(op))
      throw fail('bool modifier can only be used on comparison operators')
    if (isComparison(op) && lt === 'scalar' && rt === 'scalar' && !mods.returnBool) {
      throw fail('comparisons between scalars must use BOOL modifier')
    }
    for (const [type, start] of [
      [lt, at.lhs],
      [rt, at.rhs],
    ] as const) {
      if (type !== 'scalar' && type !== 'vector')
        throw this.fail(start, 'binary expression must contain only scalar and instant vector types')
    }
    if (isSetOperator(op) && (lt === 'scalar' || rt === 'scalar')) {
      throw fail(`set operator "${op}" not allowed in binary scalar expression`)
    }
    let matching = mods.matching
    if (lt === 'vector' && rt === 'vector') {
      matching ??= {
        card: isSetOperator(op) ? 'many-to-many' : 'one-to-one',
        on: false,
        labels: [],
        include: [],
      }
    } else if (matching && matching.labels.length > 0) {
      // Prometheus ignores an empty on()/ignoring() and group modifiers next to a scalar.
      throw fail('vector matching only allowed between instant vectors')
    } else {
      matching = undefined
    }
    if (matching) {
      matching = {
        ...matching,
        labels: [...new Set(matching.labels)].sort(),
      }
    }
    return { kind: 'binary', op, lhs, rhs, returnBool: mods.returnBool, matching }
  }

  unary(): Expr {
    const t = this.peek()
    if (t.type === '-' || t.type === '+') {
      this.next()
      const operand = this.expr(UNARY_OPERAND_PRECEDENCE)
      const type = valueType(operand)
      if (type !== 'scalar' && type !== 'vector') {
        throw this.fail(t, 'unary expression only allowed on expressions of type scalar or instant vector')
      }
      // Prometheus' parser folds a sign into a number literal.
      if (operand.kind === 'number') {
        return { kind: 'number', value: t.type === '-' ? -operand.value : operand.value }
      }
      return { kind: 'unary', op: t.type, expr: operand }
    }
    return this.postfix(this.primary())
  }

  /** Range, subquery, `offset` and `@` suffixes, which bind tighter than any operator. */
  postfix(expr: Expr): Expr {
    for (;;) {
      const t = this.peek()
      if (t.type === '[') {
        expr = this.rangeOrSubquery(expr)
      } else if (this.keyword(t) === 'offset') {
        this.next()
        expr = this.offset(t, expr)
      } else if (t.type === '@') {
        this.next()
        expr = this.at(t, expr)
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

  rangeOrSubquery(expr: Expr): Expr {
    const open = this.next()
    const rangeToken = this.next()
    const rangeMs = this.duration(rangeToken)
    if (this.peek().type === ']') {
      this.next()
      if (expr.kind !== 'vectorSelector') throw this.fail(open, 'ranges only allowed for vector selectors')
      if (expr.offsetMs !== 0) throw this.fail(open, 'no offset modifiers allowed before range')
      if (expr.at !== undefined) throw this.fail(open, 'no @ modifiers allowed before range')
      return { kind: 'matrixSelector', selector: expr, rangeMs }
    }
    this.expect(':', 'in subquery or range, expected ":" or "]"')
    let stepMs = 0
    if (this.peek().type !== ']')
      stepMs = this.duration(this.next(), ' in subquery selector', 'duration or "]"')
    this.expect(']', 'in subquery selector, expected "]"')
    const type = valueType(expr)
    if (type !== 'vector') {
      throw this.fail(open, `subquery is only allowed on instant vector, got ${typeName(type)} instead`)
    }
    return { kind: 'subquery', expr, rangeMs, stepMs, offsetMs: 0, at: undefined }
  }

  offset(t: Token, expr: Expr): Expr {
    let sign = 1
    if (this.peek().type === '-') {
      this.next()
      sign = -1
    }
    const offsetMs = sign * this.duration(this.next(), ' in offset')
    const target = expr.kind === 'matrixSelector' ? expr.selector : expr
    if (target.kind !== 'vectorSelector' && target.kind !== 'subquery') {
      throw this.fail(
        t,
        'offset modifier must be preceded by an instant vector selector or range vector selector or a subquery',
      )
    }
    if (target.offsetMs !== 0) throw this.fail(t, 'offset may not be set multiple times')
    const updated = { ...target, offsetMs }
    return expr.kind === 'matrixSelector' ? { ...expr, selector: updated as VectorSelector } : updated
  }

  at(t: Token, expr: Expr): Expr {
    let at: AtModifier
    const kw = this.keyword(this.peek())
    if (kw === 'start' || kw === 'end') {
      this.next()
      this.expect('(', `after "${kw}", expected "("`)
      this.expect(')', `after "${kw}(", expected ")"`)
      at = { type: kw }
    } else {
      let sign = 1
      if (this.peek().type === '-' || this.peek().type === '+') sign = this.next().type === '-' ? -1 : 1
      const n = this.next()
      if (n.type !== 'number') throw this.fail(n, `unexpected ${this.describe(n)} in @, expected timestamp`)
      const seconds = sign * (parseNumberLiteral(n.text) as number)
      // timestamp.FromFloatSeconds, bounded like Prometheus' int64 milliseconds.
      const ms = Math.round(seconds * 1000)
      if (!Number.isFinite(seconds) || Math.abs(ms) > 9.223372036854776e18) {
        throw this.fail(n, 'timestamp out of bounds for @ modifier')
      }
      at = { type: 'time', ms }
    }
    const target = expr.kind === 'matrixSelector' ? expr.selector : expr
    if (target.kind !== 'vectorSelector' && target.kind !== 'subquery') {
      throw this.fail(
        t,
        '@ modifier must be preceded by an instant vector selector or range vector selector or a subquery',
      )
    }
    if (target.at !== undefined) throw this.fail(t, '@ <timestamp> may not be set multiple times')
    const updated = { ...target, at }
    return expr.kind === 'matrixSelector' ? { ...expr, selector: updated as VectorSelector } : updated
  }

  primary(): Expr {
    const t = this.next()
    switch (t.type) {
      case 'number':
        return { kind: 'number', value: parseNumberLiteral(t.text) as number }
      case 'string':
        return { kind: 'string', value: this.unquote(t) }
      case '(': {
        const inner = this.expr(0)
        this.expect(')', 'in paren expression, expected ")"')
        return { kind: 'paren', expr: inner }
      }
      case '{':
        return this.selector(t, undefined)
      case 'identifier': {
        const lower = t.text.toLowerCase()
        if (AGGREGATORS.has(lower)) return this.aggregate(t, lower as AggregateOp)
        if (this.peek().type === '(') return this.call(t)
        if (
          [
            'and',
            'or',
            'unless',
            'atan2',
            'bool',
            'on',
            'ignoring',
            'group_left',
            'group_right',
            'by',
            'without',
            'offset',
          ].includes(lower)
        ) {
          throw this.fail(t, `unexpected ${lower}`)
        }
        if (this.peek().type === '{') return this.selector(this.next(), t.text, t)
        return this.selector(t, t.text, t, false)
      }
      case 'duration':
        throw this.fail(t, `unexpected duration ${JSON.stringify(t.text)}`)
      case 'eof':
        throw this.fail(t, 'unexpected end of input')
      default:
        throw this.fail(t, `unexpected ${this.describe(t)}`)
    }
  }

  unquote(t: Token): string {
    try {
      return unquote(t.text)
    } catch (err) {
      throw this.fail(t, (err as Error).message)
    }
  }

  /** `{...}` after an optional metric name; `braces` false for a bare metric name. */
  selector(open: Token, name: string | undefined, nameToken?: Token, braces = true): VectorSelector {
    const matchers: LabelMatcher[] = braces ? this.matchers() : []
    if (name !== undefined) {
      for (const m of matchers) {
        if (m.name === METRIC_NAME) {
          throw this.fail(nameToken ?? open, `metric name must not be set twice: "${name}" or "${m.value}"`)
        }
      }
      matchers.unshift({ name: METRIC_NAME, type: '=', value: name })
    }
    if (!matchers.some((m) => !matchesEmpty(m))) {
      throw this.fail(nameToken ?? open, 'vector selector must contain at least one non-empty matcher')
    }
    const nameMatcher = matchers.find((m) => m.name === METRIC_NAME && m.type === '=')
    return { kind: 'vectorSelector', name: nameMatcher?.value, matchers, offsetMs: 0, at: undefined }
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
      out.push(this.matcher(nameToken.text, opToken.type as MatchType, this.unquote(valueToken), valueToken))
      if (this.peek().type === ',') this.next()
      else if (this.peek().type !== '}') {
        const u = this.peek()
        throw this.fail(u, `unexpected ${this.describe(u)} in label matching, expected "," or "}"`)
      }
    }
    this.next()
    return out
  }

  matcher(name: string, type: MatchType, value: string, at: Token): LabelMatcher {
    if (type !== '=~' && type !== '!~') return { name, type, value }
    try {
      return { name, type, value, regex: compileMatcherRegex(value) }
    } catch (err) {
      if (err instanceof RegexError) throw this.fail(at, err.message)
      throw err
    }
  }

  /** `(arg, ...)` with an optional trailing comma. */
  callArgs(): { args: Expr[]; tokens: Token[] } {
    this.expect('(', 'expected "("')
    const args: Expr[] = []
    const tokens: Token[] = []
    while (this.peek().type !== ')') {
      tokens.push(this.peek())
      args.push(this.expr(0))
      if (this.peek().type === ',') {
        const comma = this.next()
        if (this.peek().type === ')')
          throw this.fail(comma, 'trailing commas not allowed in function call args')
      } else if (this.peek().type !== ')') {
        const u = this.peek()
        throw this.fail(u, `unexpected ${this.describe(u)} in argument list, expected "," or ")"`)
      }
    }
    this.next()
    return { args, tokens }
  }

  call(nameToken: Token): Expr {
    const name = nameToken.text
    const sig = FUNCTIONS[name]
    // After the arguments, as Prometheus' grammar looks the function up once the call is read:
    // `foo(` is an unclosed parenthesis before it is an unknown function.
    const { args } = this.callArgs()
    if (!sig) throw this.fail(nameToken, `unknown function with name ${JSON.stringify(name)}`)
    const n = sig.args.length
    if (sig.variadic === 0 && args.length !== n) {
      throw this.fail(nameToken, `expected ${n} argument(s) in call to "${name}", got ${args.length}`)
    }
    if (sig.variadic > 0 && (args.length < n - sig.variadic || args.length > n)) {
      throw this.fail(
        nameToken,
        args.length < n - sig.variadic
          ? `expected at least ${n - sig.variadic} argument(s) in call to "${name}", got ${args.length}`
          : `expected at most ${n} argument(s) in call to "${name}", got ${args.length}`,
      )
    }
    if (sig.variadic < 0 && args.length < n - 1) {
      throw this.fail(
        nameToken,
        `expected at least ${n - 1} argument(s) in call to "${name}", got ${args.length}`,
      )
    }
    args.forEach((arg, i) => {
      const expected = sig.args[Math.min(i, n - 1)] as ValueType
      this.checkType(nameToken, arg, expected, `call to function "${name}"`)
    })
    return { kind: 'call', func: name, args }
  }

  checkType(at: Token, arg: Expr, expected: ValueType, context: string): void {
    const got = valueType(arg)
    if (got !== expected) {
      throw this.fail(at, `expected type ${typeName(expected)} in ${context}, got ${typeName(got)}`)
    }
  }

  aggregate(opToken: Token, op: AggregateOp): Expr {
    let grouping: string[] | undefined
    let without = false
    const modifier = (): void => {
      const kw = this.keyword(this.peek())
      if (kw !== 'by' && kw !== 'without') return
      const t = this.next()
      if (grouping !== undefined) throw this.fail(t, 'unexpected second grouping clause')
      without = kw === 'without'
      grouping = this.groupingLabels()
    }
    modifier()
    const { args } = this.callArgs()
    if (grouping === undefined) modifier()
    const expected = PARAM_AGGREGATORS.has(op) ? 2 : 1
    if (args.length !== expected) {
      throw this.fail(
        opToken,
        `wrong number of arguments for aggregate expression provided, expected ${expected}, got ${args.length}`,
      )
    }
    const expr = args[expected - 1] as Expr
    const param = expected === 2 ? (args[0] as Expr) : undefined
    this.checkType(opToken, expr, 'vector', 'aggregation expression')
    if (param) {
      this.checkType(opToken, param, op === 'count_values' ? 'string' : 'scalar', 'aggregation parameter')
    }
    return {
      kind: 'aggregate',
      op,
      grouping: [...new Set(grouping ?? [])].sort(),
      without,
      expr,
      param,
    }
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
