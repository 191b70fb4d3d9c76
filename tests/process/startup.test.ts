import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { denoExecutable } from '../../scripts/start-runtime.ts'
import { POSTGRES_URL, usingPostgres } from '../helpers/db.ts'
import {
  createServerData,
  type FailedStart,
  failedStart,
  type ServerData,
  startServer,
} from '../helpers/process.ts'
import { recordSkip, skipTest } from '../helpers/skips.ts'

// Starts real processes: well over bun's 5 s default.
setDefaultTimeout(120_000)

const RUNTIMES: Array<{ name: string; binary: string; prepare?: string[]; command: string[] }> = [
  { name: 'bun', binary: 'bun', command: ['bun', 'src/server.ts'] },
  {
    name: 'deno',
    binary: 'deno',
    // The binary itself: npm's wrapper on the PATH does not pass signals on.
    command: [
      denoExecutable() ?? 'deno',
      'run',
      '--allow-all',
      '--config',
      'deno.json',
      'src/server.deno.ts',
    ],
  },
  {
    name: 'node',
    binary: 'node',
    prepare: ['bun', 'run', 'build:node'],
    command: ['node', 'dist/node/server.node.js'],
  },
]

/** What a start that failed left behind. */
/** A failed start as asserted: exit 1, nothing on stderr, one fatal line of exactly `msg` and no stack. */
const failedWith = (msg: string) => ({
  exitCode: 1,
  stderr: '',
  failures: [{ level: 'fatal', time: expect.any(String), name: 'convo-commerce', msg }],
})

const shown = ({ exitCode, stderr, failures }: FailedStart) => ({ exitCode, stderr, failures })

const HOST_REMEDY = 'such as 0.0.0.0 (every interface) or 127.0.0.1 (this machine only)'

/** The line for a HOST that does not resolve: ENOTFOUND with a DNS server, EAI_AGAIN without one. */
const unresolvedHost = (host: string, code: string) =>
  `config error: HOST ${JSON.stringify(host)} does not resolve to an address (${code}): set HOST to a name or address of this machine, ${HOST_REMEDY}`

const PASSWORD = 's3cret-pw'

const DATABASE_REMEDY =
  "check that it is running and reachable and that the URL's host, port, user, password and database are right, or unset DATABASE_URL for the embedded database"

describe('start-up failures that are settings: one line naming the variable, exit 1, no stack (real process)', () => {
  /** Accepts TCP connections and never answers: a PostgreSQL port behind a dropping firewall. */
  let silent: Server
  let silentPort = 0
  beforeAll(async () => {
    silent = createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    silentPort = (silent.address() as { port: number }).port
  })
  afterAll(() => {
    silent.close()
  })

  for (const runtime of RUNTIMES) {
    const present = Bun.which(runtime.binary) !== null
    if (!present && process.env.REQUIRE_OPS_TOOLS !== '1') {
      skipTest(`start-up failures: ${runtime.name}`, `${runtime.binary} is not on the PATH`)
      continue
    }

    test(`${runtime.name}: a HOST that does not resolve, a HOST not on this machine, a PORT in use`, async () => {
      expect(present).toBe(true)
      if (runtime.prepare) expect(Bun.spawnSync(runtime.prepare).exitCode).toBe(0)
      const holder = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('taken') })
      const data: ServerData = await createServerData()
      // Each failed start removes the data folder's lock: a process kept alive (`bun --watch`)
      // must not keep holding it.
      const start = async (env: Record<string, string>) => {
        const failed = await failedStart(runtime.command, {
          DATA_DIR: data.dataDir,
          DATABASE_URL: data.databaseUrl,
          ...env,
        })
        expect({ env, lockLeft: existsSync(join(data.dataDir, 'lock')) }).toEqual({ env, lockLeft: false })
        return failed
      }
      try {
        const unresolved = await start({ HOST: 'no-such-host.invalid' })
        expect(shown(unresolved)).toEqual(
          failedWith(
            unresolved.output.includes('(EAI_AGAIN)')
              ? unresolvedHost('no-such-host.invalid', 'EAI_AGAIN')
              : unresolvedHost('no-such-host.invalid', 'ENOTFOUND'),
          ),
        )
        // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): an address no machine of ours has.
        expect(shown(await start({ HOST: '192.0.2.1' }))).toEqual(
          failedWith(
            `config error: HOST "192.0.2.1" is not an address of this machine (EADDRNOTAVAIL): set HOST to one of its addresses, ${HOST_REMEDY}`,
          ),
        )
        expect(shown(await start({ PORT: String(holder.port) }))).toEqual(
          failedWith(
            `config error: PORT ${holder.port} is already in use on 127.0.0.1 (EADDRINUSE): set PORT to a free port, or 0 to pick one`,
          ),
        )
      } finally {
        holder.stop(true)
        await data.cleanup()
      }
    })

    test(`${runtime.name}: a DATABASE_URL that cannot be used names it and the cause, never the password`, async () => {
      expect(present).toBe(true)
      if (runtime.prepare) expect(Bun.spawnSync(runtime.prepare).exitCode).toBe(0)
      const cases: Array<[url: string, cause: (output: string) => string]> = [
        [
          `postgres://shop:${PASSWORD}@no-such-host.invalid/shop`,
          (output) =>
            output.includes('EAI_AGAIN')
              ? 'getaddrinfo EAI_AGAIN no-such-host.invalid'
              : 'getaddrinfo ENOTFOUND no-such-host.invalid',
        ],
        [`postgres://shop:${PASSWORD}@127.0.0.1:1/shop`, () => 'connect ECONNREFUSED 127.0.0.1:1'],
        [
          `postgres://shop:${PASSWORD}@127.0.0.1:${silentPort}/shop`,
          () => `CONNECT_TIMEOUT 127.0.0.1:${silentPort} (no answer within DB_CONNECT_TIMEOUT_MS, 1000 ms)`,
        ],
      ]
      for (const [url, cause] of cases) {
        const failed = await failedStart(runtime.command, {
          DATABASE_URL: url,
          DB_CONNECT_TIMEOUT_MS: '1000',
        })
        const where = new URL(url)
        expect({ url, ...shown(failed) }).toEqual({
          url,
          ...failedWith(
            `cannot open the database: PostgreSQL at ${where.hostname}:${where.port || '5432'}/shop (DATABASE_URL): ${cause(failed.output)}; ${DATABASE_REMEDY}`,
          ),
        })
        expect({ url, leaked: failed.output.includes(PASSWORD) }).toEqual({ url, leaked: false })
      }
    })
  }

  test('bun: a DATABASE_URL postgres.js cannot parse says so, without quoting the URL', async () => {
    // Node's ERR_INVALID_URL carries the whole URL, password included, in `input`.
    const failed = await failedStart(['bun', 'src/server.ts'], {
      DATABASE_URL: `postgres://shop:${PASSWORD}@127.0.0.1:99999/shop`,
    })
    expect(shown(failed)).toEqual(
      failedWith(
        `cannot open the database: PostgreSQL at an unparseable URL (DATABASE_URL): ERR_INVALID_URL: Invalid URL; ${DATABASE_REMEDY}`,
      ),
    )
    expect(failed.output).not.toContain(PASSWORD)
  })

  test('bun: a DATA_DIR another live process holds is one line saying which and what to do', async () => {
    const data = await createServerData()
    try {
      // This test's own process stands in for another server holding the folder.
      writeFileSync(join(data.dataDir, 'lock'), String(process.pid))
      const failed = await failedStart(['bun', 'src/server.ts'], { DATA_DIR: data.dataDir, DATABASE_URL: '' })
      expect(shown(failed)).toEqual(
        failedWith(
          `cannot open the embedded database: DATA_DIR ${data.dataDir} is in use by process ${process.pid} (another \`bun run dev\` or \`bun run start\`?); the embedded database allows one process: stop that one, set DATA_DIR to another folder, or set DATABASE_URL to share PostgreSQL`,
        ),
      )
    } finally {
      await data.cleanup()
    }
  })
})

