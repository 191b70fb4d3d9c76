import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServerData, freePort, REPO_ROOT, type ServerData, waitFor } from './helpers/process.ts'
import { skipTest } from './helpers/skips.ts'

// The README's shell examples, pasted as a newcomer pastes them, against a real `bun run dev`
// process (development mode: the demo tenant and its key file). Starts a process: well over
// bun's 5 s default.
setDefaultTimeout(120_000)

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')

/** The first ```sh block after `marker` in the README, as its text. */
function shBlockAfter(marker: string): string {
  const from = README.indexOf(marker)
  if (from < 0) throw new Error(`README has no ${JSON.stringify(marker)}`)
  const block = /```sh\n([\s\S]*?)```/.exec(README.slice(from))
  if (!block) throw new Error(`README has no sh block after ${JSON.stringify(marker)}`)
  return block[1]!
}

const QUICK_START = shBlockAfter('A first order, end to end')
const IDEMPOTENT_ORDER = shBlockAfter('### Retries and idempotency')
/** The Quick start's payment command (two lines), which the README says to run again. */
const PAYMENT = /^curl -s \$BASE\/orders\/\$ORDER\/payments.*\n.*\n/m.exec(QUICK_START)?.[0]

/** Every JSON value in `text`, one after another, as jq and curl print them. */
function jsonValues(text: string): unknown[] {
  const values: unknown[] = []
  let depth = 0
  let start = -1
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      if (c === '\\') i++
      else if (c === '"') inString = false
    } else if (c === '"') inString = true
    else if (c === '{' || c === '[') {
      if (depth++ === 0) start = i
    } else if ((c === '}' || c === ']') && --depth === 0) values.push(JSON.parse(text.slice(start, i + 1)))
  }
  return values
}

const missing = ['bash', 'curl', 'jq'].filter((tool) => Bun.which(tool) === null)
if (missing.length > 0) {
  skipTest("README's shell examples", `${missing.join(', ')} not on the PATH`)
} else {
  describe("README's shell examples, pasted into a terminal beside `bun run dev`", () => {
    let data: ServerData
    let server: ReturnType<typeof Bun.spawn>
    let port = 0
    /** The "repository folder" the examples run in: its `.data` is the server's DATA_DIR. */
    let folder: string

    beforeAll(async () => {
      data = await createServerData()
      port = await freePort()
      folder = mkdtempSync(join(tmpdir(), 'cc-readme-'))
      symlinkSync(data.dataDir, join(folder, '.data'))
      server = Bun.spawn(['bun', 'src/server.ts'], {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          NODE_ENV: 'development',
          PORT: String(port),
          DATA_DIR: data.dataDir,
          DATABASE_URL: data.databaseUrl,
          ADMIN_TOKEN: '',
        },
        stdout: 'ignore',
        stderr: 'ignore',
      })
      await waitFor(
        'the development server',
        async () => ((await fetch(`http://localhost:${port}/health`)).ok ? true : undefined),
        60_000,
      )
    })
    afterAll(async () => {
      server?.kill('SIGKILL')
      await server?.exited
      await data?.cleanup()
      if (folder) rmSync(folder, { recursive: true, force: true })
    })

    /** Runs `script` with bash in the examples' folder, PORT exported as the README asks. */
    async function paste(script: string, env: Record<string, string> = { PORT: String(port) }) {
      const proc = Bun.spawn(['bash', '-c', script], {
        cwd: folder,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
        stdout: 'pipe',
        stderr: 'pipe',
      })
      const [stdout, stderr] = await Promise.all([
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
      ])
      await proc.exited
      return { stdout, stderr }
    }

    test('the Quick start: the payment answers as the README shows, again on a repeat, and the order is paid', async () => {
      expect(PAYMENT).toBeDefined()
      const { stdout, stderr } = await paste(`${QUICK_START}\n${PAYMENT}`)
      expect(stderr).toBe('')
      const [payment, order, repeat, ...rest] = jsonValues(stdout)
      // "The payment answers {"status":"succeeded","amountMinor":500,"currency":"USD"}"
      expect(payment).toEqual({ status: 'succeeded', amountMinor: 500, currency: 'USD' })
      expect(order).toEqual({ id: expect.any(String), status: 'paid', totalMinor: 500 })
      // "run the payment line again: the same answer, replayed, and no second charge"
      expect(repeat).toEqual(payment)
      expect(rest).toEqual([])
    })

    test('the idempotent order, sent twice: one order, the same 201 body', async () => {
      // "KEY, BASE and PRODUCT as in the Quick start's first order"
      const setup = QUICK_START.slice(0, QUICK_START.indexOf('ORDER='))
      const { stdout, stderr } = await paste(
        `${setup}\n${IDEMPOTENT_ORDER}\n${IDEMPOTENT_ORDER.replace(/^IKEY=.*$/m, '')}`,
      )
      // curl's progress meter, on stderr when its output is not a terminal, is all stderr holds.
      expect(stderr).not.toContain('curl:')
      const [first, again, ...rest] = jsonValues(stdout) as Array<Record<string, unknown>>
      expect(rest).toEqual([])
      expect(first).toMatchObject({ status: 'pending', totalMinor: 250, currency: 'USD' })
      expect(again).toEqual(first!)
    })

    test('pasted where nothing answers: only the first line says so and what to do', async () => {
      const closed = await freePort()
      const { stdout } = await paste(QUICK_START, { PORT: String(closed) })
      expect(stdout).toBe(
        `nothing answers at http://localhost:${closed}: export PORT=<the server's port> here\n`,
      )
    })
  })
}
