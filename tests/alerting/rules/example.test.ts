import { describe, expect, test } from 'bun:test'
import {
  exampleFromExemplar,
  exampleWindowMs,
  exemplarQueryFor,
  findExample,
  SHIPPED_EXEMPLAR_QUERIES,
  slowerThan,
} from '../../../src/alerting/rules/example.ts'
import type { ExemplarSource } from '../../../src/alerting/rules/exemplars.ts'

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const SENTRY = 'https://acme.sentry.io/performance/trace/'

describe('which alerts get an example, from which series', () => {
  test('the exemplar_query annotation wins (empty: none); else the shipped error alerts by name', () => {
    expect(
      exemplarQueryFor({ alertname: 'QueueDeep' }, { exemplar_query: 'jobs_failed_total{queue="a"}' }),
    ).toBe('jobs_failed_total{queue="a"}')
    expect(exemplarQueryFor({ alertname: 'HighErrorRate' }, { exemplar_query: ' ' })).toBeUndefined()
    expect(exemplarQueryFor({ alertname: 'HighErrorRate' }, {})).toBe('http_requests_total{status=~"5.."}')
    expect(exemplarQueryFor({ alertname: 'ApiAvailabilityBudgetBurn' }, {})).toBe(
      'http_requests_total{status=~"5.."}',
    )
    // Each payment alert names an example from its own numerator: declines for the decline
    // rate, provider errors for the payment-success SLO (a decline spends none of its budget).
    expect(exemplarQueryFor({ alertname: 'PaymentFailureRate' }, {})).toBe(
      'payments_processed_total{status="failed"}',
    )
    expect(exemplarQueryFor({ alertname: 'PaymentSuccessBudgetBurn' }, {})).toBe(
      'payments_processed_total{status="error"} or http_requests_total{status=~"5..",endpoint="/orders/:id/payments"}',
    )
    // A shop's alert names only that shop's payments (it goes to the shop owner).
    expect(exemplarQueryFor({ alertname: 'TenantPaymentFailureRate', tenant_id: 'a"b' }, {})).toBe(
      'payments_processed_total{status!="succeeded",tenant_id="a\\"b"}',
    )
    expect(exemplarQueryFor({ alertname: 'TenantPaymentFailureRate' }, {})).toBeUndefined()
    // Latency alerts: only the buckets whose every request is slower than the threshold.
    expect(exemplarQueryFor({ alertname: 'SlowResponseTime' }, {})).toBe(
      'http_request_duration_seconds_bucket{le=~"2.5|5|10|[+]Inf"}',
    )
    expect(exemplarQueryFor({ alertname: 'ApiLatencyBudgetBurn' }, {})).toBe(
      'http_request_duration_seconds_bucket{le=~"1|2|2.5|5|10|[+]Inf",endpoint!~"/health.*|/metrics"}',
    )
    expect(exemplarQueryFor({ alertname: 'DatabaseDown' }, {})).toBeUndefined()
  })

  test("the window is the rule expression's longest range (5m without one), at most an hour", () => {
    expect(exampleWindowMs('sum(rate(a[5m])) / sum(rate(a[15m])) > 0.1')).toBe(900_000)
    expect(exampleWindowMs('db_up == 0')).toBe(300_000)
    expect(exampleWindowMs('increase(a[30d]) > 0')).toBe(3_600_000)
    expect(exampleWindowMs('sum(')).toBe(300_000)
  })
})

test('slowerThan: the buckets whose lower bound is at least the threshold', () => {
  // HTTP buckets: … 0.5, 1, 2, 2.5, 5, 10. The bucket le="2" holds (1, 2]: not all slower than 1.5.
  expect(slowerThan(1.5)).toBe('le=~"2.5|5|10|[+]Inf"')
  expect(slowerThan(2)).toBe('le=~"2.5|5|10|[+]Inf"')
  expect(slowerThan(10)).toBe('le=~"[+]Inf"')
})

