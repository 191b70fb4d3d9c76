import { fileURLToPath } from 'node:url'

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))

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

/**
 * Starts `bun <script>` and resolves once it printed its port: a `{"port":N}` line, or the
 * server's "listening" log line. Fails (with its output) if it exits or takes too long.
 */
export async function spawnBun(
  script: string,
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<Spawned> {
  const proc = Bun.spawn(['bun', script], {
    cwd: REPO_ROOT,
    env: { ...process.env, NODE_ENV: 'test', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const lines: Array<Record<string, unknown>> = []
  const text: string[] = []
  let onPort: (port: number) => void = () => {}
  const ready = new Promise<number>((resolve) => {
    onPort = resolve
  })
  const reading = (async () => {
    const decoder = new TextDecoder()
    let pending = ''
    const reader = proc.stdout.getReader()
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
          continue
        }
        lines.push(line)
        if (
          typeof line.port === 'number' &&
          (line.msg === undefined || String(line.msg).startsWith('listening'))
        ) {
          onPort(line.port)
        }
      }
    }
  })()
  const stderr = new Response(proc.stderr).text()
  let timer: ReturnType<typeof setTimeout> | undefined
  const failure = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`not listening after ${timeoutMs} ms`), timeoutMs)
    void proc.exited.then((code) => resolve(`exited with ${code}`))
  })
  const outcome = await Promise.race([ready, failure])
  clearTimeout(timer)
  if (typeof outcome === 'string') {
    proc.kill('SIGKILL')
    throw new Error(`${script} ${outcome}\n${text.join('\n')}\n${await stderr}`)
  }
  const port = outcome
  return {
    port,
    lines,
    output: () => text.join('\n'),
    async stop() {
      const started = performance.now()
      proc.kill('SIGTERM')
      const code = await proc.exited
      await reading
      return { code, ms: performance.now() - started }
    },
    kill() {
      proc.kill('SIGKILL')
    },
  }
}
