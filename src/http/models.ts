import { t } from 'elysia'

/** OpenAPI model of the common error envelope, used in every route's error responses. */
export { ErrorEnvelopeModel } from '../core/errors.ts'

export const UuidParam = t.String({ format: 'uuid', description: 'resource id (UUID)' })
