import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { isSensitiveKey } from './core/sensitive.ts'
import { DURATION_PATTERN, parseDuration } from './prometheus/duration.ts'

const Duration = (fallback: string, description: string) =>
  Type.String({
    pattern: DURATION_PATTERN,
    default: fallback,
    description: `${description} (Prometheus duration)`,
  })
const Secret = (description: string) => Type.Optional(Type.String({ minLength: 1, description }))

import { type LabelledMetricName, parseSeriesLimits } from './observability/series-limits.ts'

/**
 * Where the runbooks (ops/runbooks/) are published: the repository's docs path. The rule
 * files' `runbook_url` annotations are absolute URLs under this base, so that Alertmanager,
 * Grafana and WhatsApp show clickable links; RUNBOOK_BASE_URL moves them elsewhere.
 */
export const DEFAULT_RUNBOOK_BASE_URL =
  'https://github.com/convo-commerce/convo-commerce/blob/main/ops/runbooks/'

/**
 * PostgreSQL's page cache of the embedded database, in MiB (EMBEDDED_SHARED_BUFFERS_MB).
 *
 * Why not PostgreSQL's 128 MB: PGlite allocates the whole cache inside its WebAssembly memory
 * at start, which grows that memory from the module's 128 MiB minimum to 188 MiB, and a process
 * cannot hand WebAssembly memory back. A shop's hot data fits in 16 MB many times over, and
 * the pages behind the cache are a file read away (the OS caches them) or, in memory, already
 * in this process. Measured on the migrated database, RSS after a full collection: 262 → 142
 * MiB file-backed, 348 → 220 MiB in memory.
 */
export const DEFAULT_EMBEDDED_SHARED_BUFFERS_MB = 16

/**
 * A host name (labels of letters, digits, `-` and `_`, as Docker Compose service names have),
 * an IPv4 address, or an IPv6 address with an optional zone (`fe80::1%eth0`); at least two
 * colons, so that `127.0.0.1:80` is refused rather than read as IPv6.
 */
