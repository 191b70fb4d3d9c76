import { describe, expect, test } from 'bun:test'
import { parseRuleFile, RuleFileError } from '../../../src/prometheus/rules/rulefmt.ts'

describe('rule files', () => {
  test('parses alerting and recording rules with durations, labels and annotations', () => {
    const groups = parseRuleFile(
      `groups:
  - name: shop
    interval: 30s
    rules:
      - alert: HighErrorRate
        expr: sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.05
        for: 2m
        keep_firing_for: 1m
        labels: { severity: critical }
        annotations: { summary: "{{ $value | humanizePercentage }}" }
      - record: job:http_requests:rate5m
        expr: sum by (job) (rate(http_requests_total[5m]))
`,
      'alerts.yml',
    )
    expect(groups).toEqual([
      {
        file: 'alerts.yml',
        name: 'shop',
        intervalMs: 30_000,
        limit: 0,
        queryOffsetMs: 0,
        labels: {},
        rules: [
          {
            type: 'alerting',
            name: 'HighErrorRate',
            expr: 'sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.05',
            forMs: 120_000,
            keepFiringForMs: 60_000,
            labels: { severity: 'critical' },
            annotations: { summary: '{{ $value | humanizePercentage }}' },
            position: { index: 1, exprLine: 6, exprColumn: 15 },
          },
          {
            type: 'recording',
            name: 'job:http_requests:rate5m',
            expr: 'sum by (job) (rate(http_requests_total[5m]))',
            labels: {},
            position: { index: 2, exprLine: 12, exprColumn: 15 },
          },
        ],
      },
    ])
  })

  test.each(
    [
      [
        'groups:\n  - name: g\n    rules:\n      - alert: A\n',
        'f.yml: 0:0: group "g", rule 1, "A": field \'expr\' must be set in rule',
      ],
      [
        'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n        for: 5 minutes\n',
        'f.yml: not a valid duration string: "5 minutes"',
      ],
      [
        'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n        severity: page\n',
        'f.yml: yaml: unmarshal errors:\n  line 6: field severity not found in type rulefmt.RuleNode',
      ],
      [
        'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n        annotations:\n          s: "{{ $value"\n',
        'f.yml: group "g", rule 1, "A": annotation "s": template: __alert_A:1: unclosed action',
      ],
      [
        'groups:\n  - name: g\n    rules:\n      - record: a b\n        expr: x\n',
        'f.yml: 4:17: group "g", rule 1, "a b": invalid recording rule name: a b',
      ],
      ['groups:\n  - name: g\n  - name: g\n', 'f.yml: 3:5: groupname: "g" is repeated in the same file'],
      [
        'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n        labels:\n          bad-name: x\n',
        'f.yml: group "g", rule 1, "A": invalid label name: bad-name',
      ],
      // promtool 2.42 (hunt 119): a recording rule's annotation names are checked too.
      [
        'groups:\n  - name: g\n    rules:\n      - record: r:x\n        expr: x\n        annotations:\n          bad-name: ""\n',
        'f.yml: 4:17: group "g", rule 1, "r:x": invalid field \'annotations\' in recording rule\nf.yml: group "g", rule 1, "r:x": invalid annotation name: bad-name',
      ],
      // promtool 2.42 (hunt 119): a group's interval that is a map or a list is decoded too.
      [
        'groups:\n  - name: g\n    interval: {a: b}\n    rules: []\n',
        'f.yml: yaml: unmarshal errors:\n  line 3: cannot unmarshal !!map into string',
      ],
      [
        'groups:\n  - name: g\n    interval: [1m]\n    rules: []\n',
        'f.yml: yaml: unmarshal errors:\n  line 3: cannot unmarshal !!seq into string',
      ],
    ].map(([text, message]) => [message as string, text as string] as const),
  )('%s', (message, text) => {
    expect(() => parseRuleFile(text, 'f.yml')).toThrow(new RuleFileError(message))
  })

  // Prometheus decodes rule files into Go strings, which keep a plain scalar's text: the label
  // below is "0.990", so the alert's labels, and so its Alertmanager fingerprint, are Prometheus' own
  // (tests/prometheus/fixtures/test-format.test.yml checks the alert under both engines).
  test('label and annotation values keep the text written in the file', () => {
    const [group] = parseRuleFile(
      'groups:\n  - name: g\n    labels: {tier: 01}\n    rules:\n      - alert: A\n        expr: 1\n        for: 0\n        labels: {slo: 0.990, page: yes, code: 0x1F, empty: ~}\n        annotations: {ratio: 1e3}\n',
      'f.yml',
    )
    const rule = group?.rules[0]
    expect(group?.labels).toEqual({ tier: '01' })
    expect(rule).toMatchObject({
      expr: '1',
      forMs: 0,
      labels: { slo: '0.990', page: 'yes', code: '0x1F', empty: '' },
      annotations: { ratio: '1e3' },
    })
  })
})
