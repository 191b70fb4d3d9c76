import { readFileSync } from 'node:fs'
import { dirname, isAbsolute, join } from 'node:path'
import { DurationError, formatDuration, parseDuration } from '../duration.ts'
import { CompiledQuery, evaluateInstant } from '../promql/engine.ts'
import { compareLabels, formatLabels, type Labels, labelsKey } from '../promql/labels.ts'
import { PromQLError } from '../promql/parser.ts'
import { resultAsVector } from '../promql/query-source.ts'
import { SampleStore } from '../promql/store.ts'
import { GlobPatternError, glob } from '../rules/glob.ts'
import { goQuotedBytes } from '../rules/go-bytes.ts'
import { GoDecoder, GoYamlError, type GoYamlValue, parseGoYaml } from '../rules/go-yaml.ts'
import { EvaluatedAlertingRule, EvaluatedRecordingRule, type EvaluationContext } from '../rules/rule-eval.ts'
import { loadRuleFile, RuleFileError, type RuleGroup, ruleWhere } from '../rules/rulefmt.ts'
import { formatFloat } from '../template/go-fmt.ts'
import { goSortSlice } from './go-sort.ts'
import {
  appendableLabels,
  compareLabelPairs,
  formatLabelPairs,
  type LabelPairs,
  labelPairs,
  labelPairsKey,
  parseMetric,
  parseSeriesDesc,
  type SeriesValue,
} from './series-notation.ts'

/**
 * A TypeScript `promtool test rules`: same file format, same meaning, same exit status
 * (0 when every file passes, 1 otherwise) and the same report layout, with the embedded
 * engine evaluating the rules. Sample values match when equal or a few float64s apart
 * (`valuesMatch`); NaN never matches, as in promtool.
 */

export interface Output {
  stdout(text: string): void
  stderr(text: string): void
}

export interface TestFile {
  rule_files: string[]
  evaluation_interval: number
  group_eval_order: string[]
  tests: TestGroup[]
}

export interface TestGroup {
  intervalMs: number | undefined
  input_series: { series: string; values: string }[]
  alert_rule_test: { evalTimeMs: number; alertname: string; exp_alerts: ExpAlert[] }[]
  promql_expr_test: { expr: string; evalTimeMs: number; exp_samples: { labels: string; value: number }[] }[]
  external_labels: Record<string, string>
  external_url: string
  name: string
}

interface ExpAlert {
  exp_labels: Record<string, string>
  exp_annotations: Record<string, string>
}

class TestFileError extends Error {}

/** A `model.Duration` field: a YAML string through model.ParseDuration; its error is fatal and bare, as in Go. */
function duration(d: GoDecoder, value: GoYamlValue | undefined): number {
  const text = d.durationText(value)
  if (text === undefined) return 0
  try {
    return parseDuration(text)
  } catch (err) {
    if (err instanceof DurationError) throw new TestFileError(err.message)
    throw err
  }
}

/**
 * Reads a promtool test file as promtool 2.42 does (`yaml.UnmarshalStrict` into its structs):
 * unknown fields and type mismatches are `yaml: unmarshal errors:` with line numbers, plain
 * scalars keep their text (`exp_labels: {quantile: 0.50}` is "0.50"), and a sample without
 * `labels` has the empty label set. `text` is the file's bytes or its text (see `parseGoYaml`). Throws
 * with promtool's wording.
 */
