import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { DatabaseHandle } from '../../../src/db/client.ts'
import { freshDatabase } from '../../helpers/db.ts'
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

  test(
    '20 random suites: the same pending and firing alerts and rule errors at every step',
    async () => {
      const differences: string[] = []
      let firing = 0
      for (const suite of managerSuites(1, 20)) {
        const { runner, manager } = await bothRecords(database, suite)
        if (runner.some((l) => l.includes(' firing since '))) firing++
        const difference = firstDifference(runner, manager)
        if (difference) differences.push(`${suite.rules}\n${difference}`)
      }
      // Suites where something fires are the ones that compare state.
      expect(firing).toBeGreaterThan(15)
      expect(differences.slice(0, 2)).toEqual([])
    },
    { timeout: 120_000 },
  )

  test(
    '20 random suites of chained recording rules: the same recorded series, alerts and errors at every step',
    async () => {
      const differences: string[] = []
      let recorded = 0
      for (const suite of managerGroupSuites(1, 20)) {
        const { runner, manager } = await bothRecords(database, suite)
        if (runner.some((l) => l.startsWith('__name__ r'))) recorded++
        const difference = firstDifference(runner, manager)
        if (difference) differences.push(`${suite.rules}\n${difference}`)
      }
      expect(recorded).toBeGreaterThan(15)
      expect(differences.slice(0, 2)).toEqual([])
    },
    { timeout: 120_000 },
  )
})
