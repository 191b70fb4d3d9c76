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
import { drive, isUnexpected, prepareTraffic } from './lib/traffic.ts'

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

const durationMs = Number(values.duration) * 1000
const rate = Number(values.rate)
if (!(durationMs > 0 && durationMs <= 3_600_000) || !(rate > 0 && rate <= 2000)) {
  console.error('--duration must be 1..3600 seconds and --rate 1..2000 requests per second')
  process.exit(2)
}
function demoKey(): string {
  const file = join(process.env.DATA_DIR ?? './.data', 'demo-tenant.json')
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { apiKey: string }).apiKey
  } catch {
    console.error(`no --api-key given and no ${file}: start the service with \`bun run dev\` first`)
    process.exit(2)
  }
}

const base = values.url!.replace(/\/$/, '')
const outcomes = new Map<string, number>()
let unexpected = 0
const traffic = await prepareTraffic({
  base,
  apiKey: values['api-key'] ?? process.env.API_KEY ?? demoKey(),
  seed: Number(values.seed),
  errorShare: Number(values['error-share']),
  onResult(label, status) {
    const key = `${label} ${status}`
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
    if (isUnexpected(label, status)) unexpected++
  },
})
console.log(`driving ${base} for ${durationMs / 1000}s at ${rate} req/s`)
const { sent, seconds } = await drive(traffic.oneAction, rate, durationMs)
for (const [key, count] of [...outcomes].sort()) console.log(`${String(count).padStart(6)}  ${key}`)
console.log(`${sent} actions in ${seconds.toFixed(1)}s; unexpected 5xx or network errors: ${unexpected}`)
process.exit(unexpected > 0 ? 1 : 0)
