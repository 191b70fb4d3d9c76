import type { Clock } from '../core/clock.ts'
import { AppError, idempotencyKeyInUse, idempotencyKeyReused } from '../core/errors.ts'
import { sha256Hex } from '../core/hash.ts'
import type { Database, Executor } from '../db/client.ts'
import { fieldError } from '../shared/models.ts'
import { IDEMPOTENCY_KEY_HEADER, KEY_CHARACTERS, MAX_KEY_LENGTH } from './model.ts'
import { createIdempotencyRepository, type IdempotencyRow } from './repository.ts'

const PRINTABLE = /^[\x20-\x7E]+$/
const ONE_KEY = 'must be one key: a bare key without commas or one quoted string, and the header sent once'

/**
 * The key of an `Idempotency-Key` header value, or undefined when the header is absent.
 * Accepts the bare key (as Stripe's clients send it) and the draft's Structured Field String
 * (`"key"`, with `\"` and `\\` escapes). Throws a 422 VALIDATION naming the header when the key
 * is empty or blank (quoted `"   "` too), longer than 255 characters or not printable ASCII,
 * and when the value is a list (a bare key with a comma, or quotes around less than all of
 * it): that is what a header sent twice looks like once joined, and taking it as one new key
 * would run the request again.
 */
export function parseIdempotencyKey(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined
  let key = value.trim()
  const quoted = /^"((?:[^"\\]|\\["\\])*)"$/.exec(key)
  if (quoted) key = quoted[1]!.replace(/\\(["\\])/g, '$1')
  const problem =
    // Fetch joins a repeated header with ", ": a list is no key, whichever of them was meant.
    !quoted && (key.includes(',') || key.startsWith('"'))
      ? ONE_KEY
      : // A blank key, bare or quoted, is what a bot whose key variable was empty sends: taken as
        // a key, every such request would share it and replay one another's first answer.
        key.trim().length === 0
        ? 'must not be empty'
        : key.length > MAX_KEY_LENGTH
          ? `must be at most ${MAX_KEY_LENGTH} characters`
          : PRINTABLE.test(key)
            ? undefined
            : KEY_CHARACTERS
  if (problem) throw fieldError(IDEMPOTENCY_KEY_HEADER, problem, 'headers')
  return key
}

const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes))
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
const encoder = new TextEncoder()

/**
 * The request fingerprint a key is bound to: SHA-256 over the method, the path and the
 * SHA-256 of the raw body bytes, as Stripe compares a retry's parameters with the first
 * request's. The query string is not part of it (no creating route reads one).
 */
export function requestFingerprint(method: string, path: string, body: string): string {
  return sha256Hex(`${method.toUpperCase()}\n${path}\n${sha256Hex(body)}`)
}

/** The scope of a key created with the admin token: the token's hash, never the token. */
export function adminScope(adminToken: string): string {
  return `admin:${sha256Hex(adminToken)}`
}

export const tenantScope = (tenantId: string) => `tenant:${tenantId}`

async function sealingKey(secret: string, salt: string) {
  const base = await crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, ['deriveKey'])
  return crypto.subtle.deriveKey(
    {
      name: 'HKDF',
      hash: 'SHA-256',
      salt: encoder.encode(salt),
      info: encoder.encode('idempotency-response'),
    },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  )
}

/** AES-256-GCM with a key derived (HKDF-SHA-256) from `secret` and `salt`; base64 of iv‖ciphertext. */
async function seal(secret: string, salt: string, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv },
    await sealingKey(secret, salt),
    encoder.encode(plaintext),
  )
  const out = new Uint8Array(iv.length + sealed.byteLength)
  out.set(iv)
  out.set(new Uint8Array(sealed), iv.length)
  return toBase64(out)
}

async function unseal(secret: string, salt: string, sealed: string): Promise<string> {
  const bytes = fromBase64(sealed)
  const plain = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: bytes.subarray(0, 12) },
    await sealingKey(secret, salt),
    bytes.subarray(12),
  )
  return new TextDecoder().decode(plain)
}

