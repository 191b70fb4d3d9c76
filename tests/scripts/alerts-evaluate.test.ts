import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
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
})
