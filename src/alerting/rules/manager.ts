import { and, eq, notInArray, or, sql } from 'drizzle-orm'
import type { Clock } from '../../core/clock.ts'
import type { Logger } from '../../core/logger.ts'
import type { Database, Executor } from '../../db/client.ts'
import { alertRuleStates } from '../../db/schema.ts'
import { labelsFrom, labelsKey, METRIC_NAME } from '../../prometheus/promql/labels.ts'
import { type QuerySource, resultAsVector, type Sample } from '../../prometheus/promql/query-source.ts'
import {
  type AlertInstance,
  evaluateAlerts,
  fingerprint,
  prefetchTemplateQueries,
} from '../../prometheus/rules/alerting-rule.ts'
import { GlobPatternError, glob, hasMeta } from '../../prometheus/rules/glob.ts'
import { alertSeries } from '../../prometheus/rules/rule-eval.ts'
import {
  type AlertingRule,
  loadRuleFile,
  type RecordingRule,
  type Rule,
  RuleFileError,
  type RuleGroup,
} from '../../prometheus/rules/rulefmt.ts'
import { formatFloat } from '../../prometheus/template/go-fmt.ts'
import type { TemplateQueryFunc } from '../../prometheus/template/template.ts'
import type { AlertInput, Dispatcher } from '../notify/dispatcher.ts'
import { type AlertExample, exampleWindowMs, exemplarQueryFor, findExample } from './example.ts'
import type { ExemplarSource } from './exemplars.ts'

export type RuleHealth = 'ok' | 'err' | 'unknown' | 'skipped'

/** A rule as the ruleManager runs it, with what /alerts/rules reports about it. */
export interface LoadedRule<R extends Rule = Rule> {
  rule: R
  /**
   * The rule's key in the group's stored state (the `rule_name` column): its name, or
   * `name#n` (n = 1, 2…) when several rules of the group share the name — Prometheus keeps them
   * apart, and Sloth names the page and the ticket alert of an SLO alike.
   */
  stateKey: string
  health: RuleHealth
  lastError?: string
  lastEvaluation?: Date
  evaluationMs?: number
}

export interface LoadedGroup {
  group: RuleGroup
  /**
   * The group's identity in stored alert state, its advisory lock, the scheduler and metrics:
   * its name, or `file;name` when a group of another loaded file has the same name. Prometheus
   * keys groups by file and name (rules/manager.go `GroupKey`), so two files may both hold
   * a group `shop`; a unique name stays the key alone, so the state stored under it survives
   * a move of its file.
   */
  key: string
  intervalMs: number
  rules: LoadedRule[]
  /** When this process last evaluated the group, as Prometheus' `Group.GetLastEvaluation`. */
  lastEvaluation?: Date
  /** How long that evaluation took, as `Group.GetEvaluationTime`. */
  evaluationMs?: number
}

/** One evaluation of a group, as rules/group.go `DefaultEvalIterationFunc` reports it. */
export interface GroupEvaluation {
  /** When it started, ms since the epoch by the wall clock (`setLastEvaluation(start)`). */
  startedAtMs: number
  /** How long it took, in seconds (`setEvaluationTime`). */
  seconds: number
  /**
   * Samples its rules returned, as `Group.Eval` sums `len(vector)` of the rules that did not
   * fail: a recording rule's series, an alerting rule's ALERTS and ALERTS_FOR_STATE (two per
   * pending or firing alert). A rule whose output the store refused still counts.
   */
  samples: number
}

export interface RuleManagerMetrics {
  /** One rule evaluated in `group` (failed when its query errored). */
  ruleEvaluated(group: string, failed: boolean): void
  /**
   * The group was evaluated: the duration histogram, and the last evaluation's start
   * (prometheus_rule_group_last_evaluation_timestamp_seconds), duration
   * (…_last_duration_seconds) and samples (…_last_evaluation_samples), and the leader gauge
   * (alert_rule_group_leader) to 1: this replica held the group's lock, or the group has no
   * alerting rule and every replica evaluates it.
   */
  groupEvaluated(group: string, evaluation: GroupEvaluation): void
  /**
   * The group's tick found its advisory lock held by another replica, which evaluates its
   * alerting rules: this replica's last-evaluation gauges go back to their `NewGroup` 0 and
   * its leader gauge to 0, so that across replicas the leader's values are the only ones
   * (instead of those of the last tick this replica led, exported for good).
   */
  groupNotLed(group: string): void
  /** Active alerts by (alertname, state), replacing the previous counts. */
  activeAlerts(counts: Array<{ alertname: string; state: string; count: number }>): void
  /**
   * The group is scheduled: its iteration counters and last-evaluation gauges exist from now
   * on, at 0, and its interval (seconds) and number of rules (all of its file's, skipped ones
   * too: `len(o.Rules)`) are set, as Prometheus' `NewGroup` does, so that `increase()` sees the
   * first missed slot.
   */
  groupScheduled(group: string, intervalSeconds: number, rules: number): void
  /**
   * A tick of the group is evaluated, after `missed` (≥ 0) slots that were skipped because
   * the evaluation before overran them (those between the slot evaluated last and this tick's,
   * see awaitTick): Prometheus' rules/group.go `run` adds the missed slots to
   * prometheus_rule_group_iterations_missed_total and, with this one, to
   * prometheus_rule_group_iterations_total.
   */
  groupIteration(group: string, missed: number): void
}

export const noRuleManagerMetrics: RuleManagerMetrics = {
  ruleEvaluated() {},
  groupEvaluated() {},
  groupNotLed() {},
  activeAlerts() {},
  groupScheduled() {},
  groupIteration() {},
}

/**
 * Expands a comma-separated list of rule files (ALERT_RULES_FILES) with Go's `filepath.Glob`,
 * as Prometheus expands `rule_files`. A path without wildcards is kept even when it does not
 * exist, so that loading it fails naming the file instead of silently loading nothing.
 *
 * @throws RuleFileError for a malformed pattern, in Prometheus' words (`error retrieving rule
 *   files for rules/[: syntax error in pattern`).
 */
