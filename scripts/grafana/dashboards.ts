/**
 * The Grafana dashboards, as code. `bun run ops:dashboards` writes them to
 * ops/grafana/dashboards/*.json, which is what Grafana imports (provisioning) and what the
 * tests read; a test fails when the committed JSON differs from what this file builds.
 *
 * The specs below are plain data (sections of panels with their queries); the JSON is made by
 * the Grafana Foundation SDK's typed builders (`@grafana/grafana-foundation-sdk`), so field names
 * and enum values follow Grafana's own schema instead of a hand-kept copy of it, and the
 * dashboard builder places panels on the 24-column grid. The SDK wraps to the next line only
 * after a line is full, so `layout` checks that each section's widths tile whole lines.
 */
import * as common from '@grafana/grafana-foundation-sdk/common'
import * as dash from '@grafana/grafana-foundation-sdk/dashboard'
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus'
import * as stat from '@grafana/grafana-foundation-sdk/stat'
import * as table from '@grafana/grafana-foundation-sdk/table'
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries'
import {
  displayName,
  loadSlothSpec,
  SLI_WINDOWS,
  type SlothSpec,
  slothId,
} from '../../src/alerting/slo/spec.ts'

export type Unit = 'reqps' | 'ops' | 'opm' | 'percentunit' | 's' | 'bytes' | 'short' | 'none'

export interface Query {
  expr: string
  legend?: string
  /** Table panels ask for the value at the end of the range only. */
  instant?: boolean
}

export interface PanelSpec {
  title: string
  type: 'timeseries' | 'stat' | 'table'
  description: string
  queries: Query[]
  unit: Unit
  /** Width in grid columns (24 per row). */
  w: number
  h?: number
  /** Values at or above it are drawn red (a line on time series). */
  threshold?: number
  min?: number
  max?: number
  decimals?: number
  /** Stat/time-series value text, for example 1 -> "up". */
  mappings?: Record<string, { text: string; color: 'green' | 'red' }>
  /** Table columns: the header of each query's value column, in query order. */
  columns?: string[]
  /**
   * Ask Prometheus for the exemplars of the series the queries select and draw them on the
   * time series, each linking to its trace (see TRACE_LINK). Only for time series panels whose
   * queries select a metric the service attaches exemplars to (EXEMPLAR_METRICS).
   */
  exemplars?: true
}

export interface Section {
  title: string
  panels: PanelSpec[]
}

export interface DashboardSpec {
  uid: string
  title: string
  description: string
  refresh: string
  from: string
  variables: ('instance' | 'tenant')[]
  sections: Section[]
}

/** Every panel and query names the datasource through the `datasource` variable. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const
const TAG = 'convo-commerce'

/**
 * The series the service attaches OpenMetrics exemplars to (labels `trace_id`, the W3C trace
 * id, and `request_id`): every bucket of the two latency histograms, and the 5xx series of
 * http_requests_total.
 */
export const EXEMPLAR_METRICS = [
  'http_request_duration_seconds_bucket',
  'http_requests_total',
  'payment_processing_duration_seconds_bucket',
] as const

/** The dashboard variable that holds the trace UI's base URL; a trace id appended opens it. */
export const TRACE_BASE_URL_VARIABLE = 'trace_base_url'
/**
 * Sentry's trace view, the default of `trace_base_url` and of the Grafana datasource's
 * TRACE_BASE_URL (ops/compose.yaml); `acme` stands for the Sentry organisation slug.
 */
export const DEFAULT_TRACE_BASE_URL = 'https://acme.sentry.io/performance/trace/'
/**
 * The panel data link on an exemplar's `trace_id` field: `trace_base_url` + the trace id
 * (`__data.fields` reads the exemplar's own row). Grafana 11.3 applies neither a panel's field
 * defaults nor its overrides to exemplar frames (they are annotation frames: scenes' VizPanel
 * gives them `{ defaults: {}, overrides: [] }`), so there the link an exemplar shows is the
 * Prometheus datasource's `exemplarTraceIdDestinations` (ops/grafana/provisioning/datasources,
 * from TRACE_BASE_URL); this one takes over where Grafana applies panel overrides to them.
 */
export const TRACE_LINK = {
  title: 'Open trace',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
  url: '${trace_base_url}${__data.fields.trace_id}',
  targetBlank: true,
} as const

/** Selector fragments used in the expressions below. */
const I = 'instance=~"$instance"'
const T = 'tenant_id=~"$tenant"'
const RI = '$__rate_interval'

function variable(kind: 'instance' | 'tenant'): dash.QueryVariableBuilder {
  const [metric, label, name] =
    kind === 'instance'
      ? ['process_resident_memory_bytes', 'instance', 'Instance']
      : ['orders_created_total', 'tenant_id', 'Shop']
  const query = `label_values(${metric}, ${label})`
  return new dash.QueryVariableBuilder(kind)
    .label(name)
    .datasource({ ...DATASOURCE })
    .query({ qryType: 1, query, refId: 'PrometheusVariableQueryEditor-VariableQuery' })
    .definition(query)
    .refresh(dash.VariableRefresh.OnTimeRangeChanged)
    .sort(dash.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ selected: true, text: ['All'], value: ['$__all'] })
    .options([])
    .hide(dash.VariableHide.DontHide)
    .regex('')
}

/**
 * A text box rather than a constant so that whoever looks at a dashboard can point the trace
 * links at another trace UI (Tempo, Jaeger) without editing the dashboard.
 */
