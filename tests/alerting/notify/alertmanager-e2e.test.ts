/**
 * The real Alertmanager (Debian's package) with the shipped ops/alertmanager/alertmanager.yml —
 * only its timers shortened, its URL and token pointed at this test — posting a storm to the
 * receiver: what the upstream really sends (its key order, `truncatedAlerts` from `max_alerts`)
 * must be taken whole and reach on-call as one bounded message. Bounded in time; the process
 * it starts is stopped by PID.
 */
import { afterEach, describe, expect, setDefaultTimeout } from 'bun:test'
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { toWhatsAppNumber } from '../../../src/alerting/whatsapp/client.ts'
import { alertStates } from '../../../src/db/schema.ts'
import { alertingFor, alertTestContext, ONCALL } from '../../helpers/alerts.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { type Cleanup, startAlertmanager } from '../../helpers/ops-tools.ts'
import { waitFor } from '../../helpers/process.ts'
import { repoPath, withBinary } from '../../ops/ops-files.ts'

setDefaultTimeout(120_000)

const BINARY = 'prometheus-alertmanager'
const e2eTest = withBinary(BINARY, 'apt-get install -y prometheus-alertmanager')
const TOKEN = 'alertmanager-e2e-token-0123456789'
const ctx = alertTestContext()
const cleanups: Cleanup[] = []
// After each test: an Alertmanager left running keeps posting its groups (repeat_interval) into
// the next test's tables, whose reset makes them new alerts there.
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A webhook config of the shipped alertmanager.yml, as the tests change it. */
type WebhookConfig = Record<string, unknown> & { url: string; http_config: Record<string, unknown> }

/** Alertmanager's grouping timers, as a test shortens them. */
type Timers = { group_wait?: string; group_interval?: string; repeat_interval?: string }

/** The parts of the shipped alertmanager.yml the tests change. */
interface ShippedConfig {
  route: {
    group_by?: string[]
    group_wait?: string
    group_interval?: string
    repeat_interval?: string
    routes?: Array<Timers>
  }
}

/**
 * Starts the test's app behind a receiver on 127.0.0.1, and the real Alertmanager with the
 * shipped config posting to it. `timers` replace the shipped ones on the root route and on each
 * child route that sets its own; `configure` changes what else the test must (grouping,
 * max_alerts, send_resolved) after the URL and token point at the receiver. Resolves once
 * Alertmanager is ready; both are stopped after the test. `received` collects the status of
 * each post.
 */
async function alertmanagerPostingToApp(
  timers: Timers,
  configure: (shipped: ShippedConfig, webhook: WebhookConfig) => void = () => {},
): Promise<{ delivery: ReturnType<typeof alertingFor>; received: number[]; api: string }> {
  const delivery = alertingFor(ctx.database, ctx.fake.url, { ALERTMANAGER_WEBHOOK_TOKEN: TOKEN })
  const { app } = await buildTestApp({
    database: ctx.database,
    alerting: delivery.alerting,
    env: { ALERTMANAGER_WEBHOOK_TOKEN: TOKEN },
  })
  const received: number[] = []
  const receiver = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      const response = await app.handle(request)
      received.push(response.status)
      return response
    },
  })
  cleanups.push(() => receiver.stop(true))
  const shipped = parseYaml(readFileSync(repoPath('ops/alertmanager/alertmanager.yml'), 'utf8'))
  const webhook = shipped.receivers[0].webhook_configs[0] as WebhookConfig
  webhook.url = `http://127.0.0.1:${receiver.port}/alerts/alertmanager`
  webhook.http_config.authorization = { type: 'Bearer', credentials: TOKEN }
  Object.assign(shipped.route, timers)
  for (const route of shipped.route.routes ?? []) {
    for (const key of Object.keys(timers) as Array<keyof Timers>) if (key in route) route[key] = timers[key]
  }
  configure(shipped, webhook)
  const api = await startAlertmanager(shipped, cleanups)
  return { delivery, received, api }
}

