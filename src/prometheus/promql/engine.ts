import type { RE2JS } from 're2js'
import { type GoDate, goInt64, goUnixDate } from '../go-calendar.ts'
import { formatFloat, formatFloatV } from '../template/go-fmt.ts'
import {
  type Aggregate,
  type Binary,
  type Call,
  type Expr,
  isComparison,
  lookbehindMs,
  type MatrixSelector,
  type Subquery,
  type VectorMatching,
  type VectorSelector,
  valueType,
} from './ast.ts'
import { AT_MODIFIER_UNSAFE_FUNCTIONS, AtModifierEvaluation, hasAtModifier } from './at-modifier.ts'
import {
  avgOverTime,
  type Bucket,
  bucketQuantile,
  changes,
  extrapolatedRate,
  formatFloatF,
  goExpand,
  holtWinters,
  irate,
  lessWithNaN,
  linearRegression,
  maxOverTime,
  minOverTime,
  parseGoFloat,
  quantile,
  resets,
  stdvarOverTime,
  sumOverTime,
} from './functions.ts'
import {
  goAcos,
  goAcosh,
  goAsin,
  goAsinh,
  goAtan,
  goAtan2,
  goAtanh,
  goCos,
  goCosh,
  goExp,
  goLog,
  goLog2,
  goLog10,
  goPow,
  goSin,
  goSinh,
  goTan,
  goTanh,
} from './go-math.ts'
import {
  cachedSignature,
  dropLabels,
  keepLabels,
  type Labels,
  labelsFrom,
  labelsKey,
  METRIC_NAME,
  setLabel,
  signatureOn,
  signatureWithout,
  withoutName,
} from './labels.ts'
import { parsePromQL } from './parser.ts'
import { compileRe2, RegexError } from './regex.ts'
import { type LatestSample, type Queryable, RangeBuffer } from './store.ts'

/** Prometheus' default `--query.lookback-delta`. */
export const DEFAULT_LOOKBACK_MS = 5 * 60_000

/** Prometheus' default evaluation interval, the step of a subquery written without one. */
export const DEFAULT_SUBQUERY_STEP_MS = 60_000

export interface Sample {
  labels: Labels
  value: number
}

/** The result of an instant query, in the two shapes a rule can produce. */
export type InstantResult =
  | { resultType: 'vector'; samples: Sample[] }
  | { resultType: 'scalar'; value: number }

/** An error while evaluating (Prometheus reports these as query errors, HTTP 422). */
export class EvaluationError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'EvaluationError'
  }
}

/** One series of a range vector: `n` samples in `ts` (ms) and `vs`. */
interface RangeSeries {
  labels: Labels
  ts: Float64Array
  vs: Float64Array
  n: number
}

type Value =
  | { kind: 'scalar'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'vector'; samples: Sample[] }

type RangeFn = (
  labels: Labels,
  ts: Float64Array,
  vs: Float64Array,
  n: number,
  rangeStart: number,
  rangeEnd: number,
  rangeMs: number,
) => void

const BUCKET_EXCLUDED = new Set([METRIC_NAME, 'le'])

/** A parsed, validated expression ready to be evaluated against a store. */
export class CompiledQuery {
  readonly expr: Expr
  /** How far back from the evaluation time the expression reads (lookback/range plus offset). */
  readonly lookbehindMs: number
  /** Whether an `@` appears anywhere (evaluation then keeps Prometheus' `@` state). */
  readonly hasAtModifier: boolean
  /**
   * The nodes Prometheus wraps in a `StepInvariantExpr` when there is no `@` (functions of
   * literals such as `vector(1) * 2`): evaluated once for all steps, which holds fewer samples.
   */
  readonly stepInvariant: ReadonlySet<Expr>

  constructor(
    readonly text: string,
    lookbackMs = DEFAULT_LOOKBACK_MS,
  ) {
    this.expr = parsePromQL(text)
    this.lookbehindMs = lookbehindMs(this.expr, lookbackMs)
    this.hasAtModifier = hasAtModifier(this.expr)
    const invariant = new Set<Expr>()
    if (!this.hasAtModifier && markStepInvariant(this.expr, invariant)) invariant.add(this.expr)
    this.stepInvariant = invariant
  }
}

/**
 * As Prometheus' promql/engine.go `preprocessExprHelper` for an expression without `@`: whether
 * `expr` is step invariant (made of literals only, through functions other than
 * `AtModifierUnsafeFunctions`); the invariant children of a node that is not go into `out`.
 */
function markStepInvariant(expr: Expr, out: Set<Expr>): boolean {
  switch (expr.kind) {
    case 'vectorSelector':
      return false
    case 'aggregate':
      // The parameter is not looked at.
      return markStepInvariant(expr.expr, out)
    case 'binary': {
      const lhs = markStepInvariant(expr.lhs, out)
      const rhs = markStepInvariant(expr.rhs, out)
      if (lhs && rhs) return true
      if (lhs) out.add(expr.lhs)
      if (rhs) out.add(expr.rhs)
      return false
    }
    case 'call': {
      const args = expr.args.map((a) => markStepInvariant(a, out))
      if (!AT_MODIFIER_UNSAFE_FUNCTIONS.has(expr.func) && args.every(Boolean)) return true
      expr.args.forEach((a, i) => {
        if (args[i]) out.add(a)
      })
      return false
    }
    case 'matrixSelector':
      return false
    case 'subquery':
      if (markStepInvariant(expr.expr, out)) out.add(expr.expr)
      return false
    case 'paren':
    case 'unary':
      return markStepInvariant(expr.expr, out)
    case 'number':
    case 'string':
      return true
  }
}

/**
 * Prometheus server's default `--query.max-samples`: the cap of a query's samples in memory
 * when the caller sets none (the embedded rule engine, the query API).
 */
export const DEFAULT_MAX_SAMPLES = 50_000_000

/** Options of an instant evaluation beyond the lookback. */
export interface EvaluationOptions {
  /** Step of subqueries written without one (Prometheus: the global evaluation interval). */
  subqueryStepMs?: number
  /**
   * The most samples the query may hold in memory at once, counted as Prometheus' engine counts
   * them (`EngineOpts.MaxSamples`); more fails it with `TooManySamplesError`. Defaults to
   * DEFAULT_MAX_SAMPLES; promtool's test engine uses 10 000; `Infinity` turns the cap off.
   */
  maxSamples?: number
}

/**
 * A query that would hold more samples than its cap, with Prometheus' message
 * (`ErrTooManySamples` in promql/engine.go, its `env` being "query execution").
 */
export class TooManySamplesError extends EvaluationError {
  constructor() {
    super('query processing would load too many samples into memory in query execution')
    this.name = 'TooManySamplesError'
  }
}

/**
 * Evaluates an instant query at `timeMs` like Prometheus 2.x's engine evaluates one step
 * (`promql/engine.go`): the 5-minute lookback and staleness for instant selectors, samples
 * in [t - range, t] for range selectors, subqueries as range evaluations aligned to their
 * step, `@` (with `start()` = `end()` = `timeMs`), and Prometheus' rules for metric-name
 * dropping, vector matching and errors (thrown as `EvaluationError`). Samples in memory are
 * counted as Prometheus counts them (`currentSamples`); past `options.maxSamples` the query
 * fails with `TooManySamplesError`.
 */