function traceBaseUrlVariable(): dash.TextBoxVariableBuilder {
  return new dash.TextBoxVariableBuilder(TRACE_BASE_URL_VARIABLE)
    .label('Trace UI')
    .description("Base URL of the trace view; an exemplar's trace_id is appended to it.")
    .defaultValue(DEFAULT_TRACE_BASE_URL)
    .current({ selected: false, text: DEFAULT_TRACE_BASE_URL, value: DEFAULT_TRACE_BASE_URL })
    .options([{ selected: true, text: DEFAULT_TRACE_BASE_URL, value: DEFAULT_TRACE_BASE_URL }])
    .hide(dash.VariableHide.DontHide)
}

function datasourceVariable(): dash.DatasourceVariableBuilder {
  return new dash.DatasourceVariableBuilder('datasource')
    .label('Data source')
    .type('prometheus')
    .regex('')
    .hide(dash.VariableHide.DontHide)
    .includeAll(false)
    .multi(false)
}

function thresholds(spec: PanelSpec): dash.ThresholdsConfigBuilder {
  const steps: dash.Threshold[] = [{ color: 'green', value: null }]
  if (spec.threshold !== undefined) steps.push({ color: 'red', value: spec.threshold })
  return new dash.ThresholdsConfigBuilder().mode(dash.ThresholdsMode.Absolute).steps(steps)
}

function mappings(spec: PanelSpec): dash.ValueMapping[] {
  if (!spec.mappings) return []
  const options: Record<string, dash.ValueMappingResult> = {}
  Object.entries(spec.mappings).forEach(([value, m], index) => {
    options[value] = { text: m.text, color: m.color, index }
  })
  return [{ type: dash.MappingType.ValueToText, options }]
}

const refId = (i: number) => String.fromCharCode(65 + i)

function target(spec: PanelSpec, q: Query, i: number): prometheus.DataqueryBuilder {
  const builder = new prometheus.DataqueryBuilder()
    .refId(refId(i))
    .datasource({ ...DATASOURCE })
    .editorMode(prometheus.QueryEditorMode.Code)
    .expr(q.expr)
    .legendFormat(q.legend ?? '__auto')
  // Grafana fetches a histogram's exemplars once per panel even when several targets ask.
  if (spec.exemplars) builder.exemplar(true)
  if (spec.type === 'table') return builder.instant().format(prometheus.PromQueryFormat.Table)
  return q.instant ? builder.instant() : builder.range()
}

type AnyPanelBuilder = timeseries.PanelBuilder | stat.PanelBuilder | table.PanelBuilder

function visualization(spec: PanelSpec): AnyPanelBuilder {
  if (spec.type === 'timeseries') {
    return new timeseries.PanelBuilder()
      .colorScheme(new dash.FieldColorBuilder().mode(dash.FieldColorModeId.PaletteClassic))
      .drawStyle(common.GraphDrawStyle.Line)
      .lineWidth(1)
      .fillOpacity(10)
      .showPoints(common.VisibilityMode.Never)
      .spanNulls(false)
      .thresholdsStyle(
        new common.GraphThresholdsStyleConfigBuilder().mode(
          spec.threshold !== undefined
            ? common.GraphThresholdsStyleMode.Line
            : common.GraphThresholdsStyleMode.Off,
        ),
      )
      .legend(
        new common.VizLegendOptionsBuilder()
          .displayMode(common.LegendDisplayMode.List)
          .placement(common.LegendPlacement.Bottom)
          .showLegend(true),
      )
      .tooltip(
        new common.VizTooltipOptionsBuilder()
          .mode(common.TooltipDisplayMode.Multi)
          .sort(common.SortOrder.Descending),
      )
  }
  if (spec.type === 'stat') {
    return new stat.PanelBuilder()
      .colorScheme(new dash.FieldColorBuilder().mode(dash.FieldColorModeId.Thresholds))
      .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).fields('').values(false))
      .colorMode(common.BigValueColorMode.Value)
      .graphMode(common.BigValueGraphMode.Area)
      .justifyMode(common.BigValueJustifyMode.Auto)
      .orientation(common.VizOrientation.Auto)
      .textMode(common.BigValueTextMode.Auto)
  }
  const renames = Object.fromEntries(
    (spec.columns ?? []).map((name, i) => [spec.queries.length === 1 ? 'Value' : `Value #${refId(i)}`, name]),
  )
  return new table.PanelBuilder()
    .colorScheme(new dash.FieldColorBuilder().mode(dash.FieldColorModeId.Thresholds))
    .showHeader(true)
    .cellHeight(common.TableCellHeight.Sm)
    .footer(new common.TableFooterOptionsBuilder().show(false).reducer(['sum']))
    .withTransformation({ id: 'merge', options: {} })
    .withTransformation({ id: 'organize', options: { excludeByName: { Time: true }, renameByName: renames } })
}

function panel(spec: PanelSpec, id: number): AnyPanelBuilder {
  const builder = visualization(spec)
    .id(id)
    .title(spec.title)
    .description(spec.description)
    .datasource({ ...DATASOURCE })
    .span(spec.w)
    .height(spec.h ?? (spec.type === 'stat' ? 4 : 8))
    .unit(spec.unit)
    .thresholds(thresholds(spec))
    .mappings(mappings(spec))
  if (spec.min !== undefined) builder.min(spec.min)
  if (spec.max !== undefined) builder.max(spec.max)
  if (spec.decimals !== undefined) builder.decimals(spec.decimals)
  if (spec.exemplars) {
    if (spec.type !== 'timeseries') throw new Error(`${spec.title}: exemplars are drawn on time series only`)
    // An override, not a default link: defaults would put a trace link on every series too.
    builder.overrideByName('trace_id', [{ id: 'links', value: [{ ...TRACE_LINK }] }])
  }
  spec.queries.forEach((q, i) => {
    builder.withTarget(target(spec, q, i))
  })
  return builder
}

