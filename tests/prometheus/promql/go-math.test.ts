import { describe, expect, test } from 'bun:test'
import {
  goAcos,
  goAcosh,
  goAsin,
  goAsinh,
  goAtanh,
  goCosh,
  goExp,
  goFma,
  goLog,
  goLog1p,
  goLog2,
  goLog10,
  goPow,
  goSinh,
  goTanh,
} from '../../../src/prometheus/promql/go-math.ts'

/** The exact value of a float64 as a rational: mantissa × 2^exponent. */
function exact(x: number): [bigint, number] {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, x)
  const b = view.getBigUint64(0)
  const e = Number((b >> 52n) & 0x7ffn)
  const f = b & 0xfffffffffffffn
  const m = e === 0 ? f : f | (1n << 52n)
  return [b >> 63n ? -m : m, (e === 0 ? 1 : e) - 1075]
}

/** Compares `x·y + z` exactly with the float64 `r`: whether `r` is the nearest float64 to it, ties to even. */
function isCorrectlyRounded(x: number, y: number, z: number, r: number): boolean {
  const [mx, ex] = exact(x)
  const [my, ey] = exact(y)
  const [mz, ez] = exact(z)
  const scale = Math.min(ex + ey, ez, -1200)
  const value = ((mx * my) << BigInt(ex + ey - scale)) + (mz << BigInt(ez - scale))
  const at = (v: number) => {
    const [m, e] = exact(v)
    return m << BigInt(e - scale)
  }
  const distance = (v: number) => {
    const d = at(v) - value
    return d < 0n ? -d : d
  }
  const mine = distance(r)
  for (const neighbour of [nextAfter(r, -Infinity), nextAfter(r, Infinity)]) {
    if (!Number.isFinite(neighbour)) continue
    const other = distance(neighbour)
    if (other < mine) return false
    if (other === mine && (exact(r)[0] & 1n) === 1n) return false
  }
  return true
}

function nextAfter(x: number, toward: number): number {
  if (x === toward) return x
  if (x === 0) return toward > 0 ? 5e-324 : -5e-324
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, x)
  const b = view.getBigUint64(0)
  view.setBigUint64(0, x < toward === x > 0 ? b + 1n : b - 1n)
  return view.getFloat64(0)
}

describe('goFma', () => {
  test('rounds x·y + z once, as a fused multiply-add does, across magnitudes', () => {
    let seed = 12345
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed / 2147483648
    }
    const draw = () => (random() - 0.5) * 2 ** Math.floor(random() * 120 - 60)
    const failures: number[][] = []
    for (let i = 0; i < 20_000; i++) {
      const x = draw()
      const y = draw()
      // Half the cases cancel most of the product, where a separate rounding goes wrong.
      const z = i % 2 === 0 ? -(x * y) * (1 + (random() - 0.5) * 2 ** -40) : draw()
      const r = goFma(x, y, z)
      if (!isCorrectlyRounded(x, y, z, r)) failures.push([x, y, z, r])
    }
    expect(failures).toEqual([])
  })

  test('keeps what a separately rounded product loses', () => {
    // (1 + 2^-52)(1 - 2^-53) = 1 + 2^-53 - 2^-105, which a float64 product rounds to 1.
    const x = 1 + 2 ** -52
    const y = 1 - 2 ** -53
    expect(goFma(x, y, -1)).toBe(2 ** -53 - 2 ** -105)
    expect(x * y - 1).toBe(0)
  })
})

// Values as promtool 2.42 (Go 1.19.8, linux/amd64 with FMA) prints them; Math's differ in the last bit.
describe("Go's math functions, as promtool computes them", () => {
  test.each([
    ['exp(108)', goExp(108), 8.013164264000592e46],
    ['cosh(108)', goCosh(108), 4.006582132000296e46],
    ['sinh(108)', goSinh(108), 4.006582132000296e46],
    ['cosh(108) % 100', goCosh(108) % 100, 48],
    ['exp(-720), a subnormal', goExp(-720), 2.0322308024e-313],
    ['exp(-745.1)', goExp(-745.1), 5e-324],
    ['asinh(-6.439617872238159)', goAsinh(-6.439617872238159), -2.561591230879701],
    ['acosh(7.734475135803223)', goAcosh(7.734475135803223), 2.734629306593349],
    ['asin(-0.8560130074620247)', goAsin(-0.8560130074620247), -1.0275072406415808],
    ['acos(0.9855202436447144)', goAcos(0.9855202436447144), 0.17038096023289984],
    ['log2(0.7910228371620178)', goLog2(0.7910228371620178), -0.338208748375403],
    ['log10(0.34437084197998047)', goLog10(0.34437084197998047), -0.46297362755311083],
    ['1.1 ^ 7', goPow(1.1, 7), 1.9487171000000012],
    ['3.3 ^ 2.5', goPow(3.3, 2.5), 19.782667413673007],
  ])('%s', (_name, ours, go) => {
    expect(Object.is(ours, go)).toBe(true)
  })

  test('special values', () => {
    expect(goExp(Number.NEGATIVE_INFINITY)).toBe(0)
    expect(goExp(709.79)).toBe(Number.POSITIVE_INFINITY)
    expect(goLog(0)).toBe(Number.NEGATIVE_INFINITY)
    expect(goLog(-1)).toBeNaN()
    expect(goLog1p(-1)).toBe(Number.NEGATIVE_INFINITY)
    expect(goTanh(-50)).toBe(-1)
    expect(goAtanh(1)).toBe(Number.POSITIVE_INFINITY)
    expect(Object.is(goPow(-0, 3), -0)).toBe(true)
    expect(goPow(-0, -3)).toBe(Number.NEGATIVE_INFINITY)
    expect(goPow(-1, Number.POSITIVE_INFINITY)).toBe(1)
    expect(goPow(-8, 1 / 3)).toBeNaN()
  })
})
