import { sql } from 'drizzle-orm'
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import { createTraceIds } from '../core/trace-context.ts'
import type { Database } from '../db/client.ts'
import { type BusinessMetrics, noBusinessMetrics } from '../observability/business-metrics.ts'
import { Counter, Gauge } from '../observability/instruments.ts'
import type { MetricsRegistry } from '../observability/metrics.ts'
import { reconcileIntervalFor } from './lease.ts'
import type { AmountMismatchMetrics } from './metrics.ts'
import type { PaymentProvider, ProviderRegistry } from './providers.ts'
import { createProviderRegistry } from './providers.ts'
import { createPaymentRepository, type PaymentRow } from './repository.ts'
import { chargeMismatch, createPaymentService, isRefundRequired, type SettlementResult } from './service.ts'

/**
 * What reconciliation found for a stale pending payment: the provider charged it
 * (`succeeded`) or declined it (`failed`), charged another amount or currency than the
 * payment's (`amount_mismatch`: the payment becomes `error`, the order is not paid, the charge
 * needs a refund), never received it (`not_found`: the payment becomes `error` and the order
 * can be paid again), could not be asked (`unresolved`: asked again after another lease), or
 * its own request settled it while the provider was being asked (`already_settled`:
 * reconciliation changed nothing).
 */
export const RECONCILE_OUTCOMES = [
  'succeeded',
  'amount_mismatch',
  'failed',
  'not_found',
  'unresolved',
  'already_settled',
] as const
export type ReconcileOutcome = (typeof RECONCILE_OUTCOMES)[number]

export interface ReconcilerMetrics {
  reconciled(provider: string, outcome: ReconcileOutcome): void
  /** Age of the oldest payment still pending, 0 when none is. */
  oldestPendingAge(seconds: number): void
}

export const noReconcilerMetrics: ReconcilerMetrics = { reconciled() {}, oldestPendingAge() {} }

const RECONCILED = 'payments_reconciled_total'
const OLDEST_PENDING = 'payments_pending_oldest_age_seconds'

/**
 * The reconciliation families (payments_reconciled_total{provider,outcome},
 * payments_pending_oldest_age_seconds) in the app's registry: registered on the first call,
 * the same instances on later calls (the app exposes them from its first scrape; the
 * reconciler records into them). A no-op when metrics are disabled.
 */
export function reconcilerMetrics(
  metrics: MetricsRegistry,
  providers: readonly string[] = [],
): ReconcilerMetrics {
  if (!metrics.enabled) return noReconcilerMetrics
  const { registry } = metrics
  const existing = <T>(name: string) => registry.getSingleMetric(name) as unknown as T | undefined
  let reconciled = existing<Counter<'provider' | 'outcome'>>(RECONCILED)
  if (!reconciled) {
    reconciled = new Counter<'provider' | 'outcome'>({
      name: RECONCILED,
      help: 'Stale pending payments settled by reconciliation, by provider and outcome (succeeded, amount_mismatch, failed, not_found, unresolved, already_settled).',
      labelNames: ['provider', 'outcome'],
    })
    registry.registerMetric(reconciled as never)
  }
  let oldest = existing<Gauge>(OLDEST_PENDING)
  if (!oldest) {
    oldest = new Gauge({
      name: OLDEST_PENDING,
      help: 'Age of the oldest payment still pending (0 when none is); past PAYMENT_PENDING_LEASE reconciliation should have settled it.',
    })
    registry.registerMetric(oldest as never)
  }
  // Every outcome exists from the start, so rate() and increase() see the first one.
  for (const provider of providers)
    for (const outcome of RECONCILE_OUTCOMES) reconciled.labels(provider, outcome)
  const counter = reconciled
  const gauge = oldest
  return {
    reconciled: (provider, outcome) => counter.labels(provider, outcome).inc(),
    oldestPendingAge: (seconds) => gauge.unlabelled.set(seconds),
  }
}

export { reconcileIntervalFor } from './lease.ts'