/**
 * Adds the sections top to bottom: a row header, then its panels left to right. The SDK's
 * DashboardBuilder computes every gridPos; a section whose widths would overflow a line is
 * refused here because the SDK would otherwise place the panel past column 24.
 */
function layout(builder: dash.DashboardBuilder, sections: Section[]): void {
  let id = 1
  for (const section of sections) {
    builder.withRow(new dash.RowBuilder(section.title).id(id++).collapsed(false))
    let x = 0
    for (const spec of section.panels) {
      if (spec.w < 1 || spec.w > 24) throw new Error(`${spec.title}: width ${spec.w}`)
      if (x + spec.w > 24) throw new Error(`${section.title}: "${spec.title}" overflows the line at x=${x}`)
      builder.withPanel(panel(spec, id++))
      x = (x + spec.w) % 24
    }
  }
}

/** A dashboard's Grafana JSON model, built with the Foundation SDK. */
export type Dashboard = dash.Dashboard

export function dashboard(spec: DashboardSpec): Dashboard {
  const builder = new dash.DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags([TAG])
    .timezone('browser')
    .editable()
    .tooltip(dash.DashboardCursorSync.Crosshair)
    .version(1)
    .refresh(spec.refresh)
    .time({ from: spec.from, to: 'now' })
    .fiscalYearStartMonth(0)
    .liveNow(false)
    .annotation(
      new dash.AnnotationQueryBuilder()
        .builtIn(1)
        .datasource({ type: 'grafana', uid: '-- Grafana --' })
        .enable(true)
        .hide(true)
        .iconColor('rgba(0, 211, 255, 1)')
        .name('Annotations & Alerts')
        .type('dashboard'),
    )
    .link(
      new dash.DashboardLinkBuilder('Dashboards')
        .type(dash.DashboardLinkType.Dashboards)
        .tags([TAG])
        .asDropdown(true)
        .includeVars(false)
        .keepTime(true)
        .targetBlank(false)
        .icon('external link')
        .tooltip('')
        .url(''),
    )
    .withVariable(datasourceVariable())
  for (const kind of spec.variables) builder.withVariable(variable(kind))
  if (spec.sections.some((s) => s.panels.some((p) => p.exemplars)))
    builder.withVariable(traceBaseUrlVariable())
  layout(builder, spec.sections)
  return builder.build()
}

// ------------------------------------------------------------------------------------------
// Shared expressions (kept identical to the alert rules where a panel shows an alerted value)

const errorRatio = (window: string, sel: string) =>
  `sum(rate(http_requests_total{status=~"5..",${sel}}[${window}])) / sum(rate(http_requests_total{${sel}}[${window}]))`
const latency = (q: number, by: string, sel: string) =>
  `histogram_quantile(${q}, sum by (${by}) (rate(http_request_duration_seconds_bucket{${sel}}[${RI}])))`
/** The Business dashboard's "active shops", as the issue defines it. */
export const ACTIVE_SHOPS = 'count(sum by (tenant_id) (increase(orders_created_total[1h])) > 0)'
/** The original Order Monitoring panel, kept exactly. */
export const ORDERS_CREATED = 'sum(increase(orders_created_total[24h])) by (channel)'

/**
 * Rule evaluations that failed (`alert_rule_evaluation_failures_total`) or evaluation slots
 * skipped (`alert_rule_group_iterations_missed_total`) per `rule_group` over 5 minutes: the
 * values AlertRuleEvaluationFailures and AlertRuleGroupMissedEvaluations compare with `> 0`
 * (ops/prometheus/rules/alerts.yml), so the panel line crosses 0 where the alert's condition holds.
 */
export const ruleGroupIncrease5m = (
  counter: 'alert_rule_evaluation_failures_total' | 'alert_rule_group_iterations_missed_total',
  sel: string,
) => `sum by (rule_group) (increase(${counter}{${sel}}[5m]))`

