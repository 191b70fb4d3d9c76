import { buildTestApp } from '../helpers/app.ts'

/**
 * The metric families the service exposes on /metrics: the `# TYPE` lines of a real scrape
 * of the app (through app.handle). Every metric a dashboard panel or an alert rule selects
 * must be here (or be one Prometheus makes itself, below), so renaming a metric in the
 * service without updating ops/ fails the tests.
 */
export async function exposedTypeLines(): Promise<string> {
  const { call } = await buildTestApp()
  const text = await (await call('/metrics')).text()
  return text
    .split('\n')
    .filter((line) => line.startsWith('# TYPE '))
    .join('\n')
}

/** Series that Prometheus itself attaches to every scrape target. */
export const PROMETHEUS_GENERATED = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped']

/**
 * The series names a set of `# TYPE` lines allows a query to select: a histogram `x` has
 * `x_bucket`, `x_sum` and `x_count`; a summary `x` has `x`, `x_sum`, `x_count`; an
 * OpenMetrics counter family `x` is exposed as `x_total`.
 */
export function seriesNames(typeLines: string): Set<string> {
  const names = new Set<string>()
  for (const line of typeLines.split('\n')) {
    const match = /^# TYPE (\S+) (\S+)$/.exec(line.trim())
    if (!match) continue
    const [, name, type] = match as unknown as [string, string, string]
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix)
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(name + suffix)
    else if (type === 'counter' && !name.endsWith('_total')) names.add(`${name}_total`)
    else names.add(name)
  }
  return names
}

/** Every series name a dashboard or rule may select. */
export async function selectableNames(): Promise<Set<string>> {
  return new Set([...seriesNames(await exposedTypeLines()), ...PROMETHEUS_GENERATED])
}