export interface PaymentReconcilerDeps {
  db: Database
  providers: ProviderRegistry | PaymentProvider[]
  clock: Clock
  log: Logger
  /** A payment pending longer than this is settled by asking its provider (PAYMENT_PENDING_LEASE). */
  leaseMs: number
  /** Default: reconcileIntervalFor(leaseMs). */
  intervalMs?: number
  metrics?: ReconcilerMetrics
  /** Settlements count in payments_processed_total like the request's own. */
  business?: BusinessMetrics
  /**
   * Counts a provider success settled as `error` for its amount or currency, or recorded for an
   * order that could no longer be paid, as the request's path does.
   */
  mismatches?: AmountMismatchMetrics
  /** Payments settled per tick at most. */
  batch?: number
  /**
   * How long one `retrieve` may take (ms) before it counts as unanswered (`unresolved`, asked
   * again after another lease): PAYMENT_PROVIDER_TIMEOUT_MS, as a charge's. Required, so that
   * no caller runs on a default while the variable says otherwise.
   */
  providerTimeoutMs: number
}

/**
 * Settles payments a crash left `pending`. A request writes its payment as pending before
 * calling the provider; if the process dies during the call, nobody settles it and the order
 * cannot be paid. Every tick, one replica (the one that gets `pg_try_advisory_xact_lock`, as
 * the rule manager's groups) leases the payments pending for longer than `leaseMs` (their
 * `updated_at` moves on, so no other replica takes them for another lease), asks each one's
 * provider what happened under the payment's idempotency key, and settles it exactly as the
 * request would have: `succeeded` moves the order to `paid`; a charge the provider never
 * received becomes `error`, and the order can be paid again. Retries of the original request
 * then replay that outcome. A provider that cannot answer leaves the payment pending.
 */
