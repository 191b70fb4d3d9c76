import { expect, setDefaultTimeout, test } from 'bun:test'
import { resultAsVector } from '../../../src/prometheus/promql/query-source.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { waitFor } from '../../helpers/process.ts'

setDefaultTimeout(60_000)

test('a start stores no db_up 0 before the first database ping: DatabaseDown stays inactive', async () => {
  // Before, `bun run dev` put DatabaseDown in pending for one evaluation at every start (on
  // PGlite and PostgreSQL alike): the embedded engine's first scrape ran in the same tick as
  // the first ping and stored the gauge's initial 0, an outage that never happened.
  const { deps } = await buildTestApp({ env: { ALERTS_ENABLED: 'true' } })
  const { services } = deps
  const source = services.embedded!.source
  const at = () => new Date(Date.now() + 1)
  services.start()
  try {
    const scraped = await waitFor(
      'the first scrape of db_up',
      async () => resultAsVector(await source.instantQuery('count_over_time(db_up[5m])', at()))[0],
      20_000,
      20,
    )
    expect(scraped.value).toBeGreaterThanOrEqual(1)
    const lowest = resultAsVector(await source.instantQuery('min_over_time(db_up[5m])', at()))
    expect(lowest.map((s) => s.value)).toEqual([1])
  } finally {
    await services.stop()
  }
})