export function evaluateInstant(
  query: CompiledQuery,
  store: Queryable,
  timeMs: number,
  lookbackMs = DEFAULT_LOOKBACK_MS,
  options: EvaluationOptions = {},
): InstantResult {
  const state: QueryState = {
    store,
    lookbackMs,
    subqueryStepMs: options.subqueryStepMs ?? DEFAULT_SUBQUERY_STEP_MS,
    atState: query.hasAtModifier ? new AtModifierEvaluation(query.expr, timeMs, lookbackMs) : undefined,
    maxSamples: options.maxSamples ?? DEFAULT_MAX_SAMPLES,
    stepInvariant: query.stepInvariant,
    current: 0,
    cache: new Map(),
    subqueries: new Map(),
    buffer: new RangeBuffer(),
    latestOut: { t: 0, v: 0, stale: false },
    onWindow: undefined,
  }
  const ev = new Evaluator(state, timeMs, timeMs, 0)
  // Prometheus evaluates a range vector or string at the top and then refuses it as a rule's
  // result (rules/manager.go `EngineQueryFunc`, promtool's `query`); evaluating it can only
  // fail by holding too many samples, so only that is done first.
  const type = valueType(query.expr)
  if (type === 'matrix' || type === 'string') {
    ev.countTopLevelRange(query.expr)
    throw new EvaluationError('rule result is not a vector or scalar')
  }
  const value = ev.evalSteps(query.expr, { start: timeMs, interval: 1, count: 1 }) as Value[]
  const first = value[0] as Value
  switch (first.kind) {
    case 'scalar':
      return { resultType: 'scalar', value: first.value }
    case 'vector':
      return { resultType: 'vector', samples: first.samples }
    default:
      throw new EvaluationError('rule result is not a vector or scalar')
  }
}

/** The steps of one range evaluation (Prometheus' `startTimestamp`, `interval`, step count). */
interface Steps {
  start: number
  interval: number
  count: number
}

/** A subquery's inner expression evaluated once for all of its caller's steps. */
interface SubqueryResult {
  steps: Steps
  values: Value[]
  /**
   * The points its matrix holds (`evalSubquery`'s totalSamples), let go when the function over
   * it ends: its values' samples, or with no step in range, a step-invariant inside's one
   * evaluation, which engine.go keeps at the subquery's start though no window reaches it.
   */
  points: number
}

/** What every step of one query shares: its store and settings, and the sample accounting. */
interface QueryState {
  readonly store: Queryable
  readonly lookbackMs: number
  readonly subqueryStepMs: number
  /** Prometheus' `@` state; undefined when the query has no `@`. */
  readonly atState: AtModifierEvaluation | undefined
  readonly maxSamples: number
  /** The query's step-invariant nodes when it has no `@` (with `@`, atState's). */
  readonly stepInvariant: ReadonlySet<Expr>
  /** Prometheus' `evaluator.currentSamples`: the samples the query holds now. */
  current: number
  /** Each node's value at each step of the range evaluation it belongs to (evalSteps). */
  readonly cache: Map<Expr, Value[]>
  readonly subqueries: Map<Subquery, SubqueryResult>
  readonly buffer: RangeBuffer
  readonly latestOut: LatestSample
  /** Told of each series a range function reads at a step: its samples, whether it gave one. */
  onWindow: ((labels: Labels, n: number, produced: boolean) => void) | undefined
}

/** The samples a value holds in Prometheus' accounting: a scalar is one, a string none. */
function sampleCount(v: Value): number {
  return v.kind === 'vector' ? v.samples.length : v.kind === 'scalar' ? 1 : 0
}

function unwrapParens(expr: Expr): Expr {
  while (expr.kind === 'paren') expr = expr.expr
  return expr
}

class Evaluator {
  constructor(
    private readonly state: QueryState,
    /** The time this (sub-)evaluation step is at. */
    private readonly time: number,
    /**
     * The first step of the range evaluation this step belongs to in Prometheus (the query's
     * time, or a subquery's first step): where step-invariant parts are evaluated.
     */
    private readonly start: number,
    /** This step's index in its range evaluation: where its children's values are cached. */
    private readonly step: number,
  ) {}

  private get store(): Queryable {
    return this.state.store
  }

  private get atState(): AtModifierEvaluation | undefined {
    return this.state.atState
  }

  /** An evaluator of the same query at another step. */
  private at(time: number, start: number, step = 0): Evaluator {
    return new Evaluator(this.state, time, start, step)
  }

  /**
   * Evaluates `expr` at every step of `steps` as Prometheus' `evaluator.eval` evaluates a node
   * of a range evaluation: its children first, each for all steps, then the node step by step,
   * counting the samples held as Prometheus does (`rangeEval`, `evalVectorSelector`, the
   * matrix-argument branch of `*parser.Call`, `evalSubquery`, `StepInvariantExpr`) and failing
   * with TooManySamplesError past the cap. The values are cached for the parent's steps.
   */
  evalSteps(expr: Expr, steps: Steps): Value[] {
    const st = this.state
    let values: Value[]
    if (
      (st.atState ? st.atState.invariant : st.stepInvariant).has(expr) &&
      expr.kind !== 'number' &&
      expr.kind !== 'string' &&
      (steps.count !== 1 || steps.start !== this.start)
    ) {
      // `StepInvariantExpr`: evaluated once at the first step, then copied to the others one
      // sample at a time. A subquery with no step in its range still evaluates it once (its
      // errors and samples count), as engine.go's StepInvariantExpr case does whatever its
      // evaluator's end.
      const once = this.at(this.start, this.start).evalSteps(expr, {
        start: this.start,
        interval: steps.interval,
        count: 1,
      })[0] as Value
      const copies = Math.max(0, steps.count - 1)
      const n = sampleCount(once)
      if (n > 0 && st.current + n * copies > st.maxSamples) throw new TooManySamplesError()
      st.current += n * copies
      values = new Array<Value>(steps.count).fill(once)
      st.cache.set(expr, values)
      return values
    }
    switch (expr.kind) {
      case 'string':
        values = this.mapSteps(expr, steps)
        break
      case 'paren':
        values = this.evalSteps(expr.expr, steps)
        break
      case 'unary':
        // Negated in place: no samples more.
        this.evalSteps(expr.expr, steps)
        values = this.mapSteps(expr, steps)
        break
      case 'vectorSelector':
        values = this.mapSteps(expr, steps, (v) => {
          st.current += sampleCount(v)
          if (st.current > st.maxSamples) throw new TooManySamplesError()
        })
        break
      case 'number':
        values = this.rangeEval(expr, [], steps)
        break
      case 'aggregate':
        values = this.rangeEval(expr, expr.param ? [expr.param, expr.expr] : [expr.expr], steps)
        break
      case 'binary':
        values = this.rangeEval(expr, [expr.lhs, expr.rhs], steps)
        break
      case 'call': {
        const matrixArg = expr.args.findIndex((a) => {
          const k = unwrapParens(a).kind
          return k === 'matrixSelector' || k === 'subquery'
        })
        if (matrixArg >= 0) values = this.matrixCall(expr, matrixArg, steps)
        else if (expr.func === 'timestamp' && unwrapParens(expr.args[0] as Expr).kind === 'vectorSelector')
          values = this.rangeEval(expr, [], steps, true)
        else values = this.rangeEval(expr, expr.args, steps)
        break
      }
      default:
        values = this.mapSteps(expr, steps)
    }
    st.cache.set(expr, values)
    return values
  }