export function createPaymentReconciler(deps: PaymentReconcilerDeps) {
  const { db, clock, log } = deps
  const providers = Array.isArray(deps.providers) ? createProviderRegistry(deps.providers) : deps.providers
  const metrics = deps.metrics ?? noReconcilerMetrics
  const business = deps.business ?? noBusinessMetrics
  // The service counts the refunds of a charge it records late (settleStale), which this never sees.
  const service = createPaymentService({
    db,
    providers,
    metrics: business,
    clock,
    mismatches: deps.mismatches,
  })
  const repo = createPaymentRepository()
  const traceIds = createTraceIds()
  const intervalMs = deps.intervalMs ?? reconcileIntervalFor(deps.leaseMs)
  const batch = deps.batch ?? 50
  const { providerTimeoutMs } = deps
  let timer: ReturnType<typeof setTimeout> | undefined
  let running: Promise<unknown> | undefined
  let stopped = true
  // Set by stop() only: a pass run by tick() without start() (tests, one-off runs) is not cut short.
  let stopping = false
  // Aborted by stop(): the provider call under way ends with it instead of holding the
  // shutdown for as long as the provider takes (or forever, for a call that never answers).
  let cancel = new AbortController()

  /** Leases the stale pending payments, if this replica leads this tick. */
  async function lease(now: Date): Promise<PaymentRow[] | 'not-leader'> {
    return db.transaction(async (tx) => {
      const result = await tx.execute(
        sql`select pg_try_advisory_xact_lock(hashtextextended('convo-commerce:payments:reconciler', 0)) as locked`,
      )
      const [lock] = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<{
        locked: boolean
      }>
      if (!lock?.locked) return 'not-leader' as const
      return repo.leaseStale(tx, new Date(now.getTime() - deps.leaseMs), now, batch)
    })
  }

  async function reconcileOne(payment: PaymentRow): Promise<ReconcileOutcome | 'stopped'> {
    const provider = providers.get(payment.provider)
    const stopSignal = cancel.signal
    // A status query that never answers would hold the pass, and every payment after it, for
    // ever: it ends at the deadline as a charge does, and counts as unanswered.
    const signal = AbortSignal.any([stopSignal, AbortSignal.timeout(providerTimeoutMs)])
    // Background work has ids of its own: a trace per reconciliation, not the paying request's.
    const context = { requestId: `reconcile-${payment.id}`, traceId: traceIds.traceId(), signal }
    let found: Awaited<ReturnType<PaymentProvider['retrieve']>>
    try {
      if (!provider) throw new Error(`provider ${payment.provider} is not configured`)
      found = await untilAborted(provider.retrieve(payment.id, context), signal)
    } catch (error) {
      if (stopSignal.aborted) {
        // Not a failure of the provider: we stopped listening. Whatever the call would have
        // said is unknown, so nothing is settled; the payment keeps its lease and stays
        // pending for the next process, as after a crash.
        log.info(
          { event: 'payment_reconcile_stopped', paymentId: payment.id, provider: payment.provider },
          'reconciliation stopped while asking the provider; the payment stays pending',
        )
        return 'stopped'
      }
      log.warn(
        {
          event: 'payment_reconcile_unresolved',
          paymentId: payment.id,
          provider: payment.provider,
          err: error,
        },
        'reconciliation could not ask the provider; the payment stays pending and is retried after the lease',
      )
      return 'unresolved'
    }
    const result: SettlementResult = found ?? {
      outcome: 'error',
      reason: 'the provider never received the charge (settled by reconciliation)',
    }
    const settled = await db.transaction((tx) => service.settleStale(tx, payment, result, log))
    // The request came back first and settled (and counted) it: nothing of this was done here.
    if (!settled) return 'already_settled'
    business.paymentProcessed({
      tenantId: payment.tenantId,
      provider: payment.provider,
      status: settled.status as 'succeeded' | 'failed' | 'error',
      ...context,
    })
    const mismatch = found !== undefined && chargeMismatch(payment, found) !== undefined
    if (mismatch) deps.mismatches?.amountMismatch(payment.provider)
    if (isRefundRequired(settled)) deps.mismatches?.refundRequired(payment.provider)
    const outcome: ReconcileOutcome = found
      ? found.outcome === 'succeeded'
        ? mismatch
          ? 'amount_mismatch'
          : 'succeeded'
        : 'failed'
      : 'not_found'
    log.info(
      {
        event: 'payment_reconciled',
        paymentId: payment.id,
        orderId: payment.orderId,
        provider: payment.provider,
        outcome,
        status: settled.status,
        pendingSeconds: (clock.now().getTime() - payment.createdAt.getTime()) / 1000,
      },
      'stale pending payment settled by reconciliation',
    )
    return outcome
  }

  async function tickOnce(): Promise<ReconcileOutcome[] | 'not-leader'> {
    const leased = await lease(clock.now())
    const outcomes: ReconcileOutcome[] = []
    if (leased !== 'not-leader') {
      for (const payment of leased) {
        // Stopping: each provider call may take its whole timeout, and a shutdown waiting for
        // the pass outlasted a supervisor's grace. The rest keep their lease and are taken
        // again after it, as after a crash.
        if (stopping) break
        const outcome = await reconcileOne(payment)
        // A call cut short by stop() found nothing: no outcome to count.
        if (outcome === 'stopped') break
        metrics.reconciled(payment.provider, outcome)
        outcomes.push(outcome)
      }
    }
    const oldest = await repo.oldestPending(db)
    metrics.oldestPendingAge(oldest ? Math.max(0, (clock.now().getTime() - oldest.getTime()) / 1000) : 0)
    return leased === 'not-leader' ? 'not-leader' : outcomes
  }

  /** One pass (tests, and the loop); a call while a pass runs waits for that pass. */
  function tick() {
    running ??= tickOnce().finally(() => {
      running = undefined
    })
    return running as Promise<ReconcileOutcome[] | 'not-leader'>
  }

  function schedule() {
    if (stopped) return
    timer = setTimeout(() => {
      tick()
        .catch((error) => log.error({ err: error }, 'payment reconciliation failed'))
        .finally(schedule)
    }, intervalMs)
  }

  return {
    intervalMs,
    tick,
    start() {
      if (!stopped) return
      stopped = false
      stopping = false
      if (cancel.signal.aborted) cancel = new AbortController()
      schedule()
    },
    /**
     * Stops the loop: aborts the provider call under way (its payment stays pending, settled
     * by a later pass or process) and waits for the pass to end, which settles nothing more.
     */
    async stop() {
      stopped = true
      stopping = true
      clearTimeout(timer)
      cancel.abort(new DOMException('the payment reconciler is stopping', 'AbortError'))
      await running?.catch(() => {})
    },
  }
}

/**
 * `call`, or a rejection with `signal.reason` as soon as `signal` aborts: a provider that
 * ignores its CallContext.signal must not hold the caller (its late answer is dropped).
 */
function untilAborted<T>(call: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  let onAbort!: () => void
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
  })
  return Promise.race([call, aborted]).finally(() => signal.removeEventListener('abort', onAbort))
}

export type PaymentReconciler = ReturnType<typeof createPaymentReconciler>
