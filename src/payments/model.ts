import { t } from 'elysia'
import type { DocumentedHeader } from '../http/openapi.ts'
import { CurrencyCode, MinorUnits, oneOf, Timestamp, Uuid } from '../shared/models.ts'

export const PAYMENT_STATUSES = ['pending', 'succeeded', 'failed', 'error'] as const
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number]

export const CreatePaymentBody = t.Object(
  {
    provider: t.String({ minLength: 1, maxLength: 50, examples: ['sandbox'] }),
    source: t.String({
      minLength: 1,
      maxLength: 500,
      description: 'provider payment source; sandbox: tok_success | tok_declined | tok_error',
      examples: ['tok_success'],
    }),
  },
  { additionalProperties: false },
)

// Response models state `additionalProperties: false`: Elysia would otherwise set it on this shared
// object when a route using it as its response first compiles, changing /swagger/json with traffic
// (see ErrorEnvelopeModel in src/http/models.ts).
export const PaymentModel = t.Object(
  {
    id: Uuid,
    orderId: Uuid,
    status: oneOf(PAYMENT_STATUSES),
    provider: t.String(),
    amountMinor: MinorUnits('amount charged (the order total)'),
    currency: CurrencyCode,
    providerReference: t.Union([t.String(), t.Null()]),
    failureReason: t.Union([t.String(), t.Null()]),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { description: 'A payment', additionalProperties: false },
)

export const PaymentErrorModel = t.Object(
  {
    error: t.Object({
      code: t.String({ examples: ['PAYMENT_DECLINED'] }),
      message: t.String(),
      details: t.Object({ payment: PaymentModel }),
      requestId: t.String(),
    }),
  },
  { description: 'The payment was recorded but did not succeed', additionalProperties: false },
)

/**
 * A 503 of the payment route: PAYMENT_PENDING with the payment still pending (the provider gave
 * no outcome; retry after Retry-After), or UNAVAILABLE without details (the database is down).
 */
export const PaymentUnavailableModel = t.Object(
  {
    error: t.Object({
      code: t.String({ examples: ['PAYMENT_PENDING'] }),
      message: t.String(),
      details: t.Optional(t.Object({ payment: PaymentModel })),
      requestId: t.String(),
    }),
  },
  {
    description:
      'The outcome is not known yet (PAYMENT_PENDING: retry after Retry-After), or the service is unavailable',
    additionalProperties: false,
  },
)

/**
 * The `Retry-After` of a 503 PAYMENT_PENDING (PaymentOutcomeUnknown, set by the error boundary),
 * documented as the 409 IDEMPOTENCY_KEY_IN_USE's is: integer seconds (RFC 9110 §10.2.3).
 */
export const PAYMENT_PENDING_RETRY_AFTER: DocumentedHeader = {
  description:
    'With PAYMENT_PENDING only (RFC 9110 §10.2.3): seconds until reconciliation should have asked the provider and settled the payment (PAYMENT_PENDING_LEASE plus a quarter lease, at most 30s more, from when the payment was recorded); retry the request with the same Idempotency-Key then. Absent from 503 UNAVAILABLE',
  schema: { type: 'integer', minimum: 1 },
}

export type PaymentView = typeof PaymentModel.static
export type CreatePayment = typeof CreatePaymentBody.static
