import { Elysia } from 'elysia'
import { adminAuth, tenantAuth } from '../auth/plugin.ts'
import { ErrorEnvelopeModel } from '../http/models.ts'
import { IdempotencyHeaders } from '../idempotency/model.ts'
import { withIdempotency } from '../idempotency/plugin.ts'
import { adminScope, type IdempotencyService } from '../idempotency/service.ts'
import {
  CreatedTenant,
  CreateTenantBody,
  TenantModel,
  TenantSettingsModel,
  UpdateSettingsBody,
} from './model.ts'
import type { TenantService } from './service.ts'

export function tenantRoutes(deps: {
  tenants: TenantService
  adminToken: string | undefined
  idempotency: IdempotencyService
}) {
  // Keys of POST /tenants belong to the admin token; the stored response carries the new
  // tenant's API key, so it is sealed with that token and useless without it.
  const adminKeyScope = adminScope(deps.adminToken ?? '')
  const admin = new Elysia({ detail: { tags: ['Tenants'], security: [{ adminToken: [] }] } })
    .use(adminAuth(deps.adminToken))
    .post(
      '/tenants',
      async ({ body, request, set }) => {
        set.status = 201
        return withIdempotency(
          deps.idempotency,
          request,
          { scope: adminKeyScope, sealWith: deps.adminToken },
          (claim) => deps.tenants.create(body, claim),
        )
      },
      {
        body: CreateTenantBody,
        headers: IdempotencyHeaders,
        detail: {
          summary: 'Create a tenant (admin); the API key is shown once; safe to retry with Idempotency-Key',
          description:
            'Needs ADMIN_TOKEN (403 while it is unset). The API key is returned once and stored only as a SHA-256 hash.',
        },
        response: {
          201: CreatedTenant,
          401: ErrorEnvelopeModel,
          403: ErrorEnvelopeModel,
          422: ErrorEnvelopeModel,
          503: ErrorEnvelopeModel,
        },
      },
    )

  const self = new Elysia({ detail: { tags: ['Tenants'], security: [{ tenantKey: [] }] } })
    .use(tenantAuth(deps.tenants))
    .get('/tenants/me', ({ tenant }) => deps.tenants.get(tenant.id), {
      detail: {
        summary: 'The calling tenant and its settings',
        description:
          'The tenant the API key belongs to, with its alert phones, time zone, currency and quiet hours.',
      },
      response: { 200: TenantModel, 401: ErrorEnvelopeModel, 503: ErrorEnvelopeModel },
    })
    .patch('/tenants/me/settings', ({ tenant, body }) => deps.tenants.updateSettings(tenant.id, body), {
      body: UpdateSettingsBody,
      detail: {
        summary: 'Update alert phones, time zone, currency and quiet hours',
        description:
          'Fields left out keep their value; quietHours null removes the quiet window. Phones are E.164, the time zone IANA.',
      },
      response: {
        200: TenantSettingsModel,
        401: ErrorEnvelopeModel,
        422: ErrorEnvelopeModel,
        503: ErrorEnvelopeModel,
      },
    })

  return new Elysia({ name: 'tenant-routes' }).use(admin).use(self)
}
