// Readers for the files under ops/, and PromQL inspection with the Prometheus project's own
// grammar (@prometheus-io/lezer-promql), shared by the tests in this folder.

import { test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parser } from '@prometheus-io/lezer-promql'
import { parse as parseYaml } from 'yaml'
import { skipTest } from '../helpers/skips.ts'

export const ROOT = join(import.meta.dir, '..', '..')
export const repoPath = (...parts: string[]) => join(ROOT, ...parts)

export const readYaml = (path: string): unknown => parseYaml(readFileSync(path, 'utf8'))

export interface AlertRule {
  alert: string
  expr: string
  for?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}

export interface RuleGroup {
  name: string
  interval?: string
  rules: AlertRule[]
}

export const RULES_DIR = repoPath('ops', 'prometheus', 'rules')
export const RULE_TESTS_DIR = repoPath('ops', 'prometheus', 'tests')
export const DASHBOARDS_DIR = repoPath('ops', 'grafana', 'dashboards')

export function ruleFiles(): string[] {
  return readdirSync(RULES_DIR)
    .sort()
    .filter((f) => f.endsWith('.yml'))
    .map((f) => join(RULES_DIR, f))
}

export function ruleGroups(): RuleGroup[] {
  return ruleFiles().flatMap((file) => (readYaml(file) as { groups: RuleGroup[] }).groups)
}

/** The alerting rules of every rule file (recording rules, as in slo.yml, left out). */
export function alertRules(): AlertRule[] {
  return ruleGroups()
    .flatMap((g) => g.rules)
    .filter((r) => r.alert !== undefined)
}

export interface RuleTestFile {
  rule_files: string[]
  evaluation_interval?: string
  tests: {
    name?: string
    interval?: string
    input_series: { series: string; values: string }[]
    alert_rule_test?: { eval_time: string; alertname: string; exp_alerts: unknown[] }[]
    promql_expr_test?: { expr: string; eval_time: string; exp_samples: unknown[] }[]
  }[]
}

export function ruleTestFiles(): { file: string; content: RuleTestFile }[] {
  return readdirSync(RULE_TESTS_DIR)
    .sort()
    .filter((f) => f.endsWith('.yml'))
    .map((f) => ({
      file: join(RULE_TESTS_DIR, f),
      content: readYaml(join(RULE_TESTS_DIR, f)) as RuleTestFile,
    }))
}

// biome-ignore lint/suspicious/noExplicitAny: dashboards are free-form Grafana JSON
export type Json = any

export function dashboardFiles(): { name: string; file: string; json: Json }[] {
  return readdirSync(DASHBOARDS_DIR)
    .sort()
    .filter((f) => f.endsWith('.json'))
    .map((f) => ({
      name: f.replace(/\.json$/, ''),
      file: join(DASHBOARDS_DIR, f),
      json: JSON.parse(readFileSync(join(DASHBOARDS_DIR, f), 'utf8')),
    }))
}

/** Every query of every panel of a dashboard, with its panel. */
export function panelQueries(dashboard: Json): { panel: Json; expr: string }[] {
  return (dashboard.panels as Json[]).flatMap((panel) =>
    ((panel.targets ?? []) as Json[]).map((target) => ({ panel, expr: target.expr as string })),
  )
}

/**
 * Grafana expands its variables before the query reaches Prometheus; do the same with
 * representative values: interval variables become a duration, others a match-all regex
 * (they only appear inside `=~"…"` matchers).
 */
export function expandGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$\{?__(rate_interval|interval|range)\}?/g, '5m')
    .replace(/\$\{?([A-Za-z_]\w*)\}?/g, '.*')
}

export interface PromQLInfo {
  /** Text around each syntax error; empty when the expression parses. */
  errors: string[]
  /** Metric names of every selector (a selector without a name is reported in `errors`). */
  metrics: string[]
  /** Node types of the syntax tree (functions and operators appear as their own nodes). */
  nodes: Set<string>
}

