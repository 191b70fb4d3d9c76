/**
 * Seeded random PromQL cases for the differential test against promtool: input series in
 * promtool's series notation (counters with resets and falling runs, gauges with gaps, NaN,
 * stale markers and float64's edge values, classic histograms, one with odd `le` buckets)
 * and random expressions over the whole 2.42 grammar (every function of
 * `promql/parser/functions.go`; odd literals, escapes, durations, subquery steps, offsets
 * and `@`; key words in any case), typed so that they parse (type errors would only test
 * the parser's messages). Parameters stray out of range on purpose: Prometheus' own errors
 * (holt_winters factors, topk's int64 overflow, count_values' label name) must agree too.
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
  // Classic buckets as they come out of real exporters and relabelling mistakes: `+Inf`
  // missing, one bound written twice (`1` and `1.0`), an unparsable `le`, non-monotonic and
  // NaN counts. Prometheus sorts, merges and repairs them in histogram_quantile. Not
  // `le="NaN"`: Go's sort.Sort over a NaN bound leaves an order that follows the input's,
  // which promtool draws from map iteration (1 run in 6 of one file read NaN, the rest 2.5).
  for (const job of JOBS) {
    if (rng.chance(0.4)) continue
    const bounds = rng.pick(ODD_BOUNDS)
    for (const le of bounds) {
      const start = rng.int(6)
      const step = rng.pick([0, 1, 2, 3])
      const nan = rng.chance(0.1)
      out.push({
        series: `hb_bucket{job="${job}", le="${le}"}`,
        values: nan ? `${start} NaN ${start}+${step}x${points - 3}` : `${start}+${step}x${points - 1}`,
      })
    }
  }
  return out
}

const ODD_BOUNDS = [
  ['0.5', '1', '5'],
  ['1', '1.0', '+Inf'],
  ['10', '0.1', '+Inf', '1'],
  ['+Inf'],
  ['abc', '1', '+Inf'],
  ['-1', '0', '+Inf'],
  ['1e1', '5', '+Inf'],
]

function counterValues(rng: Rng, points: number): string {
  const parts: string[] = []
  let left = points
  let start = rng.int(20)
  while (left > 0) {
    const n = Math.min(left, 1 + rng.int(12))
    const step = rng.pick([0, 1, 2, 5, 10, 0.5, 0, 1, 2, 5, 10, 0.5, -1, -3])
    // A falling run (`10-1x4`) is a counter reset at every sample.
    const run = step < 0 ? `${start}-${-step}x${n - 1}` : `${start}+${step}x${n - 1}`
    parts.push(n === 1 ? `${start}` : run)
    left -= n
    if (rng.chance(0.2) && left > 0) {
      parts.push('_')
      left--
    }
    start = rng.chance(0.3) ? rng.int(5) : start + step * n
  }
  return parts.join(' ')
}

/**
 * Values at the edges of float64: infinities, overflow on the next sum, the smallest
 * subnormal, negative zero (which Go's FormatFloat writes as "-0" in a count_values label),
 * and values whose shortest decimal form is long.
 */
const EXTREME_VALUES = [
  'Inf',
  '-Inf',
  '+Inf',
  '1e308',
  '-1e308',
  '5e-324',
  '-0',
  '0.1',
  '1e-9',
  '123456789.123',
  '1e21',
]

