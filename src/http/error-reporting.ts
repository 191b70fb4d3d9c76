import { Elysia } from 'elysia'
import type { ErrorReporter } from '../observability/error-reporter.ts'
import { sentStatus } from './access-log.ts'
import { requestState } from './request-context.ts'

/**
 * The half of the error boundary that `onError` cannot see. Thrown errors reach the reporter
 * through errorEnvelope's `onServerError`; a handler that *returns* a 5xx (`status(503, …)`,
 * `set.status = 500`) never passes through `onError`, so it is caught here after the
 * response, from the status actually sent. `errorReported` keeps it to one event per request.
 * Installed only when the reporter is enabled, so with Sentry off the app has no such hooks.
 */
export function errorReporting(reporter: ErrorReporter) {
  // The after-response hook destructures its fields in the parameter list, not the context
  // held whole: Elysia reads hook sources, and a whole context makes it parse the body,
  // headers, query and cookies of every request (tests/http/hook-inference.test.ts).
  return new Elysia({ name: 'error-reporting' })
    .onTransform({ as: 'global' }, ({ request, route }) => {
      reporter.requestRouted(request, route)
    })
    .onAfterResponse({ as: 'global' }, ({ request, route, set, response, responseValue }) => {
      const status = sentStatus({ request, set, response, responseValue })
      const state = requestState(request)
      if (status >= 500 && state && !state.errorReported) {
        state.errorReported = true
        reporter.captureServerError({ request, status, route })
      }
      reporter.requestFinished(request, status, route)
    })
}
