/**
 * The same core served by Bun, Deno and Node: each entry starts on a free port with the
 * embedded database, takes a tenant, an order and a payment, reports a failing payment
 * provider to a local Sentry fake through its own SDK (same tags, same scrubbing), exposes the
 * expected series on /metrics, answers bad input (broken JSON, a 413, an unknown route, a 405)
 * and the docs page identically (status, headers, envelope), and shuts down cleanly on SIGTERM. Deno and Node run when their
 * binaries are on the PATH (CI installs Deno from npm; Node 20 is on the machine); under
 * REQUIRE_OPS_TOOLS=1 a missing one is a failure.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ADMIN_TOKEN } from '../helpers/app.ts'
import { seedEmbeddedDataDir } from '../helpers/db.ts'
import { createServerData, freePort, startServer } from '../helpers/process.ts'
import { available, RUNTIMES } from '../helpers/runtimes.ts'
import {
  expectRequestScrubbed,
  expectSandboxProviderErrorEvent,
  leaks,
  startIngest,
} from '../helpers/sentry-ingest.ts'
import { skipTest } from '../helpers/skips.ts'

setDefaultTimeout(120_000)

/** The version of the runtime's own Sentry SDK (`@sentry/bun`, `@sentry/node`, `@sentry/deno`). */
function sdkVersion(runtime: string): string {
  return JSON.parse(
    readFileSync(join(import.meta.dir, '../../node_modules/@sentry', runtime, 'package.json'), 'utf8'),
  ).version
}

/** Requests whose answers must be identical on Bun, Deno and Node: bad input and the docs page. */
const DIFFERENTIAL: Array<[string, string, RequestInit & { headers?: Record<string, string> }]> = [
  [
    'broken-json',
    '/tenants',
    {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: '{"name":',
    },
  ],
  [
    'too-large',
    '/tenants',
    {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: `{"name":"${'x'.repeat(1_048_577)}"}`,
    },
  ],
  ['unknown-route', '/no-such-route', {}],
  ['wrong-method', '/health', { method: 'DELETE' }],
  ['docs', '/swagger', {}],
]

/** The /metrics families that differ between runtimes. */
const HEAP_SPACE_FAMILIES = [
  'nodejs_heap_space_size_total_bytes',
  'nodejs_heap_space_size_used_bytes',
  'nodejs_heap_space_size_available_bytes',
]
const RUNTIME_DEPENDENT_FAMILIES = ['bun_version_info', ...HEAP_SPACE_FAMILIES]

/**
 * Which of them each runtime exports (README "Runtimes"): Bun adds its version; Deno's `node:v8`
 * throws "Not implemented" from getHeapSpaceStatistics, so prom-client registers no heap-space
 * family there rather than gauges that cannot be read; Bun's fills only `old_space` and reports
 * 0 for the other spaces, so the service drops the heap-space families there.
 */
const RUNTIME_DEPENDENT_PRESENT: Record<'bun' | 'deno' | 'node', string[]> = {
  bun: ['bun_version_info'],
  deno: [],
  node: HEAP_SPACE_FAMILIES,
}

/**
 * The runtime-level families (`process_*`, `nodejs_*`, `bun_*`, which prom-client's default
 * collectors export as the runtime allows) that ops/ dashboards, rules and SLOs read; a
 * histogram's series suffixes are read as its family.
 */
const OPS_RUNTIME_FAMILIES = [
  ...new Set(
    ['grafana/dashboards', 'prometheus/rules', 'slo'].flatMap((dir) =>
      readdirSync(join(import.meta.dir, '../../ops', dir)).flatMap((file) =>
        [
          ...readFileSync(join(import.meta.dir, '../../ops', dir, file), 'utf8').matchAll(
            /\b(?:process|nodejs|bun)_[a-z0-9_]+/g,
          ),
        ].map((m) => m[0].replace(/_(?:bucket|sum|count)$/, '')),
      ),
    ),
  ),
].sort()

/** The headers compared; transport headers (connection, encoding, length) are the runtime's. */
const ANSWER_HEADERS = [
  'content-type',
  'allow',
  'cache-control',
  'x-content-type-options',
  'x-frame-options',
  'referrer-policy',
  'content-security-policy',
]

const API_CSP = "default-src 'none'; frame-ancestors 'none'"
const secured = (type: string, csp = API_CSP) => ({
  'content-type': type,
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': csp,
})
const envelope = (code: string, message: string, details?: unknown) =>
  JSON.stringify({ error: { code, message, ...(details ? { details } : {}), requestId: '<rid>' } })

