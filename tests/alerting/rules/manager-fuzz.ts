/**
 * The service's rule manager held to promtool's runner on random alert suites
 * (`tests/prometheus/promtool/alert-fuzz.ts`, whose runner alert-states.test.ts holds to
 * promtool 2.42): the same rules over the same input series, evaluated step by step, must
 * leave the same pending and firing alerts (labels, state, activeAt, value, annotations) and
 * the same rule errors at every step. The manager keeps its alerts in the database and
 * reads them back at each evaluation, so this is what its persistence does to the state
 * machine. Both write ALERTS and ALERTS_FOR_STATE, and every suite gets rules that read
 * them (withAlertReaders: recording and alerting rules before, between and after the alerting
 * rules, or in a group of their own), so the series both hold (ALERTS, ALERTS_FOR_STATE and
 * the recorded `r…`) are compared at every step too. Not compared: external labels (the
 * service has none; they are left out of the suites) and what a group's `limit` leaves behind
 * (the manager resolves the dropped alerts at once, by design: README "Alert rules").
 *
 * With `--groups`, the suites of group-fuzz.ts instead (chained recording rules across
 * groups, alerts on them). With `--promtool`, the same suites (readers included) also go
 * through promtool 2.42 and rules:test, whose reports must be the same: the runner the
 * manager is held to is itself held to Prometheus on rules reading ALERTS.
 *
 *   bun tests/alerting/rules/manager-fuzz.ts [--seed N] [--cases N] [--show N] [--groups] [--promtool]
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { storeRecorder, storeTemplateQuery } from '../../../src/alerting/rules/embedded.ts'
import { createRuleManager, loadRules } from '../../../src/alerting/rules/manager.ts'
import type { DatabaseHandle } from '../../../src/db/client.ts'
import { alertRuleStates } from '../../../src/db/schema.ts'
import { CompiledQuery, evaluateInstant } from '../../../src/prometheus/promql/engine.ts'
import { labelsFrom, labelsKey } from '../../../src/prometheus/promql/labels.ts'
import { EmbeddedQuerySource, resultAsVector } from '../../../src/prometheus/promql/query-source.ts'
import type { SampleStore } from '../../../src/prometheus/promql/store.ts'
import { loadInputSeries, parseTestFile } from '../../../src/prometheus/promtool/test-rules.ts'
import { EvaluatedAlertingRule, EvaluatedRecordingRule } from '../../../src/prometheus/rules/rule-eval.ts'
import { loadRuleFile } from '../../../src/prometheus/rules/rulefmt.ts'
import { alertingFor, manualClock } from '../../helpers/alerts.ts'
import { captureLogs } from '../../helpers/logs.ts'
import { numberArg as arg, Rng } from '../../prometheus/promql/differential/generator.ts'
import { type AlertSuite, alertSuites, compareAlertSuites } from '../../prometheus/promtool/alert-fuzz.ts'
import { groupSuites } from '../../prometheus/promtool/group-fuzz.ts'

/** Recording rules over ALERTS and ALERTS_FOR_STATE: what recording rules of real rule files do. */
const READER_RECORDS = [
  'count by (alertname, alertstate) (ALERTS)',
  'count(ALERTS{alertstate="firing"}) or vector(0)',
  'time() - ALERTS_FOR_STATE',
  'ALERTS{alertstate="pending"}',
  'count_over_time(ALERTS[3m])',
  'changes(ALERTS_FOR_STATE[5m])',
  'absent(ALERTS{alertstate="firing"})',
  'max by (alertname) (ALERTS_FOR_STATE)',
]
/** Alerting rules over them: meta-alerts, inhibition-like `unless`, alerts on other alerts' age. */
const READER_ALERTS = [
  'count(ALERTS{alertstate="firing"}) > 0',
  'count(ALERTS) > 1',
  'm > 0 unless on (i) ALERTS{alertstate="firing"}',
  'm unless on (i) ALERTS',
  'ALERTS_FOR_STATE < time() - 60',
  'ALERTS{alertstate="pending"}',
  'sum by (alertname) (ALERTS) > 0',
]

/**
 * `suite` with one to three rules reading ALERTS or ALERTS_FOR_STATE (recording rules `rA…`,
 * alerting rules `M…`), reproducible from `seed`: each at a random place of a random group
 * (before an alerting rule, it reads that rule's previous evaluation; after it, this one),
 * or, with several groups, in a group of its own evaluated last. The tests also ask promtool
 * for those series at every tested time (`--promtool`).
 */