const system: DashboardSpec = {
  uid: 'convo-system',
  title: 'System',
  description: 'Traffic, errors, runtime and dependencies of the conversational-commerce service.',
  refresh: '30s',
  from: 'now-3h',
  variables: ['instance'],
  sections: [
    {
      title: 'Overview',
      panels: [
        {
          title: 'Targets up',
          type: 'stat',
          w: 4,
          unit: 'none',
          description:
            'Scrape targets of the service that Prometheus reaches (the ServiceDown alert fires at 0).',
          queries: [{ expr: `sum(up{job="convo-commerce",${I}})` }],
        },
        {
          title: 'Request rate',
          type: 'stat',
          w: 4,
          unit: 'reqps',
          description: 'HTTP requests per second, all endpoints (health and /metrics excluded).',
          queries: [{ expr: `sum(rate(http_requests_total{${I}}[${RI}]))` }],
        },
        {
          title: '5xx error rate (5m)',
          type: 'stat',
          w: 4,
          unit: 'percentunit',
          threshold: 0.05,
          description: 'Share of requests answered 5xx over 5 minutes; HighErrorRate fires above 5% for 2m.',
          queries: [{ expr: errorRatio('5m', I) }],
        },
        {
          title: 'In-flight requests',
          type: 'stat',
          w: 4,
          unit: 'short',
          description: 'Requests being served right now.',
          queries: [{ expr: `sum(http_requests_in_flight{${I}})` }],
        },
        {
          title: 'Database',
          type: 'stat',
          w: 4,
          unit: 'none',
          description: 'Result of the background database ping (DatabaseDown fires after 1m at 0).',
          mappings: { '0': { text: 'down', color: 'red' }, '1': { text: 'up', color: 'green' } },
          queries: [{ expr: `min(db_up{${I}})` }],
        },
        {
          title: 'Memory (RSS)',
          type: 'stat',
          w: 4,
          unit: 'bytes',
          description: 'Resident memory of all selected instances.',
          queries: [{ expr: `sum(process_resident_memory_bytes{${I}})` }],
        },
      ],
    },
    {
      title: 'Traffic',
      panels: [
        {
          title: 'Request rate by status',
          type: 'timeseries',
          exemplars: true,
          w: 12,
          unit: 'reqps',
          min: 0,
          description: 'HTTP requests per second by response status.',
          queries: [
            { expr: `sum by (status) (rate(http_requests_total{${I}}[${RI}]))`, legend: '{{status}}' },
          ],
        },
        {
          title: 'Error rate (5xx share)',
          type: 'timeseries',
          exemplars: true,
          w: 12,
          unit: 'percentunit',
          min: 0,
          threshold: 0.05,
          description:
            'Share of requests answered 5xx, over 5 minutes as the HighErrorRate rule computes it.',
          queries: [{ expr: errorRatio('5m', I), legend: '5xx share' }],
        },
        {
          title: 'Requests by endpoint',
          type: 'timeseries',
          w: 12,
          unit: 'reqps',
          min: 0,
          description: 'Requests per second by method and route template.',
          queries: [
            {
              expr: `sum by (method, endpoint) (rate(http_requests_total{${I}}[${RI}]))`,
              legend: '{{method}} {{endpoint}}',
            },
          ],
        },
        {
          title: 'In-flight requests',
          type: 'timeseries',
          w: 12,
          unit: 'short',
          min: 0,
          description: 'Requests being served, per instance.',
          queries: [{ expr: `sum by (instance) (http_requests_in_flight{${I}})`, legend: '{{instance}}' }],
        },
      ],
    },
    {
      title: 'Runtime',
      panels: [
        {
          title: 'CPU',
          type: 'timeseries',
          w: 8,
          unit: 'percentunit',
          min: 0,
          description: 'CPU time per second of wall time (1 = one full core), per instance.',
          queries: [{ expr: `rate(process_cpu_seconds_total{${I}}[${RI}])`, legend: '{{instance}}' }],
        },
        {
          title: 'Memory (RSS)',
          type: 'timeseries',
          w: 8,
          unit: 'bytes',
          min: 0,
          description: 'Resident memory per instance.',
          queries: [{ expr: `process_resident_memory_bytes{${I}}`, legend: '{{instance}}' }],
        },
        {
          title: 'Event-loop lag',
          type: 'timeseries',
          w: 8,
          unit: 's',
          min: 0,
          description: 'How late timers run: everything the process does waits this long.',
          queries: [{ expr: `nodejs_eventloop_lag_seconds{${I}}`, legend: '{{instance}}' }],
        },
      ],
    },
    {
      title: 'Dependencies and self-monitoring',
      panels: [
        {
          title: 'Database up',
          type: 'timeseries',
          w: 8,
          unit: 'none',
          min: 0,
          max: 1,
          description: 'Background database ping per instance: 1 ok, 0 failing.',
          queries: [{ expr: `db_up{${I}}`, legend: '{{instance}}' }],
        },
        {
          title: 'Connection pool size',
          type: 'timeseries',
          w: 8,
          unit: 'short',
          min: 0,
          description: 'Database connections per instance (1 on the embedded database).',
          queries: [{ expr: `db_connection_pool_size{${I}}`, legend: '{{instance}}' }],
        },
        {
          title: 'Scrape duration',
          type: 'timeseries',
          w: 8,
          unit: 's',
          min: 0,
          description: 'How long Prometheus takes to scrape /metrics.',
          queries: [{ expr: `scrape_duration_seconds{job="convo-commerce",${I}}`, legend: '{{instance}}' }],
        },
        {
          title: 'Series per metric',
          type: 'timeseries',
          w: 12,
          unit: 'short',
          min: 0,
          description: 'Series each metric family exposes: the cost of a scrape and of Prometheus storage.',
          queries: [{ expr: `sum by (metric) (metrics_series{${I}})`, legend: '{{metric}}' }],
        },
        {
          title: 'Cardinality overflow',
          type: 'timeseries',
          w: 12,
          unit: 'short',
          min: 0,
          description:
            'New label sets folded into the __overflow__ series because a metric reached its budget (MetricsCardinalityOverflow).',
          queries: [
            {
              expr: `sum by (metric) (increase(metrics_cardinality_overflow_total{${I}}[${RI}]))`,
              legend: '{{metric}}',
            },
          ],
        },
      ],
    },
    {
      // The rule-evaluation panels of Prometheus' own overview dashboards, for the service's
      // rule manager (src/alerting/rules/metrics.ts: prometheus_rule_* under alert_rule_*). The
      // group gauges are per replica and only the replica that leads a group's slot updates its
      // last-evaluation gauges, hence `max by (rule_group)` and durations from the histogram.
      title: 'Rule manager',
      panels: [
        {
          title: 'Rule groups',
          type: 'stat',
          w: 6,
          unit: 'none',
          decimals: 0,
          description: 'Rule groups the rule manager schedules (ALERT_RULES_FILES), on any selected replica.',
          queries: [{ expr: `count(max by (rule_group) (alert_rule_group_rules{${I}}))` }],
        },
        {
          title: 'Rules',
          type: 'stat',
          w: 6,
          unit: 'none',
          decimals: 0,
          description: 'Rules of those groups, recording and alerting, skipped ones included.',
          queries: [{ expr: `sum(max by (rule_group) (alert_rule_group_rules{${I}}))` }],
        },
        {
          title: 'Groups with failing rules (5m)',
          type: 'stat',
          w: 6,
          unit: 'none',
          decimals: 0,
          threshold: 1,
          description:
            'Rule groups with a failed rule evaluation in the last 5 minutes; AlertRuleEvaluationFailures fires for a group after 15m of it.',
          queries: [
            {
              expr: `count(${ruleGroupIncrease5m('alert_rule_evaluation_failures_total', I)} > 0) or vector(0)`,
            },
          ],
        },
        {
          title: 'Groups missing evaluations (5m)',
          type: 'stat',
          w: 6,
          unit: 'none',
          decimals: 0,
          threshold: 1,
          description:
            'Rule groups that skipped an evaluation slot in the last 5 minutes; AlertRuleGroupMissedEvaluations fires for a group after 15m of it.',
          queries: [
            {
              expr: `count(${ruleGroupIncrease5m('alert_rule_group_iterations_missed_total', I)} > 0) or vector(0)`,
            },
          ],
        },
        {
          title: 'Rule evaluations by group',
          type: 'timeseries',
          w: 12,
          unit: 'ops',
          min: 0,
          description:
            'Rule evaluations per second by rule group (each rule of a group counts once per evaluation of the group), all replicas together.',
          queries: [
            {
              expr: `sum by (rule_group) (rate(alert_rule_evaluations_total{${I}}[${RI}]))`,
              legend: '{{rule_group}}',
            },
          ],
        },
        {
          title: 'Rule evaluation failures by group (5m)',
          type: 'timeseries',
          w: 12,
          unit: 'short',
          min: 0,
          description:
            'Failed rule evaluations over 5 minutes by rule group, as AlertRuleEvaluationFailures computes it: it fires when a line stays above 0 for 15m. GET /alerts/rules names the failing rule and its lastError.',
          queries: [
            {
              expr: ruleGroupIncrease5m('alert_rule_evaluation_failures_total', I),
              legend: '{{rule_group}}',
            },
          ],
        },
        {
          title: 'Missed evaluations by group (5m)',
          type: 'timeseries',
          w: 8,
          unit: 'short',
          min: 0,
          description:
            "Evaluation slots skipped over 5 minutes by rule group because the evaluation before overran the group's interval, as AlertRuleGroupMissedEvaluations computes it: it fires when a line stays above 0 for 15m.",
          queries: [
            {
              expr: ruleGroupIncrease5m('alert_rule_group_iterations_missed_total', I),
              legend: '{{rule_group}}',
            },
          ],
        },
        {
          title: 'Evaluation duration / interval',
          type: 'timeseries',
          w: 8,
          unit: 'percentunit',
          min: 0,
          threshold: 1,
          description:
            "Average duration of a group's evaluations divided by its interval: at 100% evaluations take the whole interval and the next slot is skipped (Missed evaluations).",
          queries: [
            {
              expr: `sum by (rule_group) (rate(alert_rule_evaluation_duration_seconds_sum{${I}}[${RI}])) / sum by (rule_group) (rate(alert_rule_evaluation_duration_seconds_count{${I}}[${RI}])) / max by (rule_group) (alert_rule_group_interval_seconds{${I}})`,
              legend: '{{rule_group}}',
            },
          ],
        },
        {
          title: 'Time since last evaluation',
          type: 'timeseries',
          w: 8,
          unit: 's',
          min: 0,
          description:
            "Seconds since the last evaluation of each group started, on whichever replica led it: stays below the group's interval plus the scrape interval while the group is evaluated; a line that climbs is a group nobody evaluates.",
          queries: [
            {
              // `> 0`: the gauge reads 0 until a group's first evaluation (Prometheus' NewGroup).
              expr: `time() - max by (rule_group) (alert_rule_group_last_evaluation_timestamp_seconds{${I}} > 0)`,
              legend: '{{rule_group}}',
            },
          ],
        },
      ],
    },
  ],
}

