import type { SyntaxNode } from '@lezer/common'
import { parser } from '@prometheus-io/lezer-promql'
import { DurationError, parseDuration } from '../duration.ts'
import {
  type AggregateOp,
  type BinaryOp,
  type Expr,
  type FunctionName,
  isComparison,
  isSetOperator,
  type LabelMatcher,
  type MatchType,
  type MatrixSelector,
  type ValueType,
  type VectorSelector,
  valueType,
} from './ast.ts'
import { METRIC_NAME } from './labels.ts'
import { compileMatcherRegex, RegexError } from './regex.ts'
import { unquote } from './strings.ts'

/**
 * A PromQL expression the embedded engine refuses: a syntax error, a type error
 * Prometheus would also report, or a valid construct outside the supported subset
 * (`construct` then names it, e.g. "subquery" or "function label_replace").
 */
export class PromQLError extends Error {
  constructor(
    message: string,
    readonly construct?: string,
  ) {
    super(message)
    this.name = 'PromQLError'
  }
}

function unsupported(construct: string, detail?: string): PromQLError {
  return new PromQLError(
    `unsupported PromQL construct: ${construct}${detail ? ` (${detail})` : ''}; the embedded engine evaluates only the documented subset`,
    construct,
  )
}

const RANGE_FUNCTIONS = new Set<FunctionName>([
  'rate',
  'increase',
  'irate',
  'delta',
  'avg_over_time',
  'min_over_time',
  'max_over_time',
  'sum_over_time',
  'count_over_time',
])

const AGGREGATES = new Set<AggregateOp>(['sum', 'avg', 'min', 'max', 'count'])

const BINARY_OPS: Record<string, BinaryOp> = {
  Pow: '^',
  Mul: '*',
  Div: '/',
  Mod: '%',
  Add: '+',
  Sub: '-',
  Eql: '==',
  Neq: '!=',
  Gtr: '>',
  Lss: '<',
  Gte: '>=',
  Lte: '<=',
  And: 'and',
  Or: 'or',
  Unless: 'unless',
}

const MATCH_OPS: Record<string, MatchType> = { EqlSingle: '=', Neq: '!=', EqlRegex: '=~', NeqRegex: '!~' }

/** Node names of constructs the grammar knows but the subset excludes, with their names. */
const UNSUPPORTED_NODES: Record<string, string> = {
  SubqueryExpr: 'subquery',
  StepInvariantExpr: '@ modifier',
  AnchoredExpr: 'anchored modifier',
  SmoothedExpr: 'smoothed modifier',
  StringLiteral: 'string literal',
  FillModifier: 'fill modifier',
  FillClause: 'fill modifier',
  FillLeftClause: 'fill modifier',
  FillRightClause: 'fill modifier',
}

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

class Parser {
  constructor(private readonly input: string) {}

  text(node: SyntaxNode): string {
    return this.input.slice(node.from, node.to)
  }

  fail(node: SyntaxNode, message: string): PromQLError {
    return new PromQLError(`${message} (at character ${node.from + 1}: "${this.text(node)}")`)
  }

  children(node: SyntaxNode): SyntaxNode[] {
    const out: SyntaxNode[] = []
    for (let child = node.firstChild; child; child = child.nextSibling) out.push(child)
    return out
  }

  expr(node: SyntaxNode): Expr {
    const name = node.type.name
    const excluded = UNSUPPORTED_NODES[name]
    if (excluded) throw unsupported(excluded, this.text(node))
    switch (name) {
      case 'NumberDurationLiteral':
        return { kind: 'number', value: this.number(node) }
      case 'VectorSelector':
        return this.vectorSelector(node, 0)
      case 'MatrixSelector':
        return this.matrixSelector(node, 0)
      case 'OffsetExpr':
        return this.offsetExpr(node)
      case 'ParenExpr': {
        const inner = this.children(node)
        if (inner.length !== 1) throw this.fail(node, 'unexpected parenthesised expression')
        return { kind: 'paren', expr: this.expr(inner[0] as SyntaxNode) }
      }
      case 'UnaryExpr':
        return this.unary(node)
      case 'BinaryExpr':
        return this.binary(node)
      case 'FunctionCall':
        return this.call(node)
      case 'AggregateExpr':
        return this.aggregate(node)
      default:
        throw this.fail(node, `unexpected ${name}`)
    }
  }

