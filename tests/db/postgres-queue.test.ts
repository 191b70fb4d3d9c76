import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import postgres from 'postgres'
import { POSTGRES_URL, usingPostgres } from '../helpers/db.ts'
import { recordSkip } from '../helpers/skips.ts'

/**
 * postgres.js 3.4.9 keeps its pool's connection queues (`open`, `busy`, `full`, …) and its
 * waiting queries in `src/queue.js`. `shift()` leaves a hole and only starts over when the
 * queue runs empty, and `move(c, queue)` (`src/index.js`) first calls `c.queue.remove(c)` on
 * the queue `c` was just shifted from, an `indexOf` over every hole. A queue that never runs
 * empty (two or more pooled connections taking turns, under load or not) therefore grew by
 * one slot per query and every query scanned all of them: `GET /products/:id` on PostgreSQL
 * went from 72 to 148 µs CPU per request over a minute of load. `scripts/patches/` bounds
 * the array; these tests hold it on each of the package's three builds and on a real pool.
 */

type Queue<T> = { readonly length: number; push(x: T): T; shift(): T; remove(x: T): T | null }
type QueueFactory = <T>(initial?: T[]) => Queue<T>

const packageRoot = join(import.meta.dir, '../../node_modules/postgres')
const builds = ['src/queue.js', 'cf/src/queue.js', 'cjs/src/queue.js'] as const

async function loadQueue(build: string): Promise<QueueFactory> {
  const module = (await import(join(packageRoot, build))) as { default: QueueFactory }
  return module.default
}

/**
 * Runs `work` while recording the longest array that `indexOf` searched for a value matching
 * `wanted`: the queue's own array is private, its searches are not.
 */
function longestSearch(wanted: (x: unknown) => boolean, work: () => Promise<void> | void) {
  const indexOf = Array.prototype.indexOf
  let longest = 0
  Array.prototype.indexOf = function (this: unknown[], x: unknown, from?: number) {
    if (wanted(x)) longest = Math.max(longest, this.length)
    return indexOf.call(this, x, from)
  }
  const restore = () => {
    Array.prototype.indexOf = indexOf
  }
  try {
    const done = work()
    if (done instanceof Promise) return done.then(() => longest).finally(restore)
    restore()
    return Promise.resolve(longest)
  } catch (error) {
    restore()
    throw error
  }
}

describe.each(builds)('postgres.js queue (%s)', (build) => {
  test('stays first in, first out with removals in between', async () => {
    const Queue = await loadQueue(build)
    const q = Queue<string>(['a', 'b'])
    q.push('c')
    q.push('d')
    expect(q.shift()).toBe('a')
    expect(q.remove('c')).toBe('c')
    expect(q.remove('a')).toBeNull()
    expect(q.remove('zz')).toBeNull()
    expect(q.length).toBe(2)
    q.push('e')
    expect([q.shift(), q.shift(), q.shift()]).toEqual(['b', 'd', 'e'])
    expect(q.length).toBe(0)
  })

  test('keeps order and length across many turns of a queue that never runs empty', async () => {
    const Queue = await loadQueue(build)
    const q = Queue<number>([0, 1, 2, 3])
    for (let i = 4; i < 10_004; i++) {
      q.push(i)
      expect(q.shift()).toBe(i - 4)
    }
    expect(q.length).toBe(4)
    expect(q.remove(10_001)).toBe(10_001)
    expect([q.shift(), q.shift(), q.shift()]).toEqual([10_000, 10_002, 10_003])
  })

  test("the pool's shift-then-move pattern does not grow the array it searches", async () => {
    const Queue = await loadQueue(build)
    const connections = [0, 1, 2, 3].map((id) => ({ id }))
    const open = Queue<{ id: number }>(connections)
    const longest = await longestSearch(
      (x) => connections.includes(x as { id: number }),
      () => {
        // index.js `go(open.shift(), query)` then, once answered, `move(c, open)`: the stale
        // `remove` on the queue the connection was already shifted from.
        for (let i = 0; i < 100_000; i++) {
          const c = open.shift()
          expect(open.remove(c)).toBeNull()
          open.push(c)
        }
      },
    )
    expect(open.length).toBe(4)
    expect(longest).toBeLessThanOrEqual(256)
  })
})

// The suite's PostgreSQL pass runs it; `.ci/run` expects `PostgreSQL only:` tests to skip on
// the embedded database.
if (!usingPostgres()) {
  recordSkip('PostgreSQL only: postgres.js pool', 'runs only on PostgreSQL (DATABASE_URL unset)', {
    expected: true,
  })
}
describe.if(usingPostgres())('PostgreSQL only: postgres.js pool', () => {
  test('20 000 pipelined prepared queries over 4 connections search short queues', async () => {
    const sql = postgres(POSTGRES_URL ?? '', { max: 4, onnotice: () => {} })
    const isConnection = (x: unknown) =>
      typeof x === 'object' && x !== null && 'queue' in x && 'execute' in x && 'connect' in x
    let answered = 0
    try {
      const longest = await longestSearch(isConnection, async () => {
        for (let round = 0; round < 625; round++) {
          const batch = Array.from({ length: 32 }, (_, i) =>
            sql.unsafe('select $1::int as n', [round * 32 + i], { prepare: true }),
          )
          for (const [row] of await Promise.all(batch)) answered += row?.n === undefined ? 0 : 1
        }
      })
      expect(answered).toBe(20_000)
      expect(longest).toBeGreaterThan(0)
      expect(longest).toBeLessThanOrEqual(256)
    } finally {
      await sql.end({ timeout: 5 })
    }
    // 0.5 s on a quiet machine; over bun's 5 s default on a busy one.
  }, 30_000)
})
