import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import openapiTS, { astToString } from 'openapi-typescript'
import { ADMIN_TOKEN, buildTestApp } from '../helpers/app.ts'
import { testPhone } from '../helpers/commerce.ts'

// Generating the types and a strict tsc run take several seconds on 2 shared cores.
setDefaultTimeout(120_000)

const dir = mkdtempSync(join(tmpdir(), 'cc-contract-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const tsc = join(import.meta.dir, '../../node_modules/.bin/tsc')

interface Priced {
  id: string
  stock: number | null
  totalMinor: number
  amountMinor: number
  status: string
}
/** The compiled client, as this file sees it (its exact types live in the generated folder). */
interface TypedClientModule {
  createClient(
    fetchFn: (url: string, init: RequestInit) => Promise<Response>,
    baseUrl: string,
    adminToken: string,
  ): {
    createTenant(body: object): Promise<{ apiKey: string }>
    createProduct(apiKey: string, body: object): Promise<Priced>
    getProduct(apiKey: string, id: string): Promise<Priced>
    placeOrder(apiKey: string, body: object): Promise<Priced>
    pay(apiKey: string, orderId: string, body: object): Promise<Priced>
  }
}

describe('types generated from /swagger/json with openapi-typescript', () => {
  test('give exact response types: stock is number | null, money is number, and no field is string | number', async () => {
    const { call } = await buildTestApp()
    const doc = await (await call('/swagger/json')).json()
    const types = astToString(await openapiTS(doc))
    writeFileSync(join(dir, 'api.ts'), types)
    // A coercion union anywhere (a response, a parameter) is the leak a typed client trips on.
    expect(types.match(/string \| number|number \| string/g)).toBeNull()
    expect(types).toContain('stock: number | null;')
  })

  test('compile with a small typed client under strict tsc, and that client works against the app', async () => {
    copyFileSync(join(import.meta.dir, 'typed-client.ts.txt'), join(dir, 'typed-client.ts'))
    const compile = Bun.spawnSync(
      [
        tsc,
        '--noEmit',
        '--strict',
        '--noUncheckedIndexedAccess',
        '--exactOptionalPropertyTypes',
        '--target',
        'ES2022',
        '--module',
        'ESNext',
        '--moduleResolution',
        'bundler',
        '--allowImportingTsExtensions',
        '--lib',
        'ES2022,DOM',
        join(dir, 'api.ts'),
        join(dir, 'typed-client.ts'),
      ],
      { stdout: 'pipe', stderr: 'pipe' },
    )
    expect({ status: compile.exitCode, output: compile.stdout.toString() }).toEqual({ status: 0, output: '' })

    const { app } = await buildTestApp()
    const { createClient } = (await import(join(dir, 'typed-client.ts'))) as TypedClientModule
    const client = createClient(
      (url, init) => app.handle(new Request(url, init)),
      'http://localhost',
      ADMIN_TOKEN,
    )
    const tenant = await client.createTenant({ name: 'Typed client shop', ownerPhone: testPhone() })
    const limited = await client.createProduct(tenant.apiKey, {
      name: 'Maize flour 2 kg',
      priceMinor: 21_000,
      currency: 'KES',
      stock: 3,
    })
    const unlimited = await client.createProduct(tenant.apiKey, {
      name: 'Delivery',
      priceMinor: 15_000,
      currency: 'KES',
    })
    expect((await client.getProduct(tenant.apiKey, limited.id)).stock).toBe(3)
    expect((await client.getProduct(tenant.apiKey, unlimited.id)).stock).toBeNull()
    const order = await client.placeOrder(tenant.apiKey, {
      customer: { phone: testPhone() },
      items: [
        { productId: limited.id, quantity: 2 },
        { productId: unlimited.id, quantity: 1 },
      ],
    })
    expect(order.totalMinor).toBe(57_000)
    const payment = await client.pay(tenant.apiKey, order.id, { provider: 'sandbox', source: 'tok_success' })
    expect({ status: payment.status, amountMinor: payment.amountMinor }).toEqual({
      status: 'succeeded',
      amountMinor: 57_000,
    })
  })
})
