/**
 * Go's `math` functions as promtool 2.42 computes them (Go 1.19.8, linux/amd64), bit for bit:
 * JavaScript's `Math` functions differ from Go's in the last bit for about one argument in
 * ten (exp, log, asin, acos, the hyperbolic functions, `^`), and PromQL shows such a bit:
 * `cosh(x) % 100`, `round(...)`, comparisons, and `{{ $value }}` in alert templates.
 *
 * Go's Exp and Log are assembly on amd64 (`exp_amd64.s`, `log_amd64.s`); Exp takes its FMA
 * path on CPUs with AVX and FMA (x86-64 since 2013, the CPUs Prometheus runs on), so the
 * fused multiply-adds are emulated here exactly (`goFma`). The rest are ports of Go's pure
 * Go sources, each named at its function.
 */

const F64 = new Float64Array(1)
const U64 = new BigUint64Array(F64.buffer)
/** The low and high 32 bits of F64[0] (little-endian, as every platform Bun runs on). */
const U32 = new Uint32Array(F64.buffer)

/** math.Float64bits. */
function bits(x: number): bigint {
  F64[0] = x
  return U64[0] as bigint
}

/** math.Float64frombits. */
function fromBits(b: bigint): number {
  U64[0] = BigInt.asUintN(64, b)
  return F64[0] as number
}

/** `x` as an exact signed integer mantissa times a power of two. */
function decompose(x: number): [bigint, number] {
  const b = bits(x)
  const exponent = Number((b >> 52n) & 0x7ffn)
  const fraction = b & 0xfffffffffffffn
  const mantissa = exponent === 0 ? fraction : fraction | 0x10000000000000n
  return [b >> 63n ? -mantissa : mantissa, (exponent === 0 ? 1 : exponent) - 1075]
}

/** `x × 2^e` in steps that neither overflow nor underflow on the way, for a normal result. */
function scale(x: number, e: number): number {
  let v = x
  let rest = e
  while (rest > 1000) {
    v *= 2 ** 1000
    rest -= 1000
  }
  while (rest < -1000) {
    v *= 2 ** -1000
    rest += 1000
  }
  return v * 2 ** rest
}

/** `m × 2^e` rounded to the nearest float64, ties to even (subnormals rounded once, at 2^-1074). */
function roundToFloat(m: bigint, e: number): number {
  const negative = m < 0n
  let magnitude = negative ? -m : m
  let exponent = e
  const length = magnitude.toString(2).length
  let value: number
  if (length + exponent - 1 < -1022) {
    // Subnormal (or zero): round at 2^-1074 itself.
    const shift = -1074 - exponent
    if (shift > 0) {
      const rest = magnitude & ((1n << BigInt(shift)) - 1n)
      const half = 1n << BigInt(shift - 1)
      magnitude >>= BigInt(shift)
      if (rest > half || (rest === half && (magnitude & 1n) === 1n)) magnitude++
      exponent = -1074
    }
    value = Number(magnitude) * 2 ** -1074 * 2 ** (exponent + 1074)
  } else {
    // Keep 55 bits and a sticky bit: Number() then rounds to 53 exactly as the whole would.
    if (length > 55) {
      const shift = BigInt(length - 55)
      const sticky = (magnitude & ((1n << shift) - 1n)) !== 0n ? 1n : 0n
      magnitude = (magnitude >> shift) | sticky
      exponent += length - 55
    }
    value = scale(Number(magnitude), exponent)
  }
  return negative ? -value : value
}

const SPLIT = 134217729 // 2^27 + 1, Veltkamp's splitter
const FAST_MAX = 2 ** 400
const FAST_MIN = 2 ** -400

/**
 * `x × y + z` rounded once, when error-free transformations can tell it without doubt: the
 * product split exactly (Dekker's TwoProduct) and the sums exactly (Knuth's TwoSum), so that
 * the exact result is `r + w + d` with `r` a float64; it is `r` rounded when `|w| + |d|` is
 * clearly below half an ulp of `r`. Undefined when it is not clear, or out of the range where
 * the splitting is exact.
 */
