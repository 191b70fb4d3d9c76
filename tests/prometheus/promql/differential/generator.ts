/**
 * Seeded random PromQL cases for the differential test against promtool: input series in
 * promtool's series notation (counters with resets, gauges with gaps, NaN and stale
 * markers, classic histograms) and random expressions over the whole 2.42 grammar, typed
 * so that they parse (type errors would only test the parser's messages).
 *
 * Expressions are trees of `Node`s so a disagreement can be shrunk: `shrinkCandidates`
 * lists smaller expressions of the same type.
 */

/** mulberry32: a small, fast, seedable PRNG (same seed, same cases on every machine). */
export class Rng {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T
  }

  chance(p: number): boolean {
    return this.next() < p
  }
}

/**
 * A fuzzer's numeric command-line option, `--seed 3` → 3 for `numberArg('--seed', 1)`;
 * `fallback` when it is absent.
 */
export function numberArg(name: string, fallback: number, argv: readonly string[] = process.argv): number {
  const i = argv.indexOf(name)
  return i >= 0 ? Number(argv[i + 1]) : fallback
}

export type ExprType = 'vector' | 'scalar' | 'matrix'

/** An expression tree: `render` joins the children's text; `children` have their types. */
export interface Node {
  readonly type: ExprType
  readonly children: readonly Node[]
  readonly render: (parts: readonly string[]) => string
}

export function show(node: Node): string {
  return node.render(node.children.map(show))
}

const leaf = (type: ExprType, text: string): Node => ({ type, children: [], render: () => text })
const wrap = (type: ExprType, children: Node[], render: (p: readonly string[]) => string): Node => ({
  type,
  children,
  render,
})

export interface InputSeries {
  series: string
  values: string
}

const JOBS = ['a', 'b']
const INSTANCES = ['1', '2', '3']
const BOUNDS = ['0.1', '1', '10', '+Inf']

/** Counters (with resets), gauges (gaps, NaN, stale markers) and one classic histogram. */
export function generateSeries(rng: Rng, points: number): InputSeries[] {
  const out: InputSeries[] = []
  for (const job of JOBS) {
    for (const inst of INSTANCES) {
      if (rng.chance(0.25)) continue
      out.push({ series: `c{job="${job}", inst="${inst}"}`, values: counterValues(rng, points) })
    }
    for (const inst of INSTANCES.slice(0, 2)) {
      if (rng.chance(0.3)) continue
      out.push({ series: `g{job="${job}", inst="${inst}"}`, values: gaugeValues(rng, points) })
    }
  }
  // One histogram per job: cumulative buckets from shared per-bucket increments.
  for (const job of JOBS) {
    if (rng.chance(0.3)) continue
    const increments = BOUNDS.map(() => rng.int(5))
    let cumulative = 0
    for (let i = 0; i < BOUNDS.length; i++) {
      cumulative += increments[i] as number
      out.push({
        series: `h_bucket{job="${job}", le="${BOUNDS[i]}"}`,
        values: `0+${cumulative}x${points - 1}`,
      })
    }
  }
  return out
}

function counterValues(rng: Rng, points: number): string {
  const parts: string[] = []
  let left = points
  let start = rng.int(20)
  while (left > 0) {
    const n = Math.min(left, 1 + rng.int(12))
    const step = rng.pick([0, 1, 2, 5, 10, 0.5])
    parts.push(n === 1 ? `${start}` : `${start}+${step}x${n - 1}`)
    left -= n
    if (rng.chance(0.2) && left > 0) {
      parts.push('_')
      left--
    }
    start = rng.chance(0.3) ? rng.int(5) : start + step * n
  }
  return parts.join(' ')
}

function gaugeValues(rng: Rng, points: number): string {
  const parts: string[] = []
  for (let i = 0; i < points; i++) {
    const r = rng.next()
    if (r < 0.08) parts.push('_')
    else if (r < 0.11) parts.push('stale')
    else if (r < 0.12) parts.push('NaN')
    else parts.push(String(rng.pick([-3, -1, 0, 0.5, 1, 2, 2.25, 7, 10, 42, -0.75, 100])))
  }
  return parts.join(' ')
}

