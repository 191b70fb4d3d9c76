import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createServerData, REPO_ROOT, startServer } from '../helpers/process.ts'

// Starts real processes: well over bun's 5 s default.
setDefaultTimeout(60_000)

describe('start-up failures (real process)', () => {
  test('a port already in use: one fatal line naming it, exit 1, and the data folder free again', async () => {
    const holder = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('taken') })
    const data = await createServerData()
    try {
      const start = () =>
        Bun.spawnSync(['bun', 'src/server.ts'], {
          cwd: REPO_ROOT,
          env: {
            ...process.env,
            NODE_ENV: 'production',
            PORT: String(holder.port),
            HOST: '127.0.0.1',
            DATA_DIR: data.dataDir,
            DATABASE_URL: data.databaseUrl,
            LOG_LEVEL: 'info',
          },
          stdout: 'pipe',
          stderr: 'pipe',
        })
      // Twice: the second start finds the data folder unlocked, so the first released it.
      for (const attempt of [1, 2]) {
        const proc = start()
        const lines = proc.stdout
          .toString()
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as { level: string; msg: string })
        expect({ attempt, exitCode: proc.exitCode, stderr: proc.stderr.toString() }).toEqual({
          attempt,
          exitCode: 1,
          stderr: '',
        })
        expect(lines.filter((line) => line.level === 'fatal' || line.level === 'error')).toEqual([
          expect.objectContaining({
            level: 'fatal',
            msg: `cannot listen on 127.0.0.1:${holder.port}: the port is in use (set PORT to a free one)`,
          }),
        ])
      }
    } finally {
      holder.stop(true)
      await data.cleanup()
    }
  })

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