function fmaByTransforms(x: number, y: number, z: number): number | undefined {
  const ax = Math.abs(x)
  const ay = Math.abs(y)
  const az = Math.abs(z)
  if (ax > FAST_MAX || ax < FAST_MIN || ay > FAST_MAX || ay < FAST_MIN || az > FAST_MAX || az < FAST_MIN) {
    return undefined
  }
  const p = x * y
  let t = SPLIT * x
  const xh = t - (t - x)
  const xl = x - xh
  t = SPLIT * y
  const yh = t - (t - y)
  const yl = y - yh
  const e = xh * yh - p + xh * yl + xl * yh + xl * yl
  const s = p + z
  let v = s - p
  const t2 = p - (s - v) + (z - v)
  const u = t2 + e
  v = u - t2
  const d = t2 - (u - v) + (e - v)
  const r = s + u
  v = r - s
  const w = s - (r - v) + (u - v)
  F64[0] = r
  const hi = U32[1] as number
  const exponent = (hi >>> 20) & 0x7ff
  // Near zero, at a power of two (whose ulp below is half the one above) or beyond: not clear.
  if (exponent < 100 || exponent === 0x7ff || ((hi & 0xfffff) === 0 && U32[0] === 0)) return undefined
  return Math.abs(w) + Math.abs(d) < 2 ** (exponent - 1076) * 0.999 ? r : undefined
}

/**
 * math.FMA: `x × y + z` with one rounding (the fused multiply-add of `exp_amd64.s`): by
 * error-free transformations where they decide it, else exactly with integers.
 */
export function goFma(x: number, y: number, z: number): number {
  if (x === 0 || y === 0 || z === 0 || !Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(z)) {
    return x * y + z
  }
  const fast = fmaByTransforms(x, y, z)
  if (fast !== undefined) return fast
  return fmaExactly(x, y, z)
}

/** `x × y + z` rounded once, from the exact sum of the integer mantissas. */
function fmaExactly(x: number, y: number, z: number): number {
  const [mx, ex] = decompose(x)
  const [my, ey] = decompose(y)
  const [mz, ez] = decompose(z)
  const ep = ex + ey
  const e = Math.min(ep, ez)
  const sum = ((mx * my) << BigInt(ep - e)) + (mz << BigInt(ez - e))
  return sum === 0n ? 0 : roundToFloat(sum, e)
}

/** CVTSD2SL under the default rounding: to the nearest int32, ties to even; out of range, -2^31. */
function cvtsd2sl(x: number): number {
  let r = Math.round(x)
  if (r - x === 0.5 && r % 2 !== 0) r--
  return r >= -2147483648 && r <= 2147483647 ? r : -2147483648
}

const EXP_OVERFLOW = 709.782712893384
const LN2U = 0.693147180559663
const LN2L = 2.8235290563031577e-13
// exp_amd64.s `exprodata`: 1/2, then 1/3! … 1/8!, in the order its Taylor evaluation uses them.
const EXP_TAYLOR = [
  0.0001984126984126984, 0.001388888888888889, 0.008333333333333333, 0.041666666666666664,
  0.16666666666666666, 0.5, 1,
]
const EXP_LAST = 0.0000248015873015873

/**
 * math.Exp on amd64 with FMA (`exp_amd64.s`, after Shibata's SLEEF): x = k·ln2 + r with
 * k = round(x·log2 e), e^(r/16) by its Taylor series, squared four times, times 2^k (a
 * subnormal result rounded once; 0 below 2^-1074·2^-52), +Inf above x = 709.782712893384.
 */
export function goExp(x: number): number {
  if (Number.isNaN(x) || x === Number.POSITIVE_INFINITY) return x
  if (x === Number.NEGATIVE_INFINITY) return 0
  if (x > EXP_OVERFLOW) return Number.POSITIVE_INFINITY
  const k = cvtsd2sl(x * Math.LOG2E)
  let r = goFma(-k, LN2U, x)
  r = goFma(-k, LN2L, r)
  r *= 0.0625
  let p = EXP_LAST
  for (const c of EXP_TAYLOR) p = goFma(p, r, c)
  r *= p
  for (let i = 0; i < 3; i++) r *= r + 2
  r = goFma(r, r + 2, 1)
  const biased = k + 1023
  if (biased <= 0) {
    // `denormal`: scaled by 2^(biased-1), exactly, then by 2^-1022, which rounds once.
    if (biased < -52) return 0
    return r * 2 ** (biased - 1) * 2 ** -1022
  }
  if (biased >= 0x7ff) return Number.POSITIVE_INFINITY
  return r * 2 ** (biased - 1023)
}