  /** `expr` evaluated at each step, its children read from the cache; `each` sees each value. */
  private mapSteps(expr: Expr, steps: Steps, each?: (v: Value) => void): Value[] {
    const values: Value[] = []
    for (let i = 0; i < steps.count; i++) {
      const v = this.at(steps.start + i * steps.interval, this.start, i).eval(expr)
      each?.(v)
      values.push(v)
    }
    return values
  }

  /**
   * As Prometheus' `rangeEval`: the children's samples stay counted while the node runs; at
   * each step the inputs of that step and the outputs so far must fit; afterwards only the
   * outputs stay. `selectsAtStep` is `timestamp(selector)`, whose selector's samples
   * (`vectorSelector`) are counted at its step.
   */
  private rangeEval(expr: Expr, children: readonly Expr[], steps: Steps, selectsAtStep = false): Value[] {
    const st = this.state
    const base = st.current
    const inputs = children.map((c) => this.evalSteps(c, steps))
    let held = st.current
    const values: Value[] = []
    for (let i = 0; i < steps.count; i++) {
      let stepInputs = 0
      for (const input of inputs) stepInputs += sampleCount(input[i] as Value)
      if (held + stepInputs > st.maxSamples) throw new TooManySamplesError()
      const v = this.at(steps.start + i * steps.interval, this.start, i).eval(expr)
      const out = sampleCount(v)
      if (selectsAtStep) stepInputs += out
      held += out
      if (held + stepInputs > st.maxSamples) throw new TooManySamplesError()
      values.push(v)
    }
    st.current = base + values.reduce((n, v) => n + sampleCount(v), 0)
    return values
  }

  /**
   * A function of a range vector as Prometheus' `eval` runs it (the `matrixArg` branch of
   * `*parser.Call`): a subquery argument first (`evalSubquery`, held until the call ends), then
   * the other arguments (held), then series by series: each step's window of samples, and the
   * series' outputs, kept until the end.
   */
  private matrixCall(call: Call, matrixArg: number, steps: Steps): Value[] {
    const st = this.state
    const arg = unwrapParens(call.args[matrixArg] as Expr)
    const subqueryPoints = arg.kind === 'subquery' ? this.subqueryResult(arg, steps).points : 0
    call.args.forEach((a, i) => {
      if (i !== matrixArg) this.evalSteps(a, steps)
    })
    let held = st.current
    const before = held
    const max = st.maxSamples
    let values: Value[]
    if (steps.count === 1) {
      // One step: each series' window and output are checked as they come.
      st.onWindow = (_labels, n, produced) => {
        if (held + n > max) throw new TooManySamplesError()
        if (produced) {
          if (held + n + 1 > max) throw new TooManySamplesError()
          held++
        }
      }
      try {
        values = [this.at(steps.start, this.start, 0).eval(call)]
      } finally {
        st.onWindow = undefined
      }
    } else {
      // Prometheus runs series by series, this runs step by step: the windows are gathered
      // per series and checked afterwards, in the order the series were first read.
      const bySeries = new Map<string, { widest: number; last: number; lastStep: number; outputs: number }>()
      let step = 0
      st.onWindow = (labels, n, produced) => {
        const key = cachedSignature(labels, 'key', labelsKey)
        let s = bySeries.get(key)
        if (!s) {
          s = { widest: 0, last: 0, lastStep: -1, outputs: 0 }
          bySeries.set(key, s)
        }
        if (n > s.widest) s.widest = n
        s.last = n
        s.lastStep = step
        if (produced) s.outputs++
      }
      values = []
      try {
        for (; step < steps.count; step++)
          values.push(this.at(steps.start + step * steps.interval, this.start, step).eval(call))
      } finally {
        st.onWindow = undefined
      }
      for (const s of bySeries.values()) {
        if (held + s.widest > max) throw new TooManySamplesError()
        if (held + (s.lastStep === steps.count - 1 ? s.last : 0) + s.outputs > max)
          throw new TooManySamplesError()
        held += s.outputs
      }
    }
    // The other arguments stay counted; the subquery's points are let go when the call ends.
    // absent_over_time's result replaces the series' outputs uncounted (engine.go leaves
    // currentSamples as it was after the series loop).
    let outputs = held - before
    if (call.func !== 'absent_over_time') {
      outputs = 0
      for (const v of values) outputs += sampleCount(v)
    }
    st.current = st.current - subqueryPoints + outputs
    return values
  }

  /**
   * A subquery evaluated once for all of `steps` (Prometheus' `*parser.SubqueryExpr` case): the
   * inner expression at every multiple of its step from the first step's window start
   * (`start - offset - range`, aligned up) to the last step minus the offset, the `@` offsets
   * inside recomputed relative to that first step when it differs from the caller's.
   */
  private subqueryResult(sq: Subquery, steps: Steps): SubqueryResult {
    const known = this.state.subqueries.get(sq)
    if (known) return known
    const step = sq.stepMs || this.state.subqueryStepMs
    const offset = this.atState ? this.atState.offsetOf(sq) : sq.offsetMs
    // Go's integer division truncates towards zero.
    const alignUp = (t: number) => {
      const aligned = step * Math.trunc(t / step)
      return aligned < t ? aligned + step : aligned
    }
    const firstStep = alignUp(this.start - offset - sq.rangeMs)
    const end = steps.start + (steps.count - 1) * steps.interval - offset
    if (this.atState && firstStep !== this.start) this.atState.setOffsets(firstStep, sq.expr)
    const inner: Steps = {
      start: firstStep,
      interval: step,
      count: end < firstStep ? 0 : Math.floor((end - firstStep) / step) + 1,
    }
    const before = this.state.current
    const values = this.at(firstStep, firstStep).evalSteps(sq.expr, inner)
    let points = 0
    for (const v of values) {
      if (v.kind !== 'vector') throw new EvaluationError('subquery is only allowed on instant vector')
      points += v.samples.length
    }
    // No step: only a step-invariant inside was evaluated (once), and what it holds is its point.
    if (inner.count === 0) points = this.state.current - before
    const result = { steps: inner, values, points }
    this.state.subqueries.set(sq, result)
    return result
  }

  /**
   * A range vector or string as the whole query: counts what Prometheus holds evaluating it
   * (`matrixSelector` keeps every series' samples; a subquery is evaluated), so that too many
   * samples fail the query before it is refused.
   */
  countTopLevelRange(expr: Expr): void {
    const st = this.state
    const arg = unwrapParens(expr)
    if (arg.kind === 'subquery') this.subqueryResult(arg, { start: this.time, interval: 1, count: 1 })
    else if (arg.kind === 'matrixSelector') {
      this.forEachStoredRange(arg, (_labels, _ts, _vs, n) => {
        st.current += n
        if (st.current > st.maxSamples) throw new TooManySamplesError()
      })
    }
  }

