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

describe('load-time checks, as Prometheus 2.42 parses', () => {
  test.each([
    'rate(x[5m:1m])',
    'x @ 100',
    'x @ start() - x offset 5m @ end()',
    'label_replace(x, "a", "b", "c", "d")',
    'time()',
    'topk(3, x)',
    'quantile(0.5, x)',
    'x / on(a) group_left(b) y',
    'x atan2 y',
    'rate((x[5m]))',
    'count_values("v", x)',
    'x{a=~"(?i:get)"}',
  ])('%s is accepted', (expr) => {
    expect(() => new CompiledQuery(expr)).not.toThrow()
  })

  test.each([
    ['x > 5m', 'unexpected duration "5m"'],
    ['{"x"}', 'unexpected string "\\"x\\"" in label matching, expected identifier or "}"'],
  ])('%s is refused like promtool refuses it: %s', (expr, message) => {
    expect(rejection(expr).message).toContain(message)
  })

  // Each as promtool 2.42 words it for the same expression in a promql_expr_test.
  test.each([
    ['foo[0s]', '1:5: parse error: duration must be greater than 0'],
    ['foo offset 0s', '1:12: parse error: duration must be greater than 0'],
    ['foo offset -0s', '1:13: parse error: duration must be greater than 0'],
    ['foo offset 0s offset 1m', '1:12: parse error: duration must be greater than 0'],
    ['sum_over_time(foo[1m] offset 0ms)', '1:30: parse error: duration must be greater than 0'],
    ['max_over_time(foo[1m:0s])', '1:22: parse error: duration must be greater than 0'],
    ['max_over_time(foo[0s:1m])', '1:19: parse error: duration must be greater than 0'],
    ['foo offset 0', '1:12: parse error: unexpected number "0" in offset, expected duration'],
    ['foo offset x', '1:12: parse error: unexpected identifier "x" in offset, expected duration'],
    [
      'max_over_time(foo[1m:5])',
      '1:22: parse error: unexpected number "5" in subquery selector, expected duration or "]"',
    ],
    ['foo[0]', '1:5: parse error: missing unit character in duration'],
    ['foo[1.5]', '1:5: parse error: missing unit character in duration'],
    ['max_over_time(foo[5:1m])', '1:19: parse error: missing unit character in duration'],
    ['foo[1m5]', '1:5: parse error: bad duration syntax: "1m5"'],
    // The lexer's errors at the end of the input come first, as Prometheus' lexer raises them.
    ['foo(', '1:5: parse error: unclosed left parenthesis'],
    ['foo[5m', '1:7: parse error: unclosed left bracket'],
    ['foo{a="b"', '1:10: parse error: unexpected end of input inside braces'],
    ['foo)', "1:5: parse error: unexpected right parenthesis ')'"],
    ['foo]', "1:4: parse error: unexpected right bracket ']'"],
    ['sum(foo,)', '1:8: parse error: trailing commas not allowed in function call args'],
    ['max_over_time(foo[5m:1m)', '1:24: parse error: unexpected ")" in subquery selector, expected "]"'],
    [
      'max_over_time(foo[5m 1m])',
      '1:22: parse error: unexpected duration "1m" in subquery or range, expected ":" or "]"',
    ],
    ['foo{a="b",,}', '1:11: parse error: unexpected "," in label matching, expected identifier or "}"'],
    ['foo(bar)', '1:1: parse error: unknown function with name "foo"'],
    // checkAST's order and positions: the operator's own errors first, then the operand's start.
    ['foo[5m] + 1', '1:1: parse error: binary expression must contain only scalar and instant vector types'],
    [
      'foo / (bar[1m])',
      '1:7: parse error: binary expression must contain only scalar and instant vector types',
    ],
    ['foo and "x"', '1:9: parse error: binary expression must contain only scalar and instant vector types'],
    ['1 + bool foo[1m]', '1:3: parse error: bool modifier can only be used on comparison operators'],
    [
      '(x)\n/\n(y[1m])',
      '3:1: parse error: binary expression must contain only scalar and instant vector types',
    ],
  ])("%s is refused with promtool's words: %s", (expr, message) => {
    expect(rejection(expr).message).toBe(message)
  })

  test.each([
    '"text"',
    'x[5m]',
    'x[5m:1m] offset 1m',
  ])('%s parses, as promtool check rules loads it; evaluating it fails as Prometheus rule evaluation does', (expr) => {
    const query = new CompiledQuery(expr)
    expect(() => evaluateInstant(query, new SampleStore(), 0)).toThrow(
      new EvaluationError('rule result is not a vector or scalar'),
    )
  })

  test.each([
    ['sum(rate(x[5m])', '1:16: parse error: unclosed left parenthesis'],
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
    ['x{a=~"(?=b)"}', 'error parsing regexp: invalid or unsupported Perl syntax: `(?=`'],
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
    await expect(source.instantQuery('rate(x[1m:]', new Date(0))).rejects.toThrow(PromQLError)
  })
})

