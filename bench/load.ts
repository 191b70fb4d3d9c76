/**
 * `bun run bench:load [--duration 60] [--rate 300] [--warmup 10] [--soak]`
 *
 * Starts the service on PostgreSQL (a throw-away database on DATABASE_URL's server, default
 * postgres://postgres@127.0.0.1:5432/test), drives it over loopback with the traffic
 * generator's realistic mix for a fixed time and reports throughput, p50/p95/p99 per route,
 * errors (must be 0 besides the deliberate tok_error payments), RSS at start and end, and the
 * /metrics series count. `--soak` runs 10 minutes and samples RSS and series along the way.
 * Traffic goes only to 127.0.0.1; the server it started is stopped (by PID) at the end.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import postgres from 'postgres'
import { drive, isUnexpected, prepareTraffic } from '../scripts/lib/traffic.ts'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    rate: { type: 'string', default: '300' },
    warmup: { type: 'string', default: '10' },
    soak: { type: 'boolean', default: false },
    port: { type: 'string', default: '3917' },
  },
})
const soak = values.soak!
const durationS = soak ? 600 : Number(values.duration)
const rate = Number(values.rate)
const warmupS = Number(values.warmup)
const serverUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test'
const ADMIN = 'bench-admin-token-0123456789'

const dbName = `cc_bench_${process.pid}`
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
await admin.unsafe(`create database ${dbName}`)
const dbUrl = new URL(serverUrl)
dbUrl.pathname = `/${dbName}`

const logFile = `/tmp/${dbName}.log`
const server = Bun.spawn(['bun', 'src/server.ts'], {
  env: {
    ...process.env,
    NODE_ENV: 'production',
    PORT: values.port!,
    HOST: '127.0.0.1',
    DATABASE_URL: dbUrl.toString(),
    ADMIN_TOKEN: ADMIN,
    LOG_LEVEL: 'info',
    SANDBOX_LATENCY_MS: '20',
  },
  stdout: Bun.file(logFile),
  stderr: 'inherit',
})
const base = `http://127.0.0.1:${values.port}`

const rssMiB = () => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))
  return match ? Number(match[1]) / 1024 : Number.NaN
}
async function seriesCount(): Promise<number | undefined> {
  const res = await fetch(`${base}/metrics`)
  if (!res.ok) return undefined
  return (await res.text()).split('\n').filter((line) => line && !line.startsWith('#')).length
}
const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN

try {
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(`${base}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break
    await Bun.sleep(100)
  }
  const tenant = (await (
    await fetch(`${base}/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Bench shop', ownerPhone: '+254711000600' }),
    })
  ).json()) as { apiKey: string }

  let recording = false
  const latencies = new Map<string, number[]>()
  const statuses = new Map<string, number>()
  let unexpected = 0
  const traffic = await prepareTraffic({
    base,
    apiKey: tenant.apiKey,
    seed: 7,
    errorShare: 0.02,
    onResult(label, status, ms) {
      if (isUnexpected(label, status)) unexpected++
      if (!recording) return
      const list = latencies.get(label) ?? []
      list.push(ms)
      latencies.set(label, list)
      statuses.set(`${label} ${status}`, (statuses.get(`${label} ${status}`) ?? 0) + 1)
    },
  })

  console.log(`warm-up ${warmupS}s at ${rate} actions/s…`)
  await drive(traffic.oneAction, rate, warmupS * 1000)
  const rssStart = rssMiB()
  const seriesStart = await seriesCount()
  const samples: Array<{ t: number; rss: number; series?: number }> = [
    { t: 0, rss: rssStart, series: seriesStart },
  ]
  recording = true
  console.log(`measuring ${durationS}s at ${rate} actions/s…`)
  const sampler = setInterval(async () => {
    samples.push({ t: samples.length * 15, rss: rssMiB(), series: await seriesCount() })
  }, 15_000)
  const { sent, seconds } = await drive(traffic.oneAction, rate, durationS * 1000)
  clearInterval(sampler)
  recording = false
  const rssEnd = rssMiB()
  const seriesEnd = await seriesCount()

  const requests = [...latencies.values()].reduce((n, list) => n + list.length, 0)
  console.log(
    `\n${requests} requests (${sent} actions) in ${seconds.toFixed(1)}s = ${(requests / seconds).toFixed(0)} req/s`,
  )
  console.log('route                      count     p50 ms   p95 ms   p99 ms')
  for (const [label, list] of [...latencies].sort()) {
    const sorted = list.sort((a, b) => a - b)
    console.log(
      `${label.padEnd(24)} ${String(sorted.length).padStart(7)} ${quantile(sorted, 0.5).toFixed(2).padStart(9)} ${quantile(sorted, 0.95).toFixed(2).padStart(8)} ${quantile(sorted, 0.99).toFixed(2).padStart(8)}`,
    )
  }
  const errors = [...statuses].filter(([key]) => / (5\d\d|0)$/.test(key))
  console.log(
    `5xx/network: ${errors.map(([k, n]) => `${k}: ${n}`).join(', ') || 'none'}; unexpected: ${unexpected}`,
  )
  console.log(
    `RSS: ${rssStart.toFixed(1)} MiB after warm-up → ${rssEnd.toFixed(1)} MiB at the end (${(((rssEnd - rssStart) / rssStart) * 100).toFixed(1)} %)`,
  )
  console.log(`/metrics series: ${seriesStart ?? 'n/a'} → ${seriesEnd ?? 'n/a'}`)
  if (soak) {
    console.log('soak samples (s, RSS MiB, series):')
    for (const s of samples)
      console.log(`  ${String(s.t).padStart(4)}  ${s.rss.toFixed(1)}  ${s.series ?? 'n/a'}`)
  }
  process.exitCode = unexpected > 0 ? 1 : 0
} finally {
  server.kill('SIGTERM')
  await server.exited
  await admin.unsafe(`drop database if exists ${dbName} with (force)`)
  await admin.end()
}
