import { Elysia, t } from 'elysia'
import { bearerAuth } from '../auth/plugin.ts'
import { forbidden, unauthorized, unsupportedMediaType } from '../core/errors.ts'
import { secretsEqual } from '../core/hash.ts'
import { ErrorEnvelopeModel, QueryParameters } from '../http/models.ts'
import { requestState } from '../http/request-context.ts'
import { JsonInteger } from '../shared/models.ts'
import {
  groupIdentity,
  RefusedNotification,
  readAlertmanagerNotification,
} from './notify/alertmanager-payload.ts'
import type { Dispatcher } from './notify/dispatcher.ts'
import type { Receipts } from './notify/receipts.ts'
import { readWhatsAppWebhook } from './notify/whatsapp-payload.ts'

export const WHATSAPP_WEBHOOK_PATH = '/webhooks/whatsapp'
export const ALERTMANAGER_PATH = '/alerts/alertmanager'

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

/**
 * The `WWW-Authenticate` challenge of a 401 from the signed WhatsApp webhook. RFC 9110 §11.6.1
 * requires one on every 401; no registered scheme covers a body HMAC, so the auth-scheme token
 * is the header Meta signs with (`X-Hub-Signature-256: sha256=<hex HMAC of the raw body>`).
 */
export const WHATSAPP_SIGNATURE_CHALLENGE = 'X-Hub-Signature-256 realm="whatsapp"'

export interface AlertRoutesDeps {
  dispatcher: Dispatcher
  receipts: Receipts
  verifyToken: string | undefined
  appSecret: string | undefined
  /** Our sending number's id (WHATSAPP_PHONE_NUMBER_ID): webhook items for other numbers of the app are ignored. */
  phoneNumberId: string | undefined
  alertmanagerToken: string | undefined
  /** Body limit of the Alertmanager receiver, bytes (ALERTMANAGER_MAX_BODY_BYTES). */
  alertmanagerMaxBodyBytes: number
}

