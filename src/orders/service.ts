import { conflict, notFound } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { Database, Executor } from '../db/client.ts'
import type { IdempotencyClaim } from '../idempotency/service.ts'
import type { BusinessMetrics } from '../observability/business-metrics.ts'
import { decodeCursor, fieldError, paginate } from '../shared/models.ts'
import type { CreateOrder, OrderListFilter, OrderStatus, OrderView } from './model.ts'
import { createOrderRepository, type OrderItemRow, type OrderRow } from './repository.ts'
import { MANUAL_TRANSITIONS, PAYABLE_STATUSES } from './state-machine.ts'

export function toOrderView(order: OrderRow, items: OrderItemRow[]): OrderView {
  return {
    id: order.id,
    status: order.status as OrderStatus,
    channel: order.channel as OrderView['channel'],
    customer: { phone: order.customerPhone, name: order.customerName },
    totalMinor: order.totalMinor,
    currency: order.currency,
    items: items.map((item) => ({
      productId: item.productId,
      quantity: item.quantity,
      unitPriceMinor: item.unitPriceMinor,
      lineTotalMinor: item.unitPriceMinor * item.quantity,
    })),
    createdAt: order.createdAt.toISOString(),
    updatedAt: order.updatedAt.toISOString(),
  }
}

class InsufficientStock extends Error {}

/**
 * A tenant's orders. Every call is scoped to `tenantId` (another tenant's order is a 404 like
 * a missing one); totals are integer minor units at the prices when the order was placed.
 */
export interface OrderService {
  /**
   * Places an order (status `pending`) and takes its stock in one transaction; with `claim`,
   * the 201 response is stored in it for Idempotency-Key replays. Throws `AppError` 422
   * VALIDATION (unknown or inactive product, mixed currencies, a total over 2^53 − 1 minor
   * units) or 409 CONFLICT (short stock).
   */
  create(tenantId: string, input: CreateOrder, claim?: IdempotencyClaim): Promise<OrderView>
  /** Throws `AppError` 404 NOT_FOUND when the tenant has no such order. */
  get(tenantId: string, id: string): Promise<OrderView>
  /** Newest first, `limit` (default 20) per page, filtered by status and channel. */
  list(tenantId: string, filter: OrderListFilter): Promise<{ items: OrderView[]; nextCursor: string | null }>
  /**
   * A manual status change (MANUAL_TRANSITIONS). Throws 404 NOT_FOUND, or 409 CONFLICT naming
   * the states allowed from the current one, or, for a change that ends the order's
   * payability (`cancelled`) while one of its payments waits for its provider, 409 CONFLICT
   * with that payment's id. A change to `cancelled` gives the order's units back to every
   * product whose stock is tracked, in the same transaction.
   */
  changeStatus(tenantId: string, id: string, to: OrderStatus, log: Logger): Promise<OrderView>
}

export interface OrderServiceDeps {
  db: Database
  metrics: BusinessMetrics
  /**
   * A payment of the order still waiting for its provider, read in the status change's
   * transaction (payments' repository `pendingFor`, handed in so that orders do not import
   * payments, which import orders).
   */
  pendingPayment: (tx: Executor, tenantId: string, orderId: string) => Promise<{ id: string } | undefined>
}

