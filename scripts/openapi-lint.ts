/**
 * `bun run docs:lint`: starts the service (`bun src/server.ts`, embedded database in a temporary
 * folder, every credential configured as in a full deployment), fetches the document it serves
 * at /swagger/json and lints it with Redocly CLI's recommended rules (`.redocly.yaml`).
 * Exits with Redocly's status: non-zero on any error. `--out <file>` keeps the document.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = join(import.meta.dir, '..')

/**
 * How long the service may take to serve its document. Its first start creates the embedded
 * database (PostgreSQL's initdb in WebAssembly): about 25 s on an idle two-core machine, and
 * 57 s under load, past the 30 s this script once allowed, so a healthy service failed the lint.
 */
export const START_TIMEOUT_MS = 180_000

/** What `waitForDocument` needs besides the URL; the clock and fetch are injectable for tests. */
export interface WaitOptions {
  /** Resolves with the exit code once the service process has exited. */
  exited: Promise<number>
  timeoutMs?: number
  pollMs?: number
  fetch?: (url: string) => Promise<Response>
  now?: () => number
  sleep?: (ms: number) => Promise<unknown>
}

/**
 * Polls `url` until it answers 2xx, and returns the body.
 * @throws Error naming the exit code as soon as the service exits (its own output, inherited,
 *   says why), or naming the URL and the time waited after `timeoutMs` (default START_TIMEOUT_MS).
 */
export async function waitForDocument(url: string, options: WaitOptions): Promise<string> {
  const { timeoutMs = START_TIMEOUT_MS, pollMs = 250, now = Date.now, sleep = Bun.sleep } = options
  const get = options.fetch ?? ((target: string) => fetch(target))
  let exitCode: number | undefined
  options.exited.then((code) => {
    exitCode = code
  })
  const deadline = now() + timeoutMs
  for (;;) {
    const res = await get(url).catch(() => undefined)
    if (res?.ok) return await res.text()
    // Let a settled `exited` run its callback before looking at it.
    await sleep(pollMs)
    if (exitCode !== undefined) {
      throw new Error(`the service exited with code ${exitCode} before serving ${url} (its output is above)`)
    }
    if (now() >= deadline) throw new Error(`${url} did not answer within ${Math.round(timeoutMs / 1000)} s`)
  }
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return typeof address === 'object' && address ? address.port : 0
}

/** Starts the service, waits for its document, lints it; returns Redocly's exit status (1 on any failure). */
async function main(): Promise<number> {
  const outArg = process.argv.indexOf('--out')
  const dir = mkdtempSync(join(tmpdir(), 'cc-openapi-'))
  const file = outArg > 0 ? process.argv[outArg + 1]! : join(dir, 'openapi.json')
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const { DATABASE_URL: _ignored, ...env } = process.env
  const server = Bun.spawn(['bun', 'src/server.ts'], {
    cwd: root,
    env: {
      ...env,
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: join(dir, 'data'),
      LOG_LEVEL: 'warn',
      ADMIN_TOKEN: 'docs-lint-admin-token',
      METRICS_TOKEN: 'docs-lint-metrics-token',
      ALERTMANAGER_WEBHOOK_TOKEN: 'docs-lint-alertmanager-token',
      WHATSAPP_VERIFY_TOKEN: 'docs-lint-verify-token',
      WHATSAPP_APP_SECRET: 'docs-lint-app-secret',
    },
    stdout: 'inherit',
    stderr: 'inherit',
  })

  let status = 1
  try {
    const doc = await waitForDocument(`${base}/swagger/json`, { exited: server.exited })
    writeFileSync(file, doc)
    const lint = Bun.spawn(
      [join(root, 'node_modules/.bin/redocly'), 'lint', '--config', join(root, '.redocly.yaml'), file],
      { cwd: root, stdout: 'inherit', stderr: 'inherit' },
    )
    status = await lint.exited
  } catch (error) {
    process.stderr.write(`docs:lint: ${(error as Error).message}\n`)
  } finally {
    server.kill('SIGTERM')
    await server.exited
    rmSync(dir, { recursive: true, force: true })
  }
  return status
}

if (import.meta.main) process.exit(await main())