export function parseTestFile(text: string | Uint8Array): TestFile {
  let doc: GoYamlValue | undefined
  try {
    doc = parseGoYaml(text, 'yaml.v2')
  } catch (err) {
    if (err instanceof GoYamlError) throw new TestFileError(err.message)
    throw err
  }
  const d = new GoDecoder('yaml.v2')
  const top = d.struct(doc, 'main.unitTestFile', [
    'rule_files',
    'evaluation_interval',
    'group_eval_order',
    'tests',
  ])
  const tests = d.list(top.get('tests'), '[]main.testGroup').map((raw): TestGroup => {
    const tg = d.struct(raw, 'main.testGroup', [
      'interval',
      'input_series',
      'alert_rule_test',
      'promql_expr_test',
      'external_labels',
      'external_url',
      'name',
    ])
    return {
      intervalMs: tg.has('interval') ? duration(d, tg.get('interval')) : undefined,
      input_series: d.list(tg.get('input_series'), '[]main.series').map((s) => {
        const f = d.struct(s, 'main.series', ['series', 'values'])
        return { series: d.string(f.get('series')), values: d.string(f.get('values')) }
      }),
      alert_rule_test: d.list(tg.get('alert_rule_test'), '[]main.alertTestCase').map((a) => {
        const f = d.struct(a, 'main.alertTestCase', ['eval_time', 'alertname', 'exp_alerts'])
        return {
          evalTimeMs: duration(d, f.get('eval_time')),
          alertname: d.string(f.get('alertname')),
          exp_alerts: d.list(f.get('exp_alerts'), '[]main.alert').map((e) => {
            const g = d.struct(e, 'main.alert', ['exp_labels', 'exp_annotations'])
            return {
              exp_labels: d.stringMap(g.get('exp_labels')),
              exp_annotations: d.stringMap(g.get('exp_annotations')),
            }
          }),
        }
      }),
      promql_expr_test: d.list(tg.get('promql_expr_test'), '[]main.promqlTestCase').map((p) => {
        const f = d.struct(p, 'main.promqlTestCase', ['expr', 'eval_time', 'exp_samples'])
        return {
          expr: d.string(f.get('expr')),
          evalTimeMs: duration(d, f.get('eval_time')),
          exp_samples: d.list(f.get('exp_samples'), '[]main.sample').map((s) => {
            const g = d.struct(s, 'main.sample', ['labels', 'value'])
            return { labels: d.string(g.get('labels')), value: d.float(g.get('value')) }
          }),
        }
      }),
      external_labels: d.stringMap(tg.get('external_labels')),
      external_url: d.string(tg.get('external_url')),
      name: d.string(tg.get('name')),
    }
  })
  const file: TestFile = {
    rule_files: d.list(top.get('rule_files'), '[]string').map((v) => d.string(v)),
    evaluation_interval: duration(d, top.get('evaluation_interval')),
    group_eval_order: d.list(top.get('group_eval_order'), '[]string').map((v) => d.string(v)),
    tests,
  }
  try {
    d.check()
  } catch (err) {
    throw new TestFileError((err as Error).message)
  }
  return file
}

/** A sample as promtool compares and prints it: labels as Prometheus' pairs (see `LabelPairs`). */
interface ParsedSample {
  labels: LabelPairs
  value: number
}

function sampleString(s: ParsedSample): string {
  return `${formatLabelPairs(s.labels)} ${formatFloat(s.value, 'E', -1)}`
}

function samplesString(samples: ParsedSample[]): string {
  return samples.length === 0 ? 'nil' : samples.map(sampleString).join(', ')
}

function indentLines(lines: string, indent: string): string {
  return lines.split('\n').join(`\n${indent}`)
}

interface LabelsAndAnnotations {
  labels: Labels
  annotations: Labels
}

function alertsString(alerts: LabelsAndAnnotations[]): string {
  if (alerts.length === 0) return '[]'
  const one = (a: LabelsAndAnnotations) =>
    // strconv.Quote writes a byte that is not UTF-8 (a `!!binary` value's) as \xff.
    goQuotedBytes(`Labels:${formatLabels(a.labels)}\nAnnotations:${formatLabels(a.annotations)}`)
  let s = `[\n0:${indentLines(`\n${one(alerts[0] as LabelsAndAnnotations)}`, '  ')}`
  alerts.slice(1).forEach((a, i) => {
    s += `,\n${i + 1}:${indentLines(`\n${one(a)}`, '  ')}`
  })
  return `${s}\n]`
}

/**
 * Sorts exp_samples in place as promtool's `sort.Slice(expSamples, … labels.Compare(…) <= 0)`
 * (cmd/promtool/unittest.go) does under Go 1.19. The `<= 0` makes equal label sets "less" than
 * each other, so a test listing the same series twice prints them in Go's order, not the file's:
 * up to 12 samples that is insertion sort reversing each run of equals, beyond it pdqsort's
 * pivoting, hence the port of Go's sort rather than a stable JavaScript sort.
 */
function sortExpSamples(samples: ParsedSample[]): void {
  goSortSlice(samples, (a, b) => compareLabelPairs(a.labels, b.labels) <= 0)
}

function compareAlerts(a: LabelsAndAnnotations, b: LabelsAndAnnotations): number {
  return compareLabels(a.labels, b.labels) || compareLabels(a.annotations, b.annotations)
}

