/**
 * Alerts with no Prometheus server: the service samples its own metrics, the embedded engine
 * evaluates the shipped HighErrorRate (a copy with a 15 s window and `for: 2s`, so a test can
 * wait for it), GET /alerts shows it firing, and the WhatsApp log transport writes the
 * message. Traffic comes from the project's traffic generator with a high tok_error share.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { drive, prepareTraffic } from '../../scripts/lib/traffic.ts'
import { ADMIN_TOKEN } from '../helpers/app.ts'
import { startServer } from '../helpers/process.ts'
import { repoPath } from '../ops/ops-files.ts'

setDefaultTimeout(90_000)

const cleanups: Array<() => Promise<void> | void> = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

describe('alerts without a Prometheus server', () => {
  test('tok_error traffic → HighErrorRate firing at GET /alerts and a WhatsApp message in the log transport', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-embedded-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const shipped = parseYaml(readFileSync(repoPath('ops/prometheus/rules/alerts.yml'), 'utf8')) as {
      groups: Array<{ name: string; rules: Array<{ alert?: string; expr: string; for?: string }> }>
    }
    const rules = shipped.groups[0]!.rules.map((rule) =>
      rule.alert === 'HighErrorRate'
        ? { ...rule, expr: rule.expr.replaceAll('[5m]', '[15s]'), for: '2s' }
        : rule,
    )
    const file = join(dir, 'rules.yml')
    writeFileSync(file, toYaml({ groups: [{ name: shipped.groups[0]!.name, interval: '1s', rules }] }))

    const server = await startServer({
      ADMIN_TOKEN,
      SANDBOX_LATENCY_MS: '0',
      ALERTS_ENABLED: 'true',
      ALERT_RULES_FILES: file,
      ALERT_SAMPLE_INTERVAL: '1s',
      ALERT_NOTIFY_INTERVAL: '500ms',
      ALERT_PHONES: '+254700000077',
    })
    cleanups.push(() => server.cleanup())

    const tenant = (await (
      await fetch(`${server.url}/tenants`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Embedded', ownerPhone: '+254711000800' }),
      })
    ).json()) as { apiKey: string }
    const traffic = await prepareTraffic({
      base: server.url,
      apiKey: tenant.apiKey,
      seed: 3,
      errorShare: 0.9,
    })
    await drive(traffic.oneAction, 40, 6000)

    const alerts = async () =>
      (await (
        await fetch(`${server.url}/alerts`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
      ).json()) as {
        data: {
          alerts: Array<{
            labels: Record<string, string>
            state: string
            annotations: Record<string, string>
          }>
        }
      }
    let firing: { labels: Record<string, string>; annotations: Record<string, string> } | undefined
    for (let i = 0; i < 60 && !firing; i++) {
      firing = (await alerts()).data.alerts.find(
        (a) => a.labels.alertname === 'HighErrorRate' && a.state === 'firing',
      )
      if (!firing) await Bun.sleep(500)
    }
    expect(firing?.labels).toEqual({ alertname: 'HighErrorRate', severity: 'critical' })
    expect(firing?.annotations.description).toMatch(
      /^\d+(\.\d+)?% of HTTP requests were answered with a 5xx status/,
    )

    const rules2 = (await (
      await fetch(`${server.url}/alerts/rules`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    ).json()) as {
      data: { groups: Array<{ rules: Array<{ name: string; health: string }> }> }
    }
    const health = Object.fromEntries(rules2.data.groups[0]!.rules.map((r) => [r.name, r.health]))
    expect(health.ServiceDown).toBe('skipped')
    expect(health.HighErrorRate).toBe('ok')
    for (const [name, h] of Object.entries(health))
      if (name !== 'ServiceDown') expect({ name, h }).toEqual({ name, h: 'ok' })

    let message: Record<string, unknown> | undefined
    for (let i = 0; i < 20 && !message; i++) {
      message = server.lines.find(
        (l) => l.transport === 'log' && String(l.message).startsWith('🔔 *CRITICAL ALERT*: HighErrorRate'),
      )
      if (!message) await Bun.sleep(500)
    }
    expect(message).toMatchObject({
      recipientMasked: '…0077',
      msg: 'WhatsApp message (log transport, not sent)',
    })
  })
})
