/**
 * A listen failure caused by HOST or PORT is reported as a `config error` naming the variable,
 * whichever runtime's words it came in; anything else is left to the caller's stack trace.
 */
import { describe, expect, test } from 'bun:test'
import { listenConfigProblem, type ResolveHost, urlHost } from '../../src/runtime/listen.ts'

const target = { host: 'web.internal', port: 8080 }

const IN_USE =
  'config error: PORT 8080 is already in use on web.internal (EADDRINUSE): set PORT to a free port, or 0 to pick one'
const PRIVILEGED =
  'config error: PORT 8080 on web.internal needs privileges (EACCES): set PORT to 1024 or above'
const NOT_LOCAL =
  'config error: HOST "web.internal" is not an address of this machine (EADDRNOTAVAIL): set HOST to one of its addresses, such as 0.0.0.0 (every interface) or 127.0.0.1 (this machine only)'
const unresolved = (code: string) =>
  `config error: HOST "web.internal" does not resolve to an address (${code}): set HOST to a name or address of this machine, such as 0.0.0.0 (every interface) or 127.0.0.1 (this machine only)`

/** A look-up that must not be needed: the runtime's error already said what happened. */
const notCalled: ResolveHost = () => {
  throw new Error('looked up although the error said enough')
}
const resolves: ResolveHost = async () => ({ address: '10.0.0.7', family: 4 })
const rejectsWith =
  (code?: string): ResolveHost =>
  async () => {
    throw Object.assign(new Error('lookup failed'), code ? { code } : {})
  }

describe('listenConfigProblem', () => {
  test.each([
    ['Node and Bun: EADDRINUSE', { code: 'EADDRINUSE' }, IN_USE],
    ['Deno: AddrInUse', { name: 'AddrInUse' }, IN_USE],
    ['Node and Bun: EACCES', { code: 'EACCES' }, PRIVILEGED],
    ['Deno: PermissionDenied', { name: 'PermissionDenied' }, PRIVILEGED],
    ['Node and Bun: EADDRNOTAVAIL', { code: 'EADDRNOTAVAIL' }, NOT_LOCAL],
    ['Deno: AddrNotAvailable', { name: 'AddrNotAvailable', code: 'EADDRNOTAVAIL' }, NOT_LOCAL],
  ])('%s, with a HOST that resolves, names the variable', async (_runtime, fields, line) => {
    const error = Object.assign(new Error('listen failed'), fields)
    expect(await listenConfigProblem(error, target, resolves)).toBe(line)
  })

  test.each([
    ['Node: getaddrinfo ENOTFOUND', 'ENOTFOUND'],
    ['Node: getaddrinfo EAI_AGAIN', 'EAI_AGAIN'],
  ])('%s names HOST without a second look-up', async (_runtime, code) => {
    const error = Object.assign(new Error(`getaddrinfo ${code} web.internal`), {
      code,
      syscall: 'getaddrinfo',
    })
    expect(await listenConfigProblem(error, target, notCalled)).toBe(unresolved(code))
  })

  test.each([
    ['Bun: ENOENT', { code: 'ENOENT', syscall: 'listen' }],
    ['Bun: EINVAL', { code: 'EINVAL', syscall: 'listen' }],
    // Seen with PORT=0, which no other process can hold: Bun's code is stale, not the port's.
    ['Bun: EADDRINUSE', { code: 'EADDRINUSE', syscall: 'listen' }],
    ['Deno: a bare Error', {}],
  ])('%s, and HOST does not resolve: HOST, with the look-up’s code', async (_runtime, fields) => {
    const error = Object.assign(new Error('failed to lookup address information'), fields)
    expect(await listenConfigProblem(error, target, rejectsWith('ENOTFOUND'))).toBe(unresolved('ENOTFOUND'))
    expect(await listenConfigProblem(error, target, rejectsWith())).toBe(unresolved('lookup failed'))
  })

  test('a failure of another kind, with a HOST that resolves, is not a config error', async () => {
    const error = Object.assign(new Error('EINVAL: invalid argument, listen'), { code: 'EINVAL' })
    expect(await listenConfigProblem(error, target, resolves)).toBeUndefined()
    expect(await listenConfigProblem(new TypeError('boom'), target, resolves)).toBeUndefined()
    expect(await listenConfigProblem(undefined, target, resolves)).toBeUndefined()
  })

  test('by default the look-up is the system resolver: a name under .invalid never resolves', async () => {
    const error = Object.assign(new Error('ENOENT: no such file or directory, listen'), { code: 'ENOENT' })
    const line = await listenConfigProblem(error, { host: 'no-such-host.invalid', port: 0 })
    // ENOTFOUND with a DNS server, EAI_AGAIN on a machine without one.
    expect([
      'config error: HOST "no-such-host.invalid" does not resolve to an address (ENOTFOUND): set HOST to a name or address of this machine, such as 0.0.0.0 (every interface) or 127.0.0.1 (this machine only)',
      'config error: HOST "no-such-host.invalid" does not resolve to an address (EAI_AGAIN): set HOST to a name or address of this machine, such as 0.0.0.0 (every interface) or 127.0.0.1 (this machine only)',
    ]).toContain(line!)
    expect(await listenConfigProblem(error, { host: 'localhost', port: 0 })).toBeUndefined()
  })
})

describe('urlHost', () => {
  test('brackets an IPv6 address, so that the port after it reads as the port', () => {
    expect(['::1', '::', '127.0.0.1', 'localhost', 'web_1'].map(urlHost)).toEqual([
      '[::1]',
      '[::]',
      '127.0.0.1',
      'localhost',
      'web_1',
    ])
  })

  test("writes an IPv6 zone's % as %25 (RFC 6874)", () => {
    expect(['fe80::1%eth0', 'fe80::1%25eth0'].map(urlHost)).toEqual([
      '[fe80::1%25eth0]',
      '[fe80::1%2525eth0]',
    ])
  })
})