  eval(expr: Expr): Value {
    const cached = this.state.cache.get(expr)
    if (cached) return cached[this.step] as Value
    // A step-invariant part is evaluated once, at the first step, and copied to the others
    // (`StepInvariantExpr`); its selectors' offsets are relative to that step.
    if (this.atState?.invariant.has(expr) && this.time !== this.start)
      return this.at(this.start, this.start).eval(expr)
    switch (expr.kind) {
      case 'number':
        return { kind: 'scalar', value: expr.value }
      case 'string':
        return { kind: 'string', value: expr.value }
      case 'paren':
        return this.eval(expr.expr)
      case 'vectorSelector':
        return { kind: 'vector', samples: this.instantSelector(expr) }
      case 'matrixSelector':
      case 'subquery':
        throw new EvaluationError('range vector cannot be evaluated as an instant value')
      case 'unary': {
        const v = this.eval(expr.expr)
        if (expr.op === '+') return v
        if (v.kind === 'scalar') return { kind: 'scalar', value: -v.value }
        if (v.kind !== 'vector') throw new EvaluationError('unary minus on a string')
        const samples = v.samples.map((s) => ({ labels: withoutName(s.labels), value: -s.value }))
        return { kind: 'vector', samples: checkDistinct(samples) }
      }
      case 'call':
        return this.call(expr)
      case 'aggregate':
        // Grouping makes output label sets distinct by construction.
        return { kind: 'vector', samples: this.aggregate(expr) }
      case 'binary':
        return this.binary(expr)
    }
  }

  /**
   * The time a selector or subquery reads at: this step minus its offset, which for a node
   * with `@` is Prometheus' offset relative to the step it was last computed for.
   */
  private refTime(node: VectorSelector | Subquery): number {
    return this.time - (this.atState ? this.atState.offsetOf(node) : node.offsetMs)
  }

  /**
   * The part of [minT, maxT] (ms) inside the window Prometheus selected `sel`'s samples for:
   * all of it unless an `@` moved a read outside (the TSDB trims to that window).
   */
  private selected(sel: VectorSelector, minT: number, maxT: number): [number, number] {
    const window = this.atState?.selectWindows.get(sel)
    if (window === undefined) return [minT, maxT]
    return [Math.max(minT, window.min), Math.min(maxT, window.max)]
  }

  /**
   * The samples of an instant selector read at `refTime` (by default its own), each series'
   * newest in the lookback window; with `@` in the query, only those inside the window
   * Prometheus selected the series for.
   */
  private instantSelector(sel: VectorSelector, times?: number[], refTime = this.refTime(sel)): Sample[] {
    const [minT, maxT] = this.selected(sel, refTime - this.state.lookbackMs, refTime)
    const out: Sample[] = []
    if (minT > maxT) return out
    const latest = this.state.latestOut
    for (const series of this.store.select(sel.matchers)) {
      if (!this.store.latest(series, minT, maxT, latest)) continue
      if (latest.stale) continue
      out.push({ labels: series.labels, value: latest.v })
      times?.push(latest.t)
    }
    return out
  }

  /**
   * Calls `fn` with the in-range samples of every series of a range-vector argument (a
   * range selector or a subquery, possibly in parentheses) that has any.
   */
  private forEachRange(arg: Expr, fn: RangeFn): void {
    while (arg.kind === 'paren') arg = arg.expr
    if (arg.kind === 'matrixSelector') {
      this.forEachStoredRange(arg, fn)
      return
    }
    if (arg.kind !== 'subquery') throw new EvaluationError('expected a range vector')
    const rangeEnd = this.refTime(arg)
    const rangeStart = rangeEnd - arg.rangeMs
    for (const s of this.subquery(arg, rangeEnd))
      fn(s.labels, s.ts, s.vs, s.n, rangeStart, rangeEnd, arg.rangeMs)
  }

  private forEachStoredRange(ms: MatrixSelector, fn: RangeFn): void {
    const rangeEnd = this.refTime(ms.selector)
    const rangeStart = rangeEnd - ms.rangeMs
    const [minT, maxT] = this.selected(ms.selector, rangeStart, rangeEnd)
    const buf = this.state.buffer
    for (const series of this.store.select(ms.selector.matchers)) {
      const n = this.store.range(series, minT, maxT, buf)
      if (n === 0) continue
      fn(series.labels, buf.ts, buf.vs, n, rangeStart, rangeEnd, ms.rangeMs)
    }
  }

  /**
   * The series of subquery `sq` over [end - range, end] (`end` being this step, or the `@`
   * time, minus the offset): the points of its evaluation for all of the caller's steps
   * (subqueryResult) in that window, series in label order.
   */
  private subquery(sq: Subquery, end: number): RangeSeries[] {
    const { steps, values } = this.subqueryResult(sq, { start: this.time, interval: 1, count: 1 })
    const from = Math.max(0, Math.ceil((end - sq.rangeMs - steps.start) / steps.interval))
    const to = Math.min(steps.count - 1, Math.floor((end - steps.start) / steps.interval))
    const bySeries = new Map<string, { labels: Labels; ts: number[]; vs: number[] }>()
    for (let j = from; j <= to; j++) {
      const t = steps.start + j * steps.interval
      for (const s of (values[j] as { kind: 'vector'; samples: Sample[] }).samples) {
        const key = labelsKey(s.labels)
        let series = bySeries.get(key)
        if (!series) {
          series = { labels: s.labels, ts: [], vs: [] }
          bySeries.set(key, series)
        }
        series.ts.push(t)
        series.vs.push(s.value)
      }
    }
    const out: RangeSeries[] = []
    for (const key of [...bySeries.keys()].sort()) {
      const s = bySeries.get(key) as { labels: Labels; ts: number[]; vs: number[] }
      out.push({ labels: s.labels, ts: Float64Array.from(s.ts), vs: Float64Array.from(s.vs), n: s.ts.length })
    }
    return out
  }

  private call(call: Call): Value {
    const args = call.args
    switch (call.func) {
      case 'time':
        return { kind: 'scalar', value: this.time / 1000 }
      case 'pi':
        return { kind: 'scalar', value: Math.PI }
      case 'scalar': {
        const v = this.vector(args[0] as Expr)
        return { kind: 'scalar', value: v.length === 1 ? (v[0] as Sample).value : Number.NaN }
      }
      case 'vector':
        return { kind: 'vector', samples: [{ labels: labelsFrom({}), value: this.scalar(args[0] as Expr) }] }
    }
    return { kind: 'vector', samples: checkDistinct(this.vectorCall(call)) }
  }

