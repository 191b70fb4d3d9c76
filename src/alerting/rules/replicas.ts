import { sql } from 'drizzle-orm'
import type { Logger } from '../../core/logger.ts'
import type { Database } from '../../db/client.ts'

/**
 * How many replicas of this service share the database, for the embedded rule engine's one
 * blind spot: with `PROMETHEUS_URL` unset it samples only its own process's metrics, so with
 * several replicas an alert such as "5xx ratio above 5 %" sees one replica's traffic, not the
 * service's. Prometheus (or Thanos, Mimir, VictoriaMetrics) scraping every replica is the fix;
 * this watch makes the gap visible: a warning in the log when more than one replica serves,
 * and rule health "sees 1 of N replicas" in `GET /alerts/rules`.
 *
 * Counting: each replica tags a database session with `application_name` = the prefix plus a
 * random instance id (`set_config(…, false)` lasts for the session), and counts the distinct
 * tagged names in `pg_stat_activity` for this database. Chosen over a heartbeat table because
 * it needs no schema change and has no stale rows: a replica that dies closes its connections
 * and drops out of `pg_stat_activity` at once. Each check re-tags whichever pooled connection
 * runs it, so a pool that recycled the tagged connection is tagged again. Not valid behind a
 * transaction-pooling PgBouncer (session settings leak between clients there). On the embedded
 * PGlite database there is one process by construction, and the count is 1.
 */

const APPLICATION_PREFIX = 'convo-commerce rule-manager '

export interface ReplicaWatch {
  /** Replicas counted by the last check, this one included; undefined before the first. */
  readonly serving: number | undefined
  /** Tags this replica's session and counts the replicas now connected; warns when above 1. */
  check(): Promise<number>
  /** Checks now and every `intervalMs`; errors are logged and the last count kept. */
  start(): void
  stop(): void
}

export interface ReplicaWatchDeps {
  db: Database
  log: Logger
  intervalMs: number
  /** Identifies this replica among the others; a random UUID by default. */
  instanceId?: string
}

const rowsOf = (result: unknown) =>
  (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<Record<string, unknown>>

/** Creates the watch; nothing runs until `check()` or `start()`. */
export function createReplicaWatch(deps: ReplicaWatchDeps): ReplicaWatch {
  const name = `${APPLICATION_PREFIX}${deps.instanceId ?? crypto.randomUUID()}`
  let serving: number | undefined
  let warnedAt = 1
  let timer: ReturnType<typeof setInterval> | undefined

  async function check(): Promise<number> {
    await deps.db.execute(sql`select set_config('application_name', ${name}, false)`)
    const [row] = rowsOf(
      await deps.db.execute(
        sql`select count(distinct application_name)::int as replicas from pg_stat_activity
            where application_name like ${`${APPLICATION_PREFIX}%`} and datname = current_database()`,
      ),
    )
    // This session is tagged, so at least this replica counts even if the view lags.
    const counted = Math.max(1, Number(row?.replicas ?? 1))
    serving = counted
    if (counted > warnedAt) {
      deps.log.warn(
        { replicas: counted },
        `the embedded rule engine sees 1 of ${counted} replicas: its alerts see only this process's metrics; set PROMETHEUS_URL (Prometheus, Thanos, Mimir or VictoriaMetrics scraping every replica)`,
      )
    }
    warnedAt = Math.max(counted, 1)
    return counted
  }

  const safeCheck = () =>
    check().catch((err) => deps.log.warn({ err }, 'counting the replicas that share the database failed'))

  return {
    get serving() {
      return serving
    },
    check,
    start() {
      if (timer) return
      void safeCheck()
      timer = setInterval(() => void safeCheck(), deps.intervalMs)
      ;(timer as { unref?: () => void }).unref?.()
    },
    stop() {
      if (timer) clearInterval(timer)
      timer = undefined
    },
  }
}

/** The rule-health note for `GET /alerts/rules`, when more than one replica serves. */
export function replicaHealthWarning(watch: ReplicaWatch | undefined): string | undefined {
  const serving = watch?.serving
  if (serving === undefined || serving <= 1) return undefined
  return `sees 1 of ${serving} replicas: the embedded engine evaluates this process's metrics only; set PROMETHEUS_URL to query every replica`
}
