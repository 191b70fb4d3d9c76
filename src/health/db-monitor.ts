import type { Logger } from '../core/logger.ts'
import { type Database, databaseFailureReason, pingDatabase } from '../db/client.ts'

export interface DbMonitorOptions {
  db: Database
  /** Receives 1 (reachable) or 0 after every ping: the db_up gauge. */
  report: (up: 0 | 1) => void
  intervalMs: number
  timeoutMs: number
  log: Logger
}

/**
 * Pings the database in the background, so that Prometheus sees an outage (db_up = 0) even
 * when no request comes in. Logs each change of state once, not every failed ping.
 */
export function startDbMonitor(options: DbMonitorOptions) {
  let last: 0 | 1 | undefined
  let running = false
  async function ping() {
    if (running) return
    running = true
    try {
      await pingDatabase(options.db, options.timeoutMs)
      if (last === 0) options.log.info('database reachable again')
      last = 1
    } catch (error) {
      if (last !== 0) options.log.error({ reason: databaseFailureReason(error) }, 'database unreachable')
      last = 0
    } finally {
      running = false
      options.report(last ?? 0)
    }
  }
  const firstPing = ping()
  const timer = setInterval(() => void ping(), options.intervalMs)
  return {
    ping,
    /**
     * Settles once the first ping has reported: until then the db_up gauge reads its initial 0,
     * which a scrape would store as an outage.
     */
    firstPing,
    stop: () => clearInterval(timer),
  }
}
