import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runToExit } from '../helpers/process.ts'

setDefaultTimeout(60_000)

// A server that refuses every key as the service refuses one of another database's shop.
let server: ReturnType<typeof Bun.serve>
let dataDir: string
beforeAll(() => {
  server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: () =>
      Response.json(
        { error: { code: 'UNAUTHORIZED', message: 'Invalid API key: no shop has this key', requestId: 'r' } },
        { status: 401 },
      ),
  })
  dataDir = mkdtempSync(join(tmpdir(), 'cc-demo-key-'))
  writeFileSync(
    join(dataDir, 'demo-tenant.json'),
    JSON.stringify({ id: 'x', name: 'Demo Shop', apiKey: 'ck_other' }),
  )
  writeFileSync(join(dataDir, 'admin-token'), 'dev-admin-0123456789abcdef\n')
})
afterAll(() => {
  server.stop(true)
  rmSync(dataDir, { recursive: true, force: true })
})

const remedy = () =>
  `the demo key in ${join(dataDir, 'demo-tenant.json')} opens no shop on this server (one \`bun run dev\` on another database wrote it?): restart \`bun run dev\`, which puts its database's demo key there, or pass --api-key`

describe("the demo scripts when the server refuses the demo key file's key (401)", () => {
  // Before, demo:incident said only "answered 401: check the API key", and demo:traffic
  // "check the URL and the API key", though neither key came from the user: the file kept
  // another database's key (README: one DATA_DIR, a demo tenant per database).
  for (const script of ['demo-traffic', 'demo-incident']) {
    test(`${script}: exits 2 with one line saying where the key came from and what to do`, async () => {
      const { code, stdout, stderr } = await runToExit(
        ['bun', `scripts/${script}.ts`, '--url', server.url.href],
        {
          DATA_DIR: dataDir,
          API_KEY: '',
          ADMIN_TOKEN: '',
        },
      )
      expect(code).toBe(2)
      expect(stdout).toBe('')
      const lines = stderr.trim().split('\n')
      expect(lines.length).toBe(1)
      expect(lines[0]).toStartWith(
        `demo:${script.slice(5)}: GET ${server.url.href.replace(/\/$/, '')}/tenants/me answered 401`,
      )
      expect(lines[0]).toEndWith(remedy())
    })
  }

  test('a key given with --api-key is not blamed on the file', async () => {
    const { code, stderr } = await runToExit(
      ['bun', 'scripts/demo-incident.ts', '--url', server.url.href, '--api-key', 'ck_mine'],
      { DATA_DIR: dataDir, ADMIN_TOKEN: '' },
    )
    expect(code).toBe(2)
    expect(stderr.trim()).toEndWith('answered 401: check the API key')
  })
})
