import { Elysia, t } from 'elysia'
import { adminAuth } from '../../auth/plugin.ts'
import { ErrorEnvelopeModel, QueryParameters } from '../../http/models.ts'
import { formatExpr } from '../../prometheus/promql/format.ts'
import { compareStrings } from '../../prometheus/promql/labels.ts'
import { parsePromQL } from '../../prometheus/promql/parser.ts'
import { formatFloat } from '../../prometheus/template/go-fmt.ts'
import { fieldError, JsonInteger, JsonNumber, oneOf } from '../../shared/models.ts'
import type { RuleManager } from './manager.ts'
import { type ReplicaWatch, replicaHealthWarning } from './replicas.ts'

/**
 * A time as Go's `encoding/json` prints a `time.Time` (RFC3339Nano: the fraction's trailing
 * zeros dropped, none for a whole second), as Prometheus' web/api/v1/api.go serializes
 * `activeAt` and `lastEvaluation`; `toISOString` always prints `.000`. Undefined is Go's zero
 * time, which Prometheus reports for a rule or group not evaluated yet.
 */
export function goTime(date: Date | undefined): string {
  if (!date) return '0001-01-01T00:00:00Z'
  return date.toISOString().replace(/\.?0*Z$/, 'Z')
}

/**
 * Labels or annotations in name order, as Prometheus marshals a `labels.Labels` (sorted) in
 * web/api/v1/api.go; stored ones come back from jsonb shortest name first, rule files' in
 * written order. Empty values are kept: Prometheus prints them too.
 */
function sortedByName(record: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of Object.keys(record).sort(compareStrings)) out[name] = record[name] as string
  return out
}

const queries = new Map<string, string>()

/**
 * A rule's `query` as Prometheus reports it: the parsed expression printed again
 * (rules/alerting.go `Query().String()`, web/api/v1/api.go `rulesAlertsToAPIRules`), so
 * `sum by(job)(foo)` reads `sum by (job) (foo)`. An expression the embedded parser refuses
 * (loaded for a Prometheus source, which judges it) is reported as written.
 */
function canonicalQuery(expr: string): string {
  let query = queries.get(expr)
  if (query === undefined) {
    try {
      query = formatExpr(parsePromQL(expr))
    } catch {
      query = expr
    }
    queries.set(expr, query)
  }
  return query
}

const AlertModel = t.Object({
  labels: t.Record(t.String(), t.String()),
  annotations: t.Record(t.String(), t.String()),
  state: oneOf(['pending', 'firing']),
  activeAt: t.String({ format: 'date-time' }),
  value: t.String({ description: 'the sample value, formatted as Prometheus does', examples: ['7.5e-02'] }),
})

/**
 * An alerting or recording rule, as Prometheus' /api/v1/rules reports one: one object shape
 * (no union), the alerting-only fields absent on recording rules.
 */
const RuleModel = t.Object({
  name: t.String(),
  query: t.String(),
  duration: t.Optional(JsonNumber({ description: '`for`, in seconds (alerting rules)' })),
  keepFiringFor: t.Optional(JsonNumber({ description: '`keep_firing_for`, in seconds (alerting rules)' })),
  labels: t.Record(t.String(), t.String()),
  annotations: t.Optional(t.Record(t.String(), t.String(), { description: 'alerting rules only' })),
  health: oneOf(['ok', 'err', 'unknown', 'skipped']),
  lastError: t.Optional(t.String()),
  warnings: t.Optional(
    t.Array(t.String(), {
      description:
        'what limits this rule beyond its health, e.g. "sees 1 of 3 replicas" when the embedded engine runs beside other replicas',
    }),
  ),
  lastEvaluation: t.String({
    format: 'date-time',
    description: "`0001-01-01T00:00:00Z` (Go's zero time) before the first evaluation, as Prometheus",
  }),
  evaluationTime: JsonNumber({ description: 'seconds the last evaluation took' }),
  type: oneOf(['alerting', 'recording']),
  state: t.Optional(
    oneOf(['inactive', 'pending', 'firing'], {
      description: "alerting rules only: the most advanced state of the rule's alerts",
    }),
  ),
  alerts: t.Optional(t.Array(AlertModel, { description: 'alerting rules only' })),
})

/**
 * An alerting rule's state as Prometheus' rules/alerting.go `AlertingRule.State`: the most
 * advanced state among its alerts (firing over pending), inactive with none. Grafana's rule
 * list reads it.
 */
function ruleState(
  alerts: ReadonlyArray<{ state: 'pending' | 'firing' }>,
): 'inactive' | 'pending' | 'firing' {
  if (alerts.some((a) => a.state === 'firing')) return 'firing'
  return alerts.length > 0 ? 'pending' : 'inactive'
}

/**
 * GET /alerts and GET /alerts/rules, in the shapes of Prometheus' /api/v1/alerts and
 * /api/v1/rules. When the manager carries a replica watch (setupRuleManager, embedded engine)
 * that counted more than one replica, every evaluated rule and the response say "sees 1 of N
 * replicas" under `warnings` (Prometheus' API puts non-fatal notes there too).
 */
