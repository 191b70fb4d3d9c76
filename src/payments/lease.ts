/**
 * The timing of reconciliation, shared by the reconciler (how often it looks) and the payment
 * service (when a payment left pending will have been settled).
 */

/** How often the reconciler looks: a quarter of the lease, between 100 ms and 30 s. */
export const reconcileIntervalFor = (leaseMs: number) =>
  Math.min(30_000, Math.max(100, Math.floor(leaseMs / 4)))

/**
 * When reconciliation should have settled a payment left pending: the first reconciler tick
 * after the payment has been pending for `leaseMs` (PAYMENT_PENDING_LEASE, ms) since
 * `pendingSince` (its `updated_at`, what the reconciler measures from), so at most one
 * interval (reconcileIntervalFor) later. A provider that cannot answer then keeps it pending
 * for another lease.
 */
export function settlementDue(pendingSince: Date, leaseMs: number): Date {
  return new Date(pendingSince.getTime() + leaseMs + reconcileIntervalFor(leaseMs))
}

/**
 * The `Retry-After` (whole seconds, at least 1; RFC 9110 §10.2.3) of an answer telling a
 * client to come back at `due` (`settlementDue`), seen at `now`: 1 once `due` has passed, as
 * the reconciler looks again within an interval. The 503 PAYMENT_PENDING counts with it, the
 * 409 IDEMPOTENCY_KEY_IN_USE of the handed-over key (idempotency's retryAfterSecondsFor) the same.
 */
export function retryAfterSecondsUntil(due: Date, now: Date): number {
  return Math.max(1, Math.ceil((due.getTime() - now.getTime()) / 1000))
}
