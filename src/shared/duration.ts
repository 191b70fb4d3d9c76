const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
}

/** Prometheus duration syntax: one or more `<integer><unit>` terms, units ms s m h d w y, e.g. `1h30m`. */
export const DURATION_PATTERN = '^(([0-9]+)(ms|s|m|h|d|w|y))+$'

/** Milliseconds of a Prometheus-style duration (`30s`, `1h30m`); throws on anything else. */
export function parseDuration(text: string): number {
  if (!new RegExp(DURATION_PATTERN).test(text)) throw new Error(`not a duration: ${JSON.stringify(text)}`)
  let total = 0
  for (const match of text.matchAll(/([0-9]+)(ms|s|m|h|d|w|y)/g))
    total += Number(match[1]) * UNITS[match[2]!]!
  return total
}

/** Formats milliseconds the way Prometheus prints durations (`1h30m`, `5m`, `250ms`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s'
  let rest = ms
  let out = ''
  for (const [unit, size] of [
    ['y', UNITS.y!],
    ['w', UNITS.w!],
    ['d', UNITS.d!],
    ['h', UNITS.h!],
    ['m', UNITS.m!],
    ['s', UNITS.s!],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / size)
    if (n > 0) {
      out += `${n}${unit}`
      rest -= n * size
    }
  }
  return out
}
