/**
 * The one list of what counts as secret or personal in a key's name: log redaction
 * (core/logger.ts), the Sentry scrubber (observability/scrub.ts) and configuration errors
 * (config.ts) all read it, so adding a kind of secret here covers every output at once.
 */

/**
 * Matches a field, header, attribute or variable name whose value must never be shown:
 * credentials (authorization, cookies, passwords, secrets, tokens, API keys, signatures,
 * credentials, DSNs, idempotency keys: whoever holds one replays the request's stored answer)
 * and phone numbers (phone, msisdn, recipient). `IDEMPOTENCY_KEY_TTL` is a duration, not a key.
 */
export const SENSITIVE_KEY =
  /authorization|cookie|passw(or)?d|secret|token|api[-_.]?key|apikey|signature|credential|phone|msisdn|recipient|dsn|idempotency[-_.]?key(?![-_.]?ttl)/i

/**
 * The field names the service's own log calls use for such values; pino redacts them at
 * the top level and one level down. Each one matches SENSITIVE_KEY (a test holds this).
 */
export const SENSITIVE_LOG_KEYS = [
  'apiKey',
  'token',
  'authorization',
  'password',
  'secret',
  'phone',
  'ownerPhone',
  'alertPhones',
  'recipient',
] as const

/** Whether a value under `name` must be hidden. */
export function isSensitiveKey(name: string): boolean {
  return SENSITIVE_KEY.test(name)
}
