import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'drizzle-orm'
import postgres from 'postgres'
import { compactError, createLogger, serializeError } from '../../src/core/logger.ts'
import {
  DataDirLockedError,
  EMBEDDED_CREATION_MEMORY_BYTES,
  lockDataDir,
  openEmbedded,
} from '../../src/db/embedded.ts'
import { MigrationError } from '../../src/db/migrations.ts'
import {
  databaseConnectionProblem,
  databaseOpenProblem,
  MIGRATIONS_FOLDER,
  openMigratedDatabase,
  postgresTarget,
} from '../../src/db/open.ts'
import {
  migratePostgres,
  openPostgres,
  postgresDriverUrl,
  postgresUrlOptions,
} from '../../src/db/postgres.ts'
import { freshDatabase, POSTGRES_URL, usingPostgres } from '../helpers/db.ts'
import { captureLogs, type LogCapture } from '../helpers/logs.ts'

// Starts real processes or fresh databases: well over bun's 5 s default.
setDefaultTimeout(30_000)

const quiet = createLogger({ level: 'silent', pretty: false })
const rowsOf = (result: unknown) => (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows)

describe('migrations', () => {
  test('an empty database gets every table of the schema', async () => {
    const handle = await freshDatabase()
    try {
      const result = await handle.db.execute(
        sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
      )
      const names = rowsOf(result).map((r) => (r as { table_name: string }).table_name)
      expect(names).toEqual(
        expect.arrayContaining([
          'order_items',
          'orders',
          'payments',
          'products',
          'tenant_settings',
          'tenants',
        ]),
      )
      const applied = rowsOf(
        await handle.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`),
      )
      expect((applied[0] as { n: number }).n).toBeGreaterThan(0)
    } finally {
      await handle.close()
    }
  })

  test('the embedded database persists in DATA_DIR and re-opening applies nothing twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-data-'))
    try {
      const config = {
        url: undefined,
        dataDir: dir,
        embeddedSharedBuffersMb: 24,
        poolSize: 1,
        connectTimeoutMs: 1000,
        healthTimeoutMs: 1000,
        pingIntervalMs: 10_000,
      }
      const first = await openMigratedDatabase(config, quiet)
      await first.db.execute(sql`insert into tenants (name, api_key_hash) values ('persisted', 'h1')`)
      await first.close()
      const second = await openMigratedDatabase(config, quiet)
      const rows = rowsOf(await second.db.execute(sql`select name from tenants`))
      expect(rows).toEqual([{ name: 'persisted' }])
      // The setting reaches a folder made by an earlier start, as a start parameter.
      expect(rowsOf(await second.db.execute(sql`show shared_buffers`))).toEqual([{ shared_buffers: '24MB' }])
      await second.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('embedded page cache', () => {
  test("shared_buffers is 16MB unless set, not PostgreSQL's 128MB, and postgresql.conf is left as it was", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-data-'))
    try {
      const inMemory = await openEmbedded({}, quiet)
      try {
        expect(rowsOf(await inMemory.db.execute(sql`show shared_buffers`))).toEqual([
          { shared_buffers: '16MB' },
        ])
      } finally {
        await inMemory.close()
      }
      const first = await openEmbedded({ dataDir: dir }, quiet)
      await first.close()
      const conf = join(dir, 'pgdata', 'postgresql.conf')
      const before = readFileSync(conf, 'utf8')
      const second = await openEmbedded({ dataDir: dir, sharedBuffersMb: 8 }, quiet)
      try {
        expect(rowsOf(await second.db.execute(sql`show shared_buffers`))).toEqual([{ shared_buffers: '8MB' }])
      } finally {
        await second.close()
      }
      expect(readFileSync(conf, 'utf8')).toBe(before)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    // Three embedded databases created (initdb each): 5 s on a quiet machine, 36 s seen in CI.
  }, 90_000)
})

describe('creating the embedded database within a memory limit', () => {
  const warning = {
    level: 'warn',
    memoryLimitMiB: 512,
    neededMiB: 640,
    msg: 'creating the embedded database needs more memory than this process may use: it may be killed (raise the memory limit, or set DATABASE_URL)',
  }
  const warnings = (capture: LogCapture) =>
    capture.lines
      .filter((line) => line.level === 'warn')
      .map(({ level, memoryLimitMiB, neededMiB, msg }) => ({ level, memoryLimitMiB, neededMiB, msg }))

  test('under 640 MiB a start that creates the database warns first, naming both sizes; a start on the created folder does not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-data-'))
    try {
      const first = captureLogs('info')
      await (await openEmbedded({ dataDir: dir, memoryLimitBytes: 512 * 2 ** 20 }, first.log)).close()
      expect(warnings(first)).toEqual([warning])
      const second = captureLogs('info')
      await (await openEmbedded({ dataDir: dir, memoryLimitBytes: 512 * 2 ** 20 }, second.log)).close()
      expect(warnings(second)).toEqual([])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('in memory the database is created on every start: warned under the limit, silent at 640 MiB and above', async () => {
    const under = captureLogs('info')
    await (await openEmbedded({ memoryLimitBytes: 512 * 2 ** 20 + 1 }, under.log)).close()
    expect(warnings(under)).toEqual([warning])
    const enough = captureLogs('info')
    await (await openEmbedded({ memoryLimitBytes: EMBEDDED_CREATION_MEMORY_BYTES }, enough.log)).close()
    expect(warnings(enough)).toEqual([])
  })
})

describe('DATA_DIR lock', () => {
  test('a second opener gets a clear error while the first holds the folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-lock-'))
    const first = await openEmbedded({ dataDir: dir }, quiet)
    try {
      const holder = Bun.spawnSync([
        'bun',
        '-e',
        `
        import { lockDataDir } from '${join(import.meta.dir, '../../src/db/embedded.ts')}'
        try { lockDataDir(${JSON.stringify(dir)}); console.log('locked') } catch (e) { console.log(e.name + ': ' + e.message) }
      `,
      ])
      expect(holder.stdout.toString().trim()).toBe(
        `DataDirLockedError: DATA_DIR ${dir} is in use by process ${process.pid} (another \`bun run dev\` or \`bun run start\`?); the embedded database allows one process: stop that one, set DATA_DIR to another folder, or set DATABASE_URL to share PostgreSQL`,
      )
    } finally {
      await first.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('a lock left by a dead process is taken over, and released on close', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-lock-'))
    try {
      const dead = Bun.spawnSync(['true']).pid
      writeFileSync(join(dir, 'lock'), String(dead))
      const release = lockDataDir(dir)
      expect(() => lockDataDir(dir)).not.toThrow() // our own PID counts as stale (container restarts)
      release()
      expect(() => lockDataDir(dir)()).not.toThrow()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('DataDirLockedError is what a live holder produces', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-lock-'))
    try {
      writeFileSync(join(dir, 'lock'), '1') // PID 1 is always alive
      expect(() => lockDataDir(dir)).toThrow(DataDirLockedError)
      // Expected, with its remedy in the message: the development log prints it without a stack.
      let thrown: unknown
      try {
        lockDataDir(dir)
      } catch (error) {
        thrown = error
      }
      const line = compactError(serializeError(thrown) as Parameters<typeof compactError>[0])
      expect(line).toStartWith(`DataDirLockedError DATA_DIR_LOCKED: DATA_DIR ${dir} is in use by process 1 `)
      expect(line).not.toContain('\n')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('a failed query in the development log', () => {
  test("shows the database's own words as a caused-by line, and no parameter", async () => {
    const handle = await freshDatabase()
    try {
      let thrown: unknown
      try {
        await handle.db.execute(sql`select * from no_such_table where name = ${'+254711000123'}`)
      } catch (error) {
        thrown = error
      }
      const lines = compactError(serializeError(thrown) as Parameters<typeof compactError>[0]).split('\n')
      expect(lines[0]).toStartWith(
        'DrizzleQueryError: Failed query: select * from no_such_table where name = $1',
      )
      expect(lines.filter((line) => line.startsWith('caused by: '))).toEqual([
        expect.stringMatching(/^caused by: \w+: relation "no_such_table" does not exist$/),
      ])
      expect(lines.join('\n')).not.toContain('711000123')
    } finally {
      await handle.close()
    }
  })
})

describe('a database that will not open', () => {
  test('a port that accepts and at once closes every connection fails the start within the connect timeout', async () => {
    // As Docker's proxy does for a published port whose container is not listening yet.
    const server = Bun.listen({
      hostname: '127.0.0.1',
      port: 0,
      socket: { open: (socket) => void socket.end(), data: () => {} },
    })
    try {
      const started = performance.now()
      const error = (await migratePostgres(
        `postgres://shop@127.0.0.1:${server.port}/shop`,
        MIGRATIONS_FOLDER,
        quiet,
        {
          connectTimeoutMs: 1000,
        },
      ).catch((e: unknown) => e)) as Error & { code?: string }
      expect({ code: error.code, message: error.message }).toEqual({
        code: 'CONNECT_TIMEOUT',
        message: `write CONNECT_TIMEOUT 127.0.0.1:${server.port}`,
      })
      expect(performance.now() - started).toBeLessThan(10_000)
    } finally {
      server.stop(true)
    }
  }, 20_000)

  test('a percent-encoded database name is the name it encodes, as libpq reads it', () => {
    const url = 'postgres://shop@db.internal:5432/caf%C3%A9%20shop'
    // postgres.js alone asks for the name as written in the URL: the case this guards.
    expect(postgres(url).options.database).toBe('caf%C3%A9%20shop')
    expect(postgres(url, postgresUrlOptions(url)).options.database).toBe('café shop')
    expect(postgresUrlOptions('postgres://shop@db/shop')).toEqual({})
    expect(postgresUrlOptions('postgres://shop@db/100%zz')).toEqual({})
  })

  test("libpq's target_session_attrs=any, which postgres.js refuses, is read as its default", () => {
    const url = 'postgresql://shop:pw@db.internal:5432/shop?sslmode=require&target_session_attrs=any'
    // The driver's own refusal, a bare Error at start-up: the case this guards.
    expect(() => postgres(url)).toThrow('target_session_attrs any is not supported')
    expect(postgresDriverUrl(url)).toBe('postgresql://shop:pw@db.internal:5432/shop?sslmode=require')
    expect(postgres(postgresDriverUrl(url)).options.target_session_attrs).toBeUndefined()
    expect(postgresDriverUrl('postgres://shop@db/shop?target_session_attrs=ANY')).toBe(
      'postgres://shop@db/shop',
    )
    expect(postgresDriverUrl('postgres://shop@db/shop?target_session_attrs=any&application_name=web')).toBe(
      'postgres://shop@db/shop?application_name=web',
    )
    // Values postgres.js knows, and URLs without the parameter, are passed on as written.
    for (const kept of [
      'postgres://shop@db/shop?target_session_attrs=read-write',
      'postgres://shop@db/shop?target_session_attrs=anything',
      'postgres://shop@db/shop',
    ])
      expect(postgresDriverUrl(kept)).toBe(kept)
  })

  test('an IPv6 host in DATABASE_URL is dialled as written, not as a host named [', async () => {
    for (const [url, host, port] of [
      ['postgres://shop@[::1]:6543/shop', '::1', 6543],
      ['postgresql://shop:pw@[fd00::5]/shop?sslmode=require', 'fd00::5', 5432],
    ] as const) {
      const options = postgres(url, postgresUrlOptions(url)).options
      expect({ url, host: options.host, port: options.port }).toEqual({ url, host: [host], port: [port] })
    }
    expect(postgresUrlOptions('postgres://shop@db.internal:6543/shop')).toEqual({})
    // Where it used to fail before dialling, it now reaches the address (nothing listens on port 1).
    const error = (await migratePostgres('postgres://shop@[::1]:1/shop', MIGRATIONS_FOLDER, quiet, {
      connectTimeoutMs: 1000,
    }).catch((e: unknown) => e)) as Error & { code?: string }
    expect(error.message).not.toContain('ENOTFOUND')
    expect(['ECONNREFUSED', 'EADDRNOTAVAIL', 'ENETUNREACH', 'CONNECT_TIMEOUT']).toContain(
      error.code as string,
    )
  })

  test('the fatal line names DATABASE_URL and where it points, never its password', () => {
    const line = databaseOpenProblem({
      url: 'postgres://shop:s3cret@db.internal:6543/shop',
      dataDir: './.data',
    })
    expect(line).toBe(
      "cannot open the database: PostgreSQL at db.internal:6543/shop (DATABASE_URL); check that it is running and that the URL's user and database exist, or unset DATABASE_URL for the embedded database",
    )
    expect(postgresTarget('postgresql://u@127.0.0.1/test')).toBe('127.0.0.1:5432/test')
    expect(databaseOpenProblem({ url: undefined, dataDir: '/srv/data' })).toBe(
      'cannot open the embedded database in DATA_DIR /srv/data',
    )
  })

  describe('a setting or an outage is one line with its cause (databaseConnectionProblem)', () => {
    const config = { url: 'postgres://shop:p%40ss-w0rd@db.internal:6543/shop', connectTimeoutMs: 3000 }
    const line = (cause: string) =>
      `cannot open the database: PostgreSQL at db.internal:6543/shop (DATABASE_URL): ${cause}; check that it is running and reachable and that the URL's host, port, user, password and database are right, or unset DATABASE_URL for the embedded database`
    const postgresError = (code: string, message: string, severity = 'FATAL') => {
      // postgres.js' PostgresError: the class name, the server's fields as own properties.
      const error = Object.assign(new Error(message), { code, severity })
      error.name = 'PostgresError'
      return error
    }
    const system = (code: string, message: string) => Object.assign(new Error(message), { code })

    test.each([
      [
        'an unknown host',
        system('ENOTFOUND', 'getaddrinfo ENOTFOUND db.internal'),
        'getaddrinfo ENOTFOUND db.internal',
      ],
      [
        'no DNS server',
        system('EAI_AGAIN', 'getaddrinfo EAI_AGAIN db.internal'),
        'getaddrinfo EAI_AGAIN db.internal',
      ],
      [
        'a refused port',
        system('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.5:6543'),
        'connect ECONNREFUSED 10.0.0.5:6543',
      ],
      [
        'an unreachable network',
        system('ENETUNREACH', 'connect ENETUNREACH 10.0.0.5:6543'),
        'connect ENETUNREACH 10.0.0.5:6543',
      ],
      [
        'no answer',
        system('CONNECT_TIMEOUT', 'write CONNECT_TIMEOUT db.internal:6543'),
        'CONNECT_TIMEOUT db.internal:6543 (no answer within DB_CONNECT_TIMEOUT_MS, 3000 ms)',
      ],
      [
        'a server without TLS',
        system('SSL_NOT_SUPPORTED', 'SSL_NOT_SUPPORTED: The server does not support SSL connections'),
        'SSL_NOT_SUPPORTED: The server does not support SSL connections',
      ],
      [
        'a port out of range',
        system('ERR_SOCKET_BAD_PORT', 'Port should be >= 0 and < 65536. Received 99999.'),
        'ERR_SOCKET_BAD_PORT: Port should be >= 0 and < 65536. Received 99999.',
      ],
      [
        'no such database',
        postgresError('3D000', 'database "shop" does not exist'),
        'database "shop" does not exist (SQLSTATE 3D000)',
      ],
      [
        'a wrong password',
        postgresError('28P01', 'password authentication failed for user "shop"'),
        'password authentication failed for user "shop" (SQLSTATE 28P01)',
      ],
      [
        'no such role',
        postgresError('28000', 'role "shop" does not exist'),
        'role "shop" does not exist (SQLSTATE 28000)',
      ],
      [
        'a server starting up',
        postgresError('57P03', 'the database system is starting up'),
        'the database system is starting up (SQLSTATE 57P03)',
      ],
      [
        "a URL query parameter the server does not take as a setting (Prisma's ?schema=)",
        postgresError('42704', 'unrecognized configuration parameter "schema"'),
        'unrecognized configuration parameter "schema" (SQLSTATE 42704): a DATABASE_URL query parameter postgres.js does not know is sent to the server as a setting; remove it (Prisma\'s schema= is options=-c%20search_path%3D<schema> here, connection_limit= is DB_POOL_SIZE)',
      ],
      [
        'too many connections',
        postgresError('53300', 'sorry, too many clients already'),
        'sorry, too many clients already (SQLSTATE 53300)',
      ],
    ])('%s', (_kind, error, cause) => {
      expect(databaseConnectionProblem(config, error)).toBe(line(cause))
    })

    test('the password is cut out wherever the driver quoted it, as written in the URL and decoded', () => {
      const quoted = system('ECONNRESET', 'reset by postgres://shop:p%40ss-w0rd@db.internal, sent p@ss-w0rd')
      expect(databaseConnectionProblem(config, quoted)).toBe(
        line('ECONNRESET: reset by postgres://shop:[redacted]@db.internal, sent [redacted]'),
      )
    })

    test('anything else is not one: a bug, a refused migration, a statement error keep their stack', () => {
      expect(
        databaseConnectionProblem(config, new TypeError("Cannot read properties of undefined (reading 'x')")),
      ).toBeUndefined()
      expect(
        databaseConnectionProblem(config, new MigrationError('0004_x.sql', 'boom', undefined, {})),
      ).toBeUndefined()
      expect(
        databaseConnectionProblem(config, postgresError('42P01', 'relation "x" does not exist', 'ERROR')),
      ).toBeUndefined()
      // A class-28 or 08 code only counts when the server sent it.
      expect(databaseConnectionProblem(config, system('08006', 'made up'))).toBeUndefined()
      expect(databaseConnectionProblem(config, 'not an error')).toBeUndefined()
    })

    test('the embedded database: a DATA_DIR another process holds, and nothing else', () => {
      const embedded = { url: undefined, connectTimeoutMs: 3000 }
      const locked = new DataDirLockedError('DATA_DIR /srv/data is in use by process 7 (…)')
      expect(databaseConnectionProblem(embedded, locked)).toBe(
        'cannot open the embedded database: DATA_DIR /srv/data is in use by process 7 (…)',
      )
      expect(
        databaseConnectionProblem(embedded, system('ECONNREFUSED', 'connect ECONNREFUSED')),
      ).toBeUndefined()
    })
  })

  test('db:migrate says it in one line and exits 1', () => {
    const proc = Bun.spawnSync(['bun', 'src/db/migrate-cli.ts'], {
      cwd: join(import.meta.dir, '../..'),
      env: { ...process.env, DATABASE_URL: 'postgres://u:s3cret@127.0.0.1:1/x', LOG_LEVEL: 'silent' },
      stdout: 'pipe',
      stderr: 'pipe',
    })
    expect(proc.exitCode).toBe(1)
    const stderr = proc.stderr.toString()
    // The server's start-up line, word for word.
    expect(stderr).toStartWith(
      'db:migrate: cannot open the database: PostgreSQL at 127.0.0.1:1/x (DATABASE_URL): connect ECONNREFUSED 127.0.0.1:1; check that',
    )
    expect(stderr.trim().split('\n')).toHaveLength(1)
    expect(stderr).not.toContain('s3cret')
  })
})

describe('a migration the database refuses', () => {
  /** The committed migrations plus `0099_broken.sql`: a table, then a column on a table that does not exist. */
  function brokenMigrations(): string {
    const folder = mkdtempSync(join(tmpdir(), 'cc-migrations-'))
    cpSync(MIGRATIONS_FOLDER, folder, { recursive: true })
    const journalPath = join(folder, 'meta/_journal.json')
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: object[] }
    journal.entries.push({
      idx: journal.entries.length,
      version: '7',
      when: 4102444800000,
      tag: '0099_broken',
      breakpoints: true,
    })
    writeFileSync(journalPath, JSON.stringify(journal))
    writeFileSync(
      join(folder, '0099_broken.sql'),
      'CREATE TABLE "cc_broken_first" ("a" integer);\n--> statement-breakpoint\n-- the column the next release reads\nALTER TABLE "no_such_table"\n  ADD COLUMN "b" integer;',
    )
    return folder
  }

  test('fails naming the file, the reason and the statement, and applies none of the pending migrations', async () => {
    const folder = brokenMigrations()
    const dataDir = mkdtempSync(join(tmpdir(), 'cc-data-'))
    const name = `cc_test_${process.pid}_broken`
    let url: string | undefined
    if (usingPostgres()) {
      const u = new URL(POSTGRES_URL!)
      u.pathname = `/${name}`
      url = u.toString()
      const admin = postgres(POSTGRES_URL!, { max: 1, onnotice: () => {} })
      await admin.unsafe(`drop database if exists ${name}`)
      await admin.unsafe(`create database ${name}`)
      await admin.end()
    }
    const config = {
      url,
      dataDir,
      embeddedSharedBuffersMb: 16,
      poolSize: 1,
      connectTimeoutMs: 3000,
      healthTimeoutMs: 1000,
      pingIntervalMs: 10_000,
    }
    try {
      const error = await openMigratedDatabase(config, quiet, folder).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(MigrationError)
      expect((error as MigrationError).message).toBe(
        '0099_broken.sql: relation "no_such_table" does not exist, at ALTER TABLE "no_such_table" ADD COLUMN "b" integer;',
      )
      expect((error as MigrationError).file).toBe('0099_broken.sql')
      expect(databaseOpenProblem(config, error)).toBe(
        usingPostgres()
          ? `a migration did not apply to PostgreSQL at ${postgresTarget(url!)} (DATABASE_URL); none of the pending migrations was applied`
          : `a migration did not apply to the embedded database in DATA_DIR ${dataDir}; none of the pending migrations was applied`,
      )
      // Every pending migration ran in drizzle's one transaction: not one of their tables is left.
      const handle = url
        ? openPostgres({ url, poolSize: 1, connectTimeoutMs: 3000 }, quiet)
        : await openEmbedded({ dataDir }, quiet)
      try {
        const tables = rowsOf(
          await handle.db.execute(
            sql`select count(*)::int as n from information_schema.tables where table_schema = 'public'`,
          ),
        )
        expect(tables).toEqual([{ n: 0 }])
      } finally {
        await handle.close()
      }
    } finally {
      rmSync(folder, { recursive: true, force: true })
      rmSync(dataDir, { recursive: true, force: true })
      if (usingPostgres()) {
        const admin = postgres(POSTGRES_URL!, { max: 1, onnotice: () => {} })
        await admin.unsafe(`drop database if exists ${name} with (force)`)
        await admin.end()
      }
    }
  })
})
