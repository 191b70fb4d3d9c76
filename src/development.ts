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
import { createTenantService } from './tenants/service.ts'

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

/**
 * DATA_DIR file (0600) keeping every demo tenant `bun run dev` created or found in
 * DATA_DIR/demo-tenant.json, newest first, as a JSON array of `{id, name, apiKey}`. One
 * DATA_DIR serves the embedded database and any DATABASE_URL a developer switches to, each
 * with its own demo tenant, while the demo scripts and the README read the one file: a start
 * puts back there the key of the database it runs on.
 */
export const DEMO_TENANTS_KEPT_FILE = 'demo-tenants.json'

/** How many kept demo tenants the file holds (one per database a developer ran `bun run dev` on). */
const KEPT_DEMO_TENANTS = 20

interface DemoTenantKey {
  id: string
  name: string
  apiKey: string
}

/** The `{id, name, apiKey}` records in `text` (JSON, one record or an array); [] for anything else. */
function demoTenantKeys(text: string | undefined): DemoTenantKey[] {
  if (text === undefined) return []
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return []
  }
  return (Array.isArray(parsed) ? parsed : [parsed]).filter(
    (k): k is DemoTenantKey =>
      typeof k === 'object' &&
      k !== null &&
      typeof k.id === 'string' &&
      typeof k.name === 'string' &&
      typeof k.apiKey === 'string',
  )
}

const readIfThere = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : undefined)

/**
 * What the banner can say of the demo tenant of this database: `created` (its key is new and
 * shown once), `kept` (DATA_DIR/demo-tenant.json opens it), `restored` (the file held another
 * database's key and now holds this one's again), or `none` (no kept key opens a shop of this
 * database: it had tenants before its first development start).
 */
type DemoTenantState =
  | { state: 'created'; id: string; apiKey: string }
  | { state: 'kept' }
  | { state: 'restored' }
  | { state: 'none'; otherDatabase: boolean }

/**
 * Gives an empty database its demo tenant, else finds the kept key that opens this database's
 * and leaves it in DATA_DIR/demo-tenant.json. Keys are kept per DATA_DIR, not per database, so
 * without this a start on PostgreSQL after one on the embedded database (or back) left the file
 * holding the other database's key: the banner said the key was there, and the Quick start and
 * demo scripts got 401 `Invalid API key`.
 */
async function demoTenant(db: Database, dataDir: string): Promise<DemoTenantState> {
  const currentFile = join(dataDir, DEMO_TENANT_FILE)
  const keptFile = join(dataDir, DEMO_TENANTS_KEPT_FILE)
  const current = demoTenantKeys(readIfThere(currentFile))[0]
  const kept = demoTenantKeys(readIfThere(keptFile))
  const remember = (keys: DemoTenantKey[]) => {
    const unique = keys.filter((k, i) => keys.findIndex((o) => o.apiKey === k.apiKey) === i)
    mkdirSync(dataDir, { recursive: true })
    writeFileSync(keptFile, `${JSON.stringify(unique.slice(0, KEPT_DEMO_TENANTS))}\n`, { mode: 0o600 })
  }
  const created = await createDemoTenant(db, dataDir)
  if (created) {
    remember([{ ...created, name: 'Demo Shop' }, ...(current ? [current] : []), ...kept])
    return { state: 'created', ...created }
  }
  const tenants = createTenantService({ db })
  for (const candidate of current ? [current, ...kept] : kept) {
    if ((await tenants.authenticate(candidate.apiKey))?.id !== candidate.id) continue
    const restored = candidate !== current
    if (restored) writeFileSync(currentFile, JSON.stringify(candidate), { mode: 0o600 })
    remember([candidate, ...(current ? [current] : []), ...kept])
    return restored ? { state: 'restored' } : { state: 'kept' }
  }
  if (current) remember([current, ...kept])
  return { state: 'none', otherDatabase: current !== undefined }
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
  const demo = await demoTenant(deps.db, dataDir)
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
      const demoFile = join(dataDir, DEMO_TENANT_FILE)
      if (demo.state === 'created') {
        lines.push(
          `    demo tenant:  ${demo.id}`,
          `    demo API key: ${demo.apiKey}   (shown once; kept in ${demoFile})`,
          `  Try: curl -H "Authorization: Bearer ${demo.apiKey}" ${base}/tenants/me`,
        )
      } else if (demo.state === 'kept') {
        lines.push(`    demo tenant:  its API key is in ${demoFile}`)
      } else if (demo.state === 'restored') {
        lines.push(
          `    demo tenant:  its API key is in ${demoFile} (put back: the file held another database's)`,
        )
      } else {
        // The demo tenant is made only in an empty database; say so, and how to get a key instead.
        lines.push(
          `    demo tenant:  none in this database (made only in an empty one)${demo.otherDatabase ? `; ${demoFile} holds another database's key, which this one answers 401` : ''}`,
          `  A shop: curl -X POST ${base}/tenants -H "Authorization: Bearer ${adminSource === 'ADMIN_TOKEN' ? '$ADMIN_TOKEN' : config.adminToken}" -H 'content-type: application/json' -d '{"name":"My shop","ownerPhone":"+15550100001"}'`,
          `          then give the demo scripts its apiKey: --api-key ck_…`,
        )
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
