import { expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify as toYaml } from 'yaml'
import { freePort, waitFor } from './process.ts'
import { skipTest } from './skips.ts'

/**
 * A test that needs one of Debian's Prometheus binaries. It runs when the binary is on PATH;
 * otherwise it is skipped with a message naming the binary, unless REQUIRE_OPS_TOOLS=1 (CI),
 * where a missing binary fails the test.
 */
export function testWithBinary(
  binary: string,
  name: string,
  fn: (path: string) => Promise<void>,
  timeout?: number,
) {
  const path = Bun.which(binary)
  if (path) return test(name, () => fn(path), timeout)
  const install = `apt-get update && apt-get install -y prometheus`
  if (process.env.REQUIRE_OPS_TOOLS === '1') {
    return test(name, () => {
      throw new Error(`${binary} is not on PATH (${install}); REQUIRE_OPS_TOOLS=1 makes this a failure`)
    })
  }
  return skipTest(name, `${binary} is not on PATH (${install})`)
}

/** Something a test undoes after it: stops a process, removes a folder. */
export type Cleanup = () => Promise<void> | void

/**
 * Starts the real Alertmanager (`prometheus-alertmanager`, single node) on a free port of
 * 127.0.0.1 with `config` (written as alertmanager.yml in a folder of its own), and resolves once
 * its `/-/ready` answers. Pushes onto `cleanups` what stops it (SIGTERM, by its PID) and removes
 * the folder. Throws when it is not ready within 20 s.
 * @returns its base URL (`http://127.0.0.1:<port>`)
 */
export async function startAlertmanager(config: unknown, cleanups: Cleanup[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'cc-alertmanager-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'alertmanager.yml'), toYaml(config))
  const port = await freePort()
  const proc = Bun.spawn(
    [
      'prometheus-alertmanager',
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ],
    { stdout: 'ignore', stderr: 'ignore' },
  )
  cleanups.push(async () => {
    proc.kill('SIGTERM')
    await proc.exited
  })
  const api = `http://127.0.0.1:${port}`
  await waitFor(
    'Alertmanager to be ready',
    async () => ((await fetch(`${api}/-/ready`)).ok ? true : undefined),
    20_000,
  )
  return api
}

/**
 * Starts the real Alertmanager (startAlertmanager) with one receiver, `app`: a webhook to the
 * service's `/alerts/alertmanager` on `receiverPort` of 127.0.0.1 with `token` as its bearer
 * credential and `send_resolved`, plus `webhook`'s settings (`max_alerts`); `route` is the
 * route's timing and grouping. Resolves with its base URL and `postAlerts`, which posts alerts
 * to its API v2 and expects a 200.
 */
export async function startAlertmanagerForApp(
  options: {
    receiverPort: number | undefined
    token: string
    route: Record<string, unknown>
    webhook?: Record<string, unknown>
  },
  cleanups: Cleanup[],
): Promise<{ api: string; postAlerts(alerts: unknown[]): Promise<void> }> {
  const config = {
    route: { receiver: 'app', ...options.route },
    receivers: [
      {
        name: 'app',
        webhook_configs: [
          {
            url: `http://127.0.0.1:${options.receiverPort}/alerts/alertmanager`,
            send_resolved: true,
            http_config: { authorization: { type: 'Bearer', credentials: options.token } },
            ...options.webhook,
          },
        ],
      },
    ],
  }
  const api = await startAlertmanager(config, cleanups)
  const postAlerts = async (alerts: unknown[]) => {
    const posted = await fetch(`${api}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alerts),
    })
    expect(posted.status).toBe(200)
  }
  return { api, postAlerts }
}
