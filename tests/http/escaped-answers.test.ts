/**
 * What Elysia cannot hand to onError (a thrown null or undefined) is answered by the last-resort
 * boundary around the fetch handler (escapedErrors). Such a request is still logged and
 * counted exactly once, under the route it matched, and leaves http_requests_in_flight.
 */
import { expect, test } from 'bun:test'
import { Elysia } from 'elysia'
import { buildTestApp, recordingReporter } from '../helpers/app.ts'

async function setup() {
  const { reporter, reports } = recordingReporter()
  const built = await buildTestApp({ errorReporter: reporter })
  built.app.use(
    new Elysia()
      .get('/probe/escaped/static', () => {
        throw null
      })
      .get('/probe/escaped/:id', () => 'ok', {
        transform: () => {
          throw undefined
        },
      })
      .post('/probe/escaped/:id', () => Promise.reject(null)),
  )
  return { ...built, reports }
}

test('an escaped error is answered, logged, counted and reported once, under its route', async () => {
  const { call, logs, reports } = await setup()
  const requests: Array<[string, string, string]> = [
    ['GET', '/probe/escaped/static', 'esc-static'],
    ['GET', '/probe/escaped/42', 'esc-transform'],
    ['POST', '/probe/escaped/42', 'esc-rejected'],
  ]
  for (const [method, path, id] of requests) {
    const json = method === 'POST' ? {} : undefined
    const res = await call(path, { method, json, headers: { 'x-request-id': id } })
    expect([res.status, await res.json()]).toEqual([
      500,
      { error: { code: 'INTERNAL', message: 'Internal server error', requestId: id } },
    ])
  }
  const lines = logs.lines
    .filter((line) => typeof line.requestId === 'string' && String(line.requestId).startsWith('esc-'))
    .map((line) => [line.msg, line.requestId, line.method, line.route, line.status])
  expect(lines).toEqual([
    ['request failed', 'esc-static', undefined, undefined, 500],
    ['request', 'esc-static', 'GET', '/probe/escaped/static', 500],
    ['request failed', 'esc-transform', undefined, undefined, 500],
    ['request', 'esc-transform', 'GET', '/probe/escaped/:id', 500],
    ['request failed', 'esc-rejected', undefined, undefined, 500],
    ['request', 'esc-rejected', 'POST', '/probe/escaped/:id', 500],
  ])
  expect(reports.map((r) => [r.request.headers.get('x-request-id'), r.status, r.route])).toEqual([
    ['esc-static', 500, '/probe/escaped/static'],
    ['esc-transform', 500, '/probe/escaped/:id'],
    ['esc-rejected', 500, '/probe/escaped/:id'],
  ])
  const scrape = (await (await call('/metrics')).text()).split('\n')
  expect(scrape.filter((line) => line.includes('/probe/escaped') && !line.includes('_bucket'))).toEqual([
    'http_requests_total{method="GET",endpoint="/probe/escaped/static",status="500"} 1',
    'http_requests_total{method="GET",endpoint="/probe/escaped/:id",status="500"} 1',
    'http_requests_total{method="POST",endpoint="/probe/escaped/:id",status="500"} 1',
    expect.stringMatching(
      /^http_request_duration_seconds_sum\{method="GET",endpoint="\/probe\/escaped\/static"\} /,
    ),
    'http_request_duration_seconds_count{method="GET",endpoint="/probe/escaped/static"} 1',
    expect.stringMatching(
      /^http_request_duration_seconds_sum\{method="GET",endpoint="\/probe\/escaped\/:id"\} /,
    ),
    'http_request_duration_seconds_count{method="GET",endpoint="/probe/escaped/:id"} 1',
    expect.stringMatching(
      /^http_request_duration_seconds_sum\{method="POST",endpoint="\/probe\/escaped\/:id"\} /,
    ),
    'http_request_duration_seconds_count{method="POST",endpoint="/probe/escaped/:id"} 1',
  ])
  // Every request left the gauge; the scrape itself is not in it.
  expect(scrape.filter((line) => line.startsWith('http_requests_in_flight'))).toEqual([
    'http_requests_in_flight 0',
  ])
})
