import { describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sloRulesFileText } from '../../../scripts/slo/generate.ts'
import { parseSlothSpec } from '../../../src/alerting/slo/spec.ts'
import { run, withBinary } from '../../ops/ops-files.ts'
import { availSpec, refusal } from './spec-text.ts'

// Alert labels and annotations are Go templates to Prometheus (rulefmt.go testTemplateParsing
// parses each when rules load). Sloth copies the spec's values into the alerts unchecked, so
// `summary: "{{ $labels.team"` gave a rule file promtool refused as a whole; the spec reader
// now refuses it, naming the field, in promtool's words.

const promtoolTest = withBinary('promtool', 'apt-get install -y prometheus')

/** Broken templates and promtool 2.42's words for them (the part after `annotation "x": `). */
const BROKEN: Array<[value: string, promtool: string]> = [
  ['{{ $labels.team', 'template: __alert_AvailBurn:1: unclosed action'],
  ['{{ $foo }}', 'template: __alert_AvailBurn:1: undefined variable "$foo"'],
  ['{{ nosuchfunc }}', 'template: __alert_AvailBurn:1: function "nosuchfunc" not defined'],
  ['line one\nline two {{ if }}', 'template: __alert_AvailBurn:2: missing value for if'],
  ['{{ end }}', 'template: __alert_AvailBurn:1: unexpected {{end}}'],
]

describe('alert label and annotation templates', () => {
  test('a template Prometheus cannot parse is refused, naming the field, in every place a spec sets one', () => {
    const [value] = BROKEN[0]!
    const v = JSON.stringify(value)
    expect([
      refusal(availSpec({ alerting: `      annotations:\n        summary: ${v}` })),
      refusal(availSpec({ alerting: `      labels:\n        team: ${v}` })),
      refusal(availSpec({ alerting: `      page_alert:\n        annotations:\n          runbook: ${v}` })),
      refusal(availSpec({ alerting: `      ticket_alert:\n        labels:\n          severity: ${v}` })),
    ]).toEqual([
      'slo "avail": alerting.annotations.summary: template: __alert_AvailBurn:1: unclosed action',
      'slo "avail": alerting.labels.team: template: __alert_AvailBurn:1: unclosed action',
      'slo "avail": alerting.page_alert.annotations.runbook: template: __alert_AvailBurn:1: unclosed action',
      'slo "avail": alerting.ticket_alert.labels.severity: template: __alert_AvailBurn:1: unclosed action',
    ])
  })

  test('each kind of template error is reported as promtool reports it, line included', () => {
    expect(
      BROKEN.map(([value]) =>
        refusal(availSpec({ alerting: `      annotations:\n        summary: ${JSON.stringify(value)}` })),
      ),
    ).toEqual(BROKEN.map(([, words]) => `slo "avail": alerting.annotations.summary: ${words}`))
  })

  test('a disabled alert is not generated, so its templates are not checked (as Sloth skips it)', () => {
    const text = availSpec({
      alerting: '      page_alert:\n        disable: true\n        annotations:\n          summary: "{{ $x"',
    })
    expect(refusal(text)).toBe('accepted')
  })

  promtoolTest('promtool words each broken template so, and loads the rules of the working ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'slo-templates-'))
    try {
      const file = join(dir, 'rules.yml')
      const words = BROKEN.map(([value]) => {
        writeFileSync(
          file,
          JSON.stringify({
            groups: [
              { name: 'g', rules: [{ alert: 'AvailBurn', expr: 'up', annotations: { summary: value } }] },
            ],
          }),
        )
        const { exitCode, output } = run(['promtool', 'check', 'rules', file])
        expect(exitCode).toBe(1)
        return /annotation "summary": (.*)/.exec(output)?.[1]
      })
      expect(words).toEqual(BROKEN.map(([, promtool]) => promtool))

      const working = availSpec({
        alerting:
          '      labels:\n        team: "{{ $labels.team }}"\n      annotations:\n        summary: "{{ humanize $value }} left"',
      })
      writeFileSync(file, sloRulesFileText(parseSlothSpec(working)))
      expect(run(['promtool', 'check', 'rules', file])).toEqual({
        exitCode: 0,
        output: `Checking ${file}\n  SUCCESS: 17 rules found\n\n`,
      })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
