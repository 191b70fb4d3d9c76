/**
 * `bun run demo:traffic [--url http://localhost:3000] [--duration 30] [--rate 20] [--api-key ck_…]`
 *
 * Drives a running instance with a realistic mix — product views, orders over several
 * channels, status changes, payments with some declines and provider errors — so that
 * metrics, dashboards and alerts have something to show. Bounded in time. Without
 * --api-key it uses the demo tenant that `bun run dev` leaves in DATA_DIR/demo-tenant.json.
 * Exits 1 if any 5xx other than the deliberate `tok_error` payments happened.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://localhost:3000' },
    duration: { type: 'string', default: '30' },
    rate: { type: 'string', default: '20' },
    'api-key': { type: 'string' },
    'error-share': { type: 'string', default: '0.05' },
    seed: { type: 'string', default: '1' },
  },
})

const base = values.url!.replace(/\/$/, '')
const durationMs = Number(values.duration) * 1000
const rate = Number(values.rate)
const errorShare = Number(values['error-share'])
if (!(durationMs > 0 && durationMs <= 3_600_000) || !(rate > 0 && rate <= 2000)) {
  console.error('--duration must be 1..3600 seconds and --rate 1..2000 requests per second')
  process.exit(2)
}
const apiKey =
  values['api-key'] ??
  process.env.API_KEY ??
  (() => {
    const file = join(process.env.DATA_DIR ?? './.data', 'demo-tenant.json')
    try {
      return (JSON.parse(readFileSync(file, 'utf8')) as { apiKey: string }).apiKey
    } catch {
      console.error(`no --api-key given and no ${file}: start the service with \`bun run dev\` first`)
      process.exit(2)
    }
  })()

// A small deterministic generator, so runs with the same --seed produce the same mix.
let state = Number(values.seed) >>> 0 || 1
const random = () => {
  state ^= state << 13
  state ^= state >>> 17
  state ^= state << 5
  return (state >>> 0) / 2 ** 32
}
const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!
const CHANNELS = ['web', 'whatsapp', 'whatsapp', 'instagram', 'facebook', 'sms', 'pos'] as const

const outcomes = new Map<string, number>()
let unexpected5xx = 0
async function send(
  label: string,
  path: string,
  init: { method?: string; json?: unknown; headers?: Record<string, string> } = {},
) {
  let status = 0
  try {
    const res = await fetch(`${base}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${apiKey}`,
        ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}),
        ...init.headers,
      },
      body: init.json !== undefined ? JSON.stringify(init.json) : undefined,
      signal: AbortSignal.timeout(10_000),
    })
    status = res.status
    const body = status < 300 ? await res.json() : undefined
    if (status >= 300) await res.text()
    return { status, body: body as Record<string, unknown> | undefined }
  } catch {
    return { status: 0, body: undefined }
  } finally {
    const key = `${label} ${status}`
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
    if ((status >= 500 || status === 0) && !(label === 'pay tok_error' && status === 502)) unexpected5xx++
  }
}

const me = await send('me', '/tenants/me')
if (me.status !== 200) {
  console.error(`GET /tenants/me answered ${me.status}: check --url and --api-key`)
  process.exit(2)
}
const products: string[] = []
const existing = await send('list products', '/products?limit=100')
for (const p of (existing.body?.items as Array<{ id: string; active: boolean }> | undefined) ?? []) {
  if (p.active) products.push(p.id)
}
const catalogue = [
  'Sukuma wiki',
  'Maize flour 2kg',
  'Chapati (5)',
  'Mandazi',
  'Chai masala',
  'Avocado',
  'Sugar 1kg',
  'Milk 500ml',
]
while (products.length < 8) {
  const created = await send('create product', '/products', {
    method: 'POST',
    json: {
      name: catalogue[products.length]!,
      priceMinor: 50 + Math.floor(random() * 500) * 10,
      currency: 'KES',
    },
  })
  if (created.status !== 201) break
  products.push(created.body!.id as string)
}

const payable: string[] = []
const paid: string[] = []
const phone = () => `+2547${String(Math.floor(random() * 1e8)).padStart(8, '0')}`

async function oneAction() {
  const roll = random()
  if (roll < 0.45) {
    const channel = pick(CHANNELS)
    await send('view product', `/products/${pick(products)}?channel=${channel}`)
  } else if (roll < 0.7) {
    const items = Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({
      productId: pick(products),
      quantity: 1 + Math.floor(random() * 3),
    }))
    const order = await send('create order', '/orders', {
      method: 'POST',
      json: { channel: pick(CHANNELS), customer: { phone: phone(), name: 'Demo customer' }, items },
    })
    if (order.status === 201) payable.push(order.body!.id as string)
  } else if (roll < 0.8) {
    if (paid.length > 0 && random() < 0.6) {
      const id = paid.shift()!
      await send('ship order', `/orders/${id}/status`, { method: 'PATCH', json: { status: 'shipped' } })
    } else if (payable.length > 0) {
      const id = payable.shift()!
      const status = random() < 0.7 ? 'confirmed' : 'cancelled'
      await send(`${status} order`, `/orders/${id}/status`, { method: 'PATCH', json: { status } })
      if (status === 'confirmed') payable.push(id)
    }
  } else if (payable.length > 0) {
    const id = payable.shift()!
    const r = random()
    const source = r < errorShare ? 'tok_error' : r < errorShare + 0.1 ? 'tok_declined' : 'tok_success'
    const res = await send(`pay ${source}`, `/orders/${id}/payments`, {
      method: 'POST',
      json: { provider: 'sandbox', source },
    })
    if (res.status === 201) paid.push(id)
    else if (res.status === 402 || res.status === 502) payable.push(id)
  }
}

console.log(`driving ${base} for ${durationMs / 1000}s at ${rate} req/s`)
const started = Date.now()
const inFlight = new Set<Promise<void>>()
let sent = 0
while (Date.now() - started < durationMs) {
  const due = Math.floor(((Date.now() - started) / 1000) * rate)
  while (sent < due && inFlight.size < 200) {
    sent++
    const p = oneAction().finally(() => inFlight.delete(p))
    inFlight.add(p)
  }
  await new Promise((resolve) => setTimeout(resolve, 5))
}
await Promise.all(inFlight)

for (const [key, count] of [...outcomes].sort()) console.log(`${String(count).padStart(6)}  ${key}`)
console.log(
  `${sent} actions in ${((Date.now() - started) / 1000).toFixed(1)}s; unexpected 5xx or network errors: ${unexpected5xx}`,
)
process.exit(unexpected5xx > 0 ? 1 : 0)
