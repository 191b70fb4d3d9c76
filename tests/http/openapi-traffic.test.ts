import { expect, test } from 'bun:test'
import { REPO_ROOT } from '../helpers/process.ts'

// Elysia compiles a route's validators on its first request and, doing so, sets
// `additionalProperties` on a root object schema that lacks it. Models are module-level objects
// shared by routes (the error envelope; an order, alone and inside a page of orders), so such a
// change would reach the OpenAPI document: /swagger/json would depend on which routes were
// called before it. The check runs in a process of its own, where no route was compiled yet
// (this process may have run other test files first).
test('/swagger/json is the same document after a request to every route as before any', async () => {
  const run = Bun.spawn(['bun', 'test', './tests/http/openapi-traffic.fixture.ts'], {
    cwd: REPO_ROOT,
    env: process.env,
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [output, exitCode] = await Promise.all([new Response(run.stderr).text(), run.exited])
  expect({ exitCode, failure: exitCode === 0 ? '' : output }).toEqual({
    exitCode: 0,
    failure: '',
  })
  expect(output).toContain(' 1 pass')
  // A child `bun test` with its own database: far longer than the 5 s default.
}, 120_000)