  number(node: SyntaxNode): number {
    const text = this.text(node)
    const value = parseNumberLiteral(text)
    if (value === undefined) {
      // Recent grammars accept a duration where a number is expected ("5m" as 300); Prometheus 2.x does not.
      throw unsupported('duration used as a number', text)
    }
    return value
  }

  duration(node: SyntaxNode): number {
    const children = this.children(node)
    const literal = children[0]
    if (children.length !== 1 || !literal || literal.type.name !== 'NumberDurationLiteralInDurationContext') {
      throw unsupported('duration expression', this.text(node))
    }
    const text = this.text(literal)
    try {
      return parseDuration(text)
    } catch (err) {
      if (err instanceof DurationError) throw this.fail(literal, `bad duration: ${err.message}`)
      throw err
    }
  }

  unary(node: SyntaxNode): Expr {
    const [opNode, operand] = this.children(node)
    if (!opNode || !operand) throw this.fail(node, 'incomplete unary expression')
    const op = this.text(opNode) === '-' ? '-' : '+'
    const expr = this.expr(operand)
    const type = valueType(expr)
    if (type === 'matrix') {
      throw this.fail(node, 'unary expression only allowed on expressions of type scalar or instant vector')
    }
    // Prometheus' parser folds a sign into a number literal.
    if (expr.kind === 'number') return { kind: 'number', value: op === '-' ? -expr.value : expr.value }
    return { kind: 'unary', op, expr }
  }

  vectorSelector(node: SyntaxNode, offsetMs: number): VectorSelector {
    let name: string | undefined
    const matchers: LabelMatcher[] = []
    for (const child of this.children(node)) {
      if (child.type.name === 'Identifier') {
        name = this.text(child)
      } else if (child.type.name === 'LabelMatchers') {
        for (const m of this.children(child)) matchers.push(this.matcher(m))
      } else {
        throw this.fail(child, `unexpected ${child.type.name} in selector`)
      }
    }
    for (const m of matchers) {
      if (m.name === METRIC_NAME && name !== undefined) {
        throw this.fail(node, `metric name must not be set twice: "${name}" or "${m.value}"`)
      }
    }
    const all: LabelMatcher[] =
      name === undefined ? matchers : [{ name: METRIC_NAME, type: '=', value: name }, ...matchers]
    if (!all.some((m) => !matchesEmpty(m))) {
      throw this.fail(node, 'vector selector must contain at least one non-empty matcher')
    }
    const nameMatcher = all.find((m) => m.name === METRIC_NAME && m.type === '=')
    return { kind: 'vectorSelector', name: nameMatcher?.value, matchers: all, offsetMs }
  }

  matcher(node: SyntaxNode): LabelMatcher {
    if (node.type.name === 'QuotedLabelName' || node.type.name === 'QuotedLabelMatcher') {
      throw unsupported('quoted label name', this.text(node))
    }
    if (node.type.name !== 'UnquotedLabelMatcher') throw this.fail(node, `unexpected ${node.type.name}`)
    const [labelNode, opNode, valueNode] = this.children(node)
    if (!labelNode || !opNode || !valueNode) throw this.fail(node, 'incomplete label matcher')
    const opName = opNode.firstChild?.type.name ?? ''
    const type = MATCH_OPS[opName]
    if (!type) throw this.fail(opNode, 'unknown match operator')
    let value: string
    try {
      value = unquote(this.text(valueNode))
    } catch (err) {
      throw this.fail(valueNode, (err as Error).message)
    }
    const name = this.text(labelNode)
    if (type === '=~' || type === '!~') {
      try {
        return { name, type, value, regex: compileMatcherRegex(value) }
      } catch (err) {
        if (err instanceof RegexError) {
          throw new PromQLError(`${err.message} in matcher ${this.text(node)}`, 'regular expression')
        }
        throw err
      }
    }
    return { name, type, value }
  }

