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
})
