/**
 * Prometheus duration strings (`model.ParseDuration` / `model.Duration.String`), used by
 * rule files (`for`, `interval`), promtool test files and PromQL ranges and offsets.
 */

import { goQuote } from './promql/strings.ts'

const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['y', 365 * 24 * 3600_000],
  ['w', 7 * 24 * 3600_000],
  ['d', 24 * 3600_000],
  ['h', 3600_000],
  ['m', 60_000],
  ['s', 1000],
  ['ms', 1],
]

const DURATION_RE = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/

/** The same syntax as a JSON Schema pattern (non-empty), for validating configuration. */
export const DURATION_PATTERN =
  '^(?!$)(?:[0-9]+y)?(?:[0-9]+w)?(?:[0-9]+d)?(?:[0-9]+h)?(?:[0-9]+m)?(?:[0-9]+s)?(?:[0-9]+ms)?$'

export class DurationError extends Error {}

/** Parses `1h30m`, `5m`, `0`, … into milliseconds; throws `DurationError` like Prometheus would. */
export function parseDuration(text: string): number {
  if (text === '0') return 0
  if (text === '') throw new DurationError('empty duration string')
  const match = DURATION_RE.exec(text)
  // model.ParseDuration quotes with %q: a backslash, a quote or a control character is escaped.
  if (!match) throw new DurationError(`not a valid duration string: ${goQuote(text)}`)
  // model.ParseDuration sums time.Duration (int64 nanoseconds): a component over
  // MaxInt64 / unit / 1ms, or a sum that wraps negative, is out of range (about 292 years).
  let ns = 0n
  let overflow = false
  let ms = 0
  for (let i = 0; i < UNITS.length; i++) {
    const digits = match[i + 1]
    if (digits === undefined) continue
    const unitMs = BigInt((UNITS[i] as readonly [string, number])[1])
    const n = BigInt(digits)
    if (n > MAX_INT64 / unitMs / 1_000_000n) overflow = true
    ns = BigInt.asIntN(64, ns + BigInt.asIntN(64, BigInt.asIntN(64, n * 1_000_000n) * unitMs))
    if (ns < 0n) overflow = true
    ms += Number(digits) * Number(unitMs)
  }
  if (overflow) throw new DurationError('duration out of range')
  return ms
}

const MAX_INT64 = 2n ** 63n - 1n

/** Formats milliseconds like Prometheus' `model.Duration.String()` (`1h5m`, `90d`, `0s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s'
  let rest = Math.trunc(ms)
  let out = ''
  if (rest < 0) {
    out = '-'
    rest = -rest
  }
  for (const [unit, mult] of UNITS) {
    // Years and weeks only when exact: "90d" reads better than "12w6d".
    if ((unit === 'y' || unit === 'w') && rest % mult !== 0) continue
    const v = Math.floor(rest / mult)
    if (v > 0) {
      out += `${v}${unit}`
      rest -= v * mult
    }
  }
  return out
}
