/**
 * How Prometheus 2.x evaluates the `@` modifier, kept as per-evaluation state beside the
 * AST (a compiled query is evaluated many times; the AST is not mutated).
 *
 * Prometheus does not read `@` when a selector runs. Before evaluating it rewrites the
 * expression (`promql/engine.go`):
 * - `PreprocessExpr` wraps every step-invariant subtree in a `StepInvariantExpr`, which is
 *   evaluated once, at the start of the evaluator it is in, and copied to every step;
 * - `setOffsetForAtModifier(evalTime, expr)` turns each `@` into an offset relative to
 *   `evalTime`, and is run again on a subquery's expression when the subquery's first step
 *   differs from its caller's;
 * - `populateSeries` selects each selector's samples for the window its `@`, offsets and
 *   enclosing subqueries imply (`getTimeRangesForSelector`), and the TSDB trims to it.
 *
 * For most expressions this is exactly "read at the `@` time". Where a subquery with `@`
 * starts at the same step as its caller, the offsets of its selectors are not recomputed
 * and stay relative to another time (e.g. `avg_over_time((g @ 450.5)[2m:30s] @ 600)` at
 * 480 s reads `g` at 330.5 s): promtool is the reference, so those answers are kept too.
 */
import type { Expr, Subquery, VectorSelector } from './ast.ts'

/** Functions Prometheus never evaluates once for all steps (`AtModifierUnsafeFunctions`). */
const AT_MODIFIER_UNSAFE_FUNCTIONS = new Set([
  'days_in_month',
  'day_of_month',
  'day_of_week',
  'day_of_year',
  'hour',
  'minute',
  'month',
  'year',
  'predict_linear',
  'time',
  'timestamp',
])

/** Whether `expr` has an `@` anywhere (only then is any of this state needed). */
export function hasAtModifier(expr: Expr): boolean {
  switch (expr.kind) {
    case 'vectorSelector':
      return expr.at !== undefined
    case 'matrixSelector':
      return expr.selector.at !== undefined
    case 'subquery':
      return expr.at !== undefined || hasAtModifier(expr.expr)
    case 'paren':
    case 'unary':
      return hasAtModifier(expr.expr)
    case 'call':
      return expr.args.some(hasAtModifier)
    case 'aggregate':
      return hasAtModifier(expr.expr) || (expr.param !== undefined && hasAtModifier(expr.param))
    case 'binary':
      return hasAtModifier(expr.lhs) || hasAtModifier(expr.rhs)
    case 'number':
    case 'string':
      return false
  }
}

/** The `@` time of a selector or subquery in ms (`start()` and `end()` are the query's time). */
function atTime(node: VectorSelector | Subquery, queryTime: number): number | undefined {
  const at = node.at
  if (at === undefined) return undefined
  return at.type === 'time' ? at.ms : queryTime
}

/** A closed window [min, max] of sample times, in ms. */
export interface SampleWindow {
  readonly min: number
  readonly max: number
}

/**
 * One instant evaluation's `@` state, as Prometheus' engine keeps it in the AST.
 * Built only for expressions that have an `@` (`hasAtModifier`).
 */
export class AtModifierEvaluation {
  /** Nodes Prometheus wraps in a `StepInvariantExpr` (`preprocessExprHelper`). */
  readonly invariant = new Set<Expr>()
  /** Each selector's select window (`getTimeRangesForSelector`); the TSDB trims to it. */
  readonly selectWindows = new Map<VectorSelector, SampleWindow>()
  private readonly offsets = new Map<VectorSelector | Subquery, number>()

  /**
   * @param expr the query's expression
   * @param queryTime the instant query's time in ms (its start and end)
   * @param lookbackMs the instant selectors' lookback
   */
  constructor(
    expr: Expr,
    private readonly queryTime: number,
    lookbackMs: number,
  ) {
    if (this.preprocess(expr)) this.invariant.add(expr)
    this.populateSelectWindows(expr, [], 0, lookbackMs)
    this.setOffsets(queryTime, expr)
  }

  /** The offset, in ms, a selector or subquery is read with: `Offset`, not `OriginalOffset`. */
  offsetOf(node: VectorSelector | Subquery): number {
    return this.offsets.get(node) ?? node.offsetMs
  }

