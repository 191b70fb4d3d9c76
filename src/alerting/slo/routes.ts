import { Elysia, t } from 'elysia'
import { adminAuth } from '../../auth/plugin.ts'
import { ErrorEnvelopeModel } from '../../http/models.ts'
import type { RuleManager } from '../rules/manager.ts'
import { createSloService } from './service.ts'
import { SLI_WINDOWS } from './spec.ts'

const Ratio = t.Union([t.Number(), t.Null()])

const SloModel = t.Object({
  id: t.String({ examples: ['convo-commerce-api-availability'] }),
  service: t.String(),
  slo: t.String(),
  objective: t.Number({ description: 'target share of good events', examples: [0.999] }),
  errorBudget: t.Number({ description: '1 - objective', examples: [0.001] }),
  sli: t.Object({
    current: Ratio,
    period: Ratio,
  }),
  currentBurnRate: Ratio,
  periodBudgetRemaining: t.Union([t.Number(), t.Null()], {
    description: 'share of the 30-day error budget left (negative: overspent)',
  }),
  windows: t.Array(
    t.Object({
      window: t.UnionEnum([...SLI_WINDOWS]),
      errorRatio: Ratio,
      burnRate: Ratio,
    }),
  ),
  alerts: t.Array(t.Object({ severity: t.String(), state: t.String() })),
})

/**
 * GET /slo (admin token): every declared objective with its SLI, burn rate per window, budget
 * left for the period and active burn-rate alerts, read from the rule manager's query source.
 * Without a rule manager there is nothing to read: an empty list.
 */
export function sloRoutes(deps: {
  ruleManager: RuleManager | undefined
  adminToken: string | undefined
  /** The rule manager's clock: the recordings are stamped with it. */
  now: () => Date
}) {
  const manager = deps.ruleManager
  const service = manager
    ? createSloService({
        source: manager.source,
        activeAlerts: () => manager.activeAlerts(),
        now: deps.now,
      })
    : undefined
  return new Elysia({ name: 'slo-routes', detail: { tags: ['Alerts'], security: [{ adminToken: [] }] } })
    .use(adminAuth(deps.adminToken))
    .get(
      '/slo',
      async () => ({ status: 'success' as const, data: { objectives: service ? await service.list() : [] } }),
      {
        detail: {
          summary: 'Service level objectives and their error budgets',
          description:
            "Each objective declared in ops/slo/slos.yml with its current SLI, burn rate per window (5m … 30d) and the share of the period's error budget left, read from the Sloth recordings through the rule manager's query source. Admin token.",
        },
        response: {
          200: t.Object({ status: t.Literal('success'), data: t.Object({ objectives: t.Array(SloModel) }) }),
          401: ErrorEnvelopeModel,
          403: ErrorEnvelopeModel,
          503: ErrorEnvelopeModel,
        },
      },
    )
}