export function expandRuleFiles(patterns: string): string[] {
  return patterns
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .flatMap((pattern) => {
      if (!hasMeta(pattern)) return [pattern]
      try {
        return glob(pattern)
      } catch (err) {
        if (!(err instanceof GlobPatternError)) throw err
        throw new RuleFileError(`error retrieving rule files for ${pattern}: ${err.message}`)
      }
    })
}

export interface RuleLoadOptions {
  defaultIntervalMs: number
  /** Rejects an expression the query source cannot run (the embedded engine's subset). */
  compile?: (expr: string) => void
  /** Why the query source cannot judge an expression at all (it selects `up`…), if so. */
  skipReason?: (expr: string) => string | undefined
  /**
   * Whether the rule manager evaluates recording rules (the embedded engine, which records
   * into its own store). With a Prometheus server they are `skipped`: Prometheus loads the
   * same files and records them itself.
   */
  record?: boolean
  log?: Logger
}

/** Why a recording rule is skipped when the query source is a Prometheus server. */
export const RECORDED_BY_PROMETHEUS =
  'recorded by the Prometheus server (it loads the same rule files); the rule manager queries the result'

/**
 * Loads alerting and recording rules from rule files, in file and group order. A bad file,
 * group or rule is an error naming the file, group and rule.
 */
export function loadRules(files: string[], options: RuleLoadOptions): LoadedGroup[] {
  const groups: LoadedGroup[] = []
  for (const file of files) {
    for (const group of loadRuleFile(file)) {
      const rules: LoadedRule[] = []
      for (const rule of group.rules) {
        const namesakes = group.rules.filter((r) => r.name === rule.name)
        // Names are rule files' text, which may hold what PostgreSQL cannot (see storableText).
        const stateKey = storableText(
          namesakes.length > 1 ? `${rule.name}#${namesakes.indexOf(rule) + 1}` : rule.name,
        )
        if (rule.type === 'recording' && !options.record) {
          rules.push({ rule, stateKey, health: 'skipped', lastError: RECORDED_BY_PROMETHEUS })
          continue
        }
        try {
          options.compile?.(rule.expr)
        } catch (error) {
          throw new Error(`${file}: group "${group.name}": rule "${rule.name}": ${(error as Error).message}`)
        }
        const skipped = options.skipReason?.(rule.expr)
        rules.push(
          skipped
            ? { rule, stateKey, health: 'skipped', lastError: skipped }
            : { rule, stateKey, health: 'unknown' },
        )
      }
      // `interval: 0s` is no interval, as Prometheus' LoadGroups (`if rg.Interval != 0`): a
      // zero would re-arm the group's timer at 0 ms, one transaction after another.
      groups.push({
        group,
        key: storableText(group.name),
        intervalMs: group.intervalMs || options.defaultIntervalMs,
        rules,
      })
    }
  }
  const filesOf = new Map<string, Set<string>>()
  for (const { group } of groups)
    filesOf.set(group.name, (filesOf.get(group.name) ?? new Set()).add(group.file))
  for (const loaded of groups) {
    if ((filesOf.get(loaded.group.name)?.size ?? 0) > 1)
      loaded.key = storableText(`${loaded.group.file};${loaded.group.name}`)
  }
  return groups
}

type StateRow = typeof alertRuleStates.$inferSelect

/** The samples one evaluation of a group's rules returned so far (see GroupEvaluation.samples). */
interface SampleTally {
  samples: number
}

// jsonb does not keep key order; the engine's label sets must be sorted (labelsFrom).
const toInstance = (row: StateRow): AlertInstance => ({
  labels: labelsFrom(row.labels),
  annotations: row.annotations,
  state: row.state as AlertInstance['state'],
  activeAt: row.activeAt.getTime(),
  firedAt: row.firedAt?.getTime(),
  resolvedAt: row.resolvedAt?.getTime(),
  keepFiringSince: row.keepFiringSince?.getTime(),
  value: row.value,
})

/** A stored alert's identity among the orphans seen: its group, rule and fingerprint. */
const orphanId = (row: StateRow) => `${row.ruleGroup}\u0000${row.ruleName}\u0000${row.fingerprint}`

const date = (ms: number | undefined) => (ms === undefined ? null : new Date(ms))

/** The resolutions, at `ts` (ms), of the firing alerts among stored rows that are ending. */
const resolutionsOf = (rows: StateRow[], ts: number): AlertInput[] =>
  rows
    .filter((row) => row.state === 'firing')
    .map((row) => ({
      fingerprint: row.fingerprint,
      status: 'resolved' as const,
      labels: { ...row.labels },
      annotations: row.annotations,
      startsAt: row.firedAt ?? row.activeAt,
      endsAt: new Date(ts),
      value: formatFloat(row.value, 'g', -1),
    }))