const MATCHERS = [
  '',
  '',
  '{job="a"}',
  '{job!="a"}',
  '{job=~"a|b"}',
  '{inst=~"1|3"}',
  '{job=~"(?i:A)"}',
  '{inst!~"2"}',
]
const OFFSETS = ['', '', '', ' offset 1m', ' offset 5m', ' offset -1m']
const RANGES = ['1m', '2m', '3m', '5m', '10m']

function selector(rng: Rng): Node {
  const name = rng.pick(['c', 'c', 'g', 'g', 'h_bucket', 'nope'])
  let text = name + rng.pick(MATCHERS)
  text += rng.pick(OFFSETS)
  if (rng.chance(0.06)) text += rng.pick([' @ 300', ' @ 450.5', ' @ start()', ' @ end()'])
  return leaf('vector', text)
}

function number(rng: Rng): Node {
  return leaf('scalar', String(rng.pick([0, 1, 2, 3, 0.5, 10, 100, 0.25, 1.5, -1, -2])))
}

const RANGE_FUNCTIONS = [
  'rate',
  'increase',
  'delta',
  'irate',
  'idelta',
  'deriv',
  'changes',
  'resets',
  'avg_over_time',
  'min_over_time',
  'max_over_time',
  'sum_over_time',
  'count_over_time',
  'last_over_time',
  'present_over_time',
  'stddev_over_time',
  'stdvar_over_time',
  'absent_over_time',
]
const SIMPLE_FUNCTIONS = [
  'abs',
  'ceil',
  'floor',
  'exp',
  'sqrt',
  'ln',
  'log2',
  'log10',
  'sgn',
  'timestamp',
  'sort',
  'sort_desc',
  'absent',
  'deg',
  'rad',
  'sin',
  'cos',
  'tan',
  'asin',
  'acos',
  'atan',
  'sinh',
  'cosh',
  'tanh',
  'asinh',
  'acosh',
  'atanh',
  'histogram_count',
  'histogram_sum',
]
const AGGREGATIONS = ['sum', 'avg', 'min', 'max', 'count', 'group', 'stddev', 'stdvar']
const GROUPINGS = [
  '',
  ' by (job)',
  ' without (inst)',
  ' by (job, inst)',
  ' without (job)',
  ' by ()',
  ' by (le)',
]
const ARITHMETIC = ['+', '-', '*', '/', '%', '^', 'atan2']
const COMPARISON = ['==', '!=', '>', '<', '>=', '<=']
const SETS = ['and', 'or', 'unless']
const INEXACT =
  /\b(exp|ln|log2|log10|sinh|cosh|tanh|asin|acos|asinh|acosh|atanh|holt_winters|predict_linear|deriv|stddev|stdvar|stddev_over_time|stdvar_over_time|avg|avg_over_time|rate|increase|delta|histogram_quantile)\b|\^/
/**
 * Aggregations whose last bits follow the order of their input series: Prometheus 2.42
 * keeps a running mean (`avg`) and a running variance (`stddev`, `stdvar`) per group
 * (promql/engine.go, `aggregation`: `group.mean += s.V/group.groupCount -
 * group.mean/group.groupCount`; `group.value += delta * (s.V - group.mean)`), and promtool
 * hands them the series in Go's map order, which changes from run to run. On the
 * generator's small dyadic values the exact result often sits on a rounding or comparison
 * boundary (stdvar 0.1875, avg 0.0625, stdvar 0.25), so one run's 0.18749999999999997 is
 * another's 0.1875: within tolerance as a value, but round/ceil/floor, a comparison and
 * count_values turn it into another value, another series kept, another label (seed 1046:
 * `count_values("value", round(stdvar by (le) (count_over_time(c[3m])), 0.001))`). Over
 * such results those operators are replaced by continuous ones (`blur`, `continuous`).
 */