const paymentShare = (status: string, sel: string, by = '') => {
  const group = by ? ` by (${by})` : ''
  return `sum${group} (rate(payments_processed_total{${status},${sel}}[15m])) / sum${group} (rate(payments_processed_total{${sel}}[15m]))`
}

const business: DashboardSpec = {
  uid: 'convo-business',
  title: 'Business',
  description: 'Orders, payments, product views and shop activity, overall and per shop.',
  refresh: '1m',
  from: 'now-24h',
  variables: ['tenant'],
  sections: [
    {
      title: 'Overview',
      panels: [
        {
          title: 'Orders (24h)',
          type: 'stat',
          w: 6,
          unit: 'short',
          decimals: 0,
          description: 'Orders created over the last 24 hours by the selected shops.',
          queries: [{ expr: `sum(increase(orders_created_total{${T}}[24h]))` }],
        },
        {
          title: 'Active shops (1h)',
          type: 'stat',
          w: 6,
          unit: 'short',
          decimals: 0,
          description: 'Shops with at least one order in the last hour (all shops).',
          queries: [{ expr: ACTIVE_SHOPS }],
        },
        {
          title: 'Payments succeeded (24h)',
          type: 'stat',
          w: 6,
          unit: 'short',
          decimals: 0,
          description: 'Payments that succeeded over the last 24 hours.',
          queries: [{ expr: `sum(increase(payments_processed_total{status="succeeded",${T}}[24h]))` }],
        },
        {
          title: 'Payment failure rate (15m)',
          type: 'stat',
          w: 6,
          unit: 'percentunit',
          threshold: 0.1,
          description:
            'Share of payments that failed over 15 minutes; PaymentFailureRate fires above 10% for 5m.',
          queries: [{ expr: paymentShare('status="failed"', T) }],
        },
      ],
    },
    {
      title: 'Orders and payments',
      panels: [
        {
          title: 'Orders by channel',
          type: 'timeseries',
          w: 12,
          unit: 'opm',
          min: 0,
          description: 'Orders created per minute by sales channel.',
          queries: [
            {
              expr: `sum by (channel) (rate(orders_created_total{${T}}[${RI}])) * 60`,
              legend: '{{channel}}',
            },
          ],
        },
        {
          title: 'Payments by status and provider',
          type: 'timeseries',
          w: 12,
          unit: 'opm',
          min: 0,
          description: 'Payments processed per minute by provider and outcome (succeeded, failed, error).',
          queries: [
            {
              expr: `sum by (provider, status) (rate(payments_processed_total{${T}}[${RI}])) * 60`,
              legend: '{{provider}} {{status}}',
            },
          ],
        },
        {
          title: 'Payment failure rate',
          type: 'timeseries',
          w: 12,
          unit: 'percentunit',
          min: 0,
          threshold: 0.1,
          description:
            'Over 15 minutes: declined payments (what PaymentFailureRate alerts on), and declined or errored.',
          queries: [
            { expr: paymentShare('status="failed"', T), legend: 'failed' },
            { expr: paymentShare('status!="succeeded"', T), legend: 'failed or error' },
          ],
        },
        {
          title: 'Active shops',
          type: 'timeseries',
          w: 12,
          unit: 'short',
          min: 0,
          decimals: 0,
          description: 'Shops with at least one order in the hour before each point.',
          queries: [{ expr: ACTIVE_SHOPS, legend: 'active shops' }],
        },
      ],
    },
    {
      title: 'Activity',
      panels: [
        {
          title: 'Activity per channel',
          type: 'timeseries',
          w: 12,
          unit: 'opm',
          min: 0,
          description: 'What customers do on each channel: orders and product views per minute.',
          queries: [
            {
              expr: `sum by (channel) (rate(orders_created_total{${T}}[${RI}])) * 60`,
              legend: '{{channel}} orders',
            },
            {
              expr: `sum by (channel) (rate(product_views_total{${T}}[${RI}])) * 60`,
              legend: '{{channel}} views',
            },
          ],
        },
        {
          title: 'Product views by channel',
          type: 'timeseries',
          w: 12,
          unit: 'opm',
          min: 0,
          description: 'Product views per minute by channel.',
          queries: [
            { expr: `sum by (channel) (rate(product_views_total{${T}}[${RI}])) * 60`, legend: '{{channel}}' },
          ],
        },
        {
          title: 'Top products (24h views)',
          type: 'table',
          w: 24,
          unit: 'short',
          decimals: 0,
          description:
            'The ten most viewed products over 24 hours (__overflow__ = products past the cardinality budget).',
          columns: ['views (24h)'],
          queries: [
            {
              expr: `topk(10, sum by (tenant_id, product_id) (increase(product_views_total{${T}}[24h])))`,
            },
          ],
        },
      ],
    },
    {
      title: 'Per shop',
      panels: [
        {
          title: 'Orders per shop',
          type: 'timeseries',
          w: 12,
          unit: 'opm',
          min: 0,
          description: 'Orders per minute for each selected shop.',
          queries: [
            {
              expr: `sum by (tenant_id) (rate(orders_created_total{${T}}[${RI}])) * 60`,
              legend: '{{tenant_id}}',
            },
          ],
        },
        {
          title: 'Payment failure rate per shop',
          type: 'timeseries',
          w: 12,
          unit: 'percentunit',
          min: 0,
          threshold: 0.2,
          description:
            'Failed or errored payments over 15 minutes, per shop; TenantPaymentFailureRate fires above 20% with at least 10 payments.',
          queries: [{ expr: paymentShare('status!="succeeded"', T, 'tenant_id'), legend: '{{tenant_id}}' }],
        },
        {
          title: 'Shops (24h)',
          type: 'table',
          w: 24,
          unit: 'short',
          decimals: 0,
          description: 'Per shop over the last 24 hours.',
          columns: ['orders', 'payments succeeded', 'payments failed or error', 'product views'],
          queries: [
            { expr: `sum by (tenant_id) (increase(orders_created_total{${T}}[24h]))` },
            { expr: `sum by (tenant_id) (increase(payments_processed_total{status="succeeded",${T}}[24h]))` },
            {
              expr: `sum by (tenant_id) (increase(payments_processed_total{status!="succeeded",${T}}[24h]))`,
            },
            { expr: `sum by (tenant_id) (increase(product_views_total{${T}}[24h]))` },
          ],
        },
      ],
    },
  ],
}

