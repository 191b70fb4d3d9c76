/**
 * The real Alertmanager (and amtool through it) posting to the receiver what it builds from
 * storms, odd text and resolutions, and as Alertmanager before 0.19 posted it (no fingerprint).
 * Its process is stopped by PID after each test; skipped when the binary is absent (failed
 * under REQUIRE_OPS_TOOLS=1).
 */
import { afterEach, describe, expect, setDefaultTimeout } from 'bun:test'
import { alertStates } from '../../../src/db/schema.ts'
import { alertingApp, alertTestContext } from '../../helpers/alerts.ts'
import { type Cleanup, startAlertmanagerForApp } from '../../helpers/ops-tools.ts'
import { waitFor } from '../../helpers/process.ts'
import { withBinary } from '../../ops/ops-files.ts'

setDefaultTimeout(90_000)

const amTest = withBinary('prometheus-alertmanager', 'apt-get install -y prometheus-alertmanager')
const TOKEN = 'am-real-senders-token-0123456789'
const ctx = alertTestContext()
const cleanups: Cleanup[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface Post {
  status: number
  answer: Record<string, unknown>
  /** The alerts of the body the app read (template.Alert as Alertmanager marshals it). */
  alerts: Array<{
    status: string
    fingerprint?: string
    labels: Record<string, string>
    annotations: Record<string, string>
  }>
  truncatedAlerts: unknown
}

/**
 * The test's app behind a receiver on 127.0.0.1 (port 0) and a real Alertmanager posting there
 * with `webhook` options (max_alerts…). `rewrite` changes each body before the app reads it.
 */
async function alertmanagerPostingToApp(
  webhook: Record<string, unknown> = {},
  rewrite: (body: Record<string, unknown>) => Record<string, unknown> = (body) => body,
) {
  const app = await alertingApp(ctx, { ALERTMANAGER_WEBHOOK_TOKEN: TOKEN })
  const posts: Post[] = []
  const receiver = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      const body = rewrite(await request.json())
      const response = await app.app.handle(
        new Request(request.url, { method: 'POST', headers: request.headers, body: JSON.stringify(body) }),
      )
      const answer = await response.clone().json()
      posts.push({
        status: response.status,
        answer,
        alerts: body.alerts as Post['alerts'],
        truncatedAlerts: body.truncatedAlerts,
      })
      return response
    },
  })
  cleanups.push(() => receiver.stop(true))
  const { api, postAlerts } = await startAlertmanagerForApp(
    {
      receiverPort: receiver.port,
      token: TOKEN,
      route: { group_by: ['alertname'], group_wait: '1s', group_interval: '1s', repeat_interval: '1h' },
      webhook,
    },
    cleanups,
  )
  const states = async () =>
    (await ctx.database.db.select().from(alertStates).orderBy(alertStates.fingerprint)).map((s) => ({
      fingerprint: s.fingerprint,
      status: s.status,
      labels: s.labels,
      annotations: s.annotations,
    }))
  return { api, posts, postAlerts, states, alerting: app.alerting }
}

/** Every post was taken whole: 200, each alert it listed accepted, its truncatedAlerts echoed. */
function expectAllTaken(posts: Post[]) {
  expect(posts.length).toBeGreaterThan(0)
  for (const post of posts) {
    expect({ status: post.status, answer: post.answer }).toEqual({
      status: 200,
      answer: {
        accepted: post.alerts.length,
        invalid: 0,
        truncatedAlerts: post.truncatedAlerts,
        enqueued: expect.any(Number),
      },
    })
  }
}

