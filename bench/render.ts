/**
 * /metrics render time with 10 000 series: this project's renderer against prom-client's own
 * `Registry.metrics()` for a prom-client Counter holding the same label sets.
 * Run alone with `bun bench/render.ts` (bench/run.ts runs it pinned to the server core).
 */
import { Counter, Registry } from 'prom-client'
import { createLogger } from '../src/core/logger.ts'
import { createMetrics } from '../src/metrics.ts'

const SERIES = Number(process.env.RENDER_SERIES ?? 10_000)
const RUNS = Number(process.env.RENDER_RUNS ?? 40)

const ours = createMetrics({ log: createLogger({ level: 'silent', pretty: false }), processMetrics: false })
const registry = new Registry()
const theirs = new Counter({
  name: 'product_views_total',
  help: 'Product views, by tenant, product and channel.',
  labelNames: ['tenant_id', 'product_id', 'channel'],
  registers: [registry],
})
for (let i = 0; i < SERIES; i++) {
  const labels = { tenantId: `tenant-${i % 50}`, productId: crypto.randomUUID(), channel: 'whatsapp' }
  ours.business.productViewed(labels)
  theirs.inc({ tenant_id: labels.tenantId, product_id: labels.productId, channel: labels.channel })
}

const encoder = new TextEncoder()

/**
 * Median time to render and encode to the bytes sent (encoding is included because a
 * string built by concatenation is only flattened when it is first read).
 */
async function time(render: () => Promise<string>): Promise<{ ms: number; bytes: number }> {
  let bytes = 0
  for (let i = 0; i < 5; i++) bytes = encoder.encode(await render()).byteLength
  const runs: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now()
    encoder.encode(await render())
    runs.push(performance.now() - start)
  }
  runs.sort((a, b) => a - b)
  return { ms: runs[runs.length >> 1]!, bytes }
}

// Interleaved pairs, so that a noisy neighbour slows both sides alike.
const oursMs: number[] = []
const theirsMs: number[] = []
let oursBytes = 0
let theirsBytes = 0
for (let pair = 0; pair < 3; pair++) {
  const a = await time(() => ours.render('prometheus'))
  const b = await time(() => registry.metrics())
  oursMs.push(a.ms)
  theirsMs.push(b.ms)
  oursBytes = a.bytes
  theirsBytes = b.bytes
}
const best = (values: number[]) => Math.min(...values)
console.log(`  prom-client Registry.metrics(): ${best(theirsMs).toFixed(2)} ms (${theirsBytes} bytes)`)
console.log(
  `  this project's render:          ${best(oursMs).toFixed(2)} ms (${oursBytes} bytes, all families + self-metrics)`,
)
console.log(`  render time ours/prom-client: ${(best(oursMs) / best(theirsMs)).toFixed(3)}`)
