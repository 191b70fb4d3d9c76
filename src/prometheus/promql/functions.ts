/**
 * Numeric kernels of the supported PromQL functions, written to follow Prometheus'
 * `promql/functions.go` and `promql/quantile.go` (2.x) operation by operation, so results
 * agree to the last bit in ordinary cases and within rounding otherwise.
 */

/** Go's `Duration.Seconds()` for a whole number of milliseconds. */
function durationSeconds(ms: number): number {
  const sec = Math.trunc(ms / 1000)
  const rest = ms - sec * 1000
  return sec + (rest * 1e6) / 1e9
}

/**
 * rate/increase/delta (`extrapolatedRate`): counter-reset correction, extrapolation to
 * the range boundaries when the first/last samples are close to them (within 1.1 average
 * intervals, else half an interval), and for counters never extrapolating below zero.
 * Returns undefined when fewer than two samples are in range (no output element).
 */
export function extrapolatedRate(
  ts: Float64Array,
  vs: Float64Array,
  n: number,
  rangeStart: number,
  rangeEnd: number,
  rangeMs: number,
  isCounter: boolean,
  isRate: boolean,
): number | undefined {
  if (n < 2) return undefined
  const firstV = vs[0] as number
  const firstT = ts[0] as number
  const lastT = ts[n - 1] as number
  let resultValue = (vs[n - 1] as number) - firstV
  if (isCounter) {
    let lastValue = 0
    for (let i = 0; i < n; i++) {
      const v = vs[i] as number
      if (v < lastValue) resultValue += lastValue
      lastValue = v
    }
  }
  let durationToStart = (firstT - rangeStart) / 1000
  const durationToEnd = (rangeEnd - lastT) / 1000
  const sampledInterval = (lastT - firstT) / 1000
  const averageDurationBetweenSamples = sampledInterval / (n - 1)
  if (isCounter && resultValue > 0 && firstV >= 0) {
    // Counters cannot be negative: do not extrapolate past the zero point.
    const durationToZero = sampledInterval * (firstV / resultValue)
    if (durationToZero < durationToStart) durationToStart = durationToZero
  }
  const extrapolationThreshold = averageDurationBetweenSamples * 1.1
  let extrapolateToInterval = sampledInterval
  if (durationToStart < extrapolationThreshold) extrapolateToInterval += durationToStart
  else extrapolateToInterval += averageDurationBetweenSamples / 2
  if (durationToEnd < extrapolationThreshold) extrapolateToInterval += durationToEnd
  else extrapolateToInterval += averageDurationBetweenSamples / 2
  // One factor, divided by the range for rates, then applied: the operation order of
  // Prometheus 2.40+ (it decides the last bit of the result).
  let factor = extrapolateToInterval / sampledInterval
  if (isRate) factor /= durationSeconds(rangeMs)
  return resultValue * factor
}

/** irate (`instantValue` with isRate): per-second rate between the last two samples. */
export function irate(ts: Float64Array, vs: Float64Array, n: number): number | undefined {
  if (n < 2) return undefined
  const last = vs[n - 1] as number
  const previous = vs[n - 2] as number
  const resultValue = last < previous ? last : last - previous
  const sampledInterval = (ts[n - 1] as number) - (ts[n - 2] as number)
  if (sampledInterval === 0) return undefined
  return resultValue / (sampledInterval / 1000)
}

/** Neumaier-compensated summation step (Prometheus' `kahanSumInc`). */
export function kahanSumInc(inc: number, sum: number, c: number): [number, number] {
  const t = sum + inc
  if (Math.abs(sum) >= Math.abs(inc)) c += sum - t + inc
  else c += inc - t + sum
  return [t, c]
}

export function sumOverTime(vs: Float64Array, n: number): number {
  let sum = 0
  let c = 0
  for (let i = 0; i < n; i++) [sum, c] = kahanSumInc(vs[i] as number, sum, c)
  if (sum === Number.POSITIVE_INFINITY || sum === Number.NEGATIVE_INFINITY) return sum
  return sum + c
}

