import { t } from 'elysia'
import { Currency, CurrencyCode, E164, Text, Timestamp, Uuid } from '../shared/models.ts'

const HHMM = t.String({
  pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$',
  error: 'must be a local time HH:MM from 00:00 to 23:59',
  description: 'local time HH:MM',
  examples: ['22:00'],
})

export const QuietHours = t.Object(
  { start: HHMM, end: HHMM },
  { additionalProperties: false, description: 'alerts of severity warning wait until the window ends' },
)

export const CreateTenantBody = t.Object(
  {
    name: Text({ minLength: 1, maxLength: 200, examples: ['Mama Mboga Groceries'] }),
    ownerPhone: E164,
  },
  { additionalProperties: false },
)

// Response models state `additionalProperties: false`: Elysia would otherwise set it on this shared
// object when a route using it as its response first compiles, changing /swagger/json with traffic
// (see ErrorEnvelopeModel in src/http/models.ts).
export const CreatedTenant = t.Object(
  {
    id: Uuid,
    name: t.String(),
    apiKey: t.String({ description: 'shown once; only its hash is stored' }),
  },
  { description: 'The tenant, with its API key', additionalProperties: false },
)

export const TenantSettingsModel = t.Object(
  {
    ownerPhone: t.Union([E164, t.Null()]),
    alertPhones: t.Array(E164),
    timezone: t.String({ examples: ['Africa/Nairobi'] }),
    currency: CurrencyCode,
    quietHours: t.Union([QuietHours, t.Null()]),
  },
  { additionalProperties: false },
)

export const TenantModel = t.Object(
  { id: Uuid, name: t.String(), createdAt: Timestamp, settings: TenantSettingsModel },
  { description: 'The calling tenant', additionalProperties: false },
)

export const UpdateSettingsBody = t.Object(
  {
    ownerPhone: t.Optional(E164),
    alertPhones: t.Optional(t.Array(E164, { maxItems: 10, uniqueItems: true })),
    timezone: t.Optional(t.String({ minLength: 1, maxLength: 64, description: 'IANA time zone' })),
    currency: t.Optional(Currency),
    quietHours: t.Optional(t.Union([QuietHours, t.Null()])),
  },
  // As PATCH /products/:id: a PATCH that changes nothing is a client's mistake, not a 200.
  { additionalProperties: false, minProperties: 1 },
)

export type TenantSettingsView = typeof TenantSettingsModel.static
export type TenantView = typeof TenantModel.static
export type UpdateSettings = typeof UpdateSettingsBody.static
