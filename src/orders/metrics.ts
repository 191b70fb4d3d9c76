import type { BusinessMetrics } from '../observability/business-metrics.ts'
import { Counter } from '../observability/instruments.ts'
import type { MetricsRegistry } from '../observability/metrics.ts'

/** Builds and registers `orders_created_total{tenant_id,channel}`. */
export function createOrderMetrics(metrics: MetricsRegistry): Pick<BusinessMetrics, 'orderCreated'> {
  const ordersCreated = metrics.register(
    new Counter({
      name: 'orders_created_total',
      help: 'Orders created (counted after the transaction commits), by tenant and channel.',
      labelNames: ['tenant_id', 'channel'],
      ...metrics.budget('orders_created_total'),
    }),
  )
  return { orderCreated: ({ tenantId, channel }) => ordersCreated.labels(tenantId, channel).inc() }
}
