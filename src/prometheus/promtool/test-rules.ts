import { readFileSync } from 'node:fs'
import { dirname, isAbsolute, join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { DurationError, formatDuration, parseDuration } from '../duration.ts'
import { CompiledQuery, evaluateInstant } from '../promql/engine.ts'
import { compareLabels, formatLabels, type Labels, labelsFrom, labelsKey } from '../promql/labels.ts'
import { PromQLError, parseSeriesLabels } from '../promql/parser.ts'
import { resultAsVector } from '../promql/query-source.ts'
import { SampleStore } from '../promql/store.ts'
import { glob } from '../rules/glob.ts'
import { EvaluatedAlertingRule, EvaluatedRecordingRule, type EvaluationContext } from '../rules/rule-eval.ts'
import { loadRuleFile, RuleFileError, type RuleGroup } from '../rules/rulefmt.ts'
import { formatFloat } from '../template/go-fmt.ts'
import { parseSeriesValues } from './series-notation.ts'

/**
 * A TypeScript `promtool test rules`: same file format, same meaning, same exit status
 * (0 when every file passes, 1 otherwise) and the same report layout, with the embedded
 * engine evaluating the rules. Sample values match when equal within a relative
 * tolerance of 1e-9 (two correct engines may differ in the last bit); NaN never matches,
 * as in promtool.
 */

export const RELATIVE_TOLERANCE = 1e-9

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

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function checkKeys(obj: Record<string, unknown>, allowed: string[], type: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key))
      throw new TestFileError(`yaml: unmarshal errors:\n  field ${key} not found in type ${type}`)
  }
}

function duration(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0
  try {
    return parseDuration(typeof value === 'number' ? String(value) : String(value))
  } catch (err) {
    if (err instanceof DurationError) throw new TestFileError(`${field}: ${err.message}`)
    throw err
  }
}

function list(value: unknown, field: string): unknown[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) throw new TestFileError(`${field} must be a list`)
  return value
}

function stringMap(value: unknown, field: string): Record<string, string> {
  if (value === undefined || value === null) return {}
  if (!isRecord(value)) throw new TestFileError(`${field} must be a map`)
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, v === null ? '' : String(v)]))
}

export function parseTestFile(text: string): TestFile {
  const doc = parseYaml(text) as unknown
  if (!isRecord(doc)) throw new TestFileError('test file must be a map')
  // Only the fields promtool 2.42 knows (newer ones such as fuzzy_compare are errors there).
  checkKeys(doc, ['rule_files', 'evaluation_interval', 'group_eval_order', 'tests'], 'main.unitTestFile')
  const tests = list(doc.tests, 'tests').map((raw): TestGroup => {
    if (!isRecord(raw)) throw new TestFileError('each test must be a map')
    checkKeys(
      raw,
      [
        'interval',
        'input_series',
        'alert_rule_test',
        'promql_expr_test',
        'external_labels',
        'external_url',
        'name',
      ],
      'main.testGroup',
    )
    return {
      intervalMs: raw.interval === undefined ? undefined : duration(raw.interval, 'interval'),
      input_series: list(raw.input_series, 'input_series').map((s) => {
        if (!isRecord(s)) throw new TestFileError('input_series items must be maps')
        checkKeys(s, ['series', 'values'], 'main.series')
        return { series: String(s.series ?? ''), values: String(s.values ?? '') }
      }),
      alert_rule_test: list(raw.alert_rule_test, 'alert_rule_test').map((a) => {
        if (!isRecord(a)) throw new TestFileError('alert_rule_test items must be maps')
        checkKeys(a, ['eval_time', 'alertname', 'exp_alerts'], 'main.alertTestCase')
        return {
          evalTimeMs: duration(a.eval_time, 'eval_time'),
          alertname: a.alertname === undefined || a.alertname === null ? '' : String(a.alertname),
          exp_alerts: list(a.exp_alerts, 'exp_alerts').map((e) => {
            if (!isRecord(e)) throw new TestFileError('exp_alerts items must be maps')
            checkKeys(e, ['exp_labels', 'exp_annotations'], 'main.alert')
            return {
              exp_labels: stringMap(e.exp_labels, 'exp_labels'),
              exp_annotations: stringMap(e.exp_annotations, 'exp_annotations'),
            }
          }),
        }
      }),
      promql_expr_test: list(raw.promql_expr_test, 'promql_expr_test').map((p) => {
        if (!isRecord(p)) throw new TestFileError('promql_expr_test items must be maps')
        checkKeys(p, ['expr', 'eval_time', 'exp_samples'], 'main.promqlTestCase')
        return {
          expr: String(p.expr ?? ''),
          evalTimeMs: duration(p.eval_time, 'eval_time'),
          exp_samples: list(p.exp_samples, 'exp_samples').map((s) => {
            if (!isRecord(s)) throw new TestFileError('exp_samples items must be maps')
            checkKeys(s, ['labels', 'value'], 'main.sample')
            const value = s.value === undefined || s.value === null ? 0 : s.value
            if (typeof value !== 'number')
              throw new TestFileError(`exp_samples value ${String(value)} is not a number`)
            return { labels: String(s.labels ?? ''), value }
          }),
        }
      }),
      external_labels: stringMap(raw.external_labels, 'external_labels'),
      external_url: raw.external_url === undefined ? '' : String(raw.external_url),
      name: raw.name === undefined ? '' : String(raw.name),
    }
  })
  return {
    rule_files: list(doc.rule_files, 'rule_files').map(String),
    evaluation_interval:
      doc.evaluation_interval === undefined ? 0 : duration(doc.evaluation_interval, 'evaluation_interval'),
    group_eval_order: list(doc.group_eval_order, 'group_eval_order').map(String),
    tests,
  }
}

