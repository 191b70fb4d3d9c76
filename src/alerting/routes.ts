import { Elysia, t } from 'elysia'
import { secretsEqual } from '../auth/keys.ts'
import { bearerAuth } from '../auth/plugin.ts'
import { forbidden, unauthorized } from '../core/errors.ts'
import { ErrorEnvelopeModel } from '../http/models.ts'
import { requestState } from '../http/request-context.ts'
import { JsonInteger } from '../shared/models.ts'
import type { AlertInput, Dispatcher } from './notify/dispatcher.ts'
import type { DeliveryStatus, Receipts } from './notify/receipts.ts'

export const WHATSAPP_WEBHOOK_PATH = '/webhooks/whatsapp'

const hex = (bytes: ArrayBuffer) =>
  Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('')

/** HMAC-SHA256 of the raw body with the app secret, compared in constant time. */
export async function verifySignature(
  rawBody: string,
  header: string | null,
  appSecret: string,
): Promise<boolean> {
  const match = /^sha256=([0-9a-f]{64})$/i.exec(header ?? '')
  if (!match) return false
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(appSecret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  )
  const expected = hex(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(rawBody)))
  return secretsEqual(match[1]!.toLowerCase(), expected)
}

interface WebhookPayload {
  entry?: Array<{
    changes?: Array<{
      value?: {
        statuses?: Array<{
          id?: string
          status?: string
          biz_opaque_callback_data?: string
          errors?: Array<{ code?: number; title?: string; message?: string }>
        }>
        messages?: Array<{
          from?: string
          id?: string
          timestamp?: string
          type?: string
          text?: { body?: string }
          button?: { payload?: string; text?: string }
          interactive?: { button_reply?: { id?: string } }
        }>
      }
    }>
  }>
}

const AlertmanagerAlert = t.Object(
  {
    status: t.UnionEnum(['firing', 'resolved']),
    labels: t.Record(t.String(), t.String()),
    annotations: t.Optional(t.Record(t.String(), t.String())),
    startsAt: t.String({ format: 'date-time' }),
    endsAt: t.Optional(t.String()),
    generatorURL: t.Optional(t.String()),
    fingerprint: t.String({ pattern: '^[0-9a-f]{1,16}$' }),
  },
  { additionalProperties: true },
)

const AlertmanagerPayload = t.Object(
  {
    version: t.String({ examples: ['4'] }),
    status: t.UnionEnum(['firing', 'resolved']),
    receiver: t.Optional(t.String()),
    groupKey: t.Optional(t.String()),
    alerts: t.Array(AlertmanagerAlert, { maxItems: 1000 }),
  },
  {
    additionalProperties: true,
    description: "Alertmanager's webhook payload (version 4); other fields are accepted and ignored",
  },
)

export interface AlertRoutesDeps {
  dispatcher: Dispatcher
  receipts: Receipts
  verifyToken: string | undefined
  appSecret: string | undefined
  alertmanagerToken: string | undefined
}

