/**
 * `bun run bench`: loads each bench/server.ts variant over loopback with wrk, the server and
 * wrk pinned to different cores, in interleaved rounds, and prints per variant the median
 * req/s, p99 latency, server CPU time per request (from /proc/<pid>/stat) and resident memory
 * (idle: the lowest in 3 s after start-up; peak during the measured run; 2 s after it), then
 * the /metrics render comparison, the per-part costs of `full` and what the instrumentation allocates per request
 * on GET /products/:id (bench/allocations.ts, BENCH_SKIP_ALLOCATIONS=1 skips it), then per comparison the absolute µs/request
 * of both sides, the difference and the ratios. On a shared machine trust CPU µs/request over
 * req/s: time-slicing by other processes lowers req/s but not the CPU a request costs.
 *
 * The PostgreSQL variants run when a server answers at BENCH_POSTGRES_URL
 * (postgres://postgres@127.0.0.1:5432/postgres); each server process uses a database of its own.
 *
 * Then, per comparison, the paired phase: both servers of the pair run side by side and wrk
 * alternates between them in short bursts (the order flipped every alternation), so that each
 * difference is taken between two measurements seconds apart. On a shared virtual machine the
 * speed of a core drifts by more than the differences measured here (the same bare server
 * reads 9 to 15 µs/request from one round to the next, with no other process running), so the
 * verdict lines use the median of these paired differences; the rounds phase gives absolute
 * numbers and memory. The last section checks the request path's targets (TARGETS) against the
 * 95 % confidence interval of each median (bench/stats.ts): met, not met, or undecided when
 * the run is too noisy to tell.
 *
 * Settings (environment): BENCH_ROUNDS (3), BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (2),
 * BENCH_EMBEDDED_WARMUP_SECONDS (15, for the servers on the embedded database),
 * BENCH_CONNECTIONS (32), BENCH_SERVER_CPU (1), BENCH_LOAD_CPU (0), BENCH_ONLY (comma list),
 * BENCH_POSTGRES_URL, BENCH_POSTGRES_CPU (the load CPU: where a local PostgreSQL server is pinned while
 * measuring; `none` leaves it), BENCH_PAIRED_ALTERNATIONS (24, 0 skips the phase),
 * BENCH_PAIRED_DB_ALTERNATIONS (96, for the GET /products/:id pairs), BENCH_PAIRED_DB_PROCESSES
 * (4: pairs of servers those alternations are shared among), BENCH_PAIRED_SECONDS (1),
 * BENCH_SERVED_PARTS (1: also pairs each instrumented database route with itself less its
 * metrics, its statement timing or its access log, `pg+instr-metrics`, `db+instr-log` and so on, to tell what
 * each part costs the served route).
 */
import { existsSync, readFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import postgres from 'postgres'
import { productionStartCommand, startEnvironment } from '../scripts/start-command.ts'
import { type Bound, median, medianInterval, standardDeviation, verdict } from './stats.ts'

const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const warmup = Number(process.env.BENCH_WARMUP_SECONDS ?? 2)
/**
 * Warm-up of a server on the embedded database (PGlite) before it is measured. Its
 * WebAssembly build of PostgreSQL keeps getting faster for thousands of requests as
 * JavaScriptCore compiles its hot functions again at higher tiers, on threads whose CPU is
 * the server's: one process served `GET /products/:id` through `app.handle` in 620, 402, 317,
 * 330, 411, 300, 287, 282 and 278 µs per request over its first rounds of 1 500 (6 Dec). After
 * 2 s the paired bursts measured that compilation as much as the route: their differences had
 * a standard deviation of 68.6 to 83.3 µs, and 41.5 after 15 s.
 */
const embeddedWarmup = Number(process.env.BENCH_EMBEDDED_WARMUP_SECONDS ?? 15)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32)
/**
 * 24 bursts of 1 s each side, where there were 8 of 3 s: the same time, and each pair of
 * bursts differs as little. On a quiet AMD host (6 Dec) `metrics/bare`'s differences had a
 * standard deviation of 0.40 µs in both (16 × 3 s, 48 × 1 s), and PostgreSQL's 2.8 µs over
 * 48 × 3 s against 1.6 over 144 × 1 s: the host's drift is slower than a second, so bursts
 * closer in time share more of it. Three times the pairs narrow the median's interval by
 * about √3 (`metrics` +0.26 µs [+0.23, +0.32] against +0.17 [−0.47, +0.36]).
 */
