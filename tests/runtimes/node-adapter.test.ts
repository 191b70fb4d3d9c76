/**
 * The app built with the Node entry's adapter answers with the content type each route sets,
 * as the web-standard adapter (Bun, Deno) does. `@elysiajs/node` 1.4.5 on its own served the
 * docs page as `text/plain` (with nosniff, a browser showed its HTML source) and dropped the
 * charset of the WhatsApp verification echo. Runs in Bun: the adapter is plain JavaScript and
 * the app's own `handle` goes through its response mapping.
 */
import { describe, expect, test } from 'bun:test'
import { nodeAdapter } from '../../src/runtime/node-adapter.ts'
import { buildTestApp } from '../helpers/app.ts'

const VERIFY_TOKEN = 'verify-token-node-adapter'

const REQUESTS = [
  '/swagger',
  '/swagger/',
  '/swagger/assets/docs.js',
  '/swagger/json',
  `/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`,
  '/health',
  '/no-such-route',
]

/** Status, content type and body of each request, through `call`. */
async function answers(call: (path: string) => Promise<Response>) {
  const out: Array<[string, number, string | null, string]> = []
  for (const path of REQUESTS) {
    const res = await call(path)
    // The OpenAPI document's own text is not compared: in one process it depends on which
    // routes were called before (reported separately), not on the adapter.
    const text = await res.text()
    const body = path === '/swagger/json' ? '' : text.replace(/"requestId":"[^"]+"/, '"requestId":"…"')
    out.push([path, res.status, res.headers.get('content-type'), body])
  }
  return out
}

describe('Node adapter: the content type a route sets', () => {
  test('the docs page is HTML and the webhook echo keeps its charset, as on Bun and Deno', async () => {
    const env = { WHATSAPP_VERIFY_TOKEN: VERIFY_TOKEN }
    const onNode = await answers((await buildTestApp({ env, adapter: nodeAdapter() })).call)
    expect(onNode.map(([path, status, type]) => [path, status, type])).toEqual([
      ['/swagger', 200, 'text/html; charset=utf-8'],
      ['/swagger/', 200, 'text/html; charset=utf-8'],
      ['/swagger/assets/docs.js', 200, 'text/javascript; charset=utf-8'],
      ['/swagger/json', 200, 'application/json'],
      [REQUESTS[4]!, 200, 'text/plain; charset=utf-8'],
      ['/health', 200, 'application/json'],
      ['/no-such-route', 404, 'application/json'],
    ])
    expect(onNode[4]![3]).toBe('1158201444')
    expect(onNode).toEqual(await answers((await buildTestApp({ env })).call))
  })
})
