import { describe, expect, test } from 'bun:test'
import { parseStartScript, productionStartCommand, startEnvironment } from '../../scripts/start-command.ts'

describe('parseStartScript', () => {
  test("package.json's start script: the heap growth setting as an overridable default, --smol, src/server.ts", () => {
    expect(productionStartCommand()).toEqual({
      env: {},
      defaults: { BUN_JSC_heapGrowthMaxIncrease: '0.3' },
      flags: ['--smol'],
      entry: 'src/server.ts',
    })
  })

  test('fixed assignments, defaults, several flags', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell's ${NAME:-value}, not a template
    expect(parseStartScript('NODE_ENV=production A=${A:-1.5} bun --smol --silent src/server.ts')).toEqual({
      env: { NODE_ENV: 'production' },
      defaults: { A: '1.5' },
      flags: ['--smol', '--silent'],
      entry: 'src/server.ts',
    })
    expect(parseStartScript('bun src/server.ts')).toEqual({
      env: {},
      defaults: {},
      flags: [],
      entry: 'src/server.ts',
    })
  })

  test.each([
    ['node src/server.ts'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell's ${NAME:-value}, not a template
    ['A=${B:-1} bun src/server.ts'],
    ['A="x y" bun src/server.ts'],
    ['A=$HOME bun src/server.ts'],
    ['bun --smol'],
    ['bun src/server.ts --port 3000'],
    ['bun run migrate && bun src/server.ts'],
    ['bun src/server.js'],
  ])('refuses %p, naming the script', (script) => {
    expect(() => parseStartScript(script)).toThrow(
      `start script is not "[NAME=value | NAME=\${NAME:-value} …] bun [--flag …] entry.ts": ${script}`,
    )
  })
})

describe('startEnvironment', () => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell's ${NAME:-value}, not a template
  const command = parseStartScript('FIXED=1 DEFAULTED=${DEFAULTED:-0.3} bun src/server.ts')

  test('a default applies where the caller leaves its variable unset or empty, as a shell ":-" default does', () => {
    expect(startEnvironment(command, { PATH: '/bin' })).toEqual({
      PATH: '/bin',
      FIXED: '1',
      DEFAULTED: '0.3',
    })
    expect(startEnvironment(command, { DEFAULTED: '' })).toEqual({ FIXED: '1', DEFAULTED: '0.3' })
  })

  test("the caller's value wins over a default, a fixed assignment over the caller's value", () => {
    expect(startEnvironment(command, { DEFAULTED: '3', FIXED: '9' })).toEqual({ FIXED: '1', DEFAULTED: '3' })
  })
})

/**
 * What the start script's JavaScriptCore setting does in this Bun: a process holding a 128 MiB
 * WebAssembly memory (as the embedded database does) allocates short-lived objects until the
 * collector asks for a collection, and JavaScriptCore's log (`BUN_JSC_logGC`) says how many bytes
 * it allowed that cycle. The RAM size is pinned at 24 GiB: JavaScriptCore sizes heaps by the
 * exponential rule (`Heap.cpp` `proportionalHeapSize`, `heapGrowthMaxIncrease`) only on machines
 * of 16 GiB or more, which is where the setting matters.
 */
describe("the start script's heap growth setting", () => {
  const child = `
    import { heapStats } from 'bun:jsc'
    const memory = new WebAssembly.Memory({ initial: 2048 })
    Bun.gc(true)
    const heapSize = heapStats().heapSize
    let keep = []
    for (let i = 0; i < 3_000_000; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 100) keep = [] }
    console.log(JSON.stringify({ heapSize, memory: memory.buffer.byteLength }))
  `
  function allowance(environment: NodeJS.ProcessEnv) {
    const run = Bun.spawnSync([process.execPath, '--smol', '-e', child], {
      env: { ...environment, BUN_JSC_logGC: '1', BUN_JSC_forceRAMSize: String(24 * 2 ** 30) },
    })
    const output = run.stdout.toString() + run.stderr.toString()
    expect(run.exitCode).toBe(0)
    const allowed = /exceed bytes allowed: (\d+)/.exec(output)
    const { heapSize } = JSON.parse(/^\{.*\}$/m.exec(output)![0]) as { heapSize: number }
    return allowed ? Number(allowed[1]) / heapSize : undefined
  }

  test('with it, a cycle may allocate 0.3 of the heap (the WebAssembly memory included) before a collection', () => {
    const ratio = allowance(startEnvironment(productionStartCommand(), { PATH: process.env.PATH }))
    expect(ratio).toBeGreaterThan(0.29)
    expect(ratio).toBeLessThanOrEqual(0.3)
  })

  // JavaScriptCore's own rule here is 2·e^(−x) + 1 times the heap, x the heap's share of the RAM.
  test("without it, JavaScriptCore's own sizing lets a cycle allocate about twice the heap", () => {
    const ratio = allowance({ PATH: process.env.PATH })
    expect(ratio).toBeGreaterThan(1.9)
    expect(ratio).toBeLessThanOrEqual(2)
  })

  test('this Bun accepts the setting: a name JavaScriptCore does not know stops the process instead', () => {
    const accepted = Bun.spawnSync([process.execPath, '-e', '0'], {
      env: startEnvironment(productionStartCommand(), { PATH: process.env.PATH }),
    })
    expect([accepted.exitCode, accepted.stderr.toString()]).toEqual([0, ''])
    const refused = Bun.spawnSync([process.execPath, '-e', '0'], {
      env: { PATH: process.env.PATH, BUN_JSC_heapGrowthMaxIncreaseTypo: '0.3' },
    })
    expect(refused.exitCode).toBe(1)
    expect(refused.stderr.toString()).toContain('invalid JSC environment variable')
  })
})
