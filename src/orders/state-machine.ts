import type { OrderStatus } from './model.ts'

/**
 * Transitions allowed through PATCH /orders/:id/status. `paid` is missing on purpose: an
 * order becomes paid only through a successful payment (PAYABLE_STATUSES → paid).
 */
export const MANUAL_TRANSITIONS: Record<OrderStatus, readonly OrderStatus[]> = {
  pending: ['confirmed', 'cancelled'],
  confirmed: ['cancelled'],
  paid: ['shipped', 'refunded'],
  shipped: ['delivered', 'refunded'],
  delivered: ['refunded'],
  cancelled: [],
  refunded: [],
}

/** Orders that can take a payment; a succeeded payment moves them to `paid`. */
export const PAYABLE_STATUSES: readonly OrderStatus[] = ['pending', 'confirmed']

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return MANUAL_TRANSITIONS[from].includes(to)
}
