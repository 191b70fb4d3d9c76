/**
 * The webhook's `truncatedAlerts` and `groupKey` are read as Alertmanager's Go types are
 * (notify/webhook/webhook.go: `TruncatedAlerts uint64`, `GroupKey string`) by encoding/json:
 * a uint64 takes only what strconv.ParseUint(item, 10, 64) takes, a string only a string, and
 * `null` leaves the field as it was (decode.go literalStore). Anything else Go refuses with an
 * UnmarshalTypeError; so do we, with 422, rather than read it as what it did not say.
 */
import { describe, expect, test } from 'bun:test'
import { readAlertmanagerNotification } from '../../../src/alerting/notify/alertmanager-payload.ts'
import { AppError } from '../../../src/core/errors.ts'

const stream = (text: string, size = 4) => {
  const bytes = new TextEncoder().encode(text)
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < bytes.length; i += size) controller.enqueue(bytes.slice(i, i + size))
      controller.close()
    },
  })
}

const read = (text: string) => readAlertmanagerNotification(stream(text), 10_000)

const refusal = async (text: string) => {
  const error = await read(text).catch((e: unknown) => e)
  if (!(error instanceof AppError)) return error
  return [error.status, error.message, error.details]
}

const TRUNCATED = 'Expected a non-negative integer up to 9007199254740991'

describe('truncatedAlerts, a Go uint64', () => {
  test.each([
    '3.0',
    '3e0',
    '3E0',
    '30e-1',
    '-1',
    '-0',
    '"3"',
    'true',
    '[]',
    '{}',
  ])('%s is refused, as ParseUint refuses it', async (value) => {
    expect(await refusal(`{"alerts": [], "truncatedAlerts": ${value}}`)).toEqual([
      422,
      `Invalid body: truncatedAlerts — ${TRUNCATED}`,
      { in: 'body', errors: [{ field: 'truncatedAlerts', message: TRUNCATED }] },
    ])
  })

  test.each([
    ['3', 3],
    ['0', 0],
    [' 3 ', 3],
    ['null', 0],
  ])('%s is read as %p', async (value, count) => {
    expect((await read(`{"alerts": [], "truncatedAlerts": ${value}}`)).truncatedAlerts).toBe(count)
  })

  test('null after a count leaves the count, as Go leaves a field null does not set', async () => {
    expect(
      (await read('{"truncatedAlerts": 3, "alerts": [], "truncatedAlerts": null}')).truncatedAlerts,
    ).toBe(3)
  })
})

describe('groupKey, a Go string', () => {
  test.each(['1', '3.0', 'true', '[]', '{}'])('%s is refused', async (value) => {
    expect(await refusal(`{"alerts": [], "groupKey": ${value}}`)).toEqual([
      422,
      'Invalid body: groupKey — Expected a string',
      { in: 'body', errors: [{ field: 'groupKey', message: 'Expected a string' }] },
    ])
  })

  test('a numeric groupKey refuses the alerts beside it, counted', async () => {
    const alert = {
      status: 'firing',
      labels: { alertname: 'A', severity: 'critical' },
      annotations: {},
      startsAt: '2026-03-02T09:50:00Z',
      endsAt: '0001-01-01T00:00:00Z',
      fingerprint: '00000000000000a1',
    }
    const error = await read(JSON.stringify({ groupKey: 7, alerts: [alert] })).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AppError)
    expect([(error as AppError).status, (error as AppError).message]).toEqual([
      422,
      'Invalid body: groupKey — Expected a string',
    ])
  })

  test('a string is kept as sent; null is none, and after a key leaves it', async () => {
    expect((await read('{"alerts": [], "groupKey": "{}:{a=\\"1\\"}"}')).groupKey).toBe('{}:{a="1"}')
    expect('groupKey' in (await read('{"alerts": [], "groupKey": null}'))).toBe(false)
    expect((await read('{"groupKey": "g", "alerts": [], "groupKey": null}')).groupKey).toBe('g')
  })
})
