import { describe, expect, test } from 'bun:test'
import { createMetricsRegistry } from '../../src/observability/metrics.ts'
import { captureLogs } from '../helpers/logs.ts'
import { sample } from '../helpers/scrape.ts'

const runtimeFamilies = (text: string) =>
  [...text.matchAll(/^# TYPE ((?:process|nodejs|bun)_[a-z0-9_]+) /gm)].map((m) => m[1]!).sort()

const LAG = [
  'nodejs_eventloop_lag_seconds',
  'nodejs_eventloop_lag_min_seconds',
  'nodejs_eventloop_lag_max_seconds',
  'nodejs_eventloop_lag_mean_seconds',
  'nodejs_eventloop_lag_stddev_seconds',
  'nodejs_eventloop_lag_p50_seconds',
  'nodejs_eventloop_lag_p90_seconds',
  'nodejs_eventloop_lag_p99_seconds',
]
const HEAP_SPACES = [
  'nodejs_heap_space_size_total_bytes',
  'nodejs_heap_space_size_used_bytes',
  'nodejs_heap_space_size_available_bytes',
]
/** What prom-client's collectors give on Bun 1.4.5 once the stubs and made-up families are gone. */
const BUN_FAMILIES = [
  'bun_version_info',
  'process_cpu_user_seconds_total',
  'process_cpu_system_seconds_total',
  'process_cpu_seconds_total',
  'process_start_time_seconds',
  'process_resident_memory_bytes',
  'process_virtual_memory_bytes',
  'process_heap_bytes',
  'process_open_fds',
  'process_max_fds',
  ...LAG,
  'nodejs_heap_size_total_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_external_memory_bytes',
  'nodejs_version_info',
].sort()

describe('runtime families', () => {
  test('on Bun the per-space heap families are left out: Bun fills old_space only, the 12 others read 0', async () => {
    const metrics = createMetricsRegistry({ log: captureLogs().log, build: { runtime: 'bun' } })
    expect(runtimeFamilies(await metrics.render())).toEqual(BUN_FAMILIES)
  })

  test('on Node, whose per-space values are real, they stay', async () => {
    const metrics = createMetricsRegistry({ log: captureLogs().log, build: { runtime: 'node' } })
    const expected = [...BUN_FAMILIES.filter((name) => name !== 'bun_version_info'), ...HEAP_SPACES].sort()
    expect(runtimeFamilies(await metrics.render())).toEqual(expected)
  })

  test('the event-loop lag histogram sees a 200 ms block, and forgets it at the next scrape', async () => {
    const metrics = createMetricsRegistry({ log: captureLogs().log, build: { runtime: 'bun' } })
    // A monitor enabled a moment ago has no baseline tick yet and would miss the block.
    await Bun.sleep(50)
    await metrics.render() // prom-client resets the histogram (one per process on Bun) at each scrape
    const start = performance.now()
    while (performance.now() - start < 200);
    await Bun.sleep(30)
    const blocked = sample(await metrics.render(), 'nodejs_eventloop_lag_max_seconds')!
    await Bun.sleep(50)
    const after = sample(await metrics.render(), 'nodejs_eventloop_lag_max_seconds')!
    // The values ride along so a failure shows them.
    expect({ blocked, after, blockedSeen: blocked > 0.15, afterForgotten: after < 0.15 }).toEqual({
      blocked,
      after,
      blockedSeen: true,
      afterForgotten: true,
    })
  })
})
