/**
 * The realistic traffic mix shared by `bun run demo:traffic` and `bun run bench:load`:
 * product views on every channel, orders, status changes, and payments with some declines
 * (tok_declined) and provider errors (tok_error). Deterministic for a given seed.
 */

export interface TrafficOptions {
  base: string
  apiKey: string
  seed: number
  /** Share of payments that use tok_error (deliberate 502s). */
  errorShare: number
  /** Called for every request with its label, status (0 = network error) and latency. */
  onResult?: (label: string, status: number, ms: number) => void
}

const CHANNELS = ['web', 'whatsapp', 'whatsapp', 'instagram', 'facebook', 'sms', 'pos'] as const
const CATALOGUE = [
  'Sukuma wiki',
  'Maize flour 2kg',
  'Chapati (5)',
  'Mandazi',
  'Chai masala',
  'Avocado',
  'Sugar 1kg',
  'Milk 500ml',
]

/** A 5xx (or network error) that is not one of the deliberate tok_error payments. */
export const isUnexpected = (label: string, status: number) =>
  (status >= 500 || status === 0) && !(label === 'pay tok_error' && status === 502)

export async function prepareTraffic(options: TrafficOptions) {
  let state = options.seed >>> 0 || 1
  const random = () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return (state >>> 0) / 2 ** 32
  }
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!

  async function send(label: string, path: string, init: { method?: string; json?: unknown } = {}) {
    let status = 0
    const started = performance.now()
    try {
      const res = await fetch(`${options.base}${path}`, {
        method: init.method ?? 'GET',
        headers: {
          authorization: `Bearer ${options.apiKey}`,
          ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: init.json !== undefined ? JSON.stringify(init.json) : undefined,
        signal: AbortSignal.timeout(10_000),
      })
      status = res.status
      const body = status < 300 ? ((await res.json()) as Record<string, unknown>) : undefined
      if (status >= 300) await res.text()
      return { status, body }
    } catch {
      return { status: 0, body: undefined }
    } finally {
      options.onResult?.(label, status, performance.now() - started)
    }
  }

  const me = await send('me', '/tenants/me')
  if (me.status !== 200) throw new Error(`GET /tenants/me answered ${me.status}: check the URL and API key`)
  const products: string[] = []
  const existing = await send('list products', '/products?limit=100')
  for (const p of (existing.body?.items as Array<{ id: string; active: boolean }> | undefined) ?? []) {
    if (p.active) products.push(p.id)
  }
  while (products.length < CATALOGUE.length) {
    const created = await send('create product', '/products', {
      method: 'POST',
      json: {
        name: CATALOGUE[products.length]!,
        priceMinor: 50 + Math.floor(random() * 500) * 10,
        currency: 'KES',
      },
    })
    if (created.status !== 201) throw new Error(`POST /products answered ${created.status}`)
    products.push(created.body!.id as string)
  }

  const payable: string[] = []
  const paid: string[] = []
  const phone = () => `+2547${String(Math.floor(random() * 1e8)).padStart(8, '0')}`

  /** One customer or shop action, chosen by the mix. */
  async function oneAction() {
    const roll = random()
    if (roll < 0.45) {
      await send('view product', `/products/${pick(products)}?channel=${pick(CHANNELS)}`)
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
        await send('ship order', `/orders/${paid.shift()}/status`, {
          method: 'PATCH',
          json: { status: 'shipped' },
        })
      } else if (payable.length > 0) {
        const id = payable.shift()!
        const status = random() < 0.7 ? 'confirmed' : 'cancelled'
        const res = await send(`${status} order`, `/orders/${id}/status`, {
          method: 'PATCH',
          json: { status },
        })
        if (status === 'confirmed' && res.status === 200) payable.push(id)
      }
    } else if (payable.length > 0) {
      const id = payable.shift()!
      const r = random()
      const source =
        r < options.errorShare ? 'tok_error' : r < options.errorShare + 0.1 ? 'tok_declined' : 'tok_success'
      const res = await send(`pay ${source}`, `/orders/${id}/payments`, {
        method: 'POST',
        json: { provider: 'sandbox', source },
      })
      if (res.status === 201) paid.push(id)
      else if (res.status === 402 || res.status === 502) payable.push(id)
    }
  }

  return { oneAction }
}

/** Runs `action` at `rate` per second for `durationMs`, with at most `maxInFlight` at once. */
export async function drive(
  action: () => Promise<void>,
  rate: number,
  durationMs: number,
  maxInFlight = 200,
) {
  const started = Date.now()
  const inFlight = new Set<Promise<void>>()
  let sent = 0
  while (Date.now() - started < durationMs) {
    const due = Math.floor(((Date.now() - started) / 1000) * rate)
    while (sent < due && inFlight.size < maxInFlight) {
      sent++
      const p = action().finally(() => inFlight.delete(p))
      inFlight.add(p)
    }
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  await Promise.all(inFlight)
  return { sent, seconds: (Date.now() - started) / 1000 }
}
