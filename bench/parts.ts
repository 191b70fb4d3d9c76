/**
 * Where the `full` variant's per-request CPU goes: the same route through app.handle with the
 * production plugins added one at a time, CPU time per request in this process (no network,
 * so the absolute numbers are below the wrk ones; the differences are the parts' costs).
 *
 *   bun bench/parts.ts        (PARTS_ROUNDS, PARTS_REQUESTS to adjust)
 */
import { Elysia } from 'elysia'
import { createLogDestination, createLogger } from '../src/core/logger.ts'
import { accessLog } from '../src/http/access-log.ts'
import { errorEnvelope } from '../src/http/error-envelope.ts'
import { httpMetrics, requestExemplar } from '../src/http/http-metrics.ts'
import { openApiDocs } from '../src/http/openapi.ts'
import { requestContext } from '../src/http/request-context.ts'
import { securityHeaders } from '../src/http/security.ts'
import { createMetrics } from '../src/metrics.ts'
import { traceExemplar } from '../src/observability/instruments.ts'
import { median } from './stats.ts'

const ROUNDS = Number(process.env.PARTS_ROUNDS ?? 9)
const REQUESTS = Number(process.env.PARTS_REQUESTS ?? 30_000)

// The production logger at info, writing through its asynchronous destination to /dev/null:
// formatting, queueing and the write calls are counted, a disk's latency is not.
const log = createLogger({ level: 'info', pretty: false }, createLogDestination({ path: '/dev/null' }))
const metrics = createMetrics({ log, processMetrics: false })
const now = () => performance.now()
const user = ({ params }: { params: { id: string } }) => ({ id: params.id, name: `User ${params.id}` })

type Handler = { handle(request: Request): Promise<Response> }

// Without requestContext there is no request state, so '+ http metrics' hands the plugin the
// ids itself: every request still records its exemplars (a fresh label set each, as in
// production); from '+ request id' on, the plugin reads them from the request state.
const benchExemplar = () => traceExemplar('4bf92f3577b34da6a3ce929d0e0e4736', 'bench-request-id')
const base = () => new Elysia({ normalize: false })
const withMetrics = (exemplarOf = requestExemplar) =>
  base().use(httpMetrics({ instruments: metrics.http, now, exemplarOf }))
const withContext = () =>
  withMetrics().use(requestContext({ log, maxBodyBytes: 1 << 20, newId: () => crypto.randomUUID(), now }))
const withErrors = () => withContext().use(errorEnvelope({ log }))
const withAccessLog = () => withErrors().use(accessLog({ log, now }))
// The security headers' hook is the last mapResponse hook, as in createApp.
const withHeaders = () => withAccessLog().use(securityHeaders())
const withDocs = () =>
  withHeaders().use(openApiDocs({ title: 'bench', version: '0', description: 'bench', tags: [] }))

const apps: Array<[string, Handler]> = [
  ['bare', base().get('/users/:id', user)],
  // The exemplars' own cost is the step between these two lines.
  ['+ http metrics, no exemplars', withMetrics(() => undefined).get('/users/:id', user)],
  ['+ http metrics', withMetrics(benchExemplar).get('/users/:id', user)],
  ['+ request id', withContext().get('/users/:id', user)],
  ['+ error envelope', withErrors().get('/users/:id', user)],
  ['+ access log', withAccessLog().get('/users/:id', user)],
  ['+ security headers', withHeaders().get('/users/:id', user)],
  ['+ OpenAPI docs (= full)', withDocs().get('/users/:id', user)],
]
const urls = Array.from({ length: 512 }, (_, i) => `http://localhost/users/${i}`)

async function cpuPerRequest(app: Handler): Promise<number> {
  const start = process.cpuUsage()
  for (let i = 0; i < REQUESTS; i++) {
    await (await app.handle(new Request(urls[i & 511]!))).arrayBuffer()
    // Turn the event loop now and then, as a server does between batches of requests, so the
    // log destination's writes complete instead of piling up (and being dropped).
    if ((i & 63) === 63) await new Promise((resolve) => setImmediate(resolve))
  }
  // Let after-response hooks (access log) run inside the measured window.
  await new Promise((resolve) => setImmediate(resolve))
  const used = process.cpuUsage(start)
  return (used.user + used.system) / REQUESTS
}

const results = new Map<string, number[]>(apps.map(([name]) => [name, []]))
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, app] of apps) results.get(name)!.push(await cpuPerRequest(app))
}
let previous: number | undefined
for (const [name] of apps) {
  const value = median(results.get(name)!)
  const step =
    previous === undefined ? '' : `  (${value - previous >= 0 ? '+' : ''}${(value - previous).toFixed(2)})`
  console.log(`  ${name.padEnd(31)} ${value.toFixed(2)} µs CPU/request${step}`)
  previous = value
}
