/** A mounted route as Elysia lists it in `app.routes`. */
export interface RouteEntry {
  method: string
  path: string
}

interface CompiledRoute {
  method: string
  pattern: RegExp
}

const escapeRegExp = (text: string) => text.replace(/[.+?^${}()|[\]\\]/g, '\\$&')

/**
 * An Elysia path template as a pattern over a request path: `:name` is one segment, `:name?`
 * an optional one, `*` the rest; a trailing slash is optional, as Elysia's non-strict paths.
 */
function compile(path: string): RegExp {
  const body = path
    .replace(/\/+$/, '')
    .split('/')
    .map((segment, i) => {
      if (i === 0) return ''
      if (segment === '*') return '(?:/.*)?'
      if (segment.startsWith(':')) return segment.endsWith('?') ? '(?:/[^/]+)?' : '/[^/]+'
      return `/${escapeRegExp(segment)}`
    })
    .join('')
  return new RegExp(`^${body}/?$`)
}

/**
 * The methods that the routes answer on a request path, sorted, with HEAD wherever GET is
 * (Bun answers HEAD for a GET route): the `Allow` header of a 405 (RFC 9110 §15.5.6, §10.2.1).
 * Empty when no route has the path, which is a 404.
 *
 * @param routes read again whenever the number of routes changes (routes mounted after the
 *   first call are seen); compiled once per change, so a miss costs one regex test per route.
 * @returns e.g. `['GET', 'HEAD', 'POST']` for `/products` of this service
 */
export function allowedMethods(routes: () => readonly RouteEntry[]): (pathname: string) => string[] {
  let compiled: CompiledRoute[] = []
  let seen = -1
  return (pathname) => {
    const current = routes()
    if (current.length !== seen) {
      compiled = current.map((route) => ({
        method: route.method.toUpperCase(),
        pattern: compile(route.path),
      }))
      seen = current.length
    }
    const methods = new Set<string>()
    for (const route of compiled) {
      if (!route.pattern.test(pathname)) continue
      if (route.method === 'ALL') return []
      methods.add(route.method)
      if (route.method === 'GET') methods.add('HEAD')
    }
    return [...methods].sort()
  }
}

/** A mounted route with the query schema Elysia keeps in its hooks. */
export interface RouteWithQuery extends RouteEntry {
  hooks?: { query?: { properties?: Record<string, unknown> } }
}

/**
 * The query parameters a route declares in its schema, by method and path template (HEAD
 * looks up GET's): undefined for a route that declares none, whose query nothing reads.
 *
 * @param routes read again whenever the number of routes changes, as allowedMethods
 * @returns e.g. `Set { 'limit', 'cursor' }` for `GET /products`
 */
export function declaredQueryParameters(
  routes: () => readonly RouteWithQuery[],
): (method: string, path: string) => ReadonlySet<string> | undefined {
  let byRoute = new Map<string, ReadonlySet<string>>()
  let seen = -1
  return (method, path) => {
    const current = routes()
    if (current.length !== seen) {
      byRoute = new Map(
        current.flatMap((route) => {
          const properties = route.hooks?.query?.properties
          return properties
            ? [[`${route.method.toUpperCase()} ${route.path}`, new Set(Object.keys(properties))]]
            : []
        }),
      )
      seen = current.length
    }
    return byRoute.get(`${method === 'HEAD' ? 'GET' : method} ${path}`)
  }
}
