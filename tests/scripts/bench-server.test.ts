import { afterEach, describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO_ROOT } from '../helpers/process.ts'

// The benchmark's server process: its access lines go to a file, which a `bun run bench` fills
// with a few hundred MB. These tests are about the process (its signals and its files).

const folders: string[] = []
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true })
})

/** Starts `bun bench/server.ts` (variant `full`, in-memory database) with `TMPDIR` in a folder of its own. */
async function startBenchServer(env: Record<string, string> = {}) {
  const folder = mkdtempSync(join(tmpdir(), 'cc-bench-server-'))
  folders.push(folder)
  const proc = Bun.spawn(['bun', 'bench/server.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, BENCH_VARIANT: 'full', PORT: '0', DATABASE_URL: '', TMPDIR: folder, ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let printed = ''
  const deadline = Date.now() + 30_000
  while (!/listening (\d+)/.test(printed)) {
    const { value, done } = await reader.read()
    if (done || Date.now() > deadline) {
      proc.kill('SIGKILL')
      throw new Error(`bench server did not listen: ${printed}${await new Response(proc.stderr).text()}`)
    }
    printed += decoder.decode(value, { stream: true })
  }
  reader.releaseLock()
  const port = Number(/listening (\d+)/.exec(printed)![1])
  return { proc, folder, url: `http://127.0.0.1:${port}` }
}

describe('bench/server.ts', () => {
  test('SIGTERM removes the access-log file it named itself, after writing its lines there', async () => {
    const { proc, folder, url } = await startBenchServer()
    const response = await fetch(`${url}/users/42`)
    expect(response.status).toBe(200)
    await response.arrayBuffer()
    const logFile = join(folder, `bench-full-${proc.pid}.log`)
    expect(readdirSync(folder)).toEqual([`bench-full-${proc.pid}.log`])
    proc.kill('SIGTERM')
    expect(await proc.exited).toBe(0)
    expect(existsSync(logFile)).toBe(false)
    expect(readdirSync(folder)).toEqual([])
  }, 60_000)

  test('SIGINT (Ctrl-C on `bun run bench`) stops it the same way; a BENCH_LOG_FILE it was given is kept', async () => {
    const logFolder = mkdtempSync(join(tmpdir(), 'cc-bench-log-'))
    folders.push(logFolder)
    const kept = join(logFolder, 'access.log')
    const { proc, folder, url } = await startBenchServer({ BENCH_LOG_FILE: kept })
    const response = await fetch(`${url}/users/42`)
    expect(response.status).toBe(200)
    await response.arrayBuffer()
    proc.kill('SIGINT')
    expect(await proc.exited).toBe(0)
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
