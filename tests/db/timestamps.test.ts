import { describe, expect, test } from 'bun:test'
import { eq, inArray, sql } from 'drizzle-orm'
import postgres from 'postgres'
import { createLogger } from '../../src/core/logger.ts'
import { openPostgres } from '../../src/db/postgres.ts'
import { alertStates, tenants } from '../../src/db/schema.ts'
import { parsePostgresTimestamp } from '../../src/db/timestamp.ts'
import { freshDatabase, POSTGRES_URL, sharedDatabase, usingPostgres } from '../helpers/db.ts'
import { recordSkip } from '../helpers/skips.ts'

/** Instants at the edges of what `Date` and `timestamptz` share, and where `new Date(text)` slipped. */
const EDGES = [
  '0001-01-01T00:00:00.000Z',
  '0049-01-01T00:30:00.000Z',
  '0099-12-31T23:59:59.999Z',
  '0100-01-01T00:00:00.000Z',
  '1000-06-15T12:34:56.789Z',
  '1969-12-31T23:59:59.999Z',
  '9999-12-31T23:59:59.999Z',
]

describe('parsePostgresTimestamp', () => {
  test('reads every form PostgreSQL prints a timestamptz in', () => {
    const cases: Array<[string, string]> = [
      ['0049-01-01 00:30:00+00', '0049-01-01T00:30:00.000Z'],
      ['0001-01-01 00:00:00+00', '0001-01-01T00:00:00.000Z'],
      ['0099-12-31 23:59:59.999+00', '0099-12-31T23:59:59.999Z'],
      ['9999-12-31 23:59:59.999+00', '9999-12-31T23:59:59.999Z'],
      ['1969-12-31 23:59:59.999+00', '1969-12-31T23:59:59.999Z'],
      // Microseconds are cut, never rounded into the next millisecond.
      ['2024-02-29 12:00:00.123999+00', '2024-02-29T12:00:00.123Z'],
      ['2024-02-29 12:00:00.5+00', '2024-02-29T12:00:00.500Z'],
      // Offsets with minutes and seconds (local mean time of a session TimeZone that is not UTC).
      ['0049-01-01 00:49:32+00:19:32', '0049-01-01T00:30:00.000Z'],
      ['0048-12-31 19:33:58.25-04:56:02', '0049-01-01T00:30:00.250Z'],
      ['2024-01-01 05:30:00+05:30', '2024-01-01T00:00:00.000Z'],
      // JSON's form (to_json, relational queries).
      ['0049-01-01T00:30:00+00:00', '0049-01-01T00:30:00.000Z'],
      ['0049-01-01T00:30:00Z', '0049-01-01T00:30:00.000Z'],
      // timestamp without time zone: UTC.
      ['0049-01-01 00:30:00', '0049-01-01T00:30:00.000Z'],
      // 1 BC is the astronomical year 0.
      ['0001-01-01 00:00:00+00 BC', '0000-01-01T00:00:00.000Z'],
      ['0044-03-15 12:00:00+00 BC', '-000043-03-15T12:00:00.000Z'],
      ['10000-01-01 00:00:00+00', '+010000-01-01T00:00:00.000Z'],
    ]
    expect(cases.map(([text]) => parsePostgresTimestamp(text).toISOString())).toEqual(
      cases.map(([, iso]) => iso),
    )
  })

  test('text of another form is an invalid date, a Date is copied', () => {
    expect(Number.isNaN(parsePostgresTimestamp('infinity').getTime())).toBe(true)
    expect(Number.isNaN(parsePostgresTimestamp('12/31/0049 00:30:00 UTC').getTime())).toBe(true)
    const date = new Date('0049-01-01T00:30:00.000Z')
    const copy = parsePostgresTimestamp(date)
    expect(copy).not.toBe(date)
    expect(copy.toISOString()).toBe('0049-01-01T00:30:00.000Z')
  })

  test("a UTC session's text, read without the regular expression, gives the instant it names", () => {
    // 20 000 instants over years 0001-9999, printed as PostgreSQL prints them in UTC (0-6
    // fraction digits, the microseconds cut), and near misses that must take the general path.
    let seed = 11
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    const min = Date.parse('0001-01-01T00:00:00Z')
    const max = Date.parse('9999-12-31T23:59:59.999Z')
    for (let i = 0; i < 20_000; i++) {
      const instant = new Date(
        min + Math.floor(((random(2 ** 30) * 2 ** 20 + random(2 ** 20)) / 2 ** 50) * (max - min)),
      )
      const iso = instant.toISOString()
      const digits = random(7)
      const fraction = `${iso.slice(20, 23)}${String(random(1000)).padStart(3, '0')}`.slice(0, digits)
      const text = `${iso.slice(0, 10)} ${iso.slice(11, 19)}${digits > 0 ? `.${fraction}` : ''}+00`
      const expected = new Date(
        instant.getTime() - (digits < 3 ? instant.getUTCMilliseconds() % 10 ** (3 - digits) : 0),
      )
      expect([text, parsePostgresTimestamp(text).toISOString()]).toEqual([text, expected.toISOString()])
    }
    expect(
      [
        '2026-03-02 10:00:00+00:00',
        '2026-03-02T10:00:00+00',
        '2026-03-02 10:00:00.1234567+00',
        '2026-03-02 10:00:00.+00',
        '2026-03-02 1O:00:00+00',
        '0999-03-02 10:00:00+00',
        '2026-03-02 10:00:00+01',
      ].map((text) => parsePostgresTimestamp(text).getTime()),
    ).toEqual([
      Date.parse('2026-03-02T10:00:00Z'),
      Date.parse('2026-03-02T10:00:00Z'),
      Number.NaN,
      Number.NaN,
      Number.NaN,
      Date.parse('0999-03-02T10:00:00Z'),
      Date.parse('2026-03-02T09:00:00Z'),
    ])
  })
})

