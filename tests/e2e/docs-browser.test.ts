import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { type Browser, chromium } from 'playwright-core'
import { buildTestApp } from '../helpers/app.ts'

// Starting Chromium and rendering Swagger UI's 1.7 MB bundle takes seconds on 2 shared cores.
setDefaultTimeout(60_000)

/** Debian's Chromium (`apt-get install -y chromium`), the browser CI installs. */
const CHROMIUM = '/usr/bin/chromium'
const INSTALL = 'apt-get update && apt-get install -y chromium'

/**
 * A test that needs Chromium: skipped with a message when it is absent, a failure under
 * REQUIRE_OPS_TOOLS=1 (CI), as the tests that need Debian's Prometheus binaries are.
 */
function browserTest(name: string, fn: () => Promise<void>) {
  if (existsSync(CHROMIUM)) return test(name, fn)
  if (process.env.REQUIRE_OPS_TOOLS === '1') {
    return test(name, () => {
      throw new Error(`${CHROMIUM} is missing (${INSTALL}); REQUIRE_OPS_TOOLS=1 makes this a failure`)
    })
  }
  console.warn(`skipping "${name}": ${CHROMIUM} is missing (${INSTALL})`)
  return test.skip(`${name} [skipped: ${CHROMIUM} missing]`, () => {})
}

let server: ReturnType<typeof Bun.serve> | undefined
let browser: Browser | undefined
let origin = ''
let operations: string[] = []

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) return
  const { app, call } = await buildTestApp()
  const doc = (await (await call('/swagger/json')).json()) as {
    paths: Record<string, Record<string, unknown>>
  }
  operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
  )
  // Served as src/server.ts serves it: Bun.serve handing every request to app.fetch.
  server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: app.fetch })
  origin = `http://127.0.0.1:${server.port}`
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
})

afterAll(async () => {
  await browser?.close()
  server?.stop(true)
})

/**
 * Opens `path` with the network cut off from everything but the service: every request to
 * another origin is aborted and recorded. Returns the operations the rendered page lists
 * ("POST /orders"), the page's link to the document, and the requests that left the service.
 */
async function render(path: string) {
  const context = await browser!.newContext()
  const offline: string[] = []
  await context.route('**/*', (route) => {
    const url = route.request().url()
    if (new URL(url).origin === origin) return route.continue()
    offline.push(url)
    return route.abort('internetdisconnected')
  })
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(error.message))
  await page.goto(`${origin}${path}`)
  try {
    await page.locator('.opblock-summary').first().waitFor({ timeout: 30_000 })
  } catch (error) {
    // Say why the page stayed blank: usually a request that had to leave the service.
    await context.close()
    throw new Error(
      `${path} rendered no operation within 30 s; requests outside the service: ${JSON.stringify(offline)}; page errors: ${JSON.stringify(errors)} (${(error as Error).message.split('\n')[0]})`,
    )
  }
  const listed = await page
    .locator('.opblock-summary')
    .evaluateAll((blocks) =>
      blocks.map(
        (block) =>
          `${block.querySelector('.opblock-summary-method')?.textContent?.trim()} ${block
            .querySelector('.opblock-summary-path')
            ?.getAttribute('data-path')}`,
      ),
    )
  const link = await page.locator('a', { hasText: '/swagger/json' }).first()
  const href = await link.evaluate((a) => (a as HTMLAnchorElement).href)
  await context.close()
  return { listed, href, offline, errors }
}

describe('the API docs page in headless Chromium, offline', () => {
  for (const path of ['/swagger', '/swagger/']) {
    browserTest(
      `${path} renders every operation of the document from the service's own assets, with a link to /swagger/json`,
      async () => {
        const { listed, href, offline, errors } = await render(path)
        expect(listed).toContain('POST /orders')
        expect([...listed].sort()).toEqual([...operations].sort())
        expect(href).toBe(`${origin}/swagger/json`)
        expect({ offline, errors }).toEqual({ offline: [], errors: [] })
      },
    )
  }
})
