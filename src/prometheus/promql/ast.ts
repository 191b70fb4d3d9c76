import type { MatcherRegex } from './regex.ts'

/**
 * The syntax tree of PromQL as Prometheus 2.x parses it (`promql/parser/ast.go`), for
 * float samples: selectors with offset and `@`, subqueries, calls, aggregations, binary
 * operators with vector matching (including `group_left`/`group_right`), unary operators,
 * parentheses and number and string literals.
 */

export type MatchType = '=' | '!=' | '=~' | '!~'

export interface LabelMatcher {
  readonly name: string
  readonly type: MatchType
  readonly value: string
  /** Compiled, fully anchored, for `=~` and `!~`. */
  readonly regex?: MatcherRegex
}

export type ValueType = 'scalar' | 'vector' | 'matrix' | 'string'

/**
 * The `@` modifier: a fixed time in milliseconds, or the query's `start()`/`end()` (for
 * rule evaluation, an instant query, both are the evaluation time).
 */
export type AtModifier = { readonly type: 'time'; readonly ms: number } | { readonly type: 'start' | 'end' }

export interface NumberLiteral {
  readonly kind: 'number'
  readonly value: number
}

export interface StringLiteral {
  readonly kind: 'string'
  readonly value: string
}

export interface VectorSelector {
  readonly kind: 'vectorSelector'
  readonly name: string | undefined
  readonly matchers: readonly LabelMatcher[]
  /** `offset` in milliseconds (may be negative). */
  readonly offsetMs: number
  readonly at: AtModifier | undefined
}

export interface MatrixSelector {
  readonly kind: 'matrixSelector'
  /** Carries the offset and `@` written after the range. */
  readonly selector: VectorSelector
  readonly rangeMs: number
}

/** `expr[range:step]`; `stepMs` 0 means the default evaluation interval. */
export interface Subquery {
  readonly kind: 'subquery'
  readonly expr: Expr
  readonly rangeMs: number
  readonly stepMs: number
  readonly offsetMs: number
  readonly at: AtModifier | undefined
}

export interface Call {
  readonly kind: 'call'
  readonly func: string
  readonly args: readonly Expr[]
}

export type AggregateOp =
  | 'sum'
  | 'avg'
  | 'min'
  | 'max'
  | 'count'
  | 'group'
  | 'stddev'
  | 'stdvar'
  | 'topk'
  | 'bottomk'
  | 'count_values'
  | 'quantile'

export interface Aggregate {
  readonly kind: 'aggregate'
  readonly op: AggregateOp
  /** Sorted grouping label names. */
  readonly grouping: readonly string[]
  readonly without: boolean
  readonly expr: Expr
  /** The first argument of `topk`, `bottomk`, `quantile` and `count_values`. */
  readonly param: Expr | undefined
}

export type ArithmeticOp = '+' | '-' | '*' | '/' | '%' | '^' | 'atan2'
export type ComparisonOp = '==' | '!=' | '>' | '<' | '>=' | '<='
export type SetOp = 'and' | 'or' | 'unless'
export type BinaryOp = ArithmeticOp | ComparisonOp | SetOp

/** Prometheus' `VectorMatchCardinality`. */
export type Cardinality = 'one-to-one' | 'many-to-one' | 'one-to-many' | 'many-to-many'

export interface VectorMatching {
  readonly card: Cardinality
  /** `on(...)` when true, `ignoring(...)` (or no clause) when false. */
  readonly on: boolean
  /** Sorted label names of `on`/`ignoring`. */
  readonly labels: readonly string[]
  /** The extra labels of `group_left(...)`/`group_right(...)`, taken from the "one" side. */
  readonly include: readonly string[]
}

export interface Binary {
  readonly kind: 'binary'
  readonly op: BinaryOp
  readonly lhs: Expr
  readonly rhs: Expr
  readonly returnBool: boolean
  /** Present when both sides are instant vectors. */
  readonly matching: VectorMatching | undefined
}

export interface Unary {
  readonly kind: 'unary'
  readonly op: '-' | '+'
  readonly expr: Expr
}

export interface Paren {
  readonly kind: 'paren'
  readonly expr: Expr
}

export type Expr =
  | NumberLiteral
  | StringLiteral
  | VectorSelector
  | MatrixSelector
  | Subquery
  | Call
  | Aggregate
  | Binary
  | Unary
  | Paren

