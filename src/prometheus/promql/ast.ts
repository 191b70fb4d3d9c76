/** The syntax tree of the PromQL subset the embedded engine evaluates. */

export type MatchType = '=' | '!=' | '=~' | '!~'

export interface LabelMatcher {
  readonly name: string
  readonly type: MatchType
  readonly value: string
  /** Compiled, fully anchored, for `=~` and `!~`. */
  readonly regex?: RegExp
}

export type ValueType = 'scalar' | 'vector' | 'matrix'

export interface NumberLiteral {
  readonly kind: 'number'
  readonly value: number
}

export interface VectorSelector {
  readonly kind: 'vectorSelector'
  readonly name: string | undefined
  readonly matchers: readonly LabelMatcher[]
  readonly offsetMs: number
}

export interface MatrixSelector {
  readonly kind: 'matrixSelector'
  readonly selector: VectorSelector
  readonly rangeMs: number
}

export type RangeFunction =
  | 'rate'
  | 'increase'
  | 'irate'
  | 'delta'
  | 'avg_over_time'
  | 'min_over_time'
  | 'max_over_time'
  | 'sum_over_time'
  | 'count_over_time'

export type FunctionName = RangeFunction | 'histogram_quantile' | 'absent'

export interface Call {
  readonly kind: 'call'
  readonly func: FunctionName
  readonly args: readonly Expr[]
}

export type AggregateOp = 'sum' | 'avg' | 'min' | 'max' | 'count'

export interface Aggregate {
  readonly kind: 'aggregate'
  readonly op: AggregateOp
  /** Sorted grouping label names. */
  readonly grouping: readonly string[]
  readonly without: boolean
  readonly expr: Expr
}

export type ArithmeticOp = '+' | '-' | '*' | '/' | '%' | '^'
export type ComparisonOp = '==' | '!=' | '>' | '<' | '>=' | '<='
export type SetOp = 'and' | 'or' | 'unless'
export type BinaryOp = ArithmeticOp | ComparisonOp | SetOp

export interface VectorMatching {
  /** `on(...)` when true, `ignoring(...)` (or no clause) when false. */
  readonly on: boolean
  /** Sorted label names. */
  readonly labels: readonly string[]
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

export type Expr = NumberLiteral | VectorSelector | MatrixSelector | Call | Aggregate | Binary | Unary | Paren

export function valueType(expr: Expr): ValueType {
  switch (expr.kind) {
    case 'number':
      return 'scalar'
    case 'vectorSelector':
    case 'call':
    case 'aggregate':
      return 'vector'
    case 'matrixSelector':
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

/** Calls `visit` on every vector selector (also those inside range selectors). */
export function walkSelectors(
  expr: Expr,
  visit: (selector: VectorSelector, rangeMs: number | undefined) => void,
): void {
  switch (expr.kind) {
    case 'vectorSelector':
      visit(expr, undefined)
      return
    case 'matrixSelector':
      visit(expr.selector, expr.rangeMs)
      return
    case 'call':
      for (const arg of expr.args) walkSelectors(arg, visit)
      return
    case 'aggregate':
    case 'unary':
    case 'paren':
      walkSelectors(expr.expr, visit)
      return
    case 'binary':
      walkSelectors(expr.lhs, visit)
      walkSelectors(expr.rhs, visit)
      return
    case 'number':
      return
  }
}