const alternations = Number(process.env.BENCH_PAIRED_ALTERNATIONS ?? 24)
/**
 * The database pairs get four times as many: their bursts swing by ±4 µs (PostgreSQL, 1 s
 * bursts) and ±30 to ±40 µs (the embedded database, warmed for 15 s) around budgets of about 1.4 and 12 µs (3 % of
 * the route), where the in-memory pairs swing by ±0.5 around +0.5 and +5.
 */
const dbAlternations = Number(process.env.BENCH_PAIRED_DB_ALTERNATIONS ?? alternations * 4)
/**
 * Pairs of server processes the database pairs' alternations are shared among. Two
 * instrumented PostgreSQL servers of the same commit, paired against each other, read +0.82
 * and -1.83 µs (24 alternations each, 6 Dec): each process has its own JIT decisions and
 * heap layout, a difference as large as the instrumentation's budget that bursts within one
 * pair cannot average out.
 */
const dbProcesses = Number(process.env.BENCH_PAIRED_DB_PROCESSES ?? 4)
const burstSeconds = Number(process.env.BENCH_PAIRED_SECONDS ?? 1)
const serverCpu = process.env.BENCH_SERVER_CPU ?? '1'
const loadCpu = process.env.BENCH_LOAD_CPU ?? '0'

interface Target {
  name: string
  route: string
  env: Record<string, string>
  path: (ready: Ready) => string
  /** Request headers (wrk -H), e.g. the tenant's bearer key. */
  headers?: Record<string, string>
  /** Seconds of load before the server is measured. */
  warmupSeconds: number
}

interface Ready {
  port: number
  product?: string
}

const postgresUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** Whether a PostgreSQL server answers at `url` (the PostgreSQL variants need one). */
async function postgresAnswers(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} })
  try {
    await sql`select 1`
    return true
  } catch {
    return false
  } finally {
    await sql.end({ timeout: 1 })
  }
}

// A throwaway key for the benchmark tenant: the server stores only its hash.
const apiKey = `ck_bench_${crypto.randomUUID().replaceAll('-', '')}`
/** An in-memory variant of bench/server.ts: GET /users/:id, no I/O. */
const userRoute = (variant: string): Target => ({
  name: variant,
  route: 'GET /users/:id',
  env: { BENCH_VARIANT: variant },
  path: () => '/users/42',
  warmupSeconds: warmup,
})
const productRoute = (name: string, env: Record<string, string>): Target => ({
  name,
  route: 'GET /products/:id',
  env: { BENCH_VARIANT: 'db', BENCH_API_KEY: apiKey, ...env },
  path: (ready) => `/products/${ready.product}`,
  headers: { authorization: `Bearer ${apiKey}` },
  warmupSeconds: env.DATABASE_URL ? warmup : embeddedWarmup,
})
const withPostgres = await postgresAnswers(postgresUrl)
/** Parts of the instrumentation bench/server.ts can leave out (BENCH_WITHOUT). */
const SERVED_PARTS = ['metrics', 'statements', 'log'] as const
const servedParts = process.env.BENCH_SERVED_PARTS === '1'
/** The database routes whose parts BENCH_SERVED_PARTS pairs: variant prefix and DATABASE_URL. */
const servedDatabases: Array<[prefix: string, url: string]> = [
  ['db', ''],
  ...(withPostgres ? [['pg', postgresUrl] as [string, string]] : []),
]

/** The fields of /proc/<pid>/stat after the command name: [0] state, [1] parent pid, … */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/**
 * Moves a local PostgreSQL server (the postmaster and every process it has forked; backends
 * forked later inherit the postmaster's mask) onto `cpu`, the load generator's core, and
 * returns how to put the old masks back. Left on the server's core, PostgreSQL preempts the
 * server under test in the middle of its requests, which showed as ±30 % swings of its CPU
 * per request between bursts; production runs the database elsewhere. Returns undefined when
 * the server is not local or the masks cannot be changed (another user's processes).
 */
