import { unavailable } from '../../core/errors.ts'
import type { QuerySource } from '../../prometheus/promql/query-source.ts'
import { resultAsVector } from '../../prometheus/promql/query-source.ts'
import { QueryError } from '../rules/prometheus-source.ts'
import { PERIOD, SLI_WINDOWS, type SliWindow } from './spec.ts'

const SOURCE_UNAVAILABLE =
  "SLOs cannot be read now: the rule manager's query source (PROMETHEUS_URL) did not answer; retry later"

/** One SLI window of an objective. Ratios are null where the window has no data (no traffic). */
export interface SloWindowView {
  window: SliWindow
  /** `slo:sli_error:ratio_rate<window>`: share of bad events in the window. */
  errorRatio: number | null
  /** errorRatio / error budget: 1 spends exactly the period's budget over the period; null without a budget (objective 100). */
  burnRate: number | null
}

/** A pending or firing burn-rate alert of the objective (`sloth_severity` page or ticket). */
export interface SloAlertView {
  severity: string
  state: string
}

/** One objective as GET /slo reports it. */
export interface SloView {
  id: string
  service: string
  slo: string
  /** Target share of good events, e.g. 0.999. */
  objective: number
  /** 1 - objective. */
  errorBudget: number
  /** Share of good events now (5m window) and over the period (30d, or since the start). */
  sli: { current: number | null; period: number | null }
  /** Burn rate of the 5m window (`slo:current_burn_rate:ratio`). */
  currentBurnRate: number | null
  /** `slo:period_error_budget_remaining:ratio`: 1 untouched, 0 spent, negative overspent. */
  periodBudgetRemaining: number | null
  windows: SloWindowView[]
  alerts: SloAlertView[]
}

export interface SloServiceDeps {
  /** The rule manager's query source: Prometheus, or the embedded engine's own recordings. */
  source: QuerySource
  /** Active alerts of the rule manager (labels and state). */
  activeAlerts(): Promise<Array<{ labels: Record<string, string>; state: string }>>
  now(): Date
}

const finite = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? null : v)

/**
 * Reads every declared objective from the Sloth recordings (`slo:objective:ratio`,
 * `slo:sli_error:ratio_rate<window>`, `slo:current_burn_rate:ratio`,
 * `slo:period_error_budget_remaining:ratio`) through the rule manager's query source, so the
 * answer is the same numbers the burn-rate alerts use. `list` throws 503 UNAVAILABLE when the
 * query source fails (QueryError: Prometheus unreachable, timed out or refusing the query).
 */
export function createSloService(deps: SloServiceDeps) {
  /**
   * One value per SLO: the worst of its series. An SLI written `sum by (route) (…)` records one
   * series per route, and Sloth's alerts fire on the worst (`max(…) without (sloth_window)`);
   * keeping whichever series came last showed a quiet route while another paged. NaN (a route
   * without traffic) counts only when every series is NaN.
   * @param worst Math.max for error ratios and burn rates, Math.min for the budget left
   */
  async function byId(
    expr: string,
    at: Date,
    worst: (a: number, b: number) => number = Math.max,
  ): Promise<Map<string, number>> {
    const result = new Map<string, number>()
    for (const s of resultAsVector(await deps.source.instantQuery(expr, at))) {
      const id = s.labels.sloth_id ?? ''
      const seen = result.get(id)
      result.set(
        id,
        seen === undefined || Number.isNaN(seen)
          ? s.value
          : Number.isNaN(s.value)
            ? seen
            : worst(seen, s.value),
      )
    }
    return result
  }

  return {
    async list(): Promise<SloView[]> {
      try {
        return await read()
      } catch (error) {
        // Prometheus (PROMETHEUS_URL) down or slow is an outage of a dependency, as a database
        // that does not answer: 503, not a 500 that reads as a bug of ours.
        if (error instanceof QueryError)
          throw Object.assign(unavailable(SOURCE_UNAVAILABLE), { cause: error })
        throw error
      }
    },
  }

  async function read(): Promise<SloView[]> {
    const at = deps.now()
    const objectives = resultAsVector(await deps.source.instantQuery('slo:objective:ratio', at))
    const [windows, burn, remaining, alerts] = await Promise.all([
      Promise.all(SLI_WINDOWS.map((w) => byId(`slo:sli_error:ratio_rate${w}`, at))),
      byId('slo:current_burn_rate:ratio', at),
      byId('slo:period_error_budget_remaining:ratio', at, Math.min),
      deps.activeAlerts(),
    ])
    return objectives
      .map((o) => {
        const id = o.labels.sloth_id ?? ''
        const budget = Number((1 - o.value).toPrecision(12))
        const views = SLI_WINDOWS.map((window, i) => {
          const errorRatio = finite(windows[i]!.get(id))
          // An objective of 100 leaves no budget: the burn rate is then no number (null).
          return { window, errorRatio, burnRate: errorRatio === null ? null : finite(errorRatio / budget) }
        })
        const errorAt = (w: SliWindow) => views.find((v) => v.window === w)!.errorRatio
        const current = errorAt('5m')
        const period = errorAt(PERIOD)
        return {
          id,
          service: o.labels.sloth_service ?? '',
          slo: o.labels.sloth_slo ?? '',
          objective: o.value,
          errorBudget: budget,
          sli: {
            current: current === null ? null : 1 - current,
            period: period === null ? null : 1 - period,
          },
          currentBurnRate: finite(burn.get(id)),
          periodBudgetRemaining: finite(remaining.get(id)),
          windows: views,
          alerts: alerts
            .filter((a) => a.labels.sloth_id === id)
            .map((a) => ({ severity: a.labels.sloth_severity ?? '', state: a.state })),
        }
      })
      .sort((a, b) => a.id.localeCompare(b.id))
  }
}

export type SloService = ReturnType<typeof createSloService>