export function avgOverTime(vs: Float64Array, n: number): number {
  let mean = 0
  let count = 0
  let c = 0
  for (let i = 0; i < n; i++) {
    const v = vs[i] as number
    count++
    if (mean === Number.POSITIVE_INFINITY || mean === Number.NEGATIVE_INFINITY) {
      if ((v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY) && mean > 0 === v > 0) continue
      if (Number.isFinite(v)) continue
    }
    ;[mean, c] = kahanSumInc(v / count - mean / count, mean, c)
  }
  if (mean === Number.POSITIVE_INFINITY || mean === Number.NEGATIVE_INFINITY) return mean
  return mean + c
}

export function maxOverTime(vs: Float64Array, n: number): number {
  let max = vs[0] as number
  for (let i = 0; i < n; i++) {
    const v = vs[i] as number
    if (v > max || Number.isNaN(max)) max = v
  }
  return max
}

export function minOverTime(vs: Float64Array, n: number): number {
  let min = vs[0] as number
  for (let i = 0; i < n; i++) {
    const v = vs[i] as number
    if (v < min || Number.isNaN(min)) min = v
  }
  return min
}

export interface Bucket {
  upperBound: number
  count: number
}

/**
 * Prometheus' `bucketQuantile` for classic histograms: NaN for q = NaN, -Inf/+Inf for
 * q < 0 / q > 1, NaN when the highest bucket is not +Inf, when fewer than two buckets
 * remain after merging equal bounds, or when there are no observations; bucket counts are
 * forced monotonic; the result is interpolated linearly within the bucket (from 0 for the
 * lowest bucket when its bound is positive), and a rank in the +Inf bucket yields the
 * second-highest bound. Sorts `buckets` in place.
 */
export function bucketQuantile(q: number, buckets: Bucket[]): number {
  if (Number.isNaN(q)) return Number.NaN
  if (q < 0) return Number.NEGATIVE_INFINITY
  if (q > 1) return Number.POSITIVE_INFINITY
  buckets.sort((a, b) => (a.upperBound < b.upperBound ? -1 : a.upperBound > b.upperBound ? 1 : 0))
  if ((buckets[buckets.length - 1] as Bucket).upperBound !== Number.POSITIVE_INFINITY) return Number.NaN
  const merged = coalesceBuckets(buckets)
  ensureMonotonic(merged)
  if (merged.length < 2) return Number.NaN
  const observations = (merged[merged.length - 1] as Bucket).count
  if (observations === 0) return Number.NaN
  let rank = q * observations
  // sort.Search over all but the +Inf bucket: first bucket whose count >= rank.
  let lo = 0
  let hi = merged.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((merged[mid] as Bucket).count >= rank) hi = mid
    else lo = mid + 1
  }
  const b = lo
  if (b === merged.length - 1) return (merged[merged.length - 2] as Bucket).upperBound
  const bucket = merged[b] as Bucket
  if (b === 0 && bucket.upperBound <= 0) return bucket.upperBound
  let bucketStart = 0
  const bucketEnd = bucket.upperBound
  let count = bucket.count
  if (b > 0) {
    const previous = merged[b - 1] as Bucket
    bucketStart = previous.upperBound
    count -= previous.count
    rank -= previous.count
  }
  return bucketStart + (bucketEnd - bucketStart) * (rank / count)
}

function coalesceBuckets(buckets: Bucket[]): Bucket[] {
  const out: Bucket[] = []
  let last = { ...(buckets[0] as Bucket) }
  for (let i = 1; i < buckets.length; i++) {
    const b = buckets[i] as Bucket
    if (b.upperBound === last.upperBound) last.count += b.count
    else {
      out.push(last)
      last = { ...b }
    }
  }
  out.push(last)
  return out
}

