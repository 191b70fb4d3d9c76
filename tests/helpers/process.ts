import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freshDatabase, seedEmbeddedDataDir, usingPostgres } from './db.ts'

/** Where a server process keeps its data; shared by a process and its restart. */
export interface ServerData {
  dataDir: string
  databaseUrl: string
  cleanup(): Promise<void>
}

/**
 * A fresh PostgreSQL database when the suite runs on PostgreSQL, else a temporary DATA_DIR
 * holding a migrated, empty embedded database (`seedEmbeddedDataDir`).
 */
export async function createServerData(): Promise<ServerData> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cc-proc-'))
  const database = usingPostgres() ? await freshDatabase() : undefined
  if (!database) await seedEmbeddedDataDir(dataDir)
  return {
    dataDir,
    databaseUrl: database?.url ?? '',
    async cleanup() {
      await database?.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** The repository root: every launched process runs there. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** A process started by `launch`, once it printed the port it listens on. */
export interface Launched {
  port: number
  proc: ReturnType<typeof Bun.spawn>
  /** Every JSON line the process wrote on stdout so far (log lines and fixture reports). */
  lines: Array<Record<string, unknown>>
  /** Everything it printed on stdout so far, for failure messages. */
  output(): string
  /** Resolves once stdout is closed (every line read). */
  drained: Promise<void>
}

/**
 * The one process launcher of the test suite: starts `command` in the repository root and
 * resolves once it printed its port — a `{"port":N}` line, the server's "listening" log
 * line, or the benchmark server's plain `listening N`. Rejects with its output when it exits
 * first or takes longer than `timeoutMs`: 45 s by default, as a server opening its embedded
 * database on a CI machine running both suites side by side has taken over 20 s to listen.
 */
export async function launch(
  command: string[],
  env: Record<string, string | undefined>,
  timeoutMs = 45_000,
): Promise<Launched> {
  const proc = Bun.spawn(command, { cwd: REPO_ROOT, env, stdout: 'pipe', stderr: 'pipe' })
  const lines: Array<Record<string, unknown>> = []
  const text: string[] = []
  let onPort: (port: number) => void = () => {}
  const ready = new Promise<number>((resolve) => {
    onPort = resolve
  })
  const drained = (async () => {
    const decoder = new TextDecoder()
    let pending = ''
    const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader()
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      pending += decoder.decode(value, { stream: true })
      const parts = pending.split('\n')
      pending = parts.pop() ?? ''
      for (const part of parts) {
        text.push(part)
        let line: Record<string, unknown>
        try {
          line = JSON.parse(part)
        } catch {
          // Not a JSON line: a banner, or bench/server.ts' plain `listening <port>`.
          const plain = /^listening (\d+)$/.exec(part)
          if (plain) onPort(Number(plain[1]))
          continue
        }
        lines.push(line)
        if (
          typeof line.port === 'number' &&
          (line.msg === undefined || String(line.msg).startsWith('listening'))
        )
          onPort(line.port)
      }
    }
  })()
  const stderr = new Response(proc.stderr as ReadableStream<Uint8Array>).text()
  let timer: ReturnType<typeof setTimeout> | undefined
  const failure = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`not listening after ${timeoutMs} ms`), timeoutMs)
    void proc.exited.then((code) => resolve(`exited with ${code}`))
  })
  const outcome = await Promise.race([ready, failure])
  clearTimeout(timer)
  if (typeof outcome === 'string') {
    proc.kill('SIGKILL')
    throw new Error(`${command.join(' ')} ${outcome}\n${text.join('\n')}\n${await stderr}`)
  }
  return { port: outcome, proc, lines, output: () => text.join('\n'), drained }
}

export interface ServerProcess {
  port: number
  url: string
  proc: ReturnType<typeof Bun.spawn>
  /** Every JSON log line the process wrote so far. */
  lines: Array<Record<string, unknown>>
  exited: Promise<number>
  data: ServerData
  /** Kills the process if still running and, unless the data was passed in, removes it. */
  cleanup(): Promise<void>
}

/**
 * Starts `bun src/server.ts` on a free port with its own database (a fresh PostgreSQL
 * database when the suite runs on PostgreSQL, a temporary DATA_DIR otherwise) and waits
 * until it listens. For tests about the process itself: signals, exit codes, real clients.
 */
