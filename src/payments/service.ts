import type { Clock } from '../core/clock.ts'
import { AppError, conflict, envelopeOf, notFound } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { scrubText } from '../core/scrub.ts'
import type { Database, Executor } from '../db/client.ts'
import {
  completeWaitingOn,
  type IdempotencyClaim,
  restateAnsweredOn,
  type StoredResponse,
} from '../idempotency/service.ts'
import type { BusinessMetrics } from '../observability/business-metrics.ts'
import type { OrderStatus } from '../orders/model.ts'
import { createOrderRepository } from '../orders/repository.ts'
import { PAYABLE_STATUSES } from '../orders/state-machine.ts'
import { fieldError, UUID_PATTERN } from '../shared/models.ts'
import { retryAfterSecondsUntil, settlementDue } from './lease.ts'
import type { AmountMismatchMetrics } from './metrics.ts'
import type { CreatePayment, PaymentStatus, PaymentView } from './model.ts'
import {
  type ChargeResult,
  PROVIDER_CALL_TIMEOUT_MS,
  ProviderError,
  type ProviderRegistry,
} from './providers.ts'
import { createPaymentRepository, type PaymentRow } from './repository.ts'

export function toPaymentView(row: PaymentRow): PaymentView {
  return {
    id: row.id,
    orderId: row.orderId,
    status: row.status as PaymentView['status'],
    provider: row.provider,
    amountMinor: row.amountMinor,
    currency: row.currency,
    providerReference: row.providerReference,
    failureReason: row.failureReason,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

/** A payment the provider declined: 402, with the recorded payment. */
export class PaymentDeclined extends AppError {
  constructor(readonly payment: PaymentView) {
    super(402, 'PAYMENT_DECLINED', `Payment declined: ${payment.failureReason}`, { payment })
  }
}

/**
 * The provider failed to process the payment: 502, with the recorded payment. An `error` payment
 * with a provider reference is one the provider reported charged for another amount or
 * currency (`chargeMismatch`): something was charged, so the message does not say "not charged".
 */
export class PaymentProviderFailed extends AppError {
  constructor(
    readonly payment: PaymentView,
    /** What the provider raised. */
    readonly providerError: unknown,
  ) {
    super(
      502,
      'PROVIDER_ERROR',
      payment.providerReference === null
        ? `Payment provider ${payment.provider} failed; the order was not charged`
        : `Payment provider ${payment.provider} reported a charge that does not match the payment; the order was not marked paid`,
      { payment },
    )
  }
}

/**
 * Why a provider's `succeeded` must not settle `payment` as paid: the amount (integer minor
 * units, compared exactly) or the currency (ISO 4217, compared without letter case: Stripe
 * answers `usd`) it reports charging is not the payment's. Resolves to the failureReason to
 * record (the reported values only as far as they are a safe integer and three letters: the
 * text is stored and answered), or undefined when the charge is the payment's, or the result is
 * no success.
 */
export function chargeMismatch(
  payment: Pick<PaymentRow, 'amountMinor' | 'currency'>,
  result: SettlementResult,
): string | undefined {
  if (result.outcome !== 'succeeded') return undefined
  const amount = result.amountMinor
  const currency = typeof result.currency === 'string' ? result.currency : ''
  if (amount === payment.amountMinor && currency.toUpperCase() === payment.currency.toUpperCase())
    return undefined
  const reportedAmount = Number.isSafeInteger(amount) ? String(amount) : 'a non-integer amount'
  const reportedCurrency = /^[A-Za-z]{3}$/.test(currency) ? currency.toUpperCase() : 'in an unknown currency'
  return `amount_mismatch: the provider reported a charge of ${reportedAmount} ${reportedCurrency} for a payment of ${payment.amountMinor} ${payment.currency}; the order was not marked paid, refund the charge`
}

/**
 * The provider call ended without an outcome and may have charged (ProviderError.ambiguous, a
 * timeout, an adapter's own failure): 503 PAYMENT_PENDING with the payment, still `pending`.
 * The order cannot be paid again until reconciliation has asked the provider, after
 * `retryAfterSeconds` (until `settlementDue`); the request retried with its Idempotency-Key
 * then answers the settled outcome. Nothing is stored for the key before that.
 */
export class PaymentOutcomeUnknown extends AppError {
  constructor(
    readonly payment: PaymentView,
    /** When the outcome should be known: the route's Retry-After, in whole seconds. */
    readonly retryAfterSeconds: number,
    /** What the provider (or its adapter) raised. */
    readonly providerError: unknown,
  ) {
    super(
      503,
      'PAYMENT_PENDING',
      `Payment provider ${payment.provider} gave no outcome and the order may have been charged; retry this request with the same Idempotency-Key after ${retryAfterSeconds}s to get the outcome`,
      { payment },
    )
    // When reconciliation will have asked the provider.
    this.headers['retry-after'] = String(retryAfterSeconds)
  }
}

/** Who is paying: the request's ids (logs, the provider call, exemplars) and its logger. */
export interface PaymentContext {
  requestId: string
  /** W3C trace-id of the request: sent to the provider, and the duration's exemplar. */
  traceId: string
  /** W3C trace-flags of the request (2 hex), sent to the provider with the trace id. */
  traceFlags?: string
  /** W3C tracestate of the request (RequestState.traceState), sent to the provider with the trace. */
  traceState?: string
  log: Logger
}

/** Payments of a tenant's orders through the registered providers, and their settlement. */
export interface PaymentService {
  /**
   * Charges the order total (minor units) through `input.provider`, sending the payment id as
   * the provider's idempotency key; the pending payment is committed before the call. Resolves
   * with the succeeded payment (the order is then `paid`). Throws `PaymentDeclined` (402),
   * `PaymentProviderFailed` (502), `PaymentOutcomeUnknown` (503, the payment still pending),
   * `AppError` 404 (no such order), 409 (not payable, or a payment in progress) or 422 (unknown
   * provider). With `claim`, the response is stored in
   * the settling transaction for Idempotency-Key replays.
   */
  pay(
    tenantId: string,
    orderId: string,
    input: CreatePayment,
    context: PaymentContext,
    claim?: IdempotencyClaim,
  ): Promise<PaymentView>
  /**
   * Settles a stale pending payment in `tx` with what its provider reports (reconciliation),
   * exactly as the request would have; undefined when it was no longer pending (a success for
   * one settled as not charged meanwhile is then recorded late, as `recordProviderReport` does).
   */
  settleStale(
    tx: Executor,
    payment: PaymentRow,
    result: SettlementResult,
    log: Logger,
  ): Promise<PaymentRow | undefined>
  /**
   * Records what `provider` reports of the payment `paymentId` (its idempotency key) outside
   * the charge's own answer: a webhook or callback, already authenticated by the caller. A
   * pending payment is settled as its request would have settled it. A settled one takes a
   * success for a charge it does not record yet (`failed`, or `error` without a reference:
   * reconciliation found nothing, the provider refused): for the payment's exact amount and
   * currency it becomes `succeeded` with the reference and pays the order when the order can
   * still be paid, or carries `refund_required:` when it cannot (cancelled, paid by another
   * payment); for another amount or currency it becomes `error` `amount_mismatch:` with the
   * reference. Anything else (a repeat, a decline after a success) changes nothing. The change
   * is committed, with the idempotency keys waiting on the payment answered (and those already
   * answered restated, `restateAnsweredOn`), before this
   * resolves: acknowledge the webhook only then. Resolves with the payment as it now is and
   * what the report did (ProviderReportOutcome); throws AppError 404 NOT_FOUND when `provider`
   * has no payment `paymentId`. Mirrors Stripe's guidance that webhook events may arrive more
   * than once and out of order (docs.stripe.com/webhooks, "Handle duplicate events", "Event
   * ordering").
   */
  recordProviderReport(
    provider: string,
    paymentId: string,
    result: ChargeResult,
    log: Logger,
  ): Promise<{ payment: PaymentView; outcome: ProviderReportOutcome }>
}

/**
 * What a provider's report did to its payment (`recordProviderReport`): settled or moved it
 * to `succeeded` with the order `paid`; to `succeeded` with `refund_required:` (the order could
 * not be paid); to `error` `amount_mismatch:`; settled it `failed` (declined) or `error`; or
 * nothing (`unchanged`: a repeat, or a report contradicting the charge the payment records,
 * logged for review).
 */
export type ProviderReportOutcome =
  | 'paid'
  | 'refund_required'
  | 'amount_mismatch'
  | 'failed'
  | 'error'
  | 'unchanged'

/** A report applied to a payment in a transaction: the payment as it is now, and before. */
interface AppliedReport {
  row: PaymentRow
  from: PaymentStatus
  /** Whether the report changed the payment (false: it said what the payment records, or was refused). */
  changed: boolean
}

function reportOutcome(applied: AppliedReport): ProviderReportOutcome {
  if (!applied.changed) return 'unchanged'
  if (isRefundRequired(applied.row)) return 'refund_required'
  if (isAmountMismatch(applied.row)) return 'amount_mismatch'
  if (applied.row.status === 'succeeded') return 'paid'
  return applied.row.status === 'failed' ? 'failed' : 'error'
}

/** The failureReason prefix of a succeeded payment whose order could not be paid: refund it. */
export const REFUND_REQUIRED = 'refund_required:'

/** A charge recorded `succeeded` for an order that could not be paid (`REFUND_REQUIRED`). */
export function isRefundRequired(row: Pick<PaymentRow, 'status' | 'failureReason'>): boolean {
  return row.status === 'succeeded' && row.failureReason?.startsWith(REFUND_REQUIRED) === true
}

/** A charge recorded `error` for another amount or currency than the payment's (`chargeMismatch`). */
export function isAmountMismatch(row: Pick<PaymentRow, 'status' | 'failureReason'>): boolean {
  return row.status === 'error' && row.failureReason?.startsWith('amount_mismatch:') === true
}

/**
 * What a provider's report makes of a payment already settled (`current`, not pending): the
 * new status, or why it stays. Only a success moves a settled payment, and only one that
 * records no charge yet (`failed`, or `error` without a reference): a provider's success is
 * its authoritative word that the customer paid (Stripe: a PaymentIntent may succeed after a
 * failed attempt; a charge may land after our status query found nothing). A payment that
 * records a charge (`succeeded`, or `error` `amount_mismatch:`) keeps it: the same report again
 * is a `duplicate`, another reference or a decline `contradicts` it. A decline or error of
 * a payment that records no charge changes nothing either: the order is payable either way.
 */
export function lateTransition(
  current: PaymentRow,
  result: SettlementResult,
):
  | { to: Pick<PaymentRow, 'status' | 'providerReference' | 'failureReason'> }
  | { unchanged: 'duplicate' | 'contradicts' } {
  const recordsCharge =
    current.status === 'succeeded' || (current.status === 'error' && current.providerReference !== null)
  if (result.outcome !== 'succeeded') return { unchanged: recordsCharge ? 'contradicts' : 'duplicate' }
  const mismatch = chargeMismatch(current, result)
  if (recordsCharge) {
    const same =
      current.providerReference === result.reference &&
      (current.status === 'succeeded') === (mismatch === undefined)
    return { unchanged: same ? 'duplicate' : 'contradicts' }
  }
  if (mismatch)
    return { to: { status: 'error', providerReference: result.reference, failureReason: mismatch } }
  return { to: { status: 'succeeded', providerReference: result.reference, failureReason: null } }
}

export function createPaymentService(deps: {
  db: Database
  providers: ProviderRegistry
  metrics: BusinessMetrics
  clock: Clock
  /**
   * How long a payment may stay pending before reconciliation settles it (PAYMENT_PENDING_LEASE,
   * ms): with the reconcile interval, PaymentOutcomeUnknown's Retry-After (`settlementDue`).
   * Default 2 minutes, the variable's default.
   */
  pendingLeaseMs?: number
  /** How long `charge` may take before it counts as an ambiguous failure (ms). */
  providerTimeoutMs?: number
  /**
   * Counts a charge settled as `error` for its amount or currency (`chargeMismatch`), or
   * recorded for an order that could no longer be paid (`REFUND_REQUIRED`).
   */
  mismatches?: AmountMismatchMetrics
}): PaymentService {
  const repo = createPaymentRepository()
  const orders = createOrderRepository()
  const { db } = deps
  const pendingLeaseMs = deps.pendingLeaseMs ?? 120_000
  const providerTimeoutMs = deps.providerTimeoutMs ?? PROVIDER_CALL_TIMEOUT_MS

  /**
   * Stores the settled payment's response for the idempotency keys still waiting on it (a
   * request answered 503 PAYMENT_PENDING, or whose process died), in `tx`; keys already
   * answered keep their answer.
   */
  async function answerWaiting(tx: Executor, settled: PaymentRow) {
    const view = toPaymentView(settled)
    await completeWaitingOn(tx, settled.id, deps.clock.now(), (requestId) => paymentResponse(view, requestId))
  }

  /**
   * Records the pending payment first, so a crash during the provider call leaves a trace
   * (reconciliation settles it); an idempotency claim is linked to it in the same transaction.
   */
  async function begin(tenantId: string, orderId: string, provider: string, claim?: IdempotencyClaim) {
    return db.transaction(async (tx) => {
      const order = await orders.find(tx, tenantId, orderId, { forUpdate: true })
      if (!order) throw notFound('Order')
      if (!PAYABLE_STATUSES.includes(order.status as OrderStatus)) {
        throw conflict(`Order is ${order.status}; only pending or confirmed orders can be paid`, {
          status: order.status,
        })
      }
      if (await repo.pendingFor(tx, tenantId, orderId)) {
        throw conflict('A payment for this order is already in progress')
      }
      const payment = await repo.insert(tx, {
        orderId,
        tenantId,
        provider,
        status: 'pending',
        amountMinor: order.totalMinor,
        currency: order.currency,
      })
      await claim?.attach(tx, payment.id)
      return payment
    })
  }

  /**
   * Settles a pending payment in `tx`: its final status, and the order to `paid` when it
   * succeeded (or the payment flagged `refund_required:` when the order can no longer be paid,
   * `payOrderOrFlag`). Resolves with the settled row, or undefined when the payment was no longer
   * pending (settled by someone else: the request or reconciliation, whichever came first).
   */
  async function settleIn(tx: Executor, payment: PaymentRow, result: SettlementResult, log: Logger) {
    if (result.outcome !== 'succeeded') {
      return repo.settle(tx, payment.id, {
        status: result.outcome === 'declined' ? 'failed' : 'error',
        providerReference: result.outcome === 'declined' ? (result.reference ?? null) : null,
        failureReason: result.reason,
      })
    }
    const mismatch = chargeMismatch(payment, result)
    if (mismatch) {
      // Settling it as paid would ship an order paid for 100 when it costs 10 000, or in
      // another currency. As `error` the order stays payable, and the provider's reference is
      // kept so the charge can be found and refunded.
      const settled = await repo.settle(tx, payment.id, {
        status: 'error',
        providerReference: result.reference,
        failureReason: mismatch,
      })
      if (settled) {
        log.warn(
          {
            event: 'payment_amount_mismatch',
            paymentId: payment.id,
            orderId: payment.orderId,
            provider: payment.provider,
            failureReason: mismatch,
          },
          'the provider reported a charge of another amount or currency; the payment is settled as error, refund it',
        )
      }
      return settled
    }
    const settled = await repo.settle(tx, payment.id, {
      status: 'succeeded',
      providerReference: result.reference,
      failureReason: null,
    })
    if (!settled) return undefined
    return payOrderOrFlag(tx, settled, log)
  }

  /**
   * Moves the order of `payment`, just settled `succeeded` in `tx`, to `paid` when it can still
   * be paid. When it cannot (cancelled, or paid by another payment meanwhile), the charge stays
   * recorded as `succeeded` with its reference and the failureReason `refund_required:`, so that
   * it is found and refunded: the order is not touched, as a cancelled order's stock went back.
   * Resolves with the payment as it now is.
   */
  async function payOrderOrFlag(tx: Executor, payment: PaymentRow, log: Logger): Promise<PaymentRow> {
    const order = await orders.find(tx, payment.tenantId, payment.orderId, { forUpdate: true })
    const from = order?.status as OrderStatus | undefined
    if (from && PAYABLE_STATUSES.includes(from)) {
      await orders.setStatus(tx, payment.tenantId, payment.orderId, from, 'paid')
      log.info(
        {
          event: 'order_status_change',
          orderId: payment.orderId,
          tenantId: payment.tenantId,
          from,
          to: 'paid',
        },
        'order status changed',
      )
      return payment
    }
    const failureReason = `${REFUND_REQUIRED} the provider charged ${payment.amountMinor} ${payment.currency} for an order that is ${from ?? 'missing'}; the order was not marked paid, refund the charge`
    const flagged = await repo.transition(tx, payment.id, 'succeeded', {
      status: 'succeeded',
      providerReference: payment.providerReference,
      failureReason,
    })
    log.warn(
      {
        event: 'payment_for_unpayable_order',
        orderId: payment.orderId,
        paymentId: payment.id,
        provider: payment.provider,
        status: from,
        failureReason,
      },
      'payment succeeded for an order that is no longer payable; refund it',
    )
    return flagged ?? payment
  }

  /**
   * Applies a provider's report of `paymentId`'s outcome in `tx`, the payment's row locked
   * first, so that concurrent reports (the request, reconciliation, a webhook and its
   * redeliveries) apply one at a time. A pending payment is settled as the request would have
   * settled it (`settleIn`). A settled one changes only for a provider's success that records
   * a charge it lacks (`lateTransition`): the provider's word on a charge is authoritative,
   * while a decline or error never undoes one; the Idempotency-Keys already answered for it
   * then replay what the request would answer now (`restateAnsweredOn`). Undefined when there
   * is no such payment.
   */
  async function reportIn(
    tx: Executor,
    paymentId: string,
    result: SettlementResult,
    log: Logger,
  ): Promise<AppliedReport | undefined> {
    const current = await repo.lockForUpdate(tx, paymentId)
    if (!current) return undefined
    if (current.status === 'pending') {
      const settled = await settleIn(tx, current, result, log)
      // Locked and pending, the conditional update cannot miss.
      return { row: settled!, from: 'pending', changed: true }
    }
    const from = current.status as Exclude<PaymentStatus, 'pending'>
    const late = lateTransition(current, result)
    const fields = {
      event: 'payment_late_report',
      paymentId: current.id,
      orderId: current.orderId,
      provider: current.provider,
      from,
      reported: result.outcome,
    }
    if ('unchanged' in late) {
      if (late.unchanged === 'duplicate')
        log.info({ ...fields, to: from }, 'the provider repeated what the payment records; nothing changed')
      else
        log.warn(
          { ...fields, to: from },
          'the provider reported an outcome that contradicts the charge the payment records; nothing changed, review it',
        )
      return { row: current, from, changed: false }
    }
    const moved = (await repo.transition(tx, current.id, from, late.to))!
    const row = moved.status === 'succeeded' ? await payOrderOrFlag(tx, moved, log) : moved
    // The keys answered 402 or 502 ("not charged") now replay the charge, as the request would
    // answer it today: their bots must not tell the customer the payment failed.
    const view = toPaymentView(row)
    await restateAnsweredOn(tx, row.id, (requestId) => paymentResponse(view, requestId))
    log.warn(
      { ...fields, to: row.status, failureReason: row.failureReason },
      'the provider reported a charge for a payment settled as not charged; recorded',
    )
    return { row, from, changed: true }
  }

  /**
   * Settles the request's payment with its provider's answer (`reportIn`) and stores its
   * response under the claim, in one transaction. Resolves with the payment as it now is and
   * what it was before (`from` not `pending`: reconciliation or a webhook settled it first, and
   * counted it).
   */
  async function settle(
    payment: PaymentRow,
    result: SettlementResult,
    log: Logger,
    claim?: IdempotencyClaim,
  ): Promise<AppliedReport> {
    return db.transaction(async (tx) => {
      // Reconciliation may have settled it while the call was out (a call slower than
      // PAYMENT_PENDING_LEASE); a charge it found nothing of is then recorded late.
      const applied = (await reportIn(tx, payment.id, result, log))!
      if (claim) await claim.record(tx, paymentResponse(toPaymentView(applied.row), claim.requestId))
      return applied
    })
  }

  /** Counts what a settlement did (`changed`) that needs a refund: a mismatched or unpayable charge. */
  function countRefunds(applied: AppliedReport) {
    if (!applied.changed) return
    if (isAmountMismatch(applied.row)) deps.mismatches?.amountMismatch(applied.row.provider)
    if (isRefundRequired(applied.row)) deps.mismatches?.refundRequired(applied.row.provider)
  }

  return {
    /**
     * Charges an order through the named provider, sending the payment id as the provider's
     * idempotency key. Resolves with the succeeded payment; throws PaymentDeclined (402),
     * PaymentProviderFailed (502) or, when the charge may have happened, PaymentOutcomeUnknown
     * (503, the payment left pending) carrying the recorded payment. With an idempotency claim,
     * the claim is attached to the pending payment and the response (201, 402 or 502) is
     * stored in the settling transaction; a 503 stores nothing (reconciliation will) and hands
     * the claim over to reconciliation, due by `settlementDue` (its retries' Retry-After), and
     * so does a settling transaction that fails (the error is rethrown, the payment pending).
     */
    async pay(
      tenantId: string,
      orderId: string,
      input: CreatePayment,
      context: PaymentContext,
      claim?: IdempotencyClaim,
    ) {
      const provider = deps.providers.get(input.provider)
      if (!provider) {
        throw fieldError('provider', `unknown provider; available: ${[...deps.providers.keys()].join(', ')}`)
      }
      const payment = await begin(tenantId, orderId, provider.name, claim)
      const started = deps.clock.monotonic()
      let result: SettlementResult
      let unexpected: unknown
      let providerError: unknown
      let ambiguous = false
      try {
        result = await withinDeadline(
          (signal) =>
            provider.charge(
              {
                paymentId: payment.id,
                idempotencyKey: payment.id,
                orderId,
                amountMinor: payment.amountMinor,
                currency: payment.currency,
                source: input.source,
              },
              {
                requestId: context.requestId,
                traceId: context.traceId,
                ...(context.traceFlags === undefined ? {} : { traceFlags: context.traceFlags }),
                ...(context.traceState === undefined ? {} : { traceState: context.traceState }),
                signal,
              },
            ),
          provider.name,
          providerTimeoutMs,
        )
      } catch (error) {
        if (!(error instanceof ProviderError)) unexpected = error
        providerError = error
        // An adapter's own failure may come after the request went out: as unknown as a timeout.
        ambiguous = !(error instanceof ProviderError) || error.ambiguous
        result = { outcome: 'error', reason: failureReasonOf(error) }
      }
      deps.metrics.paymentProviderDuration({
        provider: provider.name,
        seconds: (deps.clock.monotonic() - started) / 1000,
        traceId: context.traceId,
        requestId: context.requestId,
      })
      if (unexpected) {
        context.log.error(
          { err: unexpected, paymentId: payment.id, provider: provider.name },
          'payment provider adapter failed unexpectedly',
        )
      }
      let outcome: AppliedReport
      if (ambiguous) {
        // Settling it as `error` would let the order be paid again under a new provider key
        // while the first charge may have gone through. Left pending, only reconciliation settles
        // it, by asking the provider; the claim stays unanswered until then (retries: 409).
        const current = (await repo.find(db, payment.id))!
        if (current.status === 'pending') {
          // This answer and the retries of its key are told to come back at the same time: when
          // reconciliation will have settled it, counted from when the payment was recorded (what
          // the reconciler measures from), not from now, after a provider call of any length.
          const due = settlementDue(current.updatedAt, pendingLeaseMs)
          await claim
            ?.handOver(due)
            .catch((error) =>
              context.log.error(
                { err: error, paymentId: current.id },
                'could not hand the idempotency key over to reconciliation',
              ),
            )
          const view = toPaymentView(current)
          context.log.warn(
            { event: 'payment_outcome_unknown', paymentId: view.id, orderId, provider: provider.name },
            'the payment provider gave no outcome; the payment stays pending until reconciliation',
          )
          throw new PaymentOutcomeUnknown(view, retryAfterSecondsUntil(due, deps.clock.now()), providerError)
        }
        // Reconciliation settled it (and answered the claim) while the call was out.
        outcome = { row: current, from: current.status as AppliedReport['from'], changed: false }
      } else {
        try {
          outcome = await settle(payment, result, context.log, claim)
        } catch (error) {
          // The provider answered but the database did not take it (a dropped connection, a
          // failover): the payment stays pending until reconciliation asks the provider again. Its
          // key's retries are told when that is due, as after a 503, not `1` for the whole lease.
          await claim
            ?.handOver(settlementDue(payment.updatedAt, pendingLeaseMs))
            .catch((handOverError) =>
              context.log.error(
                { err: handOverError, paymentId: payment.id },
                'could not hand the idempotency key over to reconciliation',
              ),
            )
          throw error
        }
      }
      const settled = toPaymentView(outcome.row)
      const status = settled.status as 'succeeded' | 'failed' | 'error'
      countRefunds(outcome)
      // Counted once per payment, by whoever settled it from pending: the reconciler counted it
      // already when it came first (a provider call slower than PAYMENT_PENDING_LEASE).
      if (outcome.from === 'pending') {
        deps.metrics.paymentProcessed({
          tenantId,
          provider: provider.name,
          status,
          traceId: context.traceId,
          requestId: context.requestId,
        })
      }
      context.log.info(
        {
          event: 'payment_processed',
          paymentId: settled.id,
          orderId,
          provider: provider.name,
          status,
          amountMinor: settled.amountMinor,
        },
        'payment processed',
      )
      // The settled status, not `result`: reconciliation may have settled it first.
      if (settled.status === 'failed') throw new PaymentDeclined(settled)
      if (settled.status === 'error') throw new PaymentProviderFailed(settled, providerError)
      return settled
    },

    /**
     * Settles a pending payment with what its provider says happened, in `tx` (reconciliation):
     * exactly as the request would have, and the retries of that request get the response it
     * would have sent. Undefined when the payment was no longer pending; a success it reports
     * for a payment settled meanwhile as not charged (a webhook's decline) is still recorded, as
     * a late report (`reportIn`), and counted in `mismatches` when it needs a refund.
     */
    async settleStale(tx: Executor, payment: PaymentRow, result: SettlementResult, log: Logger) {
      if (result.outcome === 'succeeded') {
        // Through reportIn, as the request's own answer: a webhook's decline may have settled it
        // while the provider was asked, and the charge the provider reports must still be
        // recorded (and its key restated), not dropped as `already_settled` with the order payable.
        const applied = (await reportIn(tx, payment.id, result, log))!
        if (applied.from !== 'pending') {
          countRefunds(applied)
          return undefined
        }
        await answerWaiting(tx, applied.row)
        return applied.row
      }
      // Nothing found, or a decline, says nothing new of a payment settled meanwhile: a status
      // API lagging behind the webhook that reported the charge is no contradiction to review.
      const settled = await settleIn(tx, payment, result, log)
      if (!settled) return undefined
      await answerWaiting(tx, settled)
      return settled
    },

    async recordProviderReport(provider: string, paymentId: string, result: ChargeResult, log: Logger) {
      // A provider's own id echoed back where ours belongs would be a database error (500).
      if (!UUID_PATTERN.test(paymentId)) throw notFound('Payment')
      const applied = await db.transaction(async (tx) => {
        const found = await repo.find(tx, paymentId)
        // Another provider's report, or a made-up id: nothing of ours to change, and whether a
        // payment exists is not told to a caller that does not own it.
        if (!found || found.provider !== provider) throw notFound('Payment')
        const applied = (await reportIn(tx, paymentId, result, log))!
        if (applied.changed) await answerWaiting(tx, applied.row)
        return applied
      })
      countRefunds(applied)
      if (applied.from === 'pending') {
        deps.metrics.paymentProcessed({
          tenantId: applied.row.tenantId,
          provider,
          status: applied.row.status as 'succeeded' | 'failed' | 'error',
        })
      }
      return { payment: toPaymentView(applied.row), outcome: reportOutcome(applied) }
    },
  }
}

/**
 * The `failureReason` recorded for a charge that threw: it is stored, answered in the 502's
 * `details.payment` and replayed for its Idempotency-Key, so it carries no credential or
 * phone number (an upstream's answer or a URL's query may quote the provider's key). A
 * ProviderError's message is the adapter's account of the failure, scrubbed; anything else is
 * the adapter's own bug, whose text (and stack) only the log gets.
 */
export function failureReasonOf(error: unknown): string {
  if (error instanceof ProviderError) return scrubText(error.message)
  return 'the payment provider adapter failed unexpectedly'
}

/**
 * `charge(signal)`, or an ambiguous ProviderError once `timeoutMs` has passed without its
 * answer: the request must give up before reconciliation (after PAYMENT_PENDING_LEASE) asks the
 * provider. `signal` is aborted then (reason: a `TimeoutError` DOMException, as
 * `AbortSignal.timeout` gives), so that the provider's own call ends with the wait instead of
 * running on, unanswered, until the outbound client's timeout.
 */
async function withinDeadline<T>(
  charge: (signal: AbortSignal) => Promise<T>,
  provider: string,
  timeoutMs: number,
): Promise<T> {
  const controller = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new ProviderError(`${provider}: no answer within ${timeoutMs} ms; the charge may have gone through`),
      )
      controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError'))
    }, timeoutMs)
  })
  try {
    // The race handles the aborted call's late rejection too.
    return await Promise.race([charge(controller.signal), deadline])
  } finally {
    clearTimeout(timer)
  }
}

/** What settling is told: the provider's answer, or why there is none. */
export type SettlementResult = ChargeResult | { outcome: 'error'; reason: string }

/**
 * The response POST /orders/:id/payments sends for a settled payment: 201 with the payment,
 * 402 PAYMENT_DECLINED or 502 PROVIDER_ERROR in the error envelope (`requestId` is the
 * request's). Idempotency stores it, so it must match what the route sends byte for byte.
 */
export function paymentResponse(view: PaymentView, requestId: string): StoredResponse {
  if (view.status === 'succeeded' || view.status === 'pending')
    return { status: 201, body: JSON.stringify(view) }
  const error =
    view.status === 'failed' ? new PaymentDeclined(view) : new PaymentProviderFailed(view, undefined)
  return { status: error.status, body: JSON.stringify(envelopeOf(error, requestId)) }
}
