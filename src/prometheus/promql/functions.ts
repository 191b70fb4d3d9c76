/**
 * Numeric kernels of the supported PromQL functions, written to follow Prometheus'
 * `promql/functions.go` and `promql/quantile.go` (2.x) operation by operation, so results
 * agree to the last bit in ordinary cases and within rounding otherwise.
 */
import { GoNumError, goParseFloat } from '../go-strconv.ts'

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

/**
 * Go's `strconv.ParseFloat(text, 64)` as Prometheus reads a `le` label (functions.go
 * `funcHistogramQuantile` skips a bucket whose label it refuses): undefined on a syntax or
 * range error (`1e400`, where `Number` gives Infinity). See goParseFloat.
 */
export function parseGoFloat(text: string): number | undefined {
  try {
    return goParseFloat(text)
  } catch (error) {
    if (error instanceof GoNumError) return undefined
    throw error
  }
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
 * Go's `regexp.Regexp.Expand` for a template against one match (regexp.go, `expand` and
 * `extract`): `$1`, `${1}`, `$name`, `${name}`, `$$`. A name is the longest run of Unicode
 * letters, digits and `_` (`unicode.IsLetter`/`IsDigit`), so `$1é` names the group `1é`,
 * not group 1 followed by `é`. Only a run of ASCII digits without a leading zero, read
 * while below 1e8, is a group number; any other name (`01`, `1٣`) is looked up by name.
 * An unknown group expands to nothing; a `$` not followed by a valid name is copied.
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
    const m = EXPAND_NAME.exec(template.slice(i + 1))
    if (!m) {
      out += '$'
      i++
      continue
    }
    i += 1 + m[0].length
    const name = (m[1] ?? m[2]) as string
    const num = expandNumber(name)
    out += (num >= 0 ? group(num) : group(name)) ?? ''
  }
  return out
}

/** `${name}` or `$name` after the `$`: Go's `extract` (letters, digits, `_`; braces closed). */
const EXPAND_NAME = /^(?:\{([\p{L}\p{Nd}_]+)\}|([\p{L}\p{Nd}_]+))/u

/** Go's `extract` number: ASCII digits read while below 1e8, no leading zero; else -1. */
function expandNumber(name: string): number {
  let num = 0
  for (const ch of name) {
    if (ch < '0' || ch > '9' || num >= 1e8) return -1
    num = num * 10 + Number(ch)
  }
  return name[0] === '0' && name.length > 1 ? -1 : num
}
