/**
 * A connection stays usable after the server refuses a body it never read. On one socket:
 * POST /tenants declaring 2,000,000 bytes (over MAX_BODY_BYTES) with the whole body, its 413,
 * then GET /health. Node answered the 413 with `Connection: keep-alive` and then never parsed
 * the next request (the unread body sat paused in front of it): no answer until its keep-alive
 * timeout closed the socket, and fetch, which had reused it, lost the request to ECONNRESET.
 * Bun drains the body and answers; Deno closes the connection after the 413, which a client
 * sees at once and does not reuse.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { connect, type Socket } from 'node:net'
import { startServer } from '../helpers/process.ts'
import { available, RUNTIMES } from '../helpers/runtimes.ts'
import { skipTest } from '../helpers/skips.ts'

setDefaultTimeout(120_000)

const DECLARED = 2_000_000

/** What the socket said next: a response's status line and headers, or that it was closed. */
interface Next {
  status?: number
  connection?: string
  closed: boolean
}

/** Reads one response (head and content-length body) from `socket`, or its close. */
function nextResponse(socket: Socket, pending: { text: string }): Promise<Next> {
  return new Promise((resolve) => {
    const check = () => {
      const end = pending.text.indexOf('\r\n\r\n')
      if (end < 0) return false
      const head = pending.text.slice(0, end).split('\r\n')
      const headers = new Map(
        head.slice(1).map((line) => {
          const colon = line.indexOf(':')
          return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as const
        }),
      )
      const length = Number(headers.get('content-length') ?? 0)
      if (pending.text.length < end + 4 + length) return false
      pending.text = pending.text.slice(end + 4 + length)
      socket.off('data', onData)
      socket.off('close', onClose)
      resolve({
        status: Number(head[0]!.split(' ')[1]),
        connection: headers.get('connection'),
        closed: false,
      })
      return true
    }
    const onData = (chunk: Buffer) => {
      pending.text += chunk.toString('latin1')
      check()
    }
    const onClose = () => resolve({ closed: true })
    if (check()) return
    socket.on('data', onData)
    socket.once('close', onClose)
  })
}

describe('keep-alive after a refused, unread body', () => {
  for (const runtime of RUNTIMES) {
    if (!available(runtime.binary) && process.env.REQUIRE_OPS_TOOLS !== '1') {
      skipTest(`keep-alive: ${runtime.name}`, `${runtime.binary} is not on the PATH`)
      continue
    }
    test(`${runtime.name}: after the 413, the next request on the connection is answered or the connection is closed`, async () => {
      if (runtime.prepare) expect(Bun.spawnSync(runtime.prepare).exitCode).toBe(0)
      const server = await startServer({}, undefined, runtime.command())
      const socket = connect(server.port, '127.0.0.1')
      socket.on('error', () => {})
      try {
        await new Promise((resolve) => socket.once('connect', resolve))
        const pending = { text: '' }
        socket.write(
          `POST /tenants HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${DECLARED}\r\n\r\n`,
        )
        socket.write(Buffer.alloc(DECLARED, 'x'))
        const refused = await nextResponse(socket, pending)
        if (!socket.destroyed && !refused.closed)
          socket.write('GET /health HTTP/1.1\r\nhost: localhost\r\n\r\n')
        const next = await nextResponse(socket, pending)
        expect({
          runtime: runtime.name,
          refused: refused.status,
          next: { status: next.status, closed: next.closed },
        }).toEqual({
          runtime: runtime.name,
          refused: 413,
          next:
            runtime.name === 'deno' ? { status: undefined, closed: true } : { status: 200, closed: false },
        })
        if (runtime.name === 'node') expect(refused.connection).toBe('keep-alive')
      } finally {
        socket.destroy()
        await server.cleanup()
      }
    })
  }
})