export function alertRoutes(deps: AlertRoutesDeps) {
  const whatsapp = new Elysia()
    .get(
      WHATSAPP_WEBHOOK_PATH,
      async ({ query, set }) => {
        const ok =
          query['hub.mode'] === 'subscribe' &&
          deps.verifyToken !== undefined &&
          (await secretsEqual(query['hub.verify_token'] ?? '', deps.verifyToken))
        if (!ok) throw forbidden('Webhook verification failed')
        set.headers['content-type'] = 'text/plain; charset=utf-8'
        return query['hub.challenge'] ?? ''
      },
      {
        query: t.Object({
          'hub.mode': t.Optional(
            t.String({
              description: 'only subscribe is answered; anything else gets 403',
              examples: ['subscribe'],
            }),
          ),
          'hub.verify_token': t.Optional(t.String()),
          'hub.challenge': t.Optional(
            t.String({ maxLength: 200, description: 'echoed back as the body', examples: ['1158201444'] }),
          ),
        }),
        detail: {
          tags: ['Alerts'],
          summary: 'WhatsApp webhook verification handshake (answers hub.challenge as text)',
          description:
            'Meta calls it once when the webhook is configured: with hub.mode=subscribe and the WHATSAPP_VERIFY_TOKEN, it answers hub.challenge as text/plain; otherwise 403.',
          security: [{ whatsappVerifyToken: [] }],
        },
        response: { 200: t.String({ description: 'the challenge' }), 403: ErrorEnvelopeModel },
      },
    )
    .post(
      WHATSAPP_WEBHOOK_PATH,
      async ({ request }) => {
        const raw = requestState(request)?.rawBody ?? ''
        if (
          !deps.appSecret ||
          !(await verifySignature(raw, request.headers.get('x-hub-signature-256'), deps.appSecret))
        ) {
          throw unauthorized('Missing or invalid X-Hub-Signature-256')
        }
        let payload: WebhookPayload
        try {
          payload = JSON.parse(raw) as WebhookPayload
        } catch {
          payload = {}
        }
        let statuses = 0
        let messages = 0
        for (const change of (payload.entry ?? []).flatMap((e) => e.changes ?? [])) {
          for (const s of change.value?.statuses ?? []) {
            if (!s.id || !['sent', 'delivered', 'read', 'failed'].includes(s.status ?? '')) continue
            statuses += await deps.receipts.apply({
              id: s.id,
              status: s.status as DeliveryStatus['status'],
              errorCode: s.errors?.[0]?.code,
              errorMessage: s.errors?.[0]?.message ?? s.errors?.[0]?.title,
              callbackData: s.biz_opaque_callback_data,
            })
          }
          for (const m of change.value?.messages ?? []) {
            const text =
              m.text?.body ?? m.button?.payload ?? m.interactive?.button_reply?.id ?? m.button?.text
            if (!m.from || !m.id || !text) continue
            const seconds = Number(m.timestamp)
            await deps.dispatcher.handleInbound({
              from: m.from.replace(/[^0-9]/g, ''),
              text,
              id: m.id,
              at: Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000) : new Date(),
            })
            messages++
          }
        }
        return { received: true, statuses, messages }
      },
      {
        detail: {
          tags: ['Alerts'],
          summary:
            'WhatsApp webhook: delivery statuses and replies (ACK, SILENCE <duration>, STATUS); signed with X-Hub-Signature-256',
          description:
            'Meta posts message statuses (sent, delivered, read, failed) and replies here, signed with WHATSAPP_APP_SECRET; an unsigned or wrongly signed body answers 401 and changes nothing.',
          security: [{ whatsappSignature: [] }],
        },
        response: {
          200: t.Object({ received: t.Boolean(), statuses: JsonInteger(), messages: JsonInteger() }),
          401: ErrorEnvelopeModel,
          413: ErrorEnvelopeModel,
        },
      },
    )

  const alertmanager = new Elysia()
    .use(bearerAuth('Alertmanager receiver', deps.alertmanagerToken, 'ALERTMANAGER_WEBHOOK_TOKEN'))
    .post(
      '/alerts/alertmanager',
      async ({ body }) => {
        const alerts: AlertInput[] = body.alerts.map((a) => ({
          fingerprint: a.fingerprint.padStart(16, '0'),
          status: a.status,
          labels: a.labels,
          annotations: a.annotations ?? {},
          startsAt: new Date(a.startsAt),
          endsAt: a.endsAt && !a.endsAt.startsWith('0001-') ? new Date(a.endsAt) : undefined,
        }))
        const enqueued = await deps.dispatcher.ingest(alerts, 'alertmanager')
        return { accepted: alerts.length, enqueued }
      },
      {
        body: AlertmanagerPayload,
        detail: {
          tags: ['Alerts'],
          summary:
            'Alertmanager webhook receiver (version 4): firing and resolved alerts go to the WhatsApp notifier',
          description:
            'Point an Alertmanager webhook_config here with the ALERTMANAGER_WEBHOOK_TOKEN as its bearer credential (403 while it is unset). Alerts are deduplicated by fingerprint: a re-sent group enqueues nothing new.',
          security: [{ alertmanagerToken: [] }],
        },
        response: {
          200: t.Object({
            accepted: JsonInteger(),
            enqueued: JsonInteger({ description: 'new notifications; re-sends enqueue none' }),
          }),
          401: ErrorEnvelopeModel,
          403: ErrorEnvelopeModel,
          422: ErrorEnvelopeModel,
        },
      },
    )

  return new Elysia({ name: 'alert-routes' }).use(whatsapp).use(alertmanager)
}