describe('the example an exemplar names', () => {
  test('request id, trace id and the TRACE_BASE_URL link', () => {
    const labels = { request_id: 'req-42', trace_id: TRACE }
    expect(exampleFromExemplar({ labels }, SENTRY)).toEqual({
      requestId: 'req-42',
      traceId: TRACE,
      traceUrl: `${SENTRY}${TRACE}`,
    })
    expect(exampleFromExemplar({ labels }, undefined)).toEqual({ requestId: 'req-42', traceId: TRACE })
  })

  test('only ids of the expected shapes pass: nothing else of an exemplar reaches a message', () => {
    expect(exampleFromExemplar({ labels: { trace_id: TRACE } }, SENTRY)).toBeUndefined()
    expect(exampleFromExemplar({ labels: { request_id: 'has space' } }, SENTRY)).toBeUndefined()
    expect(exampleFromExemplar({ labels: { request_id: 'x'.repeat(129) } }, SENTRY)).toBeUndefined()
    // A phone number or a credential in the id, which the service would not have taken from a client.
    for (const requestId of [
      'wa-254711000200',
      'wa254711000200',
      '254-711-000-200',
      'sk_live_51HqK2xAbCdEfGh9876',
    ]) {
      expect(
        exampleFromExemplar({ labels: { request_id: requestId, trace_id: TRACE } }, SENTRY),
      ).toBeUndefined()
    }
    for (const traceId of ['0'.repeat(32), TRACE.toUpperCase(), `${TRACE}0`, 'javascript:alert(1)']) {
      expect(exampleFromExemplar({ labels: { request_id: 'req-1', trace_id: traceId } }, SENTRY)).toEqual({
        requestId: 'req-1',
      })
    }
  })

  test('findExample asks the source for the window ending at the evaluation time', async () => {
    const asked: unknown[] = []
    const source: ExemplarSource = {
      async latest(expr, range) {
        asked.push({ expr, range })
        return {
          labels: { request_id: 'req-7', trace_id: TRACE },
          seriesLabels: {},
          value: 1,
          timestampMs: 5,
        }
      },
    }
    expect(await findExample(source, 'a_total', 1_000_000, 300_000, SENTRY)).toEqual({
      requestId: 'req-7',
      traceId: TRACE,
      traceUrl: `${SENTRY}${TRACE}`,
    })
    expect(asked).toEqual([{ expr: 'a_total', range: { startMs: 700_000, endMs: 1_000_000 } }])
  })
})

test('the shipped queries name alerts the shipped rule files define, at the thresholds they fire on', async () => {
  const { parse } = await import('yaml')
  const { readFileSync, readdirSync } = await import('node:fs')
  const dir = new URL('../../../ops/prometheus/rules/', import.meta.url)
  const rules = readdirSync(dir)
    .filter((file) => file.endsWith('.yml'))
    .flatMap(
      (file) =>
        (
          parse(readFileSync(new URL(file, dir), 'utf8')) as {
            groups: Array<{ rules: Array<Record<string, string>> }>
          }
        ).groups,
    )
    .flatMap((group) => group.rules)
  const alerts = new Map(rules.filter((rule) => rule.alert).map((rule) => [rule.alert!, rule.expr!]))
  // A renamed alert would silently lose its example: the names must stay in step.
  for (const name of [...Object.keys(SHIPPED_EXEMPLAR_QUERIES), 'TenantPaymentFailureRate']) {
    expect(alerts.has(name)).toBe(true)
  }
  // The latency examples are the buckets slower than the thresholds the rules use.
  expect(alerts.get('SlowResponseTime')).toMatch(/\) > 2$/)
  const latencySli = rules.find(
    (rule) =>
      rule.record === 'slo:sli_error:ratio_rate5m' &&
      (rule.labels as unknown as Record<string, string> | undefined)?.sloth_slo === 'api-latency',
  )
  expect(latencySli?.expr).toContain('le="0.5"')
})
