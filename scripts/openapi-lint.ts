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
const outArg = process.argv.indexOf('--out')
const dir = mkdtempSync(join(tmpdir(), 'cc-openapi-'))
const file = outArg > 0 ? process.argv[outArg + 1]! : join(dir, 'openapi.json')

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return typeof address === 'object' && address ? address.port : 0
}

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
  let doc: string | undefined
  for (let attempt = 0; attempt < 120 && doc === undefined; attempt++) {
    const res = await fetch(`${base}/swagger/json`).catch(() => undefined)
    if (res?.ok) doc = await res.text()
    else await Bun.sleep(250)
  }
  if (doc === undefined) throw new Error(`${base}/swagger/json did not answer within 30 s`)
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
process.exit(status)