  private vectorCall(call: Call): Sample[] {
    const args = call.args
    const func = call.func
    const simple = SIMPLE_FUNCTIONS[func]
    if (simple) {
      return this.vector(args[0] as Expr).map((s) => ({
        labels: withoutName(s.labels),
        value: simple(s.value),
      }))
    }
    const date = DATE_FUNCTIONS[func]
    if (date) {
      if (args.length === 0)
        return [{ labels: labelsFrom({}), value: date(goUnixDate(BigInt(Math.trunc(this.time / 1000)))) }]
      return this.vector(args[0] as Expr).map((s) => ({
        labels: withoutName(s.labels),
        value: date(goUnixDate(goInt64(s.value))),
      }))
    }
    switch (func) {
      case 'histogram_quantile':
        return this.histogramQuantile(call)
      case 'histogram_count':
      case 'histogram_sum':
      case 'histogram_fraction':
        // Native-histogram functions: float samples yield nothing.
        for (const arg of args) this.eval(arg)
        return []
      case 'absent': {
        const arg = args[0] as Expr
        if (this.vector(arg).length > 0) return []
        return [{ labels: absentLabels(arg), value: 1 }]
      }
      case 'absent_over_time': {
        let any = false
        this.forEachRange(args[0] as Expr, (labels, _ts, _vs, n) => {
          any = true
          // Prometheus' funcAbsentOverTime gives a sample for each series with samples (the
          // engine drops them afterwards), and those are counted.
          this.state.onWindow?.(labels, n, true)
        })
        return any ? [] : [{ labels: absentLabels(args[0] as Expr), value: 1 }]
      }
      case 'clamp': {
        const v = this.vector(args[0] as Expr)
        const min = this.scalar(args[1] as Expr)
        const max = this.scalar(args[2] as Expr)
        if (max < min) return []
        return v.map((s) => ({ labels: withoutName(s.labels), value: goMax(min, goMin(max, s.value)) }))
      }
      case 'clamp_max': {
        const v = this.vector(args[0] as Expr)
        const max = this.scalar(args[1] as Expr)
        return v.map((s) => ({ labels: withoutName(s.labels), value: goMin(max, s.value) }))
      }
      case 'clamp_min': {
        const v = this.vector(args[0] as Expr)
        const min = this.scalar(args[1] as Expr)
        return v.map((s) => ({ labels: withoutName(s.labels), value: goMax(min, s.value) }))
      }
      case 'round': {
        const v = this.vector(args[0] as Expr)
        const toNearest = args.length > 1 ? this.scalar(args[1] as Expr) : 1
        // Go divides by the inverse, which rounds differently from multiplying.
        const inverse = 1 / toNearest
        return v.map((s) => ({
          labels: withoutName(s.labels),
          value: Math.floor(s.value * inverse + 0.5) / inverse,
        }))
      }
      case 'timestamp': {
        let arg = args[0] as Expr
        // Prometheus unwraps parentheses before looking for a selector.
        while (arg.kind === 'paren') arg = arg.expr
        if (arg.kind === 'vectorSelector') {
          const times: number[] = []
          // Prometheus reads a selector with `@` here at exactly its `@` time, its offset
          // dropped (`vs.Offset = enh.Ts - *vs.Timestamp`), from the samples selected for the
          // window the offset implies.
          const v = this.instantSelector(arg, times, this.atState?.atTime(arg))
          return v.map((s, i) => ({ labels: withoutName(s.labels), value: (times[i] as number) / 1000 }))
        }
        return this.vector(arg).map((s) => ({ labels: withoutName(s.labels), value: this.time / 1000 }))
      }
      case 'sort':
      case 'sort_desc': {
        const v = [...this.vector(args[0] as Expr)]
        const desc = func === 'sort_desc'
        return v.sort((a, b) => {
          const less = desc ? Number.isNaN(a.value) || a.value > b.value : lessWithNaN(a.value, b.value)
          const greater = desc ? Number.isNaN(b.value) || b.value > a.value : lessWithNaN(b.value, a.value)
          return less ? -1 : greater ? 1 : 0
        })
      }
      case 'label_replace':
        return this.labelReplace(call)
      case 'label_join':
        return this.labelJoin(call)
      case 'holt_winters': {
        const sf = this.scalar(args[1] as Expr)
        const tf = this.scalar(args[2] as Expr)
        // As `funcHoltWinters`: checked in each call, so for each series with samples in its
        // range (none, no error), and with Go's comparisons, which a NaN factor passes.
        return this.rangeCall(args[0] as Expr, true, (_ts, vs, n) => {
          if (sf <= 0 || sf >= 1) {
            throw new EvaluationError(
              `invalid smoothing factor. Expected: 0 < sf < 1, got: ${formatFloat(sf, 'f', 6)}`,
            )
          }
          if (tf <= 0 || tf >= 1) {
            throw new EvaluationError(
              `invalid trend factor. Expected: 0 < tf < 1, got: ${formatFloat(tf, 'f', 6)}`,
            )
          }
          return holtWinters(vs, n, sf, tf)
        })
      }
      case 'predict_linear': {
        const duration = this.scalar(args[1] as Expr)
        const now = this.time
        return this.rangeCall(args[0] as Expr, true, (ts, vs, n) => {
          if (n < 2) return undefined
          const { slope, intercept } = linearRegression(ts, vs, n, now)
          return slope * duration + intercept
        })
      }
      case 'quantile_over_time': {
        const q = this.scalar(args[0] as Expr)
        return this.rangeCall(args[1] as Expr, true, (_ts, vs, n) =>
          quantile(q, Array.from(vs.subarray(0, n))),
        )
      }
    }
    const range = RANGE_FUNCTIONS[func]
    if (range) return this.rangeCall(args[0] as Expr, func !== 'last_over_time', range)
    throw new EvaluationError(`function ${func} is not implemented`)
  }

  /** Applies `fn` to each series of a range vector; an undefined result adds no element. */
  private rangeCall(
    arg: Expr,
    dropName: boolean,
    fn: (
      ts: Float64Array,
      vs: Float64Array,
      n: number,
      rangeStart: number,
      rangeEnd: number,
      rangeMs: number,
    ) => number | undefined,
  ): Sample[] {
    const out: Sample[] = []
    this.forEachRange(arg, (labels, ts, vs, n, rangeStart, rangeEnd, rangeMs) => {
      const value = fn(ts, vs, n, rangeStart, rangeEnd, rangeMs)
      if (value !== undefined) out.push({ labels: dropName ? withoutName(labels) : labels, value })
      this.state.onWindow?.(labels, n, value !== undefined)
    })
    return out
  }

  private labelReplace(call: Call): Sample[] {
    const [vArg, dstArg, replArg, srcArg, regexArg] = call.args as Expr[]
    const v = this.vector(vArg as Expr)
    const dst = this.string(dstArg as Expr)
    const repl = this.string(replArg as Expr)
    const src = this.string(srcArg as Expr)
    const pattern = this.string(regexArg as Expr)
    let regex: RE2JS
    try {
      regex = compileRe2(pattern)
    } catch (err) {
      if (err instanceof RegexError) {
        throw new EvaluationError(`invalid regular expression in label_replace(): ${pattern}`)
      }
      throw err
    }
    if (!LABEL_NAME.test(dst))
      throw new EvaluationError(`invalid destination label name in label_replace(): ${dst}`)
    return v.map((s) => {
      const matcher = regex.matcher(s.labels[src] ?? '')
      if (!matcher.matches()) return s
      const groups = regex.groupCount()
      const named = regex.namedGroups()
      const group = (name: string | number): string | undefined => {
        if (typeof name === 'number') return name <= groups ? (matcher.group(name) ?? '') : undefined
        return name in named ? (matcher.group(name) ?? '') : undefined
      }
      return { labels: setLabel(s.labels, dst, goExpand(repl, group)), value: s.value }
    })
  }

  private labelJoin(call: Call): Sample[] {
    const [vArg, dstArg, sepArg, ...srcArgs] = call.args as Expr[]
    const v = this.vector(vArg as Expr)
    const dst = this.string(dstArg as Expr)
    const sep = this.string(sepArg as Expr)
    const srcs = srcArgs.map((a) => this.string(a))
    for (const src of srcs) {
      if (!LABEL_NAME.test(src))
        throw new EvaluationError(`invalid source label name in label_join(): ${src}`)
    }
    if (!LABEL_NAME.test(dst))
      throw new EvaluationError(`invalid destination label name in label_join(): ${dst}`)
    return v.map((s) => ({
      labels: setLabel(s.labels, dst, srcs.map((src) => s.labels[src] ?? '').join(sep)),
      value: s.value,
    }))
  }

