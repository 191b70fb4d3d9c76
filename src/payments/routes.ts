import { Elysia } from 'elysia'
import { type TenantAuthenticator, tenantAuth } from '../auth/plugin.ts'
import { ErrorEnvelopeModel } from '../http/models.ts'
import { documentedResponseHeaders } from '../http/openapi.ts'
import { requestState } from '../http/request-context.ts'
import { IdempotencyHeaders } from '../idempotency/model.ts'
import { withIdempotency } from '../idempotency/plugin.ts'
import { type IdempotencyService, tenantScope } from '../idempotency/service.ts'
import type { ErrorReporter } from '../observability/error-reporter.ts'
import { IdParams } from '../shared/models.ts'
import {
  CreatePaymentBody,
  PAYMENT_PENDING_RETRY_AFTER,
  PaymentErrorModel,
  PaymentModel,
  PaymentUnavailableModel,
} from './model.ts'
import { PaymentOutcomeUnknown, PaymentProviderFailed, type PaymentService } from './service.ts'

export function paymentRoutes(deps: {
  payments: PaymentService
  tenants: TenantAuthenticator
  errorReporter: ErrorReporter
  idempotency: IdempotencyService
}) {
  return new Elysia({ name: 'payment-routes', detail: { tags: ['Payments'], security: [{ tenantKey: [] }] } })
    .use(tenantAuth(deps.tenants))
    .post(
      '/orders/:id/payments',
      async ({ tenant, params, body, request, set }) => {
        try {
          set.status = 201
          const { requestId, traceId, traceFlags, traceState, log } = requestState(request)!
          return await withIdempotency(
            deps.idempotency,
            request,
            { scope: tenantScope(tenant.id) },
            (claim) =>
              deps.payments.pay(
                tenant.id,
                params.id,
                body,
                { requestId, traceId, traceFlags, ...(traceState === undefined ? {} : { traceState }), log },
                claim,
              ),
          )
        } catch (error) {
          if (error instanceof PaymentProviderFailed || error instanceof PaymentOutcomeUnknown) {
            // The 502 or 503 is reported once, with the payment's context attached to that event.
            deps.errorReporter.capturePaymentProviderError(request, {
              provider: error.payment.provider,
              paymentId: error.payment.id,
              orderId: error.payment.orderId,
              amountMinor: error.payment.amountMinor,
              currency: error.payment.currency,
              error: error.providerError,
            })
          }
          throw error
        }
      },
      {
        params: IdParams,
        body: CreatePaymentBody,
        headers: IdempotencyHeaders,
        detail: {
          summary:
            'Pay an order through a provider (sandbox: tok_success, tok_declined, tok_error); safe to retry with Idempotency-Key',
          description:
            'Charges the order total (minor units) and marks the order paid on success. A declined charge answers 402 and a provider failure 502, each with the recorded payment under error.details.payment; only pending or confirmed orders can be paid (409). When the provider gave no outcome (a timeout, a dropped connection, a 5xx) the order may have been charged: 503 PAYMENT_PENDING with the pending payment and Retry-After; the order cannot be paid again until the provider has been asked, and the same request retried with its Idempotency-Key after Retry-After answers the settled outcome (409 IDEMPOTENCY_KEY_IN_USE before that). A 402 or 502 whose charge the provider reports later (a webhook) is replayed as what this request would answer now: 201 with the succeeded payment.',
          ...documentedResponseHeaders({ '503': { 'Retry-After': PAYMENT_PENDING_RETRY_AFTER } }),
        },
        response: {
          201: PaymentModel,
          401: ErrorEnvelopeModel,
          402: PaymentErrorModel,
          404: ErrorEnvelopeModel,
          409: ErrorEnvelopeModel,
          422: ErrorEnvelopeModel,
          502: PaymentErrorModel,
          503: PaymentUnavailableModel,
        },
      },
    )
}