/** Annotation maps keep empty values (Prometheus stores them as given). */
function annotationLabels(record: Record<string, string>): Labels {
  const out: Record<string, string> = {}
  for (const k of Object.keys(record).sort()) out[k] = record[k] as string
  return out
}

/** How many float64 apart an expected value may be from the one evaluated (`valuesMatch`). */
export const MAX_ULPS = 4

/**
 * The samples a query of a test may hold at once: promtool's test engine is built with
 * `MaxSamples: 10000` (promql/test.go `LazyLoader.clear`), for the rules, their templates'
 * `query` and the `promql_expr_test` expressions alike.
 */
export const PROMTOOL_MAX_SAMPLES = 10_000

const FLOAT = new Float64Array(2)
const ORDERED = new BigInt64Array(FLOAT.buffer)

/** The float64 `x` as an integer that counts float64s in order (-0 and 0 both 0). */
function ordinal(i: 0 | 1): bigint {
  const bits = ORDERED[i] as bigint
  return bits < 0n ? -(bits & 0x7fffffffffffffffn) : bits
}

/**
 * Whether an expected sample value matches the one evaluated: equal (Go's `==`: -0 equals 0,
 * and NaN matches nothing), or finite and at most MAX_ULPS float64s apart. promtool 2.42
 * compares exactly, but it sums series in Go's map order, which changes between runs: an
 * expectation promtool printed once is a few float64s away from its own next run and from
 * ours, which sums in label order (up to 2 apart in the real-world rule corpus, after a
 * division and a `* 100`; later promtools allow one with `fuzzy_compare`). So 0.3 matches
 * 0.1 + 0.2, one float64 away, which promtool 2.42 fails; 0.3000000001 does not.
 */
export function valuesMatch(expected: number, got: number): boolean {
  if (expected === got) return true
  if (!Number.isFinite(expected) || !Number.isFinite(got)) return false
  FLOAT[0] = expected
  FLOAT[1] = got
  const apart = ordinal(0) - ordinal(1)
  return apart <= BigInt(MAX_ULPS) && apart >= -BigInt(MAX_ULPS)
}

function goDuration(ms: number): string {
  if (ms === 0) return '0s'
  if (ms < 1000) return `${ms}ms`
  const h = Math.floor(ms / 3600_000)
  const m = Math.floor((ms % 3600_000) / 60_000)
  const s = (ms % 60_000) / 1000
  const sec = `${String(s)}s`
  if (h > 0) return `${h}h${m}m${sec}`
  if (m > 0) return `${m}m${sec}`
  return sec
}

/** The engine's verdict on an expression, for rulefmt's validation (as promtool's rulefmt parses each). */
function checkExpr(expr: string): string | undefined {
  try {
    new CompiledQuery(expr)
    return undefined
  } catch (err) {
    if (err instanceof PromQLError) return err.message
    throw err
  }
}

function loadGroups(files: string[]): RuleGroup[] {
  const groups: RuleGroup[] = []
  for (const file of files) groups.push(...loadRuleFile(file, { checkExpr, keepGoBytes: true }))
  return groups
}

/** One input series: its labels and its values in order, `undefined` for a stale marker. */
interface InputSeries {
  labels: Labels
  /**
   * The TSDB head's refusal of the series' labels (empty, or a name twice), which fails every
   * evaluation step from its first sample on; `labels` is then unused.
   */
  invalid: string | undefined
  key: string
  points: { t: number; value: number | undefined }[]
  /** Index of the first point not yet in the store. */
  next: number
}

/**
 * A test group's `input_series`, handed to the store a step at a time as promtool 2.42's
 * `promql.LazyLoader` does (`WithSamplesTill`): before each evaluation step at `ts` the
 * samples at or before `ts` are appended, and nothing later. So a rule, and a
 * `promql_expr_test` run after the last step, see only what the evaluation loop loaded: `@`
 * or a negative `offset` past it finds nothing, and an `eval_time` between steps sees the
 * samples up to the step before it.
 */
export class LazyInputSeries {
  readonly store = new SampleStore({ maxSeries: Number.POSITIVE_INFINITY })

  constructor(private readonly series: InputSeries[]) {}

