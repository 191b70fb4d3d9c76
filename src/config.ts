import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { type LabelledMetricName, parseSeriesLimits } from './observability/series-limits.ts'

/**
 * Every environment variable the service reads, with its type, default and meaning.
 * This object is the single source of truth: `loadConfig` validates against it and
 * a test checks that the README documents every key.
 */
export const EnvSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], {
    default: 'production',
    description: 'development enables pretty logs and the demo tenant; production is the safe default',
  }),
  PORT: Type.Integer({
    minimum: 0,
    maximum: 65535,
    default: 3000,
    description: 'HTTP port (0 picks a free one)',
  }),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0', description: 'interface to listen on' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info', description: 'pino level; SQL statements are logged at debug' },
  ),
  DATABASE_URL: Type.Optional(
    Type.String({ pattern: '^postgres(ql)?://', description: 'PostgreSQL URL; unset = embedded PGlite' }),
  ),
  DATA_DIR: Type.String({ minLength: 1, default: './.data', description: 'folder of the embedded database' }),
  DB_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 1000, default: 10, description: 'PostgreSQL pool size' }),
  DB_CONNECT_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 3000,
    description: 'give up connecting to PostgreSQL after this long (API calls then answer 503)',
  }),
  HEALTH_DB_TIMEOUT_MS: Type.Integer({ minimum: 50, default: 2000, description: 'timeout of /health/db' }),
  MAX_BODY_BYTES: Type.Integer({
    minimum: 1,
    default: 1048576,
    description: 'larger request bodies get 413',
  }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({
    minimum: 0,
    default: 10000,
    description: 'how long in-flight requests may run after SIGTERM/SIGINT',
  }),
  ADMIN_TOKEN: Type.Optional(
    Type.String({
      minLength: 16,
      description: 'bearer token of admin routes; unset = admin routes answer 403',
    }),
  ),
  SANDBOX_LATENCY_MS: Type.Integer({
    minimum: 0,
    maximum: 60000,
    default: 20,
    description: 'simulated latency of the sandbox payment provider',
  }),
  METRICS_ENABLED: Type.Boolean({
    default: true,
    description: 'false turns request, database and business instrumentation off (/metrics still serves)',
  }),
  METRICS_TOKEN: Type.Optional(
    Type.String({ minLength: 16, description: 'bearer token /metrics requires; unset = /metrics is open' }),
  ),
  METRICS_SERIES_LIMITS: Type.Optional(
    Type.String({
      pattern: '^[a-z_]+=[0-9]+(,[a-z_]+=[0-9]+)*$',
      description: 'per-metric series caps overriding the defaults, e.g. product_views_total=20000',
    }),
  ),
  METRICS_EXCLUDE_PATHS: Type.String({
    pattern: '^(none|/[^,]*(,/[^,]*)*)$',
    default: '/metrics,/health*',
    description:
      'route templates left out of the HTTP metrics (trailing * = prefix); none = count every route',
  }),
  BUILD_COMMIT: Type.String({
    minLength: 1,
    default: 'unknown',
    description: 'source revision reported in app_build_info',
  }),
})

export type Env = Static<typeof EnvSchema>

export interface Config {
  env: Env['NODE_ENV']
  port: number
  host: string
  logLevel: Env['LOG_LEVEL']
  database: {
    url: string | undefined
    dataDir: string
    poolSize: number
    connectTimeoutMs: number
    healthTimeoutMs: number
  }
  http: { maxBodyBytes: number }
  shutdownTimeoutMs: number
  adminToken: string | undefined
  payments: { sandboxLatencyMs: number }
  metrics: {
    enabled: boolean
    token: string | undefined
    seriesLimits: Partial<Record<LabelledMetricName, number>>
    excludePaths: string[]
  }
  buildCommit: string
}

/** A configuration problem, reported as one line naming the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

function describe(schema: TSchema): string {
  if (schema.anyOf) return `one of ${schema.anyOf.map((s: TSchema) => s.const).join('|')}`
  if (schema.type === 'integer') {
    const range = [schema.minimum, schema.maximum].every((n) => n !== undefined)
      ? ` from ${schema.minimum} to ${schema.maximum}`
      : schema.minimum !== undefined
        ? ` >= ${schema.minimum}`
        : ''
    return `an integer${range}`
  }
  if (schema.type === 'boolean') return 'true or false'
  if (schema.pattern) return `a string matching ${schema.pattern}`
  if (schema.minLength) return `a string of at least ${schema.minLength} characters`
  return `a ${schema.type}`
}

/**
 * Parses and validates the environment once. Empty strings count as unset.
 * Throws a ConfigError whose message names the first bad variable and what was expected;
 * secrets are never echoed back.
 */
export function loadConfig(source: Record<string, string | undefined>): Config {
  const raw: Record<string, unknown> = {}
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = source[key]
    if (value !== undefined && value.trim() !== '') raw[key] = value.trim()
  }
  // TypeBox's Convert truncates "1.5" to 1 for integers; reject such values before converting.
  for (const [key, schema] of Object.entries(EnvSchema.properties as Record<string, TSchema>)) {
    const value = raw[key]
    if (schema.type === 'integer' && typeof value === 'string' && !/^-?\d+$/.test(value)) {
      throw new ConfigError(`Invalid ${key}: expected ${describe(schema)}, got ${JSON.stringify(value)}`)
    }
  }
  const withDefaults = Value.Default(EnvSchema, Value.Convert(EnvSchema, raw)) as Record<string, unknown>
  for (const error of Value.Errors(EnvSchema, withDefaults)) {
    const key = error.path.replace(/^\//, '')
    const schema = (EnvSchema.properties as Record<string, TSchema>)[key]
    const shown = /TOKEN|SECRET|PASSWORD|DSN|URL/.test(key) ? '(value hidden)' : JSON.stringify(raw[key])
    throw new ConfigError(
      `Invalid ${key}: expected ${schema ? describe(schema) : 'a valid value'}, got ${shown}`,
    )
  }
  const env = withDefaults as Env
  let seriesLimits: Partial<Record<LabelledMetricName, number>> = {}
  try {
    if (env.METRICS_SERIES_LIMITS) seriesLimits = parseSeriesLimits(env.METRICS_SERIES_LIMITS)
  } catch (error) {
    throw new ConfigError(`Invalid METRICS_SERIES_LIMITS: ${(error as Error).message}`)
  }
  return {
    env: env.NODE_ENV,
    port: env.PORT,
    host: env.HOST,
    logLevel: env.LOG_LEVEL,
    database: {
      url: env.DATABASE_URL,
      dataDir: env.DATA_DIR,
      poolSize: env.DB_POOL_SIZE,
      connectTimeoutMs: env.DB_CONNECT_TIMEOUT_MS,
      healthTimeoutMs: env.HEALTH_DB_TIMEOUT_MS,
    },
    http: { maxBodyBytes: env.MAX_BODY_BYTES },
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    adminToken: env.ADMIN_TOKEN,
    payments: { sandboxLatencyMs: env.SANDBOX_LATENCY_MS },
    metrics: {
      enabled: env.METRICS_ENABLED,
      token: env.METRICS_TOKEN,
      seriesLimits,
      excludePaths: env.METRICS_EXCLUDE_PATHS === 'none' ? [] : env.METRICS_EXCLUDE_PATHS.split(','),
    },
    buildCommit: env.BUILD_COMMIT,
  }
}
