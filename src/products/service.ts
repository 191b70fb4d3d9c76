import { notFound } from '../core/errors.ts'
import type { Database } from '../db/client.ts'
import type { IdempotencyClaim } from '../idempotency/service.ts'
import type { BusinessMetrics } from '../observability/business-metrics.ts'
import { type Channel, decodeCursor, paginate } from '../shared/models.ts'
import type { CreateProduct, ProductView, UpdateProduct } from './model.ts'
import { createProductRepository, type ProductRow } from './repository.ts'

export function toProductView(row: ProductRow): ProductView {
  return {
    id: row.id,
    name: row.name,
    priceMinor: row.priceMinor,
    currency: row.currency,
    stock: row.stock,
    active: row.active,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

/**
 * A tenant's catalogue. Every call is scoped to `tenantId`: another tenant's product is
 * indistinguishable from a missing one. Prices are integer minor units in the product's
 * ISO 4217 `currency`; `stock` null means not tracked.
 */
export interface ProductService {
  /**
   * Creates the product; with `claim`, its 201 response is recorded for Idempotency-Key
   * replays in the same transaction.
   */
  create(tenantId: string, input: CreateProduct, claim?: IdempotencyClaim): Promise<ProductView>
  /** Throws `AppError` 404 NOT_FOUND when the tenant has no such product. */
  get(tenantId: string, id: string): Promise<ProductView>
  /** `get`, counted as a customer view on `channel` (product_views_total). Throws as `get`. */
  view(tenantId: string, id: string, channel: Channel): Promise<ProductView>
  /** Newest first, `limit` (default 20) per page; throws 422 VALIDATION for a bad cursor. */
  list(
    tenantId: string,
    query: { limit?: number; cursor?: string },
  ): Promise<{ items: ProductView[]; nextCursor: string | null }>
  /** Changes only the fields given. Throws `AppError` 404 NOT_FOUND when the tenant has no such product. */
  update(tenantId: string, id: string, input: UpdateProduct): Promise<ProductView>
}

export function createProductService(deps: { db: Database; metrics: BusinessMetrics }): ProductService {
  const repo = createProductRepository()
  const { db } = deps

  return {
    /** Creates a product; with an idempotency claim, its 201 response is stored in the same transaction. */
    async create(tenantId: string, input: CreateProduct, claim?: IdempotencyClaim) {
      return db.transaction(async (tx) => {
        const view = toProductView(await repo.insert(tx, { tenantId, ...input, stock: input.stock ?? null }))
        await claim?.record(tx, { status: 201, body: JSON.stringify(view) })
        return view
      })
    },

    async get(tenantId: string, id: string) {
      const row = await repo.find(db, tenantId, id)
      if (!row) throw notFound('Product')
      return toProductView(row)
    },

    /** A customer looked at the product on `channel`: the read, counted as a view. */
    async view(tenantId: string, id: string, channel: Channel) {
      const product = await this.get(tenantId, id)
      // The stored id, not the path's text: a UUID may arrive in either letter case, and each
      // spelling would be a series of its own.
      deps.metrics.productViewed({ tenantId, productId: product.id, channel })
      return product
    },

    async list(tenantId: string, query: { limit?: number; cursor?: string }) {
      const limit = query.limit ?? 20
      const rows = await repo.list(db, tenantId, limit, decodeCursor(query.cursor))
      const page = paginate(rows, limit)
      return { items: page.items.map(toProductView), nextCursor: page.nextCursor }
    },

    async update(tenantId: string, id: string, input: UpdateProduct) {
      const row = await repo.update(db, tenantId, id, input)
      if (!row) throw notFound('Product')
      return toProductView(row)
    },
  }
}
