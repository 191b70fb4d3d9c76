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

export function createProductService(deps: { db: Database; metrics: BusinessMetrics }) {
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
      deps.metrics.productViewed({ tenantId, productId: id, channel })
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

export type ProductService = ReturnType<typeof createProductService>
