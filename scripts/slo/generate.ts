/**
 * Generates Prometheus rules from ops/slo/slos.yml the way Sloth's `sloth generate` does
 * (github.com/slok/sloth, internal/prometheus: SLI, metadata and alert rule generators), with
 * Sloth's recording names, labels and group names, so that Sloth's Grafana dashboards work
 * on the result. Differences from Sloth's output:
 *
 * - constants are scalar literals (`0.999`) instead of `vector(0.999)`: a recording rule's
 *   scalar result becomes one sample without labels in Prometheus too (rules.EngineQueryFunc);
 * - each alert's value is the budget left for the period, in percent (`100 * max(
 *   slo:period_error_budget_remaining:ratio) without (sloth_window) and <Sloth's condition>`),
 *   so its message can say how much budget is left ("41 %"); an overspent budget's message says
 *   how many times over the month would spend it (see budgetText).
 *
 * `slo:current_burn_rate:ratio` and `slo:period_burn_rate:ratio` divide `on(sloth_id, sloth_slo,
 * sloth_service) group_left`, as Sloth's do: an SLI query `sum by (route) (…)` records a ratio
 * per route, and the one-to-one division this generator once wrote failed every evaluation in
 * Prometheus ("multiple matches for labels"), leaving such an SLO with no burn rate, no budget
 * left and no alert.
 */
import { stringify } from 'yaml'
import {
  BURN_ALERTS,
  displayName,
  errorBudget,
  formatFloatF,
  objectiveRatio,
  PERIOD,
  SLI_WINDOWS,
  type SliWindow,
  type SlothSlo,
  type SlothSpec,
  sliQuery,
  slothId,
  templateText,
} from '../../src/alerting/slo/spec.ts'

interface RecordingRule {
  record: string
  expr: string
  labels: Record<string, string>
}
interface AlertingRule {
  alert: string
  expr: string
  labels: Record<string, string>
  annotations: Record<string, string>
}
interface Group {
  name: string
  rules: Array<RecordingRule | AlertingRule>
}

/** Sloth's label selector of one SLO's recordings, in Sloth's order. */
function selector(spec: SlothSpec, slo: SlothSlo): string {
  return `{sloth_id="${slothId(spec, slo)}", sloth_service="${spec.service}", sloth_slo="${slo.name}"}`
}

/** Options of the generation, as `sloth generate` flags. */
export interface GenerateOptions {
  /**
   * Labels added to every SLO's labels, over the spec's own (`--extra-labels`;
   * internal/app/generate: `slo.Labels = mergeLabels(slo.Labels, r.ExtraLabels)`).
   */
  extraLabels?: Record<string, string>
}

/** Sloth's id labels of one SLO (pkg/common/conventions GetSLOIDPromLabels). */
function idLabels(spec: SlothSpec, slo: SlothSlo): Record<string, string> {
  return { sloth_id: slothId(spec, slo), sloth_service: spec.service, sloth_slo: slo.name }
}

/**
 * The labels of an SLO's recordings, merged in Sloth's order (sli_rules_v1 and
 * metadata_rules_v1: `MergeLabels(GetSLOIDPromLabels(slo), window, slo.Labels)`): the id
 * labels (and `sloth_window`) first, then the spec's service and SLO labels and the extra
 * labels, so that a spec label of the same name wins, as in Sloth.
 */
function sloLabels(
  spec: SlothSpec,
  slo: SlothSlo,
  options: GenerateOptions,
  window?: SliWindow,
): Record<string, string> {
  return {
    ...idLabels(spec, slo),
    ...(window ? { sloth_window: window } : {}),
    ...spec.labels,
    ...slo.labels,
    ...options.extraLabels,
  }
}

const ON = 'on(sloth_id, sloth_slo, sloth_service)'

/**
 * The SLI query for one window, as Sloth renders it (sli_rules_v1 eventsSLIRecordGenerator and
 * rawSLIRecordGenerator): `(error)\n/\n(total)\n` for events, `(error ratio)` for raw.
 */
function sliExpr(slo: SlothSlo, window: SliWindow): string {
  if (slo.sli.raw) return `(${sliQuery(slo.sli.raw.error_ratio_query, window)})`
  const { error_query, total_query } = slo.sli.events
  return `(${sliQuery(error_query, window)})\n/\n(${sliQuery(total_query, window)})\n`
}

