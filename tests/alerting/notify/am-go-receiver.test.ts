/**
 * Webhook bodies as senders other than a current Alertmanager write them, read as a receiver
 * written in Go reads them (encoding/json into notify/webhook Message and template.Alert):
 * keys matched case-insensitively, an absent fingerprint or startsAt being Go's zero value,
 * and Grafana's Alertmanager-compatible payload with its extra fields.
 */
import { describe, expect, test } from 'bun:test'
import { alertStates } from '../../../src/db/schema.ts'
import { alertingApp, alertmanagerPoster, alertTestContext } from '../../helpers/alerts.ts'

const ctx = alertTestContext()
const TOKEN = 'am-go-receiver-token-0123456789'

async function setup() {
  const app = await alertingApp(ctx, { ALERTMANAGER_WEBHOOK_TOKEN: TOKEN })
  const post = alertmanagerPoster(app, TOKEN)
  const states = async () =>
    (await ctx.database.db.select().from(alertStates).orderBy(alertStates.fingerprint)).map((s) => ({
      fingerprint: s.fingerprint,
      alertname: s.alertname,
      status: s.status,
      startsAt: s.startsAt.toISOString(),
      groupKey: s.groupKey,
    }))
  return { post, states }
}

describe('keys as Go matches them to the Message and template.Alert fields', () => {
  test('"Alerts", "Status", "Labels", "StartsAt", "GroupKey", "TruncatedAlerts" (a Go sender with untagged structs) are read', async () => {
    const { post, states } = await setup()
    // Was 422 "alerts — Expected an array of alerts": a Go receiver reads every one of these keys.
    const body = {
      Receiver: 'app',
      Status: 'firing',
      Alerts: [
        {
          Status: 'firing',
          Labels: { alertname: 'GoCased', severity: 'critical' },
          Annotations: { summary: 'untagged struct' },
          StartsAt: '2026-03-02T09:50:00Z',
          EndsAt: '0001-01-01T00:00:00Z',
          GeneratorURL: '',
          Fingerprint: '00000000000000c1',
        },
      ],
      GroupKey: '{}:{alertname="GoCased"}',
      TruncatedAlerts: 3,
    }
    expect(await post(body)).toEqual({
      status: 200,
      body: { accepted: 1, invalid: 0, truncatedAlerts: 3, enqueued: 1 },
    })
    expect(await states()).toEqual([
      {
        fingerprint: '00000000000000c1',
        alertname: 'GoCased',
        status: 'firing',
        startsAt: '2026-03-02T09:50:00.000Z',
        groupKey: '{}:{alertname="GoCased"}',
      },
    ])
  })

  test('"ALERTS", "\\u017ftatus" (long s folds to S) and "group\\u212aey" (Kelvin sign folds to K) match, as in Go\'s foldName', async () => {
    const { post, states } = await setup()
    const body = `{"ALERTS":[{"\u017ftatus":"firing","LABELS":{"alertname":"Folded"},"startsat":"2026-03-02T09:50:00Z","fingerprint":"00000000000000c2"}],"group\u212aey":"{}:{k=\\"v\\"}"}`
    expect(await post(body)).toEqual({
      status: 200,
      body: { accepted: 1, invalid: 0, truncatedAlerts: 0, enqueued: 1 },
    })
    expect((await states()).map((s) => [s.fingerprint, s.status, s.groupKey])).toEqual([
      ['00000000000000c2', 'firing', '{}:{k="v"}'],
    ])
  })

  test('a later key of the same field wins, null leaves a string as it was, and a key matching no field is ignored', async () => {
    const { post, states } = await setup()
    const body = `{"alerts":[{"status":"firing","Status":"resolved","STATUS":null,"labels":{"alertname":"Twice"},"startsAt":"2026-03-02T09:50:00Z","endsAt":"2026-03-02T09:55:00Z","fingerprint":"00000000000000c3","statusText":"x"}]}`
    expect((await post(body)).status).toBe(200)
    expect((await states()).map((s) => [s.fingerprint, s.status])).toEqual([['00000000000000c3', 'resolved']])
  })

  test('a key that upper-cases into a field name but does not fold into it ("\ufb06atus", ligature st) is ignored, as in Go', async () => {
    const { post, states } = await setup()
    const body = `{"alerts":[{"status":"firing","\ufb06atus":"resolved","labels":{"alertname":"Ligature"},"startsAt":"2026-03-02T09:50:00Z","fingerprint":"00000000000000c5"}]}`
    expect((await post(body)).status).toBe(200)
    expect((await states()).map((s) => [s.fingerprint, s.status])).toEqual([['00000000000000c5', 'firing']])
  })

  test('"ALERTS" that is not an array is the 422 naming alerts, as for "alerts"', async () => {
    const { post } = await setup()
    const answer = await post({ ALERTS: {} })
    expect(answer.status).toBe(422)
    expect(answer.body.error.details).toEqual({
      in: 'body',
      errors: [{ field: 'alerts', message: 'Expected an array of alerts' }],
    })
  })
})

