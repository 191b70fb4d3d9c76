import { type AppDeps, createApp, SERVICE_VERSION } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import type { Clock } from '../../src/core/clock.ts'
import { createHttpClient } from '../../src/http/outbound.ts'
import { createMetrics } from '../../src/metrics.ts'
import type { ErrorReporter, ServerErrorReport } from '../../src/observability/error-reporter.ts'
import { buildServices, type Infrastructure, type ServiceOverrides } from '../../src/services.ts'
import { sharedDatabase } from './db.ts'
import { captureLogs } from './logs.ts'

/** Elysia runs after-response hooks (access log, metrics) after handing the response back. */
export const afterResponseHooks = () => new Promise((resolve) => setTimeout(resolve, 0))

export const ADMIN_TOKEN = 'test-admin-token-0123456789'

export interface TestAppOptions extends Partial<Omit<AppDeps, 'services'>>, ServiceOverrides {
  env?: Record<string, string>
}

/** Builds the real app on the shared test database, with captured logs. */
export async function buildTestApp(options: TestAppOptions = {}) {
  const { env, paymentProviders, business, alerting, ruleManager, ...overrides } = options
  // No rule manager unless a test asks for one (ALERTS_ENABLED=true) or passes its own.
  const config = loadConfig({
    NODE_ENV: 'test',
    ADMIN_TOKEN,
    SANDBOX_LATENCY_MS: '0',
    ALERTS_ENABLED: 'false',
    ...env,
  })
  const logs = captureLogs()
  const clock: Clock = { now: () => new Date(), monotonic: () => performance.now() }
  const infra: Infrastructure = {
    config,
    database: overrides.database ?? (await sharedDatabase()),
    log: logs.log,
    clock,
    http: createHttpClient(fetch),
    metrics:
      overrides.metrics ??
      createMetrics({
        log: logs.log,
        enabled: config.metrics.enabled,
        seriesLimits: config.metrics.seriesLimits,
        build: { version: SERVICE_VERSION, commit: config.buildCommit },
      }),
    ...overrides,
  }
  const services = buildServices(infra, { paymentProviders, business, alerting, ruleManager })
  const deps: AppDeps = { ...infra, ...overrides, services }
  const app = createApp(deps)
  const call = async (path: string, init: RequestInit & { json?: unknown; token?: string } = {}) => {
    const { json, token, ...rest } = init
    const headers = new Headers(rest.headers)
    if (json !== undefined) headers.set('content-type', 'application/json')
    if (token) headers.set('authorization', `Bearer ${token}`)
    const response = await app.handle(
      new Request(`http://localhost${path}`, {
        ...rest,
        headers,
        body: json !== undefined ? JSON.stringify(json) : rest.body,
      }),
    )
    await afterResponseHooks()
    return response
  }
  return { app, deps, logs, call }
}

/**
 * An enabled ErrorReporter that records each server error it is handed in `reports` and does
 * nothing else, for tests that assert what the HTTP boundary reports.
 */
export function recordingReporter(): { reporter: ErrorReporter; reports: ServerErrorReport[] } {
  const reports: ServerErrorReport[] = []
  const reporter: ErrorReporter = {
    enabled: true,
    captureServerError: (report) => reports.push(report),
    capturePaymentProviderError() {},
    activeTraceId: () => undefined,
    requestRouted() {},
    requestFinished() {},
    flush: async () => true,
  }
  return { reporter, reports }
}
