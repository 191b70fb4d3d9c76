import { test } from 'bun:test'
import { skipTest } from './skips.ts'

/**
 * A test that needs one of Debian's Prometheus binaries. It runs when the binary is on PATH;
 * otherwise it is skipped with a message naming the binary, unless REQUIRE_OPS_TOOLS=1 (CI),
 * where a missing binary fails the test.
 */
export function testWithBinary(
  binary: string,
  name: string,
  fn: (path: string) => Promise<void>,
  timeout?: number,
) {
  const path = Bun.which(binary)
  if (path) return test(name, () => fn(path), timeout)
  const install = `apt-get update && apt-get install -y prometheus`
  if (process.env.REQUIRE_OPS_TOOLS === '1') {
    return test(name, () => {
      throw new Error(`${binary} is not on PATH (${install}); REQUIRE_OPS_TOOLS=1 makes this a failure`)
    })
  }
  return skipTest(name, `${binary} is not on PATH (${install})`)
}