/**
 * The SLI recordings, shortest window first. Every alert window reads the spec's queries;
 * only the period averages the 5m recording, as Sloth's default (optimized) SLI rules do
 * (sli_rules_v1 optimizedFactorySLIRecordGenerator: `window == slo.TimeWindow`).
 */
function sliRecordings(spec: SlothSpec, slo: SlothSlo, options: GenerateOptions): RecordingRule[] {
  const sel = selector(spec, slo)
  return SLI_WINDOWS.map((window) => ({
    record: `slo:sli_error:ratio_rate${window}`,
    expr:
      window === PERIOD
        ? `sum_over_time(slo:sli_error:ratio_rate5m${sel}[${window}])\n/ ignoring (sloth_window)\ncount_over_time(slo:sli_error:ratio_rate5m${sel}[${window}])\n`
        : sliExpr(slo, window),
    labels: sloLabels(spec, slo, options, window),
  }))
}

function metaRecordings(spec: SlothSpec, slo: SlothSlo, options: GenerateOptions): RecordingRule[] {
  const sel = selector(spec, slo)
  const labels = sloLabels(spec, slo, options)
  const objective = objectiveRatio(slo)
  return [
    { record: 'slo:objective:ratio', expr: String(objective), labels },
    { record: 'slo:error_budget:ratio', expr: `1 - ${objective}`, labels },
    { record: 'slo:time_period:days', expr: String(Number.parseInt(PERIOD, 10)), labels },
    {
      record: 'slo:current_burn_rate:ratio',
      expr: `slo:sli_error:ratio_rate5m${sel}\n/ ${ON} group_left\nslo:error_budget:ratio${sel}\n`,
      labels,
    },
    {
      record: 'slo:period_burn_rate:ratio',
      expr: `slo:sli_error:ratio_rate${PERIOD}${sel}\n/ ${ON} group_left\nslo:error_budget:ratio${sel}\n`,
      labels,
    },
    {
      record: 'slo:period_error_budget_remaining:ratio',
      expr: `1 - slo:period_burn_rate:ratio${sel}`,
      labels,
    },
    {
      record: 'sloth_slo_info',
      expr: '1',
      labels: {
        ...labels,
        sloth_mode: 'cli-gen-prom',
        sloth_objective: formatFloatF(slo.objective),
        sloth_spec: 'prometheus/v1',
      },
    },
  ]
}

const windowWords = (w: string) => w.replace(/^(\d+)([mhd])$/, '$1 $2')

/**
 * The budget part of an alert's description, a Go template over the alert's value (the budget
 * left, in percent). Below zero a percentage left means nothing to a reader ("-59900 % left"
 * after a minute of failures on a fresh start): it says instead how many times over the month
 * would spend its budget at the error ratio recorded so far (`slo:period_burn_rate:ratio`, read
 * with `query`, since templates cannot do arithmetic on `$value`). One decimal below 10×,
 * none above; with no burn rate recorded, only that the budget is overspent. A NaN budget (a
 * quiet 5m window in the period) is named as unknown, and why.
 * @param sel the SLO's recording selector, from `selector`
 */
function budgetText(sel: string, budget: number): string {
  // Objective 100 (or one that is 100 at 12 digits): the burn rate of any error is +Inf, and
  // "the month would spend it +Inf times over" says nothing a person can use.
  if (budget === 0) return 'this objective has no error budget: any error spends it'
  return (
    // NaN is the only value unequal to itself (Go text/template `ne` compares float64s with
    // !=). A 30-day ratio is NaN for 30 days after one 5m window without traffic (0/0, as
    // Sloth's example total_query gives it), and "NaN % of this month's budget left" said
    // nothing on every page meanwhile.
    `{{ if ne $value $value }}the budget left is unknown: a 5-minute window without traffic (0/0) in the last 30 days made the 30-day error ratio NaN` +
    `{{ else if lt $value 0.0 }}this month's budget is overspent` +
    `{{ with query \`slo:period_burn_rate:ratio${sel}\` }}{{ with . | first | value }}: at the error ratio recorded so far, ` +
    `the month would spend it {{ if lt . 10.0 }}{{ printf "%.1f" . }}{{ else }}{{ printf "%.0f" . }}{{ end }} times over{{ end }}{{ end }}` +
    `{{ else }}{{ printf "%.0f" $value }} % of this month's budget left{{ end }}`
  )
}