export function ruleManagerRoutes(deps: {
  ruleManager: (RuleManager & { replicas?: ReplicaWatch }) | undefined
  adminToken: string | undefined
}) {
  async function alertViews() {
    const rows = deps.ruleManager ? await deps.ruleManager.activeAlerts() : []
    return rows.map((row) => ({
      key: `${row.ruleGroup}|${row.ruleName}`,
      view: {
        labels: sortedByName(row.labels),
        annotations: sortedByName(row.annotations),
        state: row.state as 'pending' | 'firing',
        activeAt: goTime(row.activeAt),
        value: formatFloat(row.value, 'e', -1),
      },
    }))
  }
  return new Elysia({
    name: 'rule-manager-routes',
    detail: { tags: ['Alerts'], security: [{ adminToken: [] }] },
  })
    .use(adminAuth(deps.adminToken))
    .get(
      '/alerts',
      async () => ({ status: 'success' as const, data: { alerts: (await alertViews()).map((a) => a.view) } }),
      {
        detail: {
          summary: "Pending and firing alerts of the rule manager (the shape of Prometheus' /api/v1/alerts)",
          description: 'Admin only. Empty when the embedded rule manager is off (ALERTS_ENABLED unset).',
        },
        response: {
          200: t.Object({ status: t.Literal('success'), data: t.Object({ alerts: t.Array(AlertModel) }) }),
          401: ErrorEnvelopeModel,
          403: ErrorEnvelopeModel,
        },
      },
    )
    .get(
      '/alerts/rules',
      async ({ query }) => {
        // As web/api/v1/api.go `rules`: `type=alert` or `type=record` (any case) keeps those
        // rules, every group listed still. Another value is refused, as Prometheus refuses it,
        // but in this API's error envelope (Prometheus answers a 400 `bad_data`).
        const type = (query.type ?? '').toLowerCase()
        if (type !== '' && type !== 'alert' && type !== 'record') {
          throw fieldError('type', 'must be alert or record', 'query')
        }
        const wanted = (entry: { rule: { type: string } }) =>
          type === '' || (type === 'alert') === (entry.rule.type === 'alerting')
        const alerts = await alertViews()
        const replicaWarning = replicaHealthWarning(deps.ruleManager?.replicas)
        const groups = (deps.ruleManager?.groups ?? []).map((loaded) => ({
          name: loaded.group.name,
          file: loaded.group.file,
          rules: loaded.rules.filter(wanted).map((entry) => {
            const common = {
              name: entry.rule.name,
              query: canonicalQuery(entry.rule.expr),
              labels: sortedByName(entry.rule.labels),
              health: entry.health,
              ...(entry.lastError ? { lastError: entry.lastError } : {}),
              ...(replicaWarning && entry.health !== 'skipped' ? { warnings: [replicaWarning] } : {}),
              lastEvaluation: goTime(entry.lastEvaluation),
              evaluationTime: (entry.evaluationMs ?? 0) / 1000,
            }
            if (entry.rule.type === 'recording') return { ...common, type: 'recording' as const }
            const ruleAlerts = alerts
              .filter((a) => a.key === `${loaded.key}|${entry.stateKey}`)
              .map((a) => a.view)
            return {
              ...common,
              state: ruleState(ruleAlerts),
              duration: entry.rule.forMs / 1000,
              keepFiringFor: entry.rule.keepFiringForMs / 1000,
              annotations: sortedByName(entry.rule.annotations),
              type: 'alerting' as const,
              alerts: ruleAlerts,
            }
          }),
          interval: loaded.intervalMs / 1000,
          limit: loaded.group.limit,
          evaluationTime: (loaded.evaluationMs ?? 0) / 1000,
          lastEvaluation: goTime(loaded.lastEvaluation),
        }))
        return {
          status: 'success' as const,
          data: { groups },
          ...(replicaWarning ? { warnings: [replicaWarning] } : {}),
        }
      },
      {
        detail: {
          summary:
            "Rule groups of the rule manager with each rule's health (ok, err, unknown, skipped), last error and timing (the shape of Prometheus' /api/v1/rules)",
          description:
            'Admin only. Durations and timings are in seconds; empty when the embedded rule manager is off.',
        },
        query: QueryParameters({
          type: t.Optional(
            t.String({ description: '`alert` or `record` (any case): only those rules, as Prometheus' }),
          ),
        }),
        response: {
          200: t.Object({
            status: t.Literal('success'),
            warnings: t.Optional(t.Array(t.String())),
            data: t.Object({
              groups: t.Array(
                t.Object({
                  name: t.String(),
                  file: t.String(),
                  rules: t.Array(RuleModel),
                  interval: t.Number({ description: 'seconds' }),
                  limit: JsonInteger({ description: '`limit` of the group, 0 for none' }),
                  evaluationTime: JsonNumber({ description: "seconds the group's last evaluation took" }),
                  lastEvaluation: t.String({ format: 'date-time' }),
                }),
              ),
            }),
          }),
          401: ErrorEnvelopeModel,
          403: ErrorEnvelopeModel,
          422: ErrorEnvelopeModel,
        },
      },
    )
}