function gaugeValues(rng: Rng, points: number): string {
  const parts: string[] = []
  for (let i = 0; i < points; i++) {
    const r = rng.next()
    if (r < 0.08) parts.push('_')
    else if (r < 0.11) parts.push('stale')
    else if (r < 0.12) parts.push('NaN')
    else if (r < 0.14) parts.push(rng.pick(EXTREME_VALUES))
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
  // Quoting and escapes: Go's string literal rules, raw strings, regexes anchored at both ends.
  '{job="\\x61"}',
  "{job='\\u0062'}",
  '{job=~`a|b`}',
  '{job=~"a.*|"}',
  '{inst=~".+"}',
  '{inst!~""}',
  '{nope=""}',
  '{job!=""}',
  '{job=~"\\\\w"}',
  '{inst=~"[13]", job!~"b"}',
]
const OFFSETS = ['', '', '', ' offset 1m', ' offset 5m', ' offset -1m', ' offset 90s', ' offset -7m30s']
const RANGES = ['1m', '2m', '3m', '5m', '10m', '45s', '90s', '1m30s', '7m', '1h', '4m59s', '1m0s']
const AT = [' @ 300', ' @ 450.5', ' @ start()', ' @ end()', ' @ 0', ' @ 1799.999', ' @ -60']
/** Selectors by metric name matcher, where the name is a label like any other. */
const NAME_SELECTORS = [
  '{__name__=~"c|g"}',
  '{__name__="g"}',
  '{__name__=~"h.*", le="+Inf"}',
  '{__name__!="c", job="a"}',
  '{__name__=~"hb_bucket|h_bucket"}',
  'nope{job="a", job="b"}',
  'nope{job="x", inst=~"1"}',
  'hb_bucket',
  '{job="a"}',
  '{inst=~".+"}',
]

function selector(rng: Rng): Node {
  let text = rng.chance(0.08)
    ? rng.pick(NAME_SELECTORS)
    : rng.pick(['c', 'c', 'g', 'g', 'h_bucket', 'nope']) + rng.pick(MATCHERS)
  if (rng.chance(0.06)) {
    // Either order: `@` before or after `offset`.
    const at = rng.pick(AT)
    const offset = rng.pick(OFFSETS)
    text += rng.chance(0.5) ? offset + at : at + offset
  } else text += rng.pick(OFFSETS)
  return leaf('vector', text)
}

/**
 * Number literals as the lexer reads them: Go's `strconv.ParseInt(s, 0, 64)` first (so hex
 * and a leading-zero octal), then `ParseFloat` (exponents, `Inf`, `NaN` in any case).
 */
const ODD_NUMBERS = [
  '0x10',
  '0X1f',
  '010',
  '1e3',
  '1.5e-1',
  '.5',
  '5.',
  'Inf',
  '-Inf',
  'NaN',
  'nan',
  'inf',
  '+2',
]

function number(rng: Rng): Node {
  if (rng.chance(0.15)) return leaf('scalar', rng.pick(ODD_NUMBERS))
  return leaf('scalar', String(rng.pick([0, 1, 2, 3, 0.5, 10, 100, 0.25, 1.5, -1, -2])))
}

/**
 * A scalar argument of a function or parameterised aggregation: mostly a literal, sometimes
 * a whole scalar expression, never one whose last bits follow series order (see `blur`).
 */
function param(rng: Rng, depth: number): Node {
  if (depth <= 0 || rng.chance(0.7)) return number(rng)
  const s = scalar(rng, Math.min(depth, 2))
  return ORDER_DEPENDENT.test(show(s)) ? number(rng) : s
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
  ' by (__name__)',
  ' without (__name__, le)',
  ' by (nope)',
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

/** Whether `text` has a comparison outside brackets and quotes, which binds to its neighbours. */
function bareComparison(text: string): boolean {
  const plain = text.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
  let depth = 0
  let top = ''
  for (const ch of plain) {
    if ('([{'.includes(ch)) depth++
    else if (')]}'.includes(ch)) depth--
    else if (depth === 0) top += ch
  }
  return / (==|!=|>=|<=|>|<) /.test(top)
}

/**
 * `a op b` as text. Operands are written without parentheses, so precedence regroups them;
 * when one holds an order-dependent result, an operand's bare comparison is parenthesised so
 * that the comparison cannot take the order-dependent value as its own operand (`stddev(g) -
 * c <= bool c` compares `stddev(g) - c`).
 */
function binary(a: string, op: string, bool: string, matching: string, b: string): string {
  const tied = ORDER_DEPENDENT.test(a) || ORDER_DEPENDENT.test(b)
  const guard = (x: string): string => (tied && bareComparison(x) ? `(${x})` : x)
  return `${guard(a)} ${continuous(op, bool, [a, b])}${matching} ${guard(b)}`
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
    const base = rng.chance(0.05)
      ? rng.pick(NAME_SELECTORS)
      : rng.pick(['c', 'c', 'g', 'h_bucket']) + rng.pick(MATCHERS)
    let text = `${base}[${rng.pick(RANGES)}]`
    text += rng.pick(OFFSETS)
    if (rng.chance(0.05)) text += rng.pick([' @ 600', ' @ end()', ' @ start()', ' @ 200.5'])
    return leaf('matrix', text)
  }
  const inner = vector(rng, depth - 1)
  const range = rng.pick(['2m', '5m', '10m', '90s', '7m', '1m'])
  const step = rng.pick(['', '30s', '1m', '2m', '', '7s', '45s', '90s', '1m30s', '13s', '3m'])
  const offset = rng.pick([
    '',
    '',
    ' offset 1m',
    ' @ 600',
    ' offset 30s @ end()',
    ' offset -2m',
    ' @ start()',
    ' @ 300 offset -1m',
    ' offset 45s',
    ' @ 599.5',
  ])
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
    return wrap('scalar', [scalar(rng, depth - 1), scalar(rng, depth - 1)], ([a, b]) =>
      binary(a as string, op, bool, '', b as string),
    )
  }
  if (r < 0.9) return wrap('scalar', [scalar(rng, depth - 1)], ([a]) => `-(${a})`)
  if (r < 0.93) {
    // `-a ^ b` is `-(a ^ b)`, and `^` is right-associative.
    return wrap('scalar', [number(rng), number(rng), number(rng)], ([a, b, c]) =>
      rng.chance(0.5) ? `-${a} ^ ${b}` : `${a} ^ ${b} ^ ${c}`,
    )
  }
  return wrap('scalar', [scalar(rng, depth - 1)], ([a]) => `(${a})`)
}