describe('timestamptz columns round-trip through the database', () => {
  test('every edge instant reads back as written, to the millisecond', async () => {
    const { db } = await sharedDatabase()
    const prefix = `ts-${crypto.randomUUID()}`
    const rows = EDGES.map((iso, i) => ({
      name: `${prefix}-${i}`,
      apiKeyHash: `${prefix}-${i}`,
      createdAt: new Date(iso),
    }))
    const returned = await db
      .insert(tenants)
      .values(rows)
      .returning({ name: tenants.name, createdAt: tenants.createdAt })
    const selected = await db
      .select({ name: tenants.name, createdAt: tenants.createdAt })
      .from(tenants)
      .where(
        inArray(
          tenants.name,
          rows.map((r) => r.name),
        ),
      )
      .orderBy(tenants.createdAt)
    const text = (list: Array<{ name: string; createdAt: Date }>) =>
      list.map((r) => [r.name, r.createdAt.toISOString()])
    const expected = EDGES.map((iso, i) => [`${prefix}-${i}`, iso])
    expect(text(returned)).toEqual(expected)
    expect(text(selected)).toEqual(expected)
    // What the database itself holds, in UTC: the write was right too.
    const held = await db
      .select({
        at: sql<string>`to_char(${tenants.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
      })
      .from(tenants)
      .where(
        inArray(
          tenants.name,
          rows.map((r) => r.name),
        ),
      )
      .orderBy(tenants.createdAt)
    expect(held.map((r) => r.at)).toEqual(EDGES)
  })

  test('a session TimeZone with local-mean-time offsets reads back the same instants', async () => {
    const { db } = await sharedDatabase()
    const fingerprint = `ts-${crypto.randomUUID()}`
    await db.insert(alertStates).values({
      fingerprint,
      alertname: 'Old',
      severity: 'warning',
      labels: {},
      annotations: {},
      status: 'firing',
      startsAt: new Date('0049-01-01T00:30:00.000Z'),
      resolvedAt: new Date('0099-12-31T23:59:59.999Z'),
      ackedAt: new Date('1000-06-15T12:34:56.789Z'),
      silencedUntil: new Date('9999-12-31T23:59:59.999Z'),
      lastNotifiedAt: new Date('0001-01-01T00:00:00.000Z'),
    })
    const read = (zone: string) =>
      db.transaction(async (tx) => {
        await tx.execute(sql`select set_config('TimeZone', ${zone}, true)`)
        const [row] = await tx
          .select({
            startsAt: alertStates.startsAt,
            resolvedAt: alertStates.resolvedAt,
            ackedAt: alertStates.ackedAt,
            silencedUntil: alertStates.silencedUntil,
            lastNotifiedAt: alertStates.lastNotifiedAt,
            printed: sql<string>`${alertStates.startsAt}::text`,
            printedYearOne: sql<string>`${alertStates.lastNotifiedAt}::text`,
          })
          .from(alertStates)
          .where(eq(alertStates.fingerprint, fingerprint))
        return row!
      })
    const iso = (date: Date | null) =>
      date === null || Number.isNaN(date.getTime()) ? String(date) : date.toISOString()
    const zones = ['UTC', 'Europe/Amsterdam', 'America/New_York', 'Asia/Kolkata']
    const seen = []
    for (const zone of zones) {
      const row = await read(zone)
      seen.push([
        zone,
        // The database printed a local-mean-time offset with seconds, except in UTC.
        /[+-]\d\d:\d\d:\d\d$/.test(row.printed),
        iso(row.startsAt),
        iso(row.resolvedAt),
        iso(row.ackedAt),
        iso(row.silencedUntil),
        iso(row.lastNotifiedAt),
        // West of Greenwich, the first instant of year 1 is printed in 1 BC.
        row.printedYearOne.endsWith(' BC'),
      ])
    }
    expect(seen).toEqual(
      zones.map((zone) => [
        zone,
        zone !== 'UTC',
        '0049-01-01T00:30:00.000Z',
        '0099-12-31T23:59:59.999Z',
        '1000-06-15T12:34:56.789Z',
        '9999-12-31T23:59:59.999Z',
        '0001-01-01T00:00:00.000Z',
        zone === 'America/New_York',
      ]),
    )
    await db.delete(alertStates).where(eq(alertStates.fingerprint, fingerprint))
  })
})

// The suite's PostgreSQL pass runs it; `.ci/run` expects `PostgreSQL only:` tests to skip on
// the embedded database.
if (!usingPostgres()) {
  recordSkip(
    'PostgreSQL only: timestamps under a DateStyle',
    'runs only on PostgreSQL (DATABASE_URL unset)',
    {
      expected: true,
    },
  )
}
describe.if(usingPostgres())('PostgreSQL only: timestamps under a DateStyle', () => {
  test("a database set to DateStyle 'SQL, DMY' still reads every edge instant back as written", async () => {
    const fresh = await freshDatabase()
    const name = new URL(fresh.url!).pathname.slice(1)
    const admin = postgres(POSTGRES_URL!, { max: 1, onnotice: () => {} })
    await admin.unsafe(`alter database ${name} set datestyle = 'SQL, DMY'`)
    await admin.end()
    const handle = openPostgres(
      { url: fresh.url!, poolSize: 1, connectTimeoutMs: 3000 },
      createLogger({ level: 'silent', pretty: false }),
    )
    try {
      const rows = EDGES.map((iso, i) => ({
        name: `edge-${i}`,
        apiKeyHash: `edge-${i}`,
        createdAt: new Date(iso),
      }))
      const read = await handle.db
        .insert(tenants)
        .values(rows)
        .returning({ name: tenants.name, createdAt: tenants.createdAt })
      const iso = (date: Date) => (Number.isNaN(date.getTime()) ? String(date) : date.toISOString())
      expect(read.map((r) => [r.name, iso(r.createdAt)])).toEqual(EDGES.map((at, i) => [`edge-${i}`, at]))
    } finally {
      await handle.close()
      await fresh.close()
    }
  })
})
