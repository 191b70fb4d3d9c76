import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Database } from '../db/client.ts'
import { createTenantService, DEMO_OWNER_PHONE } from './service.ts'

/** The demo tenant's owner, a fictional 555 number; in development it also stands in for on-call. */
export const DEMO_PHONE = DEMO_OWNER_PHONE

/**
 * Development only (the caller checks): gives an empty database a demo tenant, prints its
 * API key once in the start-up banner, and leaves it in DATA_DIR/demo-tenant.json (0600)
 * for `bun run demo:traffic`. Outside development no key is ever printed or written.
 */
export async function announceDemoTenant(db: Database, dataDir: string): Promise<void> {
  const demo = await createTenantService({ db }).ensureDemoTenant()
  if (!demo) return
  mkdirSync(dataDir, { recursive: true })
  writeFileSync(join(dataDir, 'demo-tenant.json'), JSON.stringify(demo), { mode: 0o600 })
  console.log(
    [
      '',
      '  Demo tenant created (development only; this key is shown once):',
      `    tenant id: ${demo.id}`,
      `    API key:   ${demo.apiKey}`,
      `  Try: curl -H "Authorization: Bearer ${demo.apiKey}" http://localhost:3000/tenants/me`,
      '  Or:  bun run demo:traffic',
      '',
    ].join('\n'),
  )
}