// A top-level `PostgreSQL only:` block: `.ci/run` expects exactly those to skip on the
// embedded database (a nested one reads as an unexpected skip under REQUIRE_OPS_TOOLS=1).
if (!usingPostgres()) {
  recordSkip(
    'PostgreSQL only: start-up against a database or role that does not exist',
    'runs only on PostgreSQL (DATABASE_URL unset)',
    { expected: true },
  )
}
describe.if(usingPostgres())(
  'PostgreSQL only: start-up against a database or role that does not exist',
  () => {
    test('bun: a database or a role the server does not have is its SQLSTATE and message', async () => {
      const noDatabase = new URL(POSTGRES_URL!)
      noDatabase.password = PASSWORD
      noDatabase.pathname = '/cc_no_such_database'
      const noRole = new URL(POSTGRES_URL!)
      noRole.username = 'cc_no_such_role'
      noRole.password = PASSWORD
      const target = (url: URL) => `${url.hostname}:${url.port || '5432'}${url.pathname}`
      for (const [url, cause] of [
        [noDatabase, 'database "cc_no_such_database" does not exist (SQLSTATE 3D000)'],
        [noRole, 'role "cc_no_such_role" does not exist (SQLSTATE 28000)'],
      ] as const) {
        const failed = await failedStart(['bun', 'src/server.ts'], { DATABASE_URL: url.toString() })
        expect(shown(failed)).toEqual(
          failedWith(
            `cannot open the database: PostgreSQL at ${target(url)} (DATABASE_URL): ${cause}; ${DATABASE_REMEDY}`,
          ),
        )
        expect(failed.output).not.toContain(PASSWORD)
      }
    })
  },
)

describe('start-up notices (real process)', () => {
  test('a production start says what it leaves closed (admin) and open (/metrics), once', async () => {
    const bare = await startServer({ ADMIN_TOKEN: '', METRICS_TOKEN: '' })
    const configured = await startServer({
      ADMIN_TOKEN: 'admin-token-for-tests-0123456789',
      METRICS_TOKEN: 'metrics-token-0123456789',
    })
    try {
      const notices = (lines: Array<Record<string, unknown>>) =>
        lines
          .filter((l) => String(l.msg).includes('_TOKEN is not set'))
          .map((l) => `${String(l.level)}: ${String(l.msg)}`)
      expect(notices(bare.lines)).toEqual([
        'warn: ADMIN_TOKEN is not set: the admin routes (POST /tenants, GET /alerts, GET /alerts/rules, GET /slo) answer 403 until it is',
        'info: METRICS_TOKEN is not set: /metrics answers anyone who can reach this port',
      ])
      expect(notices(configured.lines)).toEqual([])
    } finally {
      await bare.cleanup()
      await configured.cleanup()
    }
  })
})