export function createOrderService(deps: OrderServiceDeps): OrderService {
  const repo = createOrderRepository()
  const { db } = deps

  async function load(tenantId: string, id: string) {
    const order = await repo.find(db, tenantId, id)
    if (!order) throw notFound('Order')
    return toOrderView(order, await repo.items(db, tenantId, [id]))
  }

  return {
    /**
     * Places an order at the products' current prices. Stock is checked and taken in the
     * same transaction as the order rows: either all of it happens or none of it. With an
     * idempotency claim, the 201 response is stored in that transaction too.
     */
    async create(tenantId: string, input: CreateOrder, claim?: IdempotencyClaim): Promise<OrderView> {
      // Stored ids are lower case; a UUID's letters may arrive in either case (RFC 9562).
      const productIdOf = (item: CreateOrder['items'][number]) => item.productId.toLowerCase()
      const ids = [...new Set(input.items.map(productIdOf))]
      const channel = input.channel ?? 'web'
      let view: OrderView
      try {
        view = await db.transaction(async (tx) => {
          const found = new Map((await repo.productsForOrder(tx, tenantId, ids)).map((p) => [p.id, p]))
          const lines = input.items.map((item, index) => {
            const product = found.get(productIdOf(item))
            if (!product || !product.active) {
              throw fieldError(
                `items.${index}.productId`,
                product ? 'product is not available' : 'unknown product',
              )
            }
            return { item, product, index }
          })
          const currency = lines[0]!.product.currency
          const mixed = lines.find((line) => line.product.currency !== currency)
          if (mixed) throw fieldError(`items.${mixed.index}.productId`, `currency differs from ${currency}`)
          // Summed exactly: prices up to 10^11 times quantities up to 1 000 on up to 100 lines
          // reach 10^16, past 2^53, where a float sum loses minor units. A total a number cannot
          // hold exactly (in JSON, and in the charge) is refused rather than rounded.
          const total = lines.reduce(
            (sum, line) => sum + BigInt(line.product.priceMinor) * BigInt(line.item.quantity),
            0n,
          )
          if (total > BigInt(Number.MAX_SAFE_INTEGER))
            throw fieldError(
              'items',
              `the order total must be at most ${Number.MAX_SAFE_INTEGER} minor units`,
            )
          const totalMinor = Number(total)
          // Same lock order in every transaction, so concurrent orders cannot deadlock.
          for (const line of [...lines].sort((a, b) => a.product.id.localeCompare(b.product.id))) {
            if (!(await repo.takeStock(tx, tenantId, line.product.id, line.item.quantity))) {
              throw new InsufficientStock(line.product.id)
            }
          }
          const created = await repo.insertOrder(
            tx,
            {
              tenantId,
              channel,
              customerPhone: input.customer.phone,
              customerName: input.customer.name ?? null,
              status: 'pending',
              totalMinor,
              currency,
            },
            lines.map((line) => ({
              orderId: '',
              line: line.index,
              tenantId,
              productId: line.product.id,
              quantity: line.item.quantity,
              unitPriceMinor: line.product.priceMinor,
            })),
          )
          const placed = toOrderView(created.order, created.items)
          await claim?.record(tx, { status: 201, body: JSON.stringify(placed) })
          return placed
        })
      } catch (error) {
        if (error instanceof InsufficientStock) {
          throw conflict('Insufficient stock', { productId: error.message })
        }
        throw error
      }
      deps.metrics.orderCreated({ tenantId, channel })
      return view
    },

    get: load,

    async list(tenantId: string, filter: OrderListFilter) {
      const limit = filter.limit ?? 20
      const rows = await repo.list(db, tenantId, filter, limit, decodeCursor(filter.cursor))
      const page = paginate(rows, limit)
      const items = await repo.items(
        db,
        tenantId,
        page.items.map((o) => o.id),
      )
      const byOrder = Map.groupBy(items, (item) => item.orderId)
      return {
        items: page.items.map((order) => toOrderView(order, byOrder.get(order.id) ?? [])),
        nextCursor: page.nextCursor,
      }
    },

    /**
     * Applies a manual status change; anything outside MANUAL_TRANSITIONS is a 409. The order
     * row is locked as a payment's start locks it (payments/service.ts), so a cancel and a
     * payment of one order are serialised: a cancel after the payment was recorded sees it
     * pending and is refused until it settles, and a payment after the cancel finds the
     * order no longer payable. Without it a customer could be charged for a cancelled order.
     */
    async changeStatus(tenantId: string, id: string, to: OrderStatus, log: Logger): Promise<OrderView> {
      const updated = await db.transaction(async (tx) => {
        const order = await repo.find(tx, tenantId, id, { forUpdate: true })
        if (!order) throw notFound('Order')
        const from = order.status as OrderStatus
        const allowed = MANUAL_TRANSITIONS[from]
        if (!allowed.includes(to)) {
          const next = allowed.length ? allowed.join(', ') : 'none (final state)'
          throw conflict(`Cannot change order from ${from} to ${to}; allowed next states: ${next}`, {
            from,
            to,
            allowed,
          })
        }
        if (PAYABLE_STATUSES.includes(from) && !PAYABLE_STATUSES.includes(to)) {
          const pending = await deps.pendingPayment(tx, tenantId, id)
          if (pending !== undefined)
            throw conflict(
              `A payment of this order is waiting for its provider; change the order to ${to} once it has settled`,
              { from, to, paymentId: pending.id },
            )
        }
        const row = await repo.setStatus(tx, tenantId, id, from, to)
        if (!row) throw conflict('The order changed concurrently; read it again and retry', { from, to })
        const items = await repo.items(tx, tenantId, [id])
        // A cancelled order was never paid nor shipped: its units are on the shelf again.
        // A refund gives none back; whether the goods came back is the shop's to record.
        if (to === 'cancelled') await repo.returnStock(tx, tenantId, items)
        return { row, from, items }
      })
      log.info(
        { event: 'order_status_change', orderId: id, tenantId, from: updated.from, to },
        'order status changed',
      )
      return toOrderView(updated.row, updated.items)
    },
  }
}
