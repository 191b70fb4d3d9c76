import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { createSender } from '../../../src/alerting/notify/sender.ts'
import type { WhatsAppTransport } from '../../../src/alerting/whatsapp/client.ts'
import { alertOutbox } from '../../../src/db/schema.ts'
import {
  alertingFor,
  alertTestContext,
  firing,
  manualClock,
  recordingAlertMetrics,
} from '../../helpers/alerts.ts'
import { captureLogs } from '../../helpers/logs.ts'

setDefaultTimeout(30_000)

const ctx = alertTestContext()
const LEASE_MS = 60_000

/** A sender replica on the shared database, whose transport runs `during` inside each send. */
function replica(
  clock: ReturnType<typeof manualClock>,
  name: string,
  sends: string[],
  during: (to: string) => Promise<void> = async () => {},
) {
  const transport: WhatsAppTransport = {
    kind: 'cloud-api',
    async send(to) {
      sends.push(`${name}:${to}`)
      await during(to)
      return `wamid.${name}.${sends.length}`
    },
  }
  return createSender({
    db: ctx.database.db,
    transport,
    clock,
    log: captureLogs().log,
    metrics: recordingAlertMetrics().metrics,
    config: {
      templates: { firing: undefined, resolved: undefined, language: 'en' },
      retryBaseMs: 1000,
      maxAttempts: 8,
      leaseMs: LEASE_MS,
      messagesPerSecond: 100,
      messagesPerTick: 100,
    },
    random: () => 1,
    sleep: async () => {},
  })
}

describe('sending lease', () => {
  test('a tick slower than the lease: a group another replica took over is not sent again, and the group being sent is not taken over', async () => {
    // Four recipients, so one tick holds four groups (one message each).
    const phones = ['+254700000001', '+254700000002', '+254700000003', '+254700000004']
    const { alerting, clock } = alertingFor(ctx.database, undefined, { ALERT_PHONES: phones.join(',') })
    await alerting.dispatcher.ingest([firing('HighErrorRate')], 'test')
    expect(await ctx.database.db.select().from(alertOutbox)).toHaveLength(4)
    const sends: string[] = []
    const b = replica(clock, 'b', sends)
    let bOutcome: Record<string, number> | undefined
    // Each Cloud API call of replica a takes 25 s (within WHATSAPP_TIMEOUT_MS=30000): its tick
    // outlives the 60 s lease taken at the claim. During its third call (t = 50 s → 75 s)
    // replica b ticks.
    const a = replica(clock, 'a', sends, async () => {
      clock.advance(25_000)
      if (sends.length === 3) bOutcome = await b.sendDue()
    })
    const aOutcome = await a.sendDue()
    // b took over the fourth group, which a had not started (its lease expired at 60 s), and
    // left the third, which a was sending, alone; a then skipped the fourth.
    expect(bOutcome).toEqual({ sent: 1, failed: 0, retry: 0 })
    expect(aOutcome).toEqual({ sent: 3, failed: 0, retry: 0 })
    expect(sends).toEqual(['a:254700000001', 'a:254700000002', 'a:254700000003', 'b:254700000004'])
    const rows = await ctx.database.db.select().from(alertOutbox).orderBy(alertOutbox.recipient)
    // The fourth was claimed twice (a's tick, then b's), and sent once.
    expect(rows.map((r) => [r.recipient, r.status, r.attempts])).toEqual([
      ['254700000001', 'sent', 1],
      ['254700000002', 'sent', 1],
      ['254700000003', 'sent', 1],
      ['254700000004', 'sent', 2],
    ])
  })

  test('a group of which another sender took some rows is not sent; the rows it still holds wait for the next tick', async () => {
    const clock = manualClock()
    const reply = (recipient: string, n: number) => ({
      dedupeKey: `reply|${recipient}|${n}`,
      recipient,
      fingerprint: '-',
      alertname: 'reply',
      severity: 'info',
      transition: 'reply',
      content: { text: `reply ${n}` },
      nextAttemptAt: clock.now(),
      createdAt: new Date(clock.now().getTime() - 10_000 + n),
    })
    await ctx.database.db
      .insert(alertOutbox)
      .values([reply('254700000001', 0), reply('254700000002', 1), reply('254700000002', 2)])
    const sends: string[] = []
    const taken = crypto.randomUUID()
    // While the first group is sent, another sender takes one of the second group's two rows.
    const a = replica(clock, 'a', sends, async (to) => {
      if (to !== '254700000001') return
      await ctx.database.db
        .update(alertOutbox)
        .set({ groupId: taken })
        .where(eq(alertOutbox.dedupeKey, 'reply|254700000002|2'))
    })
    expect(await a.sendDue()).toEqual({ sent: 1, failed: 0, retry: 0 })
    expect(sends).toEqual(['a:254700000001'])
    const rows = await ctx.database.db.select().from(alertOutbox).orderBy(alertOutbox.dedupeKey)
    expect(rows.map((r) => [r.dedupeKey, r.status, r.attempts, r.groupId === taken])).toEqual([
      ['reply|254700000001|0', 'sent', 1, false],
      ['reply|254700000002|1', 'pending', 0, false],
      ['reply|254700000002|2', 'sending', 1, true],
    ])
  })
})
