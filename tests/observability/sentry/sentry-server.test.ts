/**
 * src/server.ts itself with SENTRY_DSN set: the SDK wraps Bun.serve (one transaction per
 * request, renamed to the route template), PostgreSQL queries become child spans, and
 * shutdown delivers what is still queued, within a bound even when Sentry hangs.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SERVICE_VERSION } from '../../../src/app.ts'
import { freshDatabase, seedEmbeddedDataDir, usingPostgres } from '../../helpers/db.ts'
import { REPO_ROOT, spawnBun } from '../../helpers/process.ts'
import { type Ingest, startIngest } from '../../helpers/sentry-ingest.ts'

let database: Awaited<ReturnType<typeof freshDatabase>> | undefined
let dataDir: string

beforeAll(async () => {
  // The server migrates and serves its own database: a fresh PostgreSQL one, or a PGlite folder.
  if (usingPostgres()) database = await freshDatabase({ poolSize: 2 })
  dataDir = mkdtempSync(join(tmpdir(), 'sentry-server-'))
  if (!database) await seedEmbeddedDataDir(dataDir)
}, 30_000)

afterAll(async () => {
  await database?.close()
  rmSync(dataDir, { recursive: true, force: true })
}, 30_000)

function serverEnv(dsn: string): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    SENTRY_DSN: dsn,
    SENTRY_TRACES_SAMPLE_RATE: '1',
    DATABASE_URL: database?.url ?? '',
    DATA_DIR: dataDir,
  }
}

function expectedRelease(): string {
  const git = Bun.spawnSync(['git', 'rev-parse', 'HEAD'], { cwd: REPO_ROOT, stdout: 'pipe', stderr: 'pipe' })
  const commit = git.exitCode === 0 ? git.stdout.toString().trim() : ''
  return commit
    ? `convo-commerce@${SERVICE_VERSION}+${commit.slice(0, 12)}`
    : `convo-commerce@${SERVICE_VERSION}`
}

describe('the server with Sentry enabled', () => {
  let ingest: Ingest
  beforeAll(async () => {
    ingest = await startIngest()
  })
  afterAll(() => ingest?.stop())

  test('traces each request as one transaction named by route, and flushes it on SIGTERM', async () => {
    const server = await spawnBun('src/server.ts', serverEnv(ingest.dsn))
    const trace = 'feedfacefeedfacefeedfacefeedface'
    const res = await fetch(`http://127.0.0.1:${server.port}/health/db`, {
      headers: { 'sentry-trace': `${trace}-0123456789abcdef-1` },
    })
    expect(res.status).toBe(200)
    // Spans are batched for 5 s; only the shutdown flush can have delivered them this soon.
    const { code } = await server.stop()
    expect(code).toBe(0)

    expect(server.lines.find((l) => l.msg === 'sentry enabled')).toMatchObject({
      environment: 'test',
      release: expectedRelease(),
      tracesSampleRate: 1,
    })
    const spans = ingest.spans().filter((s) => s.trace_id === trace)
    const segments = spans.filter((s) => s.is_segment)
    expect(segments.map((s) => [s.name, s.parent_span_id])).toEqual([['GET /health/db', '0123456789abcdef']])
    expect(segments[0]!.attributes['sentry.op']?.value).toBe('http.server')
    const queries = spans.filter((s) => s.attributes['sentry.op']?.value === 'db')
    if (usingPostgres()) {
      expect(queries.length).toBeGreaterThanOrEqual(1)
      for (const query of queries) {
        expect(query.parent_span_id).toBe(segments[0]!.span_id)
        expect(query.attributes['db.system.name']?.value).toBe('postgres')
      }
    } else {
      // PGlite offers no hook for query spans.
      expect(queries).toEqual([])
    }
    expect(ingest.rejected).toEqual([])
  }, 30_000)
})

test('the server exits promptly on SIGTERM while Sentry hangs', async () => {
  const ingest = await startIngest('hang')
  try {
    const server = await spawnBun('src/server.ts', serverEnv(ingest.dsn))
    expect((await fetch(`http://127.0.0.1:${server.port}/health`)).status).toBe(200)
    const { code, ms } = await server.stop()
    expect(code).toBe(0)
    // The flush gave up at its bound, said so, and the shutdown went on to its end.
    const messages = server.lines.map((line) => [line.msg, line.timeoutMs])
    expect(messages).toContainEqual(['sentry: some events were not delivered', 2000])
    expect(messages.at(-1)).toEqual(['stopped', undefined])
    // A flush without a bound would wait for the transport's own 5 s timeout; exits take
    // about 2.05 s here, and up to 4.6 s on a loaded CI machine, so the bound is the 5 s.
    expect(ms).toBeLessThan(5000)
    // The shutdown waited on a delivery that was never going to complete, and gave up.
    expect(ingest.received()).toBeGreaterThanOrEqual(1)
  } finally {
    ingest.stop()
  }
}, 30_000)