  /**
   * As `setOffsetForAtModifier`: every `@` under `root` becomes an offset relative to
   * `evalTime`, corrected by the `@` and offsets of the subqueries between `root` and it.
   */
  setOffsets(evalTime: number, root: Expr): void {
    const walk = (expr: Expr, path: Subquery[]): void => {
      switch (expr.kind) {
        case 'vectorSelector':
          this.setOffset(expr, evalTime, path)
          return
        case 'matrixSelector':
          this.setOffset(expr.selector, evalTime, path)
          return
        case 'subquery':
          this.setOffset(expr, evalTime, path)
          walk(expr.expr, [...path, expr])
          return
        case 'paren':
        case 'unary':
          walk(expr.expr, path)
          return
        case 'call':
          for (const arg of expr.args) walk(arg, path)
          return
        case 'aggregate':
          if (expr.param) walk(expr.param, path)
          walk(expr.expr, path)
          return
        case 'binary':
          walk(expr.lhs, path)
          walk(expr.rhs, path)
          return
        case 'number':
        case 'string':
          return
      }
    }
    walk(root, [])
  }

  private setOffset(node: VectorSelector | Subquery, evalTime: number, path: readonly Subquery[]): void {
    const ts = atTime(node, this.queryTime)
    if (ts === undefined) return
    const times = this.subqueryTimes(path)
    let subqueryOffset = times.offset
    if (times.at !== undefined) subqueryOffset += evalTime - times.at
    this.offsets.set(node, node.offsetMs + (evalTime - ts) - subqueryOffset)
  }

  /**
   * As `subqueryTimes`: the summed offsets and ranges of the subqueries on a path, restarted
   * at the innermost one with an `@`, whose time it returns.
   */
  private subqueryTimes(path: readonly Subquery[]): {
    offset: number
    range: number
    at: number | undefined
  } {
    let offset = 0
    let range = 0
    let at: number | undefined
    for (const sq of path) {
      offset += sq.offsetMs
      range += sq.rangeMs
      const ts = atTime(sq, this.queryTime)
      if (ts !== undefined) {
        offset = sq.offsetMs
        range = sq.rangeMs
        at = ts
      }
    }
    return { offset, range, at }
  }

  /** As `preprocessExprHelper`: whether `expr` is step invariant; wraps invariant children. */
  private preprocess(expr: Expr): boolean {
    switch (expr.kind) {
      case 'vectorSelector':
        return expr.at !== undefined
      case 'aggregate':
        // The parameter is not looked at (nor wrapped).
        return this.preprocess(expr.expr)
      case 'binary': {
        const lhs = this.preprocess(expr.lhs)
        const rhs = this.preprocess(expr.rhs)
        if (lhs && rhs) return true
        if (lhs) this.invariant.add(expr.lhs)
        if (rhs) this.invariant.add(expr.rhs)
        return false
      }
      case 'call': {
        const args = expr.args.map((arg) => this.preprocess(arg))
        if (!AT_MODIFIER_UNSAFE_FUNCTIONS.has(expr.func) && args.every(Boolean)) return true
        expr.args.forEach((arg, i) => {
          if (args[i]) this.invariant.add(arg)
        })
        return false
      }
      case 'matrixSelector':
        return expr.selector.at !== undefined
      case 'subquery':
        // The inside of a subquery is evaluated once per subquery when it can be.
        if (this.preprocess(expr.expr)) this.invariant.add(expr.expr)
        return expr.at !== undefined
      case 'paren':
      case 'unary':
        return this.preprocess(expr.expr)
      case 'number':
      case 'string':
        return true
    }
  }

  /** As `populateSeries` and `getTimeRangesForSelector`, for an instant query. */
  private populateSelectWindows(expr: Expr, path: Subquery[], evalRange: number, lookbackMs: number): void {
    switch (expr.kind) {
      case 'vectorSelector': {
        const times = this.subqueryTimes(path)
        let start = times.at ?? this.queryTime
        let end = start
        const ts = atTime(expr, this.queryTime)
        if (ts !== undefined) {
          start = ts
          end = ts
        } else {
          start -= times.offset + times.range
          end -= times.offset
        }
        start -= evalRange === 0 ? lookbackMs : evalRange
        this.selectWindows.set(expr, { min: start - expr.offsetMs, max: end - expr.offsetMs })
        return
      }
      case 'matrixSelector':
        this.populateSelectWindows(expr.selector, path, expr.rangeMs, lookbackMs)
        return
      case 'subquery':
        this.populateSelectWindows(expr.expr, [...path, expr], 0, lookbackMs)
        return
      case 'paren':
      case 'unary':
        this.populateSelectWindows(expr.expr, path, 0, lookbackMs)
        return
      case 'call':
        for (const arg of expr.args) this.populateSelectWindows(arg, path, 0, lookbackMs)
        return
      case 'aggregate':
        if (expr.param) this.populateSelectWindows(expr.param, path, 0, lookbackMs)
        this.populateSelectWindows(expr.expr, path, 0, lookbackMs)
        return
      case 'binary':
        this.populateSelectWindows(expr.lhs, path, 0, lookbackMs)
        this.populateSelectWindows(expr.rhs, path, 0, lookbackMs)
        return
      case 'number':
      case 'string':
        return
    }
  }
}
