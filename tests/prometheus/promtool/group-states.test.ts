import { describe, expect, test } from 'bun:test'
import { recordSkip } from '../../helpers/skips.ts'
import { compareAlertSuites } from './alert-fuzz.ts'
import { groupSuites } from './group-fuzz.ts'

// Random groups of chained recording rules (group-fuzz.ts) through promtool 2.42 and
// rules:test: every recorded series, its stale markers and every evaluation error (refused
// duplicates included) must be reported alike. More seeds: `bun tests/prometheus/promtool/group-fuzz.ts --seed N`.
const promtool = Bun.which('promtool')
const required = process.env.REQUIRE_OPS_TOOLS === '1'
if (!promtool && !required) recordSkip('rule groups against promtool', 'promtool is not on PATH')

describe('group suites', () => {
  test('are reproducible from their seed and always order their groups', () => {
    expect(groupSuites(3, 5)).toEqual(groupSuites(3, 5))
    expect(groupSuites(3, 5)).not.toEqual(groupSuites(4, 5))
    for (const suite of groupSuites(1, 40)) {
      const groups = suite.rules.match(/^ {2}- name: /gm)?.length ?? 0
      expect(groups === 1 || suite.tests.includes('group_eval_order:')).toBe(true)
    }
  })
})

describe.skipIf(!promtool && !required)('rule groups against promtool 2.42', () => {
  test(
    '40 random suites: the same recorded series, stale markers and errors at every tested time',
    async () => {
      const run = await compareAlertSuites(groupSuites(1, 40))
      expect(run.printed).toBeGreaterThan(30)
      expect(run.differing.slice(0, 3)).toEqual([])
    },
    { timeout: 120_000 },
  )
})
