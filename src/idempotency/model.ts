import { t } from 'elysia'

/** The request header (draft-ietf-httpapi-idempotency-key-header; Stripe's `Idempotency-Key`). */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key'
/** Set to `true` on a response replayed from a stored one (Stripe's `Idempotent-Replayed`). */
export const IDEMPOTENT_REPLAYED_HEADER = 'idempotent-replayed'
/** What a key with another character is told (by the header's schema and by parseIdempotencyKey). */
export const KEY_CHARACTERS = 'must be printable ASCII characters'
/** Longest key accepted, as Stripe's API. */
export const MAX_KEY_LENGTH = 255

/**
 * The `Idempotency-Key` header as an OpenAPI header parameter. The key itself is 1–255
 * printable ASCII characters; the draft's Structured Field form (the key in double quotes)
 * is accepted too. The length is checked by `parseIdempotencyKey` alone, after unquoting, so
 * that every over-long key gets the one message `must be at most 255 characters` (a schema
 * limit of 257 answered longer keys in other words), and so is emptiness (`must not be
 * empty`, also for a key of spaces or `""`); the schema refuses other characters in the
 * parser's words.
 */
export const IdempotencyHeaders = t.Object({
  [IDEMPOTENCY_KEY_HEADER]: t.Optional(
    t.String({
      pattern: '^[\\x20-\\x7E]*$',
      error: KEY_CHARACTERS,
      description:
        'Makes a retry safe: the first request with a key runs and its response (status and body) is stored for IDEMPOTENCY_KEY_TTL (default 24h); a repeat with the same key and body replays it with `Idempotent-Replayed: true` and does nothing again. Same key, different body → 422 IDEMPOTENCY_KEY_REUSED; while the first is still running → 409 IDEMPOTENCY_KEY_IN_USE with Retry-After. Up to 255 printable ASCII characters (a UUID is a good key), scoped to the caller; send the header once, and quote a key that holds a comma (a repeated header or a list → 422).',
      examples: ['8e03978e-40d5-43e8-bc93-6894a57f9324'],
    }),
  ),
})
