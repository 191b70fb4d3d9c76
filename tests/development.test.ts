import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../src/config.ts'
import type { Database } from '../src/db/client.ts'
import { DEV_ADMIN_TOKEN_FILE, prepareDevelopment } from '../src/development.ts'
import { DEMO_TENANT_FILE } from '../src/tenants/demo.ts'
import { createTenantService } from '../src/tenants/service.ts'
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
async function start(env: Record<string, string>, port = 3000, db = database.db) {
  const config = loadConfig({ NODE_ENV: 'development', ...env })
  const printed: string[] = []
  const development = await prepareDevelopment({ config, db, print: (t) => printed.push(t) })
  development.printBanner(port)
  return { config, banner: printed.join('\n') }
}

describe('development start-up', () => {
  test('the banner names the port the server listens on, in every URL and demo command; the demo key is shown once', async () => {
    const dir = dataDir()
    const { banner } = await start({ DATA_DIR: dir, PORT: '3901' }, 3901)
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
    const later = await start({ DATA_DIR: dir, PORT: '3901' }, 3901)
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

describe('the demo key file when one DATA_DIR serves several databases', () => {
  const keyIn = (dir: string) =>
    JSON.parse(readFileSync(join(dir, DEMO_TENANT_FILE), 'utf8')).apiKey as string
  const opens = async (db: Database, key: string) =>
    (await createTenantService({ db }).authenticate(key)) !== undefined

  test('`bun run dev` on PostgreSQL, then on the embedded database again: the file holds the key of the database the server runs on', async () => {
    // The README's newcomer: `bun run dev`, then `DATABASE_URL=… bun run dev` (a second, empty
    // database with its own demo tenant), then `bun run dev` again. Before, the last start said
    // "its API key is in .data/demo-tenant.json" while the file held the other database's key,
    // and the Quick start and both demo scripts got 401 Invalid API key.
    const dir = dataDir()
    const first = await freshDatabase()
    const second = await freshDatabase()
    try {
      await start({ DATA_DIR: dir }, 3000, first.db)
      const firstKey = keyIn(dir)
      expect(await opens(first.db, firstKey)).toBe(true)
      const onSecond = await start({ DATA_DIR: dir }, 3000, second.db)
      expect(onSecond.banner).toContain('demo API key: ck_')
      const secondKey = keyIn(dir)
      expect(secondKey).not.toBe(firstKey)
      expect(await opens(second.db, secondKey)).toBe(true)

      const back = await start({ DATA_DIR: dir }, 3000, first.db)
      expect(keyIn(dir)).toBe(firstKey)
      expect(back.banner).toContain(`its API key is in ${join(dir, DEMO_TENANT_FILE)} (put back`)
      expect(back.banner).not.toContain('ck_')
      expect(statSync(join(dir, DEMO_TENANT_FILE)).mode & 0o777).toBe(0o600)
      const again = await start({ DATA_DIR: dir }, 3000, second.db)
      expect(keyIn(dir)).toBe(secondKey)
      expect(again.banner).toContain('(put back')
      // A start on the database the file already opens changes nothing and says so plainly.
      const same = await start({ DATA_DIR: dir }, 3000, second.db)
      expect(same.banner).toContain(`demo tenant:  its API key is in ${join(dir, DEMO_TENANT_FILE)}\n`)
      expect(statSync(join(dir, 'demo-tenants.json')).mode & 0o777).toBe(0o600)
    } finally {
      await first.close()
      await second.close()
    }
  })

  test('a database that had shops before its first development start: the banner says there is no demo key and how to make a shop', async () => {
    const dir = dataDir()
    const other = await freshDatabase()
    try {
      await start({ DATA_DIR: dir }, 3000, other.db) // the file now holds the other database's key
      // `database` had its demo tenant made by another DATA_DIR's start: no key here opens it.
      const { banner, config } = await start({ DATA_DIR: dir, PORT: '3901' }, 3901)
      expect(banner).toContain(
        `demo tenant:  none in this database (made only in an empty one); ${join(dir, DEMO_TENANT_FILE)} holds another database's key, which this one answers 401`,
      )
      expect(banner).toContain(
        `curl -X POST http://localhost:3901/tenants -H "Authorization: Bearer ${config.adminToken}"`,
      )
      // A fresh DATA_DIR has no file at all: the banner does not claim one.
      const fresh = await start({ DATA_DIR: dataDir() })
      expect(fresh.banner).toContain('demo tenant:  none in this database (made only in an empty one)\n')
      expect(fresh.banner).not.toContain('its API key is in')
      // An ADMIN_TOKEN from the environment is named, never printed.
      const own = await start({ DATA_DIR: dataDir(), ADMIN_TOKEN: 'my-own-admin-token-123' })
      expect(own.banner).toContain('-H "Authorization: Bearer $ADMIN_TOKEN"')
      expect(own.banner).not.toContain('my-own-admin-token-123')
    } finally {
      await other.close()
    }
  })
})