const performance: DashboardSpec = {
  uid: 'convo-performance',
  title: 'Performance',
  description: 'Latency of HTTP endpoints, database queries and payment providers.',
  refresh: '30s',
  from: 'now-3h',
  variables: ['instance'],
  sections: [
    {
      title: 'HTTP latency',
      panels: [
        {
          title: 'Latency p50 / p95 / p99',
          type: 'timeseries',
          exemplars: true,
          w: 12,
          unit: 's',
          min: 0,
          threshold: 2,
          description:
            'All endpoints together; SlowResponseTime fires when p95 (over 5m) stays above 2s for 5m.',
          queries: [
            { expr: latency(0.5, 'le', I), legend: 'p50' },
            { expr: latency(0.95, 'le', I), legend: 'p95' },
            { expr: latency(0.99, 'le', I), legend: 'p99' },
          ],
        },
        {
          title: 'Slowest endpoints (p95, 1h)',
          type: 'table',
          w: 12,
          unit: 's',
          description: 'The ten endpoints with the highest 95th percentile over the last hour.',
          columns: ['p95 (1h)'],
          queries: [
            {
              expr: `topk(10, histogram_quantile(0.95, sum by (le, method, endpoint) (rate(http_request_duration_seconds_bucket{${I}}[1h]))))`,
            },
          ],
        },
        {
          title: 'p50 latency by endpoint',
          type: 'timeseries',
          exemplars: true,
          w: 8,
          unit: 's',
          min: 0,
          description: 'Median response time per route template.',
          queries: [{ expr: latency(0.5, 'le, method, endpoint', I), legend: '{{method}} {{endpoint}}' }],
        },
        {
          title: 'p95 latency by endpoint',
          type: 'timeseries',
          exemplars: true,
          w: 8,
          unit: 's',
          min: 0,
          threshold: 2,
          description: '95th percentile response time per route template.',
          queries: [{ expr: latency(0.95, 'le, method, endpoint', I), legend: '{{method}} {{endpoint}}' }],
        },
        {
          title: 'p99 latency by endpoint',
          type: 'timeseries',
          exemplars: true,
          w: 8,
          unit: 's',
          min: 0,
          description: '99th percentile response time per route template.',
          queries: [{ expr: latency(0.99, 'le, method, endpoint', I), legend: '{{method}} {{endpoint}}' }],
        },
      ],
    },
    {
      title: 'Database',
      panels: [
        {
          title: 'Query latency p95 by operation and table',
          type: 'timeseries',
          w: 12,
          unit: 's',
          min: 0,
          threshold: 0.5,
          description: 'DatabaseQueryLatencyHigh fires when p95 of all queries stays above 500ms for 10m.',
          queries: [
            {
              expr: `histogram_quantile(0.95, sum by (le, operation, table) (rate(db_query_duration_seconds_bucket{${I}}[${RI}])))`,
              legend: '{{operation}} {{table}}',
            },
          ],
        },
        {
          title: 'Queries by operation',
          type: 'timeseries',
          w: 12,
          unit: 'ops',
          min: 0,
          description: 'Database queries per second by operation.',
          queries: [
            {
              expr: `sum by (operation) (rate(db_query_duration_seconds_count{${I}}[${RI}]))`,
              legend: '{{operation}}',
            },
          ],
        },
        {
          title: 'Database time by table',
          type: 'timeseries',
          w: 12,
          unit: 's',
          min: 0,
          description:
            'Seconds spent in queries per second of wall time, by table: where the database time goes.',
          queries: [
            {
              expr: `sum by (table) (rate(db_query_duration_seconds_sum{${I}}[${RI}]))`,
              legend: '{{table}}',
            },
          ],
        },
        {
          title: 'Connection pool size',
          type: 'timeseries',
          w: 12,
          unit: 'short',
          min: 0,
          description: 'Database connections per instance.',
          queries: [{ expr: `db_connection_pool_size{${I}}`, legend: '{{instance}}' }],
        },
      ],
    },
    {
      title: 'Payments and runtime',
      panels: [
        {
          title: 'Payment provider latency p95',
          type: 'timeseries',
          exemplars: true,
          w: 12,
          unit: 's',
          min: 0,
          description: '95th percentile time spent in the payment provider call, per provider.',
          queries: [
            {
              expr: `histogram_quantile(0.95, sum by (le, provider) (rate(payment_processing_duration_seconds_bucket{${I}}[${RI}])))`,
              legend: '{{provider}}',
            },
          ],
        },
        {
          title: 'Event-loop lag',
          type: 'timeseries',
          w: 12,
          unit: 's',
          min: 0,
          description: 'Timer delay of the process: added to every request it serves.',
          queries: [{ expr: `nodejs_eventloop_lag_seconds{${I}}`, legend: '{{instance}}' }],
        },
      ],
    },
  ],
}

