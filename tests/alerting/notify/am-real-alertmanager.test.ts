/**
 * The real Alertmanager posting what it really builds from odd alerts. Its process is stopped by
 * PID after each test; skipped when the binary is absent (failed under REQUIRE_OPS_TOOLS=1).
 */
import { afterEach, describe, expect, setDefaultTimeout } from 'bun:test'
import { createHash } from 'node:crypto'
import { alertStates } from '../../../src/db/schema.ts'
import { alertingApp, alertTestContext } from '../../helpers/alerts.ts'
import { type Cleanup, startAlertmanagerForApp } from '../../helpers/ops-tools.ts'
import { waitFor } from '../../helpers/process.ts'
import { withBinary } from '../../ops/ops-files.ts'

setDefaultTimeout(60_000)

const BINARY = 'prometheus-alertmanager'
const amTest = withBinary(BINARY, 'apt-get install -y prometheus-alertmanager')
const TOKEN = 'am-real-alertmanager-token-0123456789'
const ctx = alertTestContext()
const cleanups: Cleanup[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const digest = (text: string) => createHash('sha256').update(text).digest('hex')

/**
 * The test's app behind a receiver on 127.0.0.1 and a real Alertmanager whose one route groups
 * by `groupBy` and posts there. `posts` collects each notification's groupKey and answer status.
 */
async function alertmanagerPostingToApp(groupBy: string[], lostAnswers = 0) {
  let toLose = lostAnswers
  const app = await alertingApp(ctx, { ALERTMANAGER_WEBHOOK_TOKEN: TOKEN })
  const posts: Array<{ groupKey: unknown; status: number }> = []
  const receiver = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      const { groupKey } = await request.clone().json()
      const response = await app.app.handle(request)
      posts.push({ groupKey, status: response.status })
      // The app took it, but its answer never reaches Alertmanager (a proxy's 502 after a timeout).
      if (toLose-- > 0) return new Response('bad gateway', { status: 502 })
      return response
    },
  })
  cleanups.push(() => receiver.stop(true))
  const { postAlerts } = await startAlertmanagerForApp(
    {
      receiverPort: receiver.port,
      token: TOKEN,
      route: { group_by: groupBy, group_wait: '1s', group_interval: '5m', repeat_interval: '1h' },
    },
    cleanups,
  )
  return { posts, postAlerts, alerting: app.alerting }
}

describe('the real Alertmanager', () => {
  amTest(
    "group_by: ['...'] over a 16 000-character label: its groupKey is taken, known by its SHA-256 (was a 500 on every post)",
    async () => {
      const { posts, postAlerts } = await alertmanagerPostingToApp(['...'])
      const image = Array.from({ length: 250 }, (_, i) => digest(String(i))).join('')
      // Started before group_wait: Alertmanager flushes the new group at once.
      const startsAt = new Date(Date.now() - 60_000).toISOString()
      await postAlerts([{ labels: { alertname: 'LongLabel', severity: 'critical', image }, startsAt }])
      await waitFor('the notification', async () => (posts.length >= 1 ? true : undefined), 30_000)
      const groupKey = `{}:{alertname="LongLabel", image="${image}", severity="critical"}`
      expect(posts).toEqual([{ groupKey, status: 200 }])
      expect(
        (await ctx.database.db.select().from(alertStates)).map((s) => ({
          alertname: s.alertname,
          status: s.status,
          groupKey: s.groupKey,
        })),
      ).toEqual([{ alertname: 'LongLabel', status: 'firing', groupKey: `sha256:${digest(groupKey)}` }])
    },
  )

  amTest(
    'a notification whose answer was lost is retried by Alertmanager and taken once: one alert, one message',
    async () => {
      const { posts, postAlerts, alerting } = await alertmanagerPostingToApp(['alertname'], 1)
      const startsAt = new Date(Date.now() - 60_000).toISOString()
      await postAlerts([
        {
          labels: { alertname: 'Retried', severity: 'critical' },
          annotations: { summary: 'once' },
          startsAt,
        },
      ])
      await waitFor('the retry', async () => (posts.length >= 2 ? true : undefined), 30_000)
      expect(posts).toEqual([
        { groupKey: '{}:{alertname="Retried"}', status: 200 },
        { groupKey: '{}:{alertname="Retried"}', status: 200 },
      ])
      await alerting.tick()
      expect(ctx.fake.requests.map((r) => (r.body.text as { body: string }).body.split('\n')[0])).toEqual([
        '🔔 *CRITICAL ALERT*: Retried',
      ])
      expect((await ctx.database.db.select().from(alertStates)).map((s) => [s.alertname, s.status])).toEqual([
        ['Retried', 'firing'],
      ])
    },
  )
})