/** Vector matching: on/ignoring and group_left/group_right with an extra label. */
function matching(rng: Rng, set: boolean): string {
  const r = rng.next()
  if (r < 0.45) return ''
  const clause = rng.pick([
    ' on (job)',
    ' ignoring (inst)',
    ' on (job, inst)',
    ' on ()',
    ' ignoring (job)',
    ' on (__name__)',
    ' ignoring (__name__, le)',
  ])
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
    if (kind === 0) {
      return wrap('vector', [param(rng, depth - 1), m], ([q, x]) => `quantile_over_time(${q}, ${x})`)
    }
    if (kind === 1)
      return wrap('vector', [m, param(rng, depth - 1)], ([x, d]) => `predict_linear(${x}, ${d})`)
    // Smoothing and trend factors outside (0, 1) are errors.
    const odd = rng.chance(0.15)
    const sf = rng.pick(odd ? ['0', '1', '1.5', 'NaN', '0.5'] : ['0.1', '0.5', '0.9'])
    const tf = rng.pick(odd ? ['0', '1', '-0.5', '0.5'] : ['0.1', '0.5', '0.9'])
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
        return wrap('vector', [v, param(rng, depth - 1)], ([a, s]) => blur(a as string, `round(${a}, ${s})`))
      case 1:
        return wrap(
          'vector',
          [v, param(rng, depth - 1), param(rng, depth - 1)],
          ([a, lo, hi]) => `clamp(${a}, ${lo}, ${hi})`,
        )
      case 2:
        return wrap('vector', [v, param(rng, depth - 1)], ([a, s]) => `clamp_min(${a}, ${s})`)
      case 3:
        return wrap('vector', [v, param(rng, depth - 1)], ([a, s]) => `clamp_max(${a}, ${s})`)
      case 4: {
        const [dst, repl, src, re] = rng.pick([
          ['job', 'x-$1', 'job', '(.*)'],
          ['new', `\${1}_$2`, 'inst', '(\\\\d)(.*)'],
          ['inst', '', 'job', 'a'],
          ['job', '$1x', 'job', '(?P<n>a)'],
          ['z', '$n', 'job', '(?P<n>[ab])'],
          ['__name__', 'renamed', 'job', 'a'],
          ['job', '$0-$2', 'inst', '(.)'],
          ['x', '$1', 'nope', '(.*)'],
          ['inst', `\${1}\${1}`, '__name__', '(c|g)'],
          ['x', '$1', 'job', '('],
          ['1x', 'y', 'job', '.*'],
          ['le', '$1', 'le', '\\\\+?(.*)'],
          ['x', '$1', 'job', '(?i)A'],
        ])
        return wrap('vector', [v], ([a]) => `label_replace(${a}, "${dst}", "${repl}", "${src}", "${re}")`)
      }
      case 5: {
        const [dst, sep, srcs] = rng.pick([
          ['j', '-', '"job", "inst"'],
          ['job', '', '"inst"'],
          ['x', ',', '"nope", "job"'],
          ['j', ';', '"job", "inst", "job", "le", "__name__", "nope"'],
          ['__name__', '_', '"job", "inst"'],
          ['inst', '', ''],
          ['le', '', '"le"'],
          ['x-y', '-', '"job"'],
        ])
        const tail = srcs === '' ? '' : `, ${srcs}`
        return wrap('vector', [v], ([a]) => `label_join(${a}, "${dst}", "${sep}"${tail})`)
      }
      default:
        return wrap('vector', [v], ([a]) => blur(a as string, `round(${a})`))
    }
  }
  if (r < 0.5) {
    const fn = rng.pick(DATE_FUNCTIONS)
    const r2 = rng.next()
    if (r2 < 0.35) return leaf('vector', `${fn}()`)
    if (r2 < 0.7) return wrap('vector', [selector(rng)], ([s]) => `${fn}(timestamp(${s}))`)
    // Sample values as Unix times: negative, fractional, NaN, ±Inf.
    return wrap('vector', [vector(rng, depth - 1)], ([v]) => `${fn}(${v})`)
  }
  if (r < 0.52) return wrap('vector', [scalar(rng, depth - 1)], ([s]) => `vector(${s})`)
  if (r < 0.55) {
    const kind = rng.int(4)
    if (kind === 3 && rng.chance(0.3)) {
      // Float samples only: histogram_fraction finds no native histogram and returns nothing.
      return wrap(
        'vector',
        [param(rng, 0), param(rng, 0), vector(rng, depth - 1)],
        ([lo, hi, v]) => `histogram_fraction(${lo}, ${hi}, ${v})`,
      )
    }
    const q = rng.chance(0.8)
      ? leaf('scalar', rng.pick(['0.5', '0.9', '0.99', '0', '1', '-0.5', '1.5', 'NaN']))
      : param(rng, depth - 1)
    if (kind === 2) {
      const grouping = rng.pick(['by (le)', 'by (le, job)', 'without (inst)'])
      const name = rng.pick([
        'hb_bucket',
        'h_bucket',
        '{__name__=~"h_bucket|hb_bucket"}',
        'hb_bucket{le!="abc"}',
      ])
      const inner = rng.chance(0.5) ? `rate(${name}[5m])` : name
      return wrap('vector', [q], ([p]) => `histogram_quantile(${p}, sum ${grouping} (${inner}))`)
    }
    if (kind === 1) return wrap('vector', [q, selector(rng)], ([p, v]) => `histogram_quantile(${p}, ${v})`)
    return wrap(
      'vector',
      [q, vector(rng, depth - 1)],
      ([p, v]) => `histogram_quantile(${p}, sum by (le) (${v}))`,
    )
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
      const k = rng.chance(0.8)
        ? leaf('scalar', rng.pick(['1', '2', '3', '0', '1.5', '-1', '2.9']))
        : param(rng, 1)
      return wrap('vector', [k, v], ([n, a]) => `${op}${grouping} (${n}, ${a})`)
    }
    if (op === 'quantile') {
      const q = rng.chance(0.8)
        ? leaf('scalar', rng.pick(['0.5', '0.9', '0', '1', '0.25', '-1', '2', 'NaN']))
        : param(rng, 1)
      return wrap('vector', [q, v], ([p, a]) => `quantile${grouping} (${p}, ${a})`)
    }
    if (op === 'count_values') {
      // The output label may be one the input already has, the name, or no label name at all.
      const label = rng.chance(0.7)
        ? '"value"'
        : rng.pick(['"job"', '"le"', '"__name__"', '"1x"', '""', "'v'", '`inst`'])
      // Go computes exp/log (amd64 assembly) and what builds on them to other last bits than
      // JavaScript; values agree within promtool's tolerance, but count_values would print
      // those bits into labels, so such inputs are rounded first.
      return wrap('vector', [v], ([a]) =>
        ORDER_DEPENDENT.test(a as string)
          ? `count${grouping} (${a})`
          : INEXACT.test(a as string)
            ? `count_values${grouping} ("value", round(clamp(${a}, -1e6, 1e6), 0.001))`
            : `count_values${grouping} (${label}, ${a})`,
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
      return wrap('vector', [vector(rng, depth - 1), vector(rng, depth - 1)], ([a, b]) =>
        binary(a as string, op, bool, m, b as string),
      )
    }
    const op = rng.pick([...ARITHMETIC, ...COMPARISON])
    const bool = COMPARISON.includes(op) && rng.chance(0.4) ? ' bool' : ''
    const v = vector(rng, depth - 1)
    const s = scalar(rng, depth - 1)
    return kind === 1
      ? wrap('vector', [v, s], ([a, b]) => binary(a as string, op, bool, '', b as string))
      : wrap('vector', [s, v], ([a, b]) => binary(a as string, op, bool, '', b as string))
  }
  if (r < 0.88) return wrap('vector', [vector(rng, depth - 1)], ([a]) => `-${a}`)
  if (r < 0.9) {
    const n = number(rng)
    return wrap('vector', [selector(rng), n], ([a, b]) => `-${a} ^ ${b}`)
  }
  if (r < 0.92) return wrap('vector', [vector(rng, depth - 1)], ([a]) => `+${a}`)
  return wrap('vector', [vector(rng, depth - 1)], ([a]) => `(${a})`)
}

/** PromQL's key words, which the lexer reads in any case (function names it does not). */
const KEYWORDS =
  /\b(sum|avg|min|max|count|group|stddev|stdvar|topk|bottomk|count_values|quantile|by|without|on|ignoring|group_left|group_right|bool|and|or|unless|offset|atan2)\b(?=[ (])/g

/** `text` with its key words upper-cased, outside quotes (a label value stays as it is). */
function shout(text: string): string {
  return text
    .split(/("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(KEYWORDS, (w) => w.toUpperCase())))
    .join('')
}

/** One generated expression of a scalar or instant-vector type (what rules evaluate). */
export function expression(rng: Rng, depth: number): Node {
  if (rng.chance(0.03)) {
    const inner = expression(rng, depth)
    return wrap(inner.type, [inner], ([e]) => shout(e as string))
  }
  // A string literal is a valid expression, but not a rule's result.
  if (rng.chance(0.005)) return leaf('scalar', rng.pick(['"foo"', "'bar'", '`baz`']))
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
