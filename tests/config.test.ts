import { describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import type { TSchema } from '@sinclair/typebox'
import { rebaseRunbookUrl } from '../src/alerting/rules/setup.ts'
import { ConfigError, DEFAULT_RUNBOOK_BASE_URL, EnvSchema, loadConfig } from '../src/config.ts'
import { DEFAULT_OUTBOUND_TIMEOUT_MS } from '../src/http/outbound.ts'
import { PROVIDER_CALL_TIMEOUT_MS } from '../src/payments/providers.ts'

describe('loadConfig', () => {
  test('applies documented defaults with no environment', () => {
    const config = loadConfig({})
    expect(config.port).toBe(3000)
    expect(config.env).toBe('production')
    expect(config.http.maxBodyBytes).toBe(1048576)
    expect(config.shutdownTimeoutMs).toBe(10000)
    expect(config.database.url).toBeUndefined()
    expect(config.database.dataDir).toBe('./.data')
    expect(config.database.embeddedSharedBuffersMb).toBe(16)
  })

  test('listens on every interface in production and on loopback alone in development, unless HOST says', () => {
    expect(loadConfig({}).host).toBe('0.0.0.0')
    expect(loadConfig({ NODE_ENV: 'test' }).host).toBe('0.0.0.0')
    expect(loadConfig({ NODE_ENV: 'development' }).host).toBe('127.0.0.1')
    expect(loadConfig({ NODE_ENV: 'development', HOST: '0.0.0.0' }).host).toBe('0.0.0.0')
    expect(loadConfig({ HOST: '::1' }).host).toBe('::1')
    // Only the form is checked here (a name, an IPv4 or IPv6 address); resolving it is the server's.
    for (const host of [
      'localhost',
      'web',
      'shop_api',
      'api.example.com',
      'no-such-host.invalid',
      '::',
      'fe80::1%eth0',
    ])
      expect(loadConfig({ HOST: host }).host).toBe(host)
    // Empty counts as unset, as for every variable.
    expect(loadConfig({ NODE_ENV: 'development', HOST: '' }).host).toBe('127.0.0.1')
  })

  test('converts and validates values', () => {
    const config = loadConfig({
      PORT: '8080',
      DB_POOL_SIZE: '4',
      LOG_LEVEL: 'debug',
      DATABASE_URL: 'postgres://u@h/db',
      EMBEDDED_SHARED_BUFFERS_MB: '64',
    })
    expect(config.port).toBe(8080)
    expect(config.database.poolSize).toBe(4)
    expect(config.logLevel).toBe('debug')
    expect(config.database.url).toBe('postgres://u@h/db')
    expect(config.database.embeddedSharedBuffersMb).toBe(64)
  })

  test.each(
    [
      [{ PORT: 'abc' }, 'Invalid PORT: expected an integer from 0 to 65535, got "abc"'],
      [{ PORT: '70000' }, 'Invalid PORT: expected an integer from 0 to 65535, got 70000'],
      [{ MAX_BODY_BYTES: '1.5' }, 'Invalid MAX_BODY_BYTES: expected an integer >= 1, got "1.5"'],
      // A name ending in _MS says its unit, and a duration given to one (every other time
      // setting takes durations) is read back as the number it meant.
      [
        { DB_CONNECT_TIMEOUT_MS: '3s' },
        'Invalid DB_CONNECT_TIMEOUT_MS: expected a whole number of milliseconds >= 100, got "3s" (write 3000 for 3s)',
      ],
      [
        { SANDBOX_LATENCY_MS: '90000' },
        'Invalid SANDBOX_LATENCY_MS: expected a whole number of milliseconds from 0 to 60000, got 90000',
      ],
      [
        { DB_PING_INTERVAL: '0s' },
        'Invalid DB_PING_INTERVAL: expected a duration above zero such as 30s, 5m or 1h30m, got "0s"',
      ],
      [
        { PAYMENT_PENDING_LEASE: '0m' },
        'Invalid PAYMENT_PENDING_LEASE: expected a duration above zero such as 30s, 5m or 1h30m, got "0m"',
      ],
      [
        { IDEMPOTENCY_KEY_TTL: '0s' },
        'Invalid IDEMPOTENCY_KEY_TTL: expected a duration above zero such as 30s, 5m or 1h30m, got "0s"',
      ],
      [
        { EMBEDDED_SHARED_BUFFERS_MB: '2048' },
        'Invalid EMBEDDED_SHARED_BUFFERS_MB: expected an integer from 1 to 1024, got 2048',
      ],
      [
        { LOG_LEVEL: 'loud' },
        'Invalid LOG_LEVEL: expected one of fatal|error|warn|info|debug|trace|silent, got "loud"',
      ],
      ...['127.0.0.1:3000', 'http://0.0.0.0', '[::1]', 'my host', '-web', 'a..b'].map((host) => [
        { HOST: host },
        `Invalid HOST: expected a host name or IP address such as 0.0.0.0, 127.0.0.1, :: or localhost (no scheme, port or brackets), got ${JSON.stringify(host)}`,
      ]),
      [
        { NODE_ENV: 'staging' },
        'Invalid NODE_ENV: expected one of development|production|test, got "staging"',
      ],
      [
        { DATABASE_URL: 'mysql://root:pw@h/db' },
        'Invalid DATABASE_URL: expected a postgres:// or postgresql:// URL such as postgres://user:password@127.0.0.1:5432/shop (unset it for the embedded database), got (value hidden)',
      ],
      [
        { ADMIN_TOKEN: 'short' },
        'Invalid ADMIN_TOKEN: expected a string of at least 16 characters, got (value hidden)',
      ],
      [
        { CORS_ORIGINS: '*' },
        'Invalid CORS_ORIGINS: expected comma-separated http(s) origins such as https://shop.example.com (no *), got "*"',
      ],
      [
        { ALERT_PHONES: '0712345678' },
        'Invalid ALERT_PHONES: expected comma-separated international numbers such as +254711000200 (country code first, no leading 0, 8 to 15 digits), got (value hidden)',
      ],
      // E.164 numbers have at most 15 digits: a 16th is a typo (a digit typed twice).
      [
        { ALERT_PHONES: '+254711000200, +2547110002001234' },
        'Invalid ALERT_PHONES: expected comma-separated international numbers such as +254711000200 (country code first, no leading 0, 8 to 15 digits), got (value hidden)',
      ],
      [
        { WHATSAPP_API_VERSION: '21.0' },
        'Invalid WHATSAPP_API_VERSION: expected a Graph API version such as v21.0, got "21.0"',
      ],
    ].map(([env, message]) => [envText(env as Record<string, string>), env, message] as const),
  )('rejects %s with a one-line message naming the variable', (_name, env, message) => {
    expect(() => loadConfig(env as Record<string, string>)).toThrow(new ConfigError(message as string))
  })

  test('a DATABASE_URL whose password holds an unescaped / ? or # is refused without showing it', () => {
    const message =
      'Invalid DATABASE_URL: a / ? or # in its user name or password must be percent-encoded (%2F, %3F, %23), as must an @ in its path or query (%40), got (value hidden)'
    // Each would otherwise be read as host `shop` and a port or path made of the password.
    for (const url of [
      'postgres://shop:ab/cd@db:5432/shop',
      'postgres://shop:12/34@db/shop',
      'postgres://shop:1234#x@db/shop',
      'postgresql://shop:12?34@db/shop',
    ]) {
      expect(() => loadConfig({ DATABASE_URL: url })).toThrow(new ConfigError(message))
    }
    // Escaped, or with characters a URL's authority allows, the password reaches the driver.
    for (const url of [
      'postgres://shop:ab%2Fcd@db:5432/shop',
      'postgres://shop:p@ss@db/shop',
      'postgres://shop:p%40ss%23@db/shop?sslmode=require',
      'postgres://shop@[::1]:5432/shop',
      'postgres://shop@/shop?host=/var/run/postgresql',
    ]) {
      expect(loadConfig({ DATABASE_URL: url }).database.url).toBe(url)
    }
  })

  test('a value left wrapped in quotes by an env file is refused, a secret without showing it', () => {
    expect(() => loadConfig({ ADMIN_TOKEN: '"abcdefghijklmnopqrstu"' })).toThrow(
      new ConfigError(
        'Invalid ADMIN_TOKEN: the value is wrapped in quotes, which this environment kept as part of it; remove them, got (value hidden)',
      ),
    )
    for (const env of [
      { WHATSAPP_APP_SECRET: "'s3cr3t'" },
      { DATABASE_URL: '"postgres://shop:pw@db/shop"' },
      { SENTRY_DSN: ' "https://key@o0.ingest.sentry.io/42"\n' },
    ]) {
      expect(() => loadConfig(env)).toThrow(`Invalid ${Object.keys(env)[0]}: the value is wrapped in quotes`)
    }
    expect(() => loadConfig({ ALERT_RULES_FILES: '"ops/rules/*.yml"' })).toThrow(
      new ConfigError(
        'Invalid ALERT_RULES_FILES: the value is wrapped in quotes, which this environment kept as part of it; remove them, got "\\"ops/rules/*.yml\\""',
      ),
    )
    // A quote inside a value is the value's own.
    expect(loadConfig({ WHATSAPP_APP_SECRET: 'ab"cd' }).whatsapp.appSecret).toBe('ab"cd')
    expect(loadConfig({ ADMIN_TOKEN: '"abcdefghijklmnopqrstu' }).adminToken).toBe('"abcdefghijklmnopqrstu')
  })

  test('ALERT_SEND_LEASE must cover one WhatsApp call plus 2 s, or a slow call is sent twice', () => {
    expect(() => loadConfig({ ALERT_SEND_LEASE: '1s', WHATSAPP_TIMEOUT_MS: '3000' })).toThrow(
      new ConfigError(
        'Invalid ALERT_SEND_LEASE: expected at least WHATSAPP_TIMEOUT_MS plus 2s (5s), so that a slow WhatsApp call is not taken over and sent twice, got "1s"',
      ),
    )
    // The default call timeout is 10 s: a lease of 10 s is too short, 12 s is enough.
    expect(() => loadConfig({ ALERT_SEND_LEASE: '10s' })).toThrow('Invalid ALERT_SEND_LEASE')
    expect(loadConfig({ ALERT_SEND_LEASE: '12s' }).alerts.sendLeaseMs).toBe(12_000)
    expect(loadConfig({ ALERT_SEND_LEASE: '5s', WHATSAPP_TIMEOUT_MS: '3000' }).alerts.sendLeaseMs).toBe(5_000)
  })

  test('PAYMENT_PENDING_LEASE outlasts a provider call, or reconciliation settles a charge still in flight', () => {
    expect(() => loadConfig({ PAYMENT_PENDING_LEASE: '11s' })).toThrow(
      new ConfigError(
        'Invalid PAYMENT_PENDING_LEASE: expected at least PAYMENT_PROVIDER_TIMEOUT_MS plus 2s (12s), so that reconciliation never settles a charge still in flight, got "11s"',
      ),
    )
    expect(() => loadConfig({ PAYMENT_PENDING_LEASE: '3s', PAYMENT_PROVIDER_TIMEOUT_MS: '1001' })).toThrow(
      'Invalid PAYMENT_PENDING_LEASE: expected at least PAYMENT_PROVIDER_TIMEOUT_MS plus 2s (3.001s)',
    )
    const config = loadConfig({ PAYMENT_PENDING_LEASE: '3s', PAYMENT_PROVIDER_TIMEOUT_MS: '1000' })
    expect(config.payments).toMatchObject({ pendingLeaseMs: 3000, providerTimeoutMs: 1000 })
    // The service's own default when none is passed, the outbound client's timeout.
    expect(loadConfig({}).payments.providerTimeoutMs).toBe(PROVIDER_CALL_TIMEOUT_MS)
    expect(PROVIDER_CALL_TIMEOUT_MS).toBe(DEFAULT_OUTBOUND_TIMEOUT_MS)
  })

  test('IDEMPOTENCY_KEY_TTL must outlive PAYMENT_PENDING_LEASE, or a payment loses its key while pending', () => {
    expect(() => loadConfig({ IDEMPOTENCY_KEY_TTL: '1m' })).toThrow(
      new ConfigError(
        'Invalid IDEMPOTENCY_KEY_TTL: expected at least PAYMENT_PENDING_LEASE (2m), so that a key outlives the payment it guards, got "1m"',
      ),
    )
    expect(() => loadConfig({ IDEMPOTENCY_KEY_TTL: '10m', PAYMENT_PENDING_LEASE: '1h' })).toThrow(
      'Invalid IDEMPOTENCY_KEY_TTL',
    )
    expect(loadConfig({ IDEMPOTENCY_KEY_TTL: '2m' }).idempotency.keyTtlMs).toBe(120_000)
    expect(
      loadConfig({ IDEMPOTENCY_KEY_TTL: '30s', PAYMENT_PENDING_LEASE: '30s' }).idempotency.keyTtlMs,
    ).toBe(30_000)
  })

  test("ALERTMANAGER_ALERT_STALE_AFTER is 0s (never) or outlasts Alertmanager's default re-post (4h30m)", () => {
    expect(loadConfig({}).alerts.alertmanagerStaleAfterMs).toBe(8.5 * 3_600_000)
    expect(() => loadConfig({ ALERTMANAGER_ALERT_STALE_AFTER: '4h' })).toThrow(
      new ConfigError(
        'Invalid ALERTMANAGER_ALERT_STALE_AFTER: expected 0s (never) or at least 4h30m (Alertmanager\'s default repeat_interval of 4h, plus its group_interval and retries), so that a group still firing is re-posted before its alerts are taken for ended, got "4h"',
      ),
    )
    expect(loadConfig({ ALERTMANAGER_ALERT_STALE_AFTER: '4h30m' }).alerts.alertmanagerStaleAfterMs).toBe(
      4.5 * 3_600_000,
    )
    expect(loadConfig({ ALERTMANAGER_ALERT_STALE_AFTER: '2d' }).alerts.alertmanagerStaleAfterMs).toBe(
      48 * 3_600_000,
    )
    expect(loadConfig({ ALERTMANAGER_ALERT_STALE_AFTER: '0s' }).alerts.alertmanagerStaleAfterMs).toBe(0)
    expect(() => loadConfig({ ALERTMANAGER_ALERT_STALE_AFTER: 'soon' })).toThrow(
      'Invalid ALERTMANAGER_ALERT_STALE_AFTER',
    )
  })

  test('every duration but ALERT_HISTORY_RETENTION must be above zero', () => {
    for (const key of [
      'ALERT_NOTIFY_INTERVAL',
      'ALERT_REPEAT_INTERVAL',
      'ALERT_SEND_LEASE',
      'ALERT_EVAL_INTERVAL',
      'ALERT_SAMPLE_INTERVAL',
      'PROMETHEUS_QUERY_TIMEOUT',
    ]) {
      expect(() => loadConfig({ [key]: '0s' })).toThrow(
        new ConfigError(`Invalid ${key}: expected a duration above zero such as 30s, 5m or 1h30m, got "0s"`),
      )
    }
    expect(loadConfig({ ALERT_HISTORY_RETENTION: '0s' }).alerts.historyRetentionMs).toBe(0)
    expect(loadConfig({ ALERT_EVAL_INTERVAL: '500ms' }).alerts.evalIntervalMs).toBe(500)
  })

  test('SENTRY_DSN takes what the Sentry SDK reads, and refuses the rest without showing the key', () => {
    for (const dsn of [
      'https://0123abcdef@o0.ingest.sentry.io/42',
      'https://key@sentry.example.com/prefix/42',
      'http://key:secret@sentry.local:9000/3',
      'https://key@[::1]:9000/7',
    ]) {
      expect(loadConfig({ SENTRY_DSN: dsn }).sentry.dsn).toBe(dsn)
    }
    // The SDK prints each of the first two whole to stderr and sends nothing; the last two
    // have no project id it can use.
    for (const dsn of [
      'https://ab-cd@o0.ingest.sentry.io/42',
      'https://key@sentry example.com/42',
      'https://key@o0.ingest.sentry.io/42/',
      'https://key@o0.ingest.sentry.io/shop',
    ]) {
      expect(() => loadConfig({ SENTRY_DSN: dsn })).toThrow(
        new ConfigError(
          'Invalid SENTRY_DSN: expected a Sentry DSN such as https://<key>@o0.ingest.sentry.io/<project>: a key of letters, digits and _, a numeric project id last, got (value hidden)',
        ),
      )
    }
  })

  test('every pattern-checked variable says in words what it takes, never as a regex', () => {
    for (const [key, schema] of Object.entries(EnvSchema.properties as Record<string, TSchema>)) {
      if (typeof schema.pattern !== 'string') continue
      const probe = { [key]: ' \u0001 not valid \u0001 ' }
      let message = ''
      try {
        loadConfig(probe)
      } catch (error) {
        message = (error as Error).message
      }
      expect(message).toStartWith(`Invalid ${key}: expected `)
      expect(message).not.toContain(schema.pattern)
    }
  })

  test('empty strings count as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '  ' }).port).toBe(3000)
  })

  test('the server exits non-zero with the message on bad config', () => {
    const proc = Bun.spawnSync(['bun', 'src/server.ts'], {
      env: { ...process.env, PORT: 'nope', DATABASE_URL: '' },
      stderr: 'pipe',
      stdout: 'pipe',
    })
    expect(proc.exitCode).toBe(1)
    expect(proc.stderr.toString().trim()).toBe(
      'config error: Invalid PORT: expected an integer from 0 to 65535, got "nope"',
    )
  })

  test('the README documents every variable with the default the schema applies', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8').split('\n')
    const documented: Record<string, string | undefined> = {}
    const expected: Record<string, string> = {}
    for (const [key, schema] of Object.entries(EnvSchema.properties as Record<string, TSchema>)) {
      const row = readme.find((line) => line.startsWith(`| \`${key}\` |`))
      documented[key] = row?.split('|')[2]?.trim()
      // No schema default: the README says what stands in (unset, or what it is derived from).
      expected[key] =
        schema.default === undefined
          ? (documented[key] ?? 'a row in a configuration table')
          : schema.default === ''
            ? 'empty'
            : `\`${schema.default}\``
    }
    expect(documented).toEqual(expected)
  })
})

