/**
 * What the instrumentation allocates per request on the real `GET /products/:id`: objects by
 * JavaScriptCore cell type, counted with `bun:jsc`'s `heapStats()` around a batch of requests
 * through `app.handle` (no network). Unlike CPU time, these counts do not move with the host,
 * and on the served path the instrumentation's garbage costs more in collection than its work.
 *
 *   bun bench/allocations.ts                          (embedded database, in memory)
 *   DATABASE_URL=postgres://… bun bench/allocations.ts  (PostgreSQL, databases of its own)
 *
 * Variants, each its own app and database: uninstrumented (metrics off, log at warn), then the
 * instrumentation added a part at a time. Counts are per request, the median of
 * ALLOC_REPEATS (7) batches of ALLOC_REQUESTS (150) after a full collection each, so that a
 * batch stays below the young generation's size; a collection inside a batch would hide
 * objects, and the median leaves such a batch out.
 */
import { heapStats } from 'bun:jsc'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BenchApp, type BenchAppOptions, openBenchApp, seedProduct } from './db-app.ts'
import { median } from './stats.ts'

const REQUESTS = Number(process.env.ALLOC_REQUESTS ?? 150)
const REPEATS = Number(process.env.ALLOC_REPEATS ?? 7)
const CONCURRENCY = 32
const postgresUrl = process.env.DATABASE_URL || undefined

const variants: Array<[string, Omit<BenchAppOptions, 'logFile' | 'postgresUrl'>]> = [
  ['uninstrumented', { metrics: false, logLevel: 'warn' }],
  ['+ metrics (HTTP, product views)', { metrics: true, statementTiming: false, logLevel: 'warn' }],
  ['+ statement timing', { metrics: true, logLevel: 'warn' }],
  ['+ access log (= instrumented)', { metrics: true, logLevel: 'info' }],
]

interface Target {
  name: string
  bench: BenchApp
  logFile: string
  request: () => Request
}

const targets: Target[] = []
try {
  for (const [i, [name, options]] of variants.entries()) {
    const logFile = join(tmpdir(), `bench-allocations-${process.pid}-${i}.log`)
    const bench = await openBenchApp({ ...options, logFile, postgresUrl }, `_${i}`)
    const apiKey = `cc_bench_allocations_${i}_0123456789abcdef`
    const url = `http://localhost/products/${await seedProduct(bench.database, apiKey)}`
    const headers = { authorization: `Bearer ${apiKey}` }
    targets.push({ name, bench, logFile, request: () => new Request(url, { headers }) })
  }

  const batch = async (target: Target, requests: number) => {
    let left = requests
    const worker = async () => {
      while (left-- > 0) {
        const response = await target.bench.app.handle(target.request())
        if (response.status !== 200) throw new Error(`${target.name}: status ${response.status}`)
        await response.arrayBuffer()
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  }

  for (const target of targets) await batch(target, 3000)
  const counts = new Map<string, Array<Record<string, number>>>()
  for (let r = 0; r < REPEATS; r++) {
    for (const target of targets) {
      Bun.gc(true)
      const before = heapStats().objectTypeCounts
      await batch(target, REQUESTS)
      const after = heapStats().objectTypeCounts
      const perRequest: Record<string, number> = {}
      for (const [type, n] of Object.entries(after)) perRequest[type] = (n - (before[type] ?? 0)) / REQUESTS
      counts.set(target.name, [...(counts.get(target.name) ?? []), perRequest])
    }
  }

  const medians = new Map<string, Record<string, number>>()
  for (const [name, batches] of counts) {
    const types = new Set(batches.flatMap((b) => Object.keys(b)))
    medians.set(name, Object.fromEntries([...types].map((t) => [t, median(batches.map((b) => b[t] ?? 0))])))
  }
  const base = medians.get(variants[0]![0])!
  const total = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0)
  console.log(
    `GET /products/:id on ${postgresUrl ? 'PostgreSQL' : 'the embedded database'}, objects allocated per request (median of ${REPEATS} batches of ${REQUESTS}):`,
  )
  for (const [name] of variants) {
    const m = medians.get(name)!
    const extra = Object.entries(m)
      .map(([type, n]) => [type, n - (base[type] ?? 0)] as const)
      .filter(([, n]) => Math.abs(n) >= 0.1)
      .map(([type, n]) => `${type} ${n > 0 ? '+' : ''}${n.toFixed(1)}`)
    const step = name === variants[0]![0] ? '' : `  (${extra.join(', ') || 'none'})`
    console.log(`  ${name.padEnd(34)} ${total(m).toFixed(1).padStart(6)}${step}`)
  }
  console.log(
    `  instrumented - uninstrumented: ${(total(medians.get(variants.at(-1)![0])!) - total(base)).toFixed(1)} objects per request`,
  )
} finally {
  for (const target of targets) {
    await target.bench.close().catch(() => {})
    await rm(target.logFile, { force: true })
  }
}
process.exit(0)