/** One request's identity for idempotency. */
export interface IdempotentRequest {
  /** Whose keys these are: `tenantScope(id)` or `adminScope(token)`. */
  scope: string
  key: string
  /** `requestFingerprint(method, path, body)`. */
  fingerprint: string
  requestId: string
  /**
   * Encrypts the stored response with a key derived from this secret (the caller's
   * credential), for responses that carry a secret of their own (a new tenant's API key).
   */
  sealWith?: string
}

/** A stored response, as it is sent again. */
export interface StoredResponse {
  status: number
  /** The exact bytes of the first response's JSON body. */
  body: string
}

/**
 * The right to run one request for a key. The effect's transaction calls `record` with the
 * response, so that the response exists exactly when the effect does.
 */
export interface IdempotencyClaim {
  /** Request id of the request holding the claim (its error bodies carry it). */
  readonly requestId: string
  /**
   * Links the claim to an effect started outside the response's transaction (a pending
   * payment), in that effect's transaction: from then on the claim is never taken over, and
   * whoever settles the effect (the request, or reconciliation) stores the response.
   */
  attach(tx: Executor, resourceId: string): Promise<void>
  /**
   * Stores the response, in the effect's transaction. Throws IDEMPOTENCY_KEY_IN_USE (rolling
   * the effect back) when another request took the key over, also when that request already
   * stored its own response; a no-op when reconciliation already stored the response for the
   * effect this claim attached.
   */
  record(tx: Executor, response: StoredResponse): Promise<void>
  /** Gives the key back after a request that did nothing (it failed before any effect). */
  release(): Promise<void>
  /**
   * Leaves the attached effect to whoever settles it (a payment left pending, answered 503
   * PAYMENT_PENDING: reconciliation stores the response, `completeWaitingOn`), expected by
   * `settledBy`: until then a retry's 409 IDEMPOTENCY_KEY_IN_USE carries a `Retry-After` up to
   * that time instead of IN_FLIGHT_RETRY_AFTER_SECONDS. A no-op when the claim was lost or
   * already answered.
   */
  handOver(settledBy: Date): Promise<void>
}

/**
 * 409 IDEMPOTENCY_KEY_IN_USE, with how long the retry should wait (the route's `Retry-After`,
 * RFC 9110 §10.2.3).
 */
export class IdempotencyKeyInUse extends AppError {
  constructor(
    /** Whole seconds, at least 1. */
    readonly retryAfterSeconds: number = IN_FLIGHT_RETRY_AFTER_SECONDS,
  ) {
    const error = idempotencyKeyInUse()
    super(error.status, error.code, error.message)
    this.headers['retry-after'] = String(retryAfterSeconds)
  }
}

/**
 * The `Retry-After` (s) of a 409 while the key's first request is still running: most finish
 * well within a second; a payment's provider call may take up to PAYMENT_PROVIDER_TIMEOUT_MS,
 * and nothing stored says how far along it is.
 */
export const IN_FLIGHT_RETRY_AFTER_SECONDS = 1

/**
 * How long a retry of the key in `row` should wait (whole seconds, at least 1): until the
 * time its effect should be settled when the request handed it over (no lock token, an
 * effect attached, `lockedUntil` its due time); IN_FLIGHT_RETRY_AFTER_SECONDS otherwise, and
 * once that time has passed (the settler looks again soon).
 */
function retryAfterSecondsFor(row: IdempotencyRow, now: Date): number {
  if (row.lockToken !== null || row.resourceId === null || row.lockedUntil === null)
    return IN_FLIGHT_RETRY_AFTER_SECONDS
  return Math.max(
    IN_FLIGHT_RETRY_AFTER_SECONDS,
    Math.ceil((row.lockedUntil.getTime() - now.getTime()) / 1000),
  )
}

export type ClaimOutcome =
  | { kind: 'claimed'; claim: IdempotencyClaim }
  | { kind: 'replay'; response: StoredResponse }