async function pinPostgres(url: string, cpu: string): Promise<(() => void) | undefined> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} })
  try {
    const [row] = await sql<Array<{ pid: number }>>`select pg_backend_pid() as pid`
    const postmaster = Number(statFields(row!.pid)[1])
    const children = Bun.spawnSync(['ps', '-o', 'pid=', '--ppid', String(postmaster)])
      .stdout.toString()
      .split('\n')
      .map(Number)
      .filter((pid) => pid > 0)
    const saved: Array<[number, string]> = []
    for (const pid of [postmaster, ...children]) {
      const mask = /: ([0-9a-f,]+)\s*$/.exec(
        Bun.spawnSync(['taskset', '-p', String(pid)]).stdout.toString(),
      )?.[1]
      if (!mask) continue
      if (Bun.spawnSync(['taskset', '-a', '-p', '-c', cpu, String(pid)]).exitCode !== 0) {
        if (pid === postmaster) return undefined
        continue
      }
      saved.push([pid, mask])
    }
    return () => {
      for (const [pid, mask] of saved) Bun.spawnSync(['taskset', '-a', '-p', mask, String(pid)])
    }
  } catch {
    return undefined
  } finally {
    await sql.end({ timeout: 1 })
  }
}
const allTargets: Target[] = [
  userRoute('bare'),
  userRoute('metrics'),
  userRoute('full'),
  // `full`'s memory baseline: bare Elysia in a process holding the same embedded database.
  userRoute('bare+db'),
  productRoute('db', { BENCH_INSTRUMENTED: 'false', DATABASE_URL: '' }),
  productRoute('db+instr', { BENCH_INSTRUMENTED: 'true', DATABASE_URL: '' }),
  ...(withPostgres
    ? [
        productRoute('pg', { BENCH_INSTRUMENTED: 'false', DATABASE_URL: postgresUrl }),
        productRoute('pg+instr', { BENCH_INSTRUMENTED: 'true', DATABASE_URL: postgresUrl }),
      ]
    : []),
  // Each instrumented database route with one part left out (BENCH_SERVED_PARTS=1).
  ...(servedParts
    ? servedDatabases.flatMap(([prefix, url]) =>
        SERVED_PARTS.map((part) =>
          productRoute(`${prefix}+instr-${part}`, {
            BENCH_INSTRUMENTED: 'true',
            BENCH_WITHOUT: part,
            DATABASE_URL: url,
          }),
        ),
      )
    : []),
]
const targets = allTargets.filter(
  (t) => !process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(',').includes(t.name),
)

const comparisons: Array<[variant: string, baseline: string]> = [
  ['metrics', 'bare'],
  ['full', 'bare'],
  ['db+instr', 'db'],
  ['pg+instr', 'pg'],
  // What each part of the instrumentation costs the served route: the whole over the whole
  // less that part. In process (bench/parts.ts) a part misses what it costs a loaded server in
  // collections and caches.
  ...(servedParts
    ? servedDatabases.flatMap(([prefix]) =>
        SERVED_PARTS.map((part): [string, string] => [`${prefix}+instr`, `${prefix}+instr-${part}`]),
      )
    : []),
]

/**
 * The targets of the production request path (the issue "request id, metrics and access log
 * for under 5 µs"), checked against the paired phase: the variant's CPU µs/request over its
 * baseline (`overhead`) and its req/s over the baseline's (`ratio`). A target is met only when
 * the whole confidence interval of the median meets it (bench/stats.ts).
 */
const TARGETS: Record<string, { overhead?: Bound; ratio: Bound }> = {
  'metrics/bare': { overhead: { max: 0.5 }, ratio: { min: 0.95 } },
  'full/bare': { overhead: { max: 5 }, ratio: { min: 0.6 } },
  'db+instr/db': { ratio: { min: 0.97 } },
  'pg+instr/pg': { ratio: { min: 0.97 } },
}
/** `full`'s highest RSS under load over its idle RSS, at most (the same issue). */
const FULL_PEAK_OVER_IDLE = 1.5

function requireTool(name: string) {
  if (Bun.spawnSync(['sh', '-c', `command -v ${name}`]).exitCode !== 0) {
    console.error(`${name} is not installed (apt-get install -y ${name === 'taskset' ? 'util-linux' : name})`)
    process.exit(1)
  }
}
requireTool('wrk')
requireTool('taskset')
// Without node_modules, Bun auto-installs whatever a script imports from its global cache
// instead of running the lockfile's tree: the numbers would not be this checkout's.
if (!existsSync(new URL('../node_modules', import.meta.url))) {
  console.error(
    'node_modules is missing: run `bun install` first (the bench measures the locked dependencies)',
  )
  process.exit(1)
}