const EXPECTED_ANSWERS = [
  {
    name: 'broken-json',
    status: 400,
    headers: secured('application/json'),
    body: envelope(
      'INVALID_JSON',
      'Request body is not valid JSON: line 1, column 9: a value was expected, but the body ends',
    ),
    rid: true,
  },
  {
    name: 'too-large',
    status: 413,
    headers: secured('application/json'),
    body: envelope('PAYLOAD_TOO_LARGE', 'Request body exceeds 1048576 bytes'),
    rid: true,
  },
  {
    name: 'unknown-route',
    status: 404,
    headers: secured('application/json'),
    body: envelope('NOT_FOUND', 'Route not found'),
    rid: true,
  },
  {
    name: 'wrong-method',
    status: 405,
    headers: { ...secured('application/json'), allow: 'GET, HEAD' },
    body: envelope('METHOD_NOT_ALLOWED', 'Method not allowed on this path; it answers GET, HEAD', {
      allow: ['GET', 'HEAD'],
    }),
    rid: true,
  },
  {
    name: 'docs',
    status: 200,
    headers: secured(
      'text/html; charset=utf-8',
      "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
    ),
    body: 'html page',
    rid: true,
  },
]

describe('runtimes', () => {
  for (const runtime of RUNTIMES) {
    const present = available(runtime.binary)
    const required = process.env.REQUIRE_OPS_TOOLS === '1'
    if (!present && !required) {
      skipTest(`runtimes: ${runtime.name}`, `${runtime.binary} is not on the PATH`)
      continue
    }
    test(`${runtime.name}: tenant, order and payment, a provider error in Sentry, the same answers to bad input, /metrics, SIGTERM`, async () => {
      expect(present).toBe(true)
      if (runtime.prepare) expect(Bun.spawnSync(runtime.prepare).exitCode).toBe(0)
      const data = await createServerData()
      // The embedded database, whatever the suite runs on: this is about the runtime.
      data.databaseUrl = ''
      const ingest = await startIngest()
      const server = await startServer(
        {
          ADMIN_TOKEN,
          SANDBOX_LATENCY_MS: '0',
          SENTRY_DSN: ingest.dsn,
          // Every request traced: renaming the runtime's http.server span must not fail either.
          SENTRY_TRACES_SAMPLE_RATE: '1',
        },
        data,
        runtime.command(),
      )
      try {
        const call = async (
          path: string,
          token: string,
          body?: unknown,
          headers?: Record<string, string>,
        ) => {
          const res = await fetch(`${server.url}${path}`, {
            method: body === undefined ? 'GET' : 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
            body: body === undefined ? undefined : JSON.stringify(body),
          })
          return { status: res.status, body: (await res.json()) as Record<string, any> }
        }
        const tenant = await call('/tenants', ADMIN_TOKEN, {
          name: runtime.name,
          ownerPhone: '+254711000950',
        })
        expect(tenant.status).toBe(201)
        const key = tenant.body.apiKey as string
        const product = await call('/products', key, { name: 'Tea', priceMinor: 150, currency: 'KES' })
        const order = await call('/orders', key, {
          channel: 'whatsapp',
          customer: { phone: '+254711000951' },
          items: [{ productId: product.body.id, quantity: 2 }],
        })
        expect(order.status).toBe(201)
        const payment = await call(`/orders/${order.body.id}/payments`, key, {
          provider: 'sandbox',
          source: 'tok_success',
        })
        expect(payment.body).toMatchObject({ status: 'succeeded', amountMinor: 300 })

        const failing = await call('/orders', key, {
          channel: 'whatsapp',
          customer: { phone: '+254711000952' },
          items: [{ productId: product.body.id, quantity: 1 }],
        })
        const requestId = `${runtime.name}-provider-error`
        const cookie = 'smoke-c00kie-value'
        const failed = await call(
          `/orders/${failing.body.id}/payments`,
          key,
          { provider: 'sandbox', source: 'tok_error' },
          { 'x-request-id': requestId, cookie: `sid=${cookie}`, 'x-customer-phone': '+254711000952' },
        )
        expect(failed.status).toBe(502)
        const [event] = await ingest.waitFor(
          () => ingest.eventsFor(requestId).length > 0 && ingest.eventsFor(requestId),
          `the ${runtime.name} provider error event`,
        )
        expectSandboxProviderErrorEvent(event, {
          requestId,
          tenantId: tenant.body.id,
          orderId: failing.body.id,
          paymentId: failed.body.error.details.payment.id,
          amountMinor: 150,
          currency: 'KES',
        })
        expect(event!.sdk).toMatchObject({
          name: `sentry.javascript.${runtime.name}`,
          version: sdkVersion(runtime.name),
        })
        expectRequestScrubbed(event)
        // A short host name (a compose service, `curl http://web/health`) routes as any other.
        // Each answers JSON under one content type on every runtime, an error envelope too.
        const shortHost = await Promise.all(
          ['/health', '/products/00000000-0000-0000-0000-000000000000'].map(async (path) => {
            const res = await fetch(`${server.url}${path}`, { headers: { host: 'web' } })
            return [res.status, res.headers.get('content-type')]
          }),
        )
        expect({ runtime: runtime.name, shortHost }).toEqual({
          runtime: runtime.name,
          shortHost: [
            [200, 'application/json'],
            [401, 'application/json'],
          ],
        })
        // The same answer on every runtime, to the byte once decoded (Deno may compress it):
        // status, content type, security headers, the request id echoed, the error envelope.
        const answers = await Promise.all(
          DIFFERENTIAL.map(async ([name, path, init]) => {
            const rid = `${runtime.name}-${name}`
            // keepalive: false, as a runtime may close a connection whose body it did not read.
            const res = await fetch(`${server.url}${path}`, {
              ...init,
              keepalive: false,
              headers: { ...init.headers, 'x-request-id': rid },
            })
            const text = await res.text()
            const headers = Object.fromEntries(
              ANSWER_HEADERS.map((header) => [header, res.headers.get(header)]).filter(([, v]) => v !== null),
            )
            const body = text.startsWith('<!doctype html>') ? 'html page' : text.replaceAll(rid, '<rid>')
            return { name, status: res.status, headers, body, rid: res.headers.get('x-request-id') === rid }
          }),
        )
        expect({ runtime: runtime.name, answers }).toEqual({
          runtime: runtime.name,
          answers: EXPECTED_ANSWERS,
        })
        const metrics = await fetch(`${server.url}/metrics`)
        expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
        const text = await metrics.text()
        const tenantId = tenant.body.id as string
        for (const line of [
          `orders_created_total{tenant_id="${tenantId}",channel="whatsapp"} 2`,
          `payments_processed_total{tenant_id="${tenantId}",provider="sandbox",status="succeeded"} 1`,
          'http_requests_total{method="POST",endpoint="/orders/:id/payments",status="201"} 1',
          `runtime_info{runtime="${runtime.name}",`,
          'db_up 1',
        ]) {
          expect({ runtime: runtime.name, line, present: text.includes(line) }).toEqual({
            runtime: runtime.name,
            line,
            present: true,
          })
        }
        // The families a runtime may lack or add, exactly, and every runtime-level family that a
        // dashboard or rule in ops/ reads present on every runtime (a panel written on Bun must
        // not go blank on Deno).
        const families = new Set(
          text
            .split('\n')
            .filter((l) => l.startsWith('# TYPE '))
            .map((l) => l.split(' ')[2]),
        )
        expect({
          runtime: runtime.name,
          present: RUNTIME_DEPENDENT_FAMILIES.filter((name) => families.has(name)),
        }).toEqual({ runtime: runtime.name, present: RUNTIME_DEPENDENT_PRESENT[runtime.name] })
        expect({
          runtime: runtime.name,
          missing: OPS_RUNTIME_FAMILIES.filter((name) => !families.has(name)),
        }).toEqual({ runtime: runtime.name, missing: [] })
        server.proc.kill('SIGTERM')
        expect(await server.exited).toBe(0)
        expect(server.lines.at(-1)?.msg).toBe('stopped')
        expect(server.lines.some((line) => line.msg === 'sentry enabled')).toBe(true)
        // Everything queued is delivered by now: the one failing request is the one event.
        expect(ingest.events().map((e) => e.tags?.request_id)).toEqual([requestId])
        const sent = ingest.rawText()
        for (const secret of [key, ADMIN_TOKEN, cookie, '254711000950', '254711000951', '254711000952']) {
          expect({ runtime: runtime.name, leaks: leaks(sent, secret) }).toEqual({
            runtime: runtime.name,
            leaks: [],
          })
        }
        // Each request is one http.server root span named by route, on every runtime; the event
        // belongs to its request's trace.
        const roots = ingest.rootSpans()
        expect(roots.map((r) => `${r.op} ${r.name}`).sort()).toEqual(
          [
            'http.server GET /health',
            'http.server GET /metrics',
            'http.server GET /products/:id',
            'http.server POST /orders',
            'http.server POST /orders',
            'http.server POST /orders/:id/payments',
            'http.server POST /orders/:id/payments',
            'http.server POST /products',
            'http.server POST /tenants',
            'http.server GET /swagger',
            // The bad-input requests, refused before Elysia routed them, are named by their method
            // alone on every runtime: never by the URL a client sent (unbounded names in Sentry).
            ...['DELETE', 'GET', 'POST', 'POST'].map((name) => `http.server ${name}`),
          ].sort(),
        )
        expect(
          roots.filter((r) => r.traceId === event!.contexts?.trace?.trace_id).map((r) => r.name),
        ).toEqual(['POST /orders/:id/payments'])
        expect(ingest.rejected).toEqual([])
      } finally {
        await server.cleanup()
        await data.cleanup()
        ingest.stop()
      }
    })
  }
})

