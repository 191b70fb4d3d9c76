import { expect, test } from 'bun:test'
import {
  type AlertmanagerNotification,
  readAlertmanagerNotification,
  toAlertInput,
} from '../../../src/alerting/notify/alertmanager-payload.ts'
import { AppError } from '../../../src/core/errors.ts'
import { Rng } from '../../prometheus/promql/differential/generator.ts'

// The webhook's streaming reader against JSON.parse: Alertmanager notifications mutated at
// random (characters deleted; brackets, quotes, escapes, control characters, surrogates, a
// BOM inserted), handed over in random chunks that split UTF-8 sequences and escapes. A body
// JSON.parse refuses must be 400 INVALID_JSON, never another status and never a crash (a raw
// tab in a key was a 500); a body it accepts must be read, or refused with a 422 for what it
// holds: exactly the alerts, counts and group key that JSON.parse's document gives, element by
// element (a member given twice: the last one wins, as in JSON.parse and Go's encoding/json).
const PIECES = [
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '"',
  '\\',
  '\\u',
  '\\ud83d',
  '\\udc00',
  'null',
  'true',
  '1e999',
  '-0',
  '01',
  ' ',
  '\n',
  '\t',
  '\u0000',
  '/',
  '😀',
  'é',
  '"alerts"',
  '"alerts":[]',
  '[[]]',
  '{}',
  '"x":1,',
  '\u2028',
  '\ufeff',
]

function notification(rng: Rng): string {
  const alert = (i: number) => ({
    status: i % 3 ? 'firing' : 'resolved',
    labels: { alertname: 'A', severity: 'critical', instance: `n-${i}`, ü: 'é😀' },
    annotations: { summary: `s ${i} "q" \\ \n`, description: 'd' },
    startsAt: '2026-03-02T09:50:00.000Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://p:9090/graph?g0.expr=up',
    fingerprint: (0x1000 + i).toString(16).padStart(16, '0'),
  })
  const body = {
    receiver: 'r',
    status: 'firing',
    alerts: [alert(1), alert(2), alert(3)],
    groupLabels: { a: 'b' },
    version: '4',
    groupKey: '{}:{a="b"}',
    truncatedAlerts: 0,
  }
  return JSON.stringify(body, null, rng.chance(0.3) ? 1 : undefined)
}

function mutate(rng: Rng, text: string): string {
  let out = text
  for (let k = 1 + rng.int(2); k > 0; k--) {
    const at = rng.int(out.length + 1)
    if (rng.chance(0.4)) out = out.slice(0, at) + out.slice(at + 1 + rng.int(4))
    else out = out.slice(0, at) + rng.pick(PIECES) + out.slice(at)
  }
  return out
}

/** What the reader must make of a document JSON.parse accepted: the notification, or 422. */
function expected(document: unknown): Omit<AlertmanagerNotification, 'firstInvalid'> | '422 VALIDATION' {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return '422 VALIDATION'
  const { alerts, truncatedAlerts = 0, groupKey } = document as Record<string, unknown>
  if (!Array.isArray(alerts)) return '422 VALIDATION'
  if (typeof truncatedAlerts !== 'number' || !Number.isSafeInteger(truncatedAlerts) || truncatedAlerts < 0)
    return '422 VALIDATION'
  const read = alerts.map(toAlertInput)
  const valid = read.filter((alert) => typeof alert === 'object')
  const invalid = read.length - valid.length
  if (valid.length === 0 && invalid > 0) return '422 VALIDATION'
  return { alerts: valid, invalid, truncatedAlerts, ...(typeof groupKey === 'string' ? { groupKey } : {}) }
}

function chunked(rng: Rng, bytes: Uint8Array): ReadableStream<Uint8Array> {
  const chunks: Uint8Array[] = []
  for (let i = 0; i < bytes.length; ) {
    const n = 1 + rng.int(rng.chance(0.5) ? 8 : 200)
    chunks.push(bytes.slice(i, i + n))
    i += n
  }
  return new ReadableStream({
    pull(controller) {
      const next = chunks.shift()
      if (next) controller.enqueue(next)
      else controller.close()
    },
  })
}

