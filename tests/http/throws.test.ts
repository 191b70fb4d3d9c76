/**
 * Every thrown thing leaves through the one error boundary: whatever a route or one of its
 * hooks throws (null, undefined, a string, a number, a plain object, lookalikes of Elysia's own
 * errors, a Response) or rejects with is answered with the common envelope, a 500, one report
 * to the ErrorReporter and one error log line, through the real app (app.handle).
 */
import { describe, expect, test } from 'bun:test'
import { Elysia } from 'elysia'
import { buildTestApp, recordingReporter } from '../helpers/app.ts'

const notFoundLookalike = Object.assign(new Error('no such key in the cache'), { code: 'NOT_FOUND' })
const response = new Response('ok', { status: 200 })

/** What is thrown, by name; the same value every time, so a report can be checked by identity. */
const THROWN: Record<string, unknown> = {
  null: null,
  undefined: undefined,
  string: 'boom',
  number: 42,
  'plain object': { message: 'x' },
  '{ status: 200 }': { status: 200 },
  "{ code: 'NOT_FOUND' }": { code: 'NOT_FOUND' },
  "{ code: 'PARSE' }": { code: 'PARSE' },
  "{ code: 'VALIDATION' }": { code: 'VALIDATION' },
  "Error with code 'NOT_FOUND'": notFoundLookalike,
  'Response (200)': response,
}
const names = Object.keys(THROWN)
const slug = (name: string) => names.indexOf(name)

/** Where it is thrown from, each a route per thrown value under /probe/throws/<where>/<n>. */
const PLACES = ['handler', 'rejected', 'beforeHandle', 'transform', 'afterHandle', 'mapResponse', 'generator']

function thrower() {
  const plugin = new Elysia()
  for (const name of names) {
    const n = slug(name)
    const raise = () => {
      throw THROWN[name]
    }
    plugin
      .get(`/probe/throws/handler/${n}`, raise)
      .get(`/probe/throws/rejected/${n}`, () => Promise.reject(THROWN[name]))
      .get(`/probe/throws/beforeHandle/${n}`, () => 'ok', { beforeHandle: raise })
      .get(`/probe/throws/transform/${n}`, () => 'ok', { transform: raise })
      .get(`/probe/throws/afterHandle/${n}`, () => 'ok', { afterHandle: raise })
      .get(`/probe/throws/mapResponse/${n}`, () => 'ok', { mapResponse: raise })
      .get(`/probe/throws/generator/${n}`, async function* () {
        // Thrown before the first chunk, while the status can still be chosen.
        if (n >= 0) throw THROWN[name]
        yield 'never'
      })
  }
  return plugin
}

async function setup() {
  const { reporter, reports } = recordingReporter()
  const built = await buildTestApp({ errorReporter: reporter })
  built.app.use(thrower())
  return { ...built, reports }
}

describe('a thrown value of any kind gets the one error envelope', () => {
  for (const where of PLACES) {
    test.each(names)(`thrown from ${where}: %s`, async (name) => {
      const { call, reports, logs } = await setup()
      const id = `throws-${where}-${slug(name)}`
      const res = await call(`/probe/throws/${where}/${slug(name)}`, { headers: { 'x-request-id': id } })
      expect(res.status).toBe(500)
      expect(res.headers.get('content-type')).toBe('application/json')
      expect(res.headers.get('x-request-id')).toBe(id)
      expect(await res.json()).toEqual({
        error: { code: 'INTERNAL', message: 'Internal server error', requestId: id },
      })
      expect(reports.map((r) => [r.request.headers.get('x-request-id'), r.status])).toEqual([[id, 500]])
      const thrown = THROWN[name]
      if (thrown === null || thrown === undefined) {
        // Elysia fails reading `error.code` of it; the report says so and keeps Elysia's TypeError.
        expect((reports[0]!.error as Error).name).toBe('EscapedError')
        expect((reports[0]!.error as Error).cause).toBeInstanceOf(TypeError)
      } else {
        expect(reports[0]!.error).toBe(thrown)
      }
      const errors = logs.lines.filter((line) => line.level === 'error')
      expect(errors.map((line) => [line.msg, line.requestId, line.status])).toEqual([
        ['request failed', id, 500],
      ])
    })
  }
})

test("Elysia's own errors keep their answers: a missed route, bad JSON", async () => {
  const { call, reports } = await setup()
  const missed = await call('/probe/throws/nowhere', { headers: { 'x-request-id': 'missed' } })
  expect(missed.status).toBe(404)
  expect(await missed.json()).toEqual({
    error: { code: 'NOT_FOUND', message: 'Route not found', requestId: 'missed' },
  })
  const wrongMethod = await call(`/probe/throws/handler/${slug('null')}`, {
    method: 'DELETE',
    headers: { 'x-request-id': 'wm' },
  })
  expect(wrongMethod.status).toBe(405)
  expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD')
  expect(reports).toEqual([])
})