  private histogramQuantile(call: Call): Sample[] {
    const q = this.scalar(call.args[0] as Expr)
    const input = this.vector(call.args[1] as Expr)
    const groups = new Map<string, { labels: Labels; buckets: Bucket[] }>()
    for (const s of input) {
      const upperBound = parseGoFloat(s.labels.le ?? '')
      if (upperBound === undefined) continue
      // The metric name joins the signature so histograms that differ only by name stay apart.
      const sig = signatureWithout(s.labels, BUCKET_EXCLUDED) + (s.labels[METRIC_NAME] ?? '')
      let group = groups.get(sig)
      if (!group) {
        group = { labels: dropLabels(s.labels, BUCKET_EXCLUDED), buckets: [] }
        groups.set(sig, group)
      }
      group.buckets.push({ upperBound, count: s.value })
    }
    const out: Sample[] = []
    for (const group of groups.values())
      out.push({ labels: group.labels, value: bucketQuantile(q, group.buckets) })
    return out
  }

  private aggregate(agg: Aggregate): Sample[] {
    // Both arguments are evaluated before the parameter is checked, as Prometheus' rangeEval
    // does: an error in the vector wins over k < 1.
    const param = agg.param ? this.eval(agg.param) : undefined
    const input = this.vector(agg.expr)
    let k = 0
    let q = 0
    let valueLabel = ''
    if (agg.op === 'topk' || agg.op === 'bottomk') {
      const f = scalarOf(param)
      if (!(f >= -9.223372036854776e18 && f <= 9.223372036854776e18)) {
        throw new EvaluationError(`Scalar value ${formatFloatV(f)} overflows int64`)
      }
      k = Math.trunc(f)
      if (k < 1) return []
    } else if (agg.op === 'quantile') {
      q = scalarOf(param)
    } else if (agg.op === 'count_values') {
      valueLabel = param?.kind === 'string' ? param.value : ''
      if (!LABEL_NAME.test(valueLabel)) throw new EvaluationError(`invalid label name "${valueLabel}"`)
    }
    let grouping = agg.grouping
    if (agg.op === 'count_values' && !agg.without) grouping = [...new Set([...grouping, valueLabel])].sort()
    const groupingSet = new Set(grouping)
    const excluded = agg.without ? new Set([...grouping, METRIC_NAME]) : undefined
    interface Group {
      labels: Labels
      value: number
      mean: number
      count: number
      /** topk/bottomk only. */
      heap: Sample[] | undefined
      /** quantile only. */
      values: number[] | undefined
    }
    const groups = new Map<string, Group>()
    const ordered: Group[] = []
    const spec = `${agg.without ? 'w' : 'b'}\u0000${grouping.join('\u0000')}`
    const signature = excluded
      ? (labels: Labels) => signatureWithout(labels, excluded)
      : (labels: Labels) => signatureOn(labels, grouping)
    const topLess = (a: Sample, b: Sample) => Number.isNaN(a.value) || a.value < b.value
    const bottomLess = (a: Sample, b: Sample) => Number.isNaN(a.value) || a.value > b.value
    for (const sample of input) {
      let labels = sample.labels
      if (agg.op === 'count_values') labels = setLabel(labels, valueLabel, formatFloatF(sample.value))
      const key =
        !excluded && grouping.length === 0
          ? ''
          : agg.op === 'count_values'
            ? signature(labels)
            : cachedSignature(labels, spec, signature)
      const v = sample.value
      const group = groups.get(key)
      if (!group) {
        const groupLabels = excluded
          ? dropLabels(labels, excluded)
          : grouping.length > 0
            ? keepLabels(labels, groupingSet)
            : labelsFrom({})
        const g: Group = {
          labels: groupLabels,
          value: v,
          mean: v,
          count: 1,
          heap: undefined,
          values: undefined,
        }
        if (agg.op === 'stddev' || agg.op === 'stdvar') g.value = 0
        else if (agg.op === 'group') g.value = 1
        else if (agg.op === 'topk' || agg.op === 'bottomk') g.heap = [sample]
        else if (agg.op === 'quantile') g.values = [v]
        groups.set(key, g)
        ordered.push(g)
        continue
      }
      switch (agg.op) {
        case 'sum':
          group.value += v
          break
        case 'avg': {
          group.count++
          const mean = group.mean
          if (mean === Number.POSITIVE_INFINITY || mean === Number.NEGATIVE_INFINITY) {
            if ((v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY) && mean > 0 === v > 0)
              break
            if (Number.isFinite(v)) break
          }
          group.mean += v / group.count - mean / group.count
          break
        }
        case 'max':
          if (group.value < v || Number.isNaN(group.value)) group.value = v
          break
        case 'min':
          if (group.value > v || Number.isNaN(group.value)) group.value = v
          break
        case 'count':
        case 'count_values':
          group.count++
          break
        case 'stddev':
        case 'stdvar': {
          group.count++
          const delta = v - group.mean
          group.mean += delta / group.count
          group.value += delta * (v - group.mean)
          break
        }
        case 'topk':
        case 'bottomk': {
          const heap = group.heap as Sample[]
          const top = heap[0] as Sample
          const replaces = agg.op === 'topk' ? top.value < v : top.value > v
          if (heap.length < k || replaces || Number.isNaN(top.value)) {
            const less = agg.op === 'topk' ? topLess : bottomLess
            if (heap.length === k) heapPop(heap, less)
            heapPush(heap, sample, less)
          }
          break
        }
        case 'quantile':
          ;(group.values as number[]).push(v)
          break
        case 'group':
          break
      }
    }
    const out: Sample[] = []
    for (const g of ordered) {
      switch (agg.op) {
        case 'avg':
          out.push({ labels: g.labels, value: g.mean })
          break
        case 'count':
        case 'count_values':
          out.push({ labels: g.labels, value: g.count })
          break
        case 'stdvar':
          out.push({ labels: g.labels, value: g.value / g.count })
          break
        case 'stddev':
          out.push({ labels: g.labels, value: Math.sqrt(g.value / g.count) })
          break
        case 'topk':
        case 'bottomk': {
          const sorted = [...(g.heap as Sample[])].sort((a, b) =>
            agg.op === 'topk'
              ? topLess(b, a)
                ? -1
                : topLess(a, b)
                  ? 1
                  : 0
              : bottomLess(b, a)
                ? -1
                : bottomLess(a, b)
                  ? 1
                  : 0,
          )
          for (const s of sorted) out.push({ labels: s.labels, value: s.value })
          break
        }
        case 'quantile':
          out.push({ labels: g.labels, value: quantile(q, g.values as number[]) })
          break
        default:
          out.push({ labels: g.labels, value: g.value })
      }
    }
    return out
  }

  private binary(bin: Binary): Value {
    const lhs = this.eval(bin.lhs)
    const rhs = this.eval(bin.rhs)
    if (lhs.kind === 'scalar' && rhs.kind === 'scalar') {
      return { kind: 'scalar', value: scalarBinop(bin.op, lhs.value, rhs.value) }
    }
    if (lhs.kind === 'vector' && rhs.kind === 'vector') {
      const matching = bin.matching as VectorMatching
      switch (bin.op) {
        case 'and':
          return { kind: 'vector', samples: vectorAnd(lhs.samples, rhs.samples, matching) }
        case 'or':
          return { kind: 'vector', samples: checkDistinct(vectorOr(lhs.samples, rhs.samples, matching)) }
        case 'unless':
          return { kind: 'vector', samples: vectorUnless(lhs.samples, rhs.samples, matching) }
        default:
          return {
            kind: 'vector',
            samples: checkDistinct(vectorBinop(bin, lhs.samples, rhs.samples, matching)),
          }
      }
    }
    const swap = lhs.kind === 'scalar'
    const vector = (swap ? rhs : lhs) as { kind: 'vector'; samples: Sample[] }
    const scalar = (swap ? lhs : rhs) as { kind: 'scalar'; value: number }
    return {
      kind: 'vector',
      samples: checkDistinct(vectorScalarBinop(bin, vector.samples, scalar.value, swap)),
    }
  }

