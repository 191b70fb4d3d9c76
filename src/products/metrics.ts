import type { BusinessMetrics } from '../observability/business-metrics.ts'
import { Counter } from '../observability/instruments.ts'
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
  return {
    productViewed: ({ tenantId, productId, channel }) =>
      productViews.labels(tenantId, productId, channel).inc(),
  }
}