function burnAlert(spec: SlothSpec, slo: SlothSlo, severity: 'page' | 'ticket'): AlertingRule | undefined {
  const alertSpec = severity === 'page' ? slo.alerting.page_alert : slo.alerting.ticket_alert
  if (alertSpec?.disable) return undefined
  const sel = selector(spec, slo)
  const budget = errorBudget(slo)
  const conditions = BURN_ALERTS[severity].map(
    ({ long, short, factor }) =>
      `    (\n` +
      `        max(slo:sli_error:ratio_rate${short}${sel} > (${factor} * ${budget})) without (sloth_window)\n` +
      `        and\n` +
      `        max(slo:sli_error:ratio_rate${long}${sel} > (${factor} * ${budget})) without (sloth_window)\n` +
      `    )`,
  )
  // The budget left loses `sloth_window` (30d, carried over by group_left) the way Sloth's
  // condition loses its windows, so that `and` pairs each SLI series (one per `route` of a
  // `sum by (route)` SLI) with its own budget, and the alert has Sloth's labels.
  const expr = `100 * max(slo:period_error_budget_remaining:ratio${sel}) without (sloth_window)\nand\n(\n${conditions.join('\n    or\n')}\n)\n`
  const rates = BURN_ALERTS[severity]
    .map(({ long, short, factor }) => `${factor}× over ${windowWords(long)} and ${windowWords(short)}`)
    .join(', or ')
  // The description is literal text inside the annotation templates: `{{` in it must not start an action.
  const name = `${templateText(displayName(slo))} ${slo.objective} %`
  const labels: Record<string, string> = { ...slo.alerting.labels, ...alertSpec?.labels }
  return {
    alert: slo.alerting.name,
    expr,
    // As in Sloth (alert_rules.go merges the spec's labels over sloth_severity), a spec may set sloth_severity itself.
    labels: { ...labels, sloth_severity: labels.sloth_severity ?? severity },
    annotations: {
      summary: `${name}: error budget burning too fast (${severity})`,
      description: `${name}: burning the error budget faster than ${rates} — ${budgetText(sel, budget)} (30-day SLO ${slothId(spec, slo)}).`,
      ...slo.alerting.annotations,
      ...alertSpec?.annotations,
    },
  }
}

/** The rule groups for every SLO of the spec, in Sloth's order: SLIs, metadata, alerts. */
export function sloRuleGroups(spec: SlothSpec, options: GenerateOptions = {}): Group[] {
  return spec.slos.flatMap((slo) => {
    const id = slothId(spec, slo)
    const alerts = [burnAlert(spec, slo, 'page'), burnAlert(spec, slo, 'ticket')].filter(
      (a): a is AlertingRule => a !== undefined,
    )
    return [
      { name: `sloth-slo-sli-recordings-${id}`, rules: sliRecordings(spec, slo, options) },
      { name: `sloth-slo-meta-recordings-${id}`, rules: metaRecordings(spec, slo, options) },
      ...(alerts.length ? [{ name: `sloth-slo-alerts-${id}`, rules: alerts }] : []),
    ]
  })
}

const HEADER = `# Generated by \`bun run ops:slo\` (scripts/slo/generate.ts) from ops/slo/slos.yml. DO NOT EDIT.
#
# Sloth-compatible SLO rules: recordings slo:sli_error:ratio_rate<window>, slo:objective:ratio,
# slo:error_budget:ratio, slo:current_burn_rate:ratio, slo:period_error_budget_remaining:ratio
# (labels sloth_id, sloth_service, sloth_slo), and per SLO one multiwindow, multi-burn-rate
# alert with sloth_severity page (14.4× over 1h and 5m, or 6× over 6h and 30m) and one with
# sloth_severity ticket (3× over 1d and 2h, or 1× over 3d and 6h). Unit tests:
# ops/prometheus/tests/slo.test.yml.
`

/** The exact text of ops/prometheus/rules/slo.yml for a spec. */
export function sloRulesFileText(spec: SlothSpec): string {
  return `${HEADER}${stringify({ groups: sloRuleGroups(spec) }, { lineWidth: 0 })}`
}
