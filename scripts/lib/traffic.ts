/**
 * The realistic traffic mix shared by `bun run demo:traffic` and `bun run bench:load`:
 * product views on every channel, orders, status changes, and payments with some declines
 * (tok_declined) and, when asked for, provider errors (tok_error). Deterministic for a given
 * seed when actions run one after another.
 */

export interface TrafficOptions {
  base: string
  apiKey: string
  seed: number
  /** Share of payments that use tok_error (deliberate 502s). */
  errorShare: number
  /**
   * Share of payments that use tok_declined (402s), 0.1 when unset. Declines spend no SLO
   * budget, but PaymentFailureRate pages above 10 % of payments declined over 15 minutes.
   */
  declineShare?: number
  /**
   * Called for every request with its label, status (0 = network error), latency and, for
   * failures, the reason: the error envelope's `code: message` (ids replaced by `<id>`, so
   * that equal failures add up) or the network error.
   */
  onResult?: (label: string, status: number, ms: number, reason?: string) => void
  /** The HTTP client; tests pass one that calls `app.handle`. */
  fetch?: (request: Request) => Promise<Response>
}

/**
 * `bun run demo:traffic`'s defaults: healthy traffic. No provider errors (a provider outage is
 * an incident, `bun run demo:incident`'s job: on a fresh start a single 5xx in the 30 seconds
 * is more than the availability SLO's budget, and its ticket alert fires), and declines well
 * below PaymentFailureRate's 10 %, so that the demo pages nobody.
 */
export const DEMO_TRAFFIC = { durationSeconds: 30, rate: 20, errorShare: 0, declineShare: 0.05 } as const

/** The first request failed: nothing answers at the URL, or the key is wrong. One line, no stack. */
export class TrafficSetupError extends Error {
  override name = 'TrafficSetupError'
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi

/** Why a request failed, from the common error envelope `{ error: { code, message } }`. */
function failureReason(text: string): string {
  try {
    const { error } = JSON.parse(text) as { error?: { code?: string; message?: string } }
    if (error?.code) return `${error.code}: ${(error.message ?? '').replace(UUID, '<id>')}`
  } catch {
    // not the envelope
  }
  return text.slice(0, 120) || 'empty body'
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

/**
 * Checks the tenant behind `options.apiKey`, makes sure it has products in its own currency,
 * and returns `oneAction`, which performs one action of the mix per call.
 * @throws TrafficSetupError when nothing answers at `options.base` or the key is refused
 */
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
    let reason: string | undefined
    const started = performance.now()
    try {
      const res = await (options.fetch ?? fetch)(
        new Request(`${options.base}${path}`, {
          method: init.method ?? 'GET',
          headers: {
            authorization: `Bearer ${options.apiKey}`,
            ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          body: init.json !== undefined ? JSON.stringify(init.json) : undefined,
          signal: AbortSignal.timeout(10_000),
        }),
      )
      status = res.status
      const body = status < 300 ? ((await res.json()) as Record<string, unknown>) : undefined
      if (status >= 300) reason = failureReason(await res.text())
      return { status, body, reason }
    } catch (error) {
      reason = `network error: ${(error as Error).message}`
      return { status: 0, body: undefined, reason }
    } finally {
      options.onResult?.(label, status, performance.now() - started, reason)
    }
  }

  const me = await send('me', '/tenants/me')
  if (me.status === 0) throw new TrafficSetupError(`nothing answered at ${options.base} (${me.reason})`)
  if (me.status !== 200) {
    throw new TrafficSetupError(
      `GET ${options.base}/tenants/me answered ${me.status} (${me.reason}): check the URL and the API key`,
    )
  }
  // An order cannot mix currencies, so every product the traffic uses is in the tenant's own.
  // It leaves out products whose stock is tracked (the Quick start's first order adds one with
  // 10 units): once they run out, every order naming one is a 409 the demo would show as a
  // failure of a healthy shop. The products it creates itself have unlimited stock.
  const currency = (me.body!.settings as { currency: string }).currency
  const products: string[] = []
  const existing = await send('list products', '/products?limit=100')
  for (const p of (existing.body?.items as
    | Array<{ id: string; active: boolean; currency: string; stock: number | null }>
    | undefined) ?? []) {
    if (p.active && p.currency === currency && p.stock === null) products.push(p.id)
  }
  while (products.length < CATALOGUE.length) {
    const created = await send('create product', '/products', {
      method: 'POST',
      json: {
        name: CATALOGUE[products.length % CATALOGUE.length]!,
        priceMinor: 50 + Math.floor(random() * 500) * 10,
        currency,
      },
    })
    if (created.status !== 201) {
      throw new TrafficSetupError(
        `POST ${options.base}/products answered ${created.status} (${created.reason})`,
      )
    }
    products.push(created.body!.id as string)
  }

  const payable: string[] = []
  const paid: string[] = []
  /** The payable orders already confirmed (the others are pending). */
  const confirmed = new Set<string>()
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
        // A confirmed order stays payable, but can only be cancelled now (confirmed→confirmed
        // is a 409 the demo would report as a failure of the service).
        const status = !confirmed.has(id) && random() < 0.7 ? 'confirmed' : 'cancelled'
        const res = await send(`${status} order`, `/orders/${id}/status`, {
          method: 'PATCH',
          json: { status },
        })
        if (status === 'confirmed' && res.status === 200) {
          confirmed.add(id)
          payable.push(id)
        }
        if (status === 'cancelled') confirmed.delete(id)
      }
    } else if (payable.length > 0) {
      const id = payable.shift()!
      const r = random()
      const declines = options.errorShare + (options.declineShare ?? 0.1)
      const source = r < options.errorShare ? 'tok_error' : r < declines ? 'tok_declined' : 'tok_success'
      const res = await send(`pay ${source}`, `/orders/${id}/payments`, {
        method: 'POST',
        json: { provider: 'sandbox', source },
      })
      if (res.status === 201) {
        confirmed.delete(id)
        paid.push(id)
      } else if (res.status === 402 || res.status === 502) payable.push(id)
    }
  }

  return { oneAction, currency }
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