function ensureMonotonic(buckets: Bucket[]): void {
  let max = (buckets[0] as Bucket).count
  for (let i = 1; i < buckets.length; i++) {
    const b = buckets[i] as Bucket
    if (b.count > max) max = b.count
    else if (b.count < max) b.count = max
  }
}

/** Go's `math.Pow`, whose special cases differ from JavaScript's `**` for 1^NaN and (-1)^±Inf. */
export function goPow(x: number, y: number): number {
  if (y === 0) return 1
  if (x === 1) return 1
  if (x === -1 && (y === Number.POSITIVE_INFINITY || y === Number.NEGATIVE_INFINITY)) return 1
  return x ** y
}

/** Go's `strconv.ParseFloat` for the forms a `le` label takes; undefined when invalid. */
export function parseGoFloat(text: string): number | undefined {
  const lower = text.toLowerCase()
  if (/^[+-]?(inf|infinity)$/.test(lower))
    return lower.startsWith('-') ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY
  if (/^[+-]?nan$/.test(lower)) return Number.NaN
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined
  return Number(text)
}

/**
 * Least-squares fit of the samples (Prometheus' `linearRegression`, Kahan-summed), with x
 * in seconds relative to `interceptTimeMs`. A constant series has slope 0 (NaN when the
 * constant is infinite).
 */
export function linearRegression(
  ts: Float64Array,
  vs: Float64Array,
  n: number,
  interceptTimeMs: number,
): { slope: number; intercept: number } {
  let count = 0
  let sumX = 0
  let cX = 0
  let sumY = 0
  let cY = 0
  let sumXY = 0
  let cXY = 0
  let sumX2 = 0
  let cX2 = 0
  const initY = vs[0] as number
  let constY = true
  for (let i = 0; i < n; i++) {
    const v = vs[i] as number
    if (constY && i > 0 && v !== initY) constY = false
    count += 1
    const x = ((ts[i] as number) - interceptTimeMs) / 1e3
    ;[sumX, cX] = kahanSumInc(x, sumX, cX)
    ;[sumY, cY] = kahanSumInc(v, sumY, cY)
    ;[sumXY, cXY] = kahanSumInc(x * v, sumXY, cXY)
    ;[sumX2, cX2] = kahanSumInc(x * x, sumX2, cX2)
  }
  if (constY) {
    if (initY === Number.POSITIVE_INFINITY || initY === Number.NEGATIVE_INFINITY) {
      return { slope: Number.NaN, intercept: Number.NaN }
    }
    return { slope: 0, intercept: initY }
  }
  sumX += cX
  sumY += cY
  sumXY += cXY
  sumX2 += cX2
  const covXY = sumXY - (sumX * sumY) / count
  const varX = sumX2 - (sumX * sumX) / count
  const slope = covXY / varX
  const intercept = sumY / count - (slope * sumX) / count
  return { slope, intercept }
}

/** Prometheus' `funcHoltWinters` (double exponential smoothing); undefined below two samples. */
export function holtWinters(vs: Float64Array, n: number, sf: number, tf: number): number | undefined {
  if (n < 2) return undefined
  let s0 = 0
  let s1 = vs[0] as number
  let b = (vs[1] as number) - (vs[0] as number)
  for (let i = 1; i < n; i++) {
    const x = sf * (vs[i] as number)
    if (i - 1 !== 0) b = tf * (s1 - s0) + (1 - tf) * b
    const y = (1 - sf) * (s1 + b)
    s0 = s1
    s1 = x + y
  }
  return s1
}

/** NaN sorts first, as in Prometheus' `vectorByValueHeap.Less`. */
export function lessWithNaN(a: number, b: number): boolean {
  if (Number.isNaN(a)) return true
  return a < b
}

/**
 * Prometheus' `quantile` (the φ-quantile by linear interpolation between the two closest
 * ranks). Sorts `values` in place.
 */
