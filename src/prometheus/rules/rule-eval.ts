import { CompiledQuery, evaluateInstant, type Sample } from '../promql/engine.ts'
import { labelsFrom, labelsKey, METRIC_NAME } from '../promql/labels.ts'
import { resultAsVector } from '../promql/query-source.ts'
import type { SampleStore } from '../promql/store.ts'
import { type AlertInstance, evaluateAlerts } from './alerting-rule.ts'
import type { AlertingRule, RecordingRule, RuleGroup } from './rulefmt.ts'

/**
 * The rule evaluation promtool performs while testing: every group evaluated at each
 * step on one timestamp, recording rules writing their results back to the store, and
 * alerting rules following Prometheus' state machine (pending → firing after `for`,
 * `keep_firing_for`, resolved alerts kept 15 minutes) and writing `ALERTS` and
 * `ALERTS_FOR_STATE`, with staleness markers for series a rule stops producing.
 * This is the minimal in-memory version for tests; the service's ruleManager persists state.
 */

export type { AlertState } from './alerting-rule.ts'
export type ActiveAlert = AlertInstance

export interface EvaluationContext {
  store: SampleStore
  externalLabels: Record<string, string>
  externalURL: string
  /** See AlertTemplateData.functionsURL; promtool's is null. */
  functionsURL?: string | null
  /**
   * Step in ms of subqueries written without one, for rule expressions and template `query`
   * alike (Prometheus' `NoStepSubqueryIntervalFn`: the global evaluation interval; promtool
   * sets it to the test file's `evaluation_interval`). Unset: the engine's default, 1m.
   */
  subqueryStepMs?: number
  /**
   * The most samples a rule's query (or a template's `query`) may hold at once (the engine's
   * `EngineOpts.MaxSamples`; promtool's is 10 000). Unset: the engine's default.
   */
  maxSamples?: number
}

/**
 * Writes one rule evaluation's output at `ts` as Prometheus' `rules/group.go` `Group.Eval`
 * does: every sample goes through the head appender's checks (`SampleStore.appendSample`); a
 * refused one makes the rule fail with the appender's error (the last refusal, as each
 * `SetLastError` replaces the one before) and is not among the series the rule returned. Then
 * every series of the previous evaluation not returned now gets a staleness marker, whose
 * refusals are ignored ("expected if series is exposed from a different rule").
 *
 * Two rules recording one series, or a rule recording a scraped series, meet here: the second
 * write at one timestamp with another value is `duplicate sample for timestamp`.
 *
 * @param previous the `returned` set of the rule's last evaluation (empty at first)
 * @returns the series written now, and the error the rule fails with, if any
 */
export function writeRuleOutput(
  store: SampleStore,
  previous: ReadonlySet<string>,
  samples: readonly Sample[],
  ts: number,
): { returned: Set<string>; error: Error | undefined } {
  const returned = new Set<string>()
  let refusal: string | undefined
  for (const s of samples) {
    const key = labelsKey(s.labels)
    const refused = store.appendSample(s.labels, ts, s.value, key)
    if (refused === undefined) returned.add(key)
    else refusal = refused
  }
  for (const key of previous) if (!returned.has(key)) store.appendStale(key, ts)
  return { returned, error: refusal === undefined ? undefined : new Error(refusal) }
}

/**
 * The `ALERTS` and `ALERTS_FOR_STATE` samples of one evaluation of an alerting rule, as
 * Prometheus' rules/alerting.go `AlertingRule.Eval` returns them for `Group.Eval` to append
 * (`sample` and `forStateSample`): one pair per pending or firing alert (kept firing ones
 * are firing; resolved ones have none). ALERTS is 1 with the alert's labels plus `alertname`
 * and `alertstate`; ALERTS_FOR_STATE holds `activeAt` in whole seconds, since Go's
 * `ActiveAt.Unix()` truncates (promtool 2.42 gives 1 for an alert active at 1.5 s).
 *
 * Both start from the rule's labels as written (group labels, then the rule's), which the
 * alert's labels then override: a label whose template expands to nothing is not among the
 * alert's, so the series carry its template text (promtool 2.42 writes
 * `i="{{ $labels.missing }}"` for `labels: {i: '{{ $labels.missing }}'}`).
 */