const LN2_HI = 0.6931471803691238
const LN2_LO = 1.9082149292705877e-10
const L1 = 6.666666666666735e-1
const L2 = 3.999999999940942e-1
const L3 = 2.857142874366239e-1
const L4 = 2.2222198432149784e-1
const L5 = 1.818357216161805e-1
const L6 = 1.5313837699209373e-1
const L7 = 1.4798198605116586e-1

/**
 * math.Log on amd64 (`log_amd64.s`, FreeBSD's e_log.c): the exponent and fraction taken from
 * the bits (a subnormal is not normalized first), the fraction doubled when at most √2/2.
 */
export function goLog(x: number): number {
  F64[0] = x
  const hi = U32[1] as number
  if ((hi & 0x7fffffff) === 0 && U32[0] === 0) return Number.NEGATIVE_INFINITY
  if (hi >>> 31 === 1) return Number.NaN
  if (hi >= 0x7ff00000) return x
  U32[1] = (hi & 0xfffff) | 0x3fe00000
  let f1 = F64[0] as number
  let k = ((hi >>> 20) & 0x7ff) - 0x3fe
  if (f1 <= Math.SQRT1_2) {
    k -= 1
    f1 *= 2
  }
  const f = f1 - 1
  const s = f / (2 + f)
  const s2 = s * s
  const s4 = s2 * s2
  const t1 = s2 * (L1 + s4 * (L3 + s4 * (L5 + s4 * L7)))
  const t2 = s4 * (L2 + s4 * (L4 + s4 * L6))
  const R = t1 + t2
  const hfsq = 0.5 * f * f
  return k * LN2_HI - (hfsq - (s * (hfsq + R) + k * LN2_LO) - f)
}

/** math.Frexp: x = frac × 2^exp with |frac| in [0.5, 1). */
export function frexp(x: number): [number, number] {
  if (x === 0 || !Number.isFinite(x)) return [x, 0]
  let exp = 0
  let v = x
  if (Math.abs(v) < 2.2250738585072014e-308) {
    v *= 2 ** 52
    exp = -52
  }
  F64[0] = v
  const hi = U32[1] as number
  exp += ((hi >>> 20) & 0x7ff) - 1022
  U32[1] = (hi & 0x800fffff) | (1022 << 20)
  return [F64[0] as number, exp]
}

/** math.Ldexp (`ldexp.go`): frac × 2^exp, 0 below 2^-1075, a subnormal rounded once. */
export function ldexp(frac: number, exp: number): number {
  if (frac === 0 || !Number.isFinite(frac)) return frac
  const [f, e] = frexp(frac)
  const total = exp + e - 1
  if (total < -1075) return frac < 0 ? -0 : 0
  if (total > 1023) return frac < 0 ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY
  // f × 2 is in [1, 2): its bits with the exponent replaced, then 2^-53 for a subnormal.
  let biasedExp = total
  let m = 1
  if (biasedExp < -1022) {
    biasedExp += 53
    m = 2 ** -53
  }
  const b = bits(f * 2)
  return m * fromBits((b & ~(0x7ffn << 52n)) | (BigInt(biasedExp + 1023) << 52n))
}

/** math.Log2 (`log10.go`): exact for powers of two. */
export function goLog2(x: number): number {
  const [frac, exp] = frexp(x)
  if (frac === 0.5) return exp - 1
  return goLog(frac) * Math.LOG2E + exp
}

/** math.Log10 (`log10.go`): `Log(x) * (1/Ln10)`, the constant rounded once (Math.LOG10E). */
export function goLog10(x: number): number {
  return goLog(x) * Math.LOG10E
}

