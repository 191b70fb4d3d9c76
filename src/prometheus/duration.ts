/**
 * Prometheus duration strings (`model.ParseDuration` / `model.Duration.String`), used by
 * rule files (`for`, `interval`), promtool test files and PromQL ranges and offsets.
 */

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
  if (!match) throw new DurationError(`not a valid duration string: "${text}"`)
  let ms = 0
  for (let i = 0; i < UNITS.length; i++) {
    const digits = match[i + 1]
    if (digits !== undefined) ms += Number(digits) * (UNITS[i] as readonly [string, number])[1]
  }
  if (!Number.isSafeInteger(ms)) throw new DurationError(`duration out of range: "${text}"`)
  return ms
}

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
