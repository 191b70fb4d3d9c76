import { t } from 'elysia'

/** OpenAPI model of the common error envelope, used in every route's error responses. */
export const ErrorEnvelopeModel = t.Object(
  {
    error: t.Object({
      code: t.String({ examples: ['VALIDATION'] }),
      message: t.String({ examples: ['Invalid body: items.0.quantity — Expected integer'] }),
      details: t.Optional(t.Unknown()),
      requestId: t.String({ examples: ['3f1c2a9e-8d0b-4c55-9e3a-1f6b2c7d8e90'] }),
    }),
  },
  { description: 'Error envelope' },
)

export const UuidParam = t.String({ format: 'uuid', description: 'resource id (UUID)' })
