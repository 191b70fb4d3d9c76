/**
 * Our /metrics as the real Prometheus ingests it: odd but legal label values, special sample
 * values, exemplars near OpenMetrics' length limit and on `+Inf`, served over OpenMetrics by
 * content negotiation, scraped by `prometheus --enable-feature=exemplar-storage`, and compared
 * with what we served and with what the embedded rule engine reads (`getMetricsAsJSON`).
 */
import { describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { negotiateFormat } from '../../src/observability/exposition.ts'
import {
  Counter,
  exemplarLabels,
  Gauge,
  Histogram,
  traceExemplar,
} from '../../src/observability/instruments.ts'
import { createMetricsRegistry, type MetricsRegistry } from '../../src/observability/metrics.ts'
import { captureLogs } from '../helpers/logs.ts'
import { testWithBinary } from '../helpers/ops-tools.ts'
import { freePort, spawnPrometheus, waitFor } from '../helpers/process.ts'

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const T0 = 1_700_000_000_123

/** A branded exemplar label set as a plain record, to compare with toEqual. */
const plain = (labels: Readonly<Record<string, string>> | undefined): Record<string, string> => ({
  ...labels,
})

/** A clock that ticks one millisecond per reading, from `start`. */
function ticking(start: number) {
  let t = start
  return () => t++
}

describe('label sets Prometheus would see twice', () => {
  test('a label set spelling the overflow series is that series, not a second line with its labels', () => {
    const overflowed: string[] = []
    const c = new Counter<'v'>({
      name: 't_total',
      help: 'h',
      labelNames: ['v'],
      maxSeries: 2,
      onOverflow: (metric) => overflowed.push(metric),
    })
    c.labels('__overflow__').inc()
    c.labels('b').inc()
    c.labels('c').inc()
    c.labels('d').inc(2)
    expect(c.renderSamples('prometheus').text).toBe(
      ['t_total{v="b"} 1', 't_total{v="c"} 1', 't_total{v="__overflow__"} 3', ''].join('\n'),
    )
    expect(overflowed).toEqual(['t_total'])
  })

  test('label values with lone surrogates resolve to the series of their U+FFFD spelling', () => {
    const h = new Histogram<'v'>({ name: 'u_seconds', help: 'h', labelNames: ['v'], buckets: [1] })
    h.labels('a\uD800').observe(0.5)
    h.labels('a\uDC00').observe(2)
    expect(h.labels('a\uFFFD')).toBe(h.labels('a\uD800'))
    expect(h.renderSamples('prometheus').text).toBe(
      [
        'u_seconds_bucket{v="a\uFFFD",le="1"} 1',
        'u_seconds_bucket{v="a\uFFFD",le="+Inf"} 2',
        'u_seconds_sum{v="a\uFFFD"} 2.5',
        'u_seconds_count{v="a\uFFFD"} 2',
        '',
      ].join('\n'),
    )
  })
})

describe('exemplar labels with empty values, which Prometheus drops', () => {
  test('exemplarLabels leaves them out, and they do not count towards the 128 characters', () => {
    expect(plain(exemplarLabels({ trace_id: '', request_id: 'r-1' }))).toEqual({ request_id: 'r-1' })
    // 1 + 127 = 128 once the empty `a` is gone; Prometheus stores this exemplar.
    expect(plain(exemplarLabels({ a: '', b: 'x'.repeat(127) }))).toEqual({ b: 'x'.repeat(127) })
    expect(plain(exemplarLabels({ v: 'a\uD800' }))).toEqual({ v: 'a\uFFFD' })
  })

  test('traceExemplar leaves out an empty trace id or request id', () => {
    expect(plain(traceExemplar('', 'r-1'))).toEqual({ request_id: 'r-1' })
    expect(plain(traceExemplar(TRACE, ''))).toEqual({ trace_id: TRACE })
    expect(plain(traceExemplar('', ''))).toEqual({})
    expect(plain(traceExemplar('', 'r'.repeat(119)))).toEqual({})
  })

  test('the OpenMetrics line carries only the non-empty labels', () => {
    const c = new Counter({ name: 'e_total', help: 'h', clock: () => T0 })
    c.unlabelled.incWithExemplar(1, exemplarLabels({ trace_id: '', request_id: 'r-1' }))
    expect(c.renderSamples('openmetrics').text).toBe('e_total 1 # {request_id="r-1"} 1 1700000000.123\n')
  })
})

/** The registry of the differential test: every odd value we want Prometheus' word on. */
function oddRegistry(): MetricsRegistry {
  const metrics = createMetricsRegistry({ log: captureLogs().log })
  const clock = ticking(Date.now() - 60_000)
  const c = metrics.register(
    new Counter<'v'>({
      name: 'odd_events_total',
      help: 'Odd "help" with a \\ backslash\nand a newline.',
      labelNames: ['v'],
      maxSeries: 11,
      onOverflow: () => {},
      clock,
    }),
  )
  for (const v of ['new\nline', 'q"uote', 'back\\slash', 'ünïcødé 😀', '', '__overflow__']) c.labels(v).inc()
  c.labels('a\uD800').inc()
  c.labels('a\uDC00').inc()
  // 8 + 120 = 128 characters: the longest exemplar label set Prometheus stores.
  c.labels('max').incWithExemplar(1, exemplarLabels({ trace_id: 'a'.repeat(120) }))
  // 128 code points, 248 UTF-8 bytes: the limit counts characters, not bytes.
  c.labels('max-utf8').incWithExemplar(1, exemplarLabels({ trace_id: 'é'.repeat(120) }))
  c.labels('empty-trace').incWithExemplar(2, exemplarLabels({ trace_id: '', request_id: 'r-1' }))
  c.labels('no-trace').incWithExemplar(3, traceExemplar('', 'r-2')!)
  // A trace id too long to fit beside the request id: the trace id alone.
  c.labels('long-request').incWithExemplar(1, traceExemplar(TRACE, 'r'.repeat(80))!)
  for (const v of ['x', 'y', 'z']) c.labels(v).inc() // past maxSeries: into __overflow__
  const g = metrics.register(new Gauge<'v'>({ name: 'odd_level', help: 'g', labelNames: ['v'] }))
  g.labels('nan').set(Number.NaN)
  g.labels('pinf').set(Number.POSITIVE_INFINITY)
  g.labels('ninf').set(Number.NEGATIVE_INFINITY)
  g.labels('tiny').set(5e-324)
  g.labels('huge').set(1.7976931348623157e308)
  const h = metrics.register(
    new Histogram<'v'>({
      name: 'odd_latency_seconds',
      help: 'h',
      labelNames: ['v'],
      buckets: [0.1, 1],
      clock,
    }),
  )
  const series = h.labels('traced')
  series.observeWithExemplar(5, exemplarLabels({ trace_id: TRACE, request_id: 'r-inf' }))
  series.observeWithExemplar(0.05, traceExemplar(TRACE, 'r-low')!)
  h.labels('plain').observe(0.5)
  return metrics
}

interface Line {
  key: string
  value: string
  exemplar?: { labels: Record<string, string>; value: string; timestamp: number }
}

const LABELS = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g
const SET = '((?:[^"}]|"(?:[^"\\\\]|\\\\.)*")*)'
const LINE = new RegExp(
  `^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{${SET}\\})? (\\S+)(?: # \\{${SET}\\} (\\S+) (\\S+))?$`,
)

/** A label set as Prometheus stores it: escapes undone, empty values dropped. */
function parseLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {}
  for (const [, name, raw] of (text ?? '').matchAll(LABELS)) {
    const value = raw!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
    if (value !== '') labels[name!] = value
  }
  return labels
}

