import {
  type Aggregate,
  type Binary,
  type Call,
  type Expr,
  isComparison,
  type MatrixSelector,
  type VectorMatching,
  type VectorSelector,
  walkSelectors,
} from './ast.ts'
import {
  avgOverTime,
  type Bucket,
  bucketQuantile,
  extrapolatedRate,
  goPow,
  irate,
  maxOverTime,
  minOverTime,
  parseGoFloat,
  sumOverTime,
} from './functions.ts'
import {
  cachedSignature,
  dropLabels,
  keepLabels,
  type Labels,
  labelsFrom,
  labelsKey,
  METRIC_NAME,
  signatureOn,
  signatureWithout,
  withoutName,
} from './labels.ts'
import { parsePromQL } from './parser.ts'
import { type LatestSample, type Queryable, RangeBuffer } from './store.ts'

/** Prometheus' default `--query.lookback-delta`. */
export const DEFAULT_LOOKBACK_MS = 5 * 60_000

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

type Value = { kind: 'scalar'; value: number } | { kind: 'vector'; samples: Sample[] }

const BUCKET_EXCLUDED = new Set([METRIC_NAME, 'le'])

/** A parsed, validated expression ready to be evaluated against a store. */
export class CompiledQuery {
  readonly expr: Expr
  /** How far back from the evaluation time the expression reads (lookback/range plus offset). */
  readonly lookbehindMs: number

  constructor(
    readonly text: string,
    lookbackMs = DEFAULT_LOOKBACK_MS,
  ) {
    this.expr = parsePromQL(text)
    let max = 0
    walkSelectors(this.expr, (selector, rangeMs) => {
      max = Math.max(max, (rangeMs ?? lookbackMs) + Math.max(0, selector.offsetMs))
    })
    this.lookbehindMs = max
  }
}

/**
 * Evaluates an instant query at `timeMs` like Prometheus' engine evaluates one step: the
 * 5-minute lookback and staleness for instant selectors, samples in [t - range, t] for range
 * selectors, and Prometheus' rules for metric-name dropping, vector matching and errors.
 */
export function evaluateInstant(
  query: CompiledQuery,
  store: Queryable,
  timeMs: number,
  lookbackMs = DEFAULT_LOOKBACK_MS,
): InstantResult {
  const ev = new RuleManager(store, timeMs, lookbackMs)
  const value = ev.eval(query.expr)
  return value.kind === 'scalar'
    ? { resultType: 'scalar', value: value.value }
    : { resultType: 'vector', samples: value.samples }
}

class RuleManager {
  private readonly latestOut: LatestSample = { t: 0, v: 0, stale: false }
  private readonly buffer = new RangeBuffer()

  constructor(
    private readonly store: Queryable,
    private readonly time: number,
    private readonly lookbackMs: number,
  ) {}

  eval(expr: Expr): Value {
    switch (expr.kind) {
      case 'number':
        return { kind: 'scalar', value: expr.value }
      case 'paren':
        return this.eval(expr.expr)
      case 'vectorSelector':
        return { kind: 'vector', samples: this.instantSelector(expr) }
      case 'matrixSelector':
        throw new EvaluationError('range vector cannot be evaluated as an instant value')
      case 'unary': {
        const v = this.eval(expr.expr)
        if (expr.op === '+') return v
        if (v.kind === 'scalar') return { kind: 'scalar', value: -v.value }
        const samples = v.samples.map((s) => ({ labels: withoutName(s.labels), value: -s.value }))
        return { kind: 'vector', samples: checkDistinct(samples) }
      }
      case 'call':
        return { kind: 'vector', samples: this.call(expr) }
      case 'aggregate':
        return { kind: 'vector', samples: this.aggregate(expr) }
      case 'binary':
        return this.binary(expr)
    }
  }

  private instantSelector(sel: VectorSelector): Sample[] {
    const refTime = this.time - sel.offsetMs
    const out: Sample[] = []
    const latest = this.latestOut
    for (const series of this.store.select(sel.matchers)) {
      if (!this.store.latest(series, refTime - this.lookbackMs, refTime, latest)) continue
      if (latest.stale) continue
      out.push({ labels: series.labels, value: latest.v })
    }
    return out
  }

  /** Calls `fn` with the in-range samples of every selected series that has any. */
  private forEachRange(
    ms: MatrixSelector,
    fn: (
      labels: Labels,
      ts: Float64Array,
      vs: Float64Array,
      n: number,
      rangeStart: number,
      rangeEnd: number,
    ) => void,
  ): void {
    const rangeEnd = this.time - ms.selector.offsetMs
    const rangeStart = rangeEnd - ms.rangeMs
    const buf = this.buffer
    for (const series of this.store.select(ms.selector.matchers)) {
      const n = this.store.range(series, rangeStart, rangeEnd, buf)
      if (n === 0) continue
      fn(series.labels, buf.ts, buf.vs, n, rangeStart, rangeEnd)
    }
  }

