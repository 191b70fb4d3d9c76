import { describe, expect, test } from 'bun:test'
import { runOurs, writeSuite } from './rule-test-files.ts'

/**
 * Annotation templates call Go's `regexp` through `match` and `reReplaceAll`, so every
 * pattern Go accepts must work there. The expected annotations are what promtool 2.42
 * expands (this suite passes under `promtool test rules`); the JavaScript RegExp
 * translation refused `[\\S]`, `(?i:…)`, `(?U)`, `[[:^alpha:]]`, `(?s:…)` and `[\\d-z]`.
 */
const RULES = `groups:
  - name: g
    rules:
      - alert: Regexp
        expr: v > 0
        annotations:
          class_not_space: '{{ match "[\\\\S]+" "ab" }}'
          flag_group: '{{ match "x(?i:AB)" "xab" }}'
          ungreedy: '{{ reReplaceAll "(?U)a+" "X" "aaa" }}'
          negated_posix: '{{ match "[[:^alpha:]]" "1" }}'
          dot_all_group: '{{ reReplaceAll "(?s:.)" "X" "a\\nb" }}'
          class_range_after_perl: '{{ reReplaceAll "[\\\\d-z]" "X" "1-z" }}'
          empty_matches: '{{ reReplaceAll "" "-" "héllo" }}'
          expand: '{{ reReplaceAll "(a)(?P<n>b)" "\${n}$1$1x" "ab" }}'
          trailing_backslash: '{{ match "\\\\" "a" }}'
`

const TESTS = `rule_files: [rules.yml]
tests:
  - input_series: [{series: v, values: "1"}]
    alert_rule_test:
      - eval_time: 0
        alertname: Regexp
        exp_alerts:
          - exp_labels: {}
            exp_annotations:
              class_not_space: "true"
              flag_group: "true"
              ungreedy: XXX
              negated_posix: "true"
              dot_all_group: XXX
              class_range_after_perl: XXX
              empty_matches: -h-é-l-l-o-
              expand: ba
              trailing_backslash: '<error expanding template: error executing template __alert_Regexp: template: __alert_Regexp:1:115: executing "__alert_Regexp" at <match "\\\\" "a">: error calling match: error parsing regexp: trailing backslash at end of expression: \`\`>'
`

describe('template regexp functions accept what Go regexp accepts', () => {
  test('match and reReplaceAll expand as promtool does', () => {
    const file = writeSuite(RULES, TESTS)
    const result = runOurs([file])
    expect(result.stderr).toBe('')
    expect(result.stdout).toBe(`Unit Testing:  ${file}\n  SUCCESS\n\n`)
    expect(result.code).toBe(0)
  })
})