const ticksPerSecond = Number(Bun.spawnSync(['getconf', 'CLK_TCK']).stdout.toString().trim()) || 100

/** User + system CPU seconds of a process so far. */
function cpuSeconds(pid: number): number {
  const fields = statFields(pid)
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
}

/** CPU seconds all processes on the machine spent busy so far (from /proc/stat). */
function machineBusySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal
  const [user, nice, system, , , irq, softirq, steal] = fields as number[]
  return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / ticksPerSecond
}

/**
 * Bun's flags and settings for every server variant: those of `bun run start` (package.json),
 * so that the bench measures the production process. Its `BUN_GC_TIMER_INTERVAL=250` is what
 * bounds `full`'s RSS under load (1.25× idle, against up to 2.04× with Bun's 1 s timer; see the
 * README's RSS target), and `--smol` gives JavaScriptCore its small-heap sizing.
 */
const PRODUCTION = productionStartCommand()

/**
 * Servers and wrk processes started and not yet exited. A bench stopped by a signal (SIGTERM
 * from a supervisor, or SIGINT) stops them by PID before it exits: its `finally` blocks do not
 * run then, and a server left behind would load the core of every later measurement.
 */
const children = new Set<{ kill(signal: NodeJS.Signals): void }>()

/** Registers a spawned process to be stopped with the bench (see `children`); returns it. */
function tracked<P extends { kill(signal: NodeJS.Signals): void; exited: Promise<number> }>(proc: P): P {
  children.add(proc)
  void proc.exited.then(() => children.delete(proc))
  return proc
}

/** SIGTERM to every child still running (a server removes its database and log file on it). */
function stopChildren() {
  for (const proc of children) proc.kill('SIGTERM')
}

async function startServer(target: Target) {
  const proc = tracked(
    Bun.spawn(['taskset', '-c', serverCpu, 'bun', ...PRODUCTION.flags, 'bench/server.ts'], {
      env: { ...startEnvironment(PRODUCTION), ...target.env, PORT: '0', NODE_ENV: 'production' },
      stdout: 'pipe',
      stderr: 'inherit',
    }),
  )
  const ready: Partial<Ready> = {}
  const decoder = new TextDecoder()
  let buffered = ''
  const reader = proc.stdout.getReader()
  while (ready.port === undefined) {
    const { done, value } = await reader.read()
    if (done) throw new Error(`${target.name} server exited before listening`)
    buffered += decoder.decode(value)
    for (const line of buffered.split('\n')) {
      const listening = /^listening (\d+)/.exec(line)
      if (listening) ready.port = Number(listening[1])
      const product = /^product (\S+)/.exec(line)
      if (product) ready.product = product[1]
    }
  }
  reader.releaseLock()
  return { proc, ready: ready as Ready }
}

interface Sample {
  rps: number
  p99ms: number
  cpuUsPerRequest: number
  requests: number
  /** Server RSS in MiB: before any load, the peak during the measured run, 2 s after it. */
  idleRss: number
  peakRss: number
  afterRss: number
  /** Share of a core that processes other than the server and wrk used during the run. */
  othersCores: number
}

function parseDuration(text: string): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(text)
  if (!match) return Number.NaN
  const value = Number(match[1])
  return match[2] === 'us' ? value / 1000 : match[2] === 'ms' ? value : value * 1000
}

/** Resident set size of a process now, in MiB (VmRSS of /proc/<pid>/status). */
function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) / 1024
}

/**
 * A server's idle RSS in MiB: the lowest of its RSS sampled every 100 ms for 3 s after
 * start-up. Not one reading at a fixed moment: the memory a start-up collection freed goes
 * back to the system a little later, at a moment that moves with Bun's GC timer (`full` with
 * `BUN_GC_TIMER_INTERVAL=100` read 388 MiB until 1.5 s after `listening` and 251 from 2 s
 * on), and a reading from before that would inflate the denominator of the RSS target in its
 * favour. The lowest is the strict choice.
 */
async function idleRssMiB(pid: number): Promise<number> {
  let lowest = rssMiB(pid)
  for (let sample = 0; sample < 30; sample++) {
    await Bun.sleep(100)
    lowest = Math.min(lowest, rssMiB(pid))
  }
  return lowest
}