describe('fields a Go receiver reads as their zero value when absent', () => {
  test("no fingerprint (Alertmanager before 0.19, scripts): the labels' fingerprint, so the resolution ends the same alert", async () => {
    const { post, states } = await setup()
    // Was 422 "alerts.0.fingerprint — Expected 1 to 16 lowercase hexadecimal digits" for every alert.
    const alert = {
      status: 'firing',
      labels: { alertname: 'NoFingerprint', severity: 'critical', instance: 'db-0' },
      annotations: {},
      startsAt: '2026-03-02T09:50:00Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus:9090/graph',
    }
    expect(await post({ version: '4', alerts: [alert, { ...alert, fingerprint: null }] })).toEqual({
      status: 200,
      body: { accepted: 2, invalid: 0, truncatedAlerts: 0, enqueued: 1 },
    })
    expect(
      await post({
        alerts: [{ ...alert, status: 'resolved', endsAt: '2026-03-02T10:00:00Z', fingerprint: '' }],
      }),
    ).toEqual({
      status: 200,
      body: { accepted: 1, invalid: 0, truncatedAlerts: 0, enqueued: expect.any(Number) },
    })
    // prometheus/common LabelSet{alertname, instance, severity}.Fingerprint(), as Alertmanager
    // computes it (the real one's, am-real-senders.test.ts).
    expect((await states()).map((s) => [s.fingerprint, s.alertname, s.status])).toEqual([
      ['d66e5d30f6ab865f', 'NoFingerprint', 'resolved'],
    ])
  })

  test('a fingerprint in upper case is the same 64-bit number', async () => {
    const { post, states } = await setup()
    const alert = { status: 'firing', labels: { alertname: 'Upper' }, startsAt: '2026-03-02T09:50:00Z' }
    expect((await post({ alerts: [{ ...alert, fingerprint: 'C6EADFFA33FCDF37' }] })).status).toBe(200)
    expect((await states()).map((s) => s.fingerprint)).toEqual(['c6eadffa33fcdf37'])
  })

  test('a fingerprint that is no hexadecimal number is still an invalid alert, named', async () => {
    const { post } = await setup()
    const answer = await post({
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'X' },
          startsAt: '2026-03-02T09:50:00Z',
          fingerprint: 'disk-full',
        },
      ],
    })
    expect(answer.status).toBe(422)
    expect(answer.body.error.details.errors).toEqual([
      {
        field: 'alerts.0.fingerprint',
        message: 'Expected 1 to 16 hexadecimal digits, or none (computed from the labels)',
      },
    ])
  })

  test("no startsAt, or null: Go's zero time, as a sent 0001-01-01T00:00:00Z, and a re-send is the same episode", async () => {
    const { post, states } = await setup()
    const alert = { status: 'firing', labels: { alertname: 'NoStart' }, fingerprint: '00000000000000c4' }
    expect(await post({ alerts: [alert] })).toEqual({
      status: 200,
      body: { accepted: 1, invalid: 0, truncatedAlerts: 0, enqueued: 1 },
    })
    expect(await post({ alerts: [{ ...alert, startsAt: null }] })).toEqual({
      status: 200,
      body: { accepted: 1, invalid: 0, truncatedAlerts: 0, enqueued: 0 },
    })
    expect((await states()).map((s) => [s.fingerprint, s.status, s.startsAt])).toEqual([
      ['00000000000000c4', 'firing', '0001-01-01T00:00:00.000Z'],
    ])
  })
})

describe("Grafana's Alertmanager-compatible webhook", () => {
  test('its payload (orgId, state, title, message, values, valueString, silenceURL, dashboardURL, panelURL, imageURL) is taken', async () => {
    const { post, states } = await setup()
    // As Grafana 10 posts it (docs: alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier).
    const grafana = {
      receiver: 'whatsapp',
      status: 'firing',
      orgId: 1,
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'High memory usage', grafana_folder: 'Ops', team: 'blue', zone: 'us-1' },
          annotations: { description: 'The system has high memory usage', summary: 'zone us-1' },
          startsAt: '2021-10-12T09:51:03.157076+02:00',
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'https://play.grafana.org/alerting/1afz29v7z/edit',
          fingerprint: 'c6eadffa33fcdf37',
          silenceURL:
            'https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matcher=team%3Dblue',
          dashboardURL: '',
          panelURL: '',
          imageURL: 'https://play.grafana.org/public/img/attachments/x.png',
          values: { B: 44.23943737541908, C: 1 },
          valueString: "[ var='B' labels={team=blue, zone=us-1} value=44.23943737541908 ]",
        },
        {
          status: 'resolved',
          labels: { alertname: 'High CPU usage', team: 'blue', zone: 'eu-1' },
          annotations: {},
          startsAt: '2021-10-12T09:56:03.157076+02:00',
          endsAt: '2021-10-12T09:58:03.157076+02:00',
          generatorURL: 'https://play.grafana.org/alerting/d1rdpdv7k/edit',
          fingerprint: 'bc97ff14869b13e3',
          silenceURL: '',
          dashboardURL: 'https://play.grafana.org/d/x',
          panelURL: 'https://play.grafana.org/d/x?viewPanel=2',
          values: null,
          valueString: '',
        },
      ],
      groupLabels: {},
      commonLabels: { team: 'blue' },
      commonAnnotations: {},
      externalURL: 'https://play.grafana.org/',
      version: '1',
      groupKey: '{}/{__grafana_autogenerated__="true"}/{__grafana_receiver__="whatsapp"}:{}',
      truncatedAlerts: 0,
      title: '[FIRING:1, RESOLVED:1]  (blue)',
      state: 'alerting',
      message: '**Firing**\n\nValue: B=44.23943737541908, C=1\nLabels:\n - alertname = High memory usage\n',
    }
    expect(await post(grafana)).toEqual({
      status: 200,
      body: { accepted: 2, invalid: 0, truncatedAlerts: 0, enqueued: 1 },
    })
    expect((await states()).map((s) => [s.fingerprint, s.alertname, s.status, s.startsAt])).toEqual([
      ['bc97ff14869b13e3', 'High CPU usage', 'resolved', '2021-10-12T07:56:03.157Z'],
      ['c6eadffa33fcdf37', 'High memory usage', 'firing', '2021-10-12T07:51:03.157Z'],
    ])
  })
})
