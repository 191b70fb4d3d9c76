/**
 * `bun run rules:test <files…>`: runs promtool-format rule unit test files through the
 * embedded rule engine, with `promtool test rules`' output and exit status.
 */
import { statSync, writeSync } from 'node:fs'
import { runRuleTests } from '../src/prometheus/promtool/test-rules.ts'
import { goStringToBytes } from '../src/prometheus/rules/go-bytes.ts'

const files = process.argv.slice(2)
// promtool's arguments are kingpin `ExistingFiles`, at least one: every path is checked before
// any test runs, and the first that is missing or a directory ends the command, exit status 1.
const problem =
  files.length === 0
    ? "required argument 'test-rule-file' not provided (usage: bun run rules:test <test-file.yml>…)"
    : files.map(existingFileProblem).find((p) => p !== undefined)
if (problem !== undefined) {
  process.stderr.write(`rules:test: error: ${problem}\n`)
  process.exit(1)
}
// Written as bytes: a `!!binary` value that is not UTF-8 is printed raw, as promtool does.
// Written synchronously, as promtool's Go writes are: into a pipe (CI logs, `2>&1 | less`)
// process.stdout/stderr.write are asynchronous, and process.exit dropped the end of a long
// failure report, and stdout's lines landed inside stderr's when both shared the pipe.
process.exit(
  runRuleTests(files, {
    stdout: (text) => writeAll(1, goStringToBytes(text)),
    stderr: (text) => writeAll(2, goStringToBytes(text)),
  }),
)

/** kingpin's `ExistingFiles` check of one argument, worded as promtool prints it; undefined when it is a file. */
function existingFileProblem(path: string): string | undefined {
  try {
    if (statSync(path).isDirectory()) return `'${path}' is a directory`
  } catch {
    return `path '${path}' does not exist`
  }
  return undefined
}

/** Writes every byte to `fd` before returning, retrying a pipe that is full (EAGAIN) until the reader catches up. */
function writeAll(fd: number, bytes: Uint8Array) {
  let offset = 0
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EPIPE') dieOfSigpipe()
      if (code !== 'EAGAIN') throw error
      Bun.sleepSync(1)
    }
  }
}

/**
 * Ends the process killed by SIGPIPE, as promtool's Go runtime does when a write to stdout or
 * stderr fails with EPIPE (os.epipecheck -> runtime sigpipe): `promtool test rules … | head -1`
 * exits 141 in the shell, with no message. Bun ignores SIGPIPE, so the write failed instead of
 * the signal ending us; adding and removing a listener puts the default action back first.
 */
function dieOfSigpipe(): never {
  const ignore = () => {}
  process.on('SIGPIPE', ignore)
  process.off('SIGPIPE', ignore)
  process.kill(process.pid, 'SIGPIPE')
  // Only reached if the signal could not end us: the shell's view of a SIGPIPE death.
  process.exit(128 + 13)
}