/** Runs wrk against `url`; while it runs, samples the RSS of `watchPid` every 100 ms. */
async function wrk(url: string, duration: number, headers: Record<string, string> = {}, watchPid?: number) {
  const proc = tracked(
    Bun.spawn(
      [
        'taskset',
        '-c',
        loadCpu,
        'wrk',
        '-t1',
        `-c${connections}`,
        `-d${duration}s`,
        '--latency',
        ...Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
        url,
      ],
      { stdout: 'pipe', stderr: 'pipe' },
    ),
  )
  let peakRss = 0
  const sampler =
    watchPid === undefined
      ? undefined
      : setInterval(() => {
          peakRss = Math.max(peakRss, rssMiB(watchPid))
        }, 100)
  const [out, err, exitCode] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  clearInterval(sampler)
  if (exitCode !== 0) throw new Error(`wrk failed: ${err}`)
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)
  if (non2xx) throw new Error(`${url} answered ${non2xx[1]} non-2xx responses`)
  const usage = proc.resourceUsage()!.cpuTime
  return {
    peakRss,
    wrkCpuSeconds: Number(usage.user + usage.system) / 1e6,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    p99ms: parseDuration(/\s99%\s+(\S+)/.exec(out)?.[1] ?? ''),
    requests: Number(/(\d+) requests in/.exec(out)?.[1]),
  }
}

async function measure(target: Target): Promise<Sample> {
  const { proc, ready } = await startServer(target)
  try {
    const url = `http://127.0.0.1:${ready.port}${target.path(ready)}`
    const check = await fetch(url, { headers: target.headers })
    if (check.status !== 200) throw new Error(`${target.name}: ${url} answered ${check.status}`)
    // taskset execs the server, so the spawned pid is the server's.
    const idleRss = await idleRssMiB(proc.pid)
    await wrk(url, target.warmupSeconds, target.headers)
    const before = cpuSeconds(proc.pid)
    const busyBefore = machineBusySeconds()
    const started = performance.now()
    const { wrkCpuSeconds, ...result } = await wrk(url, seconds, target.headers, proc.pid)
    const cpu = cpuSeconds(proc.pid) - before
    const others = machineBusySeconds() - busyBefore - cpu - wrkCpuSeconds
    const elapsed = (performance.now() - started) / 1000
    await Bun.sleep(2000)
    return {
      ...result,
      idleRss,
      afterRss: rssMiB(proc.pid),
      cpuUsPerRequest: (cpu * 1e6) / result.requests,
      othersCores: Math.max(0, others / elapsed),
    }
  } finally {
    proc.kill('SIGTERM')
    await proc.exited
  }
}

/** Per alternation: CPU µs/request and req/s of each side of a pair, measured one after the other. */
interface PairedSamples {
  variant: number[]
  baseline: number[]
  variantRps: number[]
  baselineRps: number[]
}

/** The paired phase for one comparison (see the header): both servers up, wrk alternating. */
async function pairedAlternation(
  variant: Target,
  baseline: Target,
  alternations: number,
  processes = 1,
): Promise<PairedSamples> {
  const result: PairedSamples = { variant: [], baseline: [], variantRps: [], baselineRps: [] }
  // Alternations are shared out among the pairs of processes as evenly as they go; the order
  // still flips with each alternation across pairs.
  for (let pair = 0, done = 0; pair < processes; pair++) {
    const share = Math.round(((pair + 1) * alternations) / processes) - done
    await alternateOnePair(variant, baseline, done, share, result)
    done += share
  }
  return result
}

/** Alternations `first` to `first + count - 1` on one newly started pair of servers, into `result`. */
async function alternateOnePair(
  variant: Target,
  baseline: Target,
  first: number,
  count: number,
  result: PairedSamples,
): Promise<void> {
  if (count <= 0) return
  const started = [await startServer(baseline), await startServer(variant)]
  try {
    const sides = started.map(({ proc, ready }, k) => {
      const target = k === 0 ? baseline : variant
      return { pid: proc.pid, target, url: `http://127.0.0.1:${ready.port}${target.path(ready)}` }
    })
    for (const side of sides) {
      const check = await fetch(side.url, { headers: side.target.headers })
      if (check.status !== 200) throw new Error(`${side.target.name}: ${side.url} answered ${check.status}`)
      await wrk(side.url, side.target.warmupSeconds, side.target.headers)
    }
    for (let i = first; i < first + count; i++) {
      for (const k of i % 2 === 0 ? [0, 1] : [1, 0]) {
        const side = sides[k]!
        const before = cpuSeconds(side.pid)
        const run = await wrk(side.url, burstSeconds, side.target.headers)
        const cpu = ((cpuSeconds(side.pid) - before) * 1e6) / run.requests
        ;(k === 0 ? result.baseline : result.variant).push(cpu)
        ;(k === 0 ? result.baselineRps : result.variantRps).push(run.rps)
      }
    }
  } finally {
    for (const { proc } of started) proc.kill('SIGTERM')
    await Promise.all(started.map(({ proc }) => proc.exited))
  }
}

