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
