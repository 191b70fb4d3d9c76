/**
 * promtool's expanding notation for `input_series[].values`:
 * `a+bxn` → a, a+b, …, a+n·b (n+1 values, by repeated addition as Prometheus does),
 * `a-bxn` likewise decreasing, `axn` → a repeated n+1 times, `_` → no sample,
 * `_xn` → n missing samples, `stale` → a staleness marker.
 */

export type SeriesValue = { kind: 'value'; value: number } | { kind: 'omitted' } | { kind: 'stale' }

const NUM =
  '(?:[0-9]+\\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\\.[0-9]+(?:[eE][+-]?[0-9]+)?|0[xX][0-9a-fA-F]+|[Ii]nf|NaN|nan)'
const ITEM_RE = new RegExp(`^([+-]?${NUM})(?:([+-]${NUM})?x([0-9]+))?$`)

function num(text: string): number {
  const sign = text.startsWith('-') ? -1 : 1
  const body = text.replace(/^[+-]/, '')
  if (/^inf$/i.test(body)) return sign * Number.POSITIVE_INFINITY
  if (/^nan$/i.test(body)) return Number.NaN
  return sign * Number(body)
}

export function parseSeriesValues(text: string): SeriesValue[] {
  const out: SeriesValue[] = []
  for (const item of text.trim().split(/\s+/)) {
    if (item === '') continue
    if (item === '_') {
      out.push({ kind: 'omitted' })
      continue
    }
    const blanks = /^_x([0-9]+)$/.exec(item)
    if (blanks) {
      for (let i = 0; i < Number(blanks[1]); i++) out.push({ kind: 'omitted' })
      continue
    }
    if (item === 'stale') {
      out.push({ kind: 'stale' })
      continue
    }
    const m = ITEM_RE.exec(item)
    if (!m) throw new Error(`invalid value "${item}" in series values "${text}"`)
    let value = num(m[1] as string)
    if (m[3] === undefined) {
      out.push({ kind: 'value', value })
      continue
    }
    const times = Number(m[3])
    const step = m[2] === undefined ? 0 : num(m[2])
    out.push({ kind: 'value', value })
    for (let i = 1; i <= times; i++) {
      value += step
      out.push({ kind: 'value', value })
    }
  }
  return out
}