console.log(
  `bench: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Bun ${Bun.version}, ${rounds} rounds × ${seconds}s (+${warmup}s warm-up, ${embeddedWarmup}s on the embedded database), wrk -t1 -c${connections} on CPU ${loadCpu}, server on CPU ${serverCpu}`,
)
console.log(
  `load average before: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
)

const postgresCpu = process.env.BENCH_POSTGRES_CPU ?? loadCpu
// Only when a selected variant runs on PostgreSQL: `BENCH_ONLY=bare` has nothing to pin.
const pinsPostgres = withPostgres && postgresCpu !== 'none' && targets.some((t) => t.env.DATABASE_URL)
const unpinPostgres = pinsPostgres ? await pinPostgres(postgresUrl, postgresCpu) : undefined
process.on('exit', stopChildren)
process.on('SIGINT', () => process.exit(130))
process.on('SIGTERM', () => process.exit(143))
if (unpinPostgres) {
  console.log(
    `PostgreSQL server pinned to CPU ${postgresCpu} while measuring (BENCH_POSTGRES_CPU=none leaves it)`,
  )
  process.on('exit', unpinPostgres)
} else if (pinsPostgres) {
  console.log('PostgreSQL server not pinned (not local, or its CPU masks cannot be changed)')
}

const samples = new Map<string, Sample[]>(targets.map((t) => [t.name, []]))
for (let round = 0; round < rounds; round++) {
  // Rotating the order spreads slow phases of a shared machine over every variant.
  const order = targets.map((_, i) => targets[(i + round) % targets.length]!)
  for (const target of order) {
    const sample = await measure(target)
    samples.get(target.name)!.push(sample)
    console.log(
      `  round ${round + 1} ${target.name.padEnd(11)} ${sample.rps.toFixed(0).padStart(7)} req/s  p99 ${sample.p99ms.toFixed(2)} ms  ${sample.cpuUsPerRequest.toFixed(2)} µs CPU/req  RSS ${sample.idleRss.toFixed(0)}/${sample.peakRss.toFixed(0)}/${sample.afterRss.toFixed(0)} MiB  (other processes: ${sample.othersCores.toFixed(2)} cores)`,
    )
  }
}
const printLoad = (when: string) =>
  console.log(
    `load average ${when}: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  )
if (rounds > 0) printLoad('after the rounds')
const others = [...samples.values()].flat().map((s) => s.othersCores)
if (others.length > 0)
  console.log(
    `noise: other processes used ${median(others).toFixed(2)} cores (median; max ${Math.max(...others).toFixed(2)}) of the ${cpus().length} while measuring`,
  )

/** A variant's idle RSS (median), its highest peak under load and its RSS 2 s after (median), in MiB. */
function rssOf(list: Sample[]): { idle: number; peak: number; after: number } | undefined {
  if (list.length === 0) return undefined
  return {
    idle: median(list.map((s) => s.idleRss)),
    peak: Math.max(...list.map((s) => s.peakRss)),
    after: median(list.map((s) => s.afterRss)),
  }
}
console.log(
  '\nvariant      route               median req/s (min–max)      p99 ms   CPU µs/req (min–max)     RSS MiB idle / peak / after',
)
const summary = new Map<string, { rps: number; p99: number; cpu: number }>()
for (const target of targets) {
  const list = samples.get(target.name)!
  // BENCH_ROUNDS=0 runs the paired phase alone.
  if (list.length === 0) continue
  const rps = list.map((s) => s.rps)
  const cpu = list.map((s) => s.cpuUsPerRequest)
  const row = { rps: median(rps), p99: median(list.map((s) => s.p99ms)), cpu: median(cpu) }
  summary.set(target.name, row)
  const memory = rssOf(list)!
  const rss = `${memory.idle.toFixed(0)} / ${memory.peak.toFixed(0)} / ${memory.after.toFixed(0)}`
  console.log(
    `${target.name.padEnd(12)} ${target.route.padEnd(19)} ${row.rps.toFixed(0).padStart(7)} (${Math.min(...rps).toFixed(0)}–${Math.max(...rps).toFixed(0)})`.padEnd(
      62,
    ) +
      `${row.p99.toFixed(2).padStart(6)}   ${`${row.cpu.toFixed(2)} (${Math.min(...cpu).toFixed(2)}–${Math.max(...cpu).toFixed(2)})`.padEnd(25)}${rss}`,
  )
}

