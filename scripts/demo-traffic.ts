/**
 * `bun run demo:traffic [--url http://localhost:$PORT] [--duration 30] [--rate 20] [--api-key ck_…]
 *   [--error-share 0] [--decline-share 0.05]`
 *
 * Drives a running instance with a realistic, healthy mix — product views, orders over several
 * channels, status changes, payments with some declines — so that metrics and dashboards have
 * something to show, and no alert fires (tests/scripts/demo-traffic-alerts.test.ts). Provider
 * errors (`tok_error`, 502) only with --error-share: on a fresh start any is over the SLOs'
 * budgets and pages (see the README). Bounded in time. The URL defaults
 * to `http://localhost:$PORT` (PORT as the server reads it, 3000 when unset). Without
 * --api-key it uses the demo tenant that `bun run dev` leaves in DATA_DIR/demo-tenant.json.
 * Prints the count of each action and status, then every failure by reason. Exits 1 if any
 * 5xx other than the deliberate `tok_error` payments happened, 2 when it cannot start
 * (one line naming the URL it tried).
 */
import { parseArgs } from 'node:util'
import { defaultBaseUrl, demoKeyRefused, demoTenantKey, failWith } from './lib/demo.ts'
import { DEMO_TRAFFIC, drive, isUnexpected, prepareTraffic, TrafficSetupError } from './lib/traffic.ts'

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: defaultBaseUrl() },
    duration: { type: 'string', default: String(DEMO_TRAFFIC.durationSeconds) },
    rate: { type: 'string', default: String(DEMO_TRAFFIC.rate) },
    'api-key': { type: 'string' },
    'error-share': { type: 'string', default: String(DEMO_TRAFFIC.errorShare) },
    'decline-share': { type: 'string', default: String(DEMO_TRAFFIC.declineShare) },
    seed: { type: 'string', default: '1' },
  },
})

const durationMs = Number(values.duration) * 1000
const rate = Number(values.rate)
if (!(durationMs > 0 && durationMs <= 3_600_000) || !(rate > 0 && rate <= 2000)) {
  failWith('--duration must be 1..3600 seconds and --rate 1..2000 requests per second')
}
const errorShare = Number(values['error-share'])
const declineShare = Number(values['decline-share'])
if (!(errorShare >= 0 && declineShare >= 0 && errorShare + declineShare <= 1)) {
  failWith('--error-share and --decline-share must be shares from 0 to 1 that add up to at most 1')
}

const base = values.url!.replace(/\/$/, '')
const outcomes = new Map<string, number>()
const failures = new Map<string, number>()
let unexpected = 0
// Empty counts as unset, as for the server's variables.
const givenKey = values['api-key'] ?? (process.env.API_KEY?.trim() || undefined)
const keyFromFile = givenKey === undefined
const traffic = await prepareTraffic({
  base,
  apiKey: givenKey ?? demoTenantKey(),
  seed: Number(values.seed),
  errorShare,
  declineShare,
  onResult(label, status, _ms, reason) {
    const key = `${label} ${status}`
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
    if (isUnexpected(label, status)) unexpected++
    if (reason) failures.set(`${key} ${reason}`, (failures.get(`${key} ${reason}`) ?? 0) + 1)
  },
}).catch((error) => {
  if (!(error instanceof TrafficSetupError)) throw error
  // As demo:incident says it: the usual cause is no server yet, or one on another port.
  const hint = error.message.startsWith('nothing answered')
    ? '; start `bun run dev` first, or give its port (PORT=…) or --url'
    : keyFromFile && error.message.includes(' answered 401 ')
      ? `; ${demoKeyRefused()}`
      : ''
  failWith(`demo:traffic: ${error.message}${hint}`)
})
console.log(`driving ${base} for ${durationMs / 1000}s at ${rate} req/s (products in ${traffic.currency})`)
const { sent, seconds } = await drive(traffic.oneAction, rate, durationMs)
for (const [key, count] of [...outcomes].sort()) console.log(`${String(count).padStart(6)}  ${key}`)
if (failures.size > 0) {
  console.log('failures by reason:')
  for (const [key, count] of [...failures].sort((a, b) => b[1] - a[1]))
    console.log(`${String(count).padStart(6)}  ${key}`)
}
console.log(`${sent} actions in ${seconds.toFixed(1)}s; unexpected 5xx or network errors: ${unexpected}`)
process.exit(unexpected > 0 ? 1 : 0)
