/**
 * `bun run bench:alert-storm`: starts the real server as `bun run start` does against a fake
 * WhatsApp Cloud API on loopback, posts one Alertmanager notification of 10 000 alerts
 * (about 5 MB, one of them critical) to POST /alerts/alertmanager, and prints the time to
 * accept it, the server's RSS sampled through the storm (and VmHWM), the outbox rows written and
 * the messages sent to each on-call number once the dispatcher has ticked.
 *
 * Then, with STORM_REPOSTS, it posts the same notification again that many times, as
 * Alertmanager re-sends a group that still fires every repeat_interval, and prints each
 * re-send's time to accept, the server's CPU time for it (user + system, from /proc, 10 ms
 * resolution) and the statements it ran (db_query_duration_seconds counts from /metrics; the
 * notifier's 1 s tick may add its few), as median and range.
 *
 * Settings (environment): STORM_ALERTS (10000), STORM_PHONES (3 on-call numbers),
 * STORM_REPOSTS (0), STORM_DATABASE_URL (a PostgreSQL server URL; a fresh database is created
 * on it; unset = the embedded PGlite in a temporary DATA_DIR).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { productionStartCommand, startEnvironment } from '../scripts/start-command.ts'
import { startWhatsAppFake } from '../tests/helpers/whatsapp-fake.ts'

const ALERTS = Number(process.env.STORM_ALERTS ?? 10_000)
const PHONES = Number(process.env.STORM_PHONES ?? 3)
const REPOSTS = Number(process.env.STORM_REPOSTS ?? 0)
const TOKEN = 'storm-bench-token-0123456789'
/** The server starts as `bun run start` starts it: the same Bun flags and settings. */
const production = productionStartCommand()