  matrixSelector(node: SyntaxNode, offsetMs: number): MatrixSelector {
    const [selectorNode, durationNode, extra] = this.children(node)
    if (!selectorNode || !durationNode || extra) throw this.fail(node, 'unexpected range selector')
    if (selectorNode.type.name !== 'VectorSelector') {
      throw this.fail(node, 'ranges only allowed for vector selectors')
    }
    const rangeMs = this.duration(durationNode)
    if (rangeMs <= 0) throw this.fail(durationNode, 'range must be greater than 0')
    return { kind: 'matrixSelector', selector: this.vectorSelector(selectorNode, offsetMs), rangeMs }
  }

  offsetExpr(node: SyntaxNode): Expr {
    const children = this.children(node)
    const target = children[0]
    const durationNode = children.find((c) => c.type.name === 'OffsetDurationExpr')
    if (!target || !durationNode) throw this.fail(node, 'incomplete offset')
    const offsetMs = this.offsetDuration(durationNode)
    switch (target.type.name) {
      case 'VectorSelector':
        return this.vectorSelector(target, offsetMs)
      case 'MatrixSelector':
        return this.matrixSelector(target, offsetMs)
      case 'OffsetExpr':
        throw this.fail(node, 'offset may not be set multiple times')
      case 'SubqueryExpr':
        throw unsupported('subquery', this.text(target))
      default:
        throw this.fail(
          node,
          'offset modifier must be preceded by an instant vector selector or range vector selector',
        )
    }
  }

  offsetDuration(node: SyntaxNode): number {
    const children = this.children(node)
    const [first, second] = children
    if (
      children.length === 2 &&
      first?.type.name === 'UnaryOp' &&
      second?.type.name === 'OffsetDurationExpr'
    ) {
      return (this.text(first) === '-' ? -1 : 1) * this.offsetDuration(second)
    }
    if (children.length !== 1 || first?.type.name !== 'NumberDurationLiteralInDurationContext') {
      throw unsupported('duration expression', this.text(node))
    }
    try {
      return parseDuration(this.text(first))
    } catch (err) {
      if (err instanceof DurationError) throw this.fail(first, `bad duration: ${err.message}`)
      throw err
    }
  }

  binary(node: SyntaxNode): Expr {
    const children = this.children(node)
    const lhsNode = children[0]
    const rhsNode = children[children.length - 1]
    const opNode = children[1]
    if (!lhsNode || !rhsNode || !opNode || children.length < 3)
      throw this.fail(node, 'incomplete binary expression')
    const opName = opNode.type.name
    if (opName === 'Atan2') throw unsupported('operator atan2')
    if (opName === 'TrimUpper' || opName === 'TrimLower') throw unsupported(`operator ${this.text(opNode)}`)
    const op = BINARY_OPS[opName]
    if (!op) throw this.fail(opNode, `unknown binary operator ${opName}`)
    let returnBool = false
    let matching: { on: boolean; labels: string[] } | undefined
    let explicitMatching = false
    for (const mod of children.slice(2, -1)) {
      if (mod.type.name === 'BoolModifier') returnBool = true
      else if (mod.type.name === 'MatchingModifierClause') {
        explicitMatching = true
        matching = this.matchingClause(mod)
      } else {
        const excluded = UNSUPPORTED_NODES[mod.type.name]
        if (excluded) throw unsupported(excluded, this.text(mod))
        throw this.fail(mod, `unexpected ${mod.type.name}`)
      }
    }
    const lhs = this.expr(lhsNode)
    const rhs = this.expr(rhsNode)
    const lt = valueType(lhs)
    const rt = valueType(rhs)
    if (lt === 'matrix' || rt === 'matrix') {
      throw this.fail(node, 'binary expression must contain only scalar and instant vector types')
    }
    if (returnBool && !isComparison(op))
      throw this.fail(node, 'bool modifier can only be used on comparison operators')
    if (isComparison(op) && lt === 'scalar' && rt === 'scalar' && !returnBool) {
      throw this.fail(node, 'comparisons between scalars must use BOOL modifier')
    }
    if (isSetOperator(op) && (lt === 'scalar' || rt === 'scalar')) {
      throw this.fail(node, `set operator "${op}" not allowed in binary scalar expression`)
    }
    if (explicitMatching && (lt !== 'vector' || rt !== 'vector')) {
      throw this.fail(node, 'vector matching only allowed between instant vectors')
    }
    if (lt === 'vector' && rt === 'vector' && !matching) matching = { on: false, labels: [] }
    return { kind: 'binary', op, lhs, rhs, returnBool, matching }
  }

