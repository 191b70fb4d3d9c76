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
 * The 401 message for an `Authorization` header that gave no accepted credential, telling the
 * caller what to send: no header (or the key in another header, `x-api-key`), a header that
 * is not `Bearer <token>` (`Authorization: ck_…`, `Basic …`), or a well-formed token that is
 * not the right one (`Bearer` alone: the key's shell variable was empty). `credential` names it (`API key`, `admin token`), `placeholder` is what
 * the header should hold after `Bearer `, `invalid` why a well-formed token is refused. The
 * header is never quoted: it holds a secret.
 */
export function credentialProblem(
  header: string | null,
  credential: string,
  placeholder: string,
  invalid: string,
): string {
  if (header === null || header.trim() === '') {
    return `Missing ${credential}: send the header Authorization: Bearer ${placeholder}`
  }
  // `Bearer $KEY` with KEY empty in the caller's shell: the header is there, the key is not.
  if (/^\s*Bearer\s*$/i.test(header)) {
    return `Missing ${credential}: the Authorization header holds Bearer and no token after it`
  }
  if (bearerToken(header) === undefined) {
    return `Malformed Authorization header: expected Bearer ${placeholder}`
  }
  return `Invalid ${credential}: ${invalid}`
}

/** What a newcomer with a key no shop has (a typo, another database's key) is told to do. */
const UNKNOWN_API_KEY =
  "no shop has this key; a shop's key is the apiKey POST /tenants answered (bun run dev keeps the demo shop's in DATA_DIR/demo-tenant.json)"

/**
 * Resolves `tenant` from `Authorization: Bearer <api key>` for the routes after it, and sets
 * the request state's `tenantId`, so that the request logger (`requestState(request).log`,
 * made on first use) carries it. Runs in the transform phase, so a bad credential is a 401
 * before body validation.
 */
export function tenantAuth(tenants: TenantAuthenticator) {
  return new Elysia({ name: 'tenant-auth' }).derive({ as: 'scoped' }, async ({ request, set }) => {
    const header = request.headers.get('authorization')
    const key = bearerToken(header)
    const tenant = key ? await tenants.authenticate(key) : undefined
    if (!tenant) {
      set.headers['www-authenticate'] = bearerChallenge('api')
      throw unauthorized(credentialProblem(header, 'API key', '<API key>', UNKNOWN_API_KEY))
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
    const header = request.headers.get('authorization')
    if (!bearerMatches(header, expected)) {
      set.headers['www-authenticate'] = bearerChallenge(name)
      throw unauthorized(credentialProblem(header, `${name} token`, `<${variable}>`, `it is not ${variable}`))
    }
  })
}

export const adminAuth = (adminToken: string | undefined) => bearerAuth('admin', adminToken, 'ADMIN_TOKEN')

/**
 * The operations behind `adminAuth`, as a start-up warning names them when ADMIN_TOKEN is unset
 * (tests/http/openapi.test.ts holds this list to the OpenAPI document's admin operations).
 */
export const ADMIN_OPERATIONS = ['POST /tenants', 'GET /alerts', 'GET /alerts/rules', 'GET /slo'] as const
