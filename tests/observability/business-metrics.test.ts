import { describe, expect, test } from 'bun:test'
import { createMetrics } from '../../src/metrics.ts'
import { noBusinessMetrics } from '../../src/observability/business-metrics.ts'
import { LABELLED_METRIC_NAMES } from '../../src/observability/series-limits.ts'
import { PAYMENT_DURATION_BUCKETS } from '../../src/payments/metrics.ts'
import { captureLogs } from '../helpers/logs.ts'
import { family, histogramSeries } from '../helpers/scrape.ts'

function metrics(seriesLimits = {}) {
  const logs = captureLogs()
  const built = createMetrics({ log: logs.log, processMetrics: false, seriesLimits })
  return { ...built, logs, text: () => built.render('prometheus') }
}

describe('BusinessMetrics (Prometheus)', () => {
  test('orderCreated counts orders_created_total{tenant_id, channel}', async () => {
    const m = metrics()
    m.business.orderCreated({ tenantId: 'tenant-a', channel: 'whatsapp' })
    m.business.orderCreated({ tenantId: 'tenant-a', channel: 'whatsapp' })
    m.business.orderCreated({ tenantId: 'tenant-b', channel: 'instagram' })
    expect(family(await m.text(), 'orders_created_total')).toEqual({
      'orders_created_total{tenant_id="tenant-a",channel="whatsapp"}': 2,
      'orders_created_total{tenant_id="tenant-b",channel="instagram"}': 1,
    })
  })

  test('paymentProcessed counts payments_processed_total{tenant_id, provider, status} per outcome', async () => {
    const m = metrics()
    for (const status of ['succeeded', 'succeeded', 'failed', 'error'] as const) {
      m.business.paymentProcessed({ tenantId: 'tenant-a', provider: 'sandbox', status })
    }
    expect(family(await m.text(), 'payments_processed_total')).toEqual({
      'payments_processed_total{tenant_id="tenant-a",provider="sandbox",status="succeeded"}': 2,
      'payments_processed_total{tenant_id="tenant-a",provider="sandbox",status="failed"}': 1,
      'payments_processed_total{tenant_id="tenant-a",provider="sandbox",status="error"}': 1,
    })
  })

  test('paymentProviderDuration observes payment_processing_duration_seconds{provider}', async () => {
    const m = metrics()
    for (const seconds of [0.015625, 0.5, 4, 45])
      m.business.paymentProviderDuration({ provider: 'sandbox', seconds })
    expect(family(await m.text(), 'payment_processing_duration_seconds')).toEqual(
      histogramSeries(
        'payment_processing_duration_seconds',
        'provider="sandbox"',
        [0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4],
        49.515625,
        [...PAYMENT_DURATION_BUCKETS.map(String), '+Inf'],
      ),
    )
  })

  test('productViewed counts product_views_total{tenant_id, product_id, channel}', async () => {
    const m = metrics()
    m.business.productViewed({ tenantId: 'tenant-a', productId: 'p-1', channel: 'web' })
    m.business.productViewed({ tenantId: 'tenant-a', productId: 'p-1', channel: 'web' })
    m.business.productViewed({ tenantId: 'tenant-a', productId: 'p-2', channel: 'whatsapp' })
    // Series are kept by tenant, product and channel: each of these is a series of its own.
    m.business.productViewed({ tenantId: 'tenant-a', productId: 'p-1', channel: 'whatsapp' })
    // The same product id under another tenant (ids are unique, but a cache keyed by the id
    // must not count one tenant's views against another's), views interleaved both ways.
    m.business.productViewed({ tenantId: 'tenant-b', productId: 'p-1', channel: 'web' })
    m.business.productViewed({ tenantId: 'tenant-a', productId: 'p-1', channel: 'web' })
    m.business.productViewed({ tenantId: 'tenant-b', productId: 'p-1', channel: 'web' })
    m.business.productViewed({ tenantId: 'tenant-a', productId: 'p-1', channel: 'web' })
    expect(family(await m.text(), 'product_views_total')).toEqual({
      'product_views_total{tenant_id="tenant-a",product_id="p-1",channel="web"}': 4,
      'product_views_total{tenant_id="tenant-a",product_id="p-2",channel="whatsapp"}': 1,
      'product_views_total{tenant_id="tenant-a",product_id="p-1",channel="whatsapp"}': 1,
      'product_views_total{tenant_id="tenant-b",product_id="p-1",channel="web"}': 2,
    })
  })

  test('label values are escaped, never break the exposition', async () => {
    const m = metrics()
    m.business.productViewed({ tenantId: 't', productId: 'a"b\\c\nd', channel: 'web' })
    expect(family(await m.text(), 'product_views_total')).toEqual({
      'product_views_total{tenant_id="t",product_id="a\\"b\\\\c\\nd",channel="web"}': 1,
    })
  })

  test('product_views_total keeps its first label sets past the cap and folds the rest into __overflow__', async () => {
    const m = metrics({ product_views_total: 3 })
    for (const productId of ['p-1', 'p-2', 'p-3', 'p-4', 'p-5', 'p-1', 'p-4']) {
      m.business.productViewed({ tenantId: 'tenant-a', productId, channel: 'web' })
    }
    const text = await m.text()
    expect(family(text, 'product_views_total')).toEqual({
      'product_views_total{tenant_id="tenant-a",product_id="p-1",channel="web"}': 2,
      'product_views_total{tenant_id="tenant-a",product_id="p-2",channel="web"}': 1,
      'product_views_total{tenant_id="tenant-a",product_id="p-3",channel="web"}': 1,
      'product_views_total{tenant_id="__overflow__",product_id="__overflow__",channel="__overflow__"}': 3,
    })
    // Every budgeted family's counter is exported from 0, so that the first overflow is an
    // increase() the MetricsCardinalityOverflow rule sees (ops/prometheus/tests holds it).
    expect(family(text, 'metrics_cardinality_overflow_total')).toEqual({
      ...Object.fromEntries(
        LABELLED_METRIC_NAMES.filter((name) => name !== 'metrics_cardinality_overflow_total').map((name) => [
          `metrics_cardinality_overflow_total{metric="${name}"}`,
          0,
        ]),
      ),
      'metrics_cardinality_overflow_total{metric="product_views_total"}': 3,
    })
    expect(m.logs.lines.filter((line) => line.level === 'warn')).toEqual([
      expect.objectContaining({
        metric: 'product_views_total',
        maxSeries: 3,
        msg: 'metric reached its series limit; new label sets are counted in its __overflow__ series',
      }),
    ])
  })

  test('the default caps are 10 000 for product views and a few hundred for HTTP metrics', () => {
    const m = createMetrics({ log: captureLogs().log, processMetrics: false })
    expect(m.http.requests.maxSeries).toBe(500)
    expect(m.http.duration.maxSeries).toBe(200)
    expect(
      (m.registry.getSingleMetric('product_views_total') as unknown as { maxSeries: number }).maxSeries,
    ).toBe(10000)
  })

  test('with metrics disabled the services get the no-op implementation', () => {
    const m = createMetrics({ log: captureLogs().log, processMetrics: false, enabled: false })
    expect(m.business).toBe(noBusinessMetrics)
  })
})
