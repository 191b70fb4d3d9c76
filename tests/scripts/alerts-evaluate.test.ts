import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, runToExit } from '../helpers/process.ts'

setDefaultTimeout(60_000)

const dataDir = mkdtempSync(join(tmpdir(), 'cc-alerts-evaluate-'))
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

describe('bun run alerts:evaluate --once', () => {
  test('against a PROMETHEUS_URL that does not answer, its last line says so, names the variable and the host, and it exits 1', async () => {
    const port = await freePort()
    const { code, stdout } = await runToExit(['bun', 'scripts/alerts-evaluate.ts', '--once'], {
      NODE_ENV: 'test',
      DATA_DIR: dataDir,
      DATABASE_URL: '',
      PROMETHEUS_URL: `http://user:secret@127.0.0.1:${port}`,
    })
    expect(code).toBe(1)
    const last = JSON.parse(stdout.trim().split('\n').at(-1)!) as { level: string; msg: string }
    expect(last.level).toBe('error')
    expect(last.msg).toContain(`rules failed at PROMETHEUS_URL (127.0.0.1:${port})`)
    expect(last.msg).toContain('Prometheus unreachable')
    expect(last.msg).toContain('check that Prometheus answers there')
    expect(stdout).not.toContain('secret')
  })
  test('with ALERTS_ENABLED=false it says so in one line and exits 2, without a stack trace', async () => {
    const { code, stdout, stderr } = await runToExit(['bun', 'scripts/alerts-evaluate.ts', '--once'], {
      NODE_ENV: 'test',
      DATA_DIR: dataDir,
      ALERTS_ENABLED: 'false',
      PROMETHEUS_URL: 'http://127.0.0.1:9',
    })
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toBe(
      'alerts:evaluate --once: ALERTS_ENABLED=false turns the rule manager off; unset it to evaluate\n',
    )
  })
  test('a DATA_DIR a running service holds is one line on stderr naming the holder, exit 1, no stack', async () => {
    const held = mkdtempSync(join(tmpdir(), 'cc-alerts-evaluate-held-'))
    try {
      // This test process is alive and is not the script: its PID in the lock file holds the folder.
      writeFileSync(join(held, 'lock'), String(process.pid))
      const { code, stdout, stderr } = await runToExit(['bun', 'scripts/alerts-evaluate.ts', '--once'], {
        NODE_ENV: 'test',
        DATA_DIR: held,
        DATABASE_URL: '',
        PROMETHEUS_URL: 'http://127.0.0.1:9',
      })
      expect({ code, stdout, stderr }).toEqual({
        code: 1,
        stdout: '',
        stderr: `alerts:evaluate: cannot open the embedded database: DATA_DIR ${held} is in use by process ${process.pid} (another \`bun run dev\` or \`bun run start\`?); the embedded database allows one process: stop that one, set DATA_DIR to another folder, or set DATABASE_URL to share PostgreSQL\n`,
      })
    } finally {
      rmSync(held, { recursive: true, force: true })
    }
  })

  test('a DATABASE_URL nothing answers at is one line without the password, exit 1, no stack', async () => {
    const port = await freePort()
    const { code, stdout, stderr } = await runToExit(['bun', 'scripts/alerts-evaluate.ts', '--once'], {
      NODE_ENV: 'test',
      DATABASE_URL: `postgres://shop:hunter2-secret@127.0.0.1:${port}/shop`,
      PROMETHEUS_URL: 'http://127.0.0.1:9',
    })
    expect({ code, stdout, lines: stderr.split('\n') }).toEqual({
      code: 1,
      stdout: '',
      lines: [
        `alerts:evaluate: cannot open the database: PostgreSQL at 127.0.0.1:${port}/shop (DATABASE_URL): connect ECONNREFUSED 127.0.0.1:${port}; check that it is running and reachable and that the URL's host, port, user, password and database are right, or unset DATABASE_URL for the embedded database`,
        '',
      ],
    })
  })
})