  private call(call: Call): Sample[] {
    const out: Sample[] = []
    switch (call.func) {
      case 'histogram_quantile':
        return this.histogramQuantile(call)
      case 'absent': {
        const arg = call.args[0] as Expr
        const v = this.eval(arg)
        if (v.kind === 'vector' && v.samples.length > 0) return []
        return [{ labels: absentLabels(arg), value: 1 }]
      }
      default: {
        const ms = call.args[0] as MatrixSelector
        const func = call.func
        this.forEachRange(ms, (labels, ts, vs, n, rangeStart, rangeEnd) => {
          let value: number | undefined
          switch (func) {
            case 'rate':
              value = extrapolatedRate(ts, vs, n, rangeStart, rangeEnd, ms.rangeMs, true, true)
              break
            case 'increase':
              value = extrapolatedRate(ts, vs, n, rangeStart, rangeEnd, ms.rangeMs, true, false)
              break
            case 'delta':
              value = extrapolatedRate(ts, vs, n, rangeStart, rangeEnd, ms.rangeMs, false, false)
              break
            case 'irate':
              value = irate(ts, vs, n)
              break
            case 'avg_over_time':
              value = avgOverTime(vs, n)
              break
            case 'min_over_time':
              value = minOverTime(vs, n)
              break
            case 'max_over_time':
              value = maxOverTime(vs, n)
              break
            case 'sum_over_time':
              value = sumOverTime(vs, n)
              break
            case 'count_over_time':
              value = n
              break
          }
          if (value !== undefined) out.push({ labels: withoutName(labels), value })
        })
        return checkDistinct(out)
      }
    }
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
    return checkDistinct(out)
  }

  private aggregate(agg: Aggregate): Sample[] {
    const input = this.vector(agg.expr)
    const grouping = new Set(agg.grouping)
    const excluded = agg.without ? new Set([...agg.grouping, METRIC_NAME]) : undefined
    interface Group {
      labels: Labels
      value: number
      mean: number
      count: number
    }
    const groups = new Map<string, Group>()
    const ordered: Group[] = []
    const spec = `${agg.without ? 'w' : 'b'}\u0000${agg.grouping.join('\u0000')}`
    const signature = excluded
      ? (labels: Labels) => signatureWithout(labels, excluded)
      : (labels: Labels) => signatureOn(labels, agg.grouping)
    for (const s of input) {
      const key = !excluded && agg.grouping.length === 0 ? '' : cachedSignature(s.labels, spec, signature)
      const group = groups.get(key)
      if (!group) {
        const labels = excluded ? dropLabels(s.labels, excluded) : keepLabels(s.labels, grouping)
        const g = { labels, value: s.value, mean: s.value, count: 1 }
        groups.set(key, g)
        ordered.push(g)
        continue
      }
      const v = s.value
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
          group.count++
          break
      }
    }
    return ordered.map((g) => ({
      labels: g.labels,
      value: agg.op === 'avg' ? g.mean : agg.op === 'count' ? g.count : g.value,
    }))
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
          return { kind: 'vector', samples: vectorOr(lhs.samples, rhs.samples, matching) }
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

  private vector(expr: Expr): Sample[] {
    const v = this.eval(expr)
    if (v.kind !== 'vector') throw new EvaluationError('expected an instant vector')
    return v.samples
  }
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

/** absent(): labels from the selector's equality matchers (Prometheus' createLabelsForAbsentFunction). */
function absentLabels(arg: Expr): Labels {
  if (arg.kind !== 'vectorSelector') return labelsFrom({})
  const record: Record<string, string> = {}
  const conflicting = new Set<string>()
  for (const m of arg.matchers) {
    if (m.name === METRIC_NAME) continue
    if (m.type === '=' && !(m.name in record)) record[m.name] = m.value
    else conflicting.add(m.name)
  }
  for (const name of conflicting) delete record[name]
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

function scalarBinop(op: Binary['op'], l: number, r: number): number {
  if (isComparison(op)) return compare(op, l, r) ? 1 : 0
  return arithmetic(op, l, r)
}

function vectorScalarBinop(bin: Binary, samples: Sample[], scalar: number, swap: boolean): Sample[] {
  const out: Sample[] = []
  const comparison = isComparison(bin.op)
  const dropName = !comparison || bin.returnBool
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

function vectorBinop(bin: Binary, lhs: Sample[], rhs: Sample[], matching: VectorMatching): Sample[] {
  if (lhs.length === 0 || rhs.length === 0) return []
  const sig = signatureFn(matching)
  const right = new Map<string, Sample>()
  for (const rs of rhs) {
    const key = sig(rs.labels)
    const dup = right.get(key)
    if (dup) {
      throw new EvaluationError(
        'found duplicate series for the match group on the right hand-side of the operation;' +
          'many-to-many matching not allowed: matching labels must be unique on one side',
      )
    }
    right.set(key, rs)
  }
  const comparison = isComparison(bin.op)
  const matched = new Set<string>()
  const keepNames = new Set(matching.labels)
  const out: Sample[] = []
  for (const ls of lhs) {
    const key = sig(ls.labels)
    const rs = right.get(key)
    if (!rs) continue
    let value: number
    let keep = true
    if (comparison) {
      keep = compare(bin.op, ls.value, rs.value)
      value = ls.value
    } else {
      value = arithmetic(bin.op, ls.value, rs.value)
    }
    if (bin.returnBool) value = keep ? 1 : 0
    else if (!keep) continue
    let labels = comparison ? ls.labels : withoutName(ls.labels)
    labels = matching.on ? keepLabels(labels, keepNames) : dropLabels(labels, keepNames)
    if (bin.returnBool) labels = withoutName(labels)
    if (matched.has(key)) {
      throw new EvaluationError(
        'multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)',
      )
    }
    matched.add(key)
    out.push({ labels, value })
  }
  return out
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
