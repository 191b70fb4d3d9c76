import { describe, expect, test } from 'bun:test'
import { CompiledQuery, EvaluationError, evaluateInstant } from '../../../src/prometheus/promql/engine.ts'
import { labelsFrom } from '../../../src/prometheus/promql/labels.ts'
import { PromQLError } from '../../../src/prometheus/promql/parser.ts'
import {
  EmbeddedQuerySource,
  prometheusOnlyReason,
  requiredRetentionMs,
  resultAsVector,
} from '../../../src/prometheus/promql/query-source.ts'
import { compileMatcherRegex, RegexError } from '../../../src/prometheus/promql/regex.ts'
import { SampleStore } from '../../../src/prometheus/promql/store.ts'

function storeWith(
  series: Record<string, string>[],
  values: (i: number) => number,
  points = 11,
): SampleStore {
  const store = new SampleStore()
  for (let i = 0; i < points; i++) {
    for (const labels of series) store.append(labelsFrom(labels), i * 60_000, values(i))
  }
  return store
}

function rejection(expr: string): PromQLError {
  try {
    new CompiledQuery(expr)
  } catch (err) {
    if (err instanceof PromQLError) return err
    throw err
  }
  throw new Error(`${expr} was accepted`)
}

describe('load-time rejection of anything outside the subset', () => {
  test.each([
    ['rate(x[5m:1m])', 'subquery'],
    ['x @ 100', '@ modifier'],
    ['label_replace(x, "a", "b", "c", "d")', 'function label_replace'],
    ['time()', 'function time'],
    ['topk(3, x)', 'aggregation topk'],
    ['quantile(0.5, x)', 'aggregation quantile'],
    ['x / on(a) group_left(b) y', 'group_left (many-to-one matching)'],
    ['x atan2 y', 'operator atan2'],
    ['x > 5m', 'duration used as a number'],
    ['{"x"}', 'quoted label name'],
    ['x[5m]', 'range vector as query result'],
    ['"text"', 'string literal'],
    ['rate((x[5m]))', 'range selector in parentheses'],
  ])('%s names %s', (expr, construct) => {
    const err = rejection(expr)
    expect(err.construct).toBe(construct)
    expect(err.message).toContain(`unsupported PromQL construct: ${construct}`)
  })

  test.each([
    ['sum(rate(x[5m])', 'syntax error'],
    ['rate(x)', 'expected type range vector in call to function "rate", got instant vector'],
    ['sum(x[5m])', 'expected type instant vector in aggregation expression, got range vector'],
    ['1 > 2', 'comparisons between scalars must use BOOL modifier'],
    ['x + bool y', 'bool modifier can only be used on comparison operators'],
    ['1 and x', 'set operator "and" not allowed in binary scalar expression'],
    ['1 + on(a) x', 'vector matching only allowed between instant vectors'],
    ['{a=""}', 'vector selector must contain at least one non-empty matcher'],
    ['x{__name__="y"}', 'metric name must not be set twice'],
    ['x offset 1m offset 2m', 'offset may not be set multiple times'],
    ['histogram_quantile(0.9)', 'expected 2 argument(s) in call to "histogram_quantile", got 1'],
    ['x{a=~"(?=b)"}', 'unsupported regular expression construct'],
  ])('%s is an error: %s', (expr, message) => {
    expect(rejection(expr).message).toContain(message)
  })

  test('the subset of the three design rules and its per-tenant variant is accepted', () => {
    for (const expr of [
      'sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.05',
      'histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket[5m])) by (le)) > 2',
      'sum(rate(payments_processed_total{status="failed"}[15m])) / sum(rate(payments_processed_total[15m])) > 0.1',
      'sum by (tenant_id) (increase(payments_processed_total[15m])) >= 5 unless on(tenant_id) absent(x)',
    ]) {
      expect(new CompiledQuery(expr).expr.kind).toBe('binary')
    }
  })
})