  /**
   * Appends every sample (and stale marker) at or before `ts` not appended yet, or returns the
   * head's error when a series it refuses has one. Go's `appendTill` returns at that series
   * without `Commit`, so nothing appended at this step lands (whatever the map order it met the
   * series in), and the refused series stays due, so every later step fails alike. With several
   * refused series Go's map order picks the error; this takes the first described.
   */
  appendTill(ts: number): string | undefined {
    for (const s of this.series) {
      if (s.invalid !== undefined && s.next < s.points.length && (s.points[s.next] as { t: number }).t <= ts)
        return s.invalid
    }
    for (const s of this.series) {
      if (s.invalid !== undefined) continue
      for (; s.next < s.points.length; s.next++) {
        const point = s.points[s.next] as InputSeries['points'][number]
        if (point.t > ts) break
        if (point.value !== undefined) this.store.append(s.labels, point.t, point.value)
        else if (this.store.getSeries(s.key)) this.store.appendStale(s.key, point.t)
      }
    }
    return undefined
  }
}

/**
 * Reads a test group's `input_series` as promtool does: each series is the line `series
 * values` of a PromQL test `load` block (lines trimmed; a value text with newlines continues
 * on further lines, each its own series description), value i at i × interval (an unset
 * interval is 0, as in promtool 2.42, so every value lands on t=0 and only the first is
 * kept); a label set described twice (as parsed: repeats and empty values count) keeps its
 * last description. Returns Prometheus' parse error text instead when a line cannot be parsed.
 */
export function loadInputSeries(
  series: TestGroup['input_series'],
  intervalMs: number,
): LazyInputSeries | string {
  // By label set: a series described twice keeps its last description only, as Prometheus'
  // `loadCmd.set` assigns `defs[hash]` (promql/test.go).
  const loaded = new Map<string, InputSeries>()
  const lines = series
    .flatMap((s) => `${s.series} ${s.values}`.split('\n'))
    .map((l) => l.trim())
    .map((l) => (l.startsWith('#') ? '' : l))
  for (const line of lines) {
    // An empty line ends Prometheus' load block; the lines after it would be commands.
    if (line === '') break
    let parsed: { labels: LabelPairs; values: SeriesValue[] }
    try {
      parsed = parseSeriesDesc(line)
    } catch (err) {
      return (err as Error).message
    }
    const points: InputSeries['points'] = []
    parsed.values.forEach((v, i) => {
      if (v.kind === 'value') points.push({ t: i * intervalMs, value: v.value })
      else if (v.kind === 'stale') points.push({ t: i * intervalMs, value: undefined })
    })
    // `defs[hash]` hashes the labels as parsed, so `m` and `{__name__="m",a=""}` are two
    // descriptions (of one series once the head drops the empty value).
    const defKey = labelPairsKey(parsed.labels)
    const appendable = appendableLabels(parsed.labels)
    const labels = typeof appendable === 'string' ? {} : appendable
    const invalid = typeof appendable === 'string' ? appendable : undefined
    loaded.delete(defKey)
    loaded.set(defKey, { labels, invalid, key: labelsKey(labels), points, next: 0 })
  }
  return new LazyInputSeries([...loaded.values()])
}

