import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createLogger } from '../../src/core/logger.ts'
import { openEmbedded } from '../../src/db/embedded.ts'
import { openPostgres } from '../../src/db/postgres.ts'
import { alertOutbox } from '../../src/db/schema.ts'
import { ONE_CRITICAL_NOTIFICATION } from '../helpers/alerts.ts'
import { ADMIN_TOKEN } from '../helpers/app.ts'
import { createServerData, type ServerData, startServer } from '../helpers/process.ts'
import { startWhatsAppFake } from '../helpers/whatsapp-fake.ts'

// Two real processes and a sending lease to wait out.
setDefaultTimeout(60_000)

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const TOKEN = 'crash-alertmanager-token'

/** The database the processes used, opened by the test once they are gone. */
function openData(data: ServerData) {
  const quiet = createLogger({ level: 'silent', pretty: false })
  return data.databaseUrl
    ? openPostgres({ url: data.databaseUrl, poolSize: 1, connectTimeoutMs: 3000 }, quiet)
    : openEmbedded({ dataDir: data.dataDir }, quiet)
}

describe('a crash during the WhatsApp call (real processes, SIGKILL)', () => {
  test('the call held open at the kill: after the lease the restarted process sends it exactly once more', async () => {
    const fake = startWhatsAppFake()
    cleanups.push(() => fake.stop())
    const data = await createServerData()
    cleanups.push(() => data.cleanup())
    const env = {
      ADMIN_TOKEN,
      ALERT_PHONES: '+254700000009',
      ALERTMANAGER_WEBHOOK_TOKEN: TOKEN,
      WHATSAPP_API_BASE: fake.url,
      WHATSAPP_PHONE_NUMBER_ID: '1065',
      WHATSAPP_ACCESS_TOKEN: 'crash-token',
      WHATSAPP_TIMEOUT_MS: '1000',
      ALERT_NOTIFY_INTERVAL: '100ms',
      ALERT_SEND_LEASE: '3s', // the least the config allows: the call's 1 s timeout plus 2 s
    }
    fake.answer({ kind: 'delay', ms: 900 }) // holds the first call, within its timeout
    const first = await startServer(env, data)
    cleanups.push(() => first.cleanup())
    const res = await fetch(`${first.url}/alerts/alertmanager`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(ONE_CRITICAL_NOTIFICATION),
    })
    expect(res.status).toBe(200)
    for (let i = 0; i < 200 && fake.requests.length === 0; i++) await Bun.sleep(10)
    expect(fake.requests).toHaveLength(1)
    first.proc.kill('SIGKILL')
    await first.exited
    const killedAt = performance.now()

    const second = await startServer(env, data)
    cleanups.push(() => second.cleanup())
    for (let i = 0; i < 400 && fake.requests.length === 1; i++) await Bun.sleep(25)
    const resentAfterMs = performance.now() - killedAt
    await Bun.sleep(1000) // enough ticks for a duplicate to show up
    expect(fake.requests.map((r) => r.body.to)).toEqual(['254700000009', '254700000009'])
    // Not before the lease: the first process might still have been in its call.
    expect(resentAfterMs).toBeGreaterThan(1500)
    second.proc.kill('SIGTERM')
    await second.exited

    const db = await openData(data)
    try {
      const rows = await db.db.select().from(alertOutbox)
      // The fake answered the held call (wamid.1) to a dead process: the one duplicate the
      // README owns, a call whose answer never reached us. The row records the second.
      expect(rows.map((r) => [r.recipient, r.status, r.attempts, r.waMessageId])).toEqual([
        ['254700000009', 'sent', 2, 'wamid.2'],
      ])
    } finally {
      await db.close()
    }
  })
})