/** math.Log1p (`log1p.go`, FreeBSD's s_log1p.c). */
export function goLog1p(x: number): number {
  const SQRT2_M1 = 0.41421356237309503
  const SQRT2_HALF_M1 = -0.2928932188134525
  const SMALL = 2 ** -29
  const TINY = 2 ** -54
  const TWO53 = 2 ** 53
  const LP = [
    6.666666666666735e-1, 3.999999999940942e-1, 2.857142874366239e-1, 2.2222198432149784e-1,
    1.818357216161805e-1, 1.5313837699209373e-1, 1.4798198605116586e-1,
  ] as const
  if (x < -1 || Number.isNaN(x)) return Number.NaN
  if (x === -1) return Number.NEGATIVE_INFINITY
  if (x === Number.POSITIVE_INFINITY) return x
  const absx = Math.abs(x)
  let f = 0
  let iu = 0n
  let k = 1
  if (absx < SQRT2_M1) {
    if (absx < SMALL) {
      if (absx < TINY) return x
      return x - x * x * 0.5
    }
    if (x > SQRT2_HALF_M1) {
      k = 0
      f = x
      iu = 1n
    }
  }
  let c = 0
  if (k !== 0) {
    let u: number
    if (absx < TWO53) {
      u = 1.0 + x
      iu = bits(u)
      k = Number(iu >> 52n) - 1023
      c = k > 0 ? 1.0 - (u - x) : x - (u - 1.0)
      c /= u
    } else {
      u = x
      iu = bits(u)
      k = Number(iu >> 52n) - 1023
      c = 0
    }
    iu &= 0xfffffffffffffn
    if (iu < 0x6a09e667f3bcdn) {
      u = fromBits(iu | 0x3ff0000000000000n)
    } else {
      k++
      u = fromBits(iu | 0x3fe0000000000000n)
      iu = (0x10000000000000n - iu) >> 2n
    }
    f = u - 1.0
  }
  const hfsq = 0.5 * f * f
  if (iu === 0n) {
    if (f === 0) {
      if (k === 0) return 0
      c += k * LN2_LO
      return k * LN2_HI + c
    }
    const R = hfsq * (1.0 - 0.6666666666666666 * f)
    if (k === 0) return f - R
    return k * LN2_HI - (R - (k * LN2_LO + c) - f)
  }
  const s = f / (2.0 + f)
  const z = s * s
  const R = z * (LP[0] + z * (LP[1] + z * (LP[2] + z * (LP[3] + z * (LP[4] + z * (LP[5] + z * LP[6]))))))
  if (k === 0) return f - (hfsq - s * (hfsq + R))
  return k * LN2_HI - (hfsq - (s * (hfsq + R) + (k * LN2_LO + c)) - f)
}

/** math.Sinh (`sinh.go`, Hart & Cheney #2029 below 0.5). */
export function goSinh(x: number): number {
  const P0 = -630767.3640497717
  const P1 = -89912.72022039509
  const P2 = -2894.211355989564
  const P3 = -26.30563213397497
  const Q0 = -630767.3640497717
  const Q1 = 15215.17378790019
  const Q2 = -173.6789535582337
  // As Go: only a negative x is negated, so -0 goes through as -0 (Math.abs would make it +0).
  const sign = x < 0
  const ax = sign ? -x : x
  let temp: number
  if (ax > 21) temp = goExp(ax) * 0.5
  else if (ax > 0.5) {
    const ex = goExp(ax)
    temp = (ex - 1 / ex) * 0.5
  } else {
    const sq = ax * ax
    temp = (((P3 * sq + P2) * sq + P1) * sq + P0) * ax
    temp = temp / (((sq + Q2) * sq + Q1) * sq + Q0)
  }
  return sign ? -temp : temp
}

/** math.Cosh (`sinh.go`). */
export function goCosh(x: number): number {
  const ax = Math.abs(x)
  if (ax > 21) return goExp(ax) * 0.5
  const ex = goExp(ax)
  return (ex + 1 / ex) * 0.5
}

/** math.Tanh (`tanh.go`, Cephes). */
export function goTanh(x: number): number {
  const MAXLOG = 88.02969193111305
  const P = [-0.9643991794250523, -99.28772310019185, -1614.6876844170845] as const
  const Q = [112.81167849163293, 2235.4883906010045, 4844.063053251255] as const
  let z = Math.abs(x)
  if (z > 0.5 * MAXLOG) return x < 0 ? -1 : 1
  if (z >= 0.625) {
    const s = goExp(2 * z)
    z = 1 - 2 / (s + 1)
    return x < 0 ? -z : z
  }
  if (x === 0) return x
  const s = x * x
  return x + (x * s * ((P[0] * s + P[1]) * s + P[2])) / (((s + Q[0]) * s + Q[1]) * s + Q[2])
}