export async function startServer(
  env: Record<string, string> = {},
  shared?: ServerData,
  command: string[] = ['bun', 'src/server.ts'],
): Promise<ServerProcess> {
  const data = shared ?? (await createServerData())
  const launched = await launch(command, {
    ...process.env,
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: data.dataDir,
    DATABASE_URL: data.databaseUrl,
    LOG_LEVEL: 'info',
    ...env,
  })
  const { proc, port } = launched
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    proc,
    lines: launched.lines,
    exited: proc.exited,
    data,
    async cleanup() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL')
        await proc.exited
      }
      if (!shared) await data.cleanup()
    },
  }
}

export interface Spawned {
  port: number
  /** JSON lines the process printed on stdout so far. */
  lines: Array<Record<string, unknown>>
  /** Everything printed on stdout so far, for failure messages. */
  output(): string
  /** Sends SIGTERM and resolves with the exit code and how long the exit took. */
  stop(): Promise<{ code: number; ms: number }>
  kill(): void
}

/** Starts `bun <script>` (a fixture or the server) in test mode with `env`, on a free port. */
export async function spawnBun(
  script: string,
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<Spawned> {
  const launched = await launch(['bun', script], { ...process.env, NODE_ENV: 'test', ...env }, timeoutMs)
  const { proc } = launched
  return {
    port: launched.port,
    lines: launched.lines,
    output: launched.output,
    async stop() {
      const started = performance.now()
      proc.kill('SIGTERM')
      const code = await proc.exited
      await launched.drained
      return { code, ms: performance.now() - started }
    },
    kill() {
      proc.kill('SIGKILL')
    },
  }
}

/** What a command that ran to its end printed, and its exit code. */
export interface Finished {
  code: number
  stdout: string
  stderr: string
}

/**
 * Runs `argv` to its end (a script under test, not a server) with `env` over the test's own
 * environment, in `cwd` (the repository by default), and collects both streams.
 */
export async function runToExit(
  argv: string[],
  env: Record<string, string>,
  cwd = REPO_ROOT,
): Promise<Finished> {
  const proc = Bun.spawn(argv, { cwd, env: { ...process.env, ...env }, stdout: 'pipe', stderr: 'pipe' })
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  return { code, stdout, stderr }
}

/** A TCP port on 127.0.0.1 that was free a moment ago, for a process the test starts itself. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return typeof address === 'object' && address ? address.port : 0
}

/**
 * Polls `probe` every `everyMs` until it returns a value (a throw counts as not yet), and
 * rejects naming `what` after `timeoutMs`.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe().catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(everyMs)
  }
}

/** A `prometheus` server started by a test; `stop()` ends it and waits for its exit. */
export interface PrometheusProcess {
  /** `http://127.0.0.1:<port>` */
  url: string
  stop(): Promise<void>
}

/**
 * Starts Debian's `prometheus` (or `binary`) on 127.0.0.1:`port` with `dir/prometheus.yml`
 * and its TSDB under `dir/tsdb`, plus `flags` (e.g. `--enable-feature=exemplar-storage`).
 * Returns at once: callers wait for what they need (a scrape, a rule) through its API.
 */
export function spawnPrometheus(
  dir: string,
  port: number,
  flags: readonly string[] = [],
  binary = 'prometheus',
): PrometheusProcess {
  const proc = Bun.spawn(
    [
      binary,
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      ...flags,
    ],
    { stdout: 'ignore', stderr: 'ignore' },
  )
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      proc.kill('SIGTERM')
      await proc.exited
    },
  }
}

/** What a start that failed left: see {@link failedStart}. */
export interface FailedStart {
  exitCode: number | null
  stderr: string
  /** The fatal and error lines of its JSON log, whole. */
  failures: Array<Record<string, unknown>>
  /** Everything it printed, for the password checks. */
  output: string
}

/**
 * Starts `command` from the repository in production mode (127.0.0.1, port 0, log at info, plus
 * `env`) and waits for it to exit, as it is expected to fail; killed after 60 s.
 */
export async function failedStart(command: string[], env: Record<string, string>): Promise<FailedStart> {
  const proc = Bun.spawn(command, {
    cwd: REPO_ROOT,
    env: { ...process.env, NODE_ENV: 'production', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000)
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  clearTimeout(timer)
  const lines = stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>)
  return {
    exitCode,
    stderr,
    failures: lines.filter((line) => line.level === 'fatal' || line.level === 'error'),
    output: stdout + stderr,
  }
}
