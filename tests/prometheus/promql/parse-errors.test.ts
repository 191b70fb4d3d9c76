import { describe, expect, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PromQLError, parsePromQL } from '../../../src/prometheus/promql/parser.ts'
import { testWithBinary } from '../../helpers/ops-tools.ts'
import { parseReport, runPromtool, testFile } from './differential/differential.ts'

// Expressions people mistype in rule files, and the ones Prometheus takes that look like
// mistakes (a metric named `sum` or `offset`, `foo[5m x]`), with promtool 2.42's answer for
// each as a promql_expr_test reports it: its error, or null when it parses. The first test
// holds our parser to the table; the second holds the table to promtool, so that neither
// drifts. Families: keywords and aggregators named as lex.go names them (`<by>`,
// `<aggr:sum>`, `<op:and>`), keywords as metric names, the lexer's own duration and
// subquery-colon rules inside brackets, type errors after the whole parse (a syntax error
// later in the input wins) at the argument or operand they concern, modifier errors at the
// start of the modified expression, lexer errors only once the parser reaches them.
const CASES: Array<[string, string | null]> = [
  ['sum by (a) by (b) (foo)', '1:12: parse error: unexpected <by> in aggregation'],
  ['foo by (a)', '1:5: parse error: unexpected <by>'],
  ['sum(foo) by (a) without (b)', '1:17: parse error: unexpected <without>'],
  ['sum without foo', '1:13: parse error: unexpected identifier "foo" in grouping opts, expected "("'],
  ['sum by foo (foo)', '1:8: parse error: unexpected identifier "foo" in grouping opts, expected "("'],
  ['sum by (a,,b) (foo)', '1:11: parse error: unexpected "," in grouping opts, expected label'],
  ['sum by (1) (foo)', '1:9: parse error: unexpected number "1" in grouping opts, expected label'],
  ['foo and', '1:8: parse error: unexpected end of input'],
  ['foo or on', '1:10: parse error: unexpected end of input in grouping opts, expected "("'],
  ['foo + on(a) group_left bar', null],
  ['foo offset', '1:11: parse error: unexpected end of input in offset, expected duration'],
  ['foo offset bar', '1:12: parse error: unexpected identifier "bar" in offset, expected duration'],
  ['foo @', '1:6: parse error: unexpected end of input in @, expected timestamp'],
  ['foo @ bar', '1:7: parse error: unexpected identifier "bar" in @, expected timestamp'],
  ['foo[5m:1m', '1:10: parse error: unclosed left bracket'],
  ['foo[5m', '1:7: parse error: unclosed left bracket'],
  ['foo[', '1:5: parse error: missing unit character in duration'],
  ['foo[5m:bar]', "1:8: parse error: unexpected colon 'b'"],
  ['foo[bar]', '1:5: parse error: bad duration syntax: ""'],
  ['rate(foo[5m]) by (a)', '1:15: parse error: unexpected <by>'],
  [
    'count_values(foo)',
    '1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1',
  ],
  [
    'topk(foo)',
    '1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1',
  ],
  [
    'topk(3)',
    '1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1',
  ],
  [
    'quantile(0.9)',
    '1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1',
  ],
  ['sum()', '1:1: parse error: no arguments for aggregate expression provided'],
  [
    'sum(foo, bar)',
    '1:1: parse error: wrong number of arguments for aggregate expression provided, expected 1, got 2',
  ],
  ['foo bool', '1:5: parse error: unexpected <bool>'],
  ['foo == bool bar', null],
  ['foo + bool bar', '1:5: parse error: bool modifier can only be used on comparison operators'],
  ['foo{a="b"} {c="d"}', '1:12: parse error: unexpected "{"'],
  ['{a="b"} offset 5m offset 5m', '1:1: parse error: offset may not be set multiple times'],
  ['foo offset 5m [5m]', '1:15: parse error: no offset modifiers allowed before range'],
  ['foo[5m] offset 5m [1m]', '1:19: parse error: ranges only allowed for vector selectors'],
  ['-', '1:2: parse error: unexpected end of input'],
  ['foo -', '1:6: parse error: unexpected end of input'],
  ['(foo', '1:5: parse error: unclosed left parenthesis'],
  ['foo)', "1:5: parse error: unexpected right parenthesis ')'"],
  ['sum(', '1:5: parse error: unclosed left parenthesis'],
  ['by', null],
  ['offset', null],
  ['start', null],
  ['end', null],
  ['foo @ start', '1:12: parse error: unexpected end of input in @, expected timestamp'],
  ['foo @ start()', null],
  ['foo @ end(', '1:11: parse error: unclosed left parenthesis'],
  ['BY', null],
  ['Sum(foo)', null],
  ['sum by (a) (foo) by (b)', '1:18: parse error: unexpected <by>'],
  ['foo unless bar on (a)', '1:16: parse error: unexpected <on>'],
  ['foo / ignoring', '1:15: parse error: unexpected end of input in grouping opts, expected "("'],
  ['foo * on (a) group_right', '1:25: parse error: unexpected end of input in grouping opts, expected "("'],
  ['foo * on (a) group_left (', '1:26: parse error: unclosed left parenthesis'],
  ['foo group_left bar', '1:5: parse error: unexpected <group_left>'],
  ['foo and on(a) group_left bar', '1:1: parse error: no grouping allowed for "and" operation'],
  ['max_over_time(foo[5m:])', null],
  ['sum', null],
  ['sum{a="b"}', null],
  ['sum > 1', null],
  ['count + sum', null],
  ['and', null],
  ['foo and and', null],
  ['foo + offset', null],
  ['by{a="b"}', null],
  ['without', null],
  ['bool', '1:1: parse error: unexpected <bool>'],
  ['on', '1:1: parse error: unexpected <on>'],
  ['ignoring', '1:1: parse error: unexpected <ignoring>'],
  ['group_left', '1:1: parse error: unexpected <group_left>'],
  ['atan2', '1:1: parse error: unexpected <op:atan2>'],
  ['sum offset 5m', null],
  ['sum[5m]', null],
  ['rate(sum[5m])', null],
  ['topk', null],
  ['group', null],
  ['Sum', null],
  ['OFFSET', null],
  ['foo offset 5m offset 5m', '1:1: parse error: offset may not be set multiple times'],
  [
    '(foo) offset 5m',
    '1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery',
  ],
  [
    '(foo) offset 5m offset 5m',
    '1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery',
  ],
  [
    'rate(foo[5m]) offset 5m offset 1m',
    '1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery',
  ],
  ['sum by (a)', '1:11: parse error: unexpected end of input in aggregation'],
  ['sum by (a) foo', '1:12: parse error: unexpected identifier "foo" in aggregation'],
  ['sum foo', '1:5: parse error: unexpected identifier "foo"'],
  ['sum 1', '1:5: parse error: unexpected number "1"'],
  ['sum(foo) foo', '1:10: parse error: unexpected identifier "foo"'],
  ['foo[]', '1:5: parse error: missing unit character in duration'],
  ['foo[1.5m]', '1:5: parse error: not a valid duration string: "1.5m"'],
  ['foo[5x]', '1:5: parse error: bad duration syntax: "5"'],
  ['foo[5m:x]', "1:8: parse error: unexpected colon 'x'"],
  ['foo[5m:5m:]', "1:10: parse error: unexpected colon ':'"],
  ['foo[5mx]', '1:5: parse error: bad duration syntax: "5mx"'],
  ['foo[ 5m]', null],
  ['foo[5m ]', null],
  ['foo[5m:1m ]', null],
  ['foo[-5m]', '1:5: parse error: missing unit character in duration'],
  ['foo[5m] [1m]', '1:9: parse error: ranges only allowed for vector selectors'],
  ['foo[5m:][1m]', '1:9: parse error: ranges only allowed for vector selectors'],
  ['foo[0x10]', '1:5: parse error: missing unit character in duration'],
  ['foo[1e3]', '1:5: parse error: missing unit character in duration'],
  ['foo[5m:1]', '1:8: parse error: unexpected number "1" in subquery selector, expected duration or "]"'],
  ['foo[5m:1.5m]', '1:8: parse error: not a valid duration string: "1.5m"'],
  ['foo[5m:1x]', '1:8: parse error: bad number or duration syntax: "1"'],
  ['foo[sum]', '1:5: parse error: bad duration syntax: "su"'],
  ['foo offset 1.5m', '1:12: parse error: not a valid duration string: "1.5m"'],
  ['foo offset sum', '1:12: parse error: unexpected <aggr:sum> in offset, expected duration'],
  ['rate(foo[5m:])', null],
  [
    'rate(foo)',
    '1:6: parse error: expected type range vector in call to function "rate", got instant vector',
  ],
  ['rate(foo) +', '1:12: parse error: unexpected end of input'],
  ['rate(foo) + (', '1:14: parse error: unclosed left parenthesis'],
  ['1 + on(a) foo', '1:1: parse error: vector matching only allowed between instant vectors'],
  ['foo + on(a) 1', '1:1: parse error: vector matching only allowed between instant vectors'],
  ['foo and 1', '1:1: parse error: set operator "and" not allowed in binary scalar expression'],
  ['1 and foo', '1:1: parse error: set operator "and" not allowed in binary scalar expression'],
  ['1 > 2', '1:3: parse error: comparisons between scalars must use BOOL modifier'],
  ['foo == bool 1 + bar', null],
  [
    'sum(rate(foo))',
    '1:10: parse error: expected type range vector in call to function "rate", got instant vector',
  ],
  [
    'topk(rate(foo), foo)',
    '1:11: parse error: expected type range vector in call to function "rate", got instant vector',
  ],
  [
    'topk(foo, rate(foo))',
    '1:16: parse error: expected type range vector in call to function "rate", got instant vector',
  ],
  [
    'topk(rate(foo[5m]), rate(foo))',
    '1:26: parse error: expected type range vector in call to function "rate", got instant vector',
  ],
  ['count_values(1, foo)', '1:14: parse error: expected type string in aggregation parameter, got scalar'],
  [
    'quantile(foo, bar)',
    '1:10: parse error: expected type scalar in aggregation parameter, got instant vector',
  ],
  ['-rate(foo[5m])', null],
  [
    '-"a"',
    '1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got "string"',
  ],
  ['foo[5m] + 1', '1:1: parse error: binary expression must contain only scalar and instant vector types'],
  ['1 + foo[5m]', '1:5: parse error: binary expression must contain only scalar and instant vector types'],
  ['"a" + 1', '1:1: parse error: binary expression must contain only scalar and instant vector types'],
  ['abs(foo[5m], 1)', '1:1: parse error: expected 1 argument(s) in call to "abs", got 2'],
  ['round(foo, 1, 2)', '1:1: parse error: expected at most 2 argument(s) in call to "round", got 3'],
  ['label_join(foo)', '1:1: parse error: expected at least 3 argument(s) in call to "label_join", got 1'],
  [
    'histogram_quantile(foo, 0.9)',
    '1:20: parse error: expected type scalar in call to function "histogram_quantile", got instant vector',
  ],
  [
    'clamp(foo, bar, 1)',
    '1:12: parse error: expected type scalar in call to function "clamp", got instant vector',
  ],
  ['rate(foo[5m])[5m:]', null],
  ['(foo[5m])[5m:]', '1:1: parse error: subquery is only allowed on instant vector, got matrix instead'],
  ['{a=""}', '1:1: parse error: vector selector must contain at least one non-empty matcher'],
  ['foo{__name__="bar"}', '1:1: parse error: metric name must not be set twice: "foo" or "bar"'],
  ['{a=""} + rate(foo)', '1:1: parse error: vector selector must contain at least one non-empty matcher'],
  [
    'rate(foo) + {a=""}',
    '1:6: parse error: expected type range vector in call to function "rate", got instant vector',
  ],
  ['vector(foo)', '1:8: parse error: expected type scalar in call to function "vector", got instant vector'],
  [
    'scalar(foo[5m])',
    '1:8: parse error: expected type instant vector in call to function "scalar", got range vector',
  ],
  ['time(1)', '1:1: parse error: expected 0 argument(s) in call to "time", got 1'],
  [
    'foo @ 1e30',
    '1:1: parse error: timestamp out of bounds for @ modifier: 1000000000000000019884624838656.000000',
  ],
  ['foo @ 1 @ 2', '1:1: parse error: @ <timestamp> may not be set multiple times'],
  [
    '(foo) @ 1',
    '1:1: parse error: @ modifier must be preceded by an instant vector selector or range vector selector or a subquery',
  ],
  [
    'rate(foo[5m]) @ 1',
    '1:1: parse error: @ modifier must be preceded by an instant vector selector or range vector selector or a subquery',
  ],
  ['foo offset 5m @ 1 offset 5m', '1:1: parse error: offset may not be set multiple times'],
  ['unknown_fn(foo)', '1:1: parse error: unknown function with name "unknown_fn"'],
  ['unknown_fn(foo', '1:15: parse error: unclosed left parenthesis'],
  [
    'sum by (a) (foo, bar)',
    '1:1: parse error: wrong number of arguments for aggregate expression provided, expected 1, got 2',
  ],
  ['abs(foo,)', '1:8: parse error: trailing commas not allowed in function call args'],
  ['foo + +', '1:8: parse error: unexpected end of input'],
  ['foo * on(a) group_left bool bar', '1:24: parse error: unexpected <bool> in grouping opts, expected "("'],
  ['foo * on(a) group_left + bar', null],
  ['foo * on(a) group_left 1', '1:1: parse error: vector matching only allowed between instant vectors'],
  ['foo * on(a) group_right(b) bar', null],
  [
    'foo * on(a) group_left(a) bar',
    '1:5: parse error: label "a" must not occur in ON and GROUP clause at once',
  ],
  ['foo * ignoring(a) group_left(a) bar', null],
  ['foo and bool bar', '1:5: parse error: bool modifier can only be used on comparison operators'],
  ['foo < bool on(a) bar', null],
  ['foo{a="b" # c', '1:14: parse error: unexpected end of input inside braces'],
  ['}', "1:1: parse error: unexpected character: '}'"],
  ['foo}', "1:4: parse error: unexpected character: '}'"],
  ['foo ; bar', "1:5: parse error: unexpected character: ';'"],
  ['foo bar ;', '1:5: parse error: unexpected identifier "bar"'],
  ['foo + :', null],
  ['foo{a="b";}', "1:10: parse error: unexpected character inside braces: ';'"],
  ['foo{a="b"{', "1:10: parse error: unexpected left brace '{'"],
  ['foo !', "1:5: parse error: unexpected character after '!': '�'"],
  ['foo =~ bar', "1:5: parse error: unexpected character after '=': '~'"],
  ['foo{a!b}', "1:6: parse error: unexpected character after '!' inside braces: 'b'"],
  ['foo start', '1:5: parse error: unexpected "start"'],
  ['foo "a very long string"', '1:5: parse error: unexpected string "\\"a very lo"...'],
  ['foo 12345678901234', '1:5: parse error: unexpected number "1234567890"...'],
  ['foo a:b', '1:5: parse error: unexpected metric identifier "a:b"'],
  ['foo + bool', '1:11: parse error: unexpected end of input'],
  ['5m', '1:1: parse error: unexpected duration "5m"'],
  ['foo + .', "1:7: parse error: unexpected character: '.'"],
  ['foo[5m] @ start()', null],
  ['foo @ start(1)', '1:13: parse error: unexpected number "1" in @, expected timestamp'],
  ['foo @ start 1', '1:13: parse error: unexpected number "1" in @, expected timestamp'],
  ['foo @ end)', "1:11: parse error: unexpected right parenthesis ')'"],
]

function parseError(expr: string): string | null {
  try {
    parsePromQL(expr)
    return null
  } catch (err) {
    if (err instanceof PromQLError) return err.message
    throw err
  }
}

describe("PromQL parse errors in promtool 2.42's words and places", () => {
  test.each(CASES)('%s → %p', (expr, message) => {
    expect(parseError(expr)).toBe(message)
  })

  testWithBinary(
    'promtool',
    'the table is what promtool test rules reports for each expression',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'parse-errors-'))
      const file = join(dir, 'parse-errors.test.yml')
      writeFileSync(
        file,
        testFile({
          interval: '1m',
          series: [{ series: 'foo{a="b"}', values: '1 2 3' }],
          cases: CASES.map(([expr]) => ({ expr, evalTime: '1m' })),
        }),
      )
      const report = parseReport(runPromtool(file))
      const promtool = CASES.map(([expr]) => {
        const outcome = report.get(`${expr}@1m`)
        // A range vector or string parses; only its evaluation fails.
        if (outcome === undefined || !('error' in outcome)) return [expr, null]
        return [expr, outcome.error === 'rule result is not a vector or scalar' ? null : outcome.error]
      })
      expect(promtool).toEqual(CASES)
    },
    60_000,
  )
})
