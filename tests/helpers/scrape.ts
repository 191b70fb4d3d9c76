/** Reading Prometheus text and OpenMetrics expositions in tests. */

/** A sample line without its OpenMetrics exemplar (` # {…} value timestamp`). */
const withoutExemplar = (line: string) => {
  const at = line.indexOf(' # {')
  return at === -1 ? line : line.slice(0, at)
}

/** Every sample line of one family (`name`, `name_bucket`, `name_sum`, `name_count`) as line key → value. */
export function family(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const full of text.split('\n')) {
    if (full === '' || full.startsWith('#')) continue
    const line = withoutExemplar(full)
    const space = line.lastIndexOf(' ')
    const key = line.slice(0, space)
    const metric = key.includes('{') ? key.slice(0, key.indexOf('{')) : key
    if (metric === name || [`${name}_bucket`, `${name}_sum`, `${name}_count`].includes(metric)) {
      out[key] = Number(line.slice(space + 1))
    }
  }
  return out
}

/** The value of one exact sample line key, or undefined when the series is absent. */
export function sample(text: string, key: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${key} `)) return Number(withoutExemplar(line).slice(key.length + 1))
  }
  return undefined
}

/** Names of the families the exposition declares (from its TYPE lines) with their types. */
export function familyTypes(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const match = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (match) out[match[1]!] = match[2]!
  }
  return out
}

const HTTP_BUCKETS = [
  '0.005',
  '0.01',
  '0.025',
  '0.05',
  '0.1',
  '0.25',
  '0.5',
  '1',
  '2',
  '2.5',
  '5',
  '10',
  '+Inf',
]

/**
 * The lines of one histogram series given its label text and per-bucket cumulative counts:
 * `histogram('http_request_duration_seconds', 'method="GET"', [0, 1, …], sum)`.
 */
export function histogramSeries(
  name: string,
  labels: string,
  cumulative: number[],
  sum: number,
  bounds: string[] = HTTP_BUCKETS,
): Record<string, number> {
  if (cumulative.length !== bounds.length) throw new Error('one count per bucket, +Inf included')
  const out: Record<string, number> = {}
  const prefix = labels ? `${labels},` : ''
  bounds.forEach((le, i) => {
    out[`${name}_bucket{${prefix}le="${le}"}`] = cumulative[i]!
  })
  const suffix = labels ? `{${labels}}` : ''
  out[`${name}_sum${suffix}`] = sum
  out[`${name}_count${suffix}`] = cumulative[cumulative.length - 1]!
  return out
}

/** One exemplar as an OpenMetrics sample line carries it. */
export interface ScrapedExemplar {
  labels: Record<string, string>
  value: number
  /** Seconds, as the exposition writes it. */
  timestamp: number
}

/**
 * Every exemplar of an OpenMetrics exposition, by the sample line key it is on
 * (`name{labels}`). Label values are unescaped; they must not contain `"}` or `",`.
 */
export function exemplars(text: string): Record<string, ScrapedExemplar> {
  const out: Record<string, ScrapedExemplar> = {}
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const at = line.indexOf(' # {')
    if (at === -1) continue
    const key = line.slice(0, line.lastIndexOf(' ', at - 1))
    const rest = line.slice(at + 4)
    const close = rest.lastIndexOf('} ')
    const labels: Record<string, string> = {}
    for (const match of rest.slice(0, close).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[match[1]!] = match[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
    }
    const [value, timestamp] = rest.slice(close + 2).split(' ')
    out[key] = { labels, value: Number(value), timestamp: Number(timestamp) }
  }
  return out
}
