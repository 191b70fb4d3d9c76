/**
 * How sure one run of `bun run bench` is of its verdicts. On this shared machine single
 * bursts of GET /products/:id on PostgreSQL swing by ±20 µs in a slow phase of the host,
 * around a budget of about 1.5 µs, so the median of the paired differences can read +8 in one run and −0.2 in the
 * next. Each verdict therefore comes with a distribution-free confidence interval of that
 * median, and a target counts as met (or missed) only when the whole interval is on one side.
 */
import { binomialDistribution, median, standardDeviation } from 'simple-statistics'

export { median, standardDeviation }

/** An interval of the median: two order statistics of the sample and the confidence they give. */
export interface MedianInterval {
  low: number
  high: number
  /** The confidence actually achieved (≥ the one asked for): the sample's order statistics are discrete. */
  confidence: number
}

/**
 * The exact confidence interval of a median from order statistics (the sign test's interval,
 * as `DescTools::MedianCI(method = "exact")` and the classical tables give it): with n values
 * sorted, [x₍ₖ₎, x₍ₙ₊₁₋ₖ₎] for the largest k with P(Binomial(n, ½) ≤ k − 1) ≤ (1 − confidence) / 2.
 * It assumes only that the values are independent draws of one distribution, nothing about
 * its shape (burst timings are skewed by the host's stalls). n = 8 gives [min, max] at 99.2 %,
 * n = 16 the 4th and 13th values at 97.9 %. Undefined when n is too small for `confidence`
 * (under 6 values at 95 %).
 */
export function medianInterval(values: readonly number[], confidence = 0.95): MedianInterval | undefined {
  const n = values.length
  if (n === 0) return undefined
  const tail = (1 - confidence) / 2
  const probabilities = binomialDistribution(n, 0.5) ?? []
  let k = 0
  let below = 0
  // simple-statistics cuts the distribution off once its sum is within epsilon of 1; the
  // lower tail wanted here is never near that end.
  while (k < probabilities.length && below + probabilities[k]! <= tail) below += probabilities[k++]!
  if (k === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  return { low: sorted[k - 1]!, high: sorted[n - k]!, confidence: 1 - 2 * below }
}

/** A target's bound on a measured quantity: at most `max`, or at least `min`. */
export type Bound = { max: number } | { min: number }

export type Verdict = 'met' | 'not met' | 'undecided'

/**
 * Whether an interval satisfies a bound: met when all of it does, not met when none of it
 * does, undecided when the bound falls inside (the run cannot tell; measure again, or longer).
 */
export function verdict(interval: Pick<MedianInterval, 'low' | 'high'>, bound: Bound): Verdict {
  if ('max' in bound) {
    if (interval.high <= bound.max) return 'met'
    return interval.low > bound.max ? 'not met' : 'undecided'
  }
  if (interval.low >= bound.min) return 'met'
  return interval.high < bound.min ? 'not met' : 'undecided'
}
