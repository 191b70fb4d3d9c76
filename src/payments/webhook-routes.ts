import { Elysia, t } from 'elysia'
import { ErrorEnvelopeModel } from '../http/models.ts'
import { requestState } from '../http/request-context.ts'
import {
  DeclinedReport,
  PAYMENT_WEBHOOK_ROUTE,
  type PaymentWebhooks,
  SucceededReport,
  WebhookAnswerModel,
} from './webhook.ts'
import { signatureHeaderName, WEBHOOK_TOLERANCE_SECONDS } from './webhook-signature.ts'

/**
 * `POST /webhooks/payments/:provider`: a provider's signed report of a payment's outcome
 * (`PaymentWebhooks.receive`). The body must reach it unparsed (app.ts lists `webhooks.paths`
 * as raw-body paths): the signature covers its bytes, and is checked before anything is read.
 */
export function paymentWebhookRoutes(deps: { webhooks: PaymentWebhooks }) {
  return new Elysia({ name: 'payment-webhook-routes' }).post(
    PAYMENT_WEBHOOK_ROUTE,
    async ({ params, request }) => {
      const state = requestState(request)!
      return deps.webhooks.receive(
        params.provider,
        state.rawBody ?? '',
        {
          signature: request.headers.get(signatureHeaderName(params.provider)),
          contentType: request.headers.get('content-type'),
        },
        state.log,
      )
    },
    {
      params: t.Object({
        provider: t.String({ description: 'the provider, as registered', examples: ['sandbox'] }),
      }),
      detail: {
        tags: ['Payments'],
        summary:
          "A payment provider's webhook: its signed report of a payment's outcome (Sandbox-Signature for the sandbox)",
        description: `The provider posts what became of a payment it was asked to charge (the payment's id is the idempotency key it was sent), signed Stripe's way: the header \`<Provider>-Signature\` (\`Sandbox-Signature\` for the sandbox) carries \`t=<Unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">\` keyed with the provider's secret in PAYMENT_WEBHOOK_SECRETS (any \`v1\` may match, and any of the provider's secrets during a rotation). A missing, malformed or wrong signature, or a timestamp more than ${WEBHOOK_TOLERANCE_SECONDS}s from our clock (a replay), answers 401 and changes nothing; while the provider has no secret it answers 503 naming the variable, so that the provider retries. A pending payment is settled by the report; a success arriving after the payment was settled without a charge (declined, or given up by reconciliation) is recorded, paying the order when it still can be and flagging the charge refund_required when it cannot; a charge of another amount or currency is recorded as an error (amount_mismatch), never paid; a repeat, or a decline after a success, changes nothing. Answers 200 only once the report is committed, with what it did (a repeat: unchanged), so a provider retrying until it gets a 2xx may deliver the same event any number of times; 404 for an unknown provider or a payment this provider has none of, 400 for a body that is not JSON (415 for one declared as another media type), 422 for one that is no report (other fields are ignored).`,
        security: [{ paymentWebhookSignature: [] }],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              // TypeBox's JSON Schema; the document is made OpenAPI 3.0 by fixOpenApiDocument.
              // No `discriminator`: it needs named `$ref` alternatives, and `outcome`'s constant
              // already tells the two apart.
              schema: { oneOf: [SucceededReport, DeclinedReport] } as never,
            },
          },
        },
      },
      response: {
        200: WebhookAnswerModel,
        401: ErrorEnvelopeModel,
        404: ErrorEnvelopeModel,
        422: ErrorEnvelopeModel,
        503: ErrorEnvelopeModel,
      },
    },
  )
}
