import { and, eq, notInArray, sql } from 'drizzle-orm'
import type { Clock } from '../../core/clock.ts'
import type { Logger } from '../../core/logger.ts'
import type { Database, Executor } from '../../db/client.ts'
import { alertRuleStates } from '../../db/schema.ts'
import { labelsFrom, labelsKey } from '../../prometheus/promql/labels.ts'
import { type QuerySource, resultAsVector } from '../../prometheus/promql/query-source.ts'
import { type AlertInstance, evaluateAlerts, fingerprint } from '../../prometheus/rules/alerting-rule.ts'
import { glob } from '../../prometheus/rules/glob.ts'
import { type AlertingRule, loadRuleFile, type RuleGroup } from '../../prometheus/rules/rulefmt.ts'
import { formatFloat } from '../../prometheus/template/go-fmt.ts'
import type { AlertInput, Dispatcher } from '../notify/dispatcher.ts'

export type RuleHealth = 'ok' | 'err' | 'unknown' | 'skipped'

/** An alerting rule as the ruleManager runs it, with what /alerts/rules reports about it. */
export interface LoadedRule {
  rule: AlertingRule
  health: RuleHealth
  lastError?: string
  lastEvaluation?: Date
  evaluationMs?: number
}

export interface LoadedGroup {
  group: RuleGroup
  intervalMs: number
  rules: LoadedRule[]
}

export interface RuleManagerMetrics {
  /** One rule evaluated in `group` (failed when its query errored). */
  ruleEvaluated(group: string, failed: boolean): void
  groupDuration(group: string, seconds: number): void
  /** Active alerts by (alertname, state), replacing the previous counts. */
  activeAlerts(counts: Array<{ alertname: string; state: string; count: number }>): void
}

export const noRuleManagerMetrics: RuleManagerMetrics = {
  ruleEvaluated() {},
  groupDuration() {},
  activeAlerts() {},
}

/**
 * Expands a comma-separated list of rule files (ALERT_RULES_FILES) with Go's `filepath.Glob`,
 * as Prometheus expands `rule_files`. A path without wildcards is kept even when it does not
 * exist, so that loading it fails naming the file instead of silently loading nothing.
 */
