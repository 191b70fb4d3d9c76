import { afterEach, describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { launch, REPO_ROOT } from '../helpers/process.ts'
import { withBinary } from '../ops/ops-files.ts'

// The benchmark's processes: the server's access lines go to a file, which a `bun run bench`
// fills with a few hundred MB, and bench/run.ts starts servers and wrk. These tests are about
// the processes (their signals, children and files).

const folders: string[] = []
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true })
})

/** Starts `bun bench/server.ts` (variant `full`, in-memory database) with `TMPDIR` in a folder of its own. */
async function startBenchServer(env: Record<string, string> = {}) {
  const folder = mkdtempSync(join(tmpdir(), 'cc-bench-server-'))
  folders.push(folder)
  const { proc, port, output } = await launch(
    ['bun', 'bench/server.ts'],
    { ...process.env, BENCH_VARIANT: 'full', PORT: '0', DATABASE_URL: '', TMPDIR: folder, ...env },
    30_000,
  )
  return { proc, folder, output, url: `http://127.0.0.1:${port}` }
}

describe('bench/server.ts', () => {
  test('SIGTERM removes the access-log file it named itself in the temporary folder', async () => {
    const { proc, folder, url } = await startBenchServer()
    try {
      const response = await fetch(`${url}/users/42`)
      expect(response.status).toBe(200)
      await response.arrayBuffer()
      const logFile = join(folder, `bench-full-${proc.pid}.log`)
      expect(readdirSync(folder)).toEqual([`bench-full-${proc.pid}.log`])
      proc.kill('SIGTERM')
      expect(await proc.exited).toBe(0)
      expect(existsSync(logFile)).toBe(false)
      expect(readdirSync(folder)).toEqual([])
    } finally {
      proc.kill('SIGKILL')
    }
  }, 60_000)

  test('bare+db holds the embedded database but serves bare Elysia: no hook runs, no access line', async () => {
    const { proc, folder, url } = await startBenchServer({ BENCH_VARIANT: 'bare+db' })
    try {
      const response = await fetch(`${url}/users/42`)
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual({ id: '42', name: 'User 42' })
      // createApp's hooks would echo a request id and add the security headers.
      expect(response.headers.get('x-request-id')).toBeNull()
      expect(response.headers.get('x-content-type-options')).toBeNull()
      const logFile = join(folder, `bench-bare+db-${proc.pid}.log`)
      expect(readdirSync(folder)).toEqual([`bench-bare+db-${proc.pid}.log`])
      // Past the log destination's 5 ms batching delay, an access line would be in the file.
      await Bun.sleep(100)
      expect(readFileSync(logFile, 'utf8')).not.toContain('"msg":"request"')
      proc.kill('SIGTERM')
      expect(await proc.exited).toBe(0)
      expect(existsSync(logFile)).toBe(false)
    } finally {
      proc.kill('SIGKILL')
    }
  }, 60_000)

  // BENCH_SERVED_PARTS pairs the instrumented route with each of these: each must leave out
  // exactly its part, or the pair measures something else.
  test.each([
    ['metrics', { requests: false, statements: false, accessLine: true }],
    ['statements', { requests: true, statements: false, accessLine: true }],
    ['log', { requests: true, statements: true, accessLine: false }],
  ] as const)(
    'the db variant with BENCH_WITHOUT=%s leaves out that part only',
    async (part, expected) => {
      const apiKey = 'ck_bench_without_0123456789abcdef'
      const { proc, folder, output, url } = await startBenchServer({
        BENCH_VARIANT: 'db',
        BENCH_INSTRUMENTED: 'true',
        BENCH_API_KEY: apiKey,
        BENCH_WITHOUT: part,
      })
      try {
        const product = /^product (\S+)$/m.exec(output())?.[1]
        expect(product).toBeDefined()
        const response = await fetch(`${url}/products/${product}`, {
          headers: { authorization: `Bearer ${apiKey}` },
        })
        expect(response.status).toBe(200)
        await response.arrayBuffer()
        const metrics = await (await fetch(`${url}/metrics`)).text()
        expect(
          metrics.includes('http_requests_total{method="GET",endpoint="/products/:id",status="200"} 1'),
        ).toBe(expected.requests)
        expect(
          /^db_query_duration_seconds_count\{operation="select",table="products"\} 1$/m.test(metrics),
        ).toBe(expected.statements)
        // Past the log destination's 100 ms batching delay, an access line would be in the file.
        await Bun.sleep(300)
        const log = readFileSync(join(folder, `bench-db-${proc.pid}.log`), 'utf8')
        expect(log.includes('"route":"/products/:id","status":200')).toBe(expected.accessLine)
      } finally {
        proc.kill('SIGKILL')
      }
    },
    60_000,
  )

  test('an unknown BENCH_WITHOUT is refused, naming the parts', async () => {
    const run = Bun.spawnSync(['bun', 'bench/server.ts'], {
      cwd: REPO_ROOT,
      env: { ...process.env, BENCH_VARIANT: 'db', BENCH_WITHOUT: 'sentry', PORT: '0', DATABASE_URL: '' },
    })
    expect(run.exitCode).not.toBe(0)
    expect(run.stderr.toString()).toContain('unknown BENCH_WITHOUT sentry (metrics, statements, log)')
  }, 60_000)

  test('SIGINT (Ctrl-C on `bun run bench`) stops it the same way; a BENCH_LOG_FILE it was given is kept', async () => {
    const logFolder = mkdtempSync(join(tmpdir(), 'cc-bench-log-'))
    folders.push(logFolder)
    const kept = join(logFolder, 'access.log')
    const { proc, folder, url } = await startBenchServer({ BENCH_LOG_FILE: kept })
    try {
      const response = await fetch(`${url}/users/42`)
      expect(response.status).toBe(200)
      await response.arrayBuffer()
      proc.kill('SIGINT')
      expect(await proc.exited).toBe(0)
    } finally {
      proc.kill('SIGKILL')
    }
    expect(readdirSync(folder)).toEqual([])
    const lines = readFileSync(kept, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    const access = lines.filter((line) => line.msg === 'request')
    expect(access).toHaveLength(1)
    expect(access[0]).toMatchObject({ level: 'info', method: 'GET', route: '/users/:id', status: 200 })
  }, 60_000)
})

/** Whether `pid` has exited (a zombie left for its new parent to reap counts as exited). */
function exited(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
  } catch {
    return true
  }
}

