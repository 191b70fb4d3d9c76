/**
 * `bun run demo:incident [--url http://localhost:$PORT] [--timeout 8]`
 *
 * Shows an alert end to end against a running `bun run dev`: drives failing payments
 * (`tok_error`, answered 502) and declines (`tok_declined`, 402) on the demo tenant until the
 * service's own rule manager fires one of the alerts it announces, then prints that alert as
 * `GET /alerts` reports it, every other alert that fired meanwhile, and the WhatsApp message the
 * development log transport wrote for it (DATA_DIR/whatsapp-messages.jsonl). Uses the demo
 * tenant's key and the admin token that `bun run dev` leaves in DATA_DIR (or API_KEY and
 * ADMIN_TOKEN). Exits 0 once both are printed, 1 when none of them fired within --timeout
 * minutes, 2 when it cannot start (one line naming the URL).
 *
 * It waits for the payment-success SLO's page (PaymentSuccessBudgetBurn) or HighErrorRate (more
 * than 5% of requests answered 5xx for 2 minutes: about three minutes with the default 15 s
 * sampling and 30 s evaluation), and shows the first of those two when both fire. On a fresh
 * `bun run dev` (or after `bun run demo:traffic`, whose traffic is healthy) the SLO page fires
 * within a minute, since its windows hold little but these failures; on a service with hours of
 * good payments behind it, HighErrorRate first. The failures are 5xx too, so the API
 * availability SLO's alerts (ApiAvailabilityBudgetBurn) fire along the way, often an evaluation
 * earlier (its requests were counted before the first payment was): they are listed, not waited
 * for. An alert already firing when the script starts cannot be shown firing anew, so it is
 * not waited for.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { LOG_TRANSPORT_FILE } from '../src/alerting/whatsapp/client.ts'
import { adminToken, defaultBaseUrl, demoKeyRefused, demoTenantKey, failWith } from './lib/demo.ts'

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: defaultBaseUrl() },
    timeout: { type: 'string', default: '8' },
    'api-key': { type: 'string' },
  },
})
const base = values.url!.replace(/\/$/, '')
const timeoutMs = Number(values.timeout) * 60_000
if (!(timeoutMs > 0)) failWith('--timeout must be a positive number of minutes')
// Empty counts as unset, as for the server's variables.
const givenKey = values['api-key'] ?? (process.env.API_KEY?.trim() || undefined)
const keyFromFile = givenKey === undefined
const apiKey = givenKey ?? demoTenantKey()
const admin = adminToken()
const messagesFile = join(process.env.DATA_DIR?.trim() || './.data', LOG_TRANSPORT_FILE)
const started = Date.now()

interface Alert {
  labels: Record<string, string>
  annotations: Record<string, string>
  state: 'pending' | 'firing'
  activeAt: string
  value: string
}

async function call(path: string, token: string, json?: unknown) {
  try {
    const res = await fetch(`${base}${path}`, {
      method: json === undefined ? 'GET' : 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        ...(json === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: json === undefined ? undefined : JSON.stringify(json),
      signal: AbortSignal.timeout(10_000),
    })
    // biome-ignore lint/suspicious/noExplicitAny: the service's JSON answers, read field by field
    return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, any> }
  } catch (error) {
    return { status: 0, body: { error: { message: (error as Error).message } } }
  }
}

const elapsed = () => {
  const s = Math.round((Date.now() - started) / 1000)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

async function alerts(): Promise<Alert[]> {
  const res = await call('/alerts', admin)
  if (res.status !== 200) failWith(`demo:incident: GET ${base}/alerts answered ${res.status}`)
  return res.body.data.alerts as Alert[]
}

// Start: the service answers, the keys work, the rule manager runs.
const me = await call('/tenants/me', apiKey)
if (me.status === 0)
  failWith(
    `demo:incident: nothing answered at ${base} (${me.body.error.message}); start \`bun run dev\` first, or give its port (PORT=…) or --url`,
  )
if (me.status !== 200)
  failWith(
    `demo:incident: GET ${base}/tenants/me answered ${me.status}: ${me.status === 401 && keyFromFile ? demoKeyRefused() : 'check the API key'}`,
  )
const rules = await call('/alerts/rules', admin)
if (rules.status === 403 || rules.status === 401) {
  failWith(`demo:incident: GET ${base}/alerts/rules answered ${rules.status}: the admin token was refused`)
}
const loaded = (
  (rules.body?.data?.groups ?? []) as Array<{ rules: Array<{ name: string; duration: number }> }>
).flatMap((g) => g.rules)
const highErrorRate = loaded.find((r) => r.name === 'HighErrorRate')
if (!highErrorRate) {
  failWith(`demo:incident: ${base} has no HighErrorRate rule loaded (is ALERTS_ENABLED=false?)`)
}
const alreadyFiring = new Set(
  (await alerts()).filter((a) => a.state === 'firing').map((a) => a.labels.alertname),
)
/** The alerts this demo drives and waits for, in the order it shows them when several fire at once. */
const SHOWN_FIRST = ['PaymentSuccessBudgetBurn', 'HighErrorRate'] as const
const awaited = SHOWN_FIRST.filter((name) => loaded.some((r) => r.name === name) && !alreadyFiring.has(name))
if (awaited.length === 0) {
  failWith(
    `demo:incident: ${[...SHOWN_FIRST].join(' and ')} are already firing at ${base}; run it again once they have resolved`,
  )
}