const HOST_PATTERN =
  '^([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\\.?$' +
  '|^[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*(%[A-Za-z0-9_.-]+)?$'

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
  // Only the form is checked here; whether the name resolves, and to an address of this
  // machine, is known when the server binds it (runtime/listen.ts says so in the same words).
  HOST: Type.Optional(
    Type.String({
      pattern: HOST_PATTERN,
      expected:
        'a host name or IP address such as 0.0.0.0, 127.0.0.1, :: or localhost (no scheme, port or brackets)',
      description: 'interface to listen on; unset = 0.0.0.0, or 127.0.0.1 with NODE_ENV=development',
    }),
  ),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info', description: 'pino level; SQL statements are logged at debug' },
  ),
  ACCESS_LOG_PROBES: Type.Boolean({
    default: false,
    description: 'also write access-log lines for /health* and /metrics (probes are not logged by default)',
  }),
  DATABASE_URL: Type.Optional(
    Type.String({
      pattern: '^postgres(ql)?://',
      expected:
        'a postgres:// or postgresql:// URL such as postgres://user:password@127.0.0.1:5432/shop (unset it for the embedded database)',
      description: 'PostgreSQL URL; unset = embedded PGlite',
    }),
  ),
  DATA_DIR: Type.String({ minLength: 1, default: './.data', description: 'folder of the embedded database' }),
  EMBEDDED_SHARED_BUFFERS_MB: Type.Integer({
    minimum: 1,
    maximum: 1024,
    default: DEFAULT_EMBEDDED_SHARED_BUFFERS_MB,
    description: 'page cache (shared_buffers) of the embedded database, in MiB',
  }),
  DB_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 1000, default: 10, description: 'PostgreSQL pool size' }),
  DB_CONNECT_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 3000,
    description: 'give up connecting to PostgreSQL after this long (API calls then answer 503)',
  }),
  DB_PING_INTERVAL: Duration('10s', 'how often the background ping refreshes the db_up gauge'),
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
  PAYMENT_PROVIDER_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    // The outbound client's own default timeout (http/outbound.ts), which an HTTP provider inherits.
    default: 10000,
    description:
      'how long a payment request waits for its provider; past it the charge may have happened and the payment stays pending (503 PAYMENT_PENDING)',
  }),
  IDEMPOTENCY_KEY_TTL: Duration(
    '24h',
    'an Idempotency-Key is remembered this long, then pruned (the key of a payment still pending: until it settles, then this long)',
  ),
  PAYMENT_PENDING_LEASE: Duration(
    '2m',
    'a payment still pending after this long is settled by asking its provider (reconciliation)',
  ),
  PAYMENT_WEBHOOK_SECRETS: Type.Optional(
    Type.String({
      pattern: '^\\s*[a-z0-9_-]+=[^,\\s]{16,}(\\s*,\\s*[a-z0-9_-]+=[^,\\s]{16,})*\\s*$',
      expected:
        'provider=secret pairs, comma-separated, such as sandbox=whsec_0123456789abcdef (secrets of at least 16 characters, no commas or spaces)',
      description:
        'webhook signing secrets of the payment providers, provider=secret[,provider=secret…] (a provider named twice: either secret verifies, for rotation); a provider without one answers 503 on POST /webhooks/payments/:provider',
    }),
  ),
  CORS_ORIGINS: Type.String({
    pattern: '^(https?://[^,\\s]+)?(,\\s*https?://[^,\\s]+)*$',
    expected: 'comma-separated http(s) origins such as https://shop.example.com (no *)',
    default: '',
    description: 'browser origins allowed by CORS, comma-separated; empty = CORS off',
  }),
  PUBLIC_BASE_URL: Type.String({
    pattern: '^(/|https?://)\\S*$',
    expected: '/ or an absolute http(s) URL such as https://api.example.com',
    default: '/',
    description: 'URL clients reach the API at, announced as `servers` in /swagger/json; / = same origin',
  }),
  ALERT_PHONES: Type.String({
    // 8 to 15 digits (E.164's most), spaces allowed between them as people write numbers.
    pattern: '^(\\+?[1-9](?: *[0-9]){7,14})?(\\s*,\\s*\\+?[1-9](?: *[0-9]){7,14})*$',
    expected:
      'comma-separated international numbers such as +254711000200 (country code first, no leading 0, 8 to 15 digits)',
    default: '',
    description: 'platform on-call WhatsApp numbers, comma-separated, international format',
  }),
  ALERT_ONCALL_GETS_TENANT_ALERTS: Type.Boolean({
    default: true,
    description: "false: alerts carrying tenant_id go only to that tenant's phones",
  }),
  ALERT_NOTIFY_INTERVAL: Duration(
    '5s',
    'notifier tick: alerts due for one recipient in one tick go out as one message',
  ),
  ALERT_REPEAT_INTERVAL: Duration('4h', 'resend a still-firing, unacknowledged alert after this long'),
  ALERT_HISTORY_RETENTION: Duration(
    '8d',
    'sent notifications, handled replies and resolved alerts are deleted this long after their last change; 0s keeps them for ever',
  ),
  ALERT_SEND_LEASE: Duration(
    '1m',
    'a message left in "sending" by a dead process is retried after this long; at least WHATSAPP_TIMEOUT_MS plus 2s',
  ),
  ALERTS_ENABLED: Type.Boolean({
    default: true,
    description: 'run the scheduled rule evaluator in this process',
  }),
  ALERT_RULES_FILES: Type.String({
    minLength: 1,
    default: 'ops/prometheus/rules/*.yml',
    description: 'rule files the evaluator loads, comma-separated; * and ? match file names',
  }),
  ALERT_EVAL_INTERVAL: Duration('30s', 'evaluation interval of groups that set none'),
  ALERT_SAMPLE_INTERVAL: Duration('15s', 'how often the embedded engine samples the metrics'),
  PROMETHEUS_URL: Type.Optional(
    Type.String({
      pattern: '^https?://',
      expected: 'an http(s) URL such as http://prometheus:9090',
      description: 'query API for the evaluator; unset = the embedded engine',
    }),
  ),
  PROMETHEUS_BEARER_TOKEN: Secret('bearer token sent to PROMETHEUS_URL'),
  RUNBOOK_BASE_URL: Type.String({
    pattern: '^https?://\\S+/$',
    expected: 'an http(s) URL ending in / such as https://wiki.example.com/runbooks/',
    default: DEFAULT_RUNBOOK_BASE_URL,
    description:
      'base URL of the published ops/runbooks/ folder (ending in /); the rule manager rewrites runbook_url annotations under the default base onto it',
  }),
  PROMETHEUS_QUERY_TIMEOUT: Duration('10s', 'timeout of one instant query'),
  TRACE_BASE_URL: Type.String({
    pattern: '^(https?://[^\\s/?#]+[^\\s]*)?$',
    expected: 'empty or an absolute http(s) URL such as https://acme.sentry.io/performance/trace/',
    default: '',
    description:
      'trace viewer URL the trace id is appended to (e.g. https://acme.sentry.io/performance/trace/); empty = no trace links',
  }),
  WHATSAPP_API_BASE: Type.String({
    pattern: '^https?://',
    expected: 'an http(s) URL such as https://graph.facebook.com',
    default: 'https://graph.facebook.com',
    description: 'Cloud API base URL',
  }),
  WHATSAPP_API_VERSION: Type.String({
    pattern: '^v[0-9]+\\.[0-9]+$',
    expected: 'a Graph API version such as v21.0',
    default: 'v21.0',
    description: 'Graph API version',
  }),
  WHATSAPP_PHONE_NUMBER_ID: Type.Optional(
    Type.String({
      pattern: '^[0-9]+$',
      expected: 'the digits of the Meta phone number id (not the phone number)',
      description: 'Meta id of the sending number',
    }),
  ),
  WHATSAPP_ACCESS_TOKEN: Secret(
    'Cloud API bearer token; without it (or the number id) messages go to the log transport',
  ),
  WHATSAPP_TEMPLATE_FIRING: Type.Optional(
    Type.String({ minLength: 1, description: 'approved template for firing alerts' }),
  ),
  WHATSAPP_TEMPLATE_RESOLVED: Type.Optional(
    Type.String({ minLength: 1, description: 'approved template for resolutions' }),
  ),
  WHATSAPP_TEMPLATE_LANGUAGE: Type.String({
    minLength: 2,
    default: 'en_US',
    description: 'language code of the templates',
  }),
  WHATSAPP_RETRY_BASE_MS: Type.Integer({
    minimum: 1,
    default: 2000,
    description: 'first retry delay (doubles, max 5 minutes)',
  }),
  WHATSAPP_MAX_ATTEMPTS: Type.Integer({
    minimum: 1,
    maximum: 100,
    default: 8,
    description: 'attempts before a message is failed',
  }),
  WHATSAPP_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 10000,
    description: 'timeout of one Cloud API call',
  }),
  WHATSAPP_VERIFY_TOKEN: Secret('webhook verification token (GET /webhooks/whatsapp handshake)'),
  WHATSAPP_APP_SECRET: Secret('app secret that signs webhook payloads (X-Hub-Signature-256)'),
  ALERTMANAGER_WEBHOOK_TOKEN: Secret('bearer token Alertmanager sends to POST /alerts/alertmanager'),
  ALERTMANAGER_ALERT_STALE_AFTER: Duration(
    '8h30m',
    "a firing Alertmanager alert that no notification listed for this long is resolved (its group went silent); above Alertmanager's repeat_interval plus group_interval; 0s never",
  ),
  // Alert storms: Alertmanager does not retry a 4xx, so its receiver takes far more than MAX_BODY_BYTES.
  ALERTMANAGER_MAX_BODY_BYTES: Type.Integer({
    minimum: 1,
    default: 33554432,
    description:
      'body limit of POST /alerts/alertmanager (32 MiB: about 10 000 alerts with 2 KB annotations); larger gets 413',
  }),
  WHATSAPP_MESSAGES_PER_SECOND: Type.Integer({
    minimum: 1,
    maximum: 1000,
    default: 80,
    description:
      "the sending number's Cloud API throughput; messages beyond it wait in the outbox for the next tick",
  }),
  // The SDK's own DSN grammar (@sentry/core utils/dsn.ts): a DSN it cannot read is printed
  // whole, key included, to stderr while the start-up still says "sentry enabled"; one without
  // a numeric project id at the end (`…/42/`, `…/shop`) sends every event to a wrong URL.
  SENTRY_DSN: Type.Optional(
    Type.String({
      pattern: '^https?://\\w+(:\\w*)?@(\\[[:.%\\w]+\\]|[\\w.-]+)(:[0-9]+)?/([^\\s?#]+/)?[0-9]+$',
      expected:
        'a Sentry DSN such as https://<key>@o0.ingest.sentry.io/<project>: a key of letters, digits and _, a numeric project id last',
      description: 'Sentry DSN (https://<key>@<host>/<project>); unset = Sentry off and never loaded',
    }),
  ),
  SENTRY_ENVIRONMENT: Type.Optional(
    Type.String({ minLength: 1, maxLength: 64, description: 'Sentry environment; unset = NODE_ENV' }),
  ),
  SENTRY_TRACES_SAMPLE_RATE: Type.Number({
    minimum: 0,
    maximum: 1,
    default: 0.2,
    description: 'share of requests traced as Sentry transactions',
  }),
  SENTRY_RELEASE: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'Sentry release; unset = convo-commerce@<version>, plus +<commit> when known',
    }),
  ),
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
      expected: 'comma-separated metric=limit pairs such as product_views_total=20000',
      description: 'per-metric series caps overriding the defaults, e.g. product_views_total=20000',
    }),
  ),
  METRICS_EXCLUDE_PATHS: Type.String({
    pattern: '^(none|/[^,]*(,/[^,]*)*)$',
    expected: 'none or comma-separated route templates starting with / such as /metrics,/health*',
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
  /** Whether /health* and /metrics requests get access-log lines (ACCESS_LOG_PROBES). */
  accessLogProbes: boolean
  database: {
    url: string | undefined
    dataDir: string
    /** shared_buffers of the embedded database, in MiB (EMBEDDED_SHARED_BUFFERS_MB). */
    embeddedSharedBuffersMb: number
    poolSize: number
    connectTimeoutMs: number
    healthTimeoutMs: number
    pingIntervalMs: number
  }
  http: { maxBodyBytes: number; corsOrigins: string[]; publicBaseUrl: string }
  shutdownTimeoutMs: number
  adminToken: string | undefined
  payments: {
    sandboxLatencyMs: number
    pendingLeaseMs: number
    providerTimeoutMs: number
    /** PAYMENT_WEBHOOK_SECRETS: each provider's webhook signing secrets (several while rotating). */
    webhookSecrets: Record<string, string[]>
  }
  idempotency: { keyTtlMs: number }
  alerts: {
    /** Digits only (E.164 without the +). */
    oncallPhones: string[]
    /** Development with ALERT_PHONES unset: on-call is the demo tenant's number (log transport). */
    oncallIsDemo: boolean
    oncallGetsTenantAlerts: boolean
    notifyIntervalMs: number
    repeatIntervalMs: number
    /** ALERT_HISTORY_RETENTION; 0 keeps the history for ever. */
    historyRetentionMs: number
    sendLeaseMs: number
    /** ALERTMANAGER_ALERT_STALE_AFTER; 0 never resolves an alert for not being listed. */
    alertmanagerStaleAfterMs: number
    alertmanagerToken: string | undefined
    alertmanagerMaxBodyBytes: number
    ruleManagerEnabled: boolean
    ruleFiles: string
    evalIntervalMs: number
    sampleIntervalMs: number
    prometheusUrl: string | undefined
    prometheusToken: string | undefined
    queryTimeoutMs: number
    /** Base URL of the published runbooks, ending in `/`. */
    runbookBaseUrl: string
    /** Trace viewer link prefix: `${traceBaseUrl}${trace_id}` (TRACE_BASE_URL); unset = no links. */
    traceBaseUrl: string | undefined
  }
  whatsapp: {
    apiBase: string
    apiVersion: string
    phoneNumberId: string | undefined
    accessToken: string | undefined
    templateFiring: string | undefined
    templateResolved: string | undefined
    templateLanguage: string
    retryBaseMs: number
    maxAttempts: number
    messagesPerSecond: number
    timeoutMs: number
    verifyToken: string | undefined
    appSecret: string | undefined
  }
  sentry: {
    /** Unset: Sentry is off and the SDK is never loaded. */
    dsn: string | undefined
    environment: string
    tracesSampleRate: number
    /** Unset: the entry file derives one from the version and commit. */
    release: string | undefined
  }
  metrics: {
    enabled: boolean
    token: string | undefined
    seriesLimits: Partial<Record<LabelledMetricName, number>>
    excludePaths: string[]
  }
  buildCommit: string
}

/** The demo tenant owner's fictional 555 number; in development it also stands in for on-call. */
export const DEMO_PHONE = '+15550100000'

/**
 * The interface to listen on when HOST is unset: every interface in production (a container's
 * port is published from it), loopback alone under `bun run dev`, as Vite and most development
 * servers do, so that a laptop on a café's network does not offer the demo tenant's routes to
 * its neighbours.
 */
export function defaultHost(env: Config['env']): string {
  return env === 'development' ? '127.0.0.1' : '0.0.0.0'
}

/** A configuration problem, reported as one line naming the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

/**
 * What a variable takes, in words, for its error line. A name ending in `_MS` says its unit:
 * every other time setting takes a duration, so `3s` is the likely slip there.
 */
function describe(schema: TSchema, key = ''): string {
  if (schema.anyOf) return `one of ${schema.anyOf.map((s: TSchema) => s.const).join('|')}`
  if (schema.type === 'integer' && key.endsWith('_MS')) {
    const range = [schema.minimum, schema.maximum].every((n) => n !== undefined)
      ? ` from ${schema.minimum} to ${schema.maximum}`
      : schema.minimum !== undefined
        ? ` >= ${schema.minimum}`
        : ''
    return `a whole number of milliseconds${range}`
  }
  if (schema.type === 'integer' || schema.type === 'number') {
    const range = [schema.minimum, schema.maximum].every((n) => n !== undefined)
      ? ` from ${schema.minimum} to ${schema.maximum}`
      : schema.minimum !== undefined
        ? ` >= ${schema.minimum}`
        : ''
    return `${schema.type === 'integer' ? 'an integer' : 'a number'}${range}`
  }
  if (schema.type === 'boolean') return 'true or false'
  if (schema.pattern === DURATION_PATTERN) return 'a duration such as 30s, 5m or 1h30m'
  // A regex tells a newcomer little; a pattern-checked variable says in words what it takes.
  if (typeof schema.expected === 'string') return schema.expected
  if (schema.pattern) return `a string matching ${schema.pattern}`
  if (schema.minLength) return `a string of at least ${schema.minLength} characters`
  return `a ${schema.type}`
}

/**
 * For a duration given to a `_MS` variable (`DB_CONNECT_TIMEOUT_MS=3s`), the number it meant:
 * `` (write 3000 for 3s)``; empty otherwise.
 */
function durationForMs(key: string, value: string): string {
  if (!key.endsWith('_MS') || !new RegExp(DURATION_PATTERN).test(value)) return ''
  try {
    return ` (write ${parseDuration(value)} for ${value})`
  } catch {
    return ''
  }
}

/** Durations whose zero is documented: ALERT_HISTORY_RETENTION=0s keeps the history for ever. */
const DURATIONS_ZERO_MEANS_OFF = new Set(['ALERT_HISTORY_RETENTION', 'ALERTMANAGER_ALERT_STALE_AFTER'])

/**
 * The shortest ALERTMANAGER_ALERT_STALE_AFTER (4h30m): Alertmanager re-posts a group that still
 * fires at the first flush (every group_interval, 5m by default) after its default
 * repeat_interval (4h) has passed since the last notification was logged (notify/notify.go
 * DedupStage.needsUpdate: `entry.Timestamp.Before(now.Add(-repeat))`), and retries a failed
 * post until the flush after that; 30m covers both. Shorter would resolve every alert of a
 * healthy, unchanged group between two of its re-posts.
 */
export const MIN_ALERTMANAGER_STALE_AFTER_MS = 4.5 * 3_600_000

/** What a sender needs after its WhatsApp call to record the answer: ALERT_SEND_LEASE ≥ WHATSAPP_TIMEOUT_MS + this. */
export const SEND_LEASE_MARGIN_MS = 2_000

/**
 * What a payment request needs after its provider call to record the answer (one settling
 * transaction): PAYMENT_PENDING_LEASE ≥ PAYMENT_PROVIDER_TIMEOUT_MS + this.
 */
export const PAYMENT_CALL_MARGIN_MS = 2_000

/**
 * PAYMENT_WEBHOOK_SECRETS (already checked against its pattern) as each provider's secrets, in
 * the order given; a secret may hold `=` (base64), only the first one separates.
 */
function webhookSecretsOf(text: string | undefined): Record<string, string[]> {
  // A Map, then own properties: a provider spelled `__proto__` must not become the prototype.
  const secrets = new Map<string, string[]>()
  for (const entry of (text ?? '').split(',')) {
    const at = entry.indexOf('=')
    if (at < 0) continue
    const provider = entry.slice(0, at).trim()
    secrets.set(provider, [...(secrets.get(provider) ?? []), entry.slice(at + 1).trim()])
  }
  return Object.fromEntries(secrets)
}

/** A variable's value as a configuration error may quote it: secrets and URLs hidden. */
function shown(key: string, value: unknown): string {
  // A URL may carry credentials (postgres://user:password@…) though its name says nothing.
  return isSensitiveKey(key) || /URL/.test(key) ? '(value hidden)' : JSON.stringify(value)
}

/**
 * Refuses a DATABASE_URL whose user name or password holds an unescaped `/`, `?` or `#`
 * (`postgres://shop:ab/cd@db/shop`). A URL ends its authority at the first of these, so the
 * password's tail is read as the path, query or fragment and its head as the host or port:
 * the driver would dial host `shop`, port `ab`, and the start-up's error line, which names
 * where the URL points, would print the password. An `@` after the authority is the trace
 * such a split leaves behind; the message says which escapes fix it, never the value.
 */
function checkDatabaseUrl(url: string): void {
  const rest = url.slice(url.indexOf('://') + 3)
  const authorityEnd = rest.search(/[/?#]/)
  if (authorityEnd !== -1 && rest.slice(authorityEnd).includes('@')) {
    throw new ConfigError(
      'Invalid DATABASE_URL: a / ? or # in its user name or password must be percent-encoded (%2F, %3F, %23), as must an @ in its path or query (%40), got (value hidden)',
    )
  }
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
  // `docker run --env-file`, Kubernetes and a hand-written systemd Environment= keep the quotes
  // of ADMIN_TOKEN="…" as part of the value: a token or app secret would then silently never
  // match what clients send. No setting's value starts and ends with the same quote.
  for (const [key, value] of Object.entries(raw) as Array<[string, string]>) {
    if (/^(["']).*\1$/s.test(value) && value.length >= 2) {
      throw new ConfigError(
        `Invalid ${key}: the value is wrapped in quotes, which this environment kept as part of it; remove them, got ${shown(key, value)}`,
      )
    }
  }
  // TypeBox's Convert truncates "1.5" to 1 for integers; reject such values before converting.
  for (const [key, schema] of Object.entries(EnvSchema.properties as Record<string, TSchema>)) {
    const value = raw[key]
    if (schema.type === 'integer' && typeof value === 'string' && !/^-?\d+$/.test(value)) {
      throw new ConfigError(
        `Invalid ${key}: expected ${describe(schema, key)}, got ${JSON.stringify(value)}${durationForMs(key, value)}`,
      )
    }
  }
  const withDefaults = Value.Default(EnvSchema, Value.Convert(EnvSchema, raw)) as Record<string, unknown>
  for (const error of Value.Errors(EnvSchema, withDefaults)) {
    const key = error.path.replace(/^\//, '')
    const schema = (EnvSchema.properties as Record<string, TSchema>)[key]
    throw new ConfigError(
      `Invalid ${key}: expected ${schema ? describe(schema, key) : 'a valid value'}, got ${shown(key, raw[key])}`,
    )
  }
  // A zero is accepted by the duration pattern but breaks the feature: DB_PING_INTERVAL=0s
  // pings the database in a loop (as ALERT_NOTIFY_INTERVAL, ALERT_EVAL_INTERVAL and
  // ALERT_SAMPLE_INTERVAL would tick), PAYMENT_PENDING_LEASE=0s reconciles payments still
  // waiting for their provider (ALERT_SEND_LEASE=0s resends a message being sent),
  // IDEMPOTENCY_KEY_TTL=0s forgets every key at once, ALERT_REPEAT_INTERVAL=0s repeats an alert
  // every tick, PROMETHEUS_QUERY_TIMEOUT=0s fails every query. Every duration is checked, so
  // that a new one is too, except those where the README gives zero a meaning.
  for (const [key, schema] of Object.entries(EnvSchema.properties as Record<string, TSchema>)) {
    if (schema.pattern !== DURATION_PATTERN || DURATIONS_ZERO_MEANS_OFF.has(key)) continue
    const value = withDefaults[key] as string
    if (parseDuration(value) <= 0) {
      throw new ConfigError(
        `Invalid ${key}: expected a duration above zero such as 30s, 5m or 1h30m, got ${JSON.stringify(value)}`,
      )
    }
  }
  const env = withDefaults as Env
  if (env.DATABASE_URL) checkDatabaseUrl(env.DATABASE_URL)
  // The sender renews a message's lease just before its WhatsApp call; a call that outlives the
  // lease lets another replica (or the next tick) claim the message and send it again while the
  // first call may still deliver it. The margin is the time to record the answer.
  const leaseFloorMs = env.WHATSAPP_TIMEOUT_MS + SEND_LEASE_MARGIN_MS
  if (parseDuration(env.ALERT_SEND_LEASE) < leaseFloorMs) {
    throw new ConfigError(
      `Invalid ALERT_SEND_LEASE: expected at least WHATSAPP_TIMEOUT_MS plus ${SEND_LEASE_MARGIN_MS / 1000}s (${leaseFloorMs / 1000}s), so that a slow WhatsApp call is not taken over and sent twice, got ${JSON.stringify(env.ALERT_SEND_LEASE)}`,
    )
  }
  const staleAfterMs = parseDuration(env.ALERTMANAGER_ALERT_STALE_AFTER)
  if (staleAfterMs > 0 && staleAfterMs < MIN_ALERTMANAGER_STALE_AFTER_MS) {
    throw new ConfigError(
      `Invalid ALERTMANAGER_ALERT_STALE_AFTER: expected 0s (never) or at least 4h30m (Alertmanager's default repeat_interval of 4h, plus its group_interval and retries), so that a group still firing is re-posted before its alerts are taken for ended, got ${JSON.stringify(env.ALERTMANAGER_ALERT_STALE_AFTER)}`,
    )
  }
  // Reconciliation asks a provider about a payment pending longer than the lease; asked while
  // the request's own charge is still in flight, the provider has "never received" it, and the
  // payment is settled as `error` (payable again) though the charge then lands.
  const paymentLeaseFloorMs = env.PAYMENT_PROVIDER_TIMEOUT_MS + PAYMENT_CALL_MARGIN_MS
  if (parseDuration(env.PAYMENT_PENDING_LEASE) < paymentLeaseFloorMs) {
    throw new ConfigError(
      `Invalid PAYMENT_PENDING_LEASE: expected at least PAYMENT_PROVIDER_TIMEOUT_MS plus ${PAYMENT_CALL_MARGIN_MS / 1000}s (${paymentLeaseFloorMs / 1000}s), so that reconciliation never settles a charge still in flight, got ${JSON.stringify(env.PAYMENT_PENDING_LEASE)}`,
    )
  }
  // A payment holds its Idempotency-Key until it settles, which may take up to the pending
  // lease (then reconciliation settles it). A key pruned before that lets the request's own
  // settle fail as IDEMPOTENCY_KEY_IN_USE and roll back, and a retry charge a second time.
  if (parseDuration(env.IDEMPOTENCY_KEY_TTL) < parseDuration(env.PAYMENT_PENDING_LEASE)) {
    throw new ConfigError(
      `Invalid IDEMPOTENCY_KEY_TTL: expected at least PAYMENT_PENDING_LEASE (${env.PAYMENT_PENDING_LEASE}), so that a key outlives the payment it guards, got ${JSON.stringify(env.IDEMPOTENCY_KEY_TTL)}`,
    )
  }
  let seriesLimits: Partial<Record<LabelledMetricName, number>> = {}
  try {
    if (env.METRICS_SERIES_LIMITS) seriesLimits = parseSeriesLimits(env.METRICS_SERIES_LIMITS)
  } catch (error) {
    throw new ConfigError(`Invalid METRICS_SERIES_LIMITS: ${(error as Error).message}`)
  }
  const oncallPhones = env.ALERT_PHONES.split(',')
    .map((phone) => phone.replace(/[^0-9]/g, ''))
    .filter(Boolean)
  // A newcomer sees alerts at once: in development they go to the demo number through the log
  // transport (no credentials), instead of to nobody.
  const oncallIsDemo = env.NODE_ENV === 'development' && oncallPhones.length === 0
  return {
    env: env.NODE_ENV,
    port: env.PORT,
    host: env.HOST ?? defaultHost(env.NODE_ENV),
    logLevel: env.LOG_LEVEL,
    accessLogProbes: env.ACCESS_LOG_PROBES,
    database: {
      url: env.DATABASE_URL,
      dataDir: env.DATA_DIR,
      embeddedSharedBuffersMb: env.EMBEDDED_SHARED_BUFFERS_MB,
      poolSize: env.DB_POOL_SIZE,
      connectTimeoutMs: env.DB_CONNECT_TIMEOUT_MS,
      healthTimeoutMs: env.HEALTH_DB_TIMEOUT_MS,
      pingIntervalMs: parseDuration(env.DB_PING_INTERVAL),
    },
    http: {
      maxBodyBytes: env.MAX_BODY_BYTES,
      corsOrigins: env.CORS_ORIGINS.split(',')
        .map((origin) => origin.trim())
        .filter(Boolean),
      publicBaseUrl: env.PUBLIC_BASE_URL,
    },
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    adminToken: env.ADMIN_TOKEN,
    payments: {
      sandboxLatencyMs: env.SANDBOX_LATENCY_MS,
      pendingLeaseMs: parseDuration(env.PAYMENT_PENDING_LEASE),
      providerTimeoutMs: env.PAYMENT_PROVIDER_TIMEOUT_MS,
      webhookSecrets: webhookSecretsOf(env.PAYMENT_WEBHOOK_SECRETS),
    },
    idempotency: { keyTtlMs: parseDuration(env.IDEMPOTENCY_KEY_TTL) },
    alerts: {
      oncallPhones: oncallIsDemo ? [DEMO_PHONE.slice(1)] : oncallPhones,
      oncallIsDemo,
      oncallGetsTenantAlerts: env.ALERT_ONCALL_GETS_TENANT_ALERTS,
      notifyIntervalMs: parseDuration(env.ALERT_NOTIFY_INTERVAL),
      repeatIntervalMs: parseDuration(env.ALERT_REPEAT_INTERVAL),
      historyRetentionMs: parseDuration(env.ALERT_HISTORY_RETENTION),
      sendLeaseMs: parseDuration(env.ALERT_SEND_LEASE),
      alertmanagerStaleAfterMs: staleAfterMs,
      alertmanagerToken: env.ALERTMANAGER_WEBHOOK_TOKEN,
      alertmanagerMaxBodyBytes: env.ALERTMANAGER_MAX_BODY_BYTES,
      ruleManagerEnabled: env.ALERTS_ENABLED,
      ruleFiles: env.ALERT_RULES_FILES,
      evalIntervalMs: parseDuration(env.ALERT_EVAL_INTERVAL),
      sampleIntervalMs: parseDuration(env.ALERT_SAMPLE_INTERVAL),
      prometheusUrl: env.PROMETHEUS_URL,
      prometheusToken: env.PROMETHEUS_BEARER_TOKEN,
      queryTimeoutMs: parseDuration(env.PROMETHEUS_QUERY_TIMEOUT),
      runbookBaseUrl: env.RUNBOOK_BASE_URL,
      traceBaseUrl: env.TRACE_BASE_URL || undefined,
    },
    whatsapp: {
      apiBase: env.WHATSAPP_API_BASE.replace(/\/$/, ''),
      apiVersion: env.WHATSAPP_API_VERSION,
      phoneNumberId: env.WHATSAPP_PHONE_NUMBER_ID,
      accessToken: env.WHATSAPP_ACCESS_TOKEN,
      templateFiring: env.WHATSAPP_TEMPLATE_FIRING,
      templateResolved: env.WHATSAPP_TEMPLATE_RESOLVED,
      templateLanguage: env.WHATSAPP_TEMPLATE_LANGUAGE,
      retryBaseMs: env.WHATSAPP_RETRY_BASE_MS,
      maxAttempts: env.WHATSAPP_MAX_ATTEMPTS,
      messagesPerSecond: env.WHATSAPP_MESSAGES_PER_SECOND,
      timeoutMs: env.WHATSAPP_TIMEOUT_MS,
      verifyToken: env.WHATSAPP_VERIFY_TOKEN,
      appSecret: env.WHATSAPP_APP_SECRET,
    },
    sentry: {
      dsn: env.SENTRY_DSN,
      environment: env.SENTRY_ENVIRONMENT ?? env.NODE_ENV,
      tracesSampleRate: env.SENTRY_TRACES_SAMPLE_RATE,
      release: env.SENTRY_RELEASE,
    },
    metrics: {
      enabled: env.METRICS_ENABLED,
      token: env.METRICS_TOKEN,
      seriesLimits,
      excludePaths: env.METRICS_EXCLUDE_PATHS === 'none' ? [] : env.METRICS_EXCLUDE_PATHS.split(','),
    },
    buildCommit: env.BUILD_COMMIT,
  }
}
