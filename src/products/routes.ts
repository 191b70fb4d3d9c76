import { Elysia } from 'elysia'
import type { TenantAuthenticator } from '../auth/plugin.ts'
import { tenantAuth } from '../auth/plugin.ts'
import { ErrorEnvelopeModel } from '../http/models.ts'
import { documentedHeaders } from '../http/openapi.ts'
import { IdempotencyHeaders } from '../idempotency/model.ts'
import { withIdempotency } from '../idempotency/plugin.ts'
import { type IdempotencyService, tenantScope } from '../idempotency/service.ts'
import { CHANNELS, type Channel, fieldError, IdParams, listOf } from '../shared/models.ts'
import { CreateProductBody, ProductListQuery, ProductModel, UpdateProductBody, ViewQuery } from './model.ts'
import type { ProductService } from './service.ts'

/**
 * The channel of a product view: `?channel=` wins over the `x-channel` header; default web.
 * Each is checked when sent, as the document types both: a header that names no channel is
 * refused beside a valid `?channel=` too, not ignored (it was a 200 that hid the client's bug).
 * @throws 422 VALIDATION naming `channel` (query) or `x-channel` (headers)
 */
function viewChannel(query: string | undefined, header: string | undefined): Channel {
  const sent: Array<[string | undefined, string, string]> = [
    [query, 'channel', 'query'],
    [header, 'x-channel', 'headers'],
  ]
  for (const [value, field, where] of sent) {
    if (value !== undefined && !(CHANNELS as readonly string[]).includes(value)) {
      throw fieldError(field, `expected one of ${CHANNELS.join(', ')}`, where)
    }
  }
  return (query ?? header ?? 'web') as Channel
}

export function productRoutes(deps: {
  products: ProductService
  tenants: TenantAuthenticator
  idempotency: IdempotencyService
}) {
  const errors = { 401: ErrorEnvelopeModel, 422: ErrorEnvelopeModel, 503: ErrorEnvelopeModel }
  return new Elysia({ name: 'product-routes', detail: { tags: ['Products'], security: [{ tenantKey: [] }] } })
    .use(tenantAuth(deps.tenants))
    .post(
      '/products',
      async ({ tenant, body, request, set }) => {
        set.status = 201
        return withIdempotency(deps.idempotency, request, { scope: tenantScope(tenant.id) }, (claim) =>
          deps.products.create(tenant.id, body, claim),
        )
      },
      {
        body: CreateProductBody,
        headers: IdempotencyHeaders,
        detail: {
          summary: 'Create a product; safe to retry with Idempotency-Key',
          description:
            'Prices are integer minor units of the product currency (12500 KES = 125.00 KES); stock null or absent means unlimited.',
        },
        response: { 201: ProductModel, ...errors },
      },
    )
    .get('/products', ({ tenant, query }) => deps.products.list(tenant.id, query), {
      query: ProductListQuery,
      detail: {
        summary: 'List products, newest first',
        description:
          'A page of at most limit products (default 20, at most 100); pass nextCursor as ?cursor= for the next page.',
      },
      response: { 200: listOf(ProductModel, 'A page of products'), ...errors },
    })
    .get(
      '/products/:id',
      async ({ tenant, params, query, headers, request }) =>
        // HEAD (answered by this GET route) is a client checking, not a customer looking.
        request.method === 'HEAD'
          ? await deps.products.get(tenant.id, params.id)
          : await deps.products.view(tenant.id, params.id, viewChannel(query.channel, headers['x-channel'])),
      {
        params: IdParams,
        query: ViewQuery,
        detail: {
          summary: 'View a product (counted as a product view on the channel from ?channel= or x-channel)',
          description:
            "Counts a product view on the channel (default web) in product_views_total. Another tenant's ids answer 404, as unknown ids do.",
          ...documentedHeaders([
            {
              name: 'x-channel',
              description:
                'sales channel of the view when ?channel= is not given (422 when not one of them, with ?channel= too)',
              schema: { type: 'string', enum: [...CHANNELS] },
            },
          ]),
        },
        response: { 200: ProductModel, 404: ErrorEnvelopeModel, ...errors },
      },
    )
    .patch('/products/:id', ({ tenant, params, body }) => deps.products.update(tenant.id, params.id, body), {
      params: IdParams,
      body: UpdateProductBody,
      detail: {
        summary: 'Update name, price, stock or availability',
        description:
          'Send at least one field; inactive products cannot be ordered. Existing orders keep the price they were placed at.',
      },
      response: { 200: ProductModel, 404: ErrorEnvelopeModel, ...errors },
    })
}
