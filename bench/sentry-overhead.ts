/**
 * Per-request latency of src/server.ts with Sentry off, on at a 0.2 and at a 1.0 trace
 * sample rate (against a local ingestion endpoint). Sequential requests, so it measures
 * added latency, not throughput. Run: bun bench/sentry-overhead.ts [requests]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnBun } from '../tests/helpers/process.ts'
import { startIngest } from '../tests/helpers/sentry-ingest.ts'

const requests = Number(process.argv[2] ?? 2000)
const ingest = await startIngest()

async function run(label: string, env: Record<string, string>, path: string) {
  const dataDir = mkdtempSync(join(tmpdir(), 'sentry-bench-'))
  const server = await spawnBun('src/server.ts', {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    DATA_DIR: dataDir,
    DATABASE_URL: '',
    ...env,
  })
  const url = `http://127.0.0.1:${server.port}${path}`
  for (let i = 0; i < 300; i++) await (await fetch(url)).arrayBuffer()
  const times: number[] = []
  for (let i = 0; i < requests; i++) {
    const started = performance.now()
    await (await fetch(url)).arrayBuffer()
    times.push(performance.now() - started)
  }
  await server.stop()
  rmSync(dataDir, { recursive: true, force: true })
  times.sort((a, b) => a - b)
  const at = (q: number) => times[Math.floor(q * (times.length - 1))]!.toFixed(3)
  const mean = (times.reduce((a, b) => a + b, 0) / times.length).toFixed(3)
  console.log(
    `${label.padEnd(20)} ${path.padEnd(9)} mean=${mean}ms p50=${at(0.5)} p90=${at(0.9)} p99=${at(0.99)}`,
  )
}

for (const path of ['/health', '/no-such']) {
  await run('sentry off', {}, path)
  await run('sentry, rate 0.2', { SENTRY_DSN: ingest.dsn, SENTRY_TRACES_SAMPLE_RATE: '0.2' }, path)
  await run('sentry, rate 1.0', { SENTRY_DSN: ingest.dsn, SENTRY_TRACES_SAMPLE_RATE: '1' }, path)
}
ingest.stop()