const orders: DashboardSpec = {
  uid: 'orders-dashboard',
  title: 'Order Monitoring',
  description: "The original design's order dashboard, with order and payment flow per channel and shop.",
  refresh: '10s',
  from: 'now-24h',
  variables: ['tenant'],
  sections: [
    {
      title: 'Orders',
      panels: [
        {
          title: 'Orders Created',
          type: 'timeseries',
          w: 24,
          unit: 'short',
          min: 0,
          decimals: 0,
          description: 'Orders created over the 24 hours before each point, by channel (all shops).',
          queries: [{ expr: ORDERS_CREATED, legend: '{{channel}}' }],
        },
        {
          title: 'Orders (last hour)',
          type: 'stat',
          w: 6,
          unit: 'short',
          decimals: 0,
          description: 'Orders created in the last hour by the selected shops.',
          queries: [{ expr: `sum(increase(orders_created_total{${T}}[1h]))` }],
        },
        {
          title: 'Orders per minute',
          type: 'stat',
          w: 6,
          unit: 'opm',
          description: 'Current order rate (5-minute average).',
          queries: [{ expr: `sum(rate(orders_created_total{${T}}[5m])) * 60` }],
        },
        {
          title: 'Active shops (1h)',
          type: 'stat',
          w: 6,
          unit: 'short',
          decimals: 0,
          description: 'Shops with at least one order in the last hour (all shops).',
          queries: [{ expr: ACTIVE_SHOPS }],
        },
        {
          title: 'Payment success rate (1h)',
          type: 'stat',
          w: 6,
          unit: 'percentunit',
          description: 'Share of payments that succeeded over the last hour.',
          queries: [
            {
              expr: `sum(rate(payments_processed_total{status="succeeded",${T}}[1h])) / sum(rate(payments_processed_total{${T}}[1h]))`,
            },
          ],
        },
        {
          title: 'Orders per minute by channel',
          type: 'timeseries',
          w: 12,
          unit: 'opm',
          min: 0,
          description: 'Order rate per sales channel.',
          queries: [
            {
              expr: `sum by (channel) (rate(orders_created_total{${T}}[${RI}])) * 60`,
              legend: '{{channel}}',
            },
          ],
        },
        {
          title: 'Orders per minute by shop',
          type: 'timeseries',
          w: 12,
          unit: 'opm',
          min: 0,
          description: 'Order rate per shop.',
          queries: [
            {
              expr: `sum by (tenant_id) (rate(orders_created_total{${T}}[${RI}])) * 60`,
              legend: '{{tenant_id}}',
            },
          ],
        },
      ],
    },
    {
      title: 'Payments',
      panels: [
        {
          title: 'Payments by status',
          type: 'timeseries',
          w: 12,
          unit: 'opm',
          min: 0,
          description: 'Payments per minute by outcome.',
          queries: [
            {
              expr: `sum by (status) (rate(payments_processed_total{${T}}[${RI}])) * 60`,
              legend: '{{status}}',
            },
          ],
        },
        {
          title: 'Payment failure rate',
          type: 'timeseries',
          w: 12,
          unit: 'percentunit',
          min: 0,
          threshold: 0.1,
          description: 'Share of payments that failed over 15 minutes (the PaymentFailureRate rule).',
          queries: [{ expr: paymentShare('status="failed"', T), legend: 'failed' }],
        },
      ],
    },
  ],
}

