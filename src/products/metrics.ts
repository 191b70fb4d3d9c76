import type { BusinessMetrics } from '../observability/business-metrics.ts'
import { Counter, type CounterSeries } from '../observability/instruments.ts'
import type { MetricsRegistry } from '../observability/metrics.ts'

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
  // Series by tenant, product and channel, so that counting a view (every GET /products/:id)
  // allocates nothing: `labels()` builds a value array and a joined key per call. Only series
  // within the family's budget are kept, so this is as bounded as the family; past the budget
  // each view goes through `labels()`, which counts it as folded.
  const byTenant = new Map<string, Map<string, Map<string, CounterSeries>>>()
  return {
    productViewed: ({ tenantId, productId, channel }) => {
      let series = byTenant.get(tenantId)?.get(productId)?.get(channel)
      if (series === undefined) {
        series = productViews.labels(tenantId, productId, channel)
        if (!productViews.isOverflow(series)) {
          let byProduct = byTenant.get(tenantId)
          if (byProduct === undefined) {
            byProduct = new Map()
            byTenant.set(tenantId, byProduct)
          }
          let byChannel = byProduct.get(productId)
          if (byChannel === undefined) {
            byChannel = new Map()
            byProduct.set(productId, byChannel)
          }
          byChannel.set(channel, series)
        }
      }
      series.inc()
    },
  }
}