const ORDER_DEPENDENT = /\b(avg|stddev|stdvar)\b/

/** `op` (with its ` bool`), or `-` when it is a comparison over an order-dependent result. */
function continuous(op: string, bool: string, parts: readonly (string | undefined)[]): string {
  if (!COMPARISON.includes(op)) return op + bool
  return parts.some((p) => ORDER_DEPENDENT.test(p as string)) ? '-' : op + bool
}

/** `rounded`, or the unrounded `text` when it holds an order-dependent result. */
function blur(text: string, rounded: string): string {
  return ORDER_DEPENDENT.test(text) ? text : rounded
}

const DATE_FUNCTIONS = [
  'hour',
  'minute',
  'month',
  'year',
  'day_of_month',
  'day_of_week',
  'day_of_year',
  'days_in_month',
]

function matrix(rng: Rng, depth: number): Node {
  if (depth <= 0 || rng.chance(0.75)) {
    const base = rng.pick(['c', 'c', 'g', 'h_bucket']) + rng.pick(MATCHERS)
    let text = `${base}[${rng.pick(RANGES)}]`
    text += rng.pick(OFFSETS)
    if (rng.chance(0.05)) text += rng.pick([' @ 600', ' @ end()'])
    return leaf('matrix', text)
  }
  const inner = vector(rng, depth - 1)
  const range = rng.pick(['2m', '5m', '10m'])
  const step = rng.pick(['', '30s', '1m', '2m'])
  const offset = rng.pick(['', '', ' offset 1m', ' @ 600', ' offset 30s @ end()'])
  return wrap('matrix', [inner], ([e]) => `(${e})[${range}:${step}]${offset}`)
}

function scalar(rng: Rng, depth: number): Node {
  if (depth <= 0) return number(rng)
  const r = rng.next()
  if (r < 0.45) return number(rng)
  if (r < 0.6) return wrap('scalar', [vector(rng, depth - 1)], ([v]) => `scalar(${v})`)
  if (r < 0.68) return leaf('scalar', 'time()')
  if (r < 0.72) return leaf('scalar', 'pi()')
  if (r < 0.85) {
    const op = rng.pick([...ARITHMETIC, ...COMPARISON])
    const bool = COMPARISON.includes(op) ? ' bool' : ''
    return wrap(
      'scalar',
      [scalar(rng, depth - 1), scalar(rng, depth - 1)],
      ([a, b]) => `${a} ${continuous(op, bool, [a, b])} ${b}`,
    )
  }
  if (r < 0.93) return wrap('scalar', [scalar(rng, depth - 1)], ([a]) => `-(${a})`)
  return wrap('scalar', [scalar(rng, depth - 1)], ([a]) => `(${a})`)
}

/** Vector matching: on/ignoring and group_left/group_right with an extra label. */
function matching(rng: Rng, set: boolean): string {
  const r = rng.next()
  if (r < 0.45) return ''
  const clause = rng.pick([' on (job)', ' ignoring (inst)', ' on (job, inst)', ' on ()', ' ignoring (job)'])
  if (set || rng.chance(0.6)) return clause
  const group = rng.pick([' group_left', ' group_right'])
  const include = clause.startsWith(' on') ? rng.pick(['', ' (inst)', ' ()']) : rng.pick(['', ' (le)'])
  return clause + group + (clause === ' on (job, inst)' && include === ' (inst)' ? '' : include)
}

