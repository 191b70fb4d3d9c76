import { JSON_CONTENT_TYPE } from '../http/error-envelope.ts'
import { requestState } from '../http/request-context.ts'
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER } from './model.ts'
import {
  type IdempotencyClaim,
  type IdempotencyService,
  parseIdempotencyKey,
  requestFingerprint,
  type StoredResponse,
} from './service.ts'

/**
 * The stored response, byte for byte and with the content type every JSON answer is sent
 * with (a 201, or a 402 or 502 stored for the key), marked as a replay.
 */
export function replayResponse(stored: StoredResponse): Response {
  return new Response(stored.body, {
    status: stored.status,
    headers: {
      'content-type': JSON_CONTENT_TYPE,
      [IDEMPOTENT_REPLAYED_HEADER]: 'true',
    },
  })
}

/**
 * Runs a creating route's handler under its `Idempotency-Key`, if the request has one:
 * without the header `run` simply runs (claim undefined). With it, the key is claimed first;
 * a key that already holds a response answers with that response (`Idempotent-Replayed:
 * true`) and `run` does not run. `run` must pass the claim to the transaction of its effect
 * (`claim.record`), and the claim is given back if `run` throws before any effect.
 * Throws 422 VALIDATION for a malformed key, 422 IDEMPOTENCY_KEY_REUSED and 409
 * IDEMPOTENCY_KEY_IN_USE (IdempotencyKeyInUse, with its Retry-After) as
 * IdempotencyService.claim. Call it after authentication and body
 * validation: requests refused there never touch a key (as Stripe's API).
 */
export async function withIdempotency<T>(
  service: IdempotencyService,
  request: Request,
  caller: { scope: string; sealWith?: string },
  run: (claim: IdempotencyClaim | undefined) => Promise<T>,
): Promise<T | Response> {
  const key = parseIdempotencyKey(request.headers.get(IDEMPOTENCY_KEY_HEADER))
  if (key === undefined) return run(undefined)
  const state = requestState(request)
  const outcome = await service.claim({
    scope: caller.scope,
    key,
    // The router serves `/orders/` as `/orders`: a retry that adds or drops the slash is the same
    // request. So is one that spells the path's id in other letter case (a UUID names the same
    // record either way); the routes' own words are lower case, and another spelling of them is
    // a 404 before any key is claimed.
    fingerprint: requestFingerprint(
      request.method,
      new URL(request.url).pathname.replace(/(?<=.)\/+$/, '').toLowerCase(),
      state?.rawBody ?? '',
    ),
    requestId: state?.requestId ?? 'unknown',
    sealWith: caller.sealWith,
  })
  if (outcome.kind === 'replay') return replayResponse(outcome.response)
  const { claim } = outcome
  try {
    return await run(claim)
  } catch (error) {
    await claim
      .release()
      .catch((releaseError) =>
        state?.log.error({ err: releaseError }, 'could not release an idempotency key'),
      )
    throw error
  }
}
