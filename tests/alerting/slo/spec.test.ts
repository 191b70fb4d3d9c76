import { describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { sloRuleGroups, sloRulesFileText } from '../../../scripts/slo/generate.ts'
import { parseSlothSpec, type SlothSpec, sliQuery, templateText } from '../../../src/alerting/slo/spec.ts'
import { run, withBinary } from '../../ops/ops-files.ts'
import type { SloRule } from './slo-rule.ts'
import { refusal } from './spec-text.ts'

// What parseSlothSpec accepts and refuses, held against Sloth's loader and validation
// (github.com/slok/sloth internal/prometheus/spec.go, pkg/common/validation/slo.go and
// promql.go, pkg/common/conventions), and every accepted spec's rules against promtool.

const promtoolTest = withBinary('promtool', 'apt-get install -y prometheus')

/** A one-SLO spec; `slo` replaces lines of the SLO, `top` is added after `service`. */
function spec(options: { service?: string; top?: string; slo?: Record<string, string> } = {}): string {
  const slo: Record<string, string> = {
    name: 'name: avail',
    objective: 'objective: 99.9',
    description: 'description: Availability - share of requests not failed',
    error_query: 'error_query: sum(rate(errors_total[{{.window}}]))',
    total_query: 'total_query: sum(rate(requests_total[{{.window}}]))',
    alerting: 'alerting:\n      name: AvailBurn',
    ...options.slo,
  }
  return [
    'version: prometheus/v1',
    `service: ${options.service ?? 'svc'}`,
    ...(options.top ? [options.top] : []),
    'slos:',
    `  - ${slo.name}`,
    `    ${slo.objective}`,
    `    ${slo.description}`,
    '    sli:',
    '      events:',
    `        ${slo.error_query}`,
    `        ${slo.total_query}`,
    `    ${slo.alerting}`,
    '',
  ].join('\n')
}

type Rule = SloRule
const rules = (s: SlothSpec) => sloRuleGroups(s).flatMap((g) => g.rules) as Rule[]

/** Specs Sloth accepts and this service once refused or mangled; promtool checks them all below. */
const ACCEPTED = {
  dottedNames: spec({ service: 'convo.commerce', slo: { name: 'name: svc.v2' } }),
  objective100: spec({ slo: { objective: 'objective: 100' } }),
  noAlertName: spec({
    slo: {
      alerting:
        'alerting:\n      page_alert:\n        disable: true\n      ticket_alert:\n        disable: true',
    },
  }),
  spacedWindow: spec({
    slo: {
      error_query: 'error_query: sum(rate(errors_total[{{ .window }}]))',
      total_query: 'total_query: sum(rate(requests_total[{{  .window}}])) > 0 or sum(rate(x[{{.window}}]))',
    },
  }),
  numericDescription: spec({ slo: { description: 'description: 42.0' } }),
  freeAlertName: spec({ slo: { alerting: "alerting:\n      name: 'Avail-Burn: 9x é'" } }),
}

describe("parseSlothSpec: the document as Sloth's loader reads it (trimmed, then yaml.v2)", () => {
  // Each was refused before in the JavaScript parser's words ("Sequence item without -
  // indicator at line 5, column 1:", "Tabs are not allowed as indentation at line 3…").
  const UNREADABLE: Array<[spec: string, document: string, refusal: string]> = [
    [
      'version: prometheus/v1\nservice: x\nslos:\n  - name: a\n   objective: 99\n',
      'version: prometheus/v1\nservice: x\nslos:\n  - name: a\n   objective: 99',
      "yaml: line 4: did not find expected '-' indicator",
    ],
    [
      'version: prometheus/v1\nservice: x\nslos: [\n',
      'version: prometheus/v1\nservice: x\nslos: [',
      'yaml: line 3: did not find expected node content',
    ],
    [
      'version: prometheus/v1\nservice: x\n\tslos: []\n',
      'version: prometheus/v1\nservice: x\n\tslos: []',
      'yaml: line 3: found a tab character that violates indentation',
    ],
    [
      'version: prometheus/v1\nservice: x\nslos:\n  - name: a\n    objective: 99\n  labels: {a: b\n',
      'version: prometheus/v1\nservice: x\nslos:\n  - name: a\n    objective: 99\n  labels: {a: b',
      "yaml: line 5: did not find expected '-' indicator",
    ],
    // Sloth trims the file before it reads it: the quote runs into the end of line 2.
    [
      "version: 'prometheus/v1\nservice: x\n",
      "version: 'prometheus/v1\nservice: x",
      'yaml: line 2: found unexpected end of stream',
    ],
    // Lines count from the document's first, as Sloth reads each piece between `---` trimmed.
    [
      '\n\n# leading comment\nversion: prometheus/v1\nservice: svc\n  x: y: z\nslos: []\n',
      'version: prometheus/v1\nservice: svc\n  x: y: z\nslos: []',
      'yaml: line 3: mapping values are not allowed in this context',
    ],
  ]

  test("is refused in yaml.v2's words, at its line of the document Sloth splits off", () => {
    expect(UNREADABLE.map(([text]) => refusal(text))).toEqual(UNREADABLE.map(([, , message]) => message))
  })

  // Sloth's `generate` also reads its Kubernetes CRD (sloth.dev "Kubernetes CRD spec",
  // examples/k8s-*.yml) and OpenSLO; this reader does not, and must say so rather than ask
  // for a `version` field such a file never has.
  test('a Kubernetes PrometheusServiceLevel or an OpenSLO file is named as such, not as a wrong version', () => {
    const crd = `apiVersion: sloth.slok.dev/v1
kind: PrometheusServiceLevel
metadata:
  name: sloth-slo-home-wifi
spec:
  service: home-wifi
  slos:
    - name: good-wifi
      objective: 95
      sli:
        events:
          errorQuery: sum(rate(e[{{.window}}]))
          totalQuery: sum(rate(t[{{.window}}]))
      alerting:
        name: GoodWifi
`
    expect(refusal(crd)).toBe(
      `the spec is apiVersion "sloth.slok.dev/v1", kind "PrometheusServiceLevel": this generator reads only Sloth's prometheus/v1 spec; to convert it, set version: prometheus/v1, move its spec's fields to the top and spell them in snake_case (errorQuery as error_query, pageAlert as page_alert)`,
    )
    expect(refusal('apiVersion: openslo/v1alpha\nkind: SLO\nspec:\n  service: x\n')).toBe(
      `the spec is apiVersion "openslo/v1alpha", kind "SLO": this generator reads only Sloth's prometheus/v1 spec`,
    )
    // A file with a version keeps the short refusal, whatever else it holds.
    expect(refusal('version: prometheus/v2\napiVersion: x\nservice: s\n')).toBe(
      'version must be prometheus/v1',
    )
    expect(refusal('service: s\nslos: []\n')).toBe('version must be prometheus/v1')
  })

  test("a repeated key is no error to Sloth's yaml.v2 (non-strict Unmarshal): the last one counts", () => {
    // Was refused in the JavaScript parser's words, over several lines ("Map keys must be
    // unique at line 6, column 5:" and an excerpt), for a spec Sloth generates.
    const last = spec({
      service: 'svc',
      slo: {
        objective: 'objective: 99.5',
        alerting: 'alerting:\n      name: AvailBurn\n      labels:\n        team: b',
      },
    })
    const repeated = spec({
      service: 'other\nservice: svc',
      slo: {
        objective: 'objective: 99.9\n    objective: 99.5',
        alerting:
          'alerting:\n      name: Old\n      name: AvailBurn\n      labels:\n        team: a\n        team: b',
      },
    })
    expect(parseSlothSpec(repeated)).toEqual(parseSlothSpec(last))
  })

  test('a block scalar ending the spec has no final newline: Sloth trims the file, and yaml.v2 keeps no break there', () => {
    const annotations = (text: string) => parseSlothSpec(text).slos[0]?.alerting?.annotations
    const ending = `${spec()}\n      annotations:\n        runbook: |\n          https://runbooks.example/avail\n`
    expect(annotations(ending)).toEqual({ runbook: 'https://runbooks.example/avail' })
    // Anywhere else the block keeps its line break, as in yaml.v2.
    expect(annotations(`${ending}        team: |\n          shop\n`)).toEqual({
      runbook: 'https://runbooks.example/avail\n',
      team: 'shop',
    })
  })

  test('bun run ops:slo prints a refused spec as one line and exits 1, writing nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'slo-build-'))
    try {
      const specFile = join(dir, 'slos.yml')
      const rulesFile = join(dir, 'slo.yml')
      writeFileSync(specFile, UNREADABLE[0]![0])
      const result = Bun.spawnSync(['bun', 'scripts/slo/build.ts', specFile, rulesFile], { stderr: 'pipe' })
      expect(result.exitCode).toBe(1)
      expect(result.stderr.toString()).toBe(
        `ops:slo: ${specFile}: yaml: line 4: did not find expected '-' indicator\n`,
      )
      expect(existsSync(rulesFile)).toBe(false)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  // promtool reads its test files with yaml.v2, the package Sloth reads specs with: the same
  // document there gives the same words at the same line.
  promtoolTest("promtool's yaml.v2 words the same documents the same way", () => {
    const dir = mkdtempSync(join(tmpdir(), 'slo-unreadable-'))
    try {
      const refusals = UNREADABLE.map(([, document], i) => {
        const file = join(dir, `${i}.yml`)
        writeFileSync(file, document)
        return /yaml: line .*/.exec(run(['promtool', 'test', 'rules', file]).output)?.[0]
      })
      expect(refusals).toEqual(UNREADABLE.map(([, , message]) => message))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('parseSlothSpec: names (Sloth NameRegexp ^[A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]$)', () => {
  test('dots are allowed in service and SLO names, and reach the labels as written', () => {
    const s = parseSlothSpec(ACCEPTED.dottedNames)
    expect([s.service, s.slos[0]!.name]).toEqual(['convo.commerce', 'svc.v2'])
    expect(rules(s)[0]).toEqual({
      record: 'slo:sli_error:ratio_rate5m',
      expr: '(sum(rate(errors_total[5m])))\n/\n(sum(rate(requests_total[5m])))\n',
      labels: {
        sloth_id: 'convo.commerce-svc.v2',
        sloth_service: 'convo.commerce',
        sloth_slo: 'svc.v2',
        sloth_window: '5m',
      },
    })
  })

  test('one character, a leading or trailing "-", "_" or ".", and other characters are refused', () => {
    const rule =
      "it must start and end with a letter or digit and hold only letters, digits, '.', '_' and '-'"
    for (const name of ['a', 'api-', 'api_', 'api.', '-api', 'a/b', 'a b'])
      expect(refusal(spec({ slo: { name: `name: "${name}"` } }))).toBe(`slo "${name}": invalid name: ${rule}`)
    expect(refusal(spec({ slo: { name: 'name:' } }))).toBe(`slo "": invalid name: ${rule}`)
    expect(refusal(spec({ service: 'x' }))).toBe(`invalid service name "x": ${rule}`)
    expect(refusal(spec({ service: 'svc_' }))).toBe(`invalid service name "svc_": ${rule}`)
  })

  test('two-character names are the shortest allowed', () => {
    expect(parseSlothSpec(spec({ service: 'ab', slo: { name: 'name: a1' } })).slos[0]!.name).toBe('a1')
  })
})

describe('parseSlothSpec: objective (Sloth: >0 and <=100)', () => {
  test('100 is accepted: the error budget is 0, so any error burns faster than every factor', () => {
    const s = parseSlothSpec(ACCEPTED.objective100)
    const all = rules(s)
    const expr = (name: string) => all.find((r) => r.record === name)!.expr
    expect([expr('slo:objective:ratio'), expr('slo:error_budget:ratio')]).toEqual(['1', '1 - 1'])
    expect(all.find((r) => r.record === 'sloth_slo_info')!.labels.sloth_objective).toBe('100')
    const alerts = all.filter((r) => r.alert)
    expect(alerts.map((a) => [...a.expr.matchAll(/> \(([\d.]+ \* [\d.]+)\)/g)].map((m) => m[1]))).toEqual([
      ['14.4 * 0', '14.4 * 0', '6 * 0', '6 * 0'],
      ['3 * 0', '3 * 0', '1 * 0', '1 * 0'],
    ])
  })

  test('0, below 0, above 100, NaN and infinity are refused as out of range', () => {
    const message = 'slo "avail": objective must be a percentage above 0 and at most 100'
    for (const objective of ['0', '-1', '100.1', '.nan', '.inf'])
      expect(refusal(spec({ slo: { objective: `objective: ${objective}` } }))).toBe(message)
  })

  // Sloth reads these as Go's zero ("objective must >0 and <=100"); beside a misspelt
  // `objetive: 99.9` that told the author their 99.9 was out of range.
  test('a missing, empty or misspelt objective is refused as missing, naming the key', () => {
    const message =
      'slo "avail": objective is missing (the key `objective`, a percentage above 0 and at most 100, such as 99.9)'
    for (const line of ['objective:', 'objective: ~', 'objetive: 99.9', 'Objective: 99.9'])
      expect(refusal(spec({ slo: { objective: line } }))).toBe(message)
  })

  test('a number is read as yaml.v2 reads it into a float64 (resolve.go), not as YAML 1.1 in JavaScript', () => {
    const cases: Array<[string, number]> = [
      ['0o77', 63],
      ['!!float 99', 99],
      ['0x10', 16],
      ['1_0', 10],
      ['99.5', 99.5],
      ['!!int 99', 99],
    ]
    for (const [objective, value] of cases)
      expect(parseSlothSpec(spec({ slo: { objective: `objective: ${objective}` } })).slos[0]!.objective).toBe(
        value,
      )
    expect(refusal(spec({ slo: { objective: 'objective: !!int 99.5' } }))).toBe(
      'slo "avail": objective: yaml: cannot decode !!float `99.5` as a !!int',
    )
  })

  test('a string or a boolean is refused as not a number, as yaml.v2 refuses it for a float64', () => {
    const cases: Array<[string, string]> = [
      ['"99.9"', 'the string "99.9"'],
      ["'99.9'", 'the string "99.9"'],
      ['high', 'the string "high"'],
      ['99.9%', 'the string "99.9%"'],
      ['yes', 'the boolean true'],
    ]
    for (const [objective, what] of cases)
      expect(refusal(spec({ slo: { objective: `objective: ${objective}` } }))).toBe(
        `slo "avail": objective must be a number (a percentage such as 99.9), not ${what}`,
      )
  })
})

describe('parseSlothSpec: alerting.name (Sloth requires it only for an enabled alert)', () => {
  test('both alerts disabled: no name needed, and no alert group is generated', () => {
    const s = parseSlothSpec(ACCEPTED.noAlertName)
    expect(s.slos[0]!.alerting).toEqual({
      name: '',
      page_alert: { disable: true },
      ticket_alert: { disable: true },
    })
    expect(sloRuleGroups(s).map((g) => g.name)).toEqual([
      'sloth-slo-sli-recordings-svc-avail',
      'sloth-slo-meta-recordings-svc-avail',
    ])
  })

  test('one alert enabled (or both, by default): the name is required, and any text will do', () => {
    const required = 'slo "avail": alerting.name is required while page_alert or ticket_alert is enabled'
    expect(refusal(spec({ slo: { alerting: 'alerting: {}' } }))).toBe(required)
    expect(
      refusal(spec({ slo: { alerting: 'alerting:\n      ticket_alert:\n        disable: true' } })),
    ).toBe(required)
    // Sloth asks for a name only, and promtool loads any (checked below with the other ACCEPTED).
    expect(
      rules(parseSlothSpec(ACCEPTED.freeAlertName))
        .filter((r) => r.alert)
        .map((r) => r.alert),
    ).toEqual(['Avail-Burn: 9x é', 'Avail-Burn: 9x é'])
  })

  test('disable is a YAML 1.1 boolean, as yaml.v2 reads it: `no` keeps the alert, a quoted "true" is refused', () => {
    const s = parseSlothSpec(
      spec({ slo: { alerting: 'alerting:\n      name: AvailBurn\n      page_alert:\n        disable: no' } }),
    )
    expect(
      rules(s)
        .filter((r) => r.alert)
        .map((r) => r.labels.sloth_severity),
    ).toEqual(['page', 'ticket'])
    expect(
      refusal(
        spec({
          slo: { alerting: 'alerting:\n      name: AvailBurn\n      page_alert:\n        disable: "true"' },
        }),
      ),
    ).toBe('slo "avail": alerting.page_alert.disable must be true or false')
  })
})

describe('parseSlothSpec: the window placeholder (Sloth TplSLIQueryWindowVarRegex {{ *\\.window *}})', () => {
  test('spaces inside the braces, mixed in one query, give the same rules as {{.window}}', () => {
    const spaced = parseSlothSpec(ACCEPTED.spacedWindow)
    expect(spaced.slos[0]!.sli.events).toEqual({
      error_query: 'sum(rate(errors_total[{{.window}}]))',
      total_query: 'sum(rate(requests_total[{{.window}}])) > 0 or sum(rate(x[{{.window}}]))',
    })
    const plain = parseSlothSpec(
      spec({
        slo: {
          total_query: 'total_query: sum(rate(requests_total[{{.window}}])) > 0 or sum(rate(x[{{.window}}]))',
        },
      }),
    )
    expect(sloRulesFileText(spaced)).toBe(sloRulesFileText(plain))
    expect(rules(spaced)[1]!.expr).toBe(
      '(sum(rate(errors_total[30m])))\n/\n(sum(rate(requests_total[30m])) > 0 or sum(rate(x[30m])))\n',
    )
  })

  test('sliQuery replaces every spelling', () => {
    expect(sliQuery('a[{{.window}}] b[{{ .window }}] c[{{   .window}}]', '5m')).toBe('a[5m] b[5m] c[5m]')
  })

  test('a query without the placeholder is refused (a tab, a dash or another name is not it)', () => {
    for (const placeholder of ['{{\t.window}}', '{{- .window }}', '{{.windows}}', '{{window}}', '5m'])
      expect(
        refusal(spec({ slo: { error_query: `error_query: "sum(rate(errors_total[${placeholder}]))"` } })),
      ).toBe('slo "avail": sli.events.error_query must be a query containing {{.window}}')
  })
})

describe('parseSlothSpec: string fields read as yaml.v2 fills a Go string', () => {
  test('a number as description is its text as written, and names the SLO in alerts', () => {
    expect(parseSlothSpec(spec({ slo: { description: 'description: 42' } })).slos[0]!.description).toBe('42')
    const s = parseSlothSpec(ACCEPTED.numericDescription)
    expect(s.slos[0]!.description).toBe('42.0')
    expect(rules(s).find((r) => r.alert)!.annotations!.summary).toBe(
      '42.0 99.9 %: error budget burning too fast (page)',
    )
  })

  test('numbers and booleans in labels and names keep their text; an empty description is none', () => {
    const s = parseSlothSpec(
      spec({
        top: 'labels:\n  version: 2.10\n  canary: yes',
        slo: { name: 'name: 2024', description: 'description:' },
      }),
    )
    expect([s.labels, s.slos[0]!.name, s.slos[0]!.description]).toEqual([
      { version: '2.10', canary: 'yes' },
      '2024',
      undefined,
    ])
  })

  test('a map or list where text belongs is refused, naming the field', () => {
    expect(refusal(spec({ slo: { description: 'description: {a: 1}' } }))).toBe(
      'slo "avail": description must be text, not a map',
    )
    expect(refusal(spec({ top: 'labels:\n  team: [a, b]' }))).toBe('labels.team must be text, not a list')
    expect(refusal(spec({ top: 'labels: team' }))).toBe('labels must be a map')
  })

  test('text or a list where a map belongs (sli, its events or raw, alerting, an SLO) is refused, naming the field', () => {
    // yaml.v2 refuses them for Sloth's structs; these were refused for a field they do not
    // have ("alerting.name is required…", "sli.events.error_query must be a query…").
    const queries =
      '      events:\n        error_query: sum(rate(errors_total[{{.window}}]))\n        total_query: sum(rate(requests_total[{{.window}}]))\n'
    const base = spec()
    expect(refusal(spec({ slo: { alerting: 'alerting: AvailBurn' } }))).toBe(
      'slo "avail": alerting must be a map',
    )
    expect(refusal(base.replace(/ {4}sli:\n[\s\S]*?(?= {4}alerting)/, '    sli: [a]\n'))).toBe(
      'slo "avail": sli must be a map',
    )
    expect(refusal(base.replace(queries, '      events: sum(rate(errors_total[{{.window}}]))\n'))).toBe(
      'slo "avail": sli.events must be a map',
    )
    expect(refusal(base.replace(queries, '      raw: sum(rate(errors_total[{{.window}}]))\n'))).toBe(
      'slo "avail": sli.raw must be a map',
    )
    expect(refusal('version: prometheus/v1\nservice: svc\nslos:\n  - avail\n')).toBe('slos[0] must be a map')
  })
})

describe('parseSlothSpec: labels and annotations (Sloth PromQL dialect: label names promtool reads)', () => {
  const rule = "(letters, digits and '_', not starting with a digit)"
  test('invalid names are refused, naming the field', () => {
    expect(refusal(spec({ top: 'labels:\n  bad-key: x' }))).toBe(
      `labels: invalid label name "bad-key" ${rule}`,
    )
    expect(refusal(spec({ slo: { description: 'labels:\n      "0x": y' } }))).toBe(
      `slo "avail": labels: invalid label name "0x" ${rule}`,
    )
    expect(
      refusal(
        spec({ slo: { alerting: 'alerting:\n      name: AvailBurn\n      labels:\n        bad label: z' } }),
      ),
    ).toBe(`slo "avail": alerting.labels: invalid label name "bad label" ${rule}`)
    expect(
      refusal(
        spec({
          slo: { alerting: 'alerting:\n      name: AvailBurn\n      annotations:\n        bad-ann: q' },
        }),
      ),
    ).toBe(`slo "avail": alerting.annotations: invalid annotation name "bad-ann" ${rule}`)
    expect(
      refusal(
        spec({
          slo: {
            alerting:
              'alerting:\n      name: AvailBurn\n      page_alert:\n        labels:\n          sev.x: a',
          },
        }),
      ),
    ).toBe(`slo "avail": alerting.page_alert.labels: invalid label name "sev.x" ${rule}`)
    expect(
      refusal(
        spec({
          slo: {
            alerting:
              'alerting:\n      name: AvailBurn\n      ticket_alert:\n        annotations:\n          é: a',
          },
        }),
      ),
    ).toBe(`slo "avail": alerting.ticket_alert.annotations: invalid annotation name "é" ${rule}`)
  })

  test('__name__ as a label and empty values are refused, as Sloth refuses them', () => {
    expect(refusal(spec({ top: 'labels:\n  __name__: x' }))).toBe(
      'labels: the label name "__name__" is not allowed',
    )
    expect(refusal(spec({ top: 'labels:\n  team:' }))).toBe('labels: label "team" needs a value')
    expect(
      refusal(
        spec({
          slo: { alerting: 'alerting:\n      name: AvailBurn\n      annotations:\n        runbook: ""' },
        }),
      ),
    ).toBe('slo "avail": alerting.annotations: annotation "runbook" needs a value')
  })

  test("a disabled alert's labels are not checked, as Sloth generates nothing from them", () => {
    const s = parseSlothSpec(
      spec({
        slo: {
          alerting:
            'alerting:\n      name: AvailBurn\n      ticket_alert:\n        disable: true\n        labels:\n          bad-key: x',
        },
      }),
    )
    expect(
      rules(s)
        .filter((r) => r.alert)
        .map((r) => r.labels),
    ).toEqual([{ sloth_severity: 'page' }])
  })
})

describe('parseSlothSpec: SLI queries (Sloth isValidSLOSLI and ValidateQueryExpression)', () => {
  test('a query that does not parse as PromQL with the window as 1m is refused with the parse error', () => {
    expect(refusal(spec({ slo: { error_query: 'error_query: sum(rate(x[{{.window}}])' } }))).toBe(
      'slo "avail": sli.events.error_query does not parse with {{.window}} as 1m: 1:16: parse error: unclosed left parenthesis',
    )
    // A range vector parses alone, as with Prometheus' parser (Sloth's check), but not as a
    // side of the SLI's division.
    expect(refusal(spec({ slo: { total_query: 'total_query: requests_total[{{.window}}]' } }))).toBe(
      'slo "avail": sli.events: (error_query) / (total_query) does not parse with {{.window}} as 1m: 3:1: parse error: binary expression must contain only scalar and instant vector types',
    )
  })

  // Sloth checks the queries at 1m only; `[1h{{.window}}]` reads "1h1m" there, and the rule
  // file then held `[1h1h]`, `[1h2h]`, `[1h6h]`, `[1h1d]` and `[1h3d]`, which promtool refuses.
  const windowSuffix = spec({ slo: { total_query: 'total_query: sum(rate(requests_total[1h{{.window}}]))' } })
  test('a query that parses at 1m but not at a window the rules are written with is refused, naming that window', () => {
    expect(refusal(windowSuffix)).toBe(
      'slo "avail": sli.events.total_query does not parse with {{.window}} as 1h: 1:25: parse error: not a valid duration string: "1h1h"',
    )
  })

  promtoolTest('promtool refuses the rules such a query would give, at the same windows', () => {
    const accepted = parseSlothSpec(spec())
    const slo = accepted.slos[0]!
    const unchecked: SlothSpec = {
      ...accepted,
      slos: [
        {
          ...slo,
          sli: {
            events: {
              error_query: 'sum(rate(errors_total[{{.window}}]))',
              total_query: 'sum(rate(requests_total[1h{{.window}}]))',
            },
          },
        },
      ],
    }
    const dir = mkdtempSync(join(tmpdir(), 'slo-window-'))
    try {
      writeFileSync(join(dir, 'slo.yml'), sloRulesFileText(unchecked))
      const { exitCode, output } = run(['promtool', 'check', 'rules', join(dir, 'slo.yml')])
      expect(exitCode).toBe(1)
      expect([...output.matchAll(/not a valid duration string: "([^"]+)"/g)].map((m) => m[1])).toEqual([
        '1h1h',
        '1h2h',
        '1h6h',
        '1h1d',
        '1h3d',
      ])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('a query that parses alone but breaks inside the SLI recording is refused', () => {
    expect(refusal(spec({ slo: { error_query: 'error_query: "sum(rate(x[{{.window}}])) # errors"' } }))).toBe(
      'slo "avail": sli.events: (error_query) / (total_query) does not parse with {{.window}} as 1m: 4:1: parse error: unclosed left parenthesis',
    )
  })

  test('the same query for errors and total is refused', () => {
    expect(refusal(spec({ slo: { total_query: 'total_query: sum(rate(errors_total[{{.window}}]))' } }))).toBe(
      'slo "avail": sli.events.error_query and total_query must differ',
    )
  })

  test('sli.raw (an error ratio query) is read as Sloth reads it; sli.plugin is named as unsupported', () => {
    const rawSpec = (query: string) =>
      spec().replace(/ {6}events:\n.*\n.*\n/, `      raw:\n        error_ratio_query: ${query}\n`)
    expect(parseSlothSpec(rawSpec('1 - avg_over_time(up[{{ .window }}])')).slos[0]!.sli).toEqual({
      raw: { error_ratio_query: '1 - avg_over_time(up[{{.window}}])' },
    })
    expect(refusal(rawSpec('1 - avg(up)'))).toBe(
      'slo "avail": sli.raw.error_ratio_query must be a query containing {{.window}}',
    )
    expect(refusal(rawSpec('"1 - avg_over_time(up[{{.window}}]) # ratio"'))).toBe(
      'slo "avail": sli.raw: (error_ratio_query) does not parse with {{.window}} as 1m: 1:36: parse error: unclosed left parenthesis',
    )
    // Prometheus would load these and fail them at every evaluation: "rule result is not a vector or scalar".
    expect(refusal(rawSpec('rate(errors_total[{{.window}}])[1h:]'))).toBe(
      'slo "avail": sli.raw.error_ratio_query must give an instant vector or a scalar, not a range vector',
    )
    expect(refusal(rawSpec('errors_ratio[{{.window}}]'))).toBe(
      'slo "avail": sli.raw.error_ratio_query must give an instant vector or a scalar, not a range vector',
    )
    expect(refusal(rawSpec(`'"{{.window}}"'`))).toBe(
      'slo "avail": sli.raw.error_ratio_query must give an instant vector or a scalar, not a string',
    )
    expect(parseSlothSpec(rawSpec('scalar(1 - avg_over_time(up[{{.window}}]))')).slos[0]!.sli).toEqual({
      raw: { error_ratio_query: 'scalar(1 - avg_over_time(up[{{.window}}]))' },
    })
    // isValidSLOSLI: "only one SLI type is allowed".
    const both = spec().replace(
      '      events:\n',
      '      raw:\n        error_ratio_query: x\n      events:\n',
    )
    expect(refusal(both)).toBe('slo "avail": sli holds both events and raw; Sloth allows only one')
    const plugin = spec().replace(
      / {6}events:\n.*\n.*\n/,
      '      plugin:\n        id: sloth-common/availability\n',
    )
    expect(refusal(plugin)).toBe('slo "avail": sli.plugin is not supported here, only sli.events and sli.raw')
  })

  test('a raw SLI records `(query)` for every window but the period, as Sloth', () => {
    const raw = parseSlothSpec(
      spec().replace(
        / {6}events:\n.*\n.*\n/,
        '      raw:\n        error_ratio_query: 1 - avg_over_time(up[{{.window}}])\n',
      ),
    )
    const sli = rules(raw).filter((r) => r.record?.startsWith('slo:sli_error:'))
    expect(sli.slice(0, 7).map((r) => r.expr)).toEqual(
      ['5m', '30m', '1h', '2h', '6h', '1d', '3d'].map((w) => `(1 - avg_over_time(up[${w}]))`),
    )
    expect(sli[7]!.expr).toStartWith('sum_over_time(slo:sli_error:ratio_rate5m{')
  })
})

describe('templateText: literal text inside an alert template', () => {
  test('escapes each {{ and nothing else', () => {
    expect(templateText('Avail {{ $labels.x - weird')).toBe('Avail {{ "{{" }} $labels.x - weird')
    expect(templateText('a }} b {{{')).toBe('a }} b {{ "{{" }}{')
    expect(templateText('plain')).toBe('plain')
  })

  const TEXTS = ['Avail {{ $labels.x - weird', 'a }} b {{{ c }}}', '{{- end }}', '{{ "{{" }}', 'plain 99.9 %']
  promtoolTest('promtool accepts the escaped text and renders it as written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'slo-template-'))
    try {
      const alert = (i: number) => `Text${i}`
      writeFileSync(
        join(dir, 'rules.yml'),
        stringify({
          groups: [
            {
              name: 'texts',
              rules: TEXTS.map((text, i) => ({
                alert: alert(i),
                expr: 'vector(1)',
                annotations: { description: templateText(text) },
              })),
            },
          ],
        }),
      )
      writeFileSync(
        join(dir, 'rules.test.yml'),
        stringify({
          rule_files: ['rules.yml'],
          tests: [
            {
              interval: '1m',
              input_series: [],
              alert_rule_test: TEXTS.map((text, i) => ({
                eval_time: '0m',
                alertname: alert(i),
                exp_alerts: [{ exp_labels: {}, exp_annotations: { description: text } }],
              })),
            },
          ],
        }),
      )
      const { exitCode, output } = run(['promtool', 'test', 'rules', join(dir, 'rules.test.yml')])
      expect(output).toContain('SUCCESS')
      expect(exitCode).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('every spec above that Sloth accepts', () => {
  promtoolTest('gives rules promtool check rules accepts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'slo-accepted-'))
    try {
      const files = Object.entries(ACCEPTED).map(([name, text]) => {
        const file = join(dir, `${name}.yml`)
        writeFileSync(file, sloRulesFileText(parseSlothSpec(text)))
        return file
      })
      const { exitCode, output } = run(['promtool', 'check', 'rules', ...files])
      // 8 SLI and 7 metadata recordings, and the page and ticket alerts unless both are disabled.
      expect(output.match(/SUCCESS: \d+ rules found/g)).toEqual([
        'SUCCESS: 17 rules found',
        'SUCCESS: 17 rules found',
        'SUCCESS: 15 rules found',
        'SUCCESS: 17 rules found',
        'SUCCESS: 17 rules found',
        'SUCCESS: 17 rules found',
      ])
      expect(exitCode).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('scripts/slo/generate.ts with the spec helpers', () => {
  test('a query handed over with another spelling of the placeholder is still substituted', () => {
    const s = parseSlothSpec(spec())
    const slo = {
      ...s.slos[0]!,
      sli: { events: { error_query: 'a[{{ .window }}]', total_query: 'b[{{.window}}]' } },
    }
    expect(rules({ ...s, slos: [slo] })[0]!.expr).toBe('(a[5m])\n/\n(b[5m])\n')
  })

  const weird = parseSlothSpec(spec({ slo: { description: 'description: "Avail {{ $labels.x - weird"' } }))
  test('{{ in a description is escaped in the alert annotations', () => {
    expect(rules(weird).find((r) => r.alert)!.annotations!.summary).toBe(
      'Avail {{ "{{" }} $labels.x 99.9 %: error budget burning too fast (page)',
    )
  })

  promtoolTest('promtool accepts those rules and renders the description as written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'slo-weird-'))
    try {
      writeFileSync(join(dir, 'slo.yml'), sloRulesFileText(weird))
      const check = run(['promtool', 'check', 'rules', join(dir, 'slo.yml')])
      expect(check.output).toContain('SUCCESS: 17 rules found')
      expect(check.exitCode).toBe(0)
      // The page alert's annotations on an alert that always fires, with the value 1.
      const page = rules(weird).find((r) => r.alert)!
      writeFileSync(
        join(dir, 'page.yml'),
        stringify({
          groups: [
            { name: 'page', rules: [{ alert: 'Page', expr: 'vector(1)', annotations: page.annotations }] },
          ],
        }),
      )
      writeFileSync(
        join(dir, 'page.test.yml'),
        stringify({
          rule_files: ['page.yml'],
          tests: [
            {
              interval: '1m',
              input_series: [],
              alert_rule_test: [
                {
                  eval_time: '0m',
                  alertname: 'Page',
                  exp_alerts: [
                    {
                      exp_labels: {},
                      exp_annotations: {
                        summary: 'Avail {{ $labels.x 99.9 %: error budget burning too fast (page)',
                        description:
                          "Avail {{ $labels.x 99.9 %: burning the error budget faster than 14.4× over 1 h and 5 m, or 6× over 6 h and 30 m — 1 % of this month's budget left (30-day SLO svc-avail).",
                      },
                    },
                  ],
                },
              ],
            },
          ],
        }),
      )
      const test = run(['promtool', 'test', 'rules', join(dir, 'page.test.yml')])
      expect(test.output).toContain('SUCCESS')
      expect(test.exitCode).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

test("alerting labels may set sloth_severity, as Sloth's merge lets them", () => {
  const s = parseSlothSpec(
    spec({
      slo: {
        alerting:
          'alerting:\n      name: AvailBurn\n      labels:\n        sloth_severity: critical\n      ticket_alert:\n        labels:\n          sloth_severity: low',
      },
    }),
  )
  expect(
    rules(s)
      .filter((r) => r.alert)
      .map((r) => r.labels),
  ).toEqual([{ sloth_severity: 'critical' }, { sloth_severity: 'low' }])
})