describe('the real Alertmanager posting a storm', () => {
  e2eTest(
    'max_alerts of the shipped config: 5 000 alerts taken, the rest counted, the critical one first, one message',
    async () => {
      const {
        delivery,
        received,
        api: am,
      } = await alertmanagerPostingToApp(
        // Only what a test must change: timers (group_wait long enough for Alertmanager to take
        // all 5 101 alerts before its first flush).
        { group_wait: '5s', group_interval: '5m' },
        (_, webhook) => expect(webhook.max_alerts).toBe(5000),
      )
      const api = `${am}/api/v2`

      // Now: Alertmanager flushes a new group at once, without group_wait, when its alerts
      // started longer than group_wait ago (dispatch.go).
      const startsAt = new Date().toISOString()
      const alerts = Array.from({ length: 5100 }, (_, i) => ({
        labels: { alertname: 'StormNoise', severity: 'warning', instance: `node-${i}` },
        annotations: { summary: `noise on node-${i}`, description: `node-${i} is noisy` },
        startsAt,
      }))
      alerts.push({
        labels: { alertname: 'DatabaseDown', severity: 'critical', instance: 'db-0' },
        annotations: { summary: 'Database down', description: 'PostgreSQL on db-0 answers no query' },
        startsAt,
      })
      const posted = await fetch(`${api}/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts),
      })
      expect(posted.status).toBe(200)

      // Two groups (criticals apart from warnings), each posted once.
      await waitFor(
        'both notifications to be ingested',
        async () =>
          (await ctx.database.db.$count(alertStates)) === 5001 && received.length >= 2 ? true : undefined,
        60_000,
      )
      expect(received).toEqual([200, 200])
      await delivery.alerting.tick()
      const oncall = toWhatsAppNumber(ONCALL)
      const messages = ctx.fake.requests
        .filter((r) => r.body.to === oncall)
        .map((r) => (r.body.text as { body: string }).body)
      expect(messages).toHaveLength(1)
      const [message] = messages
      expect(message!.length).toBeLessThanOrEqual(4096)
      expect(message!.split('\n').slice(0, 4)).toEqual([
        '🔔 *5001 alerts firing*: 1 critical, 5000 warning',
        '',
        '*CRITICAL*',
        expect.stringMatching(
          /^• DatabaseDown ×1 on db-0 — PostgreSQL on db-0 answers no query — ref [0-9a-f]{16}$/,
        ),
      ])
      expect(message).toMatch(/• StormNoise ×5000 on node-\d+ … node-\d+ — node-\d+ is noisy/)
      expect(message).toContain('+100 more not shown by Alertmanager')
    },
  )

  e2eTest(
    "group_by: ['...'] (one notification per alert): a 300-alert storm reaches on-call as one message",
    async () => {
      // Alertmanager posts one notification per aggregation group (dispatch/dispatch.go), and
      // `group_by: ['...']` makes every alert its own group: 300 notifications, so 300 outbox
      // rows for on-call. The sender claimed at most 200 rows a tick, and on-call got a message
      // saying "200 alerts firing", then another for the rest.
      const {
        delivery,
        received,
        api: am,
      } = await alertmanagerPostingToApp({ group_wait: '1s' }, (shipped) => {
        shipped.route.group_by = ['...']
      })
      const startsAt = new Date(Date.now() - 60_000).toISOString()
      const alerts = Array.from({ length: 300 }, (_, i) => ({
        labels: {
          alertname: 'StormNoise',
          severity: i === 0 ? 'critical' : 'warning',
          instance: `node-${i}`,
        },
        annotations: { description: `node-${i} is noisy` },
        startsAt,
      }))
      const posted = await fetch(`${am}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts),
      })
      expect(posted.status).toBe(200)
      await waitFor(
        'every notification to be ingested',
        async () =>
          (await ctx.database.db.$count(alertStates)) === 300 && received.length >= 300 ? true : undefined,
        20_000,
      )
      expect(new Set(received)).toEqual(new Set([200]))
      await delivery.alerting.tick()
      await delivery.alerting.tick()
      const oncall = toWhatsAppNumber(ONCALL)
      const messages = ctx.fake.requests
        .filter((r) => r.body.to === oncall)
        .map((r) => (r.body.text as { body: string }).body.split('\n')[0])
      expect(messages).toEqual(['🔔 *300 alerts firing*: 1 critical, 299 warning'])
    },
  )

  e2eTest(
    'a group flushed twice as it fills: its hidden alerts are counted once, from its latest notification',
    async () => {
      // Alertmanager flushes a group again every group_interval while alerts join it
      // (dispatch/dispatch.go), and with max_alerts each notification counts the group's hidden
      // alerts anew (notify/webhook/webhook.go truncateAlerts). One message merging both rows
      // summed them: "10 alerts firing … +40 more" of a 30-alert group.
      const { delivery, api: am } = await alertmanagerPostingToApp(
        { group_wait: '1s', group_interval: '1s' },
        (_, webhook) => {
          webhook.max_alerts = 5
        },
      )
      const startsAt = new Date(Date.now() - 60_000).toISOString()
      const post = async (instances: string[]) => {
        const response = await fetch(`${am}/api/v2/alerts`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(
            instances.map((instance) => ({
              labels: { alertname: 'StormNoise', severity: 'warning', instance },
              annotations: { description: `${instance} is noisy` },
              startsAt,
            })),
          ),
        })
        expect(response.status).toBe(200)
      }
      const shown = (n: number) => async () =>
        (await ctx.database.db.$count(alertStates)) === n ? true : undefined
      // 20 alerts: the first 5 shown, 15 counted.
      await post(Array.from({ length: 20 }, (_, i) => `n-${String(i).padStart(2, '0')}`))
      await waitFor('the first notification', shown(5), 15_000)
      // 10 more, sorted first by Alertmanager (by instance): 5 new ones shown, 25 counted.
      await post(Array.from({ length: 10 }, (_, i) => `a-${i}`))
      await waitFor('the second notification', shown(10), 15_000)
      await delivery.alerting.tick()
      const messages = ctx.fake.requests.map((r) => (r.body.text as { body: string }).body)
      expect(messages).toHaveLength(1)
      expect(messages[0]!.match(/WARNING ALERT/g)).toHaveLength(10)
      expect(messages[0]).toContain('+20 more not shown by Alertmanager')
    },
  )

  e2eTest(
    'send_resolved: false: an alert that ends while another of its group fires is resolved all the same',
    async () => {
      // Without send_resolved Alertmanager never posts a resolution (notify/notify.go
      // RetryStage sends only the firing alerts), but it posts the group again without the
      // ended alert once repeat_interval has passed (DedupStage needsUpdate).
      const {
        delivery,
        received,
        api: am,
      } = await alertmanagerPostingToApp(
        { group_wait: '1s', group_interval: '1s', repeat_interval: '2s' },
        (_, webhook) => {
          webhook.send_resolved = false
        },
      )
      const now = Date.now()
      const alert = (instance: string, endsInMs: number) => ({
        labels: { alertname: 'Flaky', severity: 'warning', instance },
        annotations: { summary: `Flaky on ${instance}` },
        startsAt: new Date(now - 60_000).toISOString(),
        endsAt: new Date(now + endsInMs).toISOString(),
      })
      // A ends by itself (its endsAt passes, as when Prometheus stops re-sending it); B fires on.
      const posted = await fetch(`${am}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([alert('a', 8_000), alert('b', 600_000)]),
      })
      expect(posted.status).toBe(200)
      const statusOf = async () => {
        const rows = await ctx.database.db.select().from(alertStates)
        return Object.fromEntries(rows.map((r) => [r.labels.instance, r.status]))
      }
      await waitFor(
        'both alerts to be taken',
        async () => ((await ctx.database.db.$count(alertStates)) === 2 ? true : undefined),
        20_000,
      )
      await delivery.alerting.tick()
      await waitFor(
        'the group to be posted without the ended alert',
        async () => ((await statusOf()).a === 'resolved' ? true : undefined),
        30_000,
      )
      expect(await statusOf()).toEqual({ a: 'resolved', b: 'firing' })
      expect(new Set(received)).toEqual(new Set([200]))
      await delivery.alerting.tick()
      const oncall = toWhatsAppNumber(ONCALL)
      const messages = ctx.fake.requests
        .filter((r) => r.body.to === oncall)
        .map((r) => (r.body.text as { body: string }).body)
      expect(messages).toEqual([
        expect.stringMatching(/^🔔 \*WARNING ALERT\*: Flaky\n/),
        expect.stringMatching(/^✅ \*RESOLVED\*: Flaky\nFlaky on a\nref: [0-9a-f]{16}$/),
      ])
    },
  )

  e2eTest(
    'a silenced alert is absent from its group: resolved, then announced again as a new episode when the silence ends',
    async () => {
      // notify/notify.go MuteStage drops the silenced alert from the group's notifications;
      // once a notification without it was logged (nflog), its return is a change
      // (DedupStage needsUpdate) and is posted at the next flush, with startsAt unchanged.
      const {
        delivery,
        received,
        api: am,
      } = await alertmanagerPostingToApp({
        group_wait: '1s',
        group_interval: '1s',
        repeat_interval: '2s',
      })
      const api = `${am}/api/v2`
      const startsAt = new Date(Date.now() - 60_000).toISOString()
      const alert = (instance: string) => ({
        labels: { alertname: 'Muted', severity: 'warning', instance },
        annotations: { summary: `Muted on ${instance}` },
        startsAt,
      })
      const posted = await fetch(`${api}/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([alert('a'), alert('b')]),
      })
      expect(posted.status).toBe(200)
      const stateOf = async () => {
        const rows = await ctx.database.db.select().from(alertStates)
        return Object.fromEntries(rows.map((r) => [r.labels.instance, [r.status, r.repeatCycle]]))
      }
      await waitFor(
        'both alerts to be taken',
        async () => ((await ctx.database.db.$count(alertStates)) === 2 ? true : undefined),
        20_000,
      )
      await delivery.alerting.tick()
      const silence = await fetch(`${api}/silences`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          matchers: [{ name: 'instance', value: 'a', isRegex: false, isEqual: true }],
          startsAt: new Date().toISOString(),
          endsAt: new Date(Date.now() + 8_000).toISOString(),
          createdBy: 'test',
          comment: 'maintenance',
        }),
      })
      expect(silence.status).toBe(200)
      await waitFor(
        'the group to be posted without the silenced alert',
        async () => ((await stateOf()).a?.[0] === 'resolved' ? true : undefined),
        20_000,
      )
      await delivery.alerting.tick()
      await waitFor(
        'the alert to be listed again once the silence ended',
        async () => ((await stateOf()).a?.[0] === 'firing' ? true : undefined),
        30_000,
      )
      expect(await stateOf()).toEqual({ a: ['firing', 1], b: ['firing', 0] })
      expect(new Set(received)).toEqual(new Set([200]))
      await delivery.alerting.tick()
      const oncall = toWhatsAppNumber(ONCALL)
      const messages = ctx.fake.requests
        .filter((r) => r.body.to === oncall)
        .map((r) => (r.body.text as { body: string }).body)
      expect(messages).toEqual([
        expect.stringMatching(/^🔔 \*WARNING ALERT\*: Muted\n/),
        expect.stringMatching(/^✅ \*RESOLVED\*: Muted\nMuted on a\nref: [0-9a-f]{16}$/),
        expect.stringMatching(/^🔔 \*WARNING ALERT\*: Muted\nMuted on a\nref: [0-9a-f]{16}$/),
      ])
    },
  )
})