/** math.Asin (`asin.go`): through `satan`. */
export function goAsin(x: number): number {
  if (x === 0) return x
  const sign = x < 0
  const ax = Math.abs(x)
  if (ax > 1) return Number.NaN
  let temp = Math.sqrt(1 - ax * ax)
  temp = ax > 0.7 ? Math.PI / 2 - satan(temp / ax) : satan(ax / temp)
  return sign ? -temp : temp
}

/** math.Acos (`asin.go`): π/2 − Asin(x). */
export function goAcos(x: number): number {
  return Math.PI / 2 - goAsin(x)
}

/** math.Asinh (`asinh.go`, FreeBSD's s_asinh.c). */
export function goAsinh(x: number): number {
  if (Number.isNaN(x) || !Number.isFinite(x)) return x
  const sign = x < 0
  const ax = sign ? -x : x
  let temp: number
  if (ax > 2 ** 28) temp = goLog(ax) + Math.LN2
  else if (ax > 2) temp = goLog(2 * ax + 1 / (Math.sqrt(ax * ax + 1) + ax))
  else if (ax < 2 ** -28) temp = ax
  else temp = goLog1p(ax + (ax * ax) / (1 + Math.sqrt(1 + ax * ax)))
  return sign ? -temp : temp
}

/** math.Acosh (`acosh.go`, FreeBSD's e_acosh.c). */
export function goAcosh(x: number): number {
  if (x < 1 || Number.isNaN(x)) return Number.NaN
  if (x === 1) return 0
  if (x >= 2 ** 28) return goLog(x) + Math.LN2
  if (x > 2) return goLog(2 * x - 1 / (x + Math.sqrt(x * x - 1)))
  const t = x - 1
  return goLog1p(t + Math.sqrt(2 * t + t * t))
}

/** math.Atanh (`atanh.go`, FreeBSD's e_atanh.c). */
export function goAtanh(x: number): number {
  if (x < -1 || x > 1 || Number.isNaN(x)) return Number.NaN
  if (x === 1) return Number.POSITIVE_INFINITY
  if (x === -1) return Number.NEGATIVE_INFINITY
  const sign = x < 0
  const ax = sign ? -x : x
  let temp: number
  if (ax < 2 ** -28) temp = ax
  else if (ax < 0.5) {
    temp = ax + ax
    temp = 0.5 * goLog1p(temp + (temp * ax) / (1 - ax))
  } else temp = 0.5 * goLog1p((ax + ax) / (1 - ax))
  return sign ? -temp : temp
}

/** math.Modf: integer and fractional parts, both with x's sign. */
function modf(x: number): [number, number] {
  if (x < 1) {
    if (x < 0) {
      const [i, f] = modf(-x)
      return [-i, -f]
    }
    if (x === 0) return [x, x]
    return [0, x]
  }
  const i = Math.trunc(x)
  return [i, x - i]
}