// An order to pay again and again: tok_error leaves it payable, so every attempt is a 5xx.
const currency = me.body.settings.currency as string
const product = await call('/products', apiKey, { name: 'Incident drill', priceMinor: 100, currency })
if (product.status !== 201) failWith(`demo:incident: POST ${base}/products answered ${product.status}`)
const orders: string[] = []
for (let i = 0; i < 4; i++) {
  const order = await call('/orders', apiKey, {
    channel: 'whatsapp',
    customer: { phone: `+1555010${String(1000 + i)}`, name: 'Incident drill' },
    items: [{ productId: product.body.id, quantity: 1 }],
  })
  if (order.status !== 201) failWith(`demo:incident: POST ${base}/orders answered ${order.status}`)
  orders.push(order.body.id as string)
}

/** A rule's `for` (seconds, as GET /alerts/rules gives it) in words. */
function forDuration(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60} minutes` : `${seconds} seconds`
}
const announced: Record<(typeof SHOWN_FIRST)[number], string> = {
  PaymentSuccessBudgetBurn:
    "PaymentSuccessBudgetBurn (the payment-success SLO's burn-rate page: within a minute on a fresh start)",
  HighErrorRate: `HighErrorRate (more than 5% of requests answered 5xx for ${forDuration(highErrorRate.duration)}: about 3 minutes with the shipped rule)`,
}
const skipped = SHOWN_FIRST.filter((name) => alreadyFiring.has(name))
console.log(
  `driving failing payments at ${base} until ${awaited.length > 1 ? 'one of these fires' : 'this fires'}: ` +
    `${awaited.map((name) => announced[name]).join(', or ')}; at most ${values.timeout} minutes. ` +
    (skipped.length > 0 ? `${skipped.join(' and ')} already firing, so not awaited. ` : '') +
    'Other alerts the failures set off on the way (ApiAvailabilityBudgetBurn: they are 5xx) are listed too.',
)
const awaitedRank = (alert: Alert) => {
  const rank = awaited.indexOf(alert.labels.alertname as (typeof SHOWN_FIRST)[number])
  return rank === -1 ? awaited.length : rank
}
/** `Name (severity)`, the way the report lists an alert. */
const named = (alert: Alert) => `${alert.labels.alertname} (${alert.labels.severity ?? 'no severity'})`

let sent = 0
let failed = 0
let fired: Alert | undefined
let firingNow: Alert[] = []
let lastReport = 0
const seen = new Map<string, string>()
while (!fired) {
  if (Date.now() - started > timeoutMs) {
    const others = firingNow.map(named)
    console.error(
      `demo:incident: ${awaited.join(' or ')} did not fire within ${values.timeout} minutes ` +
        `(${sent} payments, ${failed} answered 5xx${others.length > 0 ? `; firing: ${others.join(', ')}` : ''})`,
    )
    process.exit(1)
  }
  // Four payments, one a decline, then a look at the alerts: about 8 requests a second.
  for (const [i, id] of orders.entries()) {
    const pay = await call(`/orders/${id}/payments`, apiKey, {
      provider: 'sandbox',
      source: i === 0 ? 'tok_declined' : 'tok_error',
    })
    sent++
    if (pay.status >= 500) failed++
  }
  await Bun.sleep(400)
  firingNow = []
  for (const alert of await alerts()) {
    const name = alert.labels.alertname!
    if (alert.state === 'firing' && alreadyFiring.has(name)) continue
    // A page and a ticket of one SLO share the name: each is reported once.
    const key = named(alert)
    if (seen.get(key) !== alert.state) {
      seen.set(key, alert.state)
      console.log(
        `  ${elapsed()}  ${name} is ${alert.state} (${alert.labels.severity ?? 'no severity'}, ` +
          `active since ${alert.activeAt}, value ${alert.value})`,
      )
    }
    if (alert.state === 'firing') firingNow.push(alert)
  }
  // Show an announced alert, never another that happened to fire first; of an SLO's page and
  // ticket, the page.
  firingNow.sort(
    (a, b) =>
      awaitedRank(a) - awaitedRank(b) ||
      (a.labels.severity === 'critical' ? -1 : 0) - (b.labels.severity === 'critical' ? -1 : 0),
  )
  if (firingNow[0] && awaitedRank(firingNow[0]) < awaited.length) fired = firingNow[0]
  if (Date.now() - lastReport > 30_000) {
    lastReport = Date.now()
    console.log(`  ${elapsed()}  ${sent} payments sent, ${failed} answered 5xx`)
  }
}

console.log(`\n${fired.labels.alertname} fired after ${elapsed()}. GET /alerts reports:`)
console.log(JSON.stringify(fired, null, 2))
const alsoFiring = firingNow.filter((alert) => alert !== fired).map(named)
if (alsoFiring.length > 0) console.log(`Also firing now: ${alsoFiring.join(', ')}.`)

// The dispatcher sends within ALERT_NOTIFY_INTERVAL (5 s by default); the log transport of
// `bun run dev` also appends what it "sent" to DATA_DIR/whatsapp-messages.jsonl.
const deadline = Date.now() + 60_000
while (Date.now() < deadline) {
  const lines = existsSync(messagesFile) ? readFileSync(messagesFile, 'utf8').trim().split('\n') : []
  const message = lines
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { time: string; recipientMasked: string; message: unknown })
    .find((m) => Date.parse(m.time) >= started && JSON.stringify(m.message).includes(fired.labels.alertname!))
  if (message) {
    const text =
      typeof message.message === 'string' ? message.message : JSON.stringify(message.message, null, 2)
    console.log(
      `\nThe WhatsApp message the log transport wrote (to ${message.recipientMasked}, at ${message.time}):`,
    )
    console.log(
      text
        .split('\n')
        .map((line) => `  │ ${line}`)
        .join('\n'),
    )
    // An SLO page looks back up to 6 hours, so it outlives the failures by far more than
    // HighErrorRate's few minutes; say which, rather than promise what will not happen.
    console.log(
      fired.labels.alertname!.endsWith('BudgetBurn')
        ? `\nDone in ${elapsed()}. ${fired.labels.alertname} resolves by itself once its short window ` +
            '(5 to 30 minutes) no longer holds failures, about half an hour after they stop; the SLO ' +
            'ticket alerts (windows of 2 hours to a day) take hours. Each sends a resolved message. See them in GET /alerts.'
        : `\nDone in ${elapsed()}. ${fired.labels.alertname} resolves by itself a few minutes after the failures ` +
            'stop, and a resolved message follows.',
    )
    process.exit(0)
  }
  await Bun.sleep(1000)
}
console.error(
  `demo:incident: the alert fired but no WhatsApp message for it reached ${messagesFile} within a minute ` +
    '(with WHATSAPP_ACCESS_TOKEN set, messages go to WhatsApp instead of the log transport)',
)
process.exit(1)
