/**
 * What the demo scripts (`bun run demo:traffic`, `bun run demo:incident`) share: where the
 * server of `bun run dev` listens, and the demo tenant's key and the admin token it leaves in
 * DATA_DIR. Problems end the script with one line on stderr and exit code 2, never a stack.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DEV_ADMIN_TOKEN_FILE } from '../../src/development.ts'
import { DEMO_TENANT_FILE } from '../../src/tenants/demo.ts'

/** Prints one line to stderr and exits 2 (the script could not start). */
export function failWith(line: string): never {
  console.error(line)
  process.exit(2)
}

/** `http://localhost:$PORT`, PORT read as the server reads it (3000 when unset or empty). */
export function defaultBaseUrl(env: Record<string, string | undefined> = process.env): string {
  const port = env.PORT?.trim() || '3000'
  return `http://localhost:${port}`
}

const dataDir = () => process.env.DATA_DIR?.trim() || './.data'

/** The demo tenant's API key that `bun run dev` left in DATA_DIR/demo-tenant.json. */
export function demoTenantKey(): string {
  const file = join(dataDir(), DEMO_TENANT_FILE)
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { apiKey: string }).apiKey
  } catch {
    return failWith(`no --api-key given and no ${file}: start the service with \`bun run dev\` first`)
  }
}

/**
 * What to do when the server answered 401 to the key {@link demoTenantKey} read: the file is
 * DATA_DIR's, the demo tenant a database's, so a key left by a `bun run dev` on another database
 * opens no shop here. A development start puts its own database's key back in the file.
 */
export function demoKeyRefused(): string {
  return `the demo key in ${join(dataDir(), DEMO_TENANT_FILE)} opens no shop on this server (one \`bun run dev\` on another database wrote it?): restart \`bun run dev\`, which puts its database's demo key there, or pass --api-key`
}

/** ADMIN_TOKEN when set, else the development admin token `bun run dev` left in DATA_DIR. */
export function adminToken(): string {
  const fromEnv = process.env.ADMIN_TOKEN?.trim()
  if (fromEnv) return fromEnv
  const file = join(dataDir(), DEV_ADMIN_TOKEN_FILE)
  try {
    return readFileSync(file, 'utf8').trim()
  } catch {
    return failWith(`no ADMIN_TOKEN set and no ${file}: start the service with \`bun run dev\` first`)
  }
}
