/**
 * `bun run demo:incident` against a real development server (`NODE_ENV=development`, as
 * `bun run dev` starts it, without watch mode): the script finds the demo tenant's key and
 * the generated admin token in DATA_DIR, drives failing payments until an alert it announced
 * fires, and prints the alert from GET /alerts, the others firing beside it and the WhatsApp
 * message the log transport wrote. The rules are the shipped ones, sped up (HighErrorRate with a
 * 15 s window and `for: 2s`, the SLO rules evaluated every second) so that a test waits
 * seconds, not minutes; everything else is what a newcomer runs.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { DEMO_PHONE } from '../../src/config.ts'
import { freePort, runToExit } from '../helpers/process.ts'
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

interface RuleFile {
  groups: Array<{
    name: string
    interval?: string
    rules: Array<{ alert?: string; record?: string; expr: string; for?: string }>
  }>
}
const shippedRules = (file: string) => parseYaml(readFileSync(repoPath(file), 'utf8')) as RuleFile

/**
 * Starts `bun src/server.ts` as `bun run dev` does, in a fresh DATA_DIR, with `rules` as its
 * only rule file, and returns how to run demo:incident against it.
 */
async function devServer(rules: RuleFile) {
  const dir = mkdtempSync(join(tmpdir(), 'cc-incident-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const rulesFile = join(dir, 'rules.yml')
  writeFileSync(rulesFile, toYaml(rules))

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

  const incident = async () => {
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
    return { stdout, stderr, code }
  }
  return { server, serverOut, incident, port }
}

/** The alert the script prints as GET /alerts reports it. */
const printedAlert = (stdout: string) =>
  JSON.parse(stdout.slice(stdout.indexOf('{'), stdout.indexOf('\n}\n') + 2)) as {
    labels: Record<string, string>
    annotations: Record<string, string>
    state: string
    value: string
  }

describe('bun run demo:incident', () => {
  test('with nothing listening on PORT it exits 2 with one line that also says to give the port', async () => {
    const port = await freePort()
    // Key and token given: a clean checkout has no .data to read them from.
    const { code, stdout, stderr } = await runToExit(['bun', 'scripts/demo-incident.ts'], {
      PORT: String(port),
      API_KEY: 'ck_unused',
      ADMIN_TOKEN: 'admin-unused',
    })
    expect(code).toBe(2)
    expect(stdout).toBe('')
    const lines = stderr.trim().split('\n')
    expect(lines.length).toBe(1)
    expect(lines[0]).toStartWith(`demo:incident: nothing answered at http://localhost:${port} (`)
    // A server started on another port (PORT=3901 bun run dev) is the usual cause, not a missing one.
    expect(lines[0]).toEndWith('; start `bun run dev` first, or give its port (PORT=…) or --url')
  })

  test('fires HighErrorRate on a development server and prints the alert and its WhatsApp message', async () => {
    const shipped = shippedRules('ops/prometheus/rules/alerts.yml')
    const rules = shipped.groups[0]!.rules.map((rule) =>
      rule.alert === 'HighErrorRate'
        ? { ...rule, expr: rule.expr.replaceAll('[5m]', '[15s]'), for: '2s' }
        : rule,
    )
    const { server, serverOut, incident, port } = await devServer({
      groups: [{ name: shipped.groups[0]!.name, interval: '1s', rules }],
    })
    const { stdout, stderr, code } = await incident()
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
    // Without the SLO rules loaded, it announces only HighErrorRate, and waits for it.
    expect(stdout).toContain(
      `driving failing payments at http://localhost:${port} until this fires: HighErrorRate (more than 5% of ` +
        'requests answered 5xx for 2 seconds: about 3 minutes with the shipped rule); at most 2 minutes. ' +
        'Other alerts the failures set off on the way (ApiAvailabilityBudgetBurn: they are 5xx) are listed too.\n',
    )
    expect(stdout).toMatch(/HighErrorRate is pending \(critical, active since /)
    expect(stdout).toMatch(/HighErrorRate fired after \d+:\d\d\. GET \/alerts reports:/)
    const alert = printedAlert(stdout)
    expect(alert.state).toBe('firing')
    expect(alert.labels).toEqual({ alertname: 'HighErrorRate', severity: 'critical' })
    expect(stdout).not.toContain('Also firing now')
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
    // The demo on-call number is a phone number like any other: its last four digits only.
    expect(log).toContain(
      'development: ALERT_PHONES unset, on-call alerts go to the demo number (log transport) {"oncall":"…0000"}',
    )
    expect(log).not.toContain(DEMO_PHONE.slice(1))

    server.kill('SIGTERM')
    expect(await server.exited).toBe(0)
  })

  // The finding: on a fresh start it announced PaymentSuccessBudgetBurn, then reported
  // ApiAvailabilityBudgetBurn, which fires an evaluation earlier (its requests were counted
  // before the first payment was), with "-59900 % left" in its text.
  test('on a fresh start reports the SLO page it announced, lists the alerts that fired beside it, and says how many times over the budget goes', async () => {
    // The shipped SLO rules of the two SLOs the failures burn, evaluated every second instead
    // of every 30 s, and the shipped HighErrorRate, which needs minutes.
    const slo = shippedRules('ops/prometheus/rules/slo.yml')
    const alerts = shippedRules('ops/prometheus/rules/alerts.yml')
    const groups = slo.groups
      .filter((g) => /-(api-availability|payment-success)$/.test(g.name))
      .map((g) => ({ ...g, interval: '1s' }))
    const { server, incident, port } = await devServer({ groups: [...groups, alerts.groups[0]!] })
    const { stdout, stderr, code } = await incident()
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
    expect(stdout).toContain(
      `driving failing payments at http://localhost:${port} until one of these fires: PaymentSuccessBudgetBurn ` +
        "(the payment-success SLO's burn-rate page: within a minute on a fresh start), or HighErrorRate (more than " +
        '5% of requests answered 5xx for 2 minutes: about 3 minutes with the shipped rule); at most 2 minutes. ' +
        'Other alerts the failures set off on the way (ApiAvailabilityBudgetBurn: they are 5xx) are listed too.\n',
    )
    expect(stdout).toMatch(/PaymentSuccessBudgetBurn fired after \d+:\d\d\. GET \/alerts reports:/)
    const alert = printedAlert(stdout)
    expect(alert.labels).toEqual({
      alertname: 'PaymentSuccessBudgetBurn',
      category: 'payments',
      severity: 'critical',
      sloth_id: 'convo-commerce-payment-success',
      sloth_service: 'convo-commerce',
      sloth_severity: 'page',
      sloth_slo: 'payment-success',
      team: 'shop-platform',
    })
    // The value is the budget left in percent, hugely negative after seconds of failures; the
    // text gives the same figure as how many times over the month would spend the budget,
    // through the embedded engine's template `query`.
    const timesOver =
      /this month's budget is overspent: at the error ratio recorded so far, the month would spend it (\d+) times over \(30-day SLO convo-commerce-payment-success\)\.$/.exec(
        alert.annotations.description ?? '',
      )
    expect(timesOver).not.toBeNull()
    expect(Number(timesOver![1])).toBe(Math.round(1 - Number(alert.value) / 100))
    expect(stdout).toContain(
      'Also firing now: PaymentSuccessBudgetBurn (warning), ApiAvailabilityBudgetBurn (critical), ApiAvailabilityBudgetBurn (warning).\n',
    )
    expect(stdout).toContain('  │ 🔔 *CRITICAL ALERT*: PaymentSuccessBudgetBurn')
    expect(stdout).toMatch(
      /Done in \d+:\d\d\. PaymentSuccessBudgetBurn resolves by itself once its short window/,
    )

    server.kill('SIGTERM')
    expect(await server.exited).toBe(0)
  })
})