/** The children of `pid` with their command lines. */
function childrenOf(pid: number): Array<{ pid: number; args: string }> {
  const listed = Bun.spawnSync(['ps', '-o', 'pid=,args=', '--ppid', String(pid)]).stdout.toString()
  return listed
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(.*)$/.exec(line))
    .filter((match) => match !== null)
    .map((match) => ({ pid: Number(match[1]), args: match[2]! }))
}

describe('bench/run.ts', () => {
  withBinary('wrk', 'apt-get install -y wrk')(
    'stopped by SIGTERM mid-run, it stops the server and the wrk it started, by PID, and the server cleans up',
    async () => {
      const folder = mkdtempSync(join(tmpdir(), 'cc-bench-run-'))
      folders.push(folder)
      const bench = Bun.spawn(['bun', 'bench/run.ts'], {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          TMPDIR: folder,
          BENCH_ONLY: 'full',
          BENCH_ROUNDS: '1',
          // Long enough that the test, not the bench, ends the warm-up.
          BENCH_WARMUP_SECONDS: '60',
          BENCH_PAIRED_ALTERNATIONS: '0',
          // No PostgreSQL variants (nothing listens on port 1), so no CPU masks are changed,
          // and `full` on the in-memory database in either pass of the suite.
          BENCH_POSTGRES_URL: 'postgres://postgres@127.0.0.1:1/none',
          DATABASE_URL: '',
        },
        stdout: 'pipe',
        stderr: 'pipe',
      })
      let server: number | undefined
      let wrk: number | undefined
      const deadline = Date.now() + 45_000
      while ((server === undefined || wrk === undefined) && Date.now() < deadline && !exited(bench.pid)) {
        for (const child of childrenOf(bench.pid)) {
          if (child.args.includes('bench/server.ts')) server = child.pid
          if (/^wrk /.test(child.args)) wrk = child.pid
        }
        await Bun.sleep(100)
      }
      if (server === undefined || wrk === undefined) {
        bench.kill('SIGKILL')
        // SIGKILL gives the bench no chance to stop what it started: the test stops it, or a
        // server found before wrk started outlives the suite (a loaded CI run left one).
        for (const pid of [server, wrk]) if (pid !== undefined && !exited(pid)) process.kill(pid, 'SIGKILL')
        throw new Error(`no server and wrk under the bench: ${await new Response(bench.stdout).text()}`)
      }
      expect(readdirSync(folder)).toEqual([`bench-full-${server}.log`])

      try {
        bench.kill('SIGTERM')
        expect(await bench.exited).toBe(143)
        const stopped = Date.now() + 10_000
        while ((!exited(server) || !exited(wrk)) && Date.now() < stopped) await Bun.sleep(50)
        expect({ server: exited(server), wrk: exited(wrk) }).toEqual({ server: true, wrk: true })
        expect(readdirSync(folder)).toEqual([])
      } finally {
        // Whatever the bench left (the failure this test is about), this test stops.
        for (const pid of [server, wrk]) if (!exited(pid)) process.kill(pid, 'SIGKILL')
      }
    },
    90_000,
  )
})
