/**
 * The seeded differential fuzzer for alert states: random alerting rules (`for`,
 * `keep_firing_for`, labels and annotations templated with `$value`, `$labels` and
 * `$externalLabels`, a group `limit`, evaluation intervals of 30 s to 2 m) over random series
 * (values, gaps `_`, `stale`), with alert_rule_test cases that expect nothing and a
 * promql_expr_test of `ALERTS` and `ALERTS_FOR_STATE` at the same times, so that both tools
 * print every alert and state series they hold. Each suite goes through Debian's `promtool
 * test rules` 2.42 (the truth) and our `runRuleTests`; the exit status and the whole report
 * must be the same.
 *
 *   bun tests/prometheus/promtool/alert-fuzz.ts [--seed N] [--cases N] [--show N]
 */
import { numberArg as arg, Rng } from '../promql/differential/generator.ts'
import { bothReports } from './rule-test-files.ts'

const VALUES = ['0', '1', '2', '3', '5', '_', 'stale', '-1', '2.5']
const EXPRS = [
  'm > T',
  'm > T or m < 0',
  'sum(m) > T',
  'sum by (i) (m) > T',
  'm > T unless m offset 1m > T',
  'absent(m{i="3"})',
  'changes(m[3m]) > 0',
  'max_over_time(m[2m]) > T',
  'count(m > T) > 1',
  'm > T and on (i) m offset 2m > 0',
  'rate(m[2m]) > 0',
  'vector(time()) > 300',
  'm == T',
  'label_replace(m > T, "alertname", "Other", "", "")',
  'm',
  '-m < -T',
  'last_over_time(m[5m]) > T',
  'timestamp(m) > 120',
  'm > bool T',
  'absent_over_time(m{i="1"}[2m])',
]
const FORS = ['', '', 'for: 0s', 'for: 1m', 'for: 2m', 'for: 90s', 'for: 3m', 'for: 30s']
const KEEPS = [
  '',
  '',
  '',
  'keep_firing_for: 1m',
  'keep_firing_for: 2m',
  'keep_firing_for: 150s',
  'keep_firing_for: 30s',
]
const LABELS = [
  '',
  '',
  'labels: {severity: page}',
  "labels: {v: '{{ $value }}'}",
  "labels: {i: 'x{{ $labels.i }}'}",
  "labels: {t: '{{ humanize $value }}'}",
  "labels: {alertname: Renamed, severity: '{{ if gt $value 1.0 }}page{{ else }}ticket{{ end }}'}",
  "labels: {i: ''}",
]
const ANNOTATIONS = [
  '',
  "annotations: {s: '{{ $labels.i }} {{ $value }}'}",
  'annotations: {s: \'{{ printf "%.1f" $value }}\'}',
  "annotations: {s: '{{ $externalLabels.env }}/{{ $labels.alertname }}'}",
  // The template function query: at the evaluation's time, an error, one built from a label.
  'annotations: {q: \'{{ with query "sum(m)" }}{{ . | first | value }}{{ end }}\'}',
  'annotations: {q: \'{{ query "m{" }}\'}',
  'annotations: {q: \'{{ range query (printf "m{i=\\"%s\\"} offset 1m" $labels.i) }}{{ .Value }}{{ end }}\'}',
]

/**
 * `count` input series `m{i="1"}`… of a test file's `input_series`, each `length` values
 * picked from `values` (the same draws from `rng` in the same order, so seeds keep their suites).
 */
export function inputSeries(rng: Rng, count: number, length: number, values: readonly string[]): string[] {
  return Array.from({ length: count }, (_, i) => {
    const picked = Array.from({ length }, () => rng.pick(values)).join(' ')
    return `      - {series: 'm{i="${i + 1}"}', values: '${picked}'}`
  })
}

export interface AlertSuite {
  rules: string
  tests: string
}

