import { Value } from '@sinclair/typebox/value'
import { t } from 'elysia'
import type { Clock } from '../core/clock.ts'
import { AppError, notFound, unauthorized, unavailable, unsupportedMediaType } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { parseJsonBody } from '../http/json-body.ts'
import { fieldError, JsonInteger, oneOf } from '../shared/models.ts'
import type { WebhookMetrics } from './metrics.ts'
import { PAYMENT_STATUSES } from './model.ts'
import type { ChargeResult } from './providers.ts'
import type { PaymentService } from './service.ts'
import {
  checkWebhookSignature,
  type SignatureCheck,
  signatureHeaderName,
  WEBHOOK_TOLERANCE_SECONDS,
} from './webhook-signature.ts'

/** The route template of provider webhooks; `paymentWebhookPath` gives one provider's path. */
export const PAYMENT_WEBHOOK_ROUTE = '/webhooks/payments/:provider'

/** Where `provider` posts its reports: `/webhooks/payments/sandbox`. */
export const paymentWebhookPath = (provider: string) => `/webhooks/payments/${provider}`

/** The variable holding the webhook secrets, named in the 503 of a provider without one. */
export const WEBHOOK_SECRETS_VARIABLE = 'PAYMENT_WEBHOOK_SECRETS'

// Other fields are accepted and ignored: providers add fields to their events over time
// (Stripe's API upgrades do), and refusing them would turn every delivery into a retry.
const paymentId = t.String({
  minLength: 1,
  maxLength: 100,
  description: 'our payment id, which the charge sent the provider as its idempotency key',
  examples: ['0b7c1d1e-3f0a-4c6e-9a51-2f4f3b1d2c10'],
})
const eventId = t.Optional(
  t.String({
    minLength: 1,
    maxLength: 255,
    description: "the provider's id of the event, logged for correlation with its dashboard",
    examples: ['evt_1Nq2'],
  }),
)
const reference = t.String({
  minLength: 1,
  maxLength: 255,
  description: "the provider's reference of the charge",
  examples: ['sbx_0b7c1d1e'],
})

/** A provider's report of a charge it made: ChargeResult `succeeded` and whose payment it is. */
export const SucceededReport = t.Object(
  {
    paymentId,
    outcome: t.Literal('succeeded'),
    reference,
    amountMinor: JsonInteger({
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description:
        'what the provider charged, in integer minor units of currency; another amount than the payment’s is recorded as an error (amount_mismatch), never as paid',
      examples: [3000],
    }),
    currency: t.String({
      pattern: '^[A-Za-z]{3}$',
      description: 'ISO 4217 code of what was charged, any letter case',
      examples: ['KES'],
    }),
    eventId,
  },
  { description: 'The provider charged the payment' },
)

/** A provider's report of a charge it declined: ChargeResult `declined` and whose payment it is. */
export const DeclinedReport = t.Object(
  {
    paymentId,
    outcome: t.Literal('declined'),
    reason: t.String({
      minLength: 1,
      maxLength: 500,
      description: 'why, as the provider says it (stored as the failureReason)',
      examples: ['card_declined: insufficient funds'],
    }),
    reference: t.Optional(reference),
    eventId,
  },
  { description: 'The provider declined the payment' },
)

const REPORTS = { succeeded: SucceededReport, declined: DeclinedReport } as const

/** What a webhook may report of a payment: the provider's `ChargeResult` and the payment's id. */
export type PaymentWebhookReport = (typeof SucceededReport)['static'] | (typeof DeclinedReport)['static']

/** The 200 of a webhook: what the report did, and the payment as it now is. */
export const WebhookAnswerModel = t.Object(
  {
    outcome: oneOf(['paid', 'refund_required', 'amount_mismatch', 'failed', 'error', 'unchanged'] as const, {
      description:
        'what the report did: paid (the payment succeeded and its order is paid), refund_required (succeeded, but the order could no longer be paid), amount_mismatch (another amount or currency: error, not paid), failed or error (settled as not charged), unchanged (a repeat, or a report contradicting what the payment records)',
    }),
    paymentId: t.String(),
    status: oneOf(PAYMENT_STATUSES, { description: "the payment's status now" }),
  },
  { additionalProperties: false },
)

export type WebhookAnswer = (typeof WebhookAnswerModel)['static']

/** Provider webhooks: each signed report applied to its payment (`receive`). */
export interface PaymentWebhooks {
  /** The registered providers' webhook paths, whose bodies must reach `receive` unparsed. */
  readonly paths: readonly string[]
  /**
   * Verifies and applies one delivery of `provider`'s webhook: `rawBody` as received, its
   * `signature` header (`signatureHeaderName(provider)`) and its `content-type`, null when
   * absent. Resolves only once the report is committed (`PaymentService.recordProviderReport`),
   * also for a repeat (`unchanged`), so that a provider retrying until it gets a 2xx stops then.
   * Throws AppError 404 (unknown provider, or no payment of this provider with that id), 503
   * (no secret for the provider in PAYMENT_WEBHOOK_SECRETS), 401 (signature missing, malformed,
   * wrong or outside the tolerance; with `www-authenticate`), 415 (declared as another media
   * type than JSON), 400 (not JSON) or 422 (not a report); none of them changes anything.
   */
  receive(
    provider: string,
    rawBody: string,
    headers: { signature: string | null; contentType: string | null },
    log: Logger,
  ): Promise<WebhookAnswer>
}