/**
 * Stores `respond(requestId)` for every key still waiting on `resourceId` (attached, no
 * response yet), in `tx`: how reconciliation answers the retries of a request whose process
 * died mid-effect or which answered 503 PAYMENT_PENDING. Keys already answered are left as
 * they are. `settledAt` is the settler's clock: each key is then kept for its own TTL
 * (IDEMPOTENCY_KEY_TTL when it was claimed, `expiresAt - createdAt`) from then on, if that is
 * later than its expiry, since expiry spared it while unsettled and the client's retry may
 * only now come to get the outcome.
 */
export async function completeWaitingOn(
  tx: Executor,
  resourceId: string,
  settledAt: Date,
  respond: (requestId: string) => StoredResponse,
): Promise<void> {
  const repo = createIdempotencyRepository()
  for (const row of await repo.pendingFor(tx, resourceId)) {
    const ttlMs = row.expiresAt.getTime() - row.createdAt.getTime()
    const expiresAt = new Date(Math.max(row.expiresAt.getTime(), settledAt.getTime() + ttlMs))
    await repo.settle(tx, row.scope, row.key, { ...respond(row.requestId), sealed: false }, expiresAt)
  }
}

/**
 * Replaces the response stored for every key attached to `resourceId` that was already
 * answered with `respond(requestId)`, in the transaction that changed the effect: how a
 * payment answered 402 PAYMENT_DECLINED or 502 PROVIDER_ERROR, whose provider later reports
 * the charge (a webhook, a late answer), is told on its key's replays. Stripe's API v1 would
 * replay the first answer ("not charged") although the customer paid; a bot retrying it would
 * tell the customer the payment failed, and ask for a payment the order no longer takes. Its
 * API v2 (docs.stripe.com/api/idempotent_requests) returns "an updated response" on a retry,
 * as Worldline's and bePaid's idempotency layers send "the current status of a payment"; this
 * does the same. Keys keep their expiry and lock; sealed
 * responses are left as they are (none is a payment's).
 */
export async function restateAnsweredOn(
  tx: Executor,
  resourceId: string,
  respond: (requestId: string) => StoredResponse,
): Promise<void> {
  const repo = createIdempotencyRepository()
  for (const row of await repo.answeredFor(tx, resourceId))
    await repo.restate(tx, row.scope, row.key, respond(row.requestId))
}

/** How long a claim with no effect recorded blocks its key when its holder went away (crash). */
export const DEFAULT_CLAIM_LEASE_MS = 60_000

/**
 * Idempotency keys with Stripe's semantics (and draft-ietf-httpapi-idempotency-key-header):
 * a key is claimed before the request runs; the first request's response is stored in the
 * transaction of its effect; a repeat with the same fingerprint replays it, a different
 * fingerprint is 422 IDEMPOTENCY_KEY_REUSED, and a repeat while the first runs is 409
 * IDEMPOTENCY_KEY_IN_USE. Keys live `ttlMs`, then `prune` deletes them; a key whose attached
 * effect is unsettled (a payment left pending) is kept until it settles and `ttlMs` after.
 */
