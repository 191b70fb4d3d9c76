import { describe, expect, test } from 'bun:test'
import { allowedMethods, type RouteEntry } from '../../src/http/allowed-methods.ts'

describe('allowedMethods', () => {
  const routes: RouteEntry[] = [
    { method: 'GET', path: '/products' },
    { method: 'POST', path: '/products' },
    { method: 'PATCH', path: '/products/:id' },
    { method: 'GET', path: '/files/:name?' },
    { method: 'PUT', path: '/blobs/*' },
    { method: 'GET', path: '/v1.0/x+y' },
  ]
  const allow = allowedMethods(() => routes)

  test.each([
    ['/products', ['GET', 'HEAD', 'POST']],
    ['/products/', ['GET', 'HEAD', 'POST']],
    ['/products/abc', ['PATCH']],
    ['/products/abc/def', []],
    ['/files', ['GET', 'HEAD']],
    ['/files/a', ['GET', 'HEAD']],
    ['/blobs', ['PUT']],
    ['/blobs/a/b/c', ['PUT']],
    // Template text is literal, not a pattern.
    ['/v1.0/x+y', ['GET', 'HEAD']],
    ['/v1x0/xxy', []],
    ['/nowhere', []],
  ])('%s answers %p', (path, methods) => {
    expect(allow(path)).toEqual(methods)
  })

  test('routes mounted after the first call are seen', () => {
    const mounted: RouteEntry[] = [{ method: 'GET', path: '/a' }]
    const later = allowedMethods(() => mounted)
    expect(later('/b')).toEqual([])
    mounted.push({ method: 'DELETE', path: '/b' })
    expect(later('/b')).toEqual(['DELETE'])
  })
})
