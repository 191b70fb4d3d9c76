import { type Expr, walkSelectors } from './ast.ts'
import {
  CompiledQuery,
  DEFAULT_LOOKBACK_MS,
  evaluateInstant,
  type InstantResult,
  type Sample,
} from './engine.ts'
import { METRIC_NAME } from './labels.ts'
import { matches, type Queryable } from './store.ts'

export type { InstantResult, Sample }

/**
 * Where the alert ruleManager gets instant-query results: Prometheus' HTTP API
 * (`/api/v1/query`) or the embedded engine. Both return what `/api/v1/query` returns for
 * `resultType` vector or scalar, so they are interchangeable.
 */
export interface QuerySource {
  instantQuery(expr: string, at: Date): Promise<InstantResult>
}

/**
 * The vector an alerting or recording rule sees (Prometheus' `rules.EngineQueryFunc`):
 * a scalar result becomes one sample with no labels.
 */
export function resultAsVector(result: InstantResult): Sample[] {
  return result.resultType === 'vector' ? result.samples : [{ labels: {}, value: result.value }]
}

/** The embedded engine over a local store, behind the same interface as the HTTP source. */
export class EmbeddedQuerySource implements QuerySource {
  private readonly cache = new Map<string, CompiledQuery>()

  /**
   * @param subqueryStepMs step of subqueries written without one, in ms: Prometheus' global
   *   `evaluation_interval` (cmd/prometheus/main.go `noStepSubqueryInterval.Set`); unset, the
   *   engine's default 1m
   */
  constructor(
    private readonly store: Queryable,
    private readonly lookbackMs = DEFAULT_LOOKBACK_MS,
    private readonly subqueryStepMs?: number,
  ) {}

  /**
   * Parses and checks an expression once (throws `PromQLError` naming any unsupported
   * construct); call it when rules are loaded so nothing outside the subset reaches
   * evaluation.
   */
  compile(expr: string): CompiledQuery {
    let compiled = this.cache.get(expr)
    if (!compiled) {
      compiled = new CompiledQuery(expr, this.lookbackMs)
      this.cache.set(expr, compiled)
    }
    return compiled
  }

  async instantQuery(expr: string, at: Date): Promise<InstantResult> {
    return evaluateInstant(this.compile(expr), this.store, at.getTime(), this.lookbackMs, {
      subqueryStepMs: this.subqueryStepMs,
    })
  }
}

/**
 * Series only Prometheus' scrape loop writes; the embedded engine, which samples its own
 * registry and scrapes nothing, never has them. `ALERTS` and `ALERTS_FOR_STATE` are not
 * among them: the rule manager writes them into the embedded store as Prometheus' rule
 * groups do (src/alerting/rules/manager.ts).
 */
const PROMETHEUS_GENERATED = [
  'up',
  'scrape_duration_seconds',
  'scrape_samples_scraped',
  'scrape_samples_post_metric_relabeling',
  'scrape_series_added',
  'scrape_timeout_seconds',
  'scrape_sample_limit',
  'scrape_body_size_bytes',
]

/**
 * If the expression selects series that only Prometheus' scrapes generate (`up`,
 * `scrape_*`), returns the reason the embedded engine cannot judge it (the ruleManager then
 * marks the rule `skipped`); otherwise undefined.
 */
export function prometheusOnlyReason(expr: Expr | string): string | undefined {
  const tree = typeof expr === 'string' ? new CompiledQuery(expr).expr : expr
  const found = new Set<string>()
  walkSelectors(tree, (selector) => {
    const nameMatchers = selector.matchers.filter((m) => m.name === METRIC_NAME)
    if (nameMatchers.length === 0) return
    for (const name of PROMETHEUS_GENERATED) {
      if (nameMatchers.every((m) => matches({ [METRIC_NAME]: name }, m))) found.add(name)
    }
    // Any other scrape_* series a newer Prometheus may add.
    if (selector.name?.startsWith('scrape_')) found.add(selector.name)
  })
  if (found.size === 0) return undefined
  return `selects ${[...found].sort().join(', ')}, which only Prometheus itself generates (needs a Prometheus server)`
}

/**
 * The sample retention a set of loaded rule expressions needs: the longest lookbehind
 * (range or lookback, plus offset) among them, plus a margin for scrape jitter.
 */
export function requiredRetentionMs(queries: readonly CompiledQuery[], marginMs = 60_000): number {
  let max = DEFAULT_LOOKBACK_MS
  for (const q of queries) max = Math.max(max, q.lookbehindMs)
  return max + marginMs
}
