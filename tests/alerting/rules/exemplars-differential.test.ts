/**
 * The embedded exemplar store against the real Prometheus (Debian's 2.42, exemplar storage on):
 * Prometheus scrapes one OpenMetrics exposition with exemplars, and for each query and range
 * the latest exemplar Prometheus' GET /api/v1/query_exemplars returns (read through our
 * Prometheus exemplar source) must equal what the ExemplarStore, holding the same exemplars
 * on the same series, answers: same selector extraction, same matching, same range ends.
 */
import { afterAll, describe, expect, setDefaultTimeout } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify as toYaml } from 'yaml'
import { createPrometheusExemplarSource, ExemplarStore } from '../../../src/alerting/rules/exemplars.ts'
import { createHttpClient } from '../../../src/http/outbound.ts'
import { labelsFrom, labelsKey } from '../../../src/prometheus/promql/labels.ts'
import { freePort, spawnPrometheus, waitFor } from '../../helpers/process.ts'
import { withBinary } from '../../ops/ops-files.ts'

setDefaultTimeout(60_000)

const promTest = withBinary('prometheus', 'apt-get install -y prometheus')
const cleanups: Array<() => Promise<void> | void> = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

/** Exposed series with their exemplar (seconds ago, before the scrape), in exposition order. */
const NOW = Math.floor(Date.now() / 1000) * 1000
const SERIES: Array<{
  family: string
  type: string
  name: string
  labels: Record<string, string>
  value: number
  exemplar?: { labels: Record<string, string>; value: number; agoMs: number }
}> = [
  {
    family: 'http_requests',
    type: 'counter',
    name: 'http_requests_total',
    labels: { method: 'GET', endpoint: '/orders', status: '500' },
    value: 3,
    exemplar: {
      labels: { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', request_id: 'req-500' },
      value: 1,
      agoMs: 20_000,
    },
  },
  {
    family: 'http_requests',
    type: 'counter',
    name: 'http_requests_total',
    labels: { method: 'POST', endpoint: '/orders/:id/payments', status: '502' },
    value: 2,
    exemplar: {
      labels: { trace_id: '0af7651916cd43dd8448eb211c80319c', request_id: 'req-502' },
      value: 1,
      agoMs: 12_500,
    },
  },
  {
    family: 'http_requests',
    type: 'counter',
    name: 'http_requests_total',
    labels: { method: 'GET', endpoint: '/products', status: '200' },
    value: 10,
    exemplar: { labels: { request_id: 'req-200' }, value: 1, agoMs: 5_000 },
  },
  {
    family: 'payments_processed',
    type: 'counter',
    name: 'payments_processed_total',
    labels: { tenant_id: 't1', status: 'failed' },
    value: 1,
    exemplar: { labels: { request_id: 'req-declined' }, value: 1, agoMs: 8_000 },
  },
  {
    family: 'http_request_duration_seconds',
    type: 'histogram',
    name: 'http_request_duration_seconds_bucket',
    labels: { endpoint: '/orders', le: '0.5' },
    value: 1,
    exemplar: { labels: { request_id: 'req-slow' }, value: 0.31, agoMs: 15_000 },
  },
  {
    family: 'http_request_duration_seconds',
    type: 'histogram',
    name: 'http_request_duration_seconds_bucket',
    labels: { endpoint: '/orders', le: '+Inf' },
    value: 1,
  },
  {
    family: 'http_request_duration_seconds',
    type: 'histogram',
    name: 'http_request_duration_seconds_sum',
    labels: { endpoint: '/orders' },
    value: 0.31,
  },
  {
    family: 'http_request_duration_seconds',
    type: 'histogram',
    name: 'http_request_duration_seconds_count',
    labels: { endpoint: '/orders' },
    value: 1,
  },
]

type Picked = { labels: { request_id: string } } | undefined

const labelText = (labels: Record<string, string>) =>
  `{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`

function exposition(): string {
  const lines: string[] = []
  let family = ''
  for (const s of SERIES) {
    if (s.family !== family) {
      family = s.family
      lines.push(`# TYPE ${s.family} ${s.type}`)
    }
    const exemplar = s.exemplar
      ? ` # ${labelText(s.exemplar.labels)} ${s.exemplar.value} ${((NOW - s.exemplar.agoMs) / 1000).toFixed(3)}`
      : ''
    lines.push(`${s.name}${labelText(s.labels)} ${s.value}${exemplar}`)
  }
  lines.push('# EOF')
  return `${lines.join('\n')}\n`
}

const QUERIES = [
  // The shipped HighErrorRate: its second selector takes every http_requests_total series.
  'sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.05',
  'http_requests_total{status=~"5.."}',
  'payments_processed_total{status!="succeeded"} or http_requests_total{status=~"5..",endpoint="/orders/:id/payments"}',
  'payments_processed_total{status!="succeeded",tenant_id="t2"}',
  'histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket{le="0.5"}[1m])))',
  '{__name__=~"http_.+",endpoint!~"/products|/orders"}',
  'vector(1) + 1',
]

describe('exemplars: the embedded store answers as Prometheus does', () => {
  promTest('latest exemplar per query and range, Prometheus 2.42 with exemplar storage', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-exemplars-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const target = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: () =>
        new Response(exposition(), {
          headers: { 'content-type': 'application/openmetrics-text; version=1.0.0; charset=utf-8' },
        }),
    })
    cleanups.push(() => target.stop(true))
    const promPort = await freePort()
    writeFileSync(
      join(dir, 'prometheus.yml'),
      toYaml({
        global: { scrape_interval: '1s' },
        scrape_configs: [{ job_name: 'target', static_configs: [{ targets: [`127.0.0.1:${target.port}`] }] }],
      }),
    )
    const prometheus = spawnPrometheus(dir, promPort, ['--enable-feature=exemplar-storage'])
    cleanups.push(() => prometheus.stop())
    const remote = createPrometheusExemplarSource(
      { url: `http://127.0.0.1:${promPort}`, timeoutMs: 2000 },
      createHttpClient(fetch),
    )
    const all = { startMs: NOW - 60_000, endMs: NOW + 60_000 }
    await waitFor('the first scrape of the exemplars', () => remote.latest('{__name__=~".+"}', all), 30_000)

    // The same exemplars on the same series (Prometheus adds job and instance).
    const local = new ExemplarStore()
    for (const s of SERIES) {
      if (!s.exemplar) continue
      const labels = labelsFrom({
        ...s.labels,
        __name__: s.name,
        job: 'target',
        instance: `127.0.0.1:${target.port}`,
      })
      local.observe(labelsKey(labels), labels, { ...s.exemplar, timestampMs: NOW - s.exemplar.agoMs })
    }

    const ranges = [
      all,
      // Ends included: exactly the 502's and the declined payment's timestamps.
      { startMs: NOW - 12_500, endMs: NOW - 8_000 },
      { startMs: NOW - 12_499, endMs: NOW - 8_001 },
      { startMs: NOW - 30_000, endMs: NOW - 14_000 },
    ]
    const answers: Array<{ query: string; range: number; prometheus: unknown; embedded: unknown }> = []
    for (const query of QUERIES) {
      for (const [i, range] of ranges.entries()) {
        answers.push({
          query,
          range: i,
          prometheus: await remote.latest(query, range),
          embedded: await local.latest(query, range),
        })
      }
    }
    for (const answer of answers) expect(answer.embedded).toEqual(answer.prometheus)
    // The comparison is not vacuous: the request ids Prometheus answered, per query, one per range.
    const ids = (i: number) =>
      answers
        .slice(i * ranges.length, (i + 1) * ranges.length)
        .map((a) => (a.prometheus as Picked)?.labels.request_id)
    expect(QUERIES.map((query, i) => [query, ids(i).join(' ')])).toEqual<string[][]>([
      [QUERIES[0]!, 'req-200 req-502  req-500'],
      [QUERIES[1]!, 'req-502 req-502  req-500'],
      [QUERIES[2]!, 'req-declined req-declined  '],
      [QUERIES[3]!, '   '],
      [QUERIES[4]!, 'req-slow   req-slow'],
      [QUERIES[5]!, 'req-502 req-502  '],
      [QUERIES[6]!, '   '],
    ])
  })
})
