import { createHmac } from 'node:crypto'
import { secretsEqual } from '../core/hash.ts'

/**
 * How far a signature's timestamp may be from our clock (seconds) before the webhook is
 * refused as a replay: Stripe's default tolerance (stripe-php WebhookSignature::verifyHeader,
 * `DEFAULT_TOLERANCE = 300`). A provider retrying a webhook signs each attempt anew, so only a
 * captured copy grows old.
 */
export const WEBHOOK_TOLERANCE_SECONDS = 300

/**
 * The header a provider signs its webhooks in, Stripe's `Stripe-Signature` named after the
 * provider: `sandbox` → `Sandbox-Signature` (HTTP header names are case-insensitive).
 */
export function signatureHeaderName(provider: string): string {
  return `${provider.charAt(0).toUpperCase()}${provider.slice(1)}-Signature`
}

/** Lower-case hex HMAC-SHA256 of `${t}.${rawBody}` keyed with `secret`: Stripe's `v1` scheme. */
function v1Signature(secret: string, unixSeconds: number | string, rawBody: string): string {
  return createHmac('sha256', secret).update(`${unixSeconds}.${rawBody}`).digest('hex')
}

/**
 * The signature header value for `rawBody` sent at `unixSeconds` (integer seconds since the
 * epoch): `t=<unixSeconds>,v1=<hex HMAC-SHA256 of "<t>.<rawBody>" keyed with secret>`, as
 * Stripe signs (stripe-ruby Webhook::Signature.compute_signature and generate_header). What
 * a provider, the sandbox's demo or a test sends in `signatureHeaderName(provider)`; the body
 * must then be sent byte for byte as signed.
 */
export function signWebhook(secret: string, rawBody: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${v1Signature(secret, unixSeconds, rawBody)}`
}

/**
 * Why a webhook's signature was refused, or `valid`: `missing` (no header), `malformed` (no
 * integer `t` or no `v1`), `stale` (`t` further than the tolerance from now, either way),
 * `mismatch` (no `v1` is the body's HMAC under any of the secrets).
 */
export type SignatureCheck = 'valid' | 'missing' | 'malformed' | 'stale' | 'mismatch'

/**
 * Checks a Stripe-style signature header against the raw body, as stripe-php's
 * WebhookSignature::verifyHeader does: the header's comma-separated `key=value` items give one
 * `t` (integer Unix seconds) and any number of `v1` (other schemes such as Stripe's `v0` are
 * ignored); the body is accepted when some `v1` equals the HMAC-SHA256 of `${t}.${rawBody}`
 * under some secret (several during a rotation, as Stripe sends one `v1` per active secret),
 * compared in constant time, and `t` is within `toleranceSeconds` of `nowSeconds` in either
 * direction (stripe-php: `abs(time() - $timestamp) > $tolerance`). The timestamp is checked
 * after the signature, so that only a correctly signed request learns that its clock is off.
 *
 * @param header the header's value, null when absent
 * @param secrets the provider's secrets (at least one)
 * @param nowSeconds our clock, Unix seconds
 */
export function checkWebhookSignature(options: {
  header: string | null
  rawBody: string
  secrets: readonly string[]
  nowSeconds: number
  toleranceSeconds?: number
}): SignatureCheck {
  const { header } = options
  if (header === null || header.trim() === '') return 'missing'
  let timestamp: string | undefined
  const signatures: string[] = []
  for (const item of header.split(',')) {
    const at = item.indexOf('=')
    if (at < 0) continue
    const key = item.slice(0, at).trim()
    const value = item.slice(at + 1).trim()
    if (key === 't') timestamp ??= value
    else if (key === 'v1' && value !== '') signatures.push(value.toLowerCase())
  }
  if (timestamp === undefined || !/^\d{1,15}$/.test(timestamp) || signatures.length === 0) return 'malformed'
  const signed = options.secrets.some((secret) => {
    // The timestamp's text as sent: that is what was signed.
    const expected = v1Signature(secret, timestamp, options.rawBody)
    // Every v1 is compared, so the time taken does not say which one matched.
    return signatures.reduce((found, given) => secretsEqual(given, expected) || found, false)
  })
  if (!signed) return 'mismatch'
  const tolerance = options.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS
  return Math.abs(options.nowSeconds - Number(timestamp)) > tolerance ? 'stale' : 'valid'
}