/** A series' identity: `__name__` and its labels, sorted, as one JSON string. */
function seriesKey(labels: Record<string, string>): string {
  const { job: _job, instance: _instance, ...own } = labels
  return JSON.stringify(Object.entries(own).sort(([a], [b]) => (a < b ? -1 : 1)))
}

/** The sample lines of an OpenMetrics exposition, and its families' TYPE and HELP. */
function parseExposition(text: string) {
  const lines: Line[] = []
  const metadata: Array<{ metric: string; type: string; help: string }> = []
  const help = new Map<string, string>()
  for (const line of text.split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
    if (meta) {
      if (meta[1] === 'HELP')
        help.set(
          meta[2]!,
          meta[3]!.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c)),
        )
      else metadata.push({ metric: meta[2]!, type: meta[3]!, help: help.get(meta[2]!) ?? '' })
      continue
    }
    if (line === '' || line.startsWith('#')) continue
    const m = LINE.exec(line)
    if (!m) throw new Error(`unparsed line ${JSON.stringify(line)}`)
    const parsed: Line = { key: seriesKey({ __name__: m[1]!, ...parseLabels(m[2]) }), value: m[3]! }
    if (m[5] !== undefined) {
      parsed.exemplar = {
        labels: parseLabels(m[4]),
        value: m[5]!,
        timestamp: Math.round(Number(m[6]) * 1000),
      }
    }
    lines.push(parsed)
  }
  return { lines, metadata }
}

