import { generateApiKey, hashApiKey } from '../auth/keys.ts'
import type { AuthenticatedTenant } from '../auth/plugin.ts'
import { DEMO_PHONE } from '../config.ts'
import { notFound } from '../core/errors.ts'
import type { Database } from '../db/client.ts'
import type { IdempotencyClaim } from '../idempotency/service.ts'
import { fieldError } from '../shared/models.ts'
import type { TenantView, UpdateSettings } from './model.ts'
import { createTenantRepository, type TenantRow, type TenantSettingsRow } from './repository.ts'

/**
 * The IANA name of `zone` as the time zone database spells it (`africa/nairobi` is
 * `Africa/Nairobi`), or undefined when it names no zone. Intl matches names in any letter
 * case, but zoneinfo files do not: a reader of the settings (Python's ZoneInfo, Java's
 * ZoneId) refuses a name in another case, so the stored name is the database's spelling.
 */
function ianaTimeZone(zone: string): string | undefined {
  // ECMA-402 (2024) also takes offsets such as `+05:00`: no zone, no daylight saving rules,
  // and not what the document promises. IANA names never start with a sign.
  if (/^[+-]/.test(zone)) return undefined
  try {
    return new Intl.DateTimeFormat('en', { timeZone: zone }).resolvedOptions().timeZone
  } catch {
    return undefined
  }
}

function toView(tenant: TenantRow, settings: TenantSettingsRow): TenantView {
  return {
    id: tenant.id,
    name: tenant.name,
    createdAt: tenant.createdAt.toISOString(),
    settings: {
      ownerPhone: settings.ownerPhone,
      alertPhones: settings.alertPhones,
      timezone: settings.timezone,
      currency: settings.currency,
      quietHours:
        settings.quietHoursStart && settings.quietHoursEnd
          ? { start: settings.quietHoursStart, end: settings.quietHoursEnd }
          : null,
    },
  }
}

/** Owner of the development demo tenant (a fictional 555 number). */
export const DEMO_OWNER_PHONE = DEMO_PHONE

/** Shops (tenants): creation with a one-time API key, key checks, the view and alert settings. */
export interface TenantService {
  /**
   * Creates a tenant with its settings row. Returns the API key in clear: the only time it
   * exists outside the caller (only its SHA-256 is stored). With `claim`, the 201 response is
   * recorded for Idempotency-Key replays in the same transaction.
   */
  create(
    input: { name: string; ownerPhone: string },
    claim?: IdempotencyClaim,
  ): Promise<{ id: string; name: string; apiKey: string }>
  /** The tenant owning `apiKey`, or undefined (looked up by the key's SHA-256). */
  authenticate(apiKey: string): Promise<AuthenticatedTenant | undefined>
  /** The tenant with its settings. Throws `AppError` 404 NOT_FOUND when it does not exist. */
  get(tenantId: string): Promise<TenantView>
  /**
   * Changes only the fields given (`quietHours: null` clears them); returns the new settings.
   * Throws `AppError` 422 VALIDATION (field `timezone`) for a zone that is not IANA, and
   * (field `quietHours.end`) for a window whose end is its start.
   */
  updateSettings(tenantId: string, input: UpdateSettings): Promise<TenantView['settings']>
  /** Development only: an empty database gets a demo tenant; undefined when any tenant exists. */
  ensureDemoTenant(): Promise<{ id: string; apiKey: string } | undefined>
}

export function createTenantService(deps: { db: Database }): TenantService {
  const repo = createTenantRepository()
  const { db } = deps

  return {
    /**
     * Creates a tenant and returns its API key, the only time the key exists in clear. With an
     * idempotency claim, the 201 response is stored (sealed by the claim) in the same transaction.
     */
    async create(input: { name: string; ownerPhone: string }, claim?: IdempotencyClaim) {
      const apiKey = generateApiKey()
      const apiKeyHash = hashApiKey(apiKey)
      return db.transaction(async (tx) => {
        const tenant = await repo.insert(tx, { name: input.name, apiKeyHash }, input.ownerPhone)
        const created = { id: tenant.id, name: tenant.name, apiKey }
        await claim?.record(tx, { status: 201, body: JSON.stringify(created) })
        return created
      })
    },

    /**
     * The tenant owning `apiKey`, or undefined. The lookup is by SHA-256 of the key: equal
     * hashes can only come from the same key, and timing reveals nothing about the key.
     */
    async authenticate(apiKey: string): Promise<AuthenticatedTenant | undefined> {
      const row = await repo.findByKeyHash(db, hashApiKey(apiKey))
      return row ? { id: row.id, name: row.name } : undefined
    },

    async get(tenantId: string): Promise<TenantView> {
      const found = await repo.findWithSettings(db, tenantId)
      if (!found) throw notFound('Tenant')
      return toView(found.tenant, found.settings)
    },

    async updateSettings(tenantId: string, input: UpdateSettings): Promise<TenantView['settings']> {
      const timezone = input.timezone === undefined ? undefined : ianaTimeZone(input.timezone)
      if (input.timezone !== undefined && timezone === undefined) {
        throw fieldError('timezone', 'not an IANA time zone')
      }
      // A window from 22:00 to 22:00 is either no hours or all of them: the sender cannot tell
      // which was meant, so neither is guessed (null is how no quiet hours are asked for).
      if (input.quietHours && input.quietHours.start === input.quietHours.end) {
        throw fieldError(
          'quietHours.end',
          'must differ from start (send quietHours: null for no quiet hours)',
        )
      }
      const changes: Partial<TenantSettingsRow> = {}
      if (input.ownerPhone !== undefined) changes.ownerPhone = input.ownerPhone
      if (input.alertPhones !== undefined) changes.alertPhones = input.alertPhones
      if (timezone !== undefined) changes.timezone = timezone
      if (input.currency !== undefined) changes.currency = input.currency
      if (input.quietHours !== undefined) {
        changes.quietHoursStart = input.quietHours?.start ?? null
        changes.quietHoursEnd = input.quietHours?.end ?? null
      }
      await repo.updateSettings(db, tenantId, changes)
      return (await this.get(tenantId)).settings
    },

    /** Development only: an empty database gets a demo tenant whose key the banner shows. */
    async ensureDemoTenant(): Promise<{ id: string; apiKey: string } | undefined> {
      if (await repo.any(db)) return undefined
      return this.create({ name: 'Demo Shop', ownerPhone: DEMO_OWNER_PHONE })
    },
  }
}