/** `count` suites, reproducible from `seed`. */
export function alertSuites(seed: number, count: number): AlertSuite[] {
  const rng = new Rng(seed)
  const out: AlertSuite[] = []
  for (let c = 0; c < count; c++) {
    const interval = rng.pick(['1m', '1m', '30s'])
    const evaluationInterval = rng.pick(['1m', '1m', '30s', '2m'])
    const series = inputSeries(rng, 2 + rng.int(2), 16, VALUES)
    const names: string[] = []
    const rules: string[] = []
    for (let r = 1 + rng.int(3); r > 0; r--) {
      const name = `A${names.length}`
      names.push(name)
      const expr = rng.pick(EXPRS).replaceAll('T', rng.pick(['0', '1', '2']))
      const fields = [rng.pick(FORS), rng.pick(KEEPS), rng.pick(LABELS), rng.pick(ANNOTATIONS)]
      rules.push(
        [
          `      - alert: ${name}`,
          `        expr: '${expr}'`,
          ...fields.filter(Boolean).map((f) => `        ${f}`),
        ].join('\n'),
      )
    }
    const limit = rng.chance(0.15) ? `    limit: ${1 + rng.int(2)}\n` : ''
    const times = new Set<string>()
    for (let k = 2 + rng.int(4); k > 0; k--) times.add(`${rng.int(17)}m${rng.chance(0.3) ? '30s' : ''}`)
    const alertTests = [...times].flatMap((t) =>
      names.map((a) => `      - {alertname: ${a}, eval_time: ${t}, exp_alerts: []}`),
    )
    const exprTests = [...times].map(
      (t) => `      - {expr: 'ALERTS or ALERTS_FOR_STATE', eval_time: ${t}, exp_samples: []}`,
    )
    const external = rng.chance(0.3) ? '    external_labels: {env: prod}\n' : ''
    out.push({
      rules: `groups:\n  - name: g\n    interval: ${evaluationInterval}\n${limit}    rules:\n${rules.join('\n')}\n`,
      tests: `rule_files: [rules.yml]\nevaluation_interval: ${evaluationInterval}\ntests:\n  - interval: ${interval}\n${external}    input_series:\n${series.join('\n')}\n    alert_rule_test:\n${alertTests.join('\n')}\n    promql_expr_test:\n${exprTests.join('\n')}\n`,
    })
  }
  return out
}

export interface AlertSuiteRun {
  agree: number
  /** Suites promtool failed, i.e. whose report lists alerts or series. */
  printed: number
  differing: Array<AlertSuite & { promtool: string; ours: string }>
}

/** Runs each suite through both tools; the temporary folder's name is left out of the reports. */
export async function compareAlertSuites(suites: readonly AlertSuite[]): Promise<AlertSuiteRun> {
  const run: AlertSuiteRun = { agree: 0, printed: 0, differing: [] }
  const report = (r: { code: number; stdout: string; stderr: string }) =>
    `exit ${r.code}\n${r.stderr}${r.stdout}`.replace(/\/\S*rules-test-\w+\//g, '')
  for (const suite of suites) {
    const { mine, real } = await bothReports(suite.rules, suite.tests)
    if (real.code !== 0) run.printed++
    const promtool = report(real)
    const ours = report(mine)
    if (promtool === ours) run.agree++
    else run.differing.push({ ...suite, promtool, ours })
  }
  return run
}

/**
 * A suite fuzzer's command line (`--seed N`, `--cases N`, `--show N`): runs `make(seed,
 * cases)` through both tools, prints the first differing suites and a summary line in which
 * `printed` names the suites promtool failed.
 */
export async function suitesCli(
  make: (seed: number, count: number) => AlertSuite[],
  printed: string,
): Promise<void> {
  const seed = arg('--seed', 1)
  const count = arg('--cases', 40)
  const run = await compareAlertSuites(make(seed, count))
  for (const d of run.differing.slice(0, arg('--show', 3))) {
    console.log(`\n${d.rules}\n${d.tests}\n--- promtool\n${d.promtool}\n--- ours\n${d.ours}`)
  }
  console.log(
    `seed ${seed}: ${count} suites (${run.printed} ${printed}), ${run.agree} agree, ${run.differing.length} differ`,
  )
}

if (import.meta.main) await suitesCli(alertSuites, 'with alerts printed')
