import { describe, expect, test } from 'bun:test'
import { parseStartScript, productionStartCommand, startEnvironment } from '../../scripts/start-command.ts'

describe('parseStartScript', () => {
  test("package.json's start script: Bun's GC timer at 250 ms, --smol, src/server.ts", () => {
    expect(productionStartCommand()).toEqual({
      env: { BUN_GC_TIMER_INTERVAL: '250' },
      flags: ['--smol'],
      entry: 'src/server.ts',
    })
  })

  test('assignments, several flags', () => {
    expect(parseStartScript('NODE_ENV=production A= bun --smol --silent src/server.ts')).toEqual({
      env: { NODE_ENV: 'production', A: '' },
      flags: ['--smol', '--silent'],
      entry: 'src/server.ts',
    })
    expect(parseStartScript('bun src/server.ts')).toEqual({ env: {}, flags: [], entry: 'src/server.ts' })
  })

  test.each([
    ['node src/server.ts'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, not a template
    ['A=${A:-1} bun src/server.ts'],
    ['A="x y" bun src/server.ts'],
    ['A=$HOME bun src/server.ts'],
    ['bun --smol'],
    ['bun src/server.ts --port 3000'],
    ['bun run migrate && bun src/server.ts'],
    ['bun src/server.js'],
  ])('refuses %p, naming the script', (script) => {
    expect(() => parseStartScript(script)).toThrow(
      `start script is not "[NAME=value …] bun [--flag …] entry.ts": ${script}`,
    )
  })
})

test("startEnvironment: the caller's environment with the script's assignments over it", () => {
  const command = parseStartScript('FIXED=1 bun src/server.ts')
  expect(startEnvironment(command, { PATH: '/bin', FIXED: '9' })).toEqual({ PATH: '/bin', FIXED: '1' })
})

/**
 * Runs `child` (a script) with `bun --smol`, as the start script runs the service, and
 * JavaScriptCore's collection log on; returns what it printed, once it exited 0.
 */
function withGcLog(child: string, settings: Record<string, string>): string {
  const run = Bun.spawnSync([process.execPath, '--smol', '-e', child], {
    env: { PATH: process.env.PATH, ...settings, BUN_JSC_logGC: '1' },
  })
  const output = run.stdout.toString() + run.stderr.toString()
  expect(run.exitCode).toBe(0)
  return output
}

/**
 * JavaScriptCore's heap growth rule in this Bun, which bench/RESULTS.md (the RSS target) explains
 * the RSS peaks by: a process holding a 128 MiB WebAssembly memory (as the embedded database does)
 * allocates short-lived objects until the collector asks for a collection, and JavaScriptCore's
 * log (`BUN_JSC_logGC`) says how many bytes it allowed that cycle. The RAM size is pinned at
 * 24 GiB: JavaScriptCore sizes heaps by the exponential rule (`Heap.cpp` `proportionalHeapSize`,
 * `heapGrowthMaxIncrease`) only on machines of 16 GiB or more.
 */
describe("JavaScriptCore's heap growth rule in this Bun", () => {
  const child = `
    import { heapStats } from 'bun:jsc'
    const memory = new WebAssembly.Memory({ initial: 2048 })
    Bun.gc(true)
    const heapSize = heapStats().heapSize
    let keep = []
    for (let i = 0; i < 3_000_000; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 100) keep = [] }
    console.log(JSON.stringify({ heapSize, memory: memory.buffer.byteLength }))
  `
  /** Bytes a cycle may allocate, over the heap after a full collection (the WebAssembly memory included). */
  function allowance(settings: Record<string, string>) {
    const output = withGcLog(child, { ...settings, BUN_JSC_forceRAMSize: String(24 * 2 ** 30) })
    const allowed = /exceed bytes allowed: (\d+)/.exec(output)
    const { heapSize } = JSON.parse(/^\{.*\}$/m.exec(output)![0]) as { heapSize: number }
    return allowed ? Number(allowed[1]) / heapSize : undefined
  }

  // 2·e^(−x) + 1 times the heap, x being the heap's share of the RAM.
  test('by default a cycle may allocate about twice the heap, the WebAssembly memory counted in it', () => {
    const ratio = allowance({})
    expect(ratio).toBeGreaterThan(1.9)
    expect(ratio).toBeLessThanOrEqual(2)
  })

  test('BUN_JSC_heapGrowthMaxIncrease=0.3 makes it 0.3 of the heap', () => {
    const ratio = allowance({ BUN_JSC_heapGrowthMaxIncrease: '0.3' })
    expect(ratio).toBeGreaterThan(0.29)
    expect(ratio).toBeLessThanOrEqual(0.3)
  })
})

/**
 * What the start script's `BUN_GC_TIMER_INTERVAL` buys (README, Benchmarks): a process whose heap
 * looks large (a 128 MiB WebAssembly memory, as the embedded database holds) allocating a little
 * garbage every 20 ms, far below what JavaScriptCore's own heap growth rule lets pile up, is
 * collected on Bun's GC timer, every 250 ms instead of every second. The count would fall back
 * to the default's if a Bun upgrade stopped reading the setting.
 */
describe("Bun's GC timer in the start script", () => {
  const child = `
    const memory = new WebAssembly.Memory({ initial: 2048 })
    Bun.gc(true)
    const started = performance.now()
    let sink
    const timer = setInterval(() => {
      const garbage = []
      for (let i = 0; i < 2000; i++) garbage.push({ i, s: 'x' + i })
      sink = garbage
      if (performance.now() - started >= 4000) {
        clearInterval(timer)
        console.log(JSON.stringify({ memory: memory.buffer.byteLength, kept: sink.length }))
      }
    }, 20)
  `
  /** Eden collections JavaScriptCore logs in the child's 4 s. */
  function edenCollections(env: Record<string, string>) {
    const output = withGcLog(child, env)
    expect(output).toContain('{"memory":134217728,"kept":2000}')
    return output.match(/=> EdenCollection/g)?.length ?? 0
  }

  // Measured: 16 with the start script's setting, 6 without, also with the core shared with a busy loop.
  test("with the start script's environment, at least three collections a second", () => {
    expect(edenCollections(productionStartCommand().env)).toBeGreaterThanOrEqual(12)
  }, 20_000)

  test("without it, Bun's default of one a second", () => {
    expect(edenCollections({})).toBeLessThanOrEqual(8)
  }, 20_000)
})