export function quantile(q: number, values: number[]): number {
  if (values.length === 0) return Number.NaN
  if (q < 0) return Number.NEGATIVE_INFINITY
  if (q > 1) return Number.POSITIVE_INFINITY
  values.sort((a, b) => (lessWithNaN(a, b) ? -1 : lessWithNaN(b, a) ? 1 : 0))
  const n = values.length
  const rank = q * (n - 1)
  const lowerIndex = Math.max(0, Math.floor(rank))
  const upperIndex = Math.min(n - 1, lowerIndex + 1)
  const weight = rank - Math.floor(rank)
  return (values[lowerIndex] as number) * (1 - weight) + (values[upperIndex] as number) * weight
}

/** `stdvar_over_time` (Welford with Kahan-compensated mean and sum of squares). */
export function stdvarOverTime(vs: Float64Array, n: number): number {
  let count = 0
  let mean = 0
  let cMean = 0
  let aux = 0
  let cAux = 0
  for (let i = 0; i < n; i++) {
    const v = vs[i] as number
    count++
    const delta = v - (mean + cMean)
    ;[mean, cMean] = kahanSumInc(delta / count, mean, cMean)
    ;[aux, cAux] = kahanSumInc(delta * (v - (mean + cMean)), aux, cAux)
  }
  return (aux + cAux) / count
}

/** `changes`: how often the value changed (NaN to NaN is no change). */
export function changes(vs: Float64Array, n: number): number {
  let count = 0
  let prev = vs[0] as number
  for (let i = 1; i < n; i++) {
    const current = vs[i] as number
    if (current !== prev && !(Number.isNaN(current) && Number.isNaN(prev))) count++
    prev = current
  }
  return count
}

/** `resets`: how often the value decreased. */
export function resets(vs: Float64Array, n: number): number {
  let count = 0
  let prev = vs[0] as number
  for (let i = 1; i < n; i++) {
    const current = vs[i] as number
    if (current < prev) count++
    prev = current
  }
  return count
}

/** Go's `math.Frexp`: x = frac × 2^exp with |frac| in [0.5, 1). */
function frexp(x: number): [number, number] {
  if (x === 0 || !Number.isFinite(x)) return [x, 0]
  const view = new DataView(new ArrayBuffer(8))
  let exp = 0
  let v = x
  if (Math.abs(v) < 2.2250738585072014e-308) {
    v *= 2 ** 52
    exp = -52
  }
  view.setFloat64(0, v)
  const hi = view.getUint32(0)
  exp += ((hi >>> 20) & 0x7ff) - 1022
  view.setUint32(0, (hi & ~(0x7ff << 20)) | (1022 << 20))
  return [view.getFloat64(0), exp]
}

/** Go's `math.Log2`: exact for powers of two. */
export function goLog2(x: number): number {
  const [frac, exp] = frexp(x)
  if (frac === 0.5) return exp - 1
  return Math.log(frac) * Math.LOG2E + exp
}

/** Go's `math.Log10` (`Log(x) * (1/Ln10)`). */
export function goLog10(x: number): number {
  return Math.log(x) * Math.LOG10E
}

/**
 * Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest decimal that reads back as `v`,
 * never in exponent form; `+Inf`, `-Inf`, `NaN`.
 */