describe('the whole language, beyond what the promtool fixtures pin', () => {
  const s = new SampleStore()
  for (let i = 0; i <= 20; i++) {
    const t = i * 60_000
    s.append(labelsFrom({ __name__: 'req', job: 'api', instance: 'a' }), t, i * 10)
    s.append(labelsFrom({ __name__: 'req', job: 'api', instance: 'b' }), t, i * 20)
    s.append(labelsFrom({ __name__: 'info', job: 'api', version: '1.2' }), t, 1)
    s.append(labelsFrom({ __name__: 'h_bucket', job: 'x', le: '1' }), t, i)
    s.append(labelsFrom({ __name__: 'h_bucket', job: 'x', le: '+Inf' }), t, i * 2)
  }
  const at = (expr: string, t = 600_000) => evaluateInstant(new CompiledQuery(expr), s, t)

  test('group_left copies the extra label from the one side', () => {
    expect(at('req * on (job) group_left (version) info')).toEqual({
      resultType: 'vector',
      samples: [
        { labels: { instance: 'a', job: 'api', version: '1.2' }, value: 100 },
        { labels: { instance: 'b', job: 'api', version: '1.2' }, value: 200 },
      ],
    })
  })

  test('a subquery evaluates its inner expression at every step of its range', () => {
    // rate over 1m of a counter growing 10/min is 1/6 per second at every step.
    expect(at('max_over_time(rate(req{instance="a"}[1m])[5m:1m])')).toEqual({
      resultType: 'vector',
      samples: [{ labels: { instance: 'a', job: 'api' }, value: 1 / 6 }],
    })
    expect(at('count_over_time(req{instance="a"}[5m:30s])')).toEqual({
      resultType: 'vector',
      samples: [{ labels: { instance: 'a', job: 'api' }, value: 11 }],
    })
  })

  test('@ pins a selector to a time; start() and end() are the evaluation time', () => {
    expect(at('req{instance="a"} @ 120')).toEqual({
      resultType: 'vector',
      samples: [{ labels: { __name__: 'req', instance: 'a', job: 'api' }, value: 20 }],
    })
    expect(at('req{instance="a"} @ end() - req{instance="a"} offset 1m @ start()')).toEqual({
      resultType: 'vector',
      samples: [{ labels: { instance: 'a', job: 'api' }, value: 10 }],
    })
  })

  test('a string literal is bytes, as in Go: "\\xc3\\xa9" selects é, "\\xff" selects nothing', () => {
    const store = storeWith([{ __name__: 'shop', city: 'Montréal' }], () => 1)
    const query = (expr: string) =>
      resultAsVector(evaluateInstant(new CompiledQuery(expr), store, 600_000)).map((x) => x.labels.city)
    expect(query('shop{city="Montr\\xc3\\xa9al"}')).toEqual(['Montréal'])
    expect(query('shop{city="Montr\\351al"}')).toEqual([])
    expect(query('shop{city!="Montr\\xffal"}')).toEqual(['Montréal'])
  })

  test('an error inside topk/bottomk wins over k < 1, as in Prometheus', () => {
    expect(at('topk(0, req)')).toEqual({ resultType: 'vector', samples: [] })
    expect(() => at('bottomk(0, info * on (job) req)')).toThrow(
      'found duplicate series for the match group {job="api"} on the right hand-side of the operation',
    )
  })

  test('label_replace expands Go-style references; a failed match leaves the sample alone', () => {
    expect(at('label_replace(info, "major", "v$1", "version", "(\\\\d+)\\\\..*")')).toEqual({
      resultType: 'vector',
      samples: [{ labels: { __name__: 'info', job: 'api', major: 'v1', version: '1.2' }, value: 1 }],
    })
    expect(at('label_replace(info, "major", "$1x", "version", "(1)")')).toEqual({
      resultType: 'vector',
      samples: [{ labels: { __name__: 'info', job: 'api', version: '1.2' }, value: 1 }],
    })
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
      'scrape_duration_seconds > 1 and up',
      'selects scrape_duration_seconds, up, which only Prometheus itself generates (needs a Prometheus server)',
    ],
    [
      '{__name__=~"ALERTS|up"}',
      'selects up, which only Prometheus itself generates (needs a Prometheus server)',
    ],
  ])('%s', (expr, reason) => {
    expect(prometheusOnlyReason(expr)).toBe(reason)
  })

  test('rules on the service’s own metrics are judged locally', () => {
    expect(prometheusOnlyReason('sum(rate(http_requests_total[5m])) > 1')).toBeUndefined()
    expect(prometheusOnlyReason('db_up == 0')).toBeUndefined()
    // The rule manager writes these into the embedded store, as Prometheus' rule groups do.
    expect(prometheusOnlyReason('count(ALERTS{alertstate="firing"}) > 3')).toBeUndefined()
    expect(prometheusOnlyReason('{__name__=~"ALERTS.*"}')).toBeUndefined()
    expect(prometheusOnlyReason('time() - ALERTS_FOR_STATE > 600')).toBeUndefined()
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
      ['(?i:get)|POST', 'Get', true],
      ['(?i:get)|POST', 'post', false],
      ['a(?i)b', 'aB', true],
      ['a(?i)b', 'AB', false],
      ['(?U)a+', 'aaa', true],
      ['(?s:.)', '\n', true],
      ['\\pN+', '٣3', true],
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

  test.each(['(?=a)', '(?!a)', '\\1', '(?<n>a)', ')(', 'a)', 'a{1001}'])('%s is rejected', (re) => {
    expect(() => compileMatcherRegex(re)).toThrow(RegexError)
  })

  // Go's regexp (of Prometheus 2.42) allows a capture name twice; promtool loads such a matcher.
  test('a capture name used twice is allowed, and matches either branch', () => {
    const re = compileMatcherRegex('(?P<n>a)|(?P<n>b)')
    expect(['a', 'b', 'c'].map((v) => re.test(v))).toEqual([true, true, false])
  })
})
