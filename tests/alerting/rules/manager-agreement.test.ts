import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { DatabaseHandle } from '../../../src/db/client.ts'
import { freshDatabase } from '../../helpers/db.ts'
import type { AlertSuite } from '../../prometheus/promtool/alert-fuzz.ts'
import { bothRecords, firstDifference, managerGroupSuites, managerSuites } from './manager-fuzz.ts'

// The rule manager, which keeps its alerts in the database, against promtool's runner (held to
// promtool 2.42 by alert-states.test.ts) on random alert suites: the same alerts and errors at
// every step; also on groups of chained recording rules (group-fuzz.ts, held to promtool by
// group-states.test.ts). More seeds: `bun tests/alerting/rules/manager-fuzz.ts --seed N [--groups]`.
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

  /** Runs the suites through both; `marked` counts those whose runner record has a `marker` line. */
  async function compare(suites: AlertSuite[], marker: (line: string) => boolean) {
    const differences: string[] = []
    let marked = 0
    // Every other suite answers the template function query the embedded engine's way.
    for (const [i, suite] of suites.entries()) {
      const { runner, manager } = await bothRecords(database, suite, i % 2 ? 'embedded' : 'prefetched')
      if (runner.some(marker)) marked++
      const difference = firstDifference(runner, manager)
      if (difference) differences.push(`${suite.rules}\n${difference}`)
    }
    return { marked, differences: differences.slice(0, 2) }
  }

  test(
    '20 random suites: the same pending and firing alerts and rule errors at every step',
    async () => {
      // Suites where something fires are the ones that compare state.
      const run = await compare(managerSuites(1, 20), (l) => l.includes(' firing since '))
      expect(run.marked).toBeGreaterThan(15)
      expect(run.differences).toEqual([])
    },
    { timeout: 120_000 },
  )

  test(
    '20 random suites of chained recording rules: the same recorded series, alerts and errors at every step',
    async () => {
      const run = await compare(managerGroupSuites(1, 20), (l) => l.startsWith('__name__ r'))
      expect(run.marked).toBeGreaterThan(15)
      expect(run.differences).toEqual([])
    },
    { timeout: 120_000 },
  )
})