describe('RUNBOOK_BASE_URL', () => {
  test("defaults to the repository's docs path, and rebases the shipped rules' runbook_url onto another base", () => {
    expect(loadConfig({}).alerts.runbookBaseUrl).toBe(DEFAULT_RUNBOOK_BASE_URL)
    const base = loadConfig({ RUNBOOK_BASE_URL: 'https://wiki.example.com/ops/runbooks/' }).alerts
      .runbookBaseUrl
    expect(rebaseRunbookUrl(`${DEFAULT_RUNBOOK_BASE_URL}alerts.md#higherrorrate`, base)).toBe(
      'https://wiki.example.com/ops/runbooks/alerts.md#higherrorrate',
    )
    // A link the rule's author chose elsewhere stays as written.
    expect(rebaseRunbookUrl('https://elsewhere.example/x#y', base)).toBe('https://elsewhere.example/x#y')
  })

  test('must be an http(s) URL ending in a slash', () => {
    expect(() => loadConfig({ RUNBOOK_BASE_URL: 'https://wiki.example.com/runbooks' })).toThrow(
      'Invalid RUNBOOK_BASE_URL: expected an http(s) URL ending in / such as https://wiki.example.com/runbooks/',
    )
  })
})

describe('TRACE_BASE_URL', () => {
  test('optional: empty or unset means no trace links; an absolute http(s) URL is kept as written', () => {
    expect(loadConfig({}).alerts.traceBaseUrl).toBeUndefined()
    expect(loadConfig({ TRACE_BASE_URL: '' }).alerts.traceBaseUrl).toBeUndefined()
    expect(
      loadConfig({ TRACE_BASE_URL: 'https://acme.sentry.io/performance/trace/' }).alerts.traceBaseUrl,
    ).toBe('https://acme.sentry.io/performance/trace/')
    expect(loadConfig({ TRACE_BASE_URL: 'http://grafana:3000/explore?traceId=' }).alerts.traceBaseUrl).toBe(
      'http://grafana:3000/explore?traceId=',
    )
  })

  test('anything but an absolute http(s) URL stops the start-up', () => {
    for (const value of ['acme.sentry.io/trace/', '/trace/', 'ftp://x/', 'https:///trace/', 'https://a b/']) {
      expect(() => loadConfig({ TRACE_BASE_URL: value })).toThrow(
        'Invalid TRACE_BASE_URL: expected empty or an absolute http(s) URL such as https://acme.sentry.io/performance/trace/',
      )
    }
  })
})

/** An environment as the shell would set it, for a test name: `PORT=abc`. */
function envText(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ')
}
