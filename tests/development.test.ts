import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../src/config.ts'
import { DEV_ADMIN_TOKEN_FILE, prepareDevelopment } from '../src/development.ts'
import { buildTestApp } from './helpers/app.ts'
import { freshDatabase } from './helpers/db.ts'

// One empty database for the file (a fresh PGlite takes seconds): the first start creates
// the demo tenant, later ones find it.
setDefaultTimeout(60_000)
let database: Awaited<ReturnType<typeof freshDatabase>>
beforeAll(async () => {
  database = await freshDatabase()
})

const dirs: string[] = []
const dataDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'cc-dev-'))
  dirs.push(dir)
  return dir
}
afterAll(async () => {
  await database.close()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** A development start on an empty database; returns the config it leaves and the banner. */
async function start(env: Record<string, string>, port = 3000) {
  const config = loadConfig({ NODE_ENV: 'development', ...env })
  const printed: string[] = []
  const development = await prepareDevelopment({ config, db: database.db, print: (t) => printed.push(t) })
  development.printBanner(port)
  return { config, banner: printed.join('\n') }
}

describe('development start-up', () => {
  test('the banner names the port the server listens on, in every URL and demo command; the demo key is shown once', async () => {
    const { banner } = await start({ DATA_DIR: dataDir(), PORT: '3901' }, 3901)
    expect(banner).toContain('on http://localhost:3901')
    expect(banner).toContain('http://localhost:3901/swagger')
    expect(banner).toMatch(/curl -H "Authorization: Bearer ck_\S+" http:\/\/localhost:3901\/tenants\/me/)
    expect(banner).toContain('PORT=3901 bun run demo:traffic')
    expect(banner).toContain('PORT=3901 bun run demo:incident')
    // Every port the banner names, not a substring search: its random ids and keys may hold any digits.
    const ports = [...banner.matchAll(/localhost:(\d+)|PORT=(\d+)/g)].map((m) => m[1] ?? m[2])
    expect(ports).toEqual(Array(ports.length).fill('3901'))
    expect(ports.length).toBe(5)
    // Later starts find the demo tenant and point to its key file instead of printing it.
    const later = await start({ DATA_DIR: dataDir(), PORT: '3901' }, 3901)
    expect(later.banner).not.toContain('ck_')
    expect(later.banner).toContain('demo tenant:  its API key is in')
  })

  test('without ADMIN_TOKEN an admin token is generated, kept 0600 in DATA_DIR and printed in the banner', async () => {
    const dir = dataDir()
    const { config, banner } = await start({ DATA_DIR: dir })
    const token = config.adminToken!
    expect(token).toMatch(/^dev-admin-[0-9a-f]{32}$/)
    const file = join(dir, DEV_ADMIN_TOKEN_FILE)
    expect(readFileSync(file, 'utf8').trim()).toBe(token)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(banner).toContain(`admin token:  ${token}`)
    // A watch-mode restart keeps the same token.
    const again = await start({ DATA_DIR: dir })
    expect(again.config.adminToken).toBe(token)
  })

  test('the generated token opens the admin routes that answer 403 without one', async () => {
    const { config } = await start({ DATA_DIR: dataDir() })
    const { call } = await buildTestApp({ env: { ADMIN_TOKEN: config.adminToken! } })
    const res = await call('/tenants', {
      method: 'POST',
      token: config.adminToken!,
      json: { name: 'Dev shop', ownerPhone: '+254711000960' },
    })
    expect(res.status).toBe(201)
    expect((await call('/alerts', { token: config.adminToken! })).status).toBe(200)
    const closed = await buildTestApp({ env: { ADMIN_TOKEN: '' } })
    expect((await closed.call('/alerts', { token: config.adminToken! })).status).toBe(403)
  })

  test('an ADMIN_TOKEN that is set is used and never printed', async () => {
    const dir = dataDir()
    const { config, banner } = await start({ DATA_DIR: dir, ADMIN_TOKEN: 'my-own-admin-token-123' })
    expect(config.adminToken).toBe('my-own-admin-token-123')
    expect(banner).not.toContain('my-own-admin-token-123')
    expect(banner).toContain('admin token:  (from ADMIN_TOKEN)')
  })

  test('refuses to run outside development, so production never generates or prints a token', async () => {
    for (const env of ['production', 'test']) {
      const config = loadConfig({ NODE_ENV: env, DATA_DIR: dataDir() })
      const printed: string[] = []
      await expect(
        prepareDevelopment({ config, db: database.db, print: (t) => printed.push(t) }),
      ).rejects.toThrow('prepareDevelopment runs only with NODE_ENV=development')
      expect(config.adminToken).toBeUndefined()
      expect(printed).toEqual([])
    }
  })
})
