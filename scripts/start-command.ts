/**
 * The production process as `bun run start` starts it, read from package.json's `start` script,
 * so that the benches (`bench/run.ts`, `bench/alert-storm.ts`) start the process production
 * runs, with its Bun flags and its JavaScriptCore settings, from one source of truth.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The parts of a `start` script of the form `[NAME=value | NAME=${NAME:-value} …] bun [--flag …]
 * entry.ts`.
 */
export interface StartCommand {
  /** Assignments `NAME=value` before `bun`: the script's value wins over the caller's. */
  env: Record<string, string>
  /**
   * Assignments `NAME=${NAME:-value}` before `bun`: defaults that the caller's environment
   * overrides, e.g. `{ BUN_JSC_heapGrowthMaxIncrease: '0.3' }`.
   */
  defaults: Record<string, string>
  /** Bun's flags, e.g. `['--smol']`. */
  flags: string[]
  /** The entry file, relative to the project root, e.g. `src/server.ts`. */
  entry: string
}

const plain = /^([A-Za-z_][A-Za-z0-9_]*)=([^\s'"$`\\]*)$/
const withDefault = /^([A-Za-z_][A-Za-z0-9_]*)=\$\{([A-Za-z_][A-Za-z0-9_]*):-([^\s'"$`\\}]*)\}$/
// biome-ignore lint/suspicious/noTemplateCurlyInString: a shell's ${NAME:-value}, not a template
const shape = '[NAME=value | NAME=${NAME:-value} …] bun [--flag …] entry.ts'

/**
 * Splits a `start` script into its environment, Bun flags and entry file.
 *
 * @throws Error naming the script when it is not of the form in `StartCommand` (quotes, other
 *   expansions, a default naming another variable and other commands are refused rather than
 *   half-read).
 */
export function parseStartScript(script: string): StartCommand {
  const words = script.trim().split(/\s+/)
  const refused = () => new Error(`start script is not "${shape}": ${script}`)
  const env: Record<string, string> = {}
  const defaults: Record<string, string> = {}
  let i = 0
  for (; i < words.length; i++) {
    const fixed = plain.exec(words[i]!)
    const overridable = withDefault.exec(words[i]!)
    if (fixed) env[fixed[1]!] = fixed[2]!
    else if (overridable && overridable[1] === overridable[2]) defaults[overridable[1]!] = overridable[3]!
    else if (overridable) throw refused()
    else break
  }
  if (words[i] !== 'bun') throw refused()
  const flags: string[] = []
  for (i++; words[i]?.startsWith('-'); i++) flags.push(words[i]!)
  const entry = words[i]
  if (entry === undefined || i !== words.length - 1 || !/^[\w./-]+\.ts$/.test(entry)) throw refused()
  return { env, defaults, flags, entry }
}

/**
 * The environment the start script gives its process when run from `base`, as a POSIX shell
 * would: `base`, each default where `base` leaves its variable unset or empty (`:-`), and the
 * script's fixed assignments over both.
 */
export function startEnvironment(
  command: StartCommand,
  base: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = { ...base }
  for (const [name, value] of Object.entries(command.defaults)) {
    if (!environment[name]) environment[name] = value
  }
  return Object.assign(environment, command.env)
}

/** package.json's `start` script, parsed (see `parseStartScript`); `root` is the project root. */
export function productionStartCommand(root = join(import.meta.dir, '..')): StartCommand {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    scripts: { start: string }
  }
  return parseStartScript(manifest.scripts.start)
}
