import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { DatabaseHandle } from '../../../src/db/client.ts'
import { freshDatabase } from '../../helpers/db.ts'
import { recordSkip } from '../../helpers/skips.ts'
import { type AlertSuite, compareAlertSuites } from '../../prometheus/promtool/alert-fuzz.ts'
import { bothRecords, firstDifference, managerGroupSuites, managerSuites } from './manager-fuzz.ts'

// The rule manager, which keeps its alerts in the database, against promtool's runner (held to
// promtool 2.42 by alert-states.test.ts) on random alert suites: the same alerts and errors at
// every step; also on groups of chained recording rules (group-fuzz.ts, held to promtool by
// group-states.test.ts). Every suite has rules reading ALERTS and ALERTS_FOR_STATE
// (withAlertReaders), which both write; the suites with them are held to promtool below.
// More seeds: `bun tests/alerting/rules/manager-fuzz.ts --seed N [--groups] [--promtool]`.
const promtool = Bun.which('promtool')
const required = process.env.REQUIRE_OPS_TOOLS === '1'
if (!promtool && !required) recordSkip('rules reading ALERTS against promtool', 'promtool is not on PATH')
let database: DatabaseHandle
beforeAll(async () => {
  database = await freshDatabase()
})
afterAll(async () => {
  await database.close()
})

describe('the rule manager and promtool runner', () => {
  test('leave no limit and no external labels in the suites they compare', () => {
    const suites = managerSuites(1, 20)
    expect(suites).toHaveLength(20)
    for (const s of suites)
      expect([s.rules.includes('limit:'), s.tests.includes('external_labels')]).toEqual([false, false])
  })

  test('give every suite rules reading ALERTS or ALERTS_FOR_STATE, reproducibly', () => {
    for (const s of [...managerSuites(1, 20), ...managerGroupSuites(1, 20)])
      expect(/expr: '[^'\n]*ALERTS/.test(s.rules)).toBe(true)
    expect(managerGroupSuites(2, 5)).toEqual(managerGroupSuites(2, 5))
  })

  /**
   * Runs the suites through both; `marked` counts those whose runner record has a `marker`
   * line, `read` those where a rule reading ALERTS produced something.
   */
  async function compare(suites: AlertSuite[], marker: (line: string) => boolean) {
    const differences: string[] = []
    let marked = 0
    let read = 0
    // Every other suite answers the template function query the embedded engine's way.
    for (const [i, suite] of suites.entries()) {
      const { runner, manager } = await bothRecords(database, suite, i % 2 ? 'embedded' : 'prefetched')
      if (runner.some(marker)) marked++
      if (runner.some((l) => /^__name__ rA\d|^__name__ ALERTS\S* alertname M\d/.test(l))) read++
      const difference = firstDifference(runner, manager)
      if (difference) differences.push(`${suite.rules}\n${difference}`)
    }
    return { marked, read, differences: differences.slice(0, 2) }
  }

  test(
    '20 random suites: the same pending and firing alerts and rule errors at every step',
    async () => {
      // Suites where something fires are the ones that compare state.
      const run = await compare(managerSuites(1, 20), (l) => l.includes(' firing since '))
      expect(run.marked).toBeGreaterThan(15)
      expect(run.read).toBeGreaterThan(15)
      expect(run.differences).toEqual([])
    },
    { timeout: 120_000 },
  )

  test(
    '20 random suites of chained recording rules: the same recorded series, alerts and errors at every step',
    async () => {
      const run = await compare(managerGroupSuites(1, 20), (l) => l.startsWith('__name__ r'))
      expect(run.marked).toBeGreaterThan(15)
      expect(run.read).toBeGreaterThan(10)
      expect(run.differences).toEqual([])
    },
    { timeout: 120_000 },
  )
})

// The runner the manager is compared with, on the same suites (readers of ALERTS included),
// against promtool 2.42: the whole report of each (every alert, ALERTS and recorded series
// at the tested times, every rule error) must be the same.
describe.skipIf(!promtool && !required)('the same suites in promtool 2.42 and rules:test', () => {
  test(
    '20 alert suites and 20 group suites with rules reading ALERTS: the same reports',
    async () => {
      const alerts = await compareAlertSuites(managerSuites(1, 20))
      const groups = await compareAlertSuites(managerGroupSuites(1, 20))
      expect([alerts.printed, groups.printed]).toEqual([18, 20])
      expect([...alerts.differing, ...groups.differing].slice(0, 2)).toEqual([])
    },
    { timeout: 120_000 },
  )
})
