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
import { type Expr, inspect, type Subquery, type VectorSelector } from './ast.ts'

/** The subqueries among a node's ancestors, outermost first. */
const subqueries = (path: readonly Expr[]): Subquery[] =>
  path.filter((n): n is Subquery => n.kind === 'subquery')

/** Functions Prometheus never evaluates once for all steps (`AtModifierUnsafeFunctions`). */
export const AT_MODIFIER_UNSAFE_FUNCTIONS: ReadonlySet<string> = new Set([
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
  let found = false
  inspect(expr, (node) => {
    if ((node.kind === 'vectorSelector' || node.kind === 'subquery') && node.at !== undefined) found = true
  })
  return found
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
  /** Selectors and subqueries `preprocessExprHelper` visits (and resolves `start()`/`end()` of). */
  private readonly preprocessed = new Set<VectorSelector | Subquery>()

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
    this.populateSelectWindows(expr, lookbackMs)
    this.setOffsets(queryTime, expr)
  }

  /**
   * The `@` time of a selector or subquery in ms, as `Timestamp` after `PreprocessExpr`:
   * `start()` and `end()` are the query's time, but only where preprocessing looks, which
   * is not inside an aggregation's parameter (`topk(scalar(x @ end()), …)` reads `x` as if
   * it had no `@`).
   */
  atTime(node: VectorSelector | Subquery): number | undefined {
    const at = node.at
    if (at === undefined) return undefined
    if (at.type === 'time') return at.ms
    return this.preprocessed.has(node) ? this.queryTime : undefined
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
    inspect(root, (node, path) => {
      if (node.kind === 'vectorSelector' || node.kind === 'subquery')
        this.setOffset(node, evalTime, subqueries(path))
    })
  }

  private setOffset(node: VectorSelector | Subquery, evalTime: number, path: readonly Subquery[]): void {
    const ts = this.atTime(node)
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
      const ts = this.atTime(sq)
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
        this.preprocessed.add(expr)
        return this.atTime(expr) !== undefined
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
        return this.preprocess(expr.selector)
      case 'subquery':
        // The inside of a subquery is evaluated once per subquery when it can be.
        if (this.preprocess(expr.expr)) this.invariant.add(expr.expr)
        this.preprocessed.add(expr)
        return this.atTime(expr) !== undefined
      case 'paren':
      case 'unary':
        return this.preprocess(expr.expr)
      case 'number':
      case 'string':
        return true
    }
  }

  /** As `populateSeries` and `getTimeRangesForSelector`, for an instant query. */
  private populateSelectWindows(expr: Expr, lookbackMs: number): void {
    inspect(expr, (node, path) => {
      if (node.kind !== 'vectorSelector') return
      const parent = path[path.length - 1]
      const times = this.subqueryTimes(subqueries(path))
      let start = times.at ?? this.queryTime
      let end = start
      const ts = this.atTime(node)
      if (ts !== undefined) {
        start = ts
        end = ts
      } else {
        start -= times.offset + times.range
        end -= times.offset
      }
      start -= parent?.kind === 'matrixSelector' ? parent.rangeMs : lookbackMs
      this.selectWindows.set(node, { min: start - node.offsetMs, max: end - node.offsetMs })
    })
  }
}