  matchingClause(node: SyntaxNode): { on: boolean; labels: string[] } {
    let on = false
    let labels: string[] = []
    for (const child of this.children(node)) {
      switch (child.type.name) {
        case 'On':
          on = true
          break
        case 'Ignoring':
          on = false
          break
        case 'GroupingLabels':
          labels = this.groupingLabels(child)
          break
        case 'GroupLeft':
        case 'GroupRight':
          throw unsupported(`${this.text(child)} (many-to-one matching)`)
        default:
          throw this.fail(child, `unexpected ${child.type.name}`)
      }
    }
    return { on, labels }
  }

  groupingLabels(node: SyntaxNode): string[] {
    const labels: string[] = []
    for (const child of this.children(node)) {
      if (child.type.name !== 'LabelName') throw unsupported('quoted label name', this.text(child))
      labels.push(this.text(child))
    }
    return [...new Set(labels)].sort()
  }

  call(node: SyntaxNode): Expr {
    const [idNode, bodyNode] = this.children(node)
    if (!idNode || !bodyNode) throw this.fail(node, 'incomplete function call')
    const name = this.text(idNode)
    const args = this.children(bodyNode)
    const func = name as FunctionName
    if (RANGE_FUNCTIONS.has(func)) {
      this.arity(node, name, args, 1)
      const arg = this.expr(args[0] as SyntaxNode)
      this.argType(node, name, arg, 'matrix')
      if (arg.kind !== 'matrixSelector') throw unsupported('range selector in parentheses', this.text(node))
      return { kind: 'call', func, args: [arg] }
    }
    if (func === 'histogram_quantile') {
      this.arity(node, name, args, 2)
      const q = this.expr(args[0] as SyntaxNode)
      const v = this.expr(args[1] as SyntaxNode)
      this.argType(node, name, q, 'scalar')
      this.argType(node, name, v, 'vector')
      return { kind: 'call', func, args: [q, v] }
    }
    if (func === 'absent') {
      this.arity(node, name, args, 1)
      const arg = this.expr(args[0] as SyntaxNode)
      this.argType(node, name, arg, 'vector')
      return { kind: 'call', func, args: [arg] }
    }
    throw unsupported(`function ${name}`)
  }

  arity(node: SyntaxNode, name: string, args: SyntaxNode[], n: number): void {
    if (args.length !== n)
      throw this.fail(node, `expected ${n} argument(s) in call to "${name}", got ${args.length}`)
  }

  argType(node: SyntaxNode, name: string, arg: Expr, expected: ValueType): void {
    const got = valueType(arg)
    if (got !== expected) {
      throw this.fail(
        node,
        `expected type ${typeName(expected)} in call to function "${name}", got ${typeName(got)}`,
      )
    }
  }

