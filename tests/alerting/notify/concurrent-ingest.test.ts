import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { alertOutbox } from '../../../src/db/schema.ts'
import { alertingFor, alertTestContext, firing } from '../../helpers/alerts.ts'

// Several rounds of parallel transactions on a fresh database.
setDefaultTimeout(60_000)

const ctx = alertTestContext()

describe('concurrent notifications of the same alerts', () => {
  test('the same 300 alerts in different orders, six at once (Alertmanager HA, retries): all taken, one message', async () => {
    const { alerting } = alertingFor(ctx.database, undefined)
    // A deadlock between two of them is a matter of timing: several rounds of alerts never seen
    // (whose states are inserted, in payload order before) make it all but certain on
    // PostgreSQL when the locks are taken in payload order.
    for (let round = 0; round < 8; round++) {
      const alerts = Array.from({ length: 300 }, (_, i) => firing(`Storm${round}x${i}`))
      const results = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) =>
          alerting.dispatcher.ingest(i % 2 === 0 ? alerts : [...alerts].reverse(), 'alertmanager'),
        ),
      )
      const errors = results.flatMap((r) =>
        r.status === 'rejected' ? [String((r.reason as Error).cause ?? r.reason)] : [],
      )
      expect(errors).toEqual([])
      // One of them wrote on-call's one row for the new episodes; the others found them taken.
      const written = results.map((r) => (r.status === 'fulfilled' ? r.value : -1))
      expect(written.sort()).toEqual([0, 0, 0, 0, 0, 1])
    }
    const rows = await ctx.database.db.select().from(alertOutbox)
    expect(rows).toHaveLength(8)
    expect(rows.map((r) => (r.content.alerts as unknown[]).length)).toEqual(Array(8).fill(300))
  })
})
