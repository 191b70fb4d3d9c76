import { Elysia } from 'elysia'
import { bearerMatches } from '../core/bearer.ts'
import { unauthorized } from '../core/errors.ts'
import { CONTENT_TYPES, negotiateFormat } from '../observability/exposition.ts'
import type { GaugeSeries } from '../observability/instruments.ts'
import type { MetricsRegistry } from '../observability/metrics.ts'
import { ErrorEnvelopeModel } from './models.ts'

export interface MetricsRouteOptions {
  metrics: MetricsRegistry
  /** When set, scrapes must send `Authorization: Bearer <token>`. */
  token?: string
  /**
   * `http_requests_in_flight`, when httpMetrics() counts this app's requests in it: a scrape
   * then takes itself out while rendering, so an idle service reads 0, not 1.
   */
  inFlight?: GaugeSeries
}

const exposition = { schema: { type: 'string' as const } }

/** `GET /metrics`: Prometheus text 0.0.4, or OpenMetrics 1.0.0 when the scraper asks for it. */
export function metricsRoute(options: MetricsRouteOptions) {
  const { metrics, token } = options
  const inFlight = options.inFlight
  return new Elysia({ name: 'metrics-route' }).get(
    '/metrics',
    async ({ request, set }) => {
      if (token !== undefined && !bearerMatches(request.headers.get('authorization'), token)) {
        set.headers['www-authenticate'] = 'Bearer realm="metrics"'
        throw unauthorized()
      }
      const format = negotiateFormat(request.headers.get('accept'))
      inFlight?.dec()
      let body: string
      try {
        body = await metrics.render(format)
      } finally {
        inFlight?.inc()
      }
      set.headers.vary = 'Accept'
      set.headers['cache-control'] = 'no-store'
      // A Response, not a string: Elysia's Node adapter replaces a string's content type with
      // plain text/plain, which Prometheus 3 rejects.
      return new Response(body, { headers: { 'content-type': CONTENT_TYPES[format] } })
    },
    {
      detail: {
        summary: 'Prometheus metrics',
        description:
          'Prometheus text format 0.0.4 by default; OpenMetrics 1.0.0 when the Accept header prefers application/openmetrics-text. Requires the METRICS_TOKEN bearer token when one is configured.',
        tags: ['Monitoring'],
        security: token !== undefined ? [{ metricsToken: [] }] : [],
        responses: {
          200: {
            description: 'Every metric the service exports',
            content: { [CONTENT_TYPES.prometheus]: exposition, [CONTENT_TYPES.openmetrics]: exposition },
          },
          401: {
            description: 'Missing or wrong METRICS_TOKEN bearer token',
            content: { 'application/json': { schema: ErrorEnvelopeModel } },
          },
        },
      },
    },
  )
}
