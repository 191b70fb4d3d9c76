import { describe, expect, test } from 'bun:test'
import { parseStartScript, productionStartCommand, startEnvironment } from '../../scripts/start-command.ts'

describe('parseStartScript', () => {
  test("package.json's start script: --smol, src/server.ts, no settings", () => {
    expect(productionStartCommand()).toEqual({ env: {}, flags: ['--smol'], entry: 'src/server.ts' })
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
 * JavaScriptCore's heap growth rule in this Bun, which the README's Benchmarks section explains
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
    const run = Bun.spawnSync([process.execPath, '--smol', '-e', child], {
      env: {
        PATH: process.env.PATH,
        ...settings,
        BUN_JSC_logGC: '1',
        BUN_JSC_forceRAMSize: String(24 * 2 ** 30),
      },
    })
    const output = run.stdout.toString() + run.stderr.toString()
    expect(run.exitCode).toBe(0)
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