export function alertRoutes(deps: AlertRoutesDeps) {
  const whatsapp = new Elysia()
    .get(
      WHATSAPP_WEBHOOK_PATH,
      async ({ query, set }) => {
        // Closed as bearerAuth closes a route without its credential: 403 naming the variable,
        // so whoever sets the webhook up in Meta's dashboard sees what is missing.
        if (!deps.verifyToken)
          throw forbidden(
            'WhatsApp webhook verification is disabled: WHATSAPP_VERIFY_TOKEN is not configured',
          )
        // A token that does not match is a 403 too: Meta's set-up guide asks for 403 then.
        // Says which of the two it was, as the other 403s name what to send; the token is never echoed.
        if (query['hub.mode'] !== 'subscribe')
          throw forbidden('Webhook verification failed: hub.mode must be subscribe')
        if (!secretsEqual(query['hub.verify_token'] ?? '', deps.verifyToken))
          throw forbidden(
            "Webhook verification failed: hub.verify_token does not match WHATSAPP_VERIFY_TOKEN (set the same value as the Verify token in Meta's webhook settings)",
          )
        set.headers['content-type'] = 'text/plain; charset=utf-8'
        return query['hub.challenge'] ?? ''
      },
      {
        query: QueryParameters({
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
            'Meta calls it once when the webhook is configured: with hub.mode=subscribe and the WHATSAPP_VERIFY_TOKEN, it answers hub.challenge as text/plain; otherwise 403 (as Meta asks), and 403 naming the variable while WHATSAPP_VERIFY_TOKEN is unset.',
          security: [{ whatsappVerifyToken: [] }],
        },
        response: {
          200: t.String({ description: 'the challenge' }),
          403: ErrorEnvelopeModel,
          422: ErrorEnvelopeModel,
        },
      },
    )
    .post(
      WHATSAPP_WEBHOOK_PATH,
      async ({ request, set }) => {
        if (!deps.appSecret)
          throw forbidden('WhatsApp webhook is disabled: WHATSAPP_APP_SECRET is not configured')
        const raw = requestState(request)?.rawBody ?? ''
        if (!(await verifySignature(raw, request.headers.get('x-hub-signature-256'), deps.appSecret))) {
          // RFC 9110 §15.5.2 wants a challenge on every 401. The signature is no HTTP auth
          // scheme, so the challenge names the header that carries it, the way Bearer names its.
          set.headers['www-authenticate'] = WHATSAPP_SIGNATURE_CHALLENGE
          throw unauthorized('Missing or invalid X-Hub-Signature-256')
        }
        // Validated after the signature, item by item: an item of another shape is skipped and
        // counted, and the rest answered 200, since Meta retries anything else for days and
        // every retry would apply the good items again. A body that is not a JSON object (Meta
        // only sends objects) is answered 200 too, `received: false`: a 4xx would only make
        // Meta retry the junk.
        const webhook = readWhatsAppWebhook(raw, deps.phoneNumberId)
        if (webhook.invalid > 0) deps.receipts.skipped(webhook.invalid, webhook.firstInvalid)
        let statuses = 0
        for (const status of webhook.statuses) statuses += await deps.receipts.apply(status)
        for (const message of webhook.messages) await deps.dispatcher.handleInbound(message)
        return {
          received: webhook.object,
          statuses,
          messages: webhook.messages.length,
          invalid: webhook.invalid,
          otherNumber: webhook.otherNumber,
          withoutNumber: webhook.withoutNumber ?? 0,
        }
      },
      {
        detail: {
          tags: ['Alerts'],
          summary:
            'WhatsApp webhook: delivery statuses, replies (ACK, SILENCE <duration>, STATUS) and reactions; signed with X-Hub-Signature-256',
          description:
            'Meta posts message statuses (sent, delivered, read, failed) and replies here, signed with WHATSAPP_APP_SECRET; an unsigned or wrongly signed body answers 401 (`WWW-Authenticate: X-Hub-Signature-256 realm="whatsapp"`) and changes nothing, and every body answers 403 naming the variable while WHATSAPP_APP_SECRET is unset. Items of an unexpected shape are skipped and counted (`invalid`), the rest applied, and the answer is 200 (Meta retries anything else for days); items for another phone number of the app than WHATSAPP_PHONE_NUMBER_ID are ignored and counted (`otherNumber`); a body that is not a JSON object answers 200 with `received: false`. A reaction (👍 ✅ 👌 🙏) or a reply (ACK, OK, ON IT, SILENCE <duration>) to one of our alert messages applies to that message\'s alerts only (also when it answers an earlier attempt of a message we re-sent), and a quoted STATUS answers for them only. A re-delivered message is applied once.',
          security: [{ whatsappSignature: [] }],
        },
        response: {
          200: t.Object({
            received: t.Boolean({ description: 'false when the body is not a JSON object (ignored)' }),
            statuses: JsonInteger({
              description:
                'outbox rows a delivery status changed (their current attempt, or an earlier one it recorded)',
            }),
            messages: JsonInteger({
              description: 'inbound messages handled (texts, buttons, reactions, media)',
            }),
            invalid: JsonInteger({ description: 'malformed items skipped' }),
            otherNumber: JsonInteger({
              description:
                'items addressed to another phone number of the app (metadata.phone_number_id), ignored',
            }),
            withoutNumber: JsonInteger({
              description:
                'messages whose sender Meta names only by business-scoped user id (from_user_id, no from: a WhatsApp username user), ignored: recipients are configured by number',
            }),
          }),
          401: ErrorEnvelopeModel,
          403: ErrorEnvelopeModel,
          413: ErrorEnvelopeModel,
          503: ErrorEnvelopeModel,
        },
      },
    )

  const alertmanager = new Elysia()
    .use(bearerAuth('Alertmanager receiver', deps.alertmanagerToken, 'ALERTMANAGER_WEBHOOK_TOKEN'))
    .post(
      ALERTMANAGER_PATH,
      async ({ request }) => {
        const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
        if (type !== '' && type !== 'application/json' && !type.endsWith('+json'))
          throw unsupportedMediaType()
        // Read here, after the bearer check, as a stream: the body can be tens of megabytes.
        const notification = await readAlertmanagerNotification(
          request.body,
          deps.alertmanagerMaxBodyBytes,
        ).catch(async (error: unknown) => {
          // Refused whole, and Alertmanager does not retry a 4xx: the alerts are counted and
          // logged as skipped ones are, or they would be lost without a trace.
          if (error instanceof RefusedNotification)
            await deps.dispatcher.ingest([], 'alertmanager', undefined, {
              invalidAlerts: error.invalid,
              firstInvalid: error.firstInvalid,
            })
          throw error
        })
        const enqueued = await deps.dispatcher.ingest(notification.alerts, 'alertmanager', undefined, {
          truncatedAlerts: notification.truncatedAlerts,
          invalidAlerts: notification.invalid,
          firstInvalid: notification.firstInvalid,
          groupKey: groupIdentity(notification.groupKey),
        })
        return {
          accepted: notification.alerts.length,
          invalid: notification.invalid,
          truncatedAlerts: notification.truncatedAlerts,
          enqueued,
        }
      },
      {
        detail: {
          tags: ['Alerts'],
          summary:
            'Alertmanager webhook receiver (version 4): firing and resolved alerts go to the WhatsApp notifier',
          description:
            "Point an Alertmanager webhook_config here with the ALERTMANAGER_WEBHOOK_TOKEN as its bearer credential (403 while it is unset). Alerts are deduplicated by fingerprint: a re-sent group enqueues nothing new. A notification of a group (`groupKey`) with no `truncatedAlerts` and no malformed alert resolves each firing alert that group listed last and no longer lists (Alertmanager lists every unmuted alert of a group: a resolution it never sends, after a restart without storage or with `send_resolved: false`, is not lost; a silenced alert counts as ended, and fires again as a new episode when listed again). Takes any number of alerts (body limit ALERTMANAGER_MAX_BODY_BYTES, 32 MiB by default, read as a stream). Keys are matched as a receiver written in Go matches them (`Alerts`, `Status` too), and Grafana's extra fields are ignored; an alert without a fingerprint (Alertmanager before 0.19) is known by the one Alertmanager computes from its labels, one without startsAt by Go's zero time. Malformed alerts are skipped and counted (`invalid`); `truncatedAlerts` (Alertmanager's max_alerts) is shown to recipients as '+N more not shown by Alertmanager'. Answers 422 only when no alert in the payload is valid.",
          security: [{ alertmanagerToken: [] }],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  description:
                    "Alertmanager's webhook payload (version 4); other fields are accepted and ignored",
                  required: ['alerts'],
                  properties: {
                    // What the receiver checks, no more: it reads only `alerts`, `groupKey` and
                    // `truncatedAlerts` (alertmanager-payload.ts), `null` leaving either unset as
                    // Go's encoding/json does. `version` and the group's `status` are not read
                    // (each alert carries its own status), so any value is taken: a schema that
                    // typed them promised refusals the receiver never makes.
                    version: { description: "the payload's version, '4'; not read", examples: ['4'] },
                    status: {
                      description:
                        "the group's status, firing or resolved; not read: each alert's own status counts",
                      examples: ['firing'],
                    },
                    groupKey: { type: 'string', nullable: true, description: 'null: no group key' },
                    truncatedAlerts: {
                      type: 'integer',
                      minimum: 0,
                      maximum: 9007199254740991,
                      nullable: true,
                      description: 'null: none',
                    },
                    alerts: {
                      type: 'array',
                      // Untyped elements: a malformed alert is skipped and counted, not a refusal.
                      items: {
                        description:
                          'an Alertmanager alert; an element that is none (null, a number, a wrong status) is skipped and counted in `invalid`',
                      },
                    },
                  },
                },
              },
            },
          },
        },
        response: {
          200: t.Object({
            accepted: JsonInteger({ description: 'valid alerts taken' }),
            invalid: JsonInteger({ description: 'malformed alerts skipped' }),
            truncatedAlerts: JsonInteger({ description: 'alerts Alertmanager left out (max_alerts)' }),
            enqueued: JsonInteger({
              description: 'outbox rows written (one per recipient and transition); re-sends enqueue none',
            }),
          }),
          400: ErrorEnvelopeModel,
          401: ErrorEnvelopeModel,
          403: ErrorEnvelopeModel,
          413: ErrorEnvelopeModel,
          415: ErrorEnvelopeModel,
          422: ErrorEnvelopeModel,
          503: ErrorEnvelopeModel,
        },
      },
    )

  return new Elysia({ name: 'alert-routes' }).use(whatsapp).use(alertmanager)
}
