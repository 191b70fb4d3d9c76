import { describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'

const SRC = join(import.meta.dir, '..', '..', 'src')
/** The only places allowed to know they run on Bun. */
const BUN_ONLY = ['server.ts', 'runtime/bun.ts']

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  )
}

/** Source text without comments, so that prose mentioning Bun.serve does not count. */
const code = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1')

describe('the core is runtime-agnostic', () => {
  test('no Bun.* global and no bun:* import outside the Bun entry', () => {
    const offenders: string[] = []
    for (const file of sources(SRC)) {
      const name = relative(SRC, file)
      if (BUN_ONLY.includes(name)) continue
      const text = code(readFileSync(file, 'utf8'))
      if (/\bBun\s*\./.test(text) || /from\s+['"]bun:/.test(text) || /import\(\s*['"]bun:/.test(text))
        offenders.push(name)
    }
    expect(offenders).toEqual([])
  })

  test('relative imports carry an explicit .ts extension, Node built-ins use node: specifiers', () => {
    const BUILTINS = [
      'fs',
      'path',
      'url',
      'crypto',
      'os',
      'net',
      'stream',
      'util',
      'events',
      'child_process',
      'process',
      'async_hooks',
      'perf_hooks',
    ]
    const problems: string[] = []
    for (const file of sources(SRC)) {
      const text = code(readFileSync(file, 'utf8'))
      for (const match of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
        const specifier = match[1]!
        if (specifier.startsWith('.') && !specifier.endsWith('.ts'))
          problems.push(`${relative(SRC, file)}: ${specifier}`)
        if (BUILTINS.includes(specifier.split('/')[0]!))
          problems.push(`${relative(SRC, file)}: ${specifier} (use node:${specifier})`)
      }
    }
    expect(problems).toEqual([])
  })

  test('the guard can fail: it sees a Bun global in code but not in a comment', () => {
    expect(/\bBun\s*\./.test(code('const x = Bun.env'))).toBe(true)
    expect(/\bBun\s*\./.test(code('// before Bun.serve\n/* Bun.file */ const y = 1'))).toBe(false)
  })
})

/**
 * The layers of `src/`, bottom to top, and what each top-level folder may import besides
 * itself and npm packages. Files directly in `src/` (entries, `main.ts`, `app.ts`,
 * `services.ts`, `metrics.ts`) are the composition root and may import anything; `config.ts`
 * counts as its own folder. Adding an edge here is a design decision: say why in the commit.
 */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  prometheus: [],
  shared: ['core'],
  observability: ['core'],
  config: ['core', 'prometheus', 'observability'],
  db: ['core', 'config', 'observability'],
  runtime: ['core', 'observability'],
  http: ['core', 'shared', 'observability', 'config', 'db'],
  auth: ['core', 'http'],
  idempotency: ['core', 'shared', 'config', 'db', 'http'],
  health: ['core', 'shared', 'db', 'http'],
  alerting: ['core', 'prometheus', 'shared', 'observability', 'config', 'db', 'http', 'auth'],
  tenants: ['core', 'shared', 'observability', 'config', 'db', 'http', 'auth', 'idempotency', 'alerting'],
  products: ['core', 'shared', 'observability', 'db', 'http', 'auth', 'idempotency'],
  orders: ['core', 'shared', 'observability', 'db', 'http', 'auth', 'idempotency'],
  payments: ['core', 'shared', 'observability', 'db', 'http', 'auth', 'idempotency', 'orders'],
}

/** The top-level area of a path relative to src/: its folder, `config`, or `(root)`. */
function area(path: string): string {
  if (path === 'config.ts') return 'config'
  return path.includes('/') ? path.split('/')[0]! : '(root)'
}

/** Every import edge between two areas, as `from -> to (file)`. */
function areaEdges(): Array<{ from: string; to: string; file: string }> {
  const edges: Array<{ from: string; to: string; file: string }> = []
  for (const file of sources(SRC)) {
    const text = code(readFileSync(file, 'utf8'))
    const name = relative(SRC, file)
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]/g)) {
      const target = relative(SRC, join(file, '..', match[1]!))
      const from = area(name)
      const to = area(target)
      if (from !== to) edges.push({ from, to, file: name })
    }
  }
  return edges
}

/** The first cycle in a graph given as adjacency sets, or undefined. */
function findCycle(graph: Map<string, Set<string>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>()
  const path: string[] = []
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined
    if (state.get(node) === 'open') return [...path.slice(path.indexOf(node)), node]
    state.set(node, 'open')
    path.push(node)
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next)
      if (cycle) return cycle
    }
    path.pop()
    state.set(node, 'done')
    return undefined
  }
  for (const node of graph.keys()) {
    const cycle = visit(node)
    if (cycle) return cycle
  }
  return undefined
}

describe('imports run one way between the folders of src/', () => {
  test('each folder imports only the folders below it (the layers in ALLOWED)', () => {
    const violations = areaEdges()
      .filter(({ from, to }) => from !== '(root)' && !(ALLOWED[from] ?? []).includes(to))
      .map(({ from, to, file }) => `${file}: ${from} -> ${to}`)
    expect([...new Set(violations)]).toEqual([])
  })

  test('the embedded Prometheus imports nothing from the rest of src/', () => {
    expect(areaEdges().filter(({ from }) => from === 'prometheus')).toEqual([])
  })

  test('there is no cycle between the folders', () => {
    const graph = new Map<string, Set<string>>()
    for (const { from, to } of areaEdges()) {
      if (!graph.has(from)) graph.set(from, new Set())
      graph.get(from)!.add(to)
    }
    expect(findCycle(graph)).toBeUndefined()
  })

  test('the cycle check can fail: it finds a loop across three folders', () => {
    const graph = new Map([
      ['http', new Set(['db'])],
      ['db', new Set(['observability'])],
      ['observability', new Set(['http'])],
    ])
    expect(findCycle(graph)).toEqual(['http', 'db', 'observability', 'http'])
  })

  test('every folder of src/ has a place in the layers', () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
    expect(folders.filter((folder) => !(folder in ALLOWED))).toEqual([])
  })
})
