import type { BusinessMetrics } from '../observability/business-metrics.ts'
import { Counter, type CounterSeries } from '../observability/instruments.ts'
import type { MetricsRegistry } from '../observability/metrics.ts'

/** One tenant's series of a product id, by channel; `next` is another tenant's under the same id. */
interface ProductSeries {
  tenantId: string
  byChannel: Map<string, CounterSeries>
  next: ProductSeries | undefined
}

/** Builds and registers `product_views_total{tenant_id,product_id,channel}`. */
export function createProductMetrics(metrics: MetricsRegistry): Pick<BusinessMetrics, 'productViewed'> {
  const productViews = metrics.register(
    new Counter({
      name: 'product_views_total',
      help: 'Product views, by tenant, product and channel.',
      labelNames: ['tenant_id', 'product_id', 'channel'],
      ...metrics.budget('product_views_total'),
    }),
  )
  // Series by product id, then channel, so that counting a view (every GET /products/:id)
  // allocates nothing: `labels()` builds a value array and a joined key per call. Product ids
  // are unique across tenants (UUIDs), so the id alone finds the tenant's series in one string
  // hash where tenant, product and channel took three, each of a fresh request string; an
  // entry still names its tenant and chains another tenant's under the same id (as a test
  // holds), so a reused id never counts against the wrong tenant. Only series within the
  // family's budget are kept, so this is as bounded as the family; past the budget each view
  // goes through `labels()`, which counts it as folded.
  const byProduct = new Map<string, ProductSeries>()
  return {
    productViewed: ({ tenantId, productId, channel }) => {
      let entry = byProduct.get(productId)
      while (entry !== undefined && entry.tenantId !== tenantId) entry = entry.next
      let series = entry?.byChannel.get(channel)
      if (series === undefined) {
        series = productViews.labels(tenantId, productId, channel)
        if (!productViews.isOverflow(series)) {
          if (entry === undefined) {
            entry = { tenantId, byChannel: new Map(), next: byProduct.get(productId) }
            byProduct.set(productId, entry)
          }
          entry.byChannel.set(channel, series)
        }
      }
      series.inc()
    },
  }
}