function runScript(title: string, script: string, env: Record<string, string> = {}) {
  console.log(`\n${title} (${script}):`)
  const run = Bun.spawnSync(['taskset', '-c', serverCpu, 'bun', script], {
    env: { ...process.env, ...env },
  })
  process.stdout.write(run.stdout.toString())
  if (run.exitCode !== 0) process.stderr.write(run.stderr.toString())
}
if (process.env.BENCH_SKIP_RENDER !== '1') runScript('/metrics render, 10 000 series', 'bench/render.ts')
if (process.env.BENCH_SKIP_PARTS !== '1')
  runScript("what each part of 'full' costs, in process", 'bench/parts.ts')
// Counts, not time: they do not move with the host, so they show a change the rounds cannot.
if (process.env.BENCH_SKIP_ALLOCATIONS !== '1') {
  runScript('what the instrumentation allocates, in process', 'bench/allocations.ts', { DATABASE_URL: '' })
  if (withPostgres) {
    runScript('the same on PostgreSQL', 'bench/allocations.ts', { DATABASE_URL: postgresUrl })
  }
}

const signed = (n: number, digits = 2) => (n >= 0 ? '+' : '') + n.toFixed(digits)
const paired = new Map<string, PairedSamples>()
if (alternations > 0) {
  console.log(
    `\npaired phase: per comparison both servers up, ${alternations} alternations (${dbAlternations} for GET /products/:id, over ${dbProcesses} pairs of processes) of ${burstSeconds}s bursts each (µs CPU/request, variant − baseline):`,
  )
  for (const [variant, baseline] of comparisons) {
    const a = targets.find((t) => t.name === variant)
    const b = targets.find((t) => t.name === baseline)
    if (!a || !b) continue
    const result = await pairedAlternation(
      a,
      b,
      a.route === 'GET /products/:id' ? dbAlternations : alternations,
      a.route === 'GET /products/:id' ? dbProcesses : 1,
    )
    paired.set(`${variant}/${baseline}`, result)
    const diffs = result.variant.map((v, i) => v - result.baseline[i]!)
    console.log(
      `  ${variant}/${baseline}: ${diffs.map((d) => signed(d)).join(' ')}  (${variant} ${result.variant.map((v) => v.toFixed(1)).join(' ')}; ${baseline} ${result.baseline.map((v) => v.toFixed(1)).join(' ')})`,
    )
  }
  printLoad('after the paired phase')
}
console.log('')
const verdicts: string[] = []
for (const [variant, baseline] of comparisons) {
  const result = paired.get(`${variant}/${baseline}`)
  if (!result) continue
  const route = targets.find((t) => t.name === variant)!.route
  const diffs = result.variant.map((v, i) => v - result.baseline[i]!)
  const ratios = result.variant.map((v, i) => result.baseline[i]! / v)
  const rpsRatios = result.variantRps.map((v, i) => v / result.baselineRps[i]!)
  console.log(
    `paired cpu µs/request: ${variant} ${median(result.variant).toFixed(2)}, ${baseline} ${median(result.baseline).toFixed(2)}, instrumented-bare ${signed(median(diffs))} (median of ${diffs.length} paired differences, ${signed(Math.min(...diffs))} to ${signed(Math.max(...diffs))}); cpu-derived ratio ${median(ratios).toFixed(3)}, req/s ratio ${median(rpsRatios).toFixed(3)} (${route}); per burst pair the difference's standard deviation ${standardDeviation(diffs).toFixed(2)} µs, the req/s ratio's ${standardDeviation(rpsRatios).toFixed(3)}`,
  )
  const target = TARGETS[`${variant}/${baseline}`]
  if (!target) continue
  const parts = [
    ...(target.overhead ? [checked('overhead', diffs, target.overhead, (n) => `${signed(n)} µs`)] : []),
    checked('req/s ratio', rpsRatios, target.ratio, (n) => n.toFixed(3)),
  ]
  verdicts.push(`  ${variant}/${baseline}: ${parts.join('; ')}`)
}
const fullRss = rssOf(samples.get('full') ?? [])
if (fullRss) {
  const over = fullRss.peak / fullRss.idle
  verdicts.push(
    `  full RSS: peak ${fullRss.peak.toFixed(0)} MiB over idle ${fullRss.idle.toFixed(0)} = ${over.toFixed(2)} (≤ ${FULL_PEAK_OVER_IDLE}): ${over <= FULL_PEAK_OVER_IDLE ? 'met' : 'not met'}; 2 s after the run ${fullRss.after.toFixed(0)} MiB`,
  )
}
// The same ratio with no instrumentation in the same process: what of `full`'s peak is the
// runtime's garbage in a heap that size, not anything the request path holds on to.
const baselineRss = rssOf(samples.get('bare+db') ?? [])
if (baselineRss) {
  verdicts.push(
    `  (its baseline, bare+db: bare Elysia holding the same embedded database, peak ${baselineRss.peak.toFixed(0)} MiB over idle ${baselineRss.idle.toFixed(0)} = ${(baselineRss.peak / baselineRss.idle).toFixed(2)}; 2 s after the run ${baselineRss.after.toFixed(0)} MiB)`,
  )
}
if (verdicts.length > 0) {
  console.log(
    "\ntargets: met or not met only when the median's whole 95 % interval (its confidence in brackets) is on one side of the bound; undecided when the bound is inside it:",
  )
  for (const line of verdicts) console.log(line)
}