export function alertSeries(
  rule: Pick<AlertingRule, 'name' | 'labels'>,
  groupLabels: Readonly<Record<string, string>>,
  present: readonly AlertInstance[],
): Sample[] {
  const out: Sample[] = []
  for (const a of present) {
    const base = { ...groupLabels, ...rule.labels, ...a.labels, alertname: rule.name }
    out.push({ labels: labelsFrom({ ...base, [METRIC_NAME]: 'ALERTS', alertstate: a.state }), value: 1 })
    out.push({
      labels: labelsFrom({ ...base, [METRIC_NAME]: 'ALERTS_FOR_STATE' }),
      value: Math.floor(a.activeAt / 1000),
    })
  }
  return out
}

abstract class EvaluatedRule {
  lastError: Error | undefined
  private previousSeries = new Set<string>()

  constructor(
    readonly group: RuleGroup,
    readonly query: CompiledQuery,
  ) {}

  abstract get name(): string

  /** Appends this evaluation's output (see writeRuleOutput); returns the rule's error, if any. */
  protected write(ctx: EvaluationContext, ts: number, samples: Sample[]): Error | undefined {
    const { returned, error } = writeRuleOutput(ctx.store, this.previousSeries, samples, ts)
    this.previousSeries = returned
    return error
  }

  protected runQuery(ctx: EvaluationContext, ts: number): Sample[] {
    return resultAsVector(
      evaluateInstant(this.query, ctx.store, ts - this.group.queryOffsetMs, undefined, {
        subqueryStepMs: ctx.subqueryStepMs,
        maxSamples: ctx.maxSamples,
      }),
    )
  }

  abstract eval(ctx: EvaluationContext, ts: number): void
}

export class EvaluatedRecordingRule extends EvaluatedRule {
  constructor(
    group: RuleGroup,
    query: CompiledQuery,
    readonly rule: RecordingRule,
  ) {
    super(group, query)
  }

  get name(): string {
    return this.rule.name
  }

  eval(ctx: EvaluationContext, ts: number): void {
    try {
      const out: Sample[] = []
      const seen = new Set<string>()
      for (const s of this.runQuery(ctx, ts)) {
        const labels = labelsFrom({
          ...s.labels,
          ...this.group.labels,
          ...this.rule.labels,
          [METRIC_NAME]: this.rule.name,
        })
        const key = labelsKey(labels)
        if (seen.has(key))
          throw new Error('vector contains metrics with the same labelset after applying rule labels')
        seen.add(key)
        out.push({ labels, value: s.value })
      }
      // As Prometheus' RecordingRule.Eval: over the group's `limit`, the rule fails and writes
      // nothing (its previous series are not marked stale either).
      const limit = this.group.limit
      if (limit > 0 && out.length > limit)
        throw new Error(`exceeded limit of ${limit} with ${out.length} series`)
      this.lastError = this.write(ctx, ts, out)
    } catch (err) {
      this.lastError = err as Error
    }
  }
}

export class EvaluatedAlertingRule extends EvaluatedRule {
  readonly active = new Map<string, ActiveAlert>()

  constructor(
    group: RuleGroup,
    query: CompiledQuery,
    readonly rule: AlertingRule,
  ) {
    super(group, query)
  }

  get name(): string {
    return this.rule.name
  }

  eval(ctx: EvaluationContext, ts: number): void {
    try {
      this.lastError = this.evalAlerts(ctx, ts)
    } catch (err) {
      this.lastError = err as Error
    }
  }

  /** Updates the alerts and writes ALERTS and ALERTS_FOR_STATE; returns the write's error, if any. */
  private evalAlerts(ctx: EvaluationContext, ts: number): Error | undefined {
    // Templates query the same store at the evaluation's time, as Prometheus' alerting rules do.
    const query = (expr: string) =>
      resultAsVector(
        evaluateInstant(new CompiledQuery(expr), ctx.store, ts, undefined, {
          subqueryStepMs: ctx.subqueryStepMs,
          maxSamples: ctx.maxSamples,
        }),
      )
    const present = evaluateAlerts(this.rule, this.group.labels, this.active, this.runQuery(ctx, ts), ts, {
      ...ctx,
      query,
    })
    // As Prometheus' AlertingRule.Eval: more alerts than the group's `limit` empties the rule's
    // alerts and fails it. Counted are the pending and firing ones, kept firing included
    // (`numActivePending`), not the resolved ones still kept for their 15 minutes.
    const limit = this.group.limit
    if (limit > 0 && present.length > limit) {
      const count = present.length
      this.active.clear()
      throw new Error(`exceeded limit of ${limit} with ${count} alerts`)
    }
    return this.write(ctx, ts, alertSeries(this.rule, this.group.labels, present))
  }

  firing(): ActiveAlert[] {
    return [...this.active.values()].filter((a) => a.state === 'firing')
  }
}
