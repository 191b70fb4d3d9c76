/**
 * `bun run start:deno` and `bun run start:node`: start the service on Deno or Node so that
 * signals reach the server. `bun run` passes SIGINT/SIGTERM to the process it starts, and
 * this launcher passes them on to the runtime's own process and exits with its exit code.
 * Without it the signal stopped an intermediate process only: npm's `deno` package puts a
 * Node wrapper on the PATH that runs the real binary with spawnSync and does not forward
 * signals, and `bun run build:node && node …` runs under a shell that does not either; the
 * server kept running, holding the port and the data-folder lock.
 *
 * Deno: the real binary behind npm's wrapper. Node: bundles src/server.node.ts for Node
 * (`bun run build:node`) first. A missing runtime is one line saying how to install it.
 */
import { existsSync, realpathSync } from 'node:fs'
import { dirname, join } from 'node:path'

/** The Deno version CI installs (`npm install -g deno@…` in .ci/run). */
export const DENO_VERSION = '2.6.8'

/**
 * The Deno executable itself. npm's `deno` package links `deno` on the PATH to `bin.cjs`, a
 * Node script; the binary sits beside it (copied there at install) or in the platform package
 * that the wrapper's own `install_api.cjs` resolves.
 */
export function denoExecutable(): string | undefined {
  const onPath = Bun.which('deno')
  if (!onPath) return undefined
  const target = realpathSync(onPath)
  if (!/\.[cm]?js$/.test(target)) return target
  const beside = join(dirname(target), 'deno')
  if (existsSync(beside)) return beside
  const resolver = join(dirname(target), 'install_api.cjs')
  if (!existsSync(resolver) || !Bun.which('node')) return undefined
  const resolved = Bun.spawnSync(['node', '-p', `require(${JSON.stringify(resolver)}).runInstall()`])
  const path = resolved.stdout.toString().trim()
  return resolved.exitCode === 0 && existsSync(path) ? path : undefined
}

/** Exit status 128+n of a child killed by signal n, as a shell reports it. */
const signalNumbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }

function fail(line: string, code: number): never {
  console.error(line)
  process.exit(code)
}

if (import.meta.main) {
  const runtime = process.argv[2]
  let command: string[]
  if (runtime === 'deno') {
    const deno = denoExecutable()
    if (!deno) {
      fail(
        `deno is not installed: npm install -g deno@${DENO_VERSION} (the version CI uses), then bun run start:deno`,
        127,
      )
    }
    command = [deno, 'run', '--allow-all', '--config', 'deno.json', 'src/server.deno.ts']
  } else if (runtime === 'node') {
    if (!Bun.which('node'))
      fail('node is not installed: install Node.js 20 or newer, then bun run start:node', 127)
    const build = Bun.spawnSync(['bun', 'run', 'build:node'], { stdout: 'inherit', stderr: 'inherit' })
    if (build.exitCode !== 0) fail('bun run build:node failed', build.exitCode ?? 1)
    command = ['node', 'dist/node/server.node.js']
  } else {
    fail('usage: bun scripts/start-runtime.ts deno|node', 2)
  }

  const child = Bun.spawn(command, { stdin: 'inherit', stdout: 'inherit', stderr: 'inherit' })
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // The server shuts down gracefully on its own; a signal it gets twice within a second
    // (Ctrl-C reaches the whole process group, then this passes it on) counts once
    // (REPEATED_SIGNAL_MS in src/main.ts), so forwarding it again is harmless.
    process.on(signal, () => child.kill(signal))
  }
  const code = await child.exited
  process.exit(child.signalCode ? 128 + (signalNumbers[child.signalCode] ?? 0) : code)
}
