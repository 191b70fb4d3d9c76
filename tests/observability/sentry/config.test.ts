import { describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, loadConfig } from '../../../src/config.ts'
import { readGitCommit } from '../../../src/observability/release.ts'
import { scrubEvent, scrubSpan } from '../../../src/observability/scrub.ts'
import { defaultRelease, sentryInitOptions } from '../../../src/observability/sentry.ts'

describe('Sentry configuration', () => {
  test('off by default, with the documented defaults', () => {
    expect(loadConfig({}).sentry).toEqual({
      dsn: undefined,
      environment: 'production',
      tracesSampleRate: 0.2,
      release: undefined,
    })
  })

  test('the environment follows NODE_ENV unless SENTRY_ENVIRONMENT is set', () => {
    expect(loadConfig({ NODE_ENV: 'development' }).sentry.environment).toBe('development')
    expect(loadConfig({ NODE_ENV: 'development', SENTRY_ENVIRONMENT: 'staging' }).sentry.environment).toBe(
      'staging',
    )
  })

  test('reads every variable', () => {
    const config = loadConfig({
      SENTRY_DSN: 'https://abc123@o1.ingest.sentry.io/4507',
      SENTRY_TRACES_SAMPLE_RATE: '0.05',
      SENTRY_RELEASE: 'convo-commerce@1.2.3',
    })
    expect(config.sentry).toEqual({
      dsn: 'https://abc123@o1.ingest.sentry.io/4507',
      environment: 'production',
      tracesSampleRate: 0.05,
      release: 'convo-commerce@1.2.3',
    })
  })

  test.each(
    [
      [
        { SENTRY_TRACES_SAMPLE_RATE: '1.5' },
        'Invalid SENTRY_TRACES_SAMPLE_RATE: expected a number from 0 to 1, got 1.5',
      ],
      [
        { SENTRY_TRACES_SAMPLE_RATE: 'all' },
        'Invalid SENTRY_TRACES_SAMPLE_RATE: expected a number from 0 to 1, got "all"',
      ],
      [
        { SENTRY_DSN: 'abc123@sentry.io' },
        'Invalid SENTRY_DSN: expected a Sentry DSN such as https://<key>@o0.ingest.sentry.io/<project>: a key of letters, digits and _, a numeric project id last, got (value hidden)',
      ],
    ].map(([env, message]) => [envText(env as Record<string, string>), env, message] as const),
  )('rejects %s', (_name, env, message) => {
    expect(() => loadConfig(env as Record<string, string>)).toThrow(new ConfigError(message as string))
  })
})

describe('Sentry init options', () => {
  const options = sentryInitOptions(
    { dsn: 'https://k@sentry.example/1', environment: 'ci', release: 'r1', tracesSampleRate: 0.2 },
    { createTransport: () => 'transport', suppressTracing: (callback) => callback() },
  )

  test('carry the settings and collect nothing personal', () => {
    expect(options).toMatchObject({
      dsn: 'https://k@sentry.example/1',
      environment: 'ci',
      release: 'r1',
      tracesSampleRate: 0.2,
      tracePropagationTargets: [],
      dataCollection: {
        userInfo: false,
        cookies: false,
        httpBodies: [],
        urlQueryParams: false,
        databaseQueryData: false,
        stackFrameVariables: false,
        genAI: { inputs: false, outputs: false },
        graphQL: { document: false, variables: false },
        queues: false,
      },
    })
    expect(options.beforeSend).toBe(scrubEvent)
    expect(options.beforeSendSpan).toBe(scrubSpan)
  })

  test('drop Dedupe, so that every failing request is an event', () => {
    const defaults = [{ name: 'LinkedErrors' }, { name: 'Dedupe' }, { name: 'BunServer' }]
    expect(options.integrations(defaults).map((i) => i.name)).toEqual([
      'LinkedErrors',
      'BunServer',
      'ScrubEnvelopeHeader',
    ])
  })

  test('build the transport through the SDK', () => {
    expect(
      options.transport({ url: 'https://sentry.example/api/1/envelope/', recordDroppedEvent() {} }),
    ).toBe('transport')
  })
})

describe('release', () => {
  test('defaults to the version, plus the commit when known', () => {
    expect(defaultRelease('0.1.0', undefined)).toBe('convo-commerce@0.1.0')
    expect(defaultRelease('0.1.0', '9457be658ec6434bb325907cfbea576baf9e44a7')).toBe(
      'convo-commerce@0.1.0+9457be658ec6',
    )
  })

  const SHA = '9457be658ec6434bb325907cfbea576baf9e44a7'
  const OTHER = '0123456789abcdef0123456789abcdef01234567'

  function repo(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'release-'))
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(dir, path, '..'), { recursive: true })
      writeFileSync(join(dir, path), content)
    }
    return dir
  }

  test.each([
    ['a branch ref', { '.git/HEAD': 'ref: refs/heads/main\n', '.git/refs/heads/main': `${SHA}\n` }, SHA],
    [
      'a packed ref',
      {
        '.git/HEAD': 'ref: refs/heads/main\n',
        '.git/packed-refs': `# pack-refs\n${OTHER} refs/heads/x\n${SHA} refs/heads/main\n`,
      },
      SHA,
    ],
    ['a detached HEAD', { '.git/HEAD': `${SHA}\n` }, SHA],
    [
      'a worktree',
      {
        'wt/.git': 'gitdir: ../main/.git/worktrees/wt\n',
        'main/.git/worktrees/wt/HEAD': 'ref: refs/heads/feature\n',
        'main/.git/worktrees/wt/commondir': '../..\n',
        'main/.git/refs/heads/feature': `${SHA}\n`,
      },
      SHA,
    ],
    ['no repository', { 'README.md': 'hi' }, undefined],
    ['an unborn branch', { '.git/HEAD': 'ref: refs/heads/main\n' }, undefined],
  ])('reads the commit of %s', (_, files, expected) => {
    const dir = repo(files)
    try {
      const root = files['wt/.git' as keyof typeof files] ? join(dir, 'wt') : dir
      expect(readGitCommit(root)).toBe(expected)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

/** An environment as the shell would set it, for a test name: `PORT=abc`. */
function envText(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ')
}
