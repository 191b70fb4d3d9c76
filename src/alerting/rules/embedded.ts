import type { Registry } from 'prom-client'
import { type LabelMatcher, walkSelectors } from '../../prometheus/promql/ast.ts'
import { CompiledQuery, DEFAULT_LOOKBACK_MS, evaluateInstant } from '../../prometheus/promql/engine.ts'
import type { Labels } from '../../prometheus/promql/labels.ts'
import {
  EmbeddedQuerySource,
  prometheusOnlyReason,
  requiredRetentionMs,
  resultAsVector,
  type Sample,
} from '../../prometheus/promql/query-source.ts'
import { matchesAll, SampleStore } from '../../prometheus/promql/store.ts'
import { writeRuleOutput } from '../../prometheus/rules/rule-eval.ts'
import { ExemplarStore } from './exemplars.ts'
import type { RuleManagerDeps, RuleRecorder } from './manager.ts'
import { RegistrySampler } from './registry-sampler.ts'

/** Scrape jitter and evaluation lag on top of what a selector reaches back. */
const RETENTION_MARGIN_MS = 60_000

const NONE: ReadonlySet<string> = new Set()

/**
 * A RuleRecorder writing into `store` (the embedded engine's, or a test's), keeping per rule
 * the series it wrote last, to mark the vanished ones stale (see writeRuleOutput).
 */
export function storeRecorder(store: SampleStore): RuleRecorder {
  const previous = new Map<string, Set<string>>()
  return {
    write(ruleKey: string, samples: readonly Sample[], ts: number) {
      const { returned, error } = writeRuleOutput(store, previous.get(ruleKey) ?? NONE, samples, ts)
      previous.set(ruleKey, returned)
      return error
    },
  }
}

/**
 * The template function `query` over `store` (RuleManagerDeps.templateQuery): an instant
 * query at `ts` (ms), answered synchronously, as Go templates call it; subqueries without a
 * step are stepped by `subqueryStepMs` (see EmbeddedQuerySource), as the rules' are.
 */
export function storeTemplateQuery(
  store: SampleStore,
  subqueryStepMs?: number,
): NonNullable<RuleManagerDeps['templateQuery']> {
  return (expr, ts) =>
    resultAsVector(
      evaluateInstant(new CompiledQuery(expr), store, ts, DEFAULT_LOOKBACK_MS, { subqueryStepMs }),
    )
}

/**
 * The embedded query source: the service's own registry sampled every `intervalMs` into an
 * in-memory store that the PromQL engine queries, and the recording rules' output written back
 * into the same store. Retention follows the loaded rules per selector: a series is kept for
 * the longest range (or the 5m lookback, plus offset) of any selector that matches it, plus a
 * margin — a 30-day window over a recorded ratio keeps 30 days of that ratio only, not of
 * every raw series. Everything is in memory: a restart starts every window empty.
 */
export function createEmbeddedEngine(options: {
  registry: Registry
  intervalMs: number
  /**
   * Step in ms of subqueries written without one: the service's counterpart of Prometheus'
   * global `evaluation_interval`, ALERT_EVAL_INTERVAL. Unset: 1m, Prometheus' default.
   */
  subqueryStepMs?: number
  now: () => number
  onError?: (err: unknown) => void
}) {
  const store = new SampleStore({ retentionMs: requiredRetentionMs([]) })
  const source = new EmbeddedQuerySource(store, DEFAULT_LOOKBACK_MS, options.subqueryStepMs)
  const exemplars = new ExemplarStore()
  const compiled: ReturnType<EmbeddedQuerySource['compile']>[] = []
  /** What each selector of the loaded rules reaches back, longest first. */
  const reaches: Array<{ matchers: readonly LabelMatcher[]; ms: number }> = []
  const sampler = new RegistrySampler({
    store,
    registry: options.registry,
    intervalMs: options.intervalMs,
    now: options.now,
    onError: options.onError,
    exemplars,
  })
  const retentionFor = (labels: Labels) => {
    for (const reach of reaches) if (matchesAll(labels, reach.matchers)) return reach.ms + RETENTION_MARGIN_MS
    return DEFAULT_LOOKBACK_MS + RETENTION_MARGIN_MS
  }
  const recorder = storeRecorder(store)
  return {
    store,
    source,
    sampler,
    recorder,
    /** The latest exemplar of each sampled series: where alerts find their example request. */
    exemplars,
    /** Rejects what the engine cannot run (at rule load time) and sizes each series' retention. */
    compile(expr: string) {
      const query = source.compile(expr)
      compiled.push(query)
      walkSelectors(query.expr, (selector, rangeMs) => {
        reaches.push({
          matchers: selector.matchers,
          ms: (rangeMs ?? DEFAULT_LOOKBACK_MS) + Math.max(0, selector.offsetMs),
        })
      })
      reaches.sort((a, b) => b.ms - a.ms)
      store.retentionMs = requiredRetentionMs(compiled, RETENTION_MARGIN_MS)
      store.retentionFor = retentionFor
    },
    skipReason: (expr: string) => prometheusOnlyReason(expr),
    templateQuery: storeTemplateQuery(store, options.subqueryStepMs),
  }
}

/** The embedded query source, its store and the registry sampler that fills it. */
export type EmbeddedEngine = ReturnType<typeof createEmbeddedEngine>
