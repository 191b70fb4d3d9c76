/**
 * A thrown `status(code, body)` is the answer, as in Elysia (composeErrorHandler maps it to
 * its code and body): it answers exactly what the same `status(…)` returned would, whatever
 * the code, and is logged and counted under that code, not as a 500.
 */
import { expect, test } from 'bun:test'
import { Elysia, status } from 'elysia'
import { buildTestApp, recordingReporter } from '../helpers/app.ts'

const BODIES: Record<number, unknown> = {
  200: { ok: true },
  201: 'created',
  204: undefined,
  302: 'moved',
  418: 'teapot',
  503: 'later',
}
const CODES = Object.keys(BODIES).map(Number)

async function setup() {
  const { reporter, reports } = recordingReporter()
  const built = await buildTestApp({ errorReporter: reporter })
  const answer = (code: number, set: { headers: Record<string, unknown> }) => {
    if (code === 302) set.headers.location = '/elsewhere'
    return status(code as 200, BODIES[code] as never)
  }
  built.app.use(
    new Elysia()
      .get('/probe/status/thrown/:code', ({ params, set }) => {
        throw answer(Number(params.code), set)
      })
      .get('/probe/status/returned/:code', ({ params, set }) => answer(Number(params.code), set)),
  )
  return { ...built, reports }
}

const seen = async (res: Response) => ({
  status: res.status,
  headers: Object.fromEntries([...res.headers].filter(([name]) => name !== 'x-request-id')),
  body: await res.text(),
})

test('a thrown status() answers its code and body, as the same status() returned does', async () => {
  const { call, logs, reports } = await setup()
  for (const code of CODES) {
    const thrown = await seen(await call(`/probe/status/thrown/${code}`))
    const returned = await seen(await call(`/probe/status/returned/${code}`))
    expect({ code, ...thrown }).toEqual({ code, ...returned })
  }
  const ok = await call('/probe/status/thrown/200')
  expect([ok.status, ok.headers.get('content-type'), await ok.json()]).toEqual([
    200,
    'application/json',
    { ok: true },
  ])
  const moved = await call('/probe/status/thrown/302')
  expect([moved.status, moved.headers.get('location'), await moved.text()]).toEqual([
    302,
    '/elsewhere',
    'moved',
  ])
  // No "request failed" line: a chosen status is no error. Its access line has the code.
  expect(logs.lines.filter((line) => line.level === 'error')).toEqual([])
  const thrownLines = logs.lines
    .filter((line) => line.msg === 'request' && line.route === '/probe/status/thrown/:code')
    .map((line) => line.status)
  expect(thrownLines).toEqual([...CODES, 200, 302])
  // A thrown 503 is reported once, as a returned one is (errorReporting, from the status sent).
  expect(reports.map((r) => [new URL(r.request.url).pathname, r.status])).toEqual([
    ['/probe/status/thrown/503', 503],
    ['/probe/status/returned/503', 503],
  ])
  const scrape = await (await call('/metrics')).text()
  expect(
    scrape
      .split('\n')
      .filter((line) => line.startsWith('http_requests_total{method="GET",endpoint="/probe/status/thrown')),
  ).toEqual([
    'http_requests_total{method="GET",endpoint="/probe/status/thrown/:code",status="200"} 2',
    'http_requests_total{method="GET",endpoint="/probe/status/thrown/:code",status="201"} 1',
    'http_requests_total{method="GET",endpoint="/probe/status/thrown/:code",status="204"} 1',
    'http_requests_total{method="GET",endpoint="/probe/status/thrown/:code",status="302"} 2',
    'http_requests_total{method="GET",endpoint="/probe/status/thrown/:code",status="418"} 1',
    'http_requests_total{method="GET",endpoint="/probe/status/thrown/:code",status="503"} 1',
  ])
})
