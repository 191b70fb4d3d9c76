/**
 * Why a server could not listen on HOST:PORT, in the words of a bad variable.
 *
 * config.ts checks HOST's form only: whether a name resolves, and to an address of this
 * machine, and whether PORT is free, are facts of the moment the server binds, so they are
 * found out there and reported here as the `config error` line naming the variable.
 *
 * Each runtime says it differently: Node `ENOTFOUND`/`EADDRNOTAVAIL`/`EADDRINUSE` codes, Deno
 * `AddrNotAvailable`/`AddrInUse` names and a bare Error for a failed look-up. Bun (1.4) reports
 * a name that does not resolve with whatever code was left over, `ENOENT`, `EINVAL`, even
 * `EADDRINUSE` with PORT=0; so, unless the error itself names a failed look-up, HOST is
 * looked up again first, and only a HOST that resolves lets the code speak of the port.
 */
// node:dns rather than node:dns/promises: Deno prints a punycode deprecation warning on
// loading the latter, a second line on a start-up failure that is to be one.
import { lookup } from 'node:dns'

/** Where the server was asked to listen (HOST, PORT). */
export interface ListenTarget {
  host: string
  port: number
}

/** Resolves a host name; rejects, with a `code` such as ENOTFOUND, when it does not resolve. */
export type ResolveHost = (host: string) => Promise<unknown>

/** Bounds the diagnostic look-up: a DNS server that never answers must not hold the exit. */
const LOOKUP_TIMEOUT_MS = 5000

/** The getaddrinfo codes of a name that did not resolve, as Node (and Bun's node:dns) report them. */
const UNRESOLVED_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'ENODATA'])

const HOST_REMEDY = 'such as 0.0.0.0 (every interface) or 127.0.0.1 (this machine only)'

/** `node:dns` lookup, given up after LOOKUP_TIMEOUT_MS with code ETIMEOUT (c-ares' name for it). */
function lookupWithTimeout(host: string): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error('no answer'), { code: 'ETIMEOUT' })),
      LOOKUP_TIMEOUT_MS,
    )
  })
  const resolved = new Promise<unknown>((resolve, reject) =>
    lookup(host, (error, address) => (error ? reject(error) : resolve(address))),
  )
  return Promise.race([resolved, timeout]).finally(() => clearTimeout(timer))
}

/**
 * The `config error: …` line for a listen failure caused by HOST or PORT, naming the variable,
 * its value and the system's code; `undefined` for any other failure (a bug, which keeps its
 * stack in the caller's log line). `resolve` is the look-up that tells whether HOST resolves
 * when the runtime's error does not say so itself (tests pass their own).
 */
export async function listenConfigProblem(
  error: unknown,
  target: ListenTarget,
  resolve: ResolveHost = lookupWithTimeout,
): Promise<string | undefined> {
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown }
  const host = JSON.stringify(target.host)
  const unresolved =
    typeof code === 'string' && UNRESOLVED_CODES.has(code) ? code : await unresolvedCode(target.host, resolve)
  if (unresolved)
    return `config error: HOST ${host} does not resolve to an address (${unresolved}): set HOST to a name or address of this machine, ${HOST_REMEDY}`
  if (code === 'EADDRINUSE' || name === 'AddrInUse')
    return `config error: PORT ${target.port} is already in use on ${target.host} (EADDRINUSE): set PORT to a free port, or 0 to pick one`
  if (code === 'EACCES' || name === 'PermissionDenied')
    return `config error: PORT ${target.port} on ${target.host} needs privileges (EACCES): set PORT to 1024 or above`
  if (code === 'EADDRNOTAVAIL' || name === 'AddrNotAvailable')
    return `config error: HOST ${host} is not an address of this machine (EADDRNOTAVAIL): set HOST to one of its addresses, ${HOST_REMEDY}`
  return undefined
}

/** The look-up's error code when `host` does not resolve; `undefined` when it does. */
async function unresolvedCode(host: string, resolve: ResolveHost): Promise<string | undefined> {
  try {
    await resolve(host)
    return undefined
  } catch (error) {
    const code = (error as { code?: unknown }).code
    return typeof code === 'string' ? code : 'lookup failed'
  }
}

/**
 * HOST as the host of a URL: an IPv6 address in brackets (RFC 3986 §3.2.2), so that
 * `http://[::1]:3000` names the port rather than run into the address, and its zone's `%`
 * written `%25` (RFC 6874 §2: `http://[fe80::1%25eth0]:3000`, which curl reads).
 */
export const urlHost = (host: string): string =>
  host.includes(':') ? `[${host.replaceAll('%', '%25')}]` : host
