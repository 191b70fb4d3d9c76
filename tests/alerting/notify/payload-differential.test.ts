import { expect, test } from 'bun:test'
import { readAlertmanagerNotification } from '../../../src/alerting/notify/alertmanager-payload.ts'
import { AppError } from '../../../src/core/errors.ts'
import { Rng } from '../../prometheus/promql/differential/generator.ts'

// The webhook's streaming reader against JSON.parse: Alertmanager notifications mutated at
// random (characters deleted; brackets, quotes, escapes, control characters, surrogates, a
// BOM inserted), handed over in random chunks that split UTF-8 sequences and escapes. A body
// JSON.parse refuses must be 400 INVALID_JSON, never another status and never a crash (a raw
// tab in a key was a 500); a body it accepts must be read, or refused with a 422 for what it
// holds.
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

test('the notification reader refuses exactly what JSON.parse refuses, in any chunking (2 000 mutated bodies)', async () => {
  const rng = new Rng(1)
  const outcomes = new Map<string, number>()
  const wrong: Array<{ body: string; json: boolean; ours: string }> = []
  for (let i = 0; i < 2000; i++) {
    const body = mutate(rng, notification(rng))
    let json = true
    try {
      JSON.parse(body)
    } catch {
      json = false
    }
    let ours: string
    try {
      const read = await readAlertmanagerNotification(chunked(rng, new TextEncoder().encode(body)), 1 << 20)
      ours = read.alerts.length > 0 ? 'read' : 'read, no alert'
    } catch (error) {
      ours = error instanceof AppError ? `${error.status} ${error.code}` : `crash: ${String(error)}`
    }
    const kind = `${json ? 'JSON' : 'not JSON'} → ${ours}`
    outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1)
    const agrees = json ? ours.startsWith('read') || ours === '422 VALIDATION' : ours === '400 INVALID_JSON'
    if (!agrees) wrong.push({ body, json, ours })
  }
  expect(wrong.slice(0, 3)).toEqual([])
  // Both sides of the line were exercised.
  expect(outcomes.get('not JSON → 400 INVALID_JSON')).toBeGreaterThan(800)
  expect(outcomes.get('JSON → read')).toBeGreaterThan(800)
})