function runTestGroup(
  tg: TestGroup,
  evalIntervalMs: number,
  groupOrder: Map<string, number>,
  ruleFiles: string[],
): string[] {
  const loaded = loadInputSeries(tg.input_series, tg.intervalMs ?? 0)
  if (typeof loaded === 'string') return [loaded]
  const store = loaded.store

  let groups: RuleGroup[]
  try {
    groups = loadGroups(ruleFiles)
  } catch (err) {
    if (err instanceof RuleFileError) return err.errors
    throw err
  }
  groups = groups
    .map((g, i) => ({ g, i }))
    .sort((a, b) => (groupOrder.get(a.g.name) ?? 0) - (groupOrder.get(b.g.name) ?? 0) || a.i - b.i)
    .map(({ g }) => g)

  const evaluated: { group: RuleGroup; rules: (EvaluatedAlertingRule | EvaluatedRecordingRule)[] }[] = []
  for (const group of groups) {
    const rules: (EvaluatedAlertingRule | EvaluatedRecordingRule)[] = []
    for (const rule of group.rules) {
      let query: CompiledQuery
      try {
        query = new CompiledQuery(rule.expr)
      } catch (err) {
        if (err instanceof PromQLError) return [`${ruleWhere(group, rule)}: ${err.message}`]
        throw err
      }
      rules.push(
        rule.type === 'alerting'
          ? new EvaluatedAlertingRule(group, query, rule)
          : new EvaluatedRecordingRule(group, query, rule),
      )
    }
    evaluated.push({ group, rules })
  }

  const maxt = Math.max(
    0,
    ...tg.alert_rule_test.map((a) => a.evalTimeMs),
    ...tg.promql_expr_test.map((p) => p.evalTimeMs),
  )
  const alertsInTest = new Map<number, Set<string>>()
  const alertTests = new Map<number, TestGroup['alert_rule_test']>()
  for (const alert of tg.alert_rule_test) {
    if (alert.alertname === '') {
      const where = tg.name ? ` (in TestGroup ${tg.name})` : ''
      return [
        `an item under alert_rule_test misses required attribute alertname at eval_time ${formatDuration(alert.evalTimeMs)}${where}`,
      ]
    }
    if (!alertsInTest.has(alert.evalTimeMs)) alertsInTest.set(alert.evalTimeMs, new Set())
    alertsInTest.get(alert.evalTimeMs)?.add(alert.alertname)
    alertTests.set(alert.evalTimeMs, [...(alertTests.get(alert.evalTimeMs) ?? []), alert])
  }
  const alertEvalTimes = [...alertsInTest.keys()].sort((a, b) => a - b)
  // promtool's rule manager has no external URL: `$externalURL` is the test's external_url,
  // but the functions externalURL and pathPrefix dereference nil.
  const ctx: EvaluationContext = {
    store,
    externalLabels: tg.external_labels,
    externalURL: tg.external_url,
    functionsURL: null,
    // unittest.go sets `suite.SubqueryInterval = evalInterval`: the engine of the rules and of
    // the promql_expr_test queries steps subqueries without a step by evaluation_interval.
    subqueryStepMs: evalIntervalMs,
    maxSamples: PROMTOOL_MAX_SAMPLES,
  }
  const errs: string[] = []
  let curr = 0
  for (let ts = 0; ts <= maxt; ts += evalIntervalMs) {
    // An append error is reported and skips this step's evaluation, but not its alert checks
    // (unittest.go's WithSamplesTill callback returns before g.Eval).
    const appendErr = loaded.appendTill(ts)
    if (appendErr !== undefined) errs.push(appendErr)
    const evalErrs: string[] = []
    for (const { rules } of appendErr === undefined ? evaluated : []) {
      for (const rule of rules) {
        rule.eval(ctx, ts)
        if (rule.lastError)
          evalErrs.push(`    rule: ${rule.name}, time: ${goDuration(ts)}, err: ${rule.lastError.message}`)
      }
    }
    errs.push(...evalErrs)
    if (evalErrs.length > 0) return errs

    while (curr < alertEvalTimes.length) {
      const t = alertEvalTimes[curr] as number
      if (!(ts <= t && t < ts + evalIntervalMs)) break
      const present = alertsInTest.get(t) as Set<string>
      const got = new Map<string, LabelsAndAnnotations[]>()
      for (const { rules } of evaluated) {
        for (const rule of rules) {
          if (!(rule instanceof EvaluatedAlertingRule) || !present.has(rule.name)) continue
          const firing = rule
            .firing()
            .map((a) => ({ labels: a.labels, annotations: annotationLabels(a.annotations) }))
          got.set(rule.name, [...(got.get(rule.name) ?? []), ...firing])
        }
      }
      for (const testcase of alertTests.get(t) ?? []) {
        const gotAlerts = [...(got.get(testcase.alertname) ?? [])].sort(compareAlerts)
        const expAlerts = testcase.exp_alerts
          .map((a) => ({
            labels: annotationLabels({ ...a.exp_labels, alertname: testcase.alertname }),
            annotations: annotationLabels(a.exp_annotations),
          }))
          .sort(compareAlerts)
        const same =
          gotAlerts.length === expAlerts.length &&
          gotAlerts.every((g, i) => {
            const e = expAlerts[i] as LabelsAndAnnotations
            return (
              labelsKey(g.labels) === labelsKey(e.labels) &&
              labelsKey(g.annotations) === labelsKey(e.annotations)
            )
          })
        if (!same) {
          const testName = tg.name ? `    name: ${tg.name},\n` : ''
          errs.push(
            `${testName}    alertname: ${testcase.alertname}, time: ${formatDuration(testcase.evalTimeMs)}, \n` +
              `        exp:${indentLines(alertsString(expAlerts), '            ')}, \n` +
              `        got:${indentLines(alertsString(gotAlerts), '            ')}`,
          )
        }
      }
      curr++
    }
  }

  for (const testCase of tg.promql_expr_test) {
    const time = formatDuration(testCase.evalTimeMs)
    let got: { labels: Labels; value: number }[]
    try {
      got = resultAsVector(
        evaluateInstant(new CompiledQuery(testCase.expr), store, testCase.evalTimeMs, undefined, {
          subqueryStepMs: evalIntervalMs,
          maxSamples: PROMTOOL_MAX_SAMPLES,
        }),
      )
    } catch (err) {
      errs.push(`    expr: ${JSON.stringify(testCase.expr)}, time: ${time}, err: ${(err as Error).message}`)
      continue
    }
    const expected: ParsedSample[] = []
    let parseFailed = false
    for (const s of testCase.exp_samples) {
      try {
        expected.push({ labels: parseMetric(s.labels), value: s.value })
      } catch (err) {
        errs.push(
          `    expr: ${JSON.stringify(testCase.expr)}, time: ${time}, err: labels ${JSON.stringify(s.labels)}: ${(err as Error).message}`,
        )
        parseFailed = true
        break
      }
    }
    if (parseFailed) continue
    const byLabels = (a: { labels: Labels }, b: { labels: Labels }) => compareLabels(a.labels, b.labels)
    sortExpSamples(expected)
    const gotSorted = [...got].sort(byLabels).map((g) => ({ labels: labelPairs(g.labels), value: g.value }))
    const same =
      expected.length === gotSorted.length &&
      expected.every((e, i) => {
        const g = gotSorted[i] as ParsedSample
        return labelPairsKey(e.labels) === labelPairsKey(g.labels) && valuesMatch(e.value, g.value)
      })
    if (!same) {
      errs.push(
        `    expr: ${JSON.stringify(testCase.expr)}, time: ${time},\n` +
          `        exp: ${samplesString(expected)}\n        got: ${samplesString(gotSorted)}`,
      )
    }
  }
  return errs
}