const rowsOf = (result: unknown) =>
  (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<Record<string, unknown>>

/**
 * Where rules write their output: the embedded engine's sample store, so that later rules of
 * the group, later ticks and GET /slo select the recorded series (Prometheus' rules/group.go
 * `Group.Eval` appending each rule's output to its TSDB). Recording rules write their series,
 * alerting rules `ALERTS` and `ALERTS_FOR_STATE`. `write` gets every output series of one rule
 * at one evaluation and marks the series that rule stopped producing stale.
 */
export interface RuleRecorder {
  /**
   * Writes a recording rule's samples at `ts` (ms) and marks the series it no longer returns
   * stale, as Prometheus' `Group.Eval` appends rule output (see `writeRuleOutput`).
   * @returns the appender's refusal the rule then fails with (`duplicate sample for
   *   timestamp`, `out of order sample`), or undefined
   */
  write(ruleKey: string, samples: readonly Sample[], ts: number): Error | undefined
}

/** A rule's key in the recorder: its group's file and name, and its place in the group. */
const recorderKey = (loaded: LoadedGroup, entry: LoadedRule) =>
  `${loaded.group.file}|${loaded.group.name}|${loaded.rules.indexOf(entry)}`

export interface RuleManagerDeps {
  db: Database
  groups: LoadedGroup[]
  source: QuerySource
  /**
   * Required when any recording rule is loaded to be evaluated (`record: true`). Alerting
   * rules write ALERTS and ALERTS_FOR_STATE into it too; unset (a Prometheus server, which
   * writes them itself), they write nothing.
   */
  recorder?: RuleRecorder
  dispatcher: Dispatcher
  clock: Clock
  log: Logger
  metrics?: RuleManagerMetrics
  externalURL?: string
  /**
   * The engine behind the template function `query`, evaluated at the rule's evaluation time
   * (the embedded engine; templates run synchronously, as in Prometheus). Unset with a remote
   * Prometheus: `query` in a template then expands to Prometheus' "no query engine" error.
   */
  templateQuery?: (expr: string, ts: number) => ReturnType<TemplateQueryFunc>
  /**
   * Where a firing alert finds its example request (Prometheus' query_exemplars, or the
   * embedded engine's exemplars), and TRACE_BASE_URL for its trace link. Unset: no examples.
   */
  examples?: { source: ExemplarSource; traceBaseUrl?: string }
  /**
   * How often (ms) the orphan sweep runs when no loaded group has a live alerting rule (see
   * ORPHAN_SWEEP_KEY): the deployment's default group interval (ALERT_EVAL_INTERVAL, as
   * Prometheus' global evaluation_interval). Unset: RESEND_DELAY_MS.
   */
  orphanSweepIntervalMs?: number
}

/** Prometheus' `--rules.alert.resend-delay` default (ms): an alert is re-sent at most this often. */
export const RESEND_DELAY_MS = 60_000

/**
 * How many times max(group interval, RESEND_DELAY_MS) the stored alert of a rule no longer
 * loaded must go unwritten before it is resolved: the 4 of Prometheus' `ValidUntil`
 * (rules/alerting.go `sendAlerts`), after which Alertmanager resolves an alert not re-sent.
 */
export const ORPHAN_QUIET_INTERVALS = 4

/**
 * The orphan sweep's key in the scheduler (its phase, see nextEvaluationAt). With no loaded
 * group holding a live alerting rule (a file left with recording rules only, no group at all,
 * every alerting rule skipped) no group transaction retires the stored alerts of the rules
 * that are gone, so the manager sweeps them on its own schedule instead; the sweep takes each
 * orphan group's advisory lock as a group does (see retireUnloaded).
 */
export const ORPHAN_SWEEP_KEY = 'convo-commerce:orphan-sweep'

/**
 * Distinct exemplar queries one rule evaluation runs at most: a message shows 10 alerts in
 * full, and a rule that suddenly fires for thousands of series must not query thousands of times.
 */
export const EXAMPLE_QUERIES_PER_RULE = 10

/**
 * The scheduled ruleManager: each group at its interval, all its rules in order at one
 * timestamp, with Prometheus' alert semantics; state in the database; firing/resolved
 * transitions handed to the dispatcher in the same transaction. Several replicas: the tick's
 * transaction takes pg_try_advisory_xact_lock for the group, so exactly one of them evaluates
 * its alerting rules. Recording rules write into this process's own store (the embedded
 * engine), so every replica evaluates them, leader or not, and its GET /slo sees them. ALERTS
 * and ALERTS_FOR_STATE are written by the replica that evaluates the alerting rules, into its
 * own store: a rule reading them on another replica sees none.
 */
/**
 * Prometheus' rule manager for the service: the loaded groups, evaluated on their schedule,
 * with alert state in the database (as Prometheus' `rules.Manager` with `rules.Group`).
 */
export interface RuleManager {
  readonly groups: LoadedGroup[]
  /** The query source the rules run on (Prometheus or the embedded engine); GET /slo reads it too. */
  readonly source: QuerySource
  /**
   * Evaluates one group now, all its rules at one timestamp: `atMs` (ms since the epoch, the
   * scheduler's slot, as Prometheus' `Group.Eval(ctx, evalTimestamp)`), else the clock's now.
   * 'not-leader' when another replica holds the group's advisory lock (its recording rules
   * still run here). A failed query marks the rule `err` and changes no alert state; it does
   * not throw.
   */
  evaluateGroup(loaded: LoadedGroup, atMs?: number): Promise<'evaluated' | 'not-leader'>
  /**
   * Every group once, in order (the one-shot command, tests), then the orphan sweep when no
   * group has a live alerting rule (see ORPHAN_SWEEP_KEY). One outcome per group.
   */
  evaluateAll(): Promise<Array<'evaluated' | 'not-leader'>>
  /**
   * Schedules every group at its interval, without overlap, and the orphan sweep when no
   * group has a live alerting rule (even with no group at all); idempotent.
   */
  start(): void
  /** Stops scheduling and waits for the evaluations in progress. */
  stop(): Promise<void>
  /** Pending and firing alerts, newest `activeAt` first, from the database (the same on every replica). */
  activeAlerts(): Promise<Array<typeof alertRuleStates.$inferSelect>>
}

/**
 * When a group evaluates next (ms since the epoch): its first slot after `nowMs`. Slots are
 * `intervalMs` apart at a phase fixed by the group's key, as Prometheus' rules/group.go
 * `EvalTimestamp` (offset = hash % interval; the first evaluation at EvalTimestamp(now) +
 * interval, then a ticker: the next tick after `nowMs` is this slot too). So an evaluation's
 * duration does not push the next one later, a slow one evaluates the latest slot when it ends
 * and skips the ones before it instead of catching up, and every
 * replica, whenever it started, ticks in the same slots, where the group's advisory lock lets
 * one of them evaluate at a time (with phases of their own, each replica evaluated the group
 * at its own ticks: twice per interval with two). Ticks that do not overlap both evaluate,
 * at the slot's timestamp, so the second finds the state the first stored for that timestamp. The hash is the key's Alertmanager fingerprint (FNV-1a),
 * not Prometheus' xxhash of file and name: the phase differs from Prometheus', the cadence not.
 */
export function nextEvaluationAt(key: string, intervalMs: number, nowMs: number): number {
  const offset = Number(BigInt(`0x${fingerprint({ rule_group: key })}`) % BigInt(intervalMs))
  const adjusted = nowMs - offset
  const slot = adjusted - (((adjusted % intervalMs) + intervalMs) % intervalMs) + offset
  return slot + intervalMs
}

/**
 * A label or annotation (name or value) as the alert state's jsonb columns can hold it, or a
 * rule or group name as its text columns can: PostgreSQL
 * refuses U+0000 and unpaired surrogates in jsonb (and text), which Prometheus' Go strings
 * hold. Series labels from Prometheus or an exporter, and templates (`{{ "\x00" }}`), can
 * carry U+0000; each such character becomes U+FFFD, Unicode's replacement character (two
 * series that differ only there are then one alert identity, the rule's duplicate-labelset
 * error). Applied before an alert's identity is taken (TemplateContext.storable),
 * so the alert read back is the one the next evaluation computes; unchanged text is returned
 * as it is.
 */
export function storableText(text: string): string {
  return text.includes('\u0000') || !text.isWellFormed()
    ? text.replaceAll('\u0000', '\uFFFD').toWellFormed()
    : text
}

/** The orphan sweep of a process that runs no rule manager (see createOrphanSweep). */
export interface OrphanSweep {
  /** One sweep now: resolves the stored alerts found quiet for their quiet time. */
  sweep(): Promise<void>
  /** Sweeps at every slot of `orphanSweepIntervalMs` (ORPHAN_SWEEP_KEY's phase); idempotent. */
  start(): void
  /** Stops sweeping and waits for a sweep in progress. */
  stop(): Promise<void>
}

// The sweep runs no rule, so it never queries.
const NO_QUERIES: QuerySource = {
  instantQuery: () => Promise.reject(new Error('the orphan sweep evaluates no rule')),
}

/**
 * The orphan sweep alone, for a process whose rule manager is off (ALERTS_ENABLED=false): the
 * stored alerts of rules no process evaluates any more resolve after their quiet time (see
 * retireUnloaded), as Alertmanager resolves a stopped Prometheus' alerts once the endsAt of
 * their last send has passed. Without it a firing alert stored before the manager was turned
 * off stayed firing, and was repeated, for good. An alert another replica still evaluates is
 * rewritten at each evaluation and never quiet, so it is left to that replica.
 */
export function createOrphanSweep(
  deps: Pick<RuleManagerDeps, 'db' | 'dispatcher' | 'clock' | 'log' | 'orphanSweepIntervalMs'>,
): OrphanSweep {
  const manager = createRuleManager({ ...deps, groups: [], source: NO_QUERIES })
  return {
    async sweep() {
      await manager.evaluateAll()
    },
    start: manager.start,
    stop: manager.stop,
  }
}

export function createRuleManager(deps: RuleManagerDeps): RuleManager {
  const { db, clock, log } = deps
  const metrics = deps.metrics ?? noRuleManagerMetrics
  // Without storableText one such label made the group's transaction fail at every
  // evaluation: no alert of the group, whatever its rule, could fire or resolve.
  const context = { externalLabels: {}, externalURL: deps.externalURL ?? '', storable: storableText }
  const running = new Map<string, Promise<'evaluated' | 'not-leader'>>()
  const timers = new Map<string, ReturnType<typeof setTimeout>>()
  let stopped = true
  // The orphan sweep's timer and run in progress, apart from the groups' (a group may be
  // named anything, ORPHAN_SWEEP_KEY too).
  let sweepTimer: ReturnType<typeof setTimeout> | undefined
  let sweeping: Promise<void> | undefined
  // Stored alerts of rules this process does not run, by group, rule and fingerprint: the row
  // version (xmin) first seen and since when it has not changed (see retireUnloaded).
  const orphansSeen = new Map<string, { version: string; since: number }>()
  // The sweep's interval, and the quiet-time interval of an orphan whose group is unknown.
  const defaultIntervalMs = deps.orphanSweepIntervalMs || RESEND_DELAY_MS

  async function evaluateRule(
    tx: Executor,
    loaded: LoadedGroup,
    entry: LoadedRule<AlertingRule>,
    rows: StateRow[],
    ts: number,
    tally: SampleTally,
  ) {
    const { group } = loaded
    const active = new Map<string, AlertInstance>()
    for (const row of rows) {
      const instance = toInstance(row)
      active.set(labelsKey(instance.labels), instance)
    }
    const before = new Map([...active].map(([key, a]) => [key, { state: a.state, firedAt: a.firedAt }]))
    const started = clock.monotonic()
    entry.lastEvaluation = clock.now()
    let refused: Error | undefined
    try {
      const results = resultAsVector(
        await deps.source.instantQuery(entry.rule.expr, new Date(ts - group.queryOffsetMs)),
      )
      const templateQuery = deps.templateQuery
      // A remote source answers asynchronously: the templates' queries are asked for first.
      const query = templateQuery
        ? (expr: string) => templateQuery(expr, ts)
        : await prefetchTemplateQueries(entry.rule, group.labels, results, context, async (expr) =>
            resultAsVector(await deps.source.instantQuery(expr, new Date(ts))),
          )
      // The group's `limit` counts pending and firing alerts (kept firing included), not the
      // resolved ones still kept: Prometheus' `numActivePending`.
      const present = evaluateAlerts(entry.rule, group.labels, active, results, ts, { ...context, query })
      // Over the limit the rule fails before writing, as Group.Eval appends nothing for a failed
      // rule: its ALERTS series from the last evaluation that wrote get no stale marker now.
      if (group.limit > 0 && present.length > group.limit)
        return await dropOverLimit(tx, loaded, entry, rows, present.length, ts)
      const written = writeAlertSeries(loaded, entry, present, ts)
      refused = written.refused
      tally.samples += written.samples
    } catch (error) {
      // A failed query must not resolve anything: the stored state stays exactly as it was.
      entry.health = 'err'
      entry.lastError = (error as Error).message
      entry.evaluationMs = clock.monotonic() - started
      metrics.ruleEvaluated(loaded.key, true)
      log.warn(
        { group: loaded.key, rule: entry.rule.name, error: entry.lastError },
        'alert rule evaluation failed',
      )
      return []
    }
    // As Group.Eval: a refused ALERTS sample fails the rule (health and last error) without
    // counting as a failed evaluation; the alerts themselves are updated and notified all the same.
    entry.health = refused ? 'err' : 'ok'
    entry.lastError = refused?.message
    entry.evaluationMs = clock.monotonic() - started
    metrics.ruleEvaluated(loaded.key, false)
    if (refused)
      log.warn(
        { group: loaded.key, rule: entry.rule.name, error: refused.message },
        'alert rule output discarded',
      )

    const transitions: AlertInput[] = []
    const kept: string[] = []
    for (const [key, alert] of active) {
      const fp = fingerprint(alert.labels)
      kept.push(fp)
      const previous = before.get(key)
      const firedNow =
        alert.state === 'firing' && (previous?.state !== 'firing' || previous.firedAt !== alert.firedAt)
      const resolvedNow = alert.state === 'inactive' && previous?.state === 'firing'
      if (firedNow || resolvedNow) {
        transitions.push({
          fingerprint: fp,
          status: firedNow ? 'firing' : 'resolved',
          labels: { ...alert.labels },
          annotations: alert.annotations,
          startsAt: new Date(alert.firedAt ?? alert.activeAt),
          endsAt: date(alert.resolvedAt) ?? undefined,
          value: formatFloat(alert.value, 'g', -1),
        })
      }
      const values = {
        ruleGroup: loaded.key,
        ruleName: entry.stateKey,
        fingerprint: fp,
        labels: { ...alert.labels },
        annotations: alert.annotations,
        state: alert.state,
        activeAt: new Date(alert.activeAt),
        firedAt: date(alert.firedAt),
        resolvedAt: date(alert.resolvedAt),
        keepFiringSince: date(alert.keepFiringSince),
        value: alert.value,
        intervalMs: loaded.intervalMs,
        ...(firedNow || resolvedNow ? { lastNotifiedAt: new Date(ts) } : {}),
      }
      await tx
        .insert(alertRuleStates)
        .values(values)
        .onConflictDoUpdate({
          target: [alertRuleStates.ruleGroup, alertRuleStates.ruleName, alertRuleStates.fingerprint],
          set: values,
        })
    }
    await tx
      .delete(alertRuleStates)
      .where(
        and(
          eq(alertRuleStates.ruleGroup, loaded.key),
          eq(alertRuleStates.ruleName, entry.stateKey),
          kept.length ? notInArray(alertRuleStates.fingerprint, kept) : undefined,
        ),
      )
    await attachExamples(entry.rule, transitions, ts)
    return transitions
  }

  /**
   * Writes a rule's ALERTS and ALERTS_FOR_STATE at this evaluation (see alertSeries), as
   * rules/alerting.go `AlertingRule.Eval` returns them and rules/group.go `Group.Eval` appends
   * them: at the evaluation's time less the group's query_offset, right away, so that the
   * rules after it in the group see them at the same timestamp; the series of the rule's
   * alerts that resolved or vanished get staleness markers. Nothing without a recorder (a
   * Prometheus server writes its own). Unlike Prometheus (rules/group.go `RestoreForState`),
   * nothing reads ALERTS_FOR_STATE back after a restart: the alerts' state, activeAt included,
   * is kept in alert_rule_states, and the first evaluation writes the series from it.
   * @returns the store's refusal (`duplicate sample for timestamp` when two rules of one
   *   name hold the same alert with different activeAt), or undefined; and how many series
   *   the rule returned, recorder or not (Prometheus counts them before appending)
   */
  function writeAlertSeries(
    loaded: LoadedGroup,
    entry: LoadedRule<AlertingRule>,
    present: readonly AlertInstance[],
    ts: number,
  ): { refused: Error | undefined; samples: number } {
    const series = alertSeries(entry.rule, loaded.group.labels, present)
    const refused = deps.recorder?.write(recorderKey(loaded, entry), series, ts - loaded.group.queryOffsetMs)
    return { refused, samples: series.length }
  }

  /**
   * Gives each newly firing alert of a rule its example request: the latest exemplar, within
   * the window the rule's expression reads, of the series its exemplar query names (see
   * exemplarQueryFor). Alerts sharing a query share the example; queries run in parallel,
   * each bounded by the source's timeout. A failed lookup only costs the example: the alert
   * is notified all the same.
   */
  async function attachExamples(rule: AlertingRule, transitions: AlertInput[], ts: number) {
    const examples = deps.examples
    if (!examples) return
    const lookups = new Map<string, Promise<AlertExample | undefined>>()
    const windowMs = exampleWindowMs(rule.expr)
    const waiting: Array<{ alert: AlertInput; query: string }> = []
    for (const alert of transitions) {
      if (alert.status !== 'firing') continue
      const query = exemplarQueryFor(alert.labels, alert.annotations)
      if (!query) continue
      if (!lookups.has(query)) {
        if (lookups.size >= EXAMPLE_QUERIES_PER_RULE) continue
        lookups.set(
          query,
          findExample(examples.source, query, ts, windowMs, examples.traceBaseUrl).catch((error) => {
            log.warn(
              { rule: rule.name, error: (error as Error).message },
              'no example request for the alert: the exemplar query failed',
            )
            return undefined
          }),
        )
      }
      waiting.push({ alert, query })
    }
    for (const { alert, query } of waiting) {
      const example = await lookups.get(query)
      if (example) alert.example = example
    }
  }

  /**
   * One recording rule at `ts`, as Prometheus' rules.RecordingRule.Eval: the result's metric
   * name becomes the rule's name, group then rule labels are set, a label set produced twice is
   * an error, and the samples go to the recorder at `ts` less the group's query_offset (stale
   * markers for vanished series).
   * A failed query records nothing new, so the previous samples age out as Prometheus' do.
   */
  async function evaluateRecording(
    loaded: LoadedGroup,
    entry: LoadedRule<RecordingRule>,
    ts: number,
    tally: SampleTally,
  ) {
    const { group } = loaded
    const started = clock.monotonic()
    entry.lastEvaluation = clock.now()
    try {
      if (!deps.recorder) throw new Error('no recorder: recording rules need the embedded engine')
      const samples: Sample[] = []
      const seen = new Set<string>()
      for (const s of resultAsVector(
        await deps.source.instantQuery(entry.rule.expr, new Date(ts - group.queryOffsetMs)),
      )) {
        const labels = labelsFrom({
          ...s.labels,
          ...group.labels,
          ...entry.rule.labels,
          [METRIC_NAME]: entry.rule.name,
        })
        const key = labelsKey(labels)
        if (seen.has(key))
          throw new Error('vector contains metrics with the same labelset after applying rule labels')
        seen.add(key)
        samples.push({ labels, value: s.value })
      }
      // As Prometheus' RecordingRule.Eval: over the group's limit the rule fails, recording nothing.
      const limit = group.limit
      if (limit > 0 && samples.length > limit)
        throw new Error(`exceeded limit of ${limit} with ${samples.length} series`)
      // At the query's time, as Group.Eval appends the samples the query returned (and marks
      // stale there): a later rule of the group, querying at that time too, reads them.
      const refused = deps.recorder.write(recorderKey(loaded, entry), samples, ts - group.queryOffsetMs)
      tally.samples += samples.length
      // As Group.Eval: a refused sample fails the rule (health and last error) without counting
      // as a failed evaluation, which prometheus_rule_evaluation_failures_total keeps for queries.
      entry.health = refused ? 'err' : 'ok'
      entry.lastError = refused?.message
      metrics.ruleEvaluated(loaded.key, false)
      if (refused)
        log.warn(
          { group: loaded.key, rule: entry.rule.name, error: refused.message },
          'recording rule output discarded',
        )
    } catch (error) {
      entry.health = 'err'
      entry.lastError = (error as Error).message
      metrics.ruleEvaluated(loaded.key, true)
      log.warn(
        { group: loaded.key, rule: entry.rule.name, error: entry.lastError },
        'recording rule evaluation failed',
      )
    }
    entry.evaluationMs = clock.monotonic() - started
  }

  /**
   * More alerts than the group's `limit`: as Prometheus' AlertingRule.Eval, the rule's alerts
   * are dropped and the rule fails with "exceeded limit of N with M alerts". Prometheus then
   * stops sending them and Alertmanager resolves them once their endsAt passes; here the
   * alerts that were firing are resolved at once, so no message keeps announcing them.
   */
  async function dropOverLimit(
    tx: Executor,
    loaded: LoadedGroup,
    entry: LoadedRule<AlertingRule>,
    rows: StateRow[],
    count: number,
    ts: number,
  ): Promise<AlertInput[]> {
    entry.health = 'err'
    entry.lastError = `exceeded limit of ${loaded.group.limit} with ${count} alerts`
    entry.evaluationMs = 0
    metrics.ruleEvaluated(loaded.key, true)
    log.warn(
      { group: loaded.key, rule: entry.rule.name, error: entry.lastError },
      'alert rule evaluation failed',
    )
    await tx
      .delete(alertRuleStates)
      .where(and(eq(alertRuleStates.ruleGroup, loaded.key), eq(alertRuleStates.ruleName, entry.stateKey)))
    return resolutionsOf(rows, ts)
  }

  /**
   * Ends the stored alerts of alerting rules this process does not evaluate: rules removed
   * from their group's file, now skipped, or in a group no longer loaded (or holding only
   * recording rules now). Prometheus' `Manager.Update` drops them on reload (`Group.CopyState`
   * keeps only the rules still there; a removed group stops with `markStale`) and stops
   * re-sending them, so Alertmanager resolves them once the `endsAt` of their last send has
   * passed: 4 × max(group interval, resend delay of 1m) after it (rules/alerting.go
   * `sendAlerts`). The dispatcher has no such expiry for this manager's alerts, so they are
   * resolved here after as long a quiet time (ORPHAN_QUIET_INTERVALS), pending and already
   * resolved ones without a word. The interval is the one of the group that last wrote the
   * alert (stored with it, as Prometheus' ValidUntil is set by the sending group), not the
   * interval of the group or sweep that finds it; a row stored without one (written before
   * the column) takes its loaded group's interval, else `defaultIntervalMs`. Quiet means the row's version (PostgreSQL's `xmin`, new at
   * every upsert) did not change: a replica still running the old file (a rolling deploy)
   * rewrites its rows at each evaluation and keeps them. An orphan group whose advisory lock
   * another replica holds now is left to it.
   * Without `loaded` (the orphan sweep, when no group has a live alerting rule) every stored
   * alert is an orphan, and each group's lock is taken before its rows go.
   * @returns the resolutions to hand to the dispatcher, by the group key they belonged to
   */
  async function retireUnloaded(
    tx: Executor,
    loaded: LoadedGroup | undefined,
    ts: number,
  ): Promise<Map<string, AlertInput[]>> {
    const live = new Set(loaded?.rules.filter(isLiveAlerting).map((entry) => entry.stateKey))
    const orphans = notInArray(alertRuleStates.ruleGroup, alertingGroupKeys)
    const candidates = (
      await tx
        .select({ row: alertRuleStates, version: sql<string>`xmin::text` })
        .from(alertRuleStates)
        .where(loaded ? or(eq(alertRuleStates.ruleGroup, loaded.key), orphans) : orphans)
    ).filter(({ row }) => row.ruleGroup !== loaded?.key || !live.has(row.ruleName))
    const quietMs = (row: StateRow) =>
      ORPHAN_QUIET_INTERVALS *
      Math.max(row.intervalMs ?? loadedIntervals.get(row.ruleGroup) ?? defaultIntervalMs, RESEND_DELAY_MS)
    const due = new Map<string, Array<{ row: StateRow; version: string }>>()
    for (const { row, version } of candidates) {
      const id = orphanId(row)
      const seen = orphansSeen.get(id)
      if (!seen || seen.version !== version) orphansSeen.set(id, { version, since: ts })
      else if (ts - seen.since >= quietMs(row))
        due.set(row.ruleGroup, [...(due.get(row.ruleGroup) ?? []), { row, version }])
    }
    const retired = new Map<string, AlertInput[]>()
    for (const [key, rows] of due) {
      if (key !== loaded?.key && !(await tryGroupLock(tx, key))) continue
      const deleted: StateRow[] = []
      for (const { row, version } of rows) {
        orphansSeen.delete(orphanId(row))
        // Only the version seen quiet: the candidates were read before the group's lock, so
        // another replica may have resolved the row since (its resolution is not sent twice)
        // or a replica on the old file rewritten it (it is not ended under it).
        const [gone] = await tx
          .delete(alertRuleStates)
          .where(
            and(
              eq(alertRuleStates.ruleGroup, row.ruleGroup),
              eq(alertRuleStates.ruleName, row.ruleName),
              eq(alertRuleStates.fingerprint, row.fingerprint),
              sql`xmin::text = ${version}`,
            ),
          )
          .returning()
        if (gone) deleted.push(gone)
      }
      retired.set(key, resolutionsOf(deleted, ts))
    }
    return retired
  }

  const isRecording = (entry: LoadedRule): entry is LoadedRule<RecordingRule> =>
    entry.rule.type === 'recording'
  const isAlerting = (entry: LoadedRule): entry is LoadedRule<AlertingRule> => entry.rule.type === 'alerting'
  const isLiveAlerting = (entry: LoadedRule) => isAlerting(entry) && entry.health !== 'skipped'
  // The groups whose alerts some evaluation of this process keeps; stored state under any other
  // key is retired (see retireUnloaded).
  const alertingGroupKeys = deps.groups.filter((g) => g.rules.some(isLiveAlerting)).map((g) => g.key)
  const loadedIntervals = new Map(deps.groups.map((g) => [g.key, g.intervalMs]))

  /** Takes the group's advisory lock for this transaction; false when another replica holds it. */
  async function tryGroupLock(tx: Executor, key: string): Promise<boolean> {
    const [lock] = rowsOf(
      await tx.execute(
        sql`select pg_try_advisory_xact_lock(hashtextextended(${`convo-commerce:alerts:${key}`}, 0)) as locked`,
      ),
    )
    return Boolean(lock?.locked)
  }

  /**
   * One evaluation of a group: its recording rules always, its alerting rules if this process
   * leads the group. A group of recording rules only takes no database transaction.
   */
  async function evaluateGroupOnce(loaded: LoadedGroup, atMs?: number): Promise<'evaluated' | 'not-leader'> {
    const wall = clock.now()
    const ts = atMs ?? wall.getTime()
    const started = clock.monotonic()
    const tally: SampleTally = { samples: 0 }
    const live = loaded.rules.filter((entry) => entry.health !== 'skipped')
    const outcome = !live.some(isAlerting)
      ? await (async () => {
          for (const entry of live) if (isRecording(entry)) await evaluateRecording(loaded, entry, ts, tally)
          return 'evaluated' as const
        })()
      : await db.transaction(async (tx) => {
          const leader = await tryGroupLock(tx, loaded.key)
          const rows = leader
            ? await tx.select().from(alertRuleStates).where(eq(alertRuleStates.ruleGroup, loaded.key))
            : []
          const transitions: AlertInput[] = []
          // In group order, so a rule sees what the rules before it wrote at `ts` (recorded
          // series, ALERTS).
          for (const entry of live) {
            if (isRecording(entry)) await evaluateRecording(loaded, entry, ts, tally)
            else if (leader && isAlerting(entry)) {
              const ruleRows = rows.filter((r) => r.ruleName === entry.stateKey)
              transitions.push(...(await evaluateRule(tx, loaded, entry, ruleRows, ts, tally)))
            } else if (isAlerting(entry)) {
              // Another replica holds these alerts now: the ALERTS this one wrote while it led
              // the group end here rather than linger for the lookback.
              writeAlertSeries(loaded, entry, [], ts)
            }
          }
          if (!leader) return 'not-leader' as const
          for (const [key, resolutions] of await retireUnloaded(tx, loaded, ts)) {
            if (key === loaded.key) transitions.push(...resolutions)
            else if (resolutions.length > 0)
              await deps.dispatcher.ingest(resolutions, `rule group ${key}`, tx)
          }
          if (transitions.length > 0)
            await deps.dispatcher.ingest(transitions, `rule group ${loaded.key}`, tx)
          return 'evaluated' as const
        })
    if (outcome === 'evaluated') {
      loaded.lastEvaluation = wall
      loaded.evaluationMs = clock.monotonic() - started
      metrics.groupEvaluated(loaded.key, {
        startedAtMs: wall.getTime(),
        seconds: loaded.evaluationMs / 1000,
        samples: tally.samples,
      })
    } else metrics.groupNotLed(loaded.key)
    // alerts_active counts the shared table, so every replica refreshes it, the ones that did
    // not lead too: a replica that lost the lock kept the counts of its last led tick (an
    // alert firing there after the leader had resolved it).
    await refreshActiveGauge()
    return outcome
  }

  // The groups' transactions retire orphans as long as one group has a live alerting rule;
  // without one, only the sweep does, and with one it never runs (no resolution twice).
  const sweeps = alertingGroupKeys.length === 0

  /**
   * The orphan sweep (see ORPHAN_SWEEP_KEY): the stored alerts of every group, none of which
   * this process evaluates, retired by retireUnloaded in one transaction, their resolutions
   * handed to the dispatcher by the group they belonged to.
   */
  async function sweepOrphansOnce(): Promise<void> {
    const ts = clock.now().getTime()
    const retired = await db.transaction(async (tx) => {
      let count = 0
      for (const [key, resolutions] of await retireUnloaded(tx, undefined, ts)) {
        count++
        if (resolutions.length > 0) await deps.dispatcher.ingest(resolutions, `rule group ${key}`, tx)
      }
      return count
    })
    if (retired > 0) await refreshActiveGauge()
  }

  /** Runs the sweep; a call while one runs waits for it instead (as evaluateGroup). */
  function sweepOrphans(): Promise<void> {
    sweeping ??= sweepOrphansOnce().finally(() => {
      sweeping = undefined
    })
    return sweeping
  }

  function scheduleSweep() {
    if (stopped) return
    const now = clock.now().getTime()
    sweepTimer = setTimeout(
      () => {
        sweepOrphans()
          .catch((error) => log.error({ err: error }, 'retiring the alerts of unloaded rules failed'))
          .finally(scheduleSweep)
      },
      nextEvaluationAt(ORPHAN_SWEEP_KEY, defaultIntervalMs, now) - now,
    )
  }

  async function refreshActiveGauge() {
    const rows = await db
      .select({
        alertname: sql<string>`${alertRuleStates.labels}->>'alertname'`,
        state: alertRuleStates.state,
        count: sql<number>`count(*)::int`,
      })
      .from(alertRuleStates)
      .groupBy(sql`${alertRuleStates.labels}->>'alertname'`, alertRuleStates.state)
    metrics.activeAlerts(
      rows.map((r) => ({ alertname: r.alertname, state: r.state, count: Number(r.count) })),
    )
  }

  /** Evaluates a group; a call while the previous evaluation of that group runs waits for it instead. */
  function evaluateGroup(loaded: LoadedGroup, atMs?: number) {
    const inFlight = running.get(loaded.key)
    if (inFlight) return inFlight
    const run = evaluateGroupOnce(loaded, atMs).finally(() => running.delete(loaded.key))
    running.set(loaded.key, run)
    return run
  }

  /**
   * Starts the group's loop, as rules/group.go `run`: a first timer for the group's next slot
   * (`EvalTimestamp(now) + interval`), whose evaluation counts one iteration and no missed
   * one (`iter()` before any tick), then the ticker (see awaitTick). A first timer that fires
   * an interval or more late (the event loop blocked) evaluates the latest slot, not the first:
   * Prometheus evaluates the first, but here the group's state is shared, and a replica that
   * kept ticking may have stored it at a later slot, which an evaluation at the older one would
   * take back (a firing alert resolved, then fired again). The slots it skipped count as missed,
   * so the totals are Prometheus' from the next tick on (its next tick counts them instead).
   */
  function schedule(loaded: LoadedGroup) {
    if (stopped) return
    const now = clock.now().getTime()
    const first = nextEvaluationAt(loaded.key, loaded.intervalMs, now)
    timers.set(
      loaded.key,
      setTimeout(() => {
        const at = Math.max(clock.now().getTime(), first)
        const slot = nextEvaluationAt(loaded.key, loaded.intervalMs, at) - loaded.intervalMs
        metrics.groupIteration(loaded.key, (slot - first) / loaded.intervalMs)
        evaluateTick(loaded, slot, at)
      }, first - now),
    )
  }

  /**
   * Waits for the group's next tick, as rules/group.go `run` receives from its
   * `time.NewTicker(g.interval)`. The ticker ticks at every slot after the one evaluated first
   * (Go's starts just after that slot; its lag only moves when a tick is received, never which
   * slot is evaluated) and its channel holds one tick: the ticks that came while an evaluation
   * ran are all one, and Go drops the rest. So after an evaluation that overran `nextTick`
   * (ms), the tick is received at once; otherwise at `nextTick`. Once received, the ticker
   * ticks next at the first slot after now (Go's runtime timer: `when + period*(1 +
   * (now-when)/period)`). At the tick, as `run`:
   *   missed := (time.Since(evalTimestamp) / g.interval) - 1
   *   evalTimestamp = evalTimestamp.Add((missed + 1) * g.interval)
   * from `evaluated`, the slot (ms) evaluated last: the latest slot that has come is evaluated
   * now, late if the evaluation before overran it, and the ones between the two are missed.
   * An evaluation taking 1 or 1.5 intervals misses none, 2.5 misses 1, 3 misses 2.
   */
  function awaitTick(loaded: LoadedGroup, evaluated: number, nextTick: number) {
    if (stopped) return
    const now = clock.now().getTime()
    timers.set(
      loaded.key,
      setTimeout(
        () => {
          // A timer that fires a little early by the clock ticks at its slot all the same.
          const at = Math.max(clock.now().getTime(), nextTick)
          const missed = Math.floor((at - evaluated) / loaded.intervalMs) - 1
          metrics.groupIteration(loaded.key, missed)
          evaluateTick(loaded, evaluated + (missed + 1) * loaded.intervalMs, at)
        },
        Math.max(0, nextTick - now),
      ),
    )
  }

  /**
   * Evaluates `slot` (ms), then waits for the ticker's next tick: the first slot after
   * `receivedAt` (ms), when this tick was received.
   */
  function evaluateTick(loaded: LoadedGroup, slot: number, receivedAt: number) {
    const nextTick = nextEvaluationAt(loaded.key, loaded.intervalMs, receivedAt)
    // At the slot, not at the timer's now: two replicas' ticks of one slot run one after
    // the other when the first commits (and frees the group's lock) before the second
    // starts, and at the slot's timestamp the second repeats the first instead of taking
    // another sample, which fired a `for` alert an interval early and sent a firing and
    // a resolved message in one slot when the data changed between the two ticks.
    evaluateGroup(loaded, slot)
      .catch((error) => log.error({ err: error, group: loaded.key }, 'alert group evaluation failed'))
      .finally(() => awaitTick(loaded, slot, nextTick))
  }

  return {
    groups: deps.groups,
    /** The query source the rules run on (Prometheus or the embedded engine); GET /slo reads it too. */
    source: deps.source,
    evaluateGroup,
    /** Every group once, then the orphan sweep if it runs (the one-shot command, tests). */
    async evaluateAll() {
      const outcomes: Array<'evaluated' | 'not-leader'> = []
      for (const loaded of deps.groups) outcomes.push(await evaluateGroup(loaded))
      if (sweeps) await sweepOrphans()
      return outcomes
    },
    start() {
      if (!stopped) return
      stopped = false
      for (const loaded of deps.groups) {
        metrics.groupScheduled(loaded.key, loaded.intervalMs / 1000, loaded.rules.length)
        schedule(loaded)
      }
      if (sweeps) scheduleSweep()
    },
    async stop() {
      stopped = true
      for (const timer of timers.values()) clearTimeout(timer)
      timers.clear()
      clearTimeout(sweepTimer)
      await Promise.allSettled([...running.values(), sweeping])
    },
    /**
     * Pending and firing alerts of the loaded alerting rules, newest first, from the database
     * (the same on every replica). The stored state of a rule no longer loaded (removed from its
     * file, renamed, its group gone) is not among them: Prometheus' /api/v1/alerts lists the
     * alerts of the rules it runs (web/api/v1/api.go `alerts` over `RuleManager.AlertingRules`),
     * and drops a rule's alerts when a reload removes it.
     */
    async activeAlerts() {
      const loaded = new Set(
        deps.groups.flatMap((g) =>
          g.rules.filter(isAlerting).map((entry) => `${g.key}\u0000${entry.stateKey}`),
        ),
      )
      const rows = await db.select().from(alertRuleStates)
      return rows
        .filter((r) => r.state !== 'inactive' && loaded.has(`${r.ruleGroup}\u0000${r.ruleName}`))
        .sort((a, b) => b.activeAt.getTime() - a.activeAt.getTime())
    },
  }
}
