/**
 * `bun run rules:test <files…>`: runs promtool-format rule unit test files through the
 * embedded rule engine, with `promtool test rules`' output and exit status.
 */
import { runRuleTests } from '../src/prometheus/promtool/test-rules.ts'
import { goStringToBytes } from '../src/prometheus/rules/go-bytes.ts'

const files = process.argv.slice(2)
if (files.length === 0) {
  process.stderr.write('usage: bun run rules:test <test-file.yml>…\n')
  process.exit(2)
}
// Written as bytes: a `!!binary` value that is not UTF-8 is printed raw, as promtool does.
process.exit(
  runRuleTests(files, {
    stdout: (text) => process.stdout.write(goStringToBytes(text)),
    stderr: (text) => process.stderr.write(goStringToBytes(text)),
  }),
)
