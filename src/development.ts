/**
 * What `bun run dev` does on top of a normal start, and nothing else does: a demo tenant, an
 * admin token when ADMIN_TOKEN is unset, and a start-up banner naming the port the server
 * really listens on. Refuses to run outside NODE_ENV=development, so no key or token is ever
 * generated, printed or written in production.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Config } from './config.ts'
import type { Database } from './db/client.ts'
import { urlHost } from './runtime/listen.ts'
import { createDemoTenant, DEMO_TENANT_FILE } from './tenants/demo.ts'

/** DATA_DIR file holding the generated development admin token (0600), read by `bun run demo:incident`. */
export const DEV_ADMIN_TOKEN_FILE = 'admin-token'

/** Where a generated admin token came from, for the banner. */
type AdminTokenSource = 'ADMIN_TOKEN' | 'generated' | 'kept'

/**
 * The development admin token: the one already in DATA_DIR/admin-token (so watch-mode
 * restarts keep it), else a new random one written there with mode 0600.
 */
function developmentAdminToken(dataDir: string): { token: string; source: AdminTokenSource } {
  const file = join(dataDir, DEV_ADMIN_TOKEN_FILE)
  if (existsSync(file)) {
    const kept = readFileSync(file, 'utf8').trim()
    // The same rule as ADMIN_TOKEN (at least 16 characters); anything else is regenerated.
    if (kept.length >= 16) return { token: kept, source: 'kept' }
  }
  const token = `dev-admin-${randomBytes(16).toString('hex')}`
  mkdirSync(dataDir, { recursive: true })
  writeFileSync(file, `${token}\n`, { mode: 0o600 })
  return { token, source: 'generated' }
}

export interface Development {
  /** Prints the start-up banner for the port the server listens on. */
  printBanner(port: number): void
}

/**
 * Development start-up, before the app is built: creates the demo tenant on an empty
 * database and, when ADMIN_TOKEN is unset, sets `config.adminToken` to a development token
 * (admin routes such as POST /tenants and GET /alerts would otherwise answer 403).
 * Throws outside NODE_ENV=development.
 */
export async function prepareDevelopment(deps: {
  config: Config
  db: Database
  /** Where the banner goes; standard output by default. */
  print?: (text: string) => void
}): Promise<Development> {
  const { config } = deps
  if (config.env !== 'development') throw new Error('prepareDevelopment runs only with NODE_ENV=development')
  const dataDir = config.database.dataDir
  const demo = await createDemoTenant(deps.db, dataDir)
  let adminSource: AdminTokenSource = 'ADMIN_TOKEN'
  if (!config.adminToken) {
    const generated = developmentAdminToken(dataDir)
    config.adminToken = generated.token
    adminSource = generated.source
  }
  const print = deps.print ?? ((text: string) => console.log(text))
  return {
    printBanner(port) {
      // Every interface, or the loopback one `bun run dev` binds by default: `localhost` reaches both.
      const host = ['0.0.0.0', '::', '::0', '127.0.0.1'].includes(config.host) ? 'localhost' : config.host
      const base = `http://${urlHost(host)}:${port}`
      const admin =
        adminSource === 'ADMIN_TOKEN'
          ? '(from ADMIN_TOKEN)'
          : `${config.adminToken}   (development only; ${adminSource === 'kept' ? 'kept' : 'generated'} in ${join(dataDir, DEV_ADMIN_TOKEN_FILE)})`
      const lines = [
        '',
        `  convo-commerce (development) on ${base}`,
        `    API docs:     ${base}/swagger`,
        `    admin token:  ${admin}`,
      ]
      if (demo) {
        lines.push(
          `    demo tenant:  ${demo.id}`,
          `    demo API key: ${demo.apiKey}   (shown once; kept in ${join(dataDir, DEMO_TENANT_FILE)})`,
          `  Try: curl -H "Authorization: Bearer ${demo.apiKey}" ${base}/tenants/me`,
        )
      } else {
        lines.push(`    demo tenant:  its API key is in ${join(dataDir, DEMO_TENANT_FILE)}`)
      }
      // The demo scripts default to PORT 3000, as the server does; name the port when it differs.
      const env = port === 3000 ? '' : `PORT=${port} `
      lines.push(
        `  Traffic: ${env}bun run demo:traffic    An alert, end to end: ${env}bun run demo:incident`,
        '',
      )
      print(lines.join('\n'))
    },
  }
}