export function withAlertReaders(suite: AlertSuite, seed: number): AlertSuite {
  const rng = new Rng(seed)
  // The rules file as groups of rule blocks (each `      - record:`/`- alert:` with its lines).
  const groups = suite.rules
    .split(/\n(?= {2}- name: )/)
    .slice(1)
    .map((text) => {
      const [head, body = ''] = text.split(/\n {4}rules:\n/)
      return {
        head: head as string,
        rules: body
          .split(/\n(?= {6}- )/)
          .map((r) => r.trimEnd())
          .filter((r) => r !== ''),
      }
    })
  const added: string[] = []
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const alerting = rng.chance(0.4)
    const expr = rng.pick(alerting ? READER_ALERTS : READER_RECORDS)
    const rule = alerting
      ? [
          `      - alert: M${added.length}`,
          `        expr: '${expr}'`,
          ...(rng.chance(0.4) ? ['        for: 1m'] : []),
        ]
      : [`      - record: rA${added.length}`, `        expr: '${expr}'`]
    added.push(rule.join('\n'))
    if (groups.length > 1 && rng.chance(0.25)) {
      const name = `readers${groups.length}`
      groups.push({ head: `  - name: ${name}`, rules: [] })
    }
    const group =
      groups.length > 1 && groups.at(-1)?.head.startsWith('  - name: readers') && rng.chance(0.5)
        ? (groups.at(-1) as (typeof groups)[number])
        : rng.pick(groups)
    group.rules.splice(rng.int(group.rules.length + 1), 0, rule.join('\n'))
  }
  const kept = groups.filter((g) => g.rules.length > 0)
  const rules = `groups:\n${kept.map((g) => `${g.head}\n    rules:\n${g.rules.join('\n')}`).join('\n')}\n`
  const names = kept.map((g) => g.head.match(/- name: (\S+)/)?.[1])
  let tests = suite.tests
  // promtool evaluates groups in Go's map order unless group_eval_order lists them all.
  if (names.length > 1) {
    const order = `group_eval_order: [${names.join(', ')}]\n`
    tests = /group_eval_order: .*\n/.test(tests)
      ? tests.replace(/group_eval_order: .*\n/, order)
      : tests.replace(/(evaluation_interval: .*\n)/, `$1${order}`)
  }
  const times = [...new Set([...tests.matchAll(/eval_time: ([^,}\s]+)/g)].map((m) => m[1]))]
  const queries = times.map(
    (t) => `      - {expr: '{__name__=~"ALERTS|ALERTS_FOR_STATE|rA.*"}', eval_time: ${t}, exp_samples: []}`,
  )
  if (!/promql_expr_test:\n/.test(tests)) tests += '    promql_expr_test:\n'
  return { rules, tests: `${tests.trimEnd()}\n${queries.join('\n')}\n` }
}

/**
 * The suites of alert-fuzz.ts without a group limit or external labels (see above), with
 * rules reading ALERTS (withAlertReaders).
 */
export function managerSuites(seed: number, count: number): AlertSuite[] {
  return alertSuites(seed, count * 2)
    .filter((s) => !s.rules.includes('    limit:'))
    .slice(0, count)
    .map((s) => ({ rules: s.rules, tests: s.tests.replace(/ {4}external_labels: \{[^}]*\}\n/, '') }))
    .map((s, i) => withAlertReaders(s, seed * 1000 + i))
}

/**
 * The suites of group-fuzz.ts (chained recording rules, alerts on them) that the manager
 * evaluates as promtool's runner does: groups in file order (the manager has no
 * group_eval_order) and no group limit.
 */
export function managerGroupSuites(seed: number, count: number): AlertSuite[] {
  return groupSuites(seed, count * 3)
    .filter((s) => {
      if (s.rules.includes('    limit:')) return false
      const order = s.tests.match(/group_eval_order: \[(.*)\]/)?.[1]
      const names = [...s.rules.matchAll(/^ {2}- name: (\S+)/gm)].map((m) => m[1])
      return order === undefined || order === names.join(', ')
    })
    .slice(0, count)
    .map((s, i) => withAlertReaders(s, seed * 1000 + i))
}

interface Alert {
  labels: Record<string, string>
  annotations: Record<string, string>
  state: string
  activeAt: number
  value: number
}

const line = (a: Alert) =>
  `${labelsKey(labelsFrom(a.labels)).replaceAll('\u0000', ' ')} ${a.state} since ${a.activeAt / 1000}s value ${a.value} ${JSON.stringify(Object.entries(a.annotations).sort())}`

/**
 * Runs one suite through both: the step-by-step record of each (`t=60s` then one line per
 * alert and per failing rule), equal when they agree.
 */
