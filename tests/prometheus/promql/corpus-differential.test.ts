import { describe, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { CORPUS, compareCorpus } from './differential/corpus.ts'
import { workDir } from './differential/differential.ts'

// Every expression of the shared real-world rule corpus, evaluated through promtool 2.42 and
// the engine on inputs derived from its selectors. The corpus is read in place (CI has it
// beside the clone); without it, or without promtool, this skips with a message unless
// REQUIRE_OPS_TOOLS=1.
const promtool = Bun.which('promtool')
const present = existsSync(CORPUS)
const required = process.env.REQUIRE_OPS_TOOLS === '1'
if (!required && (!promtool || !present)) {
  console.warn(
    `skipping the corpus differential test: ${!promtool ? 'promtool not on PATH' : `no corpus at ${CORPUS}`}`,
  )
}

describe.skipIf(!required && (!promtool || !present))('differential over the rule corpus', () => {
  test(
    'every corpus expression evaluates as promtool evaluates it',
    () => {
      expect(present).toBe(true)
      const run = compareCorpus(workDir())
      expect(run.expressions).toBeGreaterThan(2000)
      // Inputs derived from selectors must give most expressions something to compute.
      expect(run.withSamples).toBeGreaterThan(run.cases * 0.35)
      expect(run.disagreements.slice(0, 10)).toEqual([])
      expect(run.agree).toBe(run.cases)
    },
    { timeout: 240_000 },
  )
})