describe('the real Alertmanager', () => {
  amTest(
    'a 300-alert storm past max_alerts: 50, with unicode, a 100 000-character annotation and empty ones, then resolved: every post taken, the text stored as sent',
    async () => {
      const { posts, postAlerts, states } = await alertmanagerPostingToApp({ max_alerts: 50 })
      // Starting now, the group waits group_wait (1 s) for the whole batch before its first flush.
      const startsAt = new Date().toISOString()
      const alerts = Array.from({ length: 300 }, (_, i) => ({
        labels: {
          alertname: 'Storm',
          severity: i === 0 ? 'critical' : 'warning',
          instance: `node-${i}`,
          city: 'Zürich 🌧 東京',
        },
        annotations: {
          summary: `ünïcödé ${i} 👍`,
          description: i < 3 ? 'x'.repeat(100_000) : '',
          runbook: '',
        },
        startsAt,
        generatorURL: '',
      }))
      await postAlerts(alerts)
      await waitFor('the notification', async () => (posts.length >= 1 ? true : undefined), 30_000)
      const [firing] = posts
      expect(firing!.alerts).toHaveLength(50)
      expect(firing!.truncatedAlerts).toBe(250)
      // Stored exactly as Alertmanager sent them: its fingerprint, labels and annotations.
      const sent = new Map(firing!.alerts.map((a) => [a.fingerprint, a]))
      const stored = (await states()).filter((s) => sent.has(s.fingerprint))
      expect(stored).toHaveLength(50)
      for (const state of stored) {
        const alert = sent.get(state.fingerprint)!
        expect({ labels: state.labels, annotations: state.annotations }).toEqual({
          labels: alert.labels,
          annotations: alert.annotations,
        })
      }

      const before = posts.length
      await postAlerts(alerts.map((a) => ({ ...a, endsAt: new Date().toISOString() })))
      await waitFor(
        'the resolution',
        async () => (posts.slice(before).some((p) => p.alerts[0]?.status === 'resolved') ? true : undefined),
        30_000,
      )
      expectAllTaken(posts)
      const resolved = posts.slice(before).find((p) => p.alerts[0]?.status === 'resolved')!
      const ended = new Set(resolved.alerts.map((a) => a.fingerprint))
      expect((await states()).filter((s) => ended.has(s.fingerprint)).map((s) => s.status)).toEqual(
        Array(ended.size).fill('resolved'),
      )
    },
  )

  amTest(
    'posting as Alertmanager before 0.19 did (no fingerprint): the alerts are known by the fingerprint Alertmanager computes, and resolve',
    async () => {
      // Was a 422 for every notification: "alerts.0.fingerprint — Expected 1 to 16 lowercase hexadecimal digits".
      const withoutFingerprint = (body: Record<string, unknown>) => ({
        ...body,
        alerts: (body.alerts as Array<Record<string, unknown>>).map(({ fingerprint: _, ...alert }) => alert),
      })
      const { api, posts, postAlerts, states } = await alertmanagerPostingToApp({}, withoutFingerprint)
      const alerts = ['db-0', 'db-1', 'ünï-2'].map((instance) => ({
        labels: { alertname: 'OldAlertmanager', severity: 'critical', instance },
        annotations: { summary: `${instance} down` },
        startsAt: new Date().toISOString(),
      }))
      await postAlerts(alerts)
      await waitFor('the notification', async () => (posts.length >= 1 ? true : undefined), 30_000)
      const known = (await (await fetch(`${api}/api/v2/alerts`)).json()) as Array<{ fingerprint: string }>
      const fingerprints = known.map((a) => a.fingerprint).sort()
      expect(fingerprints).toHaveLength(3)
      expect((await states()).map((s) => [s.fingerprint, s.status])).toEqual(
        fingerprints.map((f) => [f, 'firing']),
      )
      await postAlerts(alerts.map((a) => ({ ...a, endsAt: new Date().toISOString() })))
      await waitFor(
        'the resolution',
        async () => (posts.some((p) => p.alerts[0]?.status === 'resolved') ? true : undefined),
        30_000,
      )
      expectAllTaken(posts)
      expect((await states()).map((s) => [s.fingerprint, s.status])).toEqual(
        fingerprints.map((f) => [f, 'resolved']),
      )
    },
  )

  const amtoolTest = withBinary('amtool', 'apt-get install -y prometheus-alertmanager')
  amtoolTest('`amtool alert add` through it, with unicode and an empty annotation: taken', async () => {
    const { api, posts, states } = await alertmanagerPostingToApp()
    const added = Bun.spawnSync([
      'amtool',
      `--alertmanager.url=${api}`,
      'alert',
      'add',
      'alertname=AmtoolAdded',
      'severity=critical',
      'instance=café-☕',
      '--annotation=summary=Ça brûle 🔥',
      '--annotation=runbook=',
    ])
    expect(added.exitCode).toBe(0)
    await waitFor('the notification', async () => (posts.length >= 1 ? true : undefined), 30_000)
    expectAllTaken(posts)
    expect((await states()).map((s) => [s.status, s.labels, s.annotations])).toEqual([
      [
        'firing',
        { alertname: 'AmtoolAdded', severity: 'critical', instance: 'café-☕' },
        { summary: 'Ça brûle 🔥', runbook: '' },
      ],
    ])
  })
})
