import { describe, expect, test } from 'bun:test'
import { recordSkip } from '../../helpers/skips.ts'
import { alertSuites, compareAlertSuites } from './alert-fuzz.ts'

// Random alerting rules over random series (alert-fuzz.ts) through promtool 2.42 and
// rules:test: every alert and ALERTS series both tools hold at the tested times, and every
// evaluation error, must be reported alike. More seeds: `bun tests/prometheus/promtool/alert-fuzz.ts --seed N`.
const promtool = Bun.which('promtool')
const required = process.env.REQUIRE_OPS_TOOLS === '1'
if (!promtool && !required) recordSkip('alert states against promtool', 'promtool is not on PATH')

describe('alert suites', () => {
  test('are reproducible from their seed', () => {
    expect(alertSuites(3, 5)).toEqual(alertSuites(3, 5))
    expect(alertSuites(3, 5)).not.toEqual(alertSuites(4, 5))
  })
})

describe.skipIf(!promtool && !required)('alert states against promtool 2.42', () => {
  test(
    '40 random suites: the same alerts, states and errors at every tested time',
    async () => {
      const run = await compareAlertSuites(alertSuites(1, 40))
      // Suites whose alerts fire are the ones that print what both hold.
      expect(run.printed).toBeGreaterThan(30)
      expect(run.differing.slice(0, 3)).toEqual([])
    },
    { timeout: 120_000 },
  )
})