export async function bothRecords(
  database: DatabaseHandle,
  suite: AlertSuite,
  templates: 'prefetched' | 'embedded' = 'prefetched',
): Promise<{ runner: string[]; manager: string[] }> {
  await database.db.delete(alertRuleStates)
  const file = parseTestFile(suite.tests)
  const tg = file.tests[0]!
  const stepMs = file.evaluation_interval || 60_000
  const dir = mkdtempSync(join(tmpdir(), 'manager-fuzz-'))
  writeFileSync(join(dir, 'rules.yml'), suite.rules)
  const forRunner = loadInputSeries(tg.input_series, tg.intervalMs ?? 0)
  const forManager = loadInputSeries(tg.input_series, tg.intervalMs ?? 0)
  if (typeof forRunner === 'string' || typeof forManager === 'string') throw new Error('bad input series')

  const runnerRules = loadRuleFile(join(dir, 'rules.yml')).flatMap((group) =>
    group.rules.map((rule) =>
      rule.type === 'alerting'
        ? new EvaluatedAlertingRule(group, new CompiledQuery(rule.expr), rule)
        : new EvaluatedRecordingRule(group, new CompiledQuery(rule.expr), rule),
    ),
  )
  const ctx = { store: forRunner.store, externalLabels: {}, externalURL: '' }

  const source = new EmbeddedQuerySource(forManager.store)
  const groups = loadRules([join(dir, 'rules.yml')], {
    defaultIntervalMs: stepMs,
    compile: (expr) => source.compile(expr),
    record: true,
  })
  // The embedded engine's recorder, over the store the manager's source reads.
  const recorder = storeRecorder(forManager.store)
  const clock = manualClock('1970-01-01T00:00:00Z')
  const manager = createRuleManager({
    db: database.db,
    groups,
    source,
    recorder,
    // The template function query as the service answers it: prefetched (its path with
    // PROMETHEUS_URL) or synchronously from the embedded engine's store.
    templateQuery: templates === 'embedded' ? storeTemplateQuery(forManager.store) : undefined,
    dispatcher: alertingFor(database, undefined).alerting.dispatcher,
    clock,
    log: captureLogs('error').log,
  })

  const maxT = Math.max(
    0,
    ...tg.alert_rule_test.map((a) => a.evalTimeMs),
    ...tg.promql_expr_test.map((p) => p.evalTimeMs),
  )
  // What the rules left at each step: the series named r… (recording rules), ALERTS and
  // ALERTS_FOR_STATE (alerting rules) an instant query sees.
  const recorded = new CompiledQuery('{__name__=~"r.+|ALERTS|ALERTS_FOR_STATE"}')
  const seriesAt = (store: SampleStore, ts: number) =>
    resultAsVector(evaluateInstant(recorded, store, ts)).map(
      (s) => `${labelsKey(s.labels).replaceAll('\u0000', ' ')} = ${s.value}`,
    )
  const runner: string[] = []
  const managed: string[] = []
  for (let ts = 0; ts <= maxT; ts += stepMs) {
    forRunner.appendTill(ts)
    forManager.appendTill(ts)
    clock.set(new Date(ts).toISOString())
    runner.push(`t=${ts / 1000}s`)
    const alerts: Alert[] = []
    for (const rule of runnerRules) {
      rule.eval(ctx, ts)
      if (rule.lastError) runner.push(`${rule.name} err ${rule.lastError.message}`)
      if (rule instanceof EvaluatedAlertingRule)
        for (const a of rule.active.values()) if (a.state !== 'inactive') alerts.push(a)
    }
    runner.push(...alerts.map(line).sort(), ...seriesAt(forRunner.store, ts))
    await manager.evaluateAll()
    managed.push(`t=${ts / 1000}s`)
    for (const entry of groups.flatMap((g) => g.rules))
      if (entry.health === 'err') managed.push(`${entry.rule.name} err ${entry.lastError}`)
    const rows = await manager.activeAlerts()
    managed.push(
      ...rows
        .map((r) =>
          line({ ...r, activeAt: r.activeAt.getTime(), labels: r.labels, annotations: r.annotations }),
        )
        .sort(),
      ...seriesAt(forManager.store, ts),
    )
  }
  return { runner, manager: managed }
}

/** The first line where the two records part, with a little context, or undefined. */
export function firstDifference(a: string[], b: string[]): string | undefined {
  const n = Math.max(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) {
      let step = i
      while (step > 0 && !a[step]?.startsWith('t=')) step--
      return `at line ${i} (step ${a[step]}):\n  runner:  ${a.slice(i, i + 3).join(' | ')}\n  manager: ${b.slice(i, i + 3).join(' | ')}`
    }
  }
  return undefined
}

if (import.meta.main) {
  const { freshDatabase } = await import('../../helpers/db.ts')
  const database = await freshDatabase()
  const seed = arg('--seed', 1)
  const count = arg('--cases', 20)
  let agree = 0
  let shown = 0
  const suites = process.argv.includes('--groups')
    ? managerGroupSuites(seed, count)
    : managerSuites(seed, count)
  for (const [i, suite] of suites.entries()) {
    const { runner, manager } = await bothRecords(database, suite, i % 2 ? 'embedded' : 'prefetched')
    const difference = firstDifference(runner, manager)
    if (difference === undefined) agree++
    else if (shown++ < arg('--show', 2)) console.log(`\n${suite.rules}\n${suite.tests}\n${difference}`)
  }
  console.log(`seed ${seed}: ${count} suites, ${agree} agree, ${count - agree} differ`)
  if (process.argv.includes('--promtool')) {
    const run = await compareAlertSuites(suites)
    for (const d of run.differing.slice(0, arg('--show', 2)))
      console.log(`\n${d.rules}\n${d.tests}\n--- promtool\n${d.promtool}\n--- ours\n${d.ours}`)
    console.log(
      `seed ${seed}: promtool and rules:test: ${run.agree} agree, ${run.differing.length} differ (${run.printed} printed)`,
    )
  }
  await database.close()
}
