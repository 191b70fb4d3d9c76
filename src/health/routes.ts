import { Elysia, t } from 'elysia'
import { type Database, databaseFailureReason, pingDatabase } from '../db/client.ts'

export interface HealthDeps {
  db: Database
  timeoutMs: number
}

export function healthRoutes(deps: HealthDeps) {
  return new Elysia({ name: 'health', detail: { tags: ['Health'], security: [] } })
    .get('/health', () => ({ status: 'ok' as const }), {
      detail: {
        summary: 'Liveness: the process serves requests',
        description:
          'Answers 200 while the process can serve HTTP. It touches no dependency, so a database outage does not fail it; readiness is /health/db.',
      },
      response: { 200: t.Object({ status: t.Literal('ok') }, { description: 'The process is up' }) },
    })
    .get(
      '/health/db',
      async ({ set }) => {
        try {
          await pingDatabase(deps.db, deps.timeoutMs)
          return { status: 'ok' as const, database: 'connected' }
        } catch (error) {
          set.status = 503
          return { status: 'error' as const, database: databaseFailureReason(error) }
        }
      },
      {
        detail: {
          summary: 'Readiness: the database answers SELECT 1 within the timeout',
          description:
            'Runs SELECT 1 with HEALTH_DB_TIMEOUT_MS; 503 with a short reason (timeout, unreachable) when the database does not answer, so load balancers stop routing here.',
        },
        response: {
          200: t.Object(
            { status: t.Literal('ok'), database: t.Literal('connected') },
            { description: 'Database reachable' },
          ),
          503: t.Object(
            { status: t.Literal('error'), database: t.String({ examples: ['timeout', 'unreachable'] }) },
            { description: 'Database unreachable (load balancers treat 503 as not ready)' },
          ),
        },
      },
    )
}