function sampleString(s: { labels: Labels; value: number }): string {
  return `${formatLabels(s.labels)} ${formatFloat(s.value, 'E', -1)}`
}

function samplesString(samples: { labels: Labels; value: number }[]): string {
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
    `Labels:${formatLabels(a.labels)}\nAnnotations:${formatLabels(a.annotations)}`
  let s = `[\n0:${indentLines(`\n${one(alerts[0] as LabelsAndAnnotations)}`, '  ')}`
  alerts.slice(1).forEach((a, i) => {
    s += `,\n${i + 1}:${indentLines(`\n${one(a)}`, '  ')}`
  })
  return `${s}\n]`
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

export function valuesMatch(expected: number, got: number): boolean {
  if (expected === got) return true
  if (Number.isNaN(expected) || Number.isNaN(got)) return false
  if (!Number.isFinite(expected) || !Number.isFinite(got)) return false
  return Math.abs(expected - got) <= RELATIVE_TOLERANCE * Math.max(Math.abs(expected), Math.abs(got))
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

function loadGroups(files: string[]): RuleGroup[] {
  const groups: RuleGroup[] = []
  for (const file of files) groups.push(...loadRuleFile(file))
  return groups
}

/**
 * Loads a test group's `input_series` into a fresh store: value i at i × interval
 * (an unset interval is 0, as in promtool 2.42, so every value lands on t=0 and only the
 * first is kept). Returns an error message instead when a series cannot be parsed.
 */
export function loadInputSeries(series: TestGroup['input_series'], intervalMs: number): SampleStore | string {
  const store = new SampleStore({ maxSeries: Number.POSITIVE_INFINITY })
  for (const input of series) {
    let labels: Labels
    try {
      labels = labelsFrom(parseSeriesLabels(input.series))
    } catch (err) {
      return `parse error: ${(err as Error).message}`
    }
    let values: ReturnType<typeof parseSeriesValues>
    try {
      values = parseSeriesValues(input.values)
    } catch (err) {
      return `parse error in series ${input.series}: ${(err as Error).message}`
    }
    const key = labelsKey(labels)
    values.forEach((v, i) => {
      const t = i * intervalMs
      if (v.kind === 'value') store.append(labels, t, v.value)
      else if (v.kind === 'stale' && store.getSeries(key)) store.appendStale(key, t)
    })
  }
  return store
}

function runTestGroup(
  tg: TestGroup,
  evalIntervalMs: number,
  groupOrder: Map<string, number>,
  ruleFiles: string[],
): string[] {
  const loaded = loadInputSeries(tg.input_series, tg.intervalMs ?? 0)
  if (typeof loaded === 'string') return [loaded]
  const store = loaded

  let groups: RuleGroup[]
  try {
    groups = loadGroups(ruleFiles)
  } catch (err) {
    if (err instanceof RuleFileError) return [err.message]
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
        if (err instanceof PromQLError) {
          return [`${group.file}: group "${group.name}", rule "${rule.name}": ${err.message}`]
        }
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
  const ctx: EvaluationContext = { store, externalLabels: tg.external_labels, externalURL: tg.external_url }
  const errs: string[] = []
  let curr = 0
  for (let ts = 0; ts <= maxt; ts += evalIntervalMs) {
    const evalErrs: string[] = []
    for (const { rules } of evaluated) {
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
      got = resultAsVector(evaluateInstant(new CompiledQuery(testCase.expr), store, testCase.evalTimeMs))
    } catch (err) {
      errs.push(`    expr: ${JSON.stringify(testCase.expr)}, time: ${time}, err: ${(err as Error).message}`)
      continue
    }
    const expected: { labels: Labels; value: number }[] = []
    let parseFailed = false
    for (const s of testCase.exp_samples) {
      try {
        expected.push({ labels: labelsFrom(parseSeriesLabels(s.labels)), value: s.value })
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
    expected.sort(byLabels)
    const gotSorted = [...got].sort(byLabels)
    const same =
      expected.length === gotSorted.length &&
      expected.every((e, i) => {
        const g = gotSorted[i] as { labels: Labels; value: number }
        return labelsKey(e.labels) === labelsKey(g.labels) && valuesMatch(e.value, g.value)
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
    file = parseTestFile(readFileSync(filename, 'utf8'))
  } catch (err) {
    return [(err as Error).message]
  }
  const baseDir = dirname(filename)
  const ruleFiles: string[] = []
  for (const rf of file.rule_files) {
    const pattern = rf !== '' && !isAbsolute(rf) ? join(baseDir, rf) : rf
    const matched = glob(pattern)
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
