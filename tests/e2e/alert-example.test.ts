/**
 * Issue #19, done when: "an alert's WhatsApp message carries an example request id that
 * appears in the access log of a failing request". The real server, no Prometheus: failing
 * payments (the sandbox's tok_error: provider error, 502) make the embedded engine's
 * HighErrorRate fire (a copy of the shipped rule with a 15 s window and `for: 2s`), and the
 * message the fake Cloud API receives names one request of those failures, with its trace link.
 *
 * The same through Debian's Prometheus (exemplar storage on, PROMETHEUS_URL pointing at it,
 * the example then from query_exemplars) is part of tests/e2e/prometheus.test.ts, which
 * already runs that server and Prometheus pair.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { drive, prepareTraffic } from '../../scripts/lib/traffic.ts'
import { ADMIN_TOKEN } from '../helpers/app.ts'
import { startServer } from '../helpers/process.ts'
import { startWhatsAppFake } from '../helpers/whatsapp-fake.ts'
import { repoPath } from '../ops/ops-files.ts'

setDefaultTimeout(120_000)

const TRACE_BASE_URL = 'https://acme.sentry.io/performance/trace/'
const cleanups: Array<() => Promise<void> | void> = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

/** The shipped HighErrorRate with a 15 s window and `for: 2s`, alone in a rule file in `dir`. */
function fastHighErrorRate(dir: string): string {
  const shipped = parseYaml(readFileSync(repoPath('ops/prometheus/rules/alerts.yml'), 'utf8')) as {
    groups: Array<{ name: string; rules: Array<{ alert?: string; expr: string; for?: string }> }>
  }
  const rule = shipped.groups[0]!.rules.find((r) => r.alert === 'HighErrorRate')!
  const file = join(dir, 'rules.yml')
  writeFileSync(
    file,
    toYaml({
      groups: [
        {
          name: 'example',
          interval: '1s',
          rules: [{ ...rule, expr: rule.expr.replaceAll('[5m]', '[15s]'), for: '2s' }],
        },
      ],
    }),
  )
  return file
}

/**
 * Starts the service, sends traffic with 90 % provider failures until HighErrorRate's message
 * reaches the fake Cloud API, and checks that its example request is a failing request of the
 * access log, trace id included.
 */
async function failingRequestIsTheExample() {
  const dir = mkdtempSync(join(tmpdir(), 'cc-alert-example-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const rules = fastHighErrorRate(dir)
  const whatsapp = startWhatsAppFake()
  cleanups.push(() => whatsapp.stop())
  const server = await startServer({
    ADMIN_TOKEN,
    SANDBOX_LATENCY_MS: '0',
    ALERTS_ENABLED: 'true',
    ALERT_RULES_FILES: rules,
    ALERT_SAMPLE_INTERVAL: '1s',
    ALERT_EVAL_INTERVAL: '1s',
    ALERT_NOTIFY_INTERVAL: '500ms',
    ALERT_PHONES: '+254700000078',
    WHATSAPP_API_BASE: whatsapp.url,
    WHATSAPP_PHONE_NUMBER_ID: '106540352242922',
    WHATSAPP_ACCESS_TOKEN: 'EAAG-e2e-token-secret',
    TRACE_BASE_URL,
  })
  cleanups.push(() => server.cleanup())

  const tenant = (await (
    await fetch(`${server.url}/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Example', ownerPhone: '+254711000801' }),
    })
  ).json()) as { apiKey: string }
  const traffic = await prepareTraffic({ base: server.url, apiKey: tenant.apiKey, seed: 5, errorShare: 0.9 })
  await drive(traffic.oneAction, 40, 6000)

  let body: string | undefined
  for (let i = 0; i < 60 && !body; i++) {
    body = whatsapp.requests
      .map((r) => (r.body.text as { body: string } | undefined)?.body)
      .find((text) => text?.startsWith('🔔 *CRITICAL ALERT*: HighErrorRate'))
    if (!body) await Bun.sleep(500)
  }
  // Fails here, showing the message, while the HTTP counters carry no exemplars.
  expect(body).toMatch(new RegExp(`\nExample request: \\S+\nTrace: ${TRACE_BASE_URL}[0-9a-f]{32}\n`))
  const requestId = /\nExample request: (\S+)\n/.exec(body!)![1]
  const traceId = /\nTrace: \S+\/([0-9a-f]{32})\n/.exec(body!)![1]
  const accessLines = server.lines.filter((l) => l.msg === 'request' && l.requestId === requestId)
  expect(accessLines).toHaveLength(1)
  expect(Number(accessLines[0]!.status)).toBeGreaterThanOrEqual(500)
  expect(accessLines[0]!.trace_id).toBe(traceId)
}

describe('an alert names an example request', () => {
  test('embedded engine: the HighErrorRate message names a failing request of the access log, with its trace link', async () => {
    await failingRequestIsTheExample()
  })
})
