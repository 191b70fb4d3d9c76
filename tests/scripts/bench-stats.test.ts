import { describe, expect, test } from 'bun:test'
import { medianInterval, verdict } from '../../bench/stats.ts'

// Values 1..n shuffled: the interval's ends are then the order statistics' ranks themselves.
const shuffled = (n: number) => Array.from({ length: n }, (_, i) => ((i * 7) % n) + 1)

describe('medianInterval', () => {
  // The ranks of the classical tables of the exact (sign test) interval at 95 %.
  test.each([
    [6, 1, 6, 1 - 2 / 64],
    [8, 1, 8, 1 - 2 / 256],
    [10, 2, 9, 1 - (2 * 11) / 1024],
    [16, 4, 13, 1 - (2 * (1 + 16 + 120 + 560)) / 65536],
    [20, 6, 15, 1 - (2 * (1 + 20 + 190 + 1140 + 4845 + 15504)) / 1048576],
  ])('n = %i: the values of rank %i and %i', (n, low, high, confidence) => {
    const interval = medianInterval(shuffled(n))!
    expect(interval.low).toBe(low)
    expect(interval.high).toBe(high)
    expect(interval.confidence).toBeCloseTo(confidence, 12)
  })

  test('too few values for the confidence asked: no interval', () => {
    expect(medianInterval([3, 1, 2, 5, 4])).toBeUndefined()
    expect(medianInterval([])).toBeUndefined()
    // At 90 % five values are enough: P(B ≤ 0) = 1/32 ≤ 0.05.
    expect(medianInterval([3, 1, 2, 5, 4], 0.9)).toEqual({ low: 1, high: 5, confidence: 1 - 2 / 32 })
  })

  test('the ends are sample values, whatever their order and spread', () => {
    const bursts = [
      +0.68, +0.21, +2.19, +3.57, +4.8, +1.49, +0.68, +3.8, +2.87, +4.06, +4.88, +2.16, +2.78, -0.22, +4.42,
      +1.39,
    ]
    expect(medianInterval(bursts)).toMatchObject({ low: 0.68, high: 4.06 })
  })
})

describe('verdict', () => {
  test('a ceiling: met only when the whole interval is at or below it', () => {
    expect(verdict({ low: -0.7, high: 0.5 }, { max: 0.5 })).toBe('met')
    expect(verdict({ low: 0.2, high: 0.8 }, { max: 0.5 })).toBe('undecided')
    expect(verdict({ low: 0.51, high: 0.8 }, { max: 0.5 })).toBe('not met')
  })

  test('a floor: met only when the whole interval is at or above it', () => {
    expect(verdict({ low: 0.97, high: 1.02 }, { min: 0.97 })).toBe('met')
    expect(verdict({ low: 0.94, high: 0.99 }, { min: 0.97 })).toBe('undecided')
    expect(verdict({ low: 0.93, high: 0.969 }, { min: 0.97 })).toBe('not met')
  })
})