  private scalar(expr: Expr): number {
    const v = this.eval(expr)
    if (v.kind !== 'scalar') throw new EvaluationError('expected a scalar')
    return v.value
  }

  private string(expr: Expr): string {
    const v = this.eval(expr)
    if (v.kind !== 'string') throw new EvaluationError('expected a string')
    return v.value
  }

  private vector(expr: Expr): Sample[] {
    const v = this.eval(expr)
    if (v.kind !== 'vector') throw new EvaluationError('expected an instant vector')
    return v.samples
  }
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

function scalarOf(v: Value | undefined): number {
  if (v?.kind !== 'scalar') throw new EvaluationError('expected a scalar')
  return v.value
}

/** Go's `math.Max` (`dim.go`, and `dim_amd64.s` alike): +Inf wins over NaN, NaN over the rest, and +0 > -0. */
function goMax(a: number, b: number): number {
  if (a === Number.POSITIVE_INFINITY || b === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.NaN
  return Math.max(a, b)
}

/** Go's `math.Min`: -Inf wins over NaN, NaN over the rest, and -0 < +0. */
function goMin(a: number, b: number): number {
  if (a === Number.NEGATIVE_INFINITY || b === Number.NEGATIVE_INFINITY) return Number.NEGATIVE_INFINITY
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.NaN
  return Math.min(a, b)
}

/** Element-wise functions of one float (`promql/functions.go` simpleFunc and friends). */
const SIMPLE_FUNCTIONS: Readonly<Record<string, (v: number) => number>> = {
  abs: Math.abs,
  ceil: Math.ceil,
  floor: Math.floor,
  exp: goExp,
  sqrt: Math.sqrt,
  ln: goLog,
  log2: goLog2,
  log10: goLog10,
  sin: goSin,
  cos: goCos,
  tan: goTan,
  asin: goAsin,
  acos: goAcos,
  atan: goAtan,
  sinh: goSinh,
  cosh: goCosh,
  tanh: goTanh,
  asinh: goAsinh,
  acosh: goAcosh,
  atanh: goAtanh,
  deg: (v) => (v * 180) / Math.PI,
  rad: (v) => (v * Math.PI) / 180,
  sgn: (v) => (v < 0 ? -1 : v > 0 ? 1 : v),
}

/** The date functions (`dateWrapper`): a field of `time.Unix(int64(v), 0).UTC()`. */
const DATE_FUNCTIONS: Readonly<Record<string, (d: GoDate) => number>> = {
  day_of_month: (d) => d.day,
  day_of_week: (d) => d.weekday,
  day_of_year: (d) => d.yearDay,
  days_in_month: (d) => d.daysInMonth,
  hour: (d) => d.hour,
  minute: (d) => d.minute,
  month: (d) => d.month,
  year: (d) => d.year,
}

/** Functions of one range vector (`aggrOverTime` and the rate family). */
const RANGE_FUNCTIONS: Readonly<
  Record<
    string,
    (
      ts: Float64Array,
      vs: Float64Array,
      n: number,
      rangeStart: number,
      rangeEnd: number,
      rangeMs: number,
    ) => number | undefined
  >
> = {
  rate: (ts, vs, n, s, e, r) => extrapolatedRate(ts, vs, n, s, e, r, true, true),
  increase: (ts, vs, n, s, e, r) => extrapolatedRate(ts, vs, n, s, e, r, true, false),
  delta: (ts, vs, n, s, e, r) => extrapolatedRate(ts, vs, n, s, e, r, false, false),
  irate: (ts, vs, n) => irate(ts, vs, n),
  idelta: (ts, vs, n) => {
    if (n < 2) return undefined
    if ((ts[n - 1] as number) === (ts[n - 2] as number)) return undefined
    return (vs[n - 1] as number) - (vs[n - 2] as number)
  },
  deriv: (ts, vs, n) => (n < 2 ? undefined : linearRegression(ts, vs, n, ts[0] as number).slope),
  changes: (_ts, vs, n) => changes(vs, n),
  resets: (_ts, vs, n) => resets(vs, n),
  avg_over_time: (_ts, vs, n) => avgOverTime(vs, n),
  min_over_time: (_ts, vs, n) => minOverTime(vs, n),
  max_over_time: (_ts, vs, n) => maxOverTime(vs, n),
  sum_over_time: (_ts, vs, n) => sumOverTime(vs, n),
  count_over_time: (_ts, _vs, n) => n,
  last_over_time: (_ts, vs, n) => vs[n - 1] as number,
  present_over_time: () => 1,
  stdvar_over_time: (_ts, vs, n) => stdvarOverTime(vs, n),
  stddev_over_time: (_ts, vs, n) => Math.sqrt(stdvarOverTime(vs, n)),
}

/** Go's `container/heap` Push and Pop over a slice, so ties resolve as in Prometheus. */
function heapPush<T>(h: T[], x: T, less: (a: T, b: T) => boolean): void {
  h.push(x)
  let j = h.length - 1
  for (;;) {
    const i = Math.trunc((j - 1) / 2)
    if (i === j || !less(h[j] as T, h[i] as T)) break
    ;[h[i], h[j]] = [h[j] as T, h[i] as T]
    j = i
  }
}

function heapPop<T>(h: T[], less: (a: T, b: T) => boolean): T {
  const n = h.length - 1
  ;[h[0], h[n]] = [h[n] as T, h[0] as T]
  let i = 0
  for (;;) {
    const j1 = 2 * i + 1
    if (j1 >= n) break
    let j = j1
    const j2 = j1 + 1
    if (j2 < n && less(h[j2] as T, h[j1] as T)) j = j2
    if (!less(h[j] as T, h[i] as T)) break
    ;[h[i], h[j]] = [h[j] as T, h[i] as T]
    i = j
  }
  return h.pop() as T
}

/** Prometheus refuses results in which two elements have the same label set. */
function checkDistinct(samples: Sample[]): Sample[] {
  if (samples.length < 2) return samples
  const seen = new Set<string>()
  for (const s of samples) {
    const key = cachedSignature(s.labels, 'key', labelsKey)
    if (seen.has(key)) throw new EvaluationError('vector cannot contain metrics with the same labelset')
    seen.add(key)
  }
  return samples
}

/**
 * absent()/absent_over_time(): labels from the selector's equality matchers, as Prometheus'
 * promql/functions.go createLabelsForAbsentFunction: matchers are applied in order, the first
 * equality matcher of a name sets it and any other matcher of that name deletes it when met,
 * so `x{a=~"b",a="b"}` keeps a="b" (the delete came first) while `x{a="b",a=~"b"}` drops it.
 */
function absentLabels(arg: Expr): Labels {
  // Prometheus unwraps parentheses around function arguments first.
  while (arg.kind === 'paren') arg = arg.expr
  let selector: VectorSelector | undefined
  if (arg.kind === 'vectorSelector') selector = arg
  else if (arg.kind === 'matrixSelector') selector = arg.selector
  if (!selector) return labelsFrom({})
  const record: Record<string, string> = {}
  // Names an equality matcher has set, even if a later matcher deleted them again.
  const set = new Set<string>()
  for (const m of selector.matchers) {
    if (m.name === METRIC_NAME) continue
    if (m.type === '=' && !set.has(m.name)) {
      record[m.name] = m.value
      set.add(m.name)
    } else delete record[m.name]
  }
  return labelsFrom(record)
}

function arithmetic(op: string, l: number, r: number): number {
  switch (op) {
    case '+':
      return l + r
    case '-':
      return l - r
    case '*':
      return l * r
    case '/':
      return l / r
    case '%':
      return l % r
    case '^':
      return goPow(l, r)
    case 'atan2':
      return goAtan2(l, r)
  }
  throw new EvaluationError(`operator ${op} not allowed here`)
}

function compare(op: string, l: number, r: number): boolean {
  switch (op) {
    case '==':
      return l === r
    case '!=':
      return l !== r
    case '>':
      return l > r
    case '<':
      return l < r
    case '>=':
      return l >= r
    case '<=':
      return l <= r
  }
  throw new EvaluationError(`operator ${op} is not a comparison`)
}

/** Prometheus 2.x drops the metric name for the arithmetic operators other than atan2. */
function dropsName(op: Binary['op']): boolean {
  return op === '+' || op === '-' || op === '*' || op === '/' || op === '%' || op === '^'
}

function scalarBinop(op: Binary['op'], l: number, r: number): number {
  if (isComparison(op)) return compare(op, l, r) ? 1 : 0
  return arithmetic(op, l, r)
}

function vectorScalarBinop(bin: Binary, samples: Sample[], scalar: number, swap: boolean): Sample[] {
  const out: Sample[] = []
  const comparison = isComparison(bin.op)
  const dropName = dropsName(bin.op) || bin.returnBool
  for (const s of samples) {
    const l = swap ? scalar : s.value
    const r = swap ? s.value : scalar
    let value: number
    let keep = true
    if (comparison) {
      keep = compare(bin.op, l, r)
      // The vector's own value is kept, whichever side it was on.
      value = s.value
      if (bin.returnBool) {
        value = keep ? 1 : 0
        keep = true
      }
    } else {
      value = arithmetic(bin.op, l, r)
    }
    if (keep) out.push({ labels: dropName ? withoutName(s.labels) : s.labels, value })
  }
  return out
}

function signatureFn(matching: VectorMatching): (labels: Labels) => string {
  if (matching.on) return (labels) => signatureOn(labels, matching.labels)
  const excluded = new Set([METRIC_NAME, ...matching.labels])
  return (labels) => signatureWithout(labels, excluded)
}

/** Prometheus' `Labels.MatchLabels` rendered as `{a="b"}` for error messages. */
function matchedLabelsString(labels: Labels, matching: VectorMatching): string {
  const names = new Set(matching.labels)
  const kept = matching.on ? keepLabels(labels, names) : dropLabels(labels, new Set([...names, METRIC_NAME]))
  return `{${Object.keys(kept)
    .map((n) => `${n}="${kept[n]}"`)
    .join(', ')}}`
}

/** Prometheus' `VectorBinop` for arithmetic and comparison operators, with group_left/right. */
function vectorBinop(bin: Binary, lhsIn: Sample[], rhsIn: Sample[], matching: VectorMatching): Sample[] {
  if (lhsIn.length === 0 || rhsIn.length === 0) return []
  const sig = signatureFn(matching)
  const oneToMany = matching.card === 'one-to-many'
  // For one-to-many the sides are swapped, so "rhs" below is always the "one" side.
  const lhs = oneToMany ? rhsIn : lhsIn
  const rhs = oneToMany ? lhsIn : rhsIn
  const right = new Map<string, Sample>()
  for (const rs of rhs) {
    const key = sig(rs.labels)
    const dup = right.get(key)
    if (dup) {
      throw new EvaluationError(
        `found duplicate series for the match group ${matchedLabelsString(rs.labels, matching)} on the ${oneToMany ? 'left' : 'right'} hand-side of the operation: [${formatMetric(rs.labels)}, ${formatMetric(dup.labels)}];many-to-many matching not allowed: matching labels must be unique on one side`,
      )
    }
    right.set(key, rs)
  }
  const comparison = isComparison(bin.op)
  const matched = new Map<string, Set<string> | undefined>()
  const keepNames = new Set(matching.labels)
  const out: Sample[] = []
  for (const ls of lhs) {
    const key = sig(ls.labels)
    const rs = right.get(key)
    if (!rs) continue
    const vl = oneToMany ? rs.value : ls.value
    const vr = oneToMany ? ls.value : rs.value
    let value: number
    let keep = true
    if (comparison) {
      keep = compare(bin.op, vl, vr)
      value = vl
    } else {
      value = arithmetic(bin.op, vl, vr)
    }
    if (bin.returnBool) value = keep ? 1 : 0
    else if (!keep) continue
    let labels = dropsName(bin.op) ? withoutName(ls.labels) : ls.labels
    if (matching.card === 'one-to-one') {
      labels = matching.on ? keepLabels(labels, keepNames) : dropLabels(labels, keepNames)
    }
    if (matching.include.length > 0) {
      const record: Record<string, string> = { ...labels }
      for (const name of matching.include) {
        const v = rs.labels[name]
        if (v !== undefined && v !== '') record[name] = v
        else delete record[name]
      }
      labels = labelsFrom(record)
    }
    if (bin.returnBool) labels = withoutName(labels)
    const exists = matched.has(key)
    if (matching.card === 'one-to-one') {
      if (exists) {
        throw new EvaluationError(
          'multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)',
        )
      }
      matched.set(key, undefined)
    } else {
      let inserted = matched.get(key)
      if (!inserted) {
        inserted = new Set()
        matched.set(key, inserted)
      }
      const id = labelsKey(labels)
      if (inserted.has(id)) {
        throw new EvaluationError('multiple matches for labels: grouping labels must ensure unique matches')
      }
      inserted.add(id)
    }
    out.push({ labels, value })
  }
  return out
}

/** `name{a="b"}` as Prometheus' `Labels.String()` prints a metric in error messages. */
function formatMetric(labels: Labels): string {
  return `{${Object.keys(labels)
    .map((n) => `${n}="${labels[n]}"`)
    .join(', ')}}`
}

function vectorAnd(lhs: Sample[], rhs: Sample[], matching: VectorMatching): Sample[] {
  if (lhs.length === 0 || rhs.length === 0) return []
  const sig = signatureFn(matching)
  const right = new Set(rhs.map((s) => sig(s.labels)))
  return lhs.filter((s) => right.has(sig(s.labels)))
}

function vectorOr(lhs: Sample[], rhs: Sample[], matching: VectorMatching): Sample[] {
  if (lhs.length === 0) return rhs
  if (rhs.length === 0) return lhs
  const sig = signatureFn(matching)
  const left = new Set(lhs.map((s) => sig(s.labels)))
  return [...lhs, ...rhs.filter((s) => !left.has(sig(s.labels)))]
}

function vectorUnless(lhs: Sample[], rhs: Sample[], matching: VectorMatching): Sample[] {
  if (lhs.length === 0 || rhs.length === 0) return lhs
  const sig = signatureFn(matching)
  const right = new Set(rhs.map((s) => sig(s.labels)))
  return lhs.filter((s) => !right.has(sig(s.labels)))
}