/** VmRSS and VmHWM (peak) of a process, in MiB. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0)
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 }
}

/** User + system CPU time of a process, in ms (/proc/<pid>/stat fields 14 and 15, at 100 Hz). */
function cpuMs(pid: number): number {
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** Statements run so far, by `operation table`, from the server's db_query_duration_seconds. */
async function statements(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const counts = new Map<string, number>()
  for (const m of text.matchAll(
    /^db_query_duration_seconds_count\{operation="([^"]*)",table="([^"]*)"\} (\d+)/gm,
  ))
    counts.set(`${m[1]} ${m[2]}`, Number(m[3]))
  return counts
}

/** `median (min–max)` of some numbers, rounded. */
function spread(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
  return `${median.toFixed(0)} (${sorted[0]?.toFixed(0)}–${sorted.at(-1)?.toFixed(0)})`
}

function payload(count: number) {
  const alerts = Array.from({ length: count }, (_, i) => ({
    status: 'firing',
    labels: {
      alertname: i === Math.floor(count / 2) ? 'DatabaseDown' : 'StormNoise',
      severity: i === Math.floor(count / 2) ? 'critical' : 'warning',
      instance: `node-${i}:9100`,
      job: 'node',
      region: 'eu-west-1',
    },
    annotations: {
      summary: `Node node-${i} is noisy`,
      description: `node-${i} has reported ${i % 97} errors per second for the last 5 minutes; ${'see the runbook for what to check first. '.repeat(1)}`,
      runbook_url: 'https://runbooks.example/alerts/storm-noise',
    },
    startsAt: '2026-03-02T09:50:00.000Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: `http://prometheus:9090/graph?g0.expr=node_errors%7Binstance%3D%22node-${i}%22%7D`,
    fingerprint: (0x100000 + i).toString(16).padStart(16, '0'),
  }))
  return JSON.stringify({
    receiver: 'convo-commerce',
    status: 'firing',
    alerts,
    groupLabels: { alertname: 'StormNoise' },
    commonLabels: { job: 'node' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    version: '4',
    groupKey: '{}:{alertname="StormNoise"}',
    truncatedAlerts: 0,
  })
}

async function main() {
  const fake = startWhatsAppFake()
  const dataDir = mkdtempSync(join(tmpdir(), 'cc-storm-'))
  let databaseUrl = ''
  let admin: postgres.Sql | undefined
  const dbName = `storm_bench_${process.pid}`
  if (process.env.STORM_DATABASE_URL) {
    admin = postgres(process.env.STORM_DATABASE_URL, { max: 1, onnotice: () => {} })
    await admin.unsafe(`create database ${dbName}`)
    const url = new URL(process.env.STORM_DATABASE_URL)
    url.pathname = `/${dbName}`
    databaseUrl = url.toString()
  }
  const phones = Array.from({ length: PHONES }, (_, i) => `+2547000002${String(i).padStart(2, '0')}`)
  const proc = Bun.spawn(['bun', ...production.flags, production.entry], {
    env: {
      ...startEnvironment(production),
      NODE_ENV: 'production',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      ALERTS_ENABLED: 'false',
      ALERT_PHONES: phones.join(','),
      ALERT_NOTIFY_INTERVAL: '1s',
      ALERTMANAGER_WEBHOOK_TOKEN: TOKEN,
      WHATSAPP_API_BASE: fake.url,
      WHATSAPP_PHONE_NUMBER_ID: '106540352242922',
      WHATSAPP_ACCESS_TOKEN: 'storm-bench-access-token',
    },
    stdout: 'pipe',
    stderr: 'inherit',
  })
  try {
    const port = await listeningPort(proc.stdout as ReadableStream<Uint8Array>)
    const body = payload(ALERTS)
    await Bun.sleep(3_000)
    const before = memory(proc.pid)
    // VmHWM also holds the start-up peak (PGlite's migrations): sample VmRSS during the storm.
    let stormPeak = before.rss
    const sampler = setInterval(() => {
      stormPeak = Math.max(stormPeak, memory(proc.pid).rss)
    }, 10)
    const started = performance.now()
    const res = await fetch(`http://127.0.0.1:${port}/alerts/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body,
    })
    const acceptMs = performance.now() - started
    const answer = (await res.json()) as { accepted?: number; enqueued?: number }
    if (res.status !== 200) throw new Error(`receiver answered ${res.status}: ${JSON.stringify(answer)}`)
    const peakWhileAccepting = Math.max(stormPeak, memory(proc.pid).rss)
    // Let the dispatcher tick (1 s) until every number got its message, and a few more ticks.
    const deadline = Date.now() + 60_000
    while (new Set(fake.requests.map((r) => r.body.to)).size < PHONES && Date.now() < deadline)
      await Bun.sleep(100)
    const firstMessagesMs = performance.now() - started
    await Bun.sleep(3_000)
    clearInterval(sampler)
    const after = memory(proc.pid)
    const lengths = fake.requests.map(
      (r) => ((r.body.text as { body?: string } | undefined)?.body ?? '').length,
    )
    const perPhone = phones.map((p) => fake.requests.filter((r) => r.body.to === p.slice(1)).length)
    console.log(`database: ${databaseUrl ? 'PostgreSQL' : 'embedded PGlite'}`)
    console.log(
      `notification: ${ALERTS} alerts, ${(body.length / 1e6).toFixed(2)} MB, ${PHONES} on-call numbers`,
    )
    console.log(
      `accepted: HTTP ${res.status} in ${acceptMs.toFixed(0)} ms (accepted ${answer.accepted}, outbox rows written ${answer.enqueued})`,
    )
    console.log(
      `messages sent: ${fake.requests.length} (per number: ${perPhone.join(', ')}), longest ${Math.max(...lengths)} characters, all out ${firstMessagesMs.toFixed(0)} ms after the post`,
    )
    console.log(
      `server RSS (sampled every 10 ms): ${before.rss.toFixed(0)} MiB before, peak ${peakWhileAccepting.toFixed(0)} MiB while accepting, peak ${stormPeak.toFixed(0)} MiB until sent, ${after.rss.toFixed(0)} MiB after; VmHWM ${after.peak.toFixed(0)} MiB (includes start-up)`,
    )
    if (REPOSTS > 0) {
      const times: number[] = []
      const cpu: number[] = []
      const ran = new Map<string, number[]>()
      for (let i = 0; i < REPOSTS; i++) {
        const counted = await statements(port)
        const cpuBefore = cpuMs(proc.pid)
        const t0 = performance.now()
        const again = await fetch(`http://127.0.0.1:${port}/alerts/alertmanager`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
          body,
        })
        await again.arrayBuffer()
        times.push(performance.now() - t0)
        cpu.push(cpuMs(proc.pid) - cpuBefore)
        if (again.status !== 200) throw new Error(`re-send answered ${again.status}`)
        for (const [key, n] of await statements(port)) {
          const list = ran.get(key) ?? []
          list.push(n - (counted.get(key) ?? 0))
          ran.set(key, list)
        }
      }
      console.log(
        `re-sends of the unchanged group: ${REPOSTS}, accepted in ${spread(times)} ms, server CPU ${spread(cpu)} ms`,
      )
      const busy = [...ran].filter(([, list]) => list.some((n) => n > 0))
      console.log(`statements per re-send: ${busy.map(([key, list]) => `${key} ${spread(list)}`).join(', ')}`)
    }
  } finally {
    proc.kill('SIGTERM')
    await proc.exited
    fake.stop()
    rmSync(dataDir, { recursive: true, force: true })
    if (admin) {
      await admin.unsafe(`drop database if exists ${dbName} with (force)`)
      await admin.end()
    }
  }
}

async function listeningPort(stdout: ReadableStream<Uint8Array>): Promise<number> {
  const reader = stdout.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    const { done, value } = await reader.read()
    if (done) break
    buffer += decoder.decode(value, { stream: true })
    const match =
      /"port":(\d+)[^\n]*listening/.exec(buffer) ?? /listening on http:\/\/[^:]+:(\d+)/.exec(buffer)
    if (match) {
      // Keep draining the log so the server never blocks on a full pipe.
      ;(async () => {
        for (;;) if ((await reader.read()).done) break
      })()
      return Number(match[1])
    }
  }
  throw new Error('server did not start in 30 s')
}

await main()