export function vector(rng: Rng, depth: number, top = false): Node {
  if (depth <= 0) return selector(rng)
  const r = rng.next()
  if (r < 0.14) return selector(rng)
  if (r < 0.28) {
    const fn = rng.pick(RANGE_FUNCTIONS)
    return wrap('vector', [matrix(rng, depth - 1)], ([m]) => `${fn}(${m})`)
  }
  if (r < 0.33) {
    const kind = rng.int(3)
    const m = matrix(rng, depth - 1)
    if (kind === 0) return wrap('vector', [scalar(rng, 0), m], ([q, x]) => `quantile_over_time(${q}, ${x})`)
    if (kind === 1) return wrap('vector', [m, scalar(rng, 0)], ([x, d]) => `predict_linear(${x}, ${d})`)
    const sf = rng.pick(['0.1', '0.5', '0.9'])
    const tf = rng.pick(['0.1', '0.5', '0.9'])
    return wrap('vector', [m], ([x]) => `holt_winters(${x}, ${sf}, ${tf})`)
  }
  if (r < 0.43) {
    const fn = rng.pick(SIMPLE_FUNCTIONS)
    // A last-bit difference in a huge argument (say cosh of 100) changes sin/cos/tan entirely.
    const trig = fn === 'sin' || fn === 'cos' || fn === 'tan'
    const rounds = fn === 'ceil' || fn === 'floor'
    return wrap('vector', [vector(rng, depth - 1)], ([v]) => {
      if (rounds) return blur(v as string, `${fn}(${v})`)
      return trig && INEXACT.test(v as string) ? `${fn}(clamp(${v}, -1e6, 1e6))` : `${fn}(${v})`
    })
  }
  if (r < 0.48) {
    const kind = rng.int(7)
    const v = vector(rng, depth - 1)
    switch (kind) {
      case 0:
        return wrap('vector', [v, scalar(rng, 0)], ([a, s]) => blur(a as string, `round(${a}, ${s})`))
      case 1:
        return wrap(
          'vector',
          [v, scalar(rng, 0), scalar(rng, 0)],
          ([a, lo, hi]) => `clamp(${a}, ${lo}, ${hi})`,
        )
      case 2:
        return wrap('vector', [v, scalar(rng, 0)], ([a, s]) => `clamp_min(${a}, ${s})`)
      case 3:
        return wrap('vector', [v, scalar(rng, 0)], ([a, s]) => `clamp_max(${a}, ${s})`)
      case 4: {
        const [dst, repl, src, re] = rng.pick([
          ['job', 'x-$1', 'job', '(.*)'],
          ['new', `\${1}_$2`, 'inst', '(\\\\d)(.*)'],
          ['inst', '', 'job', 'a'],
          ['job', '$1x', 'job', '(?P<n>a)'],
          ['z', '$n', 'job', '(?P<n>[ab])'],
        ])
        return wrap('vector', [v], ([a]) => `label_replace(${a}, "${dst}", "${repl}", "${src}", "${re}")`)
      }
      case 5: {
        const [dst, sep, srcs] = rng.pick([
          ['j', '-', '"job", "inst"'],
          ['job', '', '"inst"'],
          ['x', ',', '"nope", "job"'],
        ])
        return wrap('vector', [v], ([a]) => `label_join(${a}, "${dst}", "${sep}", ${srcs})`)
      }
      default:
        return wrap('vector', [v], ([a]) => blur(a as string, `round(${a})`))
    }
  }
  if (r < 0.5) {
    const fn = rng.pick(DATE_FUNCTIONS)
    return rng.chance(0.5)
      ? leaf('vector', `${fn}()`)
      : wrap('vector', [selector(rng)], ([s]) => `${fn}(timestamp(${s}))`)
  }
  if (r < 0.52) return wrap('vector', [scalar(rng, depth - 1)], ([s]) => `vector(${s})`)
  if (r < 0.55) {
    const q = rng.pick(['0.5', '0.9', '0.99', '0', '1'])
    return wrap('vector', [vector(rng, depth - 1)], ([v]) => `histogram_quantile(${q}, sum by (le) (${v}))`)
  }
  if (r < 0.68) {
    const op = rng.pick([...AGGREGATIONS, 'topk', 'bottomk', 'quantile', 'count_values'])
    const grouping = rng.pick(GROUPINGS)
    const v = vector(rng, depth - 1)
    // Among equal values topk/bottomk pick by series order, which promtool leaves to Go's
    // map iteration; only at the top can the comparison allow for that.
    if ((op === 'topk' || op === 'bottomk') && !top) {
      return wrap('vector', [v], ([a]) => `max${grouping} (${a})`)
    }
    if (op === 'topk' || op === 'bottomk') {
      const k = rng.pick(['1', '2', '3', '0'])
      return wrap('vector', [v], ([a]) => `${op}${grouping} (${k}, ${a})`)
    }
    if (op === 'quantile') {
      const q = rng.pick(['0.5', '0.9', '0', '1', '0.25'])
      return wrap('vector', [v], ([a]) => `quantile${grouping} (${q}, ${a})`)
    }
    if (op === 'count_values') {
      // Go computes exp/log (amd64 assembly) and what builds on them to other last bits than
      // JavaScript; values agree within promtool's tolerance, but count_values would print
      // those bits into labels, so such inputs are rounded first.
      return wrap('vector', [v], ([a]) =>
        ORDER_DEPENDENT.test(a as string)
          ? `count${grouping} (${a})`
          : INEXACT.test(a as string)
            ? `count_values${grouping} ("value", round(clamp(${a}, -1e6, 1e6), 0.001))`
            : `count_values${grouping} ("value", ${a})`,
      )
    }
    return rng.chance(0.5)
      ? wrap('vector', [v], ([a]) => `${op}${grouping} (${a})`)
      : wrap('vector', [v], ([a]) => `${op}(${a})${grouping}`)
  }
  if (r < 0.85) {
    const kind = rng.int(3)
    if (kind === 0) {
      const op = rng.pick([...ARITHMETIC, ...COMPARISON, ...SETS])
      const set = SETS.includes(op)
      const bool = COMPARISON.includes(op) && rng.chance(0.4) ? ' bool' : ''
      const m = matching(rng, set)
      return wrap(
        'vector',
        [vector(rng, depth - 1), vector(rng, depth - 1)],
        ([a, b]) => `${a} ${continuous(op, bool, [a, b])}${m} ${b}`,
      )
    }
    const op = rng.pick([...ARITHMETIC, ...COMPARISON])
    const bool = COMPARISON.includes(op) && rng.chance(0.4) ? ' bool' : ''
    const v = vector(rng, depth - 1)
    const s = scalar(rng, depth - 1)
    return kind === 1
      ? wrap('vector', [v, s], ([a, b]) => `${a} ${continuous(op, bool, [a, b])} ${b}`)
      : wrap('vector', [s, v], ([a, b]) => `${a} ${continuous(op, bool, [a, b])} ${b}`)
  }
  if (r < 0.9) return wrap('vector', [vector(rng, depth - 1)], ([a]) => `-${a}`)
  if (r < 0.92) return wrap('vector', [vector(rng, depth - 1)], ([a]) => `+${a}`)
  return wrap('vector', [vector(rng, depth - 1)], ([a]) => `(${a})`)
}

/** One generated expression of a scalar or instant-vector type (what rules evaluate). */
export function expression(rng: Rng, depth: number): Node {
  return rng.chance(0.1) ? scalar(rng, depth) : vector(rng, depth, true)
}

/** Smaller expressions of the same type: a same-typed child, or a minimal leaf. */
export function shrinkCandidates(node: Node): Node[] {
  const out: Node[] = []
  const visit = (n: Node, replace: (m: Node) => Node): void => {
    for (const child of n.children) {
      if (child.type === n.type) out.push(replace(child))
    }
    if (n.children.length > 0) {
      if (n.type === 'vector') out.push(replace(leaf('vector', 'c')), replace(leaf('vector', 'g')))
      if (n.type === 'scalar') out.push(replace(leaf('scalar', '1')))
      if (n.type === 'matrix') out.push(replace(leaf('matrix', 'c[5m]')))
    }
    n.children.forEach((child, i) => {
      visit(child, (m) => {
        const children = [...n.children]
        children[i] = m
        return replace({ ...n, children })
      })
    })
  }
  visit(node, (m) => m)
  return out
}
