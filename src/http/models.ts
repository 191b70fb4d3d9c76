import type { ObjectOptions, TProperties } from '@sinclair/typebox'
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

/**
 * A route's query schema: the parameters it declares are validated (and checked by the
 * request context for repetition and decimal integers), any other is ignored. Query strings
 * gain parameters on the way (a proxy's cache buster, `utm_*` tracking, Meta adding one to
 * its webhook handshake), and Elysia's query validators refuse an object's unknown properties
 * unless the schema says `additionalProperties: true`, which also keeps the OpenAPI document
 * from changing with traffic (see ErrorEnvelopeModel).
 *
 * @param properties the declared parameters, as in `t.Object`
 * @param options further TypeBox object options (`description`, …)
 */
export function QueryParameters<Properties extends TProperties>(
  properties: Properties,
  options: Omit<ObjectOptions, 'additionalProperties'> = {},
) {
  return t.Object(properties, { ...options, additionalProperties: true })
}
