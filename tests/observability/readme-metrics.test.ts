import { describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildTestApp } from '../helpers/app.ts'

const README = readFileSync(join(import.meta.dir, '..', '..', 'README.md'), 'utf8')

/** The metric names in the README's "The metric set" table. */
function documentedMetrics(): Set<string> {
  const section = README.slice(README.indexOf('### The metric set'))
  const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| metric |')))
  return new Set([...table.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]!))
}

describe("README's metric set", () => {
  test("lists every family the service exposes, except the runtime's process_* collectors", async () => {
    const { call } = await buildTestApp()
    const text = await (await call('/metrics')).text()
    const exposed = [...text.matchAll(/^# TYPE ([a-z_:]+) /gm)]
      .map((m) => m[1]!)
      .filter((name) => !name.startsWith('process_') && !name.startsWith('nodejs_'))
    expect(exposed.length).toBeGreaterThan(20)
    const documented = documentedMetrics()
    expect(exposed.filter((name) => !documented.has(name)).sort()).toEqual([])
  })
})
