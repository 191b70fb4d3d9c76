import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Database } from '../db/client.ts'
import { createTenantService, DEMO_OWNER_PHONE } from './service.ts'

/** The demo tenant's owner, a fictional 555 number; in development it also stands in for on-call. */
export const DEMO_PHONE = DEMO_OWNER_PHONE

/** Where the demo tenant's key is kept for `bun run demo:traffic` and `bun run demo:incident`. */
export const DEMO_TENANT_FILE = 'demo-tenant.json'

/**
 * Development only (the caller checks): gives an empty database a demo tenant and leaves its
 * id and API key in DATA_DIR/demo-tenant.json (0600) for the demo scripts. Returns the new
 * tenant (its key is shown once, in the start-up banner), or undefined when the database
 * already had tenants. Outside development no key is ever printed or written.
 */
export async function createDemoTenant(
  db: Database,
  dataDir: string,
): Promise<{ id: string; apiKey: string } | undefined> {
  const demo = await createTenantService({ db }).ensureDemoTenant()
  if (!demo) return undefined
  mkdirSync(dataDir, { recursive: true })
  writeFileSync(join(dataDir, DEMO_TENANT_FILE), JSON.stringify(demo), { mode: 0o600 })
  return demo
}