function ruleUnitTest(filename: string, out: Output): string[] | undefined {
  out.stdout(`Unit Testing:  ${filename}\n`)
  let file: TestFile
  try {
    file = parseTestFile(readFileSync(filename))
  } catch (err) {
    return [(err as Error).message]
  }
  const baseDir = dirname(filename)
  const ruleFiles: string[] = []
  for (const rf of file.rule_files) {
    const pattern = rf !== '' && !isAbsolute(rf) ? join(baseDir, rf) : rf
    let matched: string[]
    try {
      matched = glob(pattern)
    } catch (err) {
      // resolveAndGlobFilepaths returns filepath.Glob's error as the file's only one.
      if (err instanceof GlobPatternError) return [err.message]
      throw err
    }
    if (matched.length === 0) out.stderr(`  WARNING: no file match pattern ${pattern}\n`)
    ruleFiles.push(...matched)
  }
  const evalIntervalMs = file.evaluation_interval === 0 ? 60_000 : file.evaluation_interval
  const groupOrder = new Map<string, number>()
  for (const [i, name] of file.group_eval_order.entries()) {
    if (groupOrder.has(name)) return [`group name repeated in evaluation order: ${name}`]
    groupOrder.set(name, i)
  }
  const errs: string[] = []
  for (const tg of file.tests) errs.push(...runTestGroup(tg, evalIntervalMs, groupOrder, ruleFiles))
  return errs.length > 0 ? errs : undefined
}

/**
 * Runs promtool-format rule test files; returns the exit status promtool would
 * (0 all passed, 1 any failure) after writing promtool's report to `out`.
 */
export function runRuleTests(files: readonly string[], out: Output): number {
  let failed = false
  for (const f of files) {
    const errs = ruleUnitTest(f, out)
    if (errs) {
      out.stderr('  FAILED:\n')
      for (const e of errs) {
        out.stderr(`${e}\n`)
        out.stdout('\n')
      }
      failed = true
    } else {
      out.stdout('  SUCCESS\n')
    }
    out.stdout('\n')
  }
  return failed ? 1 : 0
}
