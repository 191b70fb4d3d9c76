import { Elysia } from 'elysia'
import { type TenantAuthenticator, tenantAuth } from '../auth/plugin.ts'
import { ErrorEnvelopeModel } from '../http/models.ts'
import { requestState } from '../http/request-context.ts'
import { IdempotencyHeaders } from '../idempotency/model.ts'
import { withIdempotency } from '../idempotency/plugin.ts'
import { type IdempotencyService, tenantScope } from '../idempotency/service.ts'
import { IdParams, listOf } from '../shared/models.ts'
import { ChangeStatusBody, CreateOrderBody, OrderListQuery, OrderModel } from './model.ts'
import type { OrderService } from './service.ts'

export function orderRoutes(deps: {
  orders: OrderService
  tenants: TenantAuthenticator
  idempotency: IdempotencyService
}) {
  const errors = { 401: ErrorEnvelopeModel, 422: ErrorEnvelopeModel, 503: ErrorEnvelopeModel }
  return new Elysia({ name: 'order-routes', detail: { tags: ['Orders'], security: [{ tenantKey: [] }] } })
    .use(tenantAuth(deps.tenants))
    .post(
      '/orders',
      async ({ tenant, body, request, set }) => {
        set.status = 201
        return withIdempotency(deps.idempotency, request, { scope: tenantScope(tenant.id) }, (claim) =>
          deps.orders.create(tenant.id, body, claim),
        )
      },
      {
        body: CreateOrderBody,
        headers: IdempotencyHeaders,
        detail: {
          summary:
            'Place an order; stock is taken atomically (409 when short); safe to retry with Idempotency-Key',
          description:
            'Totals come from current prices, in minor units; every item must be an active product in one currency (422 naming the item otherwise). The order starts pending.',
        },
        response: { 201: OrderModel, 409: ErrorEnvelopeModel, ...errors },
      },
    )
    .get('/orders', ({ tenant, query }) => deps.orders.list(tenant.id, query), {
      query: OrderListQuery,
      detail: {
        summary: 'List orders, newest first, filtered by status and channel',
        description:
          'A page of at most limit orders (default 20, at most 100); pass nextCursor as ?cursor= for the next page.',
      },
      response: { 200: listOf(OrderModel, 'A page of orders'), ...errors },
    })
    .get('/orders/:id', ({ tenant, params }) => deps.orders.get(tenant.id, params.id), {
      params: IdParams,
      detail: {
        summary: 'Read an order',
        description:
          "The order with its items and total in minor units. Another tenant's ids answer 404, as unknown ids do.",
      },
      response: { 200: OrderModel, 404: ErrorEnvelopeModel, ...errors },
    })
    .patch(
      '/orders/:id/status',
      ({ tenant, params, body, request }) =>
        deps.orders.changeStatus(tenant.id, params.id, body.status, requestState(request)!.log),
      {
        params: IdParams,
        body: ChangeStatusBody,
        detail: {
          summary:
            'Change the status: pending→confirmed|cancelled, confirmed→cancelled, paid→shipped|refunded, shipped→delivered|refunded, delivered→refunded (paid only through a payment)',
          description:
            'A move the state machine does not allow answers 409 naming the allowed next states; an order becomes paid only through POST /orders/{id}/payments. Cancelling while one of its payments waits for the provider answers 409 with `details.paymentId`: retry once it has settled, so that a customer is never charged for a cancelled order. A cancel gives the units the order took back to each product whose stock is tracked; a refund gives none back.',
        },
        response: { 200: OrderModel, 404: ErrorEnvelopeModel, 409: ErrorEnvelopeModel, ...errors },
      },
    )
}