/** `name median [low, high] (confidence) bound: verdict`, for one target of one comparison. */
function checked(name: string, values: number[], bound: Bound, format: (n: number) => string): string {
  const interval = medianInterval(values)
  const limit = 'max' in bound ? `≤ ${format(bound.max)}` : `≥ ${format(bound.min)}`
  if (!interval)
    return `${name} ${format(median(values))} ${limit}: undecided (too few alternations for an interval)`
  return `${name} ${format(median(values))} [${format(interval.low)}, ${format(interval.high)}] (${(interval.confidence * 100).toFixed(1)} %) ${limit}: ${verdict(interval, bound)}`
}
for (const [variant, baseline] of comparisons) {
  const a = summary.get(variant)
  const b = summary.get(baseline)
  if (!a || !b) continue
  const route = targets.find((t) => t.name === variant)!.route
  console.log(
    `cpu µs/request: ${variant} ${a.cpu.toFixed(2)}, ${baseline} ${b.cpu.toFixed(2)}, instrumented-bare ${signed(a.cpu - b.cpu)} (${route})`,
  )
}
for (const [variant, baseline] of comparisons) {
  const a = summary.get(variant)
  const b = summary.get(baseline)
  if (!a || !b) continue
  const route = targets.find((t) => t.name === variant)!.route
  console.log(
    `cpu-derived ratio instrumented/bare: ${(b.cpu / a.cpu).toFixed(3)} (${variant}/${baseline}, ${route}; throughput one dedicated core would give)`,
  )
}
for (const [variant, baseline] of comparisons) {
  const a = summary.get(variant)
  const b = summary.get(baseline)
  if (!a || !b) continue
  const route = targets.find((t) => t.name === variant)!.route
  console.log(`ratio instrumented/bare: ${(a.rps / b.rps).toFixed(3)} (${variant}/${baseline}, ${route})`)
}
// The pair of runs, in one round, during which other processes used the least CPU: the
// closest this machine gets to a quiet one.
for (const [variant, baseline] of comparisons) {
  const a = samples.get(variant)
  const b = samples.get(baseline)
  if (!a?.length || !b?.length) continue
  let best = 0
  const noise = (i: number) => Math.max(a[i]!.othersCores, b[i]!.othersCores)
  for (let i = 1; i < Math.min(a.length, b.length); i++) if (noise(i) < noise(best)) best = i
  console.log(
    `quietest round (${best + 1}, other processes ≤ ${noise(best).toFixed(2)} cores): ${variant}/${baseline} ${a[best]!.cpuUsPerRequest.toFixed(2)} vs ${b[best]!.cpuUsPerRequest.toFixed(2)} µs/request (${signed(a[best]!.cpuUsPerRequest - b[best]!.cpuUsPerRequest)}), req/s ratio ${(a[best]!.rps / b[best]!.rps).toFixed(3)}`,
  )
}
