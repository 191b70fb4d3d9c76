import { Elysia } from 'elysia'
import { forbidden, unauthorized } from '../errors.ts'
import { requestState } from '../http/request-context.ts'
import type { AuthenticatedTenant } from '../tenants/service.ts'
import { bearerToken, secretsEqual } from './keys.ts'

export interface TenantAuthenticator {
  authenticate(apiKey: string): Promise<AuthenticatedTenant | undefined>
}

/**
 * Resolves `tenant` (and `log`, the request logger tagged with the tenant) from `Authorization: Bearer <api key>` for the routes after it.
 * Runs in the transform phase, so a bad credential is a 401 before body validation.
 */
export function tenantAuth(tenants: TenantAuthenticator) {
  return new Elysia({ name: 'tenant-auth' }).derive({ as: 'scoped' }, async ({ request }) => {
    const key = bearerToken(request.headers.get('authorization'))
    const tenant = key ? await tenants.authenticate(key) : undefined
    if (!tenant) throw unauthorized('Missing or invalid API key')
    const state = requestState(request)!
    state.tenantId = tenant.id
    state.log = state.log.child({ tenantId: tenant.id })
    return { tenant, log: state.log }
  })
}

/** Guards admin routes with ADMIN_TOKEN; with no token configured they are closed (403). */
export function adminAuth(adminToken: string | undefined) {
  return new Elysia({ name: 'admin-auth' }).onTransform({ as: 'scoped' }, async ({ request }) => {
    if (!adminToken) throw forbidden('Admin routes are disabled: ADMIN_TOKEN is not configured')
    const token = bearerToken(request.headers.get('authorization'))
    if (!token || !(await secretsEqual(token, adminToken)))
      throw unauthorized('Missing or invalid admin token')
  })
}