interface JsonSample {
  value: number
  labels?: Record<string, string | number>
  metricName?: string
  exemplar?: { labels: Record<string, string>; value: number; timestampMs: number }
}

/** Exemplars as the embedded engine reads them (`getMetricsAsJSON`), by series. */
async function embeddedExemplars(metrics: MetricsRegistry) {
  const out: Record<string, unknown> = {}
  const families = (await metrics.registry.getMetricsAsJSON()) as unknown as Array<{
    name: string
    values: JsonSample[]
  }>
  for (const family of families) {
    for (const sample of family.values) {
      if (!sample.exemplar) continue
      const labels: Record<string, string> = { __name__: sample.metricName ?? family.name }
      for (const [name, value] of Object.entries(sample.labels ?? {})) {
        if (value !== '') labels[name] = String(value)
      }
      out[seriesKey(labels)] = [
        {
          labels: sample.exemplar.labels,
          value: String(sample.exemplar.value),
          timestamp: sample.exemplar.timestampMs,
        },
      ]
    }
  }
  return out
}

describe('the real Prometheus scraping /metrics', () => {
  testWithBinary(
    'prometheus',
    'ingests every series once, with our types, help and exemplars, and no scrape error',
    async (binary) => {
      const metrics = oddRegistry()
      // What Prometheus received: the UTF-8 bytes of each answer, decoded again.
      const served: Array<{ contentType: string; text: string }> = []
      const target = Bun.serve({
        port: 0,
        hostname: '127.0.0.1',
        fetch: async (request) => {
          const format = negotiateFormat(request.headers.get('accept'))
          const bytes = new TextEncoder().encode(await metrics.render(format))
          served.push({ contentType: metrics.contentType(format), text: new TextDecoder().decode(bytes) })
          return new Response(bytes, { headers: { 'content-type': metrics.contentType(format) } })
        },
      })
      const dir = mkdtempSync(join(tmpdir(), 'cc-prometheus-scrape-'))
      writeFileSync(
        join(dir, 'prometheus.yml'),
        [
          'global:',
          '  scrape_interval: 1s',
          'scrape_configs:',
          '  - job_name: app',
          '    static_configs:',
          `      - targets: ['127.0.0.1:${target.port}']`,
        ].join('\n'),
      )
      const prometheus = spawnPrometheus(dir, await freePort(), ['--enable-feature=exemplar-storage'], binary)
      const api = async <T>(path: string): Promise<T> => {
        const body = (await (await fetch(`${prometheus.url}${path}`)).json()) as { status: string; data: T }
        if (body.status !== 'success') throw new Error(`${path}: ${JSON.stringify(body)}`)
        return body.data
      }
      const query = async (expr: string) =>
        (
          await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(
            `/api/v1/query?query=${encodeURIComponent(expr)}`,
          )
        ).result
      try {
        // Three scrapes in: the series set is steady (metrics_series learns every family's
        // name on the first render) and the last one is in Prometheus' head.
        await waitFor('three scrapes', async () => (served.length >= 3 ? true : undefined), 30_000)
        const scraped = await waitFor(
          'a scrape of the steady exposition',
          async () => {
            const [samples] = await query('scrape_samples_scraped')
            return samples && Number(samples.value[1]) > 0 && served.length >= 4 ? samples : undefined
          },
          10_000,
        )
        expect(served.every((s) => s.contentType.startsWith('application/openmetrics-text'))).toBe(true)
        const targets = await api<{ activeTargets: Array<{ health: string; lastError: string }> }>(
          '/api/v1/targets',
        )
        expect(targets.activeTargets.map((t) => [t.health, t.lastError])).toEqual([['up', '']])

        const { lines, metadata } = parseExposition(served.at(-1)!.text)
        // No label set twice (Prometheus would keep the first and drop the rest silently).
        const keys = lines.map((l) => l.key)
        expect(keys.filter((key, i) => keys.indexOf(key) !== i)).toEqual([])
        expect(Number(scraped.value[1])).toBe(lines.length)

        // Every series served is stored, and nothing else (no `_created` series either).
        const stored = (await query('{job="app"}')).filter((r) => !/^(scrape_|up$)/.test(r.metric.__name__!))
        expect(stored.map((r) => seriesKey(r.metric)).sort()).toEqual([...keys].sort())
        expect(stored.filter((r) => r.metric.__name__!.endsWith('_created'))).toEqual([])

        // The odd families' values, exactly.
        const odd = (r: { metric: Record<string, string> }) => r.metric.__name__!.startsWith('odd_')
        const value = new Map(stored.filter(odd).map((r) => [seriesKey(r.metric), r.value[1]]))
        expect(Object.fromEntries(value)).toEqual(
          Object.fromEntries(lines.filter((l) => value.has(l.key)).map((l) => [l.key, l.value])),
        )
        const overflow = await query('odd_events_total{v="__overflow__"}')
        expect(overflow.map((r) => r.value[1])).toEqual(['4'])
        // PromQL refuses U+FFFD in a string literal ("invalid UTF-8 rune"): `.` matches it.
        const replaced = await query('odd_events_total{v=~"a."}')
        expect(replaced.map((r) => [r.metric.v, r.value[1]])).toEqual([['a\uFFFD', '2']])

        // TYPE and HELP as served (OpenMetrics: a counter's family has no `_total`).
        const stored_metadata =
          await api<Array<{ metric: string; type: string; help: string; unit: string }>>(
            '/api/v1/targets/metadata',
          )
        expect(
          stored_metadata
            .map(({ metric, type, help, unit }) => ({ metric, type, help, unit }))
            .sort((a, b) => (a.metric < b.metric ? -1 : 1)),
        ).toEqual(metadata.map((m) => ({ ...m, unit: '' })).sort((a, b) => (a.metric < b.metric ? -1 : 1)))
        expect(metadata.find((m) => m.metric === 'odd_events')).toEqual({
          metric: 'odd_events',
          type: 'counter',
          help: 'Odd "help" with a \\ backslash\nand a newline.',
        })

        // Exemplars: what we served, what the embedded engine reads, what Prometheus stored.
        const exemplars = await api<
          Array<{
            seriesLabels: Record<string, string>
            exemplars: Array<{ labels: Record<string, string>; value: string; timestamp: number }>
          }>
        >(
          `/api/v1/query_exemplars?query=${encodeURIComponent('{job="app"}')}&start=0&end=${Date.now() / 1000 + 60}`,
        )
        const ingested = Object.fromEntries(
          exemplars.map((e) => [
            seriesKey(e.seriesLabels),
            e.exemplars.map((x) => ({ ...x, timestamp: Math.round(x.timestamp * 1000) })),
          ]),
        )
        const exposed = Object.fromEntries(lines.flatMap((l) => (l.exemplar ? [[l.key, [l.exemplar]]] : [])))
        expect(exposed).toEqual(ingested)
        expect(await embeddedExemplars(metrics)).toEqual(ingested)
        const inf = seriesKey({ __name__: 'odd_latency_seconds_bucket', v: 'traced', le: '+Inf' })
        expect(ingested[inf]!.map((e) => [e.labels, e.value])).toEqual([
          [{ trace_id: TRACE, request_id: 'r-inf' }, '5'],
        ])
        const byV = (v: string) => ingested[seriesKey({ __name__: 'odd_events_total', v })]?.[0]?.labels
        expect([
          byV('max'),
          byV('max-utf8'),
          byV('empty-trace'),
          byV('no-trace'),
          byV('long-request'),
        ]).toEqual([
          { trace_id: 'a'.repeat(120) },
          { trace_id: 'é'.repeat(120) },
          { request_id: 'r-1' },
          { request_id: 'r-2' },
          { trace_id: TRACE },
        ])
      } finally {
        await prometheus.stop()
        target.stop(true)
        rmSync(dir, { recursive: true, force: true })
      }
    },
    60_000,
  )
})