const SIGNATURE_PROBLEM: Record<Exclude<SignatureCheck, 'valid'>, (header: string) => string> = {
  missing: (header) => `Missing ${header}`,
  malformed: (header) => `Invalid ${header}: expected t=<unix seconds>,v1=<hex HMAC-SHA256>`,
  mismatch: (header) => `Invalid ${header}: no v1 signature matches the body`,
  stale: (header) =>
    `Invalid ${header}: its timestamp is more than ${WEBHOOK_TOLERANCE_SECONDS}s away from our clock; sign each delivery when it is sent`,
}

/** A report's body: parsed, then checked against the schema its `outcome` names. */
function readReport(rawBody: string): PaymentWebhookReport {
  const value = parseJsonBody(rawBody)
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw fieldError('(body)', 'Expected object')
  const outcome = (value as { outcome?: unknown }).outcome
  const schema = outcome === 'succeeded' || outcome === 'declined' ? REPORTS[outcome] : undefined
  if (!schema) throw fieldError('outcome', 'Expected succeeded or declined')
  const first = Value.Errors(schema, value).First()
  if (first) throw fieldError(first.path.replace(/^\//, '').replaceAll('/', '.') || '(body)', first.message)
  return value as PaymentWebhookReport
}

function chargeResultOf(report: PaymentWebhookReport): ChargeResult {
  if (report.outcome === 'succeeded')
    return {
      outcome: 'succeeded',
      reference: report.reference,
      amountMinor: report.amountMinor,
      currency: report.currency,
    }
  return {
    outcome: 'declined',
    reason: report.reason,
    ...(report.reference === undefined ? {} : { reference: report.reference }),
  }
}

/**
 * Builds the webhook receiver of the registered `providers` (names), each verified with its
 * secrets from PAYMENT_WEBHOOK_SECRETS (`secrets`: several during a rotation) against `clock`.
 */
export function createPaymentWebhooks(deps: {
  payments: PaymentService
  providers: readonly string[]
  secrets: Readonly<Record<string, readonly string[]>>
  clock: Clock
  count: WebhookMetrics
}): PaymentWebhooks {
  const known = new Set(deps.providers)
  return {
    paths: deps.providers.map(paymentWebhookPath),
    async receive(provider, rawBody, { signature, contentType }, log) {
      // The name comes from the path: refused before it reaches a label or a log field.
      if (!known.has(provider)) throw notFound('Payment provider')
      const secrets = Object.hasOwn(deps.secrets, provider) ? deps.secrets[provider]! : []
      if (secrets.length === 0) {
        deps.count(provider, 'disabled')
        log.warn(
          { event: 'payment_webhook_disabled', provider },
          `a ${provider} webhook arrived but ${WEBHOOK_SECRETS_VARIABLE} has no secret for it; answered 503 so the provider retries`,
        )
        // 503, not 403: the provider retries a 5xx, so what arrives before the secret is set
        // is applied once it is.
        throw unavailable(
          `Payment webhooks from ${provider} are disabled: ${WEBHOOK_SECRETS_VARIABLE} has no secret for ${provider}`,
        )
      }
      const header = signatureHeaderName(provider)
      const check = checkWebhookSignature({
        header: signature,
        rawBody,
        secrets,
        nowSeconds: Math.floor(deps.clock.now().getTime() / 1000),
      })
      if (check !== 'valid') {
        deps.count(provider, 'unauthorized')
        log.warn({ event: 'payment_webhook_refused', provider, reason: check }, 'payment webhook refused')
        const error = unauthorized(SIGNATURE_PROBLEM[check](header))
        // RFC 9110 §11.6.1 wants a challenge on every 401; no scheme covers a body HMAC, so
        // it names the header that carries the signature.
        error.headers['www-authenticate'] = `${header} realm="payments"`
        throw error
      }
      let report: PaymentWebhookReport
      try {
        // A raw-body route is spared the parser's media-type check: made here, as the rest of
        // the API makes it, once the sender is known.
        const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase()
        if (type !== '' && type !== 'application/json' && !type.endsWith('+json'))
          throw unsupportedMediaType()
        report = readReport(rawBody)
      } catch (error) {
        deps.count(provider, 'invalid')
        throw error
      }
      let applied: Awaited<ReturnType<PaymentService['recordProviderReport']>>
      try {
        applied = await deps.payments.recordProviderReport(
          provider,
          report.paymentId,
          chargeResultOf(report),
          log,
        )
      } catch (error) {
        if (error instanceof AppError && error.status === 404) deps.count(provider, 'unknown_payment')
        throw error
      }
      deps.count(provider, applied.outcome)
      log.info(
        {
          event: 'payment_webhook',
          provider,
          paymentId: applied.payment.id,
          eventId: report.eventId,
          reported: report.outcome,
          outcome: applied.outcome,
          status: applied.payment.status,
        },
        'payment webhook applied',
      )
      return { outcome: applied.outcome, paymentId: applied.payment.id, status: applied.payment.status }
    },
  }
}
