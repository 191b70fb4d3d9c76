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

/**
 * The route template Elysia matches for a request, for an answer given outside Elysia's
 * lifecycle (escapedErrors), where Elysia's own `route` is out of reach: among the routes of
 * the method (HEAD falls back to GET, then ALL) whose template matches the path, the one with
 * a static segment where another has a parameter, and a parameter where another has `*`,
 * first segment first, as Elysia's router (memoirist) prefers them.
 *
 * @param routes read again whenever the number of routes changes, as allowedMethods
 * @returns e.g. `/products/:id` for `GET /products/0195…`; undefined when no route matches
 */
export function routeFinder(
  routes: () => readonly RouteEntry[],
): (method: string, pathname: string) => string | undefined {
  let compiled: Array<CompiledRoute & { path: string; rank: string }> = []
  let seen = -1
  return (method, pathname) => {
    const current = routes()
    if (current.length !== seen) {
      compiled = current.map((route) => ({
        method: route.method.toUpperCase(),
        path: route.path,
        pattern: compile(route.path),
        // Per segment: 0 static, 1 parameter, 2 wildcard; the smallest string wins.
        rank: route.path
          .split('/')
          .map((segment) => (segment === '*' ? '2' : segment.startsWith(':') ? '1' : '0'))
          .join(''),
      }))
      seen = current.length
    }
    for (const wanted of method === 'HEAD' ? ['HEAD', 'GET', 'ALL'] : [method, 'ALL']) {
      let best: (typeof compiled)[number] | undefined
      for (const route of compiled) {
        if (route.method !== wanted || !route.pattern.test(pathname)) continue
        if (best === undefined || route.rank < best.rank) best = route
      }
      if (best !== undefined) return best.path
    }
    return undefined
  }
}
