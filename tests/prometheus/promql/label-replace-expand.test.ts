import { describe, expect, test } from 'bun:test'
import { CompiledQuery, evaluateInstant } from '../../../src/prometheus/promql/engine.ts'
import { labelsFrom } from '../../../src/prometheus/promql/labels.ts'
import { SampleStore } from '../../../src/prometheus/promql/store.ts'

/**
 * label_replace's replacement goes through Go's `regexp.Expand`, whose `extract` reads a
 * reference name as the longest run of Unicode letters, digits and `_`, and takes it as a
 * group number only when it is ASCII digits without a leading zero. Expected labels are
 * promtool 2.42's output for `v{a="xy"}` at 0s (`promtool test rules`, promql_expr_test).
 */
describe('label_replace expands its replacement as Go regexp.Expand does', () => {
  const store = new SampleStore()
  store.append(labelsFrom({ __name__: 'v', a: 'xy' }), 0, 1)
  const b = (repl: string, regex = '(x)(y)'): string | undefined => {
    const expr = `label_replace(v, "b", "${repl}", "a", "${regex}")`
    const result = evaluateInstant(new CompiledQuery(expr), store, 0)
    return result.resultType === 'vector' ? result.samples[0]?.labels.b : undefined
  }

  test.each([
    // A leading zero makes a name, not a number: no group is named "01".
    ['[$01]', '[]'],
    [`[\${01}]`, '[]'],
    ['[$00]', '[]'],
    ['[$000000001]', '[]'],
    // Letters and digits beyond ASCII continue the name.
    ['[$1é]', '[]'],
    [`[\${1é}]`, '[]'],
    ['[$1٣]', '[]'],
    // What already agreed stays as it was.
    ['[$0]', '[xy]'],
    ['[$2$1]', '[yx]'],
    ['[$2x$1_]', '[]'],
    ['[${1]', '[${1]'],
    ['[$]', '[$]'],
    ['[$$1]', '[$1]'],
    ['[$constructor]', '[]'],
  ])('%s → %s', (repl, expected) => {
    expect(b(repl)).toBe(expected)
  })

  test('a named group is found by its name next to numbered ones', () => {
    expect(b('[$2$1$n.]', '(?P<n>x)(y)')).toBe('[yxx.]')
  })
})
