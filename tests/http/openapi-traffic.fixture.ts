// Run by openapi-traffic.test.ts with `bun test` in a process of its own: the schemas in question
// are module-level objects, so only a process no route has compiled in yet has the document as
// the app alone makes it.
import { expect, test } from 'bun:test'
import { buildTestApp } from '../helpers/app.ts'

const ANY_ID = '00000000-0000-4000-8000-000000000000'

/** Every route the app serves, as a method and a path with its parameters filled in. */
function requestsFor(app: { routes: Array<{ method: string; path: string }> }) {
  return (
    app.routes
      .filter((route) => route.method !== 'ALL' && !route.path.includes('*'))
      // The document is built (and kept) on its first request: asking for it here would hide what the traffic changed.
      .filter((route) => !route.path.startsWith('/swagger'))
      .map((route) => ({ method: route.method, path: route.path.replace(/:[^/]+/g, ANY_ID) }))
  )
}

test('after one request to every route, in either order, the document is the same bytes as before any request', async () => {
  const fresh = await buildTestApp()
  const expected = await (await fresh.call('/swagger/json')).text()

  for (const order of ['declared', 'reversed'] as const) {
    const used = await buildTestApp()
    const requests = requestsFor(used.app)
    expect(requests.length).toBeGreaterThan(20)
    if (order === 'reversed') requests.reverse()
    for (const { method, path } of requests) {
      // Any answer will do (most are 401 or 422): the first request is what compiles the route.
      await used.call(path, { method, json: method === 'GET' || method === 'HEAD' ? undefined : {} })
    }
    const served = await (await used.call('/swagger/json')).text()
    expect({ order, document: JSON.parse(served) }).toEqual({ order, document: JSON.parse(expected) })
    expect(served).toBe(expected)
  }
})
