/**
 * The same core served by Bun, Deno and Node: each entry starts on a free port with the
 * embedded database, takes a tenant, an order and a payment, exposes the expected series on
 * /metrics, and shuts down cleanly on SIGTERM. Deno and Node run when their binaries are on
 * the PATH (CI installs Deno from npm; Node 20 is on the machine); under REQUIRE_OPS_TOOLS=1 a
 * missing one is a failure.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { denoExecutable } from '../../scripts/start-runtime.ts'
import { ADMIN_TOKEN } from '../helpers/app.ts'
import { createServerData, freePort, startServer } from '../helpers/process.ts'
import { skipTest } from '../helpers/skips.ts'

setDefaultTimeout(120_000)

const available = (binary: string) => Bun.which(binary) !== null

/**
 * The Deno binary itself. The npm package puts a Node wrapper on the PATH that does not pass
 * signals on to Deno, so SIGTERM would stop the wrapper and orphan the server.
 */
const denoBinary = () => denoExecutable() ?? 'deno'

const RUNTIMES: Array<{ name: string; binary: string; prepare?: string[]; command: string[] }> = [
  { name: 'bun', binary: 'bun', command: ['bun', 'src/server.ts'] },
  {
    name: 'deno',
    binary: 'deno',
    command: [denoBinary(), 'run', '--allow-all', '--config', 'deno.json', 'src/server.deno.ts'],
  },
  {
    name: 'node',
    binary: 'node',
    prepare: ['bun', 'run', 'build:node'],
    command: ['node', 'dist/node/server.node.js'],
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
    test(`${runtime.name}: tenant, order and payment, /metrics, SIGTERM`, async () => {
      expect(present).toBe(true)
      if (runtime.prepare) expect(Bun.spawnSync(runtime.prepare).exitCode).toBe(0)
      const data = await createServerData()
      // The embedded database, whatever the suite runs on: this is about the runtime.
      data.databaseUrl = ''
      const server = await startServer({ ADMIN_TOKEN, SANDBOX_LATENCY_MS: '0' }, data, runtime.command)
      try {
        const call = async (path: string, token: string, body?: unknown) => {
          const res = await fetch(`${server.url}${path}`, {
            method: body === undefined ? 'GET' : 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
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
        const metrics = await fetch(`${server.url}/metrics`)
        expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
        const text = await metrics.text()
        const tenantId = tenant.body.id as string
        for (const line of [
          `orders_created_total{tenant_id="${tenantId}",channel="whatsapp"} 1`,
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
        server.proc.kill('SIGTERM')
        expect(await server.exited).toBe(0)
        expect(server.lines.at(-1)?.msg).toBe('stopped')
      } finally {
        await server.cleanup()
        await data.cleanup()
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
