/**
 * `bun run demo:incident` against a real development server (`NODE_ENV=development`, as
 * `bun run dev` starts it, without watch mode): the script finds the demo tenant's key and
 * the generated admin token in DATA_DIR, drives failing payments until HighErrorRate fires,
 * and prints the alert from GET /alerts and the WhatsApp message the log transport wrote.
 * The rule is the shipped HighErrorRate with a 15 s window and `for: 2s` so that the test
 * waits seconds, not minutes; everything else is what a newcomer runs.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { freePort } from '../helpers/process.ts'
import { repoPath } from '../ops/ops-files.ts'

setDefaultTimeout(150_000)

const cleanups: Array<() => Promise<void> | void> = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

/** Collects a stream's text as it arrives. */
function collect(stream: ReadableStream<Uint8Array>) {
  const chunks: string[] = []
  const done = (async () => {
    const decoder = new TextDecoder()
    const reader = stream.getReader()
    for (let read = await reader.read(); !read.done; read = await reader.read())
      chunks.push(decoder.decode(read.value, { stream: true }))
  })()
  return { text: () => chunks.join(''), done }
}

describe('bun run demo:incident', () => {
  test('fires HighErrorRate on a development server and prints the alert and its WhatsApp message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-incident-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const shipped = parseYaml(readFileSync(repoPath('ops/prometheus/rules/alerts.yml'), 'utf8')) as {
      groups: Array<{ name: string; rules: Array<{ alert?: string; expr: string; for?: string }> }>
    }
    const rules = shipped.groups[0]!.rules.map((rule) =>
      rule.alert === 'HighErrorRate'
        ? { ...rule, expr: rule.expr.replaceAll('[5m]', '[15s]'), for: '2s' }
        : rule,
    )
    const rulesFile = join(dir, 'rules.yml')
    writeFileSync(rulesFile, toYaml({ groups: [{ name: shipped.groups[0]!.name, interval: '1s', rules }] }))

    const port = await freePort()
    const dataDir = join(dir, 'data')
    const env = { ...process.env, PORT: String(port), DATA_DIR: dataDir, DATABASE_URL: '' }
    delete (env as Record<string, string | undefined>).ADMIN_TOKEN
    const server = Bun.spawn(['bun', 'src/server.ts'], {
      env: {
        ...env,
        NODE_ENV: 'development',
        HOST: '127.0.0.1',
        SANDBOX_LATENCY_MS: '0',
        ALERT_RULES_FILES: rulesFile,
        ALERT_SAMPLE_INTERVAL: '1s',
        ALERT_NOTIFY_INTERVAL: '500ms',
      },
      stdout: 'pipe',
      stderr: 'pipe',
    })
    cleanups.push(async () => {
      if (server.exitCode === null) server.kill('SIGKILL')
      await server.exited
    })
    const serverOut = collect(server.stdout)
    for (let i = 0; i < 600 && !serverOut.text().includes('bun run demo:incident'); i++) await Bun.sleep(100)
    expect(serverOut.text()).toContain(`PORT=${port} bun run demo:incident`)

    const script = Bun.spawn(['bun', 'scripts/demo-incident.ts', '--timeout', '2'], {
      env,
      stdout: 'pipe',
      stderr: 'pipe',
    })
    const [stdout, stderr, code] = await Promise.all([
      new Response(script.stdout).text(),
      new Response(script.stderr).text(),
      script.exited,
    ])
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
    expect(stdout).toMatch(/HighErrorRate is pending/)
    expect(stdout).toMatch(/HighErrorRate fired after \d+:\d\d\. GET \/alerts reports:/)
    const alertJson = stdout.slice(stdout.indexOf('{'), stdout.indexOf('\n}\n') + 2)
    const alert = JSON.parse(alertJson) as { labels: Record<string, string>; state: string }
    expect(alert.state).toBe('firing')
    expect(alert.labels).toEqual({ alertname: 'HighErrorRate', severity: 'critical' })
    expect(stdout).toMatch(/The WhatsApp message the log transport wrote \(to …\d{4}, at /)
    expect(stdout).toContain('  │ 🔔 *CRITICAL ALERT*: HighErrorRate')
    expect(stdout).toMatch(
      /Done in \d+:\d\d\. HighErrorRate resolves by itself a few minutes after the failures stop, and a resolved message follows\./,
    )

    // In the server's pretty log the message stands out: framed, whole, one line per request around it.
    await Bun.sleep(500)
    const log = Bun.stripANSI(serverOut.text())
    expect(log).toContain('📱 WhatsApp message (log transport, not sent) → …')
    expect(log).toContain('┃ 🔔 *CRITICAL ALERT*: HighErrorRate')
    const requestLine = log.split('\n').find((line) => line.includes('INFO: request {'))
    expect(requestLine).toMatch(/"route":"[^"]+","status":\d{3}/)

    server.kill('SIGTERM')
    expect(await server.exited).toBe(0)
  })
})