export function inspectPromQL(expr: string): PromQLInfo {
  const info: PromQLInfo = { errors: [], metrics: [], nodes: new Set() }
  const cursor = parser.parse(expr).cursor()
  do {
    const node = cursor.node
    info.nodes.add(node.type.name)
    if (node.type.isError)
      info.errors.push(`syntax error at ${node.from}: "${expr.slice(node.from, node.from + 20)}"`)
    if (node.type.name === 'VectorSelector') {
      const name = node.getChild('Identifier')
      let metric = name ? expr.slice(name.from, name.to) : undefined
      if (!metric) {
        // {__name__="x"}: the name given as a matcher.
        for (const m of node.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? []) {
          const label = m.getChild('LabelName')
          const value = m.getChild('StringLiteral')
          if (
            label &&
            value &&
            expr.slice(label.from, label.to) === '__name__' &&
            m.getChild('MatchOp')?.getChild('EqlSingle')
          ) {
            metric = JSON.parse(expr.slice(value.from, value.to))
          }
        }
      }
      if (metric) info.metrics.push(metric)
      else info.errors.push(`selector without a metric name: ${expr.slice(node.from, node.to)}`)
    }
  } while (cursor.next())
  return info
}

/**
 * The PromQL that the service's embedded rule engine evaluates (issue 9): selectors with
 * =, !=, =~, !~; rate, increase, irate, delta, avg/max/min/sum_over_time; sum, avg, min,
 * max, count with by/without; histogram_quantile; arithmetic and comparison operators
 * (on/ignoring, group_left/group_right, bool); and, or, unless; absent; number literals
 * and durations. Listed as grammar node types; anything else is outside the subset. The
 * engine has grown past it (tests/prometheus/promql/differential holds it to Prometheus);
 * the shipped files keep to it so that they read plainly, and a construct joins the list
 * when a shipped rule needs it (group_left: Sloth's burn rates of a per-route SLI).
 */
export const EMBEDDED_SUBSET_NODES = new Set([
  'PromQL',
  'ParenExpr',
  'NumberDurationLiteral',
  'StringLiteral',
  'VectorSelector',
  'Identifier',
  'LabelMatchers',
  'UnquotedLabelMatcher',
  'LabelName',
  'MatchOp',
  'EqlSingle',
  'Neq',
  'EqlRegex',
  'NeqRegex',
  'MatrixSelector',
  'DurationExpr',
  'NumberDurationLiteralInDurationContext',
  'FunctionCall',
  'FunctionIdentifier',
  'FunctionCallBody',
  'Rate',
  'Increase',
  'Irate',
  'Delta',
  'AvgOverTime',
  'MaxOverTime',
  'MinOverTime',
  'SumOverTime',
  'CountOverTime',
  'HistogramQuantile',
  'Absent',
  'AggregateExpr',
  'AggregateOp',
  'AggregateModifier',
  'By',
  'Without',
  'GroupingLabels',
  'Sum',
  'Avg',
  'Min',
  'Max',
  'Count',
  'BinaryExpr',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Mod',
  'Pow',
  'Eql',
  'Gtr',
  'Lss',
  'Gte',
  'Lte',
  'BoolModifier',
  'Bool',
  'MatchingModifierClause',
  'On',
  'Ignoring',
  'GroupLeft',
  'GroupRight',
  'And',
  'Or',
  'Unless',
])

/**
 * The constructs of an expression that the embedded engine does not support. A minus sign
 * before a number is part of the literal (Prometheus folds `-0.5` into one number); before
 * anything else it is the unary operator, which is outside the subset.
 */
export function outsideEmbeddedSubset(expr: string): string[] {
  const outside = new Set<string>()
  const cursor = parser.parse(expr).cursor()
  do {
    const node = cursor.node
    const name = node.type.name
    if (EMBEDDED_SUBSET_NODES.has(name)) continue
    const unary = name === 'UnaryExpr' ? node : name === 'UnaryOp' ? node.parent : null
    if (unary?.lastChild?.type.name === 'NumberDurationLiteral') continue
    outside.add(name)
  } while (cursor.next())
  return [...outside]
}

/**
 * `test` when the binary is on PATH. Otherwise the test is skipped with a message naming
 * the binary — or, with REQUIRE_OPS_TOOLS=1 (CI), it runs and fails saying what is missing.
 */
export function withBinary(binary: string, install: string): typeof test {
  if (Bun.which(binary)) return test
  if (process.env.REQUIRE_OPS_TOOLS === '1') {
    return ((name: string) =>
      test(name, () => {
        throw new Error(`${binary} is not on PATH and REQUIRE_OPS_TOOLS=1 (install it: ${install})`)
      })) as unknown as typeof test
  }
  return ((name: string) =>
    skipTest(name, `${binary} is not on PATH (install it: ${install})`)) as unknown as typeof test
}

export function run(command: string[], cwd = ROOT) {
  const result = Bun.spawnSync(command, { cwd, stdout: 'pipe', stderr: 'pipe' })
  return { exitCode: result.exitCode, output: result.stdout.toString() + result.stderr.toString() }
}