/**
 * The SLOs dashboard, one section per objective of ops/slo/slos.yml, from Sloth's recordings
 * (ops/prometheus/rules/slo.yml): the SLI now and over the period, the burn rate of every
 * window, the budget left over the period, and the burn-rate alerts' state.
 */
export function sloDashboard(spec: SlothSpec): DashboardSpec {
  return {
    uid: 'convo-slo',
    title: 'SLOs',
    description:
      'Service level objectives (ops/slo/slos.yml): SLI, error-budget burn rate per window, budget left over 30 days, and the multiwindow burn-rate alerts.',
    refresh: '1m',
    from: 'now-7d',
    variables: [],
    sections: spec.slos.map((slo) => {
      const sel = `sloth_id="${slothId(spec, slo)}"`
      const budget = `slo:error_budget:ratio{${sel}}`
      const on = 'on(sloth_id, sloth_slo, sloth_service)'
      return {
        title: `${displayName(slo)} (${slo.objective} %)`,
        panels: [
          {
            title: 'SLI (5m)',
            type: 'stat',
            w: 6,
            unit: 'percentunit',
            decimals: 3,
            description: `Share of good events over the last 5 minutes; the objective is ${slo.objective} %.`,
            queries: [{ expr: `1 - slo:sli_error:ratio_rate5m{${sel}}` }],
          },
          {
            title: 'SLI (30 days)',
            type: 'stat',
            w: 6,
            unit: 'percentunit',
            decimals: 3,
            description: 'Share of good events over the 30-day period (the average of the 5m ratio).',
            queries: [{ expr: `1 - slo:sli_error:ratio_rate30d{${sel}}` }],
          },
          {
            title: 'Error budget left (30 days)',
            type: 'stat',
            w: 6,
            unit: 'percentunit',
            description: 'Share of the 30-day error budget not spent yet; negative when overspent.',
            queries: [{ expr: `slo:period_error_budget_remaining:ratio{${sel}}` }],
          },
          {
            title: 'Burn-rate alerts firing',
            type: 'stat',
            w: 6,
            unit: 'none',
            threshold: 1,
            description:
              'Firing burn-rate alerts of this SLO: page (14.4× over 1h and 5m, or 6× over 6h and 30m) and ticket (3× over 1d and 2h, or 1× over 3d and 6h).',
            mappings: { '0': { text: 'none', color: 'green' } },
            queries: ['page', 'ticket'].map((severity) => ({
              expr: `count(ALERTS{${sel}, sloth_severity="${severity}", alertstate="firing"}) or on() vector(0)`,
              legend: severity,
            })),
          },
          {
            title: 'Burn rate per window',
            type: 'timeseries',
            w: 12,
            unit: 'none',
            min: 0,
            threshold: 1,
            description:
              'Error ratio of each window divided by the error budget: 1 spends the budget exactly over 30 days, 14.4 in about 2 days.',
            queries: SLI_WINDOWS.map((window) => ({
              expr: `slo:sli_error:ratio_rate${window}{${sel}} / ${on} ${budget}`,
              legend: window,
            })),
          },
          {
            title: 'Error budget left over the period',
            type: 'timeseries',
            w: 12,
            unit: 'percentunit',
            max: 1,
            description: 'Share of the 30-day error budget left (slo:period_error_budget_remaining:ratio).',
            queries: [{ expr: `slo:period_error_budget_remaining:ratio{${sel}}`, legend: 'budget left' }],
          },
        ],
      }
    }),
  }
}

/** Every dashboard by file name (ops/grafana/dashboards/<name>.json). */
export function buildDashboards(
  spec: SlothSpec = loadSlothSpec(new URL('../../ops/slo/slos.yml', import.meta.url).pathname),
): Record<string, Dashboard> {
  return {
    system: dashboard(system),
    business: dashboard(business),
    performance: dashboard(performance),
    orders: dashboard(orders),
    slo: dashboard(sloDashboard(spec)),
  }
}

/** The exact bytes of a committed dashboard file. */
export function dashboardFileText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`
}