/** math.Pow as of Go 1.19 (`pow.go`): x^yf by Exp(yf·Log(x)), x^yi by squarings of Frexp(x). */
export function goPow(x: number, y: number): number {
  const isOddInt = (v: number) => {
    const [i, f] = modf(v)
    return f === 0 && Math.abs(i) < 2 ** 53 && Math.abs(i % 2) === 1
  }
  if (y === 0 || x === 1) return 1
  if (y === 1) return x
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.NaN
  if (x === 0) {
    if (y < 0)
      return isOddInt(y)
        ? Object.is(x, -0)
          ? Number.NEGATIVE_INFINITY
          : Number.POSITIVE_INFINITY
        : Number.POSITIVE_INFINITY
    return isOddInt(y) ? x : 0
  }
  if (!Number.isFinite(y)) {
    if (x === -1) return 1
    return Math.abs(x) < 1 === y > 0 ? 0 : Number.POSITIVE_INFINITY
  }
  if (!Number.isFinite(x)) {
    if (x < 0) return goPow(1 / x, -y)
    return y < 0 ? 0 : Number.POSITIVE_INFINITY
  }
  if (y === 0.5) return Math.sqrt(x)
  if (y === -0.5) return 1 / Math.sqrt(x)
  let [yi, yf] = modf(Math.abs(y))
  if (yf !== 0 && x < 0) return Number.NaN
  if (yi >= 2 ** 63) {
    if (x === -1) return 1
    return Math.abs(x) < 1 === y > 0 ? 0 : Number.POSITIVE_INFINITY
  }
  let a1 = 1.0
  let ae = 0
  if (yf !== 0) {
    if (yf > 0.5) {
      yf--
      yi++
    }
    a1 = goExp(yf * goLog(x))
  }
  let [x1, xe] = frexp(x)
  // yi < 2^63 is an integer: halving and `% 2` are exact on it as a float64.
  for (let i = yi; i !== 0; i = Math.floor(i / 2)) {
    if (xe < -(1 << 12) || 1 << 12 < xe) {
      ae += xe
      break
    }
    if (i % 2 === 1) {
      a1 *= x1
      ae += xe
    }
    x1 *= x1
    xe *= 2
    if (x1 < 0.5) {
      x1 += x1
      xe--
    }
  }
  if (y < 0) {
    a1 = 1 / a1
    ae = -ae
  }
  return ldexp(a1, ae)
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

/** 4/π in 64-bit digits, 4/π = Σ M_PI4[i]·2^(-64i) (`trig_reduce.go` `mPi4`). */
const M_PI4 = [
  0x0000000000000001n,
  0x45f306dc9c882a53n,
  0xf84eafa3ea69bb81n,
  0xb6c52b3278872083n,
  0xfca2c757bd778ac3n,
  0x6e48dc74849ba5c0n,
  0x0c925dd413a32439n,
  0xfc3bd63962534e7dn,
  0xd1046bea5d768909n,
  0xd338e04d68befc82n,
  0x7323ac7306a673e9n,
  0x3908bf177bf25076n,
  0x3ff12fffbc0b301fn,
  0xde5e2316b414da3en,
  0xda6cfd9e4f96136en,
  0x9e8c7ecd3cbfd45an,
  0xea4f758fd7cbe2f6n,
  0x7a0e73ef14a525d4n,
  0xd7f6bf623f1aba10n,
  0xac06608df8f6d757n,
]

const u64 = (v: bigint) => BigInt.asUintN(64, v)

/**
 * `trig_reduce.go` `trigReduce`: Payne and Hanek's reduction of x ≥ 2^29 by π/4, with 4/π to
 * 1217 bits, for the octant j (0…7, even) and the remainder z in [-π/4, π/4].
 */
function trigReduce(x: number): [number, number] {
  const b = bits(x)
  const exp = Number((b >> 52n) & 0x7ffn) - 1023 - 52
  const ix = (b & 0xfffffffffffffn) | (1n << 52n)
  const digit = Math.floor((exp + 61) / 64)
  const shift = BigInt((exp + 61) % 64)
  // Go's shifts by 64 or more give 0.
  const digits = (i: number) =>
    u64((M_PI4[digit + i] as bigint) << shift) |
    (shift === 0n ? 0n : (M_PI4[digit + i + 1] as bigint) >> (64n - shift))
  const z0 = digits(0)
  const z1 = digits(1)
  const z2 = digits(2)
  const z2hi = (z2 * ix) >> 64n
  const z1full = z1 * ix
  const z1hi = z1full >> 64n
  const z1lo = u64(z1full)
  const z0lo = u64(z0 * ix)
  const loSum = z1lo + z2hi
  const lo = u64(loSum)
  let hi = u64(z0lo + z1hi + (loSum >> 64n))
  let j = Number(hi >> 61n)
  hi = u64((hi << 3n) | (lo >> 61n))
  const lz = 64 - hi.toString(2).length
  const e = BigInt(1023 - (lz + 1))
  hi = u64((hi << BigInt(lz + 1)) | (lo >> BigInt(64 - (lz + 1))))
  hi >>= 64n - 52n
  hi |= e << 52n
  let z = fromBits(hi)
  if (j % 2 === 1) {
    j = (j + 1) % 8
    z--
  }
  return [j, z * (Math.PI / 4)]
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
  let [j, z] = ax >= REDUCE_THRESHOLD ? trigReduce(ax) : reduce(ax)
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
  let sign = false
  let [j, z] = ax >= REDUCE_THRESHOLD ? trigReduce(ax) : reduce(ax)
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
  // Go's tan does not take the octant modulo 8 before testing bit 2.
  let j: number
  let z: number
  if (ax >= REDUCE_THRESHOLD) [j, z] = trigReduce(ax)
  else {
    j = Math.floor(ax * FOUR_OVER_PI)
    let yj = j
    if (j % 2 === 1) {
      j++
      yj++
    }
    z = ax - yj * PI4A - yj * PI4B - yj * PI4C
  }
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
