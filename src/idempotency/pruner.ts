import type { Logger } from '../core/logger.ts'
import type { IdempotencyService } from './service.ts'

/** How often expired keys are deleted: a quarter of the TTL, between 1 s and 15 minutes. */
export const pruneIntervalFor = (ttlMs: number) =>
  Math.min(15 * 60_000, Math.max(1000, Math.floor(ttlMs / 4)))

/**
 * Deletes expired idempotency keys periodically. Every replica may run it: deleting an
 * expired key twice is harmless, and a key past its TTL is already ignored by `claim`. Keys of
 * unsettled effects (a payment left pending) are kept until reconciliation settles them.
 */
export function createIdempotencyPruner(deps: {
  idempotency: IdempotencyService
  log: Logger
  ttlMs: number
  intervalMs?: number
}) {
  const intervalMs = deps.intervalMs ?? pruneIntervalFor(deps.ttlMs)
  let timer: ReturnType<typeof setInterval> | undefined
  let running: Promise<void> | undefined

  async function prune() {
    const deleted = await deps.idempotency.prune()
    if (deleted > 0)
      deps.log.info({ event: 'idempotency_keys_pruned', deleted }, 'expired idempotency keys pruned')
  }

  return {
    intervalMs,
    start() {
      timer ??= setInterval(() => {
        running ??= prune()
          .catch((error) => deps.log.error({ err: error }, 'pruning idempotency keys failed'))
          .finally(() => {
            running = undefined
          })
      }, intervalMs)
    },
    async stop() {
      clearInterval(timer)
      timer = undefined
      await running
    },
  }
}