/** Return types of the functions whose result is not an instant vector. */
const SCALAR_FUNCTIONS = new Set(['time', 'scalar', 'pi'])

/** The type an expression evaluates to (Prometheus' `Expr.Type()`). */
export function valueType(expr: Expr): ValueType {
  switch (expr.kind) {
    case 'number':
      return 'scalar'
    case 'string':
      return 'string'
    case 'vectorSelector':
    case 'aggregate':
      return 'vector'
    case 'call':
      return SCALAR_FUNCTIONS.has(expr.func) ? 'scalar' : 'vector'
    case 'matrixSelector':
    case 'subquery':
      return 'matrix'
    case 'binary':
      return valueType(expr.lhs) === 'scalar' && valueType(expr.rhs) === 'scalar' ? 'scalar' : 'vector'
    case 'unary':
    case 'paren':
      return valueType(expr.expr)
  }
}

export function isComparison(op: BinaryOp): op is ComparisonOp {
  return op === '==' || op === '!=' || op === '>' || op === '<' || op === '>=' || op === '<='
}

export function isSetOperator(op: BinaryOp): op is SetOp {
  return op === 'and' || op === 'or' || op === 'unless'
}

/** A node's operands in evaluation order (`parser.Children`; a range selector's is its selector). */
export function children(expr: Expr): readonly Expr[] {
  switch (expr.kind) {
    case 'matrixSelector':
      return [expr.selector]
    case 'call':
      return expr.args
    case 'aggregate':
      return expr.param ? [expr.param, expr.expr] : [expr.expr]
    case 'unary':
    case 'paren':
    case 'subquery':
      return [expr.expr]
    case 'binary':
      return [expr.lhs, expr.rhs]
    case 'vectorSelector':
    case 'number':
    case 'string':
      return []
  }
}

/**
 * Calls `visit` on every node, depth first, with its ancestors from the root (`path`), as
 * Prometheus' `parser.Inspect`.
 */
export function inspect(expr: Expr, visit: (node: Expr, path: readonly Expr[]) => void): void {
  const walk = (node: Expr, path: Expr[]): void => {
    visit(node, path)
    const below = children(node)
    if (below.length === 0) return
    path.push(node)
    for (const child of below) walk(child, path)
    path.pop()
  }
  walk(expr, [])
}

/**
 * Calls `visit` on every vector selector (also those inside range selectors and
 * subqueries). `rangeMs` is the selector's range, or undefined for an instant selector.
 */
export function walkSelectors(
  expr: Expr,
  visit: (selector: VectorSelector, rangeMs: number | undefined) => void,
): void {
  inspect(expr, (node, path) => {
    if (node.kind !== 'vectorSelector') return
    const parent = path[path.length - 1]
    visit(node, parent?.kind === 'matrixSelector' ? parent.rangeMs : undefined)
  })
}

/**
 * How far before the evaluation time an expression reads samples, in milliseconds: the
 * lookback or range of each selector plus its offset, plus the range and offset of every
 * enclosing subquery. Selectors pinned with `@` to a fixed time count as if unpinned
 * (their reach depends on the time written, not on the evaluation time).
 */
export function lookbehindMs(expr: Expr, lookbackMs: number): number {
  switch (expr.kind) {
    case 'vectorSelector':
      return lookbackMs + Math.max(0, expr.offsetMs)
    case 'matrixSelector':
      return expr.rangeMs + Math.max(0, expr.selector.offsetMs)
    case 'subquery':
      return lookbehindMs(expr.expr, lookbackMs) + expr.rangeMs + Math.max(0, expr.offsetMs)
    case 'call':
      return Math.max(0, ...expr.args.map((a) => lookbehindMs(a, lookbackMs)))
    case 'aggregate':
      return Math.max(
        lookbehindMs(expr.expr, lookbackMs),
        expr.param ? lookbehindMs(expr.param, lookbackMs) : 0,
      )
    case 'unary':
    case 'paren':
      return lookbehindMs(expr.expr, lookbackMs)
    case 'binary':
      return Math.max(lookbehindMs(expr.lhs, lookbackMs), lookbehindMs(expr.rhs, lookbackMs))
    case 'number':
    case 'string':
      return 0
  }
}