export function createIdempotencyService(deps: {
  db: Database
  clock: Clock
  /** How long a key is remembered (IDEMPOTENCY_KEY_TTL). */
  ttlMs: number
  claimLeaseMs?: number
}) {
  const repo = createIdempotencyRepository()
  const { db, clock } = deps
  const leaseMs = deps.claimLeaseMs ?? DEFAULT_CLAIM_LEASE_MS

  function claimFor(request: IdempotentRequest, token: string): IdempotencyClaim {
    const { scope, key } = request
    // The effect this claim attached, once it has: only its settler may have stored the response.
    let attachedTo: string | undefined
    return {
      requestId: request.requestId,
      async attach(tx, resourceId) {
        if (!(await repo.attach(tx, scope, key, token, resourceId))) throw new IdempotencyKeyInUse()
        attachedTo = resourceId
      },
      async record(tx, response) {
        const body = request.sealWith
          ? await seal(request.sealWith, `${scope}\n${key}`, response.body)
          : response.body
        if (
          await repo.complete(tx, scope, key, token, {
            status: response.status,
            body,
            sealed: !!request.sealWith,
          })
        )
          return
        // A response stored by someone else is ours only when it settled the effect this claim
        // attached (reconciliation). Otherwise a retry took the key over after our lease and
        // stored its own effect's response: committing ours too would do the request twice.
        const row = await repo.find(tx, scope, key)
        const settledOurs =
          attachedTo !== undefined && row?.resourceId === attachedTo && row.responseStatus !== null
        if (!settledOurs) throw new IdempotencyKeyInUse()
      },
      async release() {
        await repo.release(db, scope, key, token)
      },
      async handOver(settledBy) {
        await repo.handOver(db, scope, key, token, settledBy)
      },
    }
  }

  async function stored(request: IdempotentRequest, status: number, body: string, sealed: boolean) {
    if (!sealed) return { status, body }
    if (!request.sealWith) throw idempotencyKeyReused()
    try {
      return { status, body: await unseal(request.sealWith, `${request.scope}\n${request.key}`, body) }
    } catch {
      // Sealed with another secret: the same scope can only mean the same credential, so
      // this is a different caller's request.
      throw idempotencyKeyReused()
    }
  }

  return {
    /**
     * Claims `request.key` for this request, or answers from what the key already holds:
     * `replay` with the stored response; throws IDEMPOTENCY_KEY_REUSED (422) for another
     * fingerprint and IdempotencyKeyInUse (409, with its Retry-After) while its first request
     * runs or its handed-over effect is unsettled.
     */
    async claim(request: IdempotentRequest): Promise<ClaimOutcome> {
      const token = crypto.randomUUID()
      const now = clock.now()
      const lockedUntil = new Date(now.getTime() + leaseMs)
      const outcome = await db.transaction(async (tx) => {
        await repo.deleteExpired(tx, request.scope, request.key, now)
        const inserted = await repo.insertClaim(tx, {
          scope: request.scope,
          key: request.key,
          fingerprint: request.fingerprint,
          requestId: request.requestId,
          lockToken: token,
          lockedUntil,
          // On the same clock as expiresAt: their difference is the key's TTL (completeWaitingOn).
          createdAt: now,
          expiresAt: new Date(now.getTime() + deps.ttlMs),
        })
        if (inserted) return { kind: 'claimed' as const }
        const row = await repo.findForUpdate(tx, request.scope, request.key)
        if (!row) throw new IdempotencyKeyInUse()
        if (row.fingerprint !== request.fingerprint) throw idempotencyKeyReused()
        if (row.responseStatus !== null && row.responseBody !== null) {
          return {
            kind: 'replay' as const,
            status: row.responseStatus,
            body: row.responseBody,
            sealed: row.sealed,
          }
        }
        // A holder that started nothing and outlived its lease has died: its transaction
        // rolled back, so the request may run again under a new token.
        if (row.resourceId === null && row.lockedUntil !== null && row.lockedUntil <= now) {
          await repo.takeOver(tx, request.scope, request.key, {
            lockToken: token,
            lockedUntil,
            requestId: request.requestId,
          })
          return { kind: 'claimed' as const }
        }
        throw new IdempotencyKeyInUse(retryAfterSecondsFor(row, now))
      })
      if (outcome.kind === 'claimed') return { kind: 'claimed', claim: claimFor(request, token) }
      return { kind: 'replay', response: await stored(request, outcome.status, outcome.body, outcome.sealed) }
    },

    /** Deletes keys past their TTL, in batches, but those of unsettled effects; the number deleted. */
    async prune(batch = 1000): Promise<number> {
      const now = clock.now()
      let total = 0
      for (;;) {
        const deleted = await repo.prune(db, now, batch)
        total += deleted
        if (deleted < batch) return total
      }
    },
  }
}

export type IdempotencyService = ReturnType<typeof createIdempotencyService>
