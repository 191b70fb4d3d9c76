/**
 * The three entries a test can start as real processes (Bun, Deno, Node), one table shared by
 * the runtime smoke test and the crash test, so that a runtime's command line is written once.
 */
import { denoExecutable } from '../../scripts/start-runtime.ts'

export interface RuntimeEntry {
  name: 'bun' | 'deno' | 'node'
  /** The executable that must be on the PATH; absent, the runtime's tests skip (fail under REQUIRE_OPS_TOOLS=1). */
  binary: string
  /** Run to its end before the entry starts (Node runs the bundle `bun run build:node` makes). */
  prepare?: string[]
  /**
   * The command that starts the entry in the repository root, with `preload` (a path relative
   * to it, an ES module without TypeScript syntax) evaluated before the entry: `bun --preload`,
   * `deno run --preload`, `node --import`.
   */
  command(preload?: string): string[]
}

/**
 * The Deno binary itself. npm's package puts a Node wrapper on the PATH that does not pass
 * signals on to Deno: a signal would stop the wrapper and orphan the server.
 */
const denoBinary = () => denoExecutable() ?? 'deno'

const preloading = (flag: string, preload: string | undefined) => (preload ? [flag, `./${preload}`] : [])

export const RUNTIMES: RuntimeEntry[] = [
  {
    name: 'bun',
    binary: 'bun',
    command: (preload) => ['bun', ...preloading('--preload', preload), 'src/server.ts'],
  },
  {
    name: 'deno',
    binary: 'deno',
    command: (preload) => [
      denoBinary(),
      'run',
      '--allow-all',
      '--config',
      'deno.json',
      ...preloading('--preload', preload),
      'src/server.deno.ts',
    ],
  },
  {
    name: 'node',
    binary: 'node',
    prepare: ['bun', 'run', 'build:node'],
    command: (preload) => ['node', ...preloading('--import', preload), 'dist/node/server.node.js'],
  },
]

/** Whether `binary` is on the PATH. */
export const available = (binary: string) => Bun.which(binary) !== null