  aggregate(node: SyntaxNode): Expr {
    let op: string | undefined
    let grouping: string[] = []
    let without = false
    let body: SyntaxNode | undefined
    for (const child of this.children(node)) {
      switch (child.type.name) {
        case 'AggregateOp':
          op = this.text(child)
          break
        case 'AggregateModifier':
          for (const m of this.children(child)) {
            if (m.type.name === 'Without') without = true
            else if (m.type.name === 'By') without = false
            else if (m.type.name === 'GroupingLabels') grouping = this.groupingLabels(m)
          }
          break
        case 'FunctionCallBody':
          body = child
          break
        default:
          throw this.fail(child, `unexpected ${child.type.name}`)
      }
    }
    if (!op || !body) throw this.fail(node, 'incomplete aggregation')
    if (!AGGREGATES.has(op as AggregateOp)) throw unsupported(`aggregation ${op}`)
    const args = this.children(body)
    if (args.length !== 1)
      throw this.fail(
        node,
        `wrong number of arguments for aggregate expression provided, expected 1, got ${args.length}`,
      )
    const expr = this.expr(args[0] as SyntaxNode)
    if (valueType(expr) !== 'vector') {
      throw this.fail(
        node,
        `expected type instant vector in aggregation expression, got ${typeName(valueType(expr))}`,
      )
    }
    return { kind: 'aggregate', op: op as AggregateOp, grouping, without, expr }
  }
}

function typeName(t: ValueType): string {
  return t === 'matrix' ? 'range vector' : t === 'vector' ? 'instant vector' : 'scalar'
}

function matchesEmpty(m: LabelMatcher): boolean {
  switch (m.type) {
    case '=':
      return m.value === ''
    case '!=':
      return m.value !== ''
    case '=~':
      return (m.regex as RegExp).test('')
    case '!~':
      return !(m.regex as RegExp).test('')
  }
}

function firstError(node: SyntaxNode): SyntaxNode | undefined {
  const cursor = node.cursor()
  do {
    if (cursor.type.isError) return cursor.node
  } while (cursor.next())
  return undefined
}

/**
 * Parses a PromQL expression with the Prometheus project's own Lezer grammar and checks
 * it against the engine's subset. Throws `PromQLError` for syntax and type errors and for
 * anything outside the subset; the result's type is scalar or instant vector.
 */
export function parsePromQL(input: string): Expr {
  const tree = parser.parse(input)
  const top = tree.topNode
  const error = firstError(top)
  if (error) {
    const near = input.slice(Math.max(0, error.from - 10), error.from + 10)
    throw new PromQLError(`syntax error at character ${error.from + 1} near "${near}"`)
  }
  const roots: SyntaxNode[] = []
  for (let child = top.firstChild; child; child = child.nextSibling) {
    if (child.type.name !== 'LineComment') roots.push(child)
  }
  if (roots.length !== 1)
    throw new PromQLError(roots.length === 0 ? 'empty expression' : 'unexpected trailing input')
  const p = new Parser(input)
  const expr = p.expr(roots[0] as SyntaxNode)
  if (valueType(expr) === 'matrix') {
    throw unsupported('range vector as query result', 'a rule must yield an instant vector or scalar')
  }
  return expr
}

/** Parses a series description such as `http_requests_total{status="500"}` into labels. */
export function parseSeriesLabels(input: string): Record<string, string> {
  const tree = parser.parse(input)
  const top = tree.topNode
  const error = firstError(top)
  const root = top.firstChild
  if (error || !root || root.nextSibling || root.type.name !== 'VectorSelector') {
    throw new PromQLError(`invalid series description ${JSON.stringify(input)}`)
  }
  const p = new Parser(input)
  const labels: Record<string, string> = {}
  for (const child of p.children(root)) {
    if (child.type.name === 'Identifier') labels[METRIC_NAME] = p.text(child)
    else {
      for (const m of p.children(child)) {
        const matcher = p.matcher(m)
        if (matcher.type !== '=')
          throw new PromQLError(`series description ${JSON.stringify(input)} may only use "="`)
        labels[matcher.name] = matcher.value
      }
    }
  }
  return labels
}
