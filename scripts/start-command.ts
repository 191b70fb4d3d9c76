/**
 * The production process as `bun run start` starts it, read from package.json's `start` script,
 * so that the benches (`bench/run.ts`, `bench/alert-storm.ts`) start the process production
 * runs, with its Bun flags and environment settings, from one source of truth.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** The parts of a `start` script of the form `[NAME=value …] bun [--flag …] entry.ts`. */
export interface StartCommand {
  /** Assignments `NAME=value` before `bun`, e.g. `{ NODE_ENV: 'production' }`. */
  env: Record<string, string>
  /** Bun's flags, e.g. `['--smol']`. */
  flags: string[]
  /** The entry file, relative to the project root, e.g. `src/server.ts`. */
  entry: string
}

const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=([^\s'"$`\\]*)$/

/**
 * Splits a `start` script into its environment, Bun flags and entry file.
 *
 * @throws Error naming the script when it is not `[NAME=value …] bun [--flag …] entry.ts`
 *   (quotes, expansions and other commands are refused rather than half-read).
 */
export function parseStartScript(script: string): StartCommand {
  const words = script.trim().split(/\s+/)
  const refused = () => new Error(`start script is not "[NAME=value …] bun [--flag …] entry.ts": ${script}`)
  const env: Record<string, string> = {}
  let i = 0
  for (let match = assignment.exec(words[i]!); match; match = assignment.exec(words[++i] ?? '')) {
    env[match[1]!] = match[2]!
  }
  if (words[i] !== 'bun') throw refused()
  const flags: string[] = []
  for (i++; words[i]?.startsWith('-'); i++) flags.push(words[i]!)
  const entry = words[i]
  if (entry === undefined || i !== words.length - 1 || !/^[\w./-]+\.ts$/.test(entry)) throw refused()
  return { env, flags, entry }
}

/**
 * The environment the start script gives its process when run from `base`: `base` with the
 * script's assignments over it, as a shell does.
 */
export function startEnvironment(
  command: StartCommand,
  base: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  return { ...base, ...command.env }
}

/** package.json's `start` script, parsed (see `parseStartScript`); `root` is the project root. */
export function productionStartCommand(root = join(import.meta.dir, '..')): StartCommand {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    scripts: { start: string }
  }
  return parseStartScript(manifest.scripts.start)
}
