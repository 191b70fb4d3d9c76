import { describe, expect, test } from 'bun:test'
import { type AnyElysia, Elysia } from 'elysia'
import { createLogger } from '../../src/core/logger.ts'
import { accessLog } from '../../src/http/access-log.ts'
import { errorEnvelope } from '../../src/http/error-envelope.ts'
import { errorReporting } from '../../src/http/error-reporting.ts'
import { httpMetrics } from '../../src/http/http-metrics.ts'
import { requestContext } from '../../src/http/request-context.ts'
import { securityHeaders } from '../../src/http/security.ts'
import { createMetrics } from '../../src/metrics.ts'
import { noErrorReporter } from '../../src/observability/error-reporter.ts'
import { buildTestApp } from '../helpers/app.ts'

/**
 * Elysia reads the source of every hook (its "sucrose" inference) to decide what to prepare
 * per request. A hook that hands its whole context on, or holds it under another name, makes
 * it parse the body, headers, query and cookies of every request: the access log once did so
 * by `const stamped = context`, and `full` went from 5.3 to 7.6 µs per request in process
 * (`bench/parts.ts`). The request path's global plugins must read their context field by field.
 */
describe('hook inference: the request-path plugins leave Elysia nothing extra to parse', () => {
  const log = createLogger({ level: 'info', pretty: false })
  const now = () => performance.now()
  const plugins: Record<string, () => AnyElysia> = {
    'request context': () => requestContext({ log, maxBodyBytes: 1024, newId: () => 'id', now }),
    'HTTP metrics': () => httpMetrics({ instruments: createMetrics({ log }).http }),
    'access log': () => accessLog({ log, now }),
    'error envelope': () => errorEnvelope({ log }),
    'error reporting': () => errorReporting(noErrorReporter),
    'security headers': () => securityHeaders(),
  }
  const parsed = (app: unknown) => {
    const { body, headers, query, cookie } = (app as { inference: Record<string, boolean> }).inference
    return { body, headers, query, cookie }
  }
  const nothing = { body: false, headers: false, query: false, cookie: false }
  for (const [name, plugin] of Object.entries(plugins)) {
    test(name, () => {
      expect(parsed(new Elysia().use(plugin()).get('/users/:id', ({ params }) => params.id))).toEqual(nothing)
    })
  }
  test("createApp's global hooks, all together", async () => {
    const { app } = await buildTestApp()
    expect(parsed(app)).toEqual(nothing)
  })
})