/** Whether a TCP port on 127.0.0.1 can be bound again (nothing holds it). */
async function portIsFree(port: number): Promise<boolean> {
  const server = createServer()
  return new Promise((resolve) => {
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

test('the ops/ scan finds the runtime-level families the dashboards and rules read', () => {
  // Not empty by a broken scan: the memory, CPU and event-loop panels and alerts are found.
  expect(OPS_RUNTIME_FAMILIES).toEqual(
    expect.arrayContaining([
      'nodejs_eventloop_lag_seconds',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
    ]),
  )
  expect(OPS_RUNTIME_FAMILIES.filter((name) => RUNTIME_DEPENDENT_FAMILIES.includes(name))).toEqual([])
})

describe('start scripts: SIGINT to the `bun run` process stops the server itself', () => {
  for (const runtime of ['deno', 'node']) {
    const present = available(runtime)
    if (!present && process.env.REQUIRE_OPS_TOOLS !== '1') {
      skipTest(`bun run start:${runtime}`, `${runtime} is not on the PATH`)
      continue
    }
    test(`bun run start:${runtime}: SIGINT releases the port and the data-folder lock, and the server process is gone`, async () => {
      expect(present).toBe(true)
      const dataDir = mkdtempSync(join(tmpdir(), `cc-start-${runtime}-`))
      await seedEmbeddedDataDir(dataDir)
      const port = await freePort()
      const proc = Bun.spawn(['bun', 'run', `start:${runtime}`], {
        env: {
          ...process.env,
          NODE_ENV: 'production',
          PORT: String(port),
          HOST: '127.0.0.1',
          DATA_DIR: dataDir,
          DATABASE_URL: '',
        },
        stdout: 'pipe',
        stderr: 'pipe',
      })
      try {
        const lock = join(dataDir, 'lock')
        let healthy = false
        for (let i = 0; i < 600 && !healthy; i++) {
          healthy = await fetch(`http://127.0.0.1:${port}/health`).then(
            (r) => r.ok,
            () => false,
          )
          if (!healthy) await Bun.sleep(100)
        }
        expect(healthy).toBe(true)
        // The process holding the lock is the runtime's own, not the `bun run` process.
        const serverPid = Number(readFileSync(lock, 'utf8'))
        expect(serverPid).not.toBe(proc.pid)
        proc.kill('SIGINT')
        expect(await proc.exited).toBe(0)
        const stdout = await new Response(proc.stdout).text()
        expect(stdout).toContain('"msg":"stopped"')
        expect(existsSync(lock)).toBe(false)
        expect(() => process.kill(serverPid, 0)).toThrow()
        expect(await portIsFree(port)).toBe(true)
      } finally {
        if (proc.exitCode === null) proc.kill('SIGKILL')
        rmSync(dataDir, { recursive: true, force: true })
      }
    })
  }

  test('without deno on the PATH, start:deno says how to install it in one line', () => {
    const result = Bun.spawnSync([process.execPath, 'scripts/start-runtime.ts', 'deno'], {
      env: { ...process.env, PATH: '/nonexistent' },
      stderr: 'pipe',
    })
    expect(result.exitCode).toBe(127)
    expect(result.stderr.toString()).toMatch(
      /^deno is not installed: npm install -g deno@\d+\.\d+\.\d+ \(the version CI uses\), then bun run start:deno\n$/,
    )
  })
})
