import { describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { parseAllDocuments } from 'yaml'
import { sloRuleGroups } from '../../../scripts/slo/generate.ts'
import { parseSlothSpec } from '../../../src/alerting/slo/spec.ts'
import type { Expr } from '../../../src/prometheus/promql/ast.ts'
import { parsePromQL } from '../../../src/prometheus/promql/parser.ts'

// Differential test: Sloth's own examples (fixtures/sloth, see its README for the commits)
// run through our reader and generator, rule for rule against what Sloth generated from them.
//
// What "equal" means here, and why:
// - Group names, their order and `interval`; within a group, the record/alert names in order;
//   labels, annotations and `for` as maps (YAML key order and quoting carry no meaning to
//   Prometheus). Sloth's header comment and document separators are not rules.
// - `expr` is compared as the project's PromQL parser reads it (Prometheus 2.42's grammar):
//   the AST ignores spaces, line breaks, the case of `OR`/`on` and the order of grouping
//   labels, which is all Prometheus ignores too, while every selector, matcher, range,
//   function, operator and parenthesis still has to agree. Numbers are compared to 12
//   significant digits: Sloth prints float noise (`0.9990000000000001`,
//   `0.0009999999999999432`) that we round away.
// - Sloth's examples are generated with `--extra-labels cmd=examplesgen.sh`; our generator is
//   given the same extra labels.
//
// Everything else must be identical, except the differences listed in KNOWN, each kept on
// purpose and asserted exactly (a rewrite of Sloth's rule into ours), so that a new
// difference still fails.

const FIXTURES = new URL('./fixtures/sloth/', import.meta.url)
const read = (name: string) => readFileSync(new URL(name, FIXTURES), 'utf8')
const EXTRA_LABELS = { cmd: 'examplesgen.sh' }

interface Rule {
  record?: string
  alert?: string
  expr: string
  for?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}
interface Group {
  name: string
  interval?: string
  rules: Rule[]
}

/** The groups of every document of a Sloth output (one document per spec). */
function slothGroups(text: string): Group[] {
  return parseAllDocuments(text).flatMap((doc) => (doc.toJS() as { groups: Group[] } | null)?.groups ?? [])
}

/** Our groups for every spec of a (possibly multi-document) spec file, as Sloth's CLI splits it. */
function ourGroups(text: string): Group[] {
  return text
    .split(/^---[ \t]*$/m)
    .filter((doc) => doc.trim() !== '')
    .flatMap((doc) => sloRuleGroups(parseSlothSpec(doc), { extraLabels: EXTRA_LABELS }) as Group[])
}

const round = (n: number) => Number(n.toPrecision(12))

/** An AST with numbers rounded and the ids of a Sloth rule's top-level `vector()` removed (see KNOWN). */
function normalise(expr: Expr): unknown {
  return JSON.parse(JSON.stringify(expr, (_key, value) => (typeof value === 'number' ? round(value) : value)))
}

const ast = (expr: string) => normalise(parsePromQL(expr))

/**
 * The differences from Sloth's output this project keeps, each as the rewrite that turns
 * Sloth's rule into ours. The first exists so that the embedded rule engine (a PromQL subset
 * without `vector()`, README "## SLOs") runs the same file as Prometheus; the burn-rate
 * recordings are Sloth's own (`group_left`), which a per-route SLI needs.
 */
const KNOWN = {
  /**
   * Constants are scalar literals: `vector(0.999)` → `0.999`, `vector(1-0.999)` → `1 - 0.999`.
   * A recording rule's scalar result is one sample without labels in Prometheus too.
   */
  scalarConstants(expr: Expr): Expr {
    return expr.kind === 'call' && expr.func === 'vector' ? expr.args[0]! : expr
  },
  /**
   * Each alert's value is the budget left in percent, for the alert messages: Sloth's
   * condition, untouched, behind `100 * max(slo:period_error_budget_remaining:ratio{…})
   * without (sloth_window) and`, which pairs each SLI series with its own budget.
   */
  budgetValue(sloth: string, selector: string): string {
    return `100 * max(slo:period_error_budget_remaining:ratio${selector}) without (sloth_window)\nand\n(\n${sloth})\n`
  },
  /**
   * Alert annotations: ours are `summary` and `description` naming the objective, burn
   * rates and budget left (checked in ops/prometheus/tests/slo.test.yml); Sloth's defaults are
   * `title` and `summary`. The spec's own annotations override either, as in Sloth.
   */
  defaultAnnotations: ['title', 'summary', 'description'],
  /** `sloth_slo_info` has no `sloth_version`: that label names the Sloth build, and we are not one. */
  infoLabels: ['sloth_version'],
}

const without = (map: Record<string, string> | undefined, keys: readonly string[]) =>
  Object.fromEntries(Object.entries(map ?? {}).filter(([key]) => !keys.includes(key)))

function compareRule(ours: Rule, sloth: Rule, spec: { annotations: Record<string, string> }) {
  expect({ record: ours.record, alert: ours.alert, for: ours.for }).toEqual({
    record: sloth.record,
    alert: sloth.alert,
    for: sloth.for,
  })
  if (sloth.record === 'sloth_slo_info') {
    expect(ours.labels).toEqual(without(sloth.labels, KNOWN.infoLabels))
  } else {
    expect(ours.labels).toEqual(sloth.labels ?? {})
  }
  if (sloth.alert !== undefined) {
    const selector = /\{sloth_id="[^"]*", sloth_service="[^"]*", sloth_slo="[^"]*"\}/.exec(sloth.expr)![0]
    expect(ast(ours.expr)).toEqual(ast(KNOWN.budgetValue(sloth.expr, selector)))
    // The spec's annotations are there as in Sloth; only Sloth's defaults differ.
    expect(without(ours.annotations, KNOWN.defaultAnnotations)).toEqual(
      without(sloth.annotations, KNOWN.defaultAnnotations),
    )
    for (const [key, value] of Object.entries(spec.annotations)) expect(ours.annotations?.[key]).toBe(value)
    return
  }
  expect(ours.annotations).toEqual(sloth.annotations)
  const expected = KNOWN.scalarConstants(parsePromQL(sloth.expr))
  expect(ast(ours.expr)).toEqual(normalise(expected))
}

/** The annotations the spec gives each alert (`alerting.annotations` merged with the alert's own). */
function specAnnotations(specText: string): Map<string, Record<string, string>> {
  const result = new Map<string, Record<string, string>>()
  for (const doc of parseAllDocuments(specText)) {
    const spec = doc.toJS() as {
      service: string
      slos: Array<{
        name: string
        alerting?: {
          annotations?: Record<string, string>
          page_alert?: { annotations?: Record<string, string> }
          ticket_alert?: { annotations?: Record<string, string> }
        }
      }>
    }
    for (const slo of spec.slos)
      for (const severity of ['page', 'ticket'] as const)
        result.set(`${spec.service}-${slo.name}/${severity}`, {
          ...slo.alerting?.annotations,
          ...slo.alerting?.[`${severity}_alert`]?.annotations,
        })
  }
  return result
}

describe("Sloth's examples through our generator", () => {
  for (const example of [
    'getting-started and a second spec (multifile)',
    'home-wifi',
    'raw-home-wifi',
    'no-alerts',
  ]) {
    const file = example.startsWith('getting-started') ? 'multifile.yml' : `${example}.yml`
    test(`${file}: every group and rule as Sloth generated it`, () => {
      const specText = read(file)
      const sloth = slothGroups(read(`_gen/${file}`))
      const ours = ourGroups(specText)
      expect(ours.map((g) => [g.name, g.interval])).toEqual(sloth.map((g) => [g.name, g.interval]))
      const annotations = specAnnotations(specText)
      for (const [i, group] of sloth.entries()) {
        const mine = ours[i]!
        expect(mine.rules.map((r) => r.record ?? r.alert)).toEqual(
          group.rules.map((r) => r.record ?? r.alert),
        )
        const id = group.name.replace(/^sloth-slo-(sli-recordings|meta-recordings|alerts)-/, '')
        for (const [j, rule] of group.rules.entries()) {
          const severity = rule.labels?.sloth_severity ?? 'page'
          compareRule(mine.rules[j]!, rule, { annotations: annotations.get(`${id}/${severity}`) ?? {} })
        }
      }
    })
  }
})

describe("Sloth's fields this service does not implement are refused by name, not dropped", () => {
  test('custom_rule_group_interval.yml: `interval` (Sloth would set the groups’ interval)', () => {
    expect(() => parseSlothSpec(read('custom_rule_group_interval.yml'))).toThrow(
      `slo "cpu-availability": interval is not supported here (in Sloth it sets the rule groups' evaluation interval); remove it or generate with Sloth`,
    )
  })

  test('the newer getting-started.yml: `slo_plugins` and an alert’s `for`', () => {
    // examples/getting-started.yml of Sloth's plugin era: alert_for/v1 reads page_alert.for.
    const base = read('multifile.yml').split(/^---$/m)[1]!
    const withFor = base.replace('      page_alert:\n', '      page_alert:\n        for: 5m\n')
    expect(() => parseSlothSpec(withFor)).toThrow(
      'slo "requests-availability": alerting.page_alert.for is not supported here (in Sloth it sets the alert\'s pending time (plugin sloth.dev/contrib/alert_for/v1)); remove it or generate with Sloth',
    )
    const withPlugins = base.replace(
      'slos:\n',
      'slo_plugins:\n  chain:\n    - id: "sloth.dev/contrib/alert_for/v1"\nslos:\n',
    )
    expect(() => parseSlothSpec(withPlugins)).toThrow(/^slo_plugins is not supported here/)
    const withInfo = base.replace('    sli:\n', '    infoLabels:\n      team: a\n    sli:\n')
    expect(() => parseSlothSpec(withInfo)).toThrow(
      'slo "requests-availability": infoLabels is not supported here (in Sloth it adds labels to sloth_slo_info); remove it or generate with Sloth',
    )
  })

  test('multifile.yml as one file: several specs are named as such', () => {
    expect(() => parseSlothSpec(read('multifile.yml'))).toThrow(
      'the file holds 2 YAML documents; Sloth generates each as a spec, this reader takes one spec per file',
    )
  })

  test('empty documents are no specs, as Sloth splits a file: a leading or trailing ---, comments only', () => {
    const one = read('multifile.yml').split(/^---$/m)[1]!
    const expected = parseSlothSpec(one)
    for (const text of [`---\n${one}`, `${one}\n---\n`, `# specs\n---\n${one}---\n# nothing here\n---\n`]) {
      expect(parseSlothSpec(text)).toEqual(expected)
    }
    expect(() => parseSlothSpec(`${one}\n---\n${one}\n---\n`)).toThrow(
      'the file holds 2 YAML documents; Sloth generates each as a spec, this reader takes one spec per file',
    )
  })
})
