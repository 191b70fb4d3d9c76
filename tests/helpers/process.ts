import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freshDatabase, usingPostgres } from './db.ts'

/** Where a server process keeps its data; shared by a process and its restart. */
export interface ServerData {
  dataDir: string
  databaseUrl: string
  cleanup(): Promise<void>
}

/** A fresh PostgreSQL database when the suite runs on PostgreSQL, else a temporary DATA_DIR. */
export async function createServerData(): Promise<ServerData> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cc-proc-'))
  const database = usingPostgres() ? await freshDatabase() : undefined
  return {
    dataDir,
    databaseUrl: database?.url ?? '',
    async cleanup() {
      await database?.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
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
  const proc = Bun.spawn(command, {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: data.dataDir,
      DATABASE_URL: data.databaseUrl,
      LOG_LEVEL: 'info',
      ...env,
    },
    stdout: 'pipe',
    stderr: 'inherit',
  })
  const lines: Array<Record<string, unknown>> = []
  let resolvePort: (port: number) => void
  const listening = new Promise<number>((resolve) => {
    resolvePort = resolve
  })
  ;(async () => {
    const decoder = new TextDecoder()
    let buffer = ''
    const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      buffer += decoder.decode(value, { stream: true })
      let newline = buffer.indexOf('\n')
      while (newline >= 0) {
        const line = buffer.slice(0, newline)
        buffer = buffer.slice(newline + 1)
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>
          lines.push(parsed)
          if (typeof parsed.port === 'number' && String(parsed.msg).startsWith('listening'))
            resolvePort!(parsed.port)
        } catch {
          // not a log line
        }
        newline = buffer.indexOf('\n')
      }
    }
  })()
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('server did not start in 20 s')), 20_000)
  })
  const exitedEarly = proc.exited.then((code) => Promise.reject(new Error(`server exited with ${code}`)))
  // Only the race may observe these rejections; later ones (a normal exit) are expected.
  timeout.catch(() => {})
  exitedEarly.catch(() => {})
  const port = await Promise.race([listening, timeout, exitedEarly]).finally(() => clearTimeout(timer))
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    proc,
    lines,
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