test('the notification reader refuses exactly what JSON.parse refuses and reads what its document holds, in any chunking (2 000 mutated bodies)', async () => {
  const rng = new Rng(1)
  const outcomes = new Map<string, number>()
  const wrong: Array<{ body: string; want: unknown; ours: unknown }> = []
  for (let i = 0; i < 2000; i++) {
    const body = mutate(rng, notification(rng))
    // What is sent is UTF-8: a surrogate the mutation split from its pair goes out as U+FFFD.
    const bytes = new TextEncoder().encode(body)
    let want: ReturnType<typeof expected> | '400 INVALID_JSON'
    try {
      want = expected(JSON.parse(new TextDecoder().decode(bytes)))
    } catch {
      want = '400 INVALID_JSON'
    }
    let ours: unknown
    try {
      const { firstInvalid: _, ...read } = await readAlertmanagerNotification(chunked(rng, bytes), 1 << 20)
      ours = read
    } catch (error) {
      ours = error instanceof AppError ? `${error.status} ${error.code}` : `crash: ${String(error)}`
    }
    const kind = typeof want === 'string' ? want : want.alerts.length > 0 ? 'read' : 'read, no alert'
    outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1)
    if (!Bun.deepEquals(ours, want)) wrong.push({ body, want, ours })
  }
  expect(wrong.slice(0, 3)).toEqual([])
  // Every side of the line was exercised.
  expect(outcomes.get('400 INVALID_JSON')).toBeGreaterThan(800)
  expect(outcomes.get('read')).toBeGreaterThan(800)
  expect(outcomes.get('422 VALIDATION')).toBeGreaterThan(10)
})

test('a member given twice: the last one wins, as in JSON.parse and Go, unless one is of the wrong type', async () => {
  const alert = (name: string) =>
    JSON.stringify({
      status: 'firing',
      labels: { alertname: name },
      annotations: {},
      startsAt: '2026-03-02T09:50:00.000Z',
      fingerprint: '00000000000000aa',
    })
  const read = async (body: string) => {
    try {
      const { alerts, invalid, truncatedAlerts, groupKey } = await readAlertmanagerNotification(
        new Blob([body]).stream(),
        1 << 20,
      )
      return { names: alerts.map((a) => a.labels.alertname), invalid, truncatedAlerts, groupKey }
    } catch (error) {
      return (error as AppError).message
    }
  }
  expect(await read(`{"alerts":[${alert('First')},{}],"alerts":[${alert('Second')}]}`)).toEqual({
    names: ['Second'],
    invalid: 0,
    truncatedAlerts: 0,
    groupKey: undefined,
  })
  expect(
    await read(
      `{"alerts":null,"truncatedAlerts":-1,"groupKey":7,"alerts":[${alert('A')}],"truncatedAlerts":2,"groupKey":"b"}`,
    ),
  ).toBe(
    // Go's decoder keeps the first UnmarshalTypeError, whatever follows (am-go-errors.test.ts).
    'Invalid body: truncatedAlerts — Expected a non-negative integer up to 9007199254740991',
  )
  // A later member of the wrong type is refused, as Go's UnmarshalTypeError (am-member-types).
  expect(await read(`{"alerts":[${alert('A')}],"groupKey":"a","groupKey":7}`)).toBe(
    'Invalid body: groupKey — Expected a string',
  )
  expect(await read(`{"alerts":[${alert('A')}],"alerts":{}}`)).toBe(
    'Invalid body: alerts — Expected an array of alerts',
  )
  expect(await read(`{"alerts":[],"truncatedAlerts":1,"truncatedAlerts":-1}`)).toBe(
    'Invalid body: truncatedAlerts — Expected a non-negative integer up to 9007199254740991',
  )
})

// Go's time.Parse refuses a field out of range ("day out of range", "hour out of range", …);
// `new Date` rolled these over to another time, which was stored as the alert's.
test.each([
  ['2026-02-30T00:00:00Z', false],
  ['2026-02-29T00:00:00Z', false],
  ['2024-02-29T00:00:00Z', true],
  ['1900-02-29T00:00:00Z', false],
  ['2000-02-29T00:00:00Z', true],
  ['2026-04-31T00:00:00Z', false],
  ['2026-04-30T23:59:59.999Z', true],
  ['2026-13-01T00:00:00Z', false],
  ['2026-00-10T00:00:00Z', false],
  ['2026-01-00T00:00:00Z', false],
  ['2026-01-01T24:00:00Z', false],
  ['2026-01-01T23:60:00Z', false],
  ['2026-01-01T23:59:60Z', false],
  ['2026-01-01T10:00:00+25:00', false],
  ['2026-01-01T10:00:00+23:59', true],
  ['2026-01-01T10:00:00-05:61', false],
])('startsAt %s is taken: %p', (startsAt, taken) => {
  const alert = {
    status: 'firing',
    labels: { alertname: 'A' },
    annotations: {},
    startsAt,
    fingerprint: '0123456789abcdef',
  }
  const read = toAlertInput(alert)
  if (taken) expect(read).toMatchObject({ startsAt: new Date(startsAt) })
  else expect(read).toBe('.startsAt — Expected an RFC 3339 time from year 1 to 9999')
  const ended = toAlertInput({
    ...alert,
    status: 'resolved',
    startsAt: '2026-01-01T00:00:00Z',
    endsAt: startsAt,
  })
  if (taken) expect(ended).toMatchObject({ endsAt: new Date(startsAt) })
  else expect(ended).toBe('.endsAt — Expected an RFC 3339 time from year 1 to 9999')
})
