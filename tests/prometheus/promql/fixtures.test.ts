import { describe, expect, test } from 'bun:test'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { runOurs } from '../promtool/rule-test-files.ts'

// PromQL fixtures pinned against Prometheus: each file passes Debian's `promtool test rules`
// 2.42 (the truth) and must pass ours the same. Without promtool the promtool half skips
// with a message, unless REQUIRE_OPS_TOOLS=1.
const DIR = 'tests/prometheus/promql/fixtures'
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.test.yml'))
  .map((f) => join(DIR, f))
  .sort()
const promtool = Bun.which('promtool')
const required = process.env.REQUIRE_OPS_TOOLS === '1'
if (!promtool && !required) {
  console.warn(
    'promtool not on PATH (apt-get install prometheus): skipping the promtool half of the PromQL fixtures',
  )
}

describe('PromQL fixtures', () => {
  test.each(files)('%s passes under rules:test', (file) => {
    const result = runOurs([file])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
  })

  test.skipIf(!promtool && !required).each(files)('%s passes under promtool test rules', (file) => {
    const proc = Bun.spawnSync(['promtool', 'test', 'rules', file], { stdout: 'pipe', stderr: 'pipe' })
    expect(proc.stderr.toString()).toBe('')
    expect(proc.exitCode).toBe(0)
  })
})
