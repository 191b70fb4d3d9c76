import { Elysia } from 'elysia'
import { bearerMatches, bearerToken } from '../core/bearer.ts'
import { forbidden, unauthorized } from '../core/errors.ts'
import { requestState } from '../http/request-context.ts'

/** The tenant an API key belongs to, as the routes after `tenantAuth` see it. */
export interface AuthenticatedTenant {
  id: string
  name: string
}

/** The port `tenantAuth` checks keys through; the tenants feature implements it. */
export interface TenantAuthenticator {
  authenticate(apiKey: string): Promise<AuthenticatedTenant | undefined>
}

/**
 * The `WWW-Authenticate` challenge of a 401 from these guards: RFC 9110 §11.6.1 requires one on
 * every 401, and RFC 6750 §3 names the Bearer scheme's, so a client library knows what to send.
 */
export const bearerChallenge = (realm: string) => `Bearer realm="${realm}"`

/**
 * Resolves `tenant` from `Authorization: Bearer <api key>` for the routes after it, and sets
 * the request state's `tenantId`, so that the request logger (`requestState(request).log`,
 * made on first use) carries it. Runs in the transform phase, so a bad credential is a 401
 * before body validation.
 */
export function tenantAuth(tenants: TenantAuthenticator) {
  return new Elysia({ name: 'tenant-auth' }).derive({ as: 'scoped' }, async ({ request, set }) => {
    const key = bearerToken(request.headers.get('authorization'))
    const tenant = key ? await tenants.authenticate(key) : undefined
    if (!tenant) {
      set.headers['www-authenticate'] = bearerChallenge('api')
      throw unauthorized('Missing or invalid API key')
    }
    requestState(request)!.tenantId = tenant.id
    return { tenant }
  })
}

/**
 * Guards the routes after it with a configured bearer token, compared in constant time; with no
 * token configured they are closed (403). Runs before body validation: no credential, no 422.
 * A 401 challenges with `Bearer realm="<name>"`.
 */
export function bearerAuth(name: string, expected: string | undefined, variable: string) {
  return new Elysia({ name: `bearer-auth:${name}` }).onTransform({ as: 'scoped' }, ({ request, set }) => {
    if (!expected) throw forbidden(`${name} is disabled: ${variable} is not configured`)
    if (!bearerMatches(request.headers.get('authorization'), expected)) {
      set.headers['www-authenticate'] = bearerChallenge(name)
      throw unauthorized(`Missing or invalid ${name} token`)
    }
  })
}

export const adminAuth = (adminToken: string | undefined) => bearerAuth('admin', adminToken, 'ADMIN_TOKEN')

/**
 * The operations behind `adminAuth`, as a start-up warning names them when ADMIN_TOKEN is unset
 * (tests/http/openapi.test.ts holds this list to the OpenAPI document's admin operations).
 */
export const ADMIN_OPERATIONS = ['POST /tenants', 'GET /alerts', 'GET /alerts/rules', 'GET /slo'] as const