export function expandRuleFiles(patterns: string): string[] {
  return patterns
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .flatMap((pattern) => (/[*?[]/.test(pattern) ? glob(pattern) : [pattern]))
}

export interface RuleLoadOptions {
  defaultIntervalMs: number
  /** Rejects an expression the query source cannot run (the embedded engine's subset). */
  compile?: (expr: string) => void
  /** Why the query source cannot judge an expression at all (it selects `up`…), if so. */
  skipReason?: (expr: string) => string | undefined
  log?: Logger
}

/**
 * Loads alerting rules from rule files. A bad file, group or rule is an error naming the file,
 * group and rule; recording rules are ignored (with a log line).
 */
export function loadRules(files: string[], options: RuleLoadOptions): LoadedGroup[] {
  const groups: LoadedGroup[] = []
  for (const file of files) {
    for (const group of loadRuleFile(file)) {
      const rules: LoadedRule[] = []
      for (const rule of group.rules) {
        if (rule.type === 'recording') {
          options.log?.info(
            { file, group: group.name, record: rule.name },
            'recording rule ignored: the rule manager only runs alerting rules',
          )
          continue
        }
        try {
          options.compile?.(rule.expr)
        } catch (error) {
          throw new Error(`${file}: group "${group.name}": rule "${rule.name}": ${(error as Error).message}`)
        }
        const skipped = options.skipReason?.(rule.expr)
        rules.push(skipped ? { rule, health: 'skipped', lastError: skipped } : { rule, health: 'unknown' })
      }
      groups.push({ group, intervalMs: group.intervalMs ?? options.defaultIntervalMs, rules })
    }
  }
  return groups
}

type StateRow = typeof alertRuleStates.$inferSelect

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

const date = (ms: number | undefined) => (ms === undefined ? null : new Date(ms))
const rowsOf = (result: unknown) =>
  (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<Record<string, unknown>>

export interface RuleManagerDeps {
  db: Database
  groups: LoadedGroup[]
  source: QuerySource
  dispatcher: Dispatcher
  clock: Clock
  log: Logger
  metrics?: RuleManagerMetrics
  externalURL?: string
}

/**
 * The scheduled ruleManager: each group at its interval, all its rules at one timestamp, with
 * Prometheus' alert semantics; state in the database; firing/resolved transitions handed to
 * the dispatcher in the same transaction. Several replicas: the tick's transaction takes
 * pg_try_advisory_xact_lock for the group, so exactly one of them evaluates it.
 */
export function createRuleManager(deps: RuleManagerDeps) {
  const { db, clock, log } = deps
  const metrics = deps.metrics ?? noRuleManagerMetrics
  const context = { externalLabels: {}, externalURL: deps.externalURL ?? '' }
  const running = new Map<string, Promise<'evaluated' | 'not-leader'>>()
  const timers = new Map<string, ReturnType<typeof setTimeout>>()
  let stopped = true

  async function evaluateRule(
    tx: Executor,
    loaded: LoadedGroup,
    entry: LoadedRule,
    rows: StateRow[],
    ts: number,
  ) {
    const { group } = loaded
    const active = new Map<string, AlertInstance>()
    for (const row of rows) {
      const instance = toInstance(row)
      active.set(labelsKey(instance.labels), instance)
    }
    const before = new Map([...active].map(([key, a]) => [key, { state: a.state, firedAt: a.firedAt }]))
    const started = clock.monotonic()
    entry.lastEvaluation = new Date(ts)
    try {
      const results = resultAsVector(
        await deps.source.instantQuery(entry.rule.expr, new Date(ts - group.queryOffsetMs)),
      )
      evaluateAlerts(entry.rule, group.labels, active, results, ts, context)
    } catch (error) {
      // A failed query must not resolve anything: the stored state stays exactly as it was.
      entry.health = 'err'
      entry.lastError = (error as Error).message
      entry.evaluationMs = clock.monotonic() - started
      metrics.ruleEvaluated(group.name, true)
      log.warn(
        { group: group.name, rule: entry.rule.name, error: entry.lastError },
        'alert rule evaluation failed',
      )
      return []
    }
    entry.health = 'ok'
    entry.lastError = undefined
    entry.evaluationMs = clock.monotonic() - started
    metrics.ruleEvaluated(group.name, false)

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
        ruleGroup: group.name,
        ruleName: entry.rule.name,
        fingerprint: fp,
        labels: { ...alert.labels },
        annotations: alert.annotations,
        state: alert.state,
        activeAt: new Date(alert.activeAt),
        firedAt: date(alert.firedAt),
        resolvedAt: date(alert.resolvedAt),
        keepFiringSince: date(alert.keepFiringSince),
        value: alert.value,
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
          eq(alertRuleStates.ruleGroup, group.name),
          eq(alertRuleStates.ruleName, entry.rule.name),
          kept.length ? notInArray(alertRuleStates.fingerprint, kept) : undefined,
        ),
      )
    return transitions
  }

  /** One evaluation of a group, if this process leads it. */
  async function evaluateGroupOnce(loaded: LoadedGroup): Promise<'evaluated' | 'not-leader'> {
    const ts = clock.now().getTime()
    const started = clock.monotonic()
    const outcome = await db.transaction(async (tx) => {
      const [lock] = rowsOf(
        await tx.execute(
          sql`select pg_try_advisory_xact_lock(hashtextextended(${`convo-commerce:alerts:${loaded.group.name}`}, 0)) as locked`,
        ),
      )
      if (!lock?.locked) return 'not-leader' as const
      const rows = await tx
        .select()
        .from(alertRuleStates)
        .where(eq(alertRuleStates.ruleGroup, loaded.group.name))
      const transitions: AlertInput[] = []
      for (const entry of loaded.rules) {
        if (entry.health === 'skipped') continue
        const ruleRows = rows.filter((r) => r.ruleName === entry.rule.name)
        transitions.push(...(await evaluateRule(tx, loaded, entry, ruleRows, ts)))
      }
      if (transitions.length > 0)
        await deps.dispatcher.ingest(transitions, `rule group ${loaded.group.name}`, tx)
      return 'evaluated' as const
    })
    if (outcome === 'evaluated') {
      metrics.groupDuration(loaded.group.name, (clock.monotonic() - started) / 1000)
      await refreshActiveGauge()
    }
    return outcome
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
  function evaluateGroup(loaded: LoadedGroup) {
    const inFlight = running.get(loaded.group.name)
    if (inFlight) return inFlight
    const run = evaluateGroupOnce(loaded).finally(() => running.delete(loaded.group.name))
    running.set(loaded.group.name, run)
    return run
  }

  function schedule(loaded: LoadedGroup) {
    if (stopped) return
    timers.set(
      loaded.group.name,
      setTimeout(() => {
        evaluateGroup(loaded)
          .catch((error) =>
            log.error({ err: error, group: loaded.group.name }, 'alert group evaluation failed'),
          )
          .finally(() => schedule(loaded))
      }, loaded.intervalMs),
    )
  }

  return {
    groups: deps.groups,
    evaluateGroup,
    /** Every group once (the one-shot command, tests). */
    async evaluateAll() {
      const outcomes: Array<'evaluated' | 'not-leader'> = []
      for (const loaded of deps.groups) outcomes.push(await evaluateGroup(loaded))
      return outcomes
    },
    start() {
      if (!stopped) return
      stopped = false
      for (const loaded of deps.groups) schedule(loaded)
    },
    async stop() {
      stopped = true
      for (const timer of timers.values()) clearTimeout(timer)
      timers.clear()
      await Promise.allSettled(running.values())
    },
    /** Pending and firing alerts, newest first, from the database (the same on every replica). */
    async activeAlerts() {
      const rows = await db.select().from(alertRuleStates)
      return rows
        .filter((r) => r.state !== 'inactive')
        .sort((a, b) => b.activeAt.getTime() - a.activeAt.getTime())
    },
  }
}

export type RuleManager = ReturnType<typeof createRuleManager>
