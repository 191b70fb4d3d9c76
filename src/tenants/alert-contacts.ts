import { eq, or, sql } from 'drizzle-orm'
import type { AlertContacts } from '../alerting/notify/recipients.ts'
import { tenantSettings } from '../db/schema.ts'
import { UUID_PATTERN } from '../shared/models.ts'

/**
 * Alerting's port onto tenant settings: who to notify for a tenant's alert (owner first, then
 * the extra alert phones) and its quiet hours, and which tenants a phone answers for (ACK,
 * SILENCE, STATUS commands).
 */
export function createTenantAlertContacts(): AlertContacts {
  return {
    async contactsOf(db, tenantId) {
      // An alert label is free text; a non-UUID cannot name a tenant (and would fail the cast).
      if (!UUID_PATTERN.test(tenantId)) return undefined
      const [settings] = await db
        .select()
        .from(tenantSettings)
        .where(eq(tenantSettings.tenantId, tenantId))
        .limit(1)
      if (!settings) return undefined
      return {
        phones: [settings.ownerPhone, ...settings.alertPhones].filter((p): p is string => !!p),
        quietHours:
          settings.quietHoursStart && settings.quietHoursEnd
            ? { timezone: settings.timezone, start: settings.quietHoursStart, end: settings.quietHoursEnd }
            : undefined,
      }
    },
    async tenantsOfPhone(db, phone) {
      const e164 = `+${phone}`
      const rows = await db
        .select({ tenantId: tenantSettings.tenantId })
        .from(tenantSettings)
        .where(or(eq(tenantSettings.ownerPhone, e164), sql`${e164} = any(${tenantSettings.alertPhones})`))
      return rows.map((r) => r.tenantId)
    },
  }
}