export function formatFloatF(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Number.POSITIVE_INFINITY) return '+Inf'
  if (v === Number.NEGATIVE_INFINITY) return '-Inf'
  const s = String(v)
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s)
  if (!m) return Object.is(v, -0) ? '-0' : s
  const [, sign, int, frac = '', expText] = m as unknown as [
    string,
    string,
    string,
    string | undefined,
    string,
  ]
  const digits = int + frac
  const exp = Number(expText)
  if (exp >= 0) return sign + digits + '0'.repeat(Math.max(0, exp - frac.length))
  return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`
}

/**
 * Go's `regexp.Regexp.Expand` for a template against one match: `$1`, `${1}`, `$name`,
 * `${name}`, `$$`; a name is the longest run of letters, digits and `_`; an unknown group
 * expands to nothing; a `$` not followed by a valid name is copied.
 */
export function goExpand(template: string, group: (name: string | number) => string | undefined): string {
  let out = ''
  let i = 0
  while (i < template.length) {
    const ch = template[i] as string
    if (ch !== '$') {
      out += ch
      i++
      continue
    }
    if (template[i + 1] === '$') {
      out += '$'
      i += 2
      continue
    }
    let name: string | undefined
    let len = 0
    if (template[i + 1] === '{') {
      const m = /^\{([A-Za-z0-9_]+)\}/.exec(template.slice(i + 1))
      if (m) {
        name = m[1]
        len = 1 + m[0].length
      }
    } else {
      const m = /^[A-Za-z0-9_]+/.exec(template.slice(i + 1))
      if (m) {
        name = m[0]
        len = 1 + m[0].length
      }
    }
    if (name === undefined) {
      out += '$'
      i++
      continue
    }
    i += len
    if (/^\d+$/.test(name)) {
      out += group(Number(name)) ?? ''
    } else {
      out += group(name) ?? ''
    }
  }
  return out
}

/** Go's `math.Atan` (Cephes' rational approximation), which differs from `Math.atan` in the last bit. */
export function goAtan(x: number): number {
  if (x === 0) return x
  return x > 0 ? satan(x) : -satan(-x)
}

function xatan(x: number): number {
  // Go's constants, written as the float64 values they denote.
  const P0 = -0.8750608600031904
  const P1 = -16.157537187333652
  const P2 = -75.00855792314705
  const P3 = -122.88666844901361
  const P4 = -64.85021904942025
  const Q0 = 24.858464901423062
  const Q1 = 165.02700983169885
  const Q2 = 432.88106049129027
  const Q3 = 485.3903996359137
  const Q4 = 194.5506571482614
  let z = x * x
  z =
    (z * ((((P0 * z + P1) * z + P2) * z + P3) * z + P4)) /
    (((((z + Q0) * z + Q1) * z + Q2) * z + Q3) * z + Q4)
  return x * z + x
}

function satan(x: number): number {
  const morebits = 6.123233995736766e-17
  const tan3pio8 = 2.414213562373095
  if (x <= 0.66) return xatan(x)
  if (x > tan3pio8) return Math.PI / 2 - xatan(1 / x) + morebits
  return Math.PI / 4 + xatan((x - 1) / (x + 1)) + 0.5 * morebits
}

/** Go's `math.Atan2`, on top of `goAtan`. */
export function goAtan2(y: number, x: number): number {
  if (Number.isNaN(y) || Number.isNaN(x)) return Number.NaN
  const copysign = (v: number, sign: number) => (sign < 0 || Object.is(sign, -0) ? -Math.abs(v) : Math.abs(v))
  if (y === 0) return x >= 0 && !Object.is(x, -0) ? copysign(0, y) : copysign(Math.PI, y)
  if (x === 0) return copysign(Math.PI / 2, y)
  if (!Number.isFinite(x)) {
    if (x > 0) return Number.isFinite(y) ? copysign(0, y) : copysign(Math.PI / 4, y)
    return Number.isFinite(y) ? copysign(Math.PI, y) : copysign((3 * Math.PI) / 4, y)
  }
  if (!Number.isFinite(y)) return copysign(Math.PI / 2, y)
  const q = goAtan(y / x)
  if (x < 0) return q <= 0 ? q + Math.PI : q - Math.PI
  return q
}

// Go's math.Sin/Cos/Tan (Cephes polynomials after an extended-precision reduction by π/4),
// whose last bits differ from JavaScript's; they show when count_values turns a value into a
// label. Arguments of 2^29 and more (Go's Payne-Hanek branch) use JavaScript's functions.
const SIN = [
  1.5896230157654656e-10, -2.5050747762857807e-8, 0.0000027557313621385722, -0.0001984126982958954,
  0.008333333333322118, -0.1666666666666663,
]
const COS = [
  -1.1358536521387682e-11, 2.087570084197473e-9, -2.755731417929674e-7, 0.000024801587288851704,
  -0.0013888888888873056, 0.041666666666666595,
]
const TAN_P = [-13093.693918138379, 1153516.6483858742, -17956525.197648488]
const TAN_Q = [1, 13681.296347069296, -1320892.3444021097, 25008380.18233579, -53869575.592945464]
const PI4A = 0.7853981256484985
const PI4B = 3.774894707930798e-8
const PI4C = 2.6951514290790595e-15
const FOUR_OVER_PI = 1.2732395447351628
const REDUCE_THRESHOLD = 2 ** 29

/** Octant and reduced argument of |x| < 2^29, as Go's trig functions compute them. */
function reduce(x: number): [number, number] {
  let j = Math.floor(x * FOUR_OVER_PI)
  let y = j
  if (j % 2 === 1) {
    j++
    y++
  }
  return [j % 8, x - y * PI4A - y * PI4B - y * PI4C]
}

function sinPoly(z: number, zz: number): number {
  const s = SIN as [number, number, number, number, number, number]
  return z + z * zz * (((((s[0] * zz + s[1]) * zz + s[2]) * zz + s[3]) * zz + s[4]) * zz + s[5])
}

function cosPoly(zz: number): number {
  const c = COS as [number, number, number, number, number, number]
  return 1.0 - 0.5 * zz + zz * zz * (((((c[0] * zz + c[1]) * zz + c[2]) * zz + c[3]) * zz + c[4]) * zz + c[5])
}

/** Go's `math.Sin`. */
export function goSin(x: number): number {
  if (x === 0 || Number.isNaN(x)) return x
  if (!Number.isFinite(x)) return Number.NaN
  let sign = x < 0
  const ax = Math.abs(x)
  if (ax >= REDUCE_THRESHOLD) return Math.sin(x)
  let [j, z] = reduce(ax)
  if (j > 3) {
    sign = !sign
    j -= 4
  }
  const zz = z * z
  const y = j === 1 || j === 2 ? cosPoly(zz) : sinPoly(z, zz)
  return sign ? -y : y
}

/** Go's `math.Cos`. */
export function goCos(x: number): number {
  if (!Number.isFinite(x)) return Number.NaN
  const ax = Math.abs(x)
  if (ax >= REDUCE_THRESHOLD) return Math.cos(x)
  let sign = false
  let [j, z] = reduce(ax)
  if (j > 3) {
    j -= 4
    sign = !sign
  }
  if (j > 1) sign = !sign
  const zz = z * z
  const y = j === 1 || j === 2 ? sinPoly(z, zz) : cosPoly(zz)
  return sign ? -y : y
}

/** Go's `math.Tan`. */
export function goTan(x: number): number {
  if (x === 0 || Number.isNaN(x)) return x
  if (!Number.isFinite(x)) return Number.NaN
  const sign = x < 0
  const ax = Math.abs(x)
  if (ax >= REDUCE_THRESHOLD) return Math.tan(x)
  // Go's tan does not take the octant modulo 8 before testing bit 2.
  let j = Math.floor(ax * FOUR_OVER_PI)
  let yj = j
  if (j % 2 === 1) {
    j++
    yj++
  }
  const z = ax - yj * PI4A - yj * PI4B - yj * PI4C
  const zz = z * z
  const p = TAN_P as [number, number, number]
  const q = TAN_Q as [number, number, number, number, number]
  let y =
    zz > 1e-14
      ? z +
        z * ((zz * ((p[0] * zz + p[1]) * zz + p[2])) / ((((zz + q[1]) * zz + q[2]) * zz + q[3]) * zz + q[4]))
      : z
  if (Math.floor(j / 2) % 2 === 1) y = -1 / y
  return sign ? -y : y
}
