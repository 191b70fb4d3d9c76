/**
 * Why tests skip, so that a missing prerequisite is not mistaken for a pass: every place that
 * skips records its suite and reason here, and tests/setup.ts prints the list after the last
 * file (bun's own summary only counts skips). A skip is "expected" when no machine can run
 * the suite in this pass (the PostgreSQL outage test and the `PostgreSQL only:` tests in the
 * embedded-database pass); `.ci/run` fails on any other skip under REQUIRE_OPS_TOOLS=1.
 */
import { test } from 'bun:test'

interface Skip {
  suite: string
  reason: string
  expected: boolean
}

const skipped: Skip[] = []

/** Records that `suite` is skipped in this run and why; the caller skips its tests. */
export function recordSkip(suite: string, reason: string, options: { expected?: boolean } = {}): void {
  skipped.push({ suite, reason, expected: options.expected ?? false })
}

/** Registers `name` as a skipped test and records why. */
export function skipTest(name: string, reason: string): void {
  recordSkip(name, reason)
  test.skip(name, () => {})
}

/** The end-of-run report, one line per skipped suite; empty when nothing was skipped. */
export function skipReport(): string {
  if (skipped.length === 0) return ''
  return [
    '',
    `Skipped in this run (${skipped.length} ${skipped.length === 1 ? 'suite' : 'suites'}):`,
    ...skipped.map((s) => `  - ${s.suite}: ${s.reason}${s.expected ? ' (expected in this pass)' : ''}`),
    '',
  ].join('\n')
}
