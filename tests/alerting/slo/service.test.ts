import { describe, expect, test } from 'bun:test'
import { createSloService } from '../../../src/alerting/slo/service.ts'
import { SLI_WINDOWS } from '../../../src/alerting/slo/spec.ts'
import type { InstantResult, QuerySource } from '../../../src/prometheus/promql/query-source.ts'

const ids = { sloth_id: 'svc-avail', sloth_service: 'svc', sloth_slo: 'avail' }

/** A query source answering each recording name with one sample of the SLO. */
function source(values: Record<string, number>): QuerySource {
  return {
    async instantQuery(expr: string): Promise<InstantResult> {
      const value = values[expr]
      return { resultType: 'vector', samples: value === undefined ? [] : [{ labels: ids, value }] }
    },
  }
}

describe('createSloService', () => {
  test('an objective of 100 (no error budget): burn rates are null, not Infinity or NaN, which JSON and the route schema refuse', async () => {
    const service = createSloService({
      source: source({
        'slo:objective:ratio': 1,
        'slo:sli_error:ratio_rate5m': 0.01,
        'slo:sli_error:ratio_rate30m': 0,
        'slo:current_burn_rate:ratio': Number.POSITIVE_INFINITY,
        'slo:period_error_budget_remaining:ratio': Number.NEGATIVE_INFINITY,
      }),
      activeAlerts: async () => [],
      now: () => new Date(0),
    })
    const [slo] = await service.list()
    expect(slo).toEqual({
      id: 'svc-avail',
      service: 'svc',
      slo: 'avail',
      objective: 1,
      errorBudget: 0,
      sli: { current: 0.99, period: null },
      currentBurnRate: null,
      periodBudgetRemaining: null,
      windows: SLI_WINDOWS.map((window) => ({
        window,
        errorRatio: window === '5m' ? 0.01 : window === '30m' ? 0 : null,
        burnRate: null,
      })),
      alerts: [],
    })
  })

  test('with a budget, the burn rate is the error ratio over it', async () => {
    const service = createSloService({
      source: source({ 'slo:objective:ratio': 0.999, 'slo:sli_error:ratio_rate5m': 0.002 }),
      activeAlerts: async () => [],
      now: () => new Date(0),
    })
    const [slo] = await service.list()
    expect(slo!.windows[0]).toEqual({ window: '5m', errorRatio: 0.002, burnRate: 2 })
  })

  // A per-route SLI (`sum by (route) (…)`) records a series per route; Sloth's alerts fire on
  // the worst (`max(…) without (sloth_window)`), and GET /slo must show that one, not whichever
  // series the query source listed last.
  test('several series of one SLO (a per-route SLI): the worst route, NaN only when all are', async () => {
    const routes = (a: number, b: number) => [
      { labels: { ...ids, route: 'a', sloth_window: '5m' }, value: a },
      { labels: { ...ids, route: 'b', sloth_window: '5m' }, value: b },
    ]
    const answers: Record<string, Array<{ labels: Record<string, string>; value: number }>> = {
      'slo:objective:ratio': [{ labels: ids, value: 0.999 }],
      'slo:sli_error:ratio_rate5m': routes(0.3, 0),
      'slo:sli_error:ratio_rate30m': routes(Number.NaN, 0.002),
      'slo:sli_error:ratio_rate1h': routes(Number.NaN, Number.NaN),
      'slo:current_burn_rate:ratio': routes(300, 0),
      'slo:period_error_budget_remaining:ratio': routes(-299, 1),
    }
    const service = createSloService({
      source: {
        async instantQuery(expr: string): Promise<InstantResult> {
          return { resultType: 'vector', samples: answers[expr] ?? [] }
        },
      },
      activeAlerts: async () => [],
      now: () => new Date(0),
    })
    const [slo] = await service.list()
    expect(slo!.windows.slice(0, 3)).toEqual([
      { window: '5m', errorRatio: 0.3, burnRate: 300 },
      { window: '30m', errorRatio: 0.002, burnRate: 2 },
      { window: '1h', errorRatio: null, burnRate: null },
    ])
    expect(slo!.sli.current).toBeCloseTo(0.7, 12)
    expect(slo!.currentBurnRate).toBe(300)
    expect(slo!.periodBudgetRemaining).toBe(-299)
  })
})
