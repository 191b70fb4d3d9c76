import { eq, or, sql } from 'drizzle-orm'
import type { Executor } from '../../db/client.ts'
import { tenantSettings } from '../../db/schema.ts'
import { toWhatsAppNumber } from '../whatsapp/client.ts'

export interface QuietHours {
  timezone: string
  start: string
  end: string
}

export interface Recipient {
  /** Digits only. */
  phone: string
  tenantId?: string
  quietHours?: QuietHours
}

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5))

/** Minutes since local midnight of `at` in `timezone`. */
function localMinutes(at: Date, timezone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  })
    .formatToParts(at)
    .reduce<Record<string, string>>((acc, part) => {
      acc[part.type] = part.value
      return acc
    }, {})
  return Number(parts.hour) * 60 + Number(parts.minute) + at.getUTCSeconds() / 60
}

/**
 * When the quiet window that contains `at` ends, or undefined when `at` is outside it.
 * Windows may cross midnight (22:00–06:00). The end is computed in local minutes; on a DST
 * change inside the window it can be off by the hour that moved, which only shifts a
 * deferred warning by that much.
 */
export function quietUntil(at: Date, quiet: QuietHours): Date | undefined {
  const now = localMinutes(at, quiet.timezone)
  const start = minutes(quiet.start)
  const end = minutes(quiet.end)
  if (start === end) return undefined
  const inside = start < end ? now >= start && now < end : now >= start || now < end
  if (!inside) return undefined
  const wait = (end - now + 1440) % 1440
  return new Date(at.getTime() + Math.round(wait * 60_000))
}

export interface RoutingConfig {
  oncallPhones: string[]
  oncallGetsTenantAlerts: boolean
}

export interface RoutingResult {
  recipients: Recipient[]
  /** The alert names a tenant that has no phone configured (or does not exist). */
  missingTenantPhone: boolean
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * Who gets an alert: the tenant's owner and extra alert phones when the alert carries a
 * `tenant_id` label, and the platform on-call numbers (for tenant alerts too, unless
 * configured otherwise). A number appears once even if it has several roles.
 */
export async function routeAlert(
  db: Executor,
  labels: Record<string, string>,
  config: RoutingConfig,
): Promise<RoutingResult> {
  const recipients = new Map<string, Recipient>()
  const tenantId = labels.tenant_id
  let missingTenantPhone = false
  if (tenantId) {
    const [settings] = UUID.test(tenantId)
      ? await db.select().from(tenantSettings).where(eq(tenantSettings.tenantId, tenantId)).limit(1)
      : []
    const phones = settings
      ? [settings.ownerPhone, ...settings.alertPhones].filter((p): p is string => !!p)
      : []
    if (phones.length === 0) missingTenantPhone = true
    const quietHours =
      settings?.quietHoursStart && settings.quietHoursEnd
        ? { timezone: settings.timezone, start: settings.quietHoursStart, end: settings.quietHoursEnd }
        : undefined
    for (const phone of phones) {
      const digits = toWhatsAppNumber(phone)
      recipients.set(digits, { phone: digits, tenantId, quietHours })
    }
  }
  if (!tenantId || config.oncallGetsTenantAlerts || missingTenantPhone) {
    for (const phone of config.oncallPhones) {
      // On-call staff have no quiet hours; a number that is also a tenant's keeps that role.
      if (!recipients.has(phone)) recipients.set(phone, { phone })
    }
  }
  return { recipients: [...recipients.values()], missingTenantPhone }
}

/** The tenants whose owner or alert phones include `phone` (digits only). */
export async function tenantsOfPhone(db: Executor, phone: string): Promise<string[]> {
  const e164 = `+${phone}`
  const rows = await db
    .select({ tenantId: tenantSettings.tenantId })
    .from(tenantSettings)
    .where(or(eq(tenantSettings.ownerPhone, e164), sql`${e164} = any(${tenantSettings.alertPhones})`))
  return rows.map((r) => r.tenantId)
}