describe('evaluation', () => {
  const store = storeWith(
    [
      { __name__: 'req_total', status: '200', job: 'api' },
      { __name__: 'req_total', status: '500', job: 'api' },
    ],
    (i) => i * 60,
  )

  test('a scalar expression yields a scalar result, which a rule sees as one unlabelled sample', () => {
    const result = evaluateInstant(new CompiledQuery('2 * (3 + 4) ^ 2'), store, 0)
    expect(result).toEqual({ resultType: 'scalar', value: 98 })
    expect(resultAsVector(result)).toEqual([{ labels: {}, value: 98 }])
  })

  test('rate over an exactly aligned range: one per second, name dropped', () => {
    const result = evaluateInstant(new CompiledQuery('rate(req_total{status=~"2.."}[5m])'), store, 600_000)
    expect(result).toEqual({
      resultType: 'vector',
      samples: [{ labels: { job: 'api', status: '200' }, value: 1 }],
    })
  })

  test('one-to-one matching with a duplicate on the right is the many-to-many error', () => {
    expect(() => evaluateInstant(new CompiledQuery('req_total - on(job) req_total'), store, 600_000)).toThrow(
      EvaluationError,
    )
  })

  test('many-to-one without group_left is an error, as in Prometheus', () => {
    const s = storeWith(
      [
        { __name__: 'a', x: '1', j: 'k' },
        { __name__: 'a', x: '2', j: 'k' },
        { __name__: 'b', j: 'k' },
      ],
      () => 1,
      1,
    )
    expect(() => evaluateInstant(new CompiledQuery('a * ignoring(x) b'), s, 0)).toThrow(
      'multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)',
    )
  })

  test('two results with the same labels once the name is dropped are an error', () => {
    const s = storeWith(
      [
        { __name__: 'a', j: 'k' },
        { __name__: 'b', j: 'k' },
      ],
      () => 1,
      1,
    )
    expect(() => evaluateInstant(new CompiledQuery('{j="k"} * 2'), s, 0)).toThrow(
      'vector cannot contain metrics with the same labelset',
    )
    expect(evaluateInstant(new CompiledQuery('{j="k"} > 0'), s, 0)).toEqual({
      resultType: 'vector',
      samples: [
        { labels: { __name__: 'a', j: 'k' }, value: 1 },
        { labels: { __name__: 'b', j: 'k' }, value: 1 },
      ],
    })
  })

  test('the embedded query source answers like /api/v1/query and caches compiled expressions', async () => {
    const source = new EmbeddedQuerySource(store)
    const result = await source.instantQuery('sum by (job) (req_total)', new Date(600_000))
    expect(result).toEqual({ resultType: 'vector', samples: [{ labels: { job: 'api' }, value: 1200 }] })
    expect(source.compile('sum by (job) (req_total)')).toBe(source.compile('sum by (job) (req_total)'))
    await expect(source.instantQuery('rate(x[1m:])', new Date(0))).rejects.toThrow(PromQLError)
  })
})

describe('rules only Prometheus can judge', () => {
  test.each([
    ['up == 0', 'selects up, which only Prometheus itself generates (needs a Prometheus server)'],
    [
      'up{job="shop"} == 0 or absent(up{job="shop"})',
      'selects up, which only Prometheus itself generates (needs a Prometheus server)',
    ],
    [
      'ALERTS{alertstate="firing"} > 0',
      'selects ALERTS, which only Prometheus itself generates (needs a Prometheus server)',
    ],
    [
      'scrape_duration_seconds > 1 and up',
      'selects scrape_duration_seconds, up, which only Prometheus itself generates (needs a Prometheus server)',
    ],
    [
      '{__name__=~"ALERTS.*"}',
      'selects ALERTS, ALERTS_FOR_STATE, which only Prometheus itself generates (needs a Prometheus server)',
    ],
  ])('%s', (expr, reason) => {
    expect(prometheusOnlyReason(expr)).toBe(reason)
  })

  test('rules on the service’s own metrics are judged locally', () => {
    expect(prometheusOnlyReason('sum(rate(http_requests_total[5m])) > 1')).toBeUndefined()
    expect(prometheusOnlyReason('db_up == 0')).toBeUndefined()
  })
})

describe('retention a rule set needs', () => {
  test('the longest range (or the 5m lookback) plus offsets, plus a margin', () => {
    const queries = ['rate(a[15m])', 'b offset 2m', 'rate(c[1m] offset 20m)'].map((q) => new CompiledQuery(q))
    expect(queries.map((q) => q.lookbehindMs)).toEqual([900_000, 420_000, 1_260_000])
    expect(requiredRetentionMs(queries, 60_000)).toBe(1_320_000)
    expect(requiredRetentionMs([new CompiledQuery('x > 1')], 60_000)).toBe(360_000)
  })
})

describe('RE2 label-matcher regexes', () => {
  test.each(
    [
      ['5..', '500', true],
      ['5..', '5000', false],
      ['a|b', 'ab', false],
      ['(?i)get', 'GET', true],
      ['[[:digit:]]+', '123', true],
      ['\\d{2,3}', '1234', false],
      ['.', '\n', false],
      ['.', '😀', true],
      ['a{', 'a{', true],
      ['\\Qa.b\\E', 'a.b', true],
      ['\\Qa.b\\E', 'axb', false],
      ['\\s', '\v', false],
    ].map(([re, value, expected]) => ({
      re,
      value,
      expected,
      // JSON-quoted so that "\n" and "\v" show in the test name.
      quoted: JSON.stringify(value),
      verdict: expected ? 'matches' : 'does not match',
    })),
  )('$re $verdict $quoted', ({ re, value, expected }) => {
    expect(compileMatcherRegex(re as string).test(value as string)).toBe(expected as boolean)
  })

  test.each(['(?=a)', '(?!a)', '\\1', '(?U)a', 'a)'])('%s is rejected', (re) => {
    expect(() => compileMatcherRegex(re)).toThrow(RegexError)
  })
})
