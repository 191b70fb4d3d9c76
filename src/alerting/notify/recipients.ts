import type { Executor } from '../../db/client.ts'
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

/** A tenant's alert contacts: its owner and extra alert phones (E.164), and its quiet hours. */
export interface TenantContacts {
  phones: string[]
  quietHours?: QuietHours
}

/**
 * The port through which alerting reads tenants' alert contacts; the tenants feature
 * implements it (`createTenantAlertContacts`), so alerting never queries tenants' tables.
 * Each call takes the executor to read with, so routing inside a transaction sees its rows.
 */
export interface AlertContacts {
  /** The tenant's contacts; undefined when no such tenant exists. */
  contactsOf(db: Executor, tenantId: string): Promise<TenantContacts | undefined>
  /** The tenants whose owner or alert phones include `phone` (digits only, no +). */
  tenantsOfPhone(db: Executor, phone: string): Promise<string[]>
}

export interface RoutingConfig {
  oncallPhones: string[]
  oncallGetsTenantAlerts: boolean
}

export interface RoutingResult {
  recipients: Recipient[]
  /** The alert names a tenant that has no phone configured (or does not exist). */
  missingTenantPhone: boolean
  /** The alert's `tenant_id` names no tenant (a mistyped label, or one deleted since). */
  unknownTenant: boolean
}

/**
 * Who gets an alert: the tenant's owner and extra alert phones when the alert carries a
 * `tenant_id` label, and the platform on-call numbers (for tenant alerts too, unless
 * configured otherwise). A number appears once even if it has several roles.
 */
export async function routeAlert(
  db: Executor,
  labels: Record<string, string>,
  config: RoutingConfig,
  contacts: AlertContacts,
): Promise<RoutingResult> {
  const recipients = new Map<string, Recipient>()
  const tenantId = labels.tenant_id
  let missingTenantPhone = false
  let unknownTenant = false
  if (tenantId) {
    const tenant = await contacts.contactsOf(db, tenantId)
    unknownTenant = tenant === undefined
    const phones = tenant?.phones ?? []
    if (phones.length === 0) missingTenantPhone = true
    const quietHours = tenant?.quietHours
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
  return { recipients: [...recipients.values()], missingTenantPhone, unknownTenant }
}
