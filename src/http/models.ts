import { t } from 'elysia'
import { ErrorEnvelopeModel as ErrorEnvelopeSchema } from '../core/errors.ts'

/**
 * OpenAPI model of the common error envelope (`{ error: { code, message, details?, requestId } }`,
 * the schema of src/core/errors.ts), used in every route's error responses.
 *
 * `additionalProperties` is stated because Elysia sets `additionalProperties: false` on a route's
 * root object schema that lacks the keyword when it compiles the route's validators, on the
 * route's first request: on this shared object that would change the OpenAPI document with
 * traffic. `false` is what those validators enforce, and the envelope has no other field.
 */
export const ErrorEnvelopeModel = t.Object(ErrorEnvelopeSchema.properties, {
  description: ErrorEnvelopeSchema.description,
  additionalProperties: false,
})

export const UuidParam = t.String({ format: 'uuid', description: 'resource id (UUID)' })
