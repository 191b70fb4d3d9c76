import { connect, createServer, type Socket } from 'node:net'

/**
 * A TCP proxy on 127.0.0.1 that a test can cut and restore, to take a dependency (PostgreSQL)
 * away from a running service without touching the shared server.
 * `cut()` kills live connections and makes new ones hang (like a dropped network);
 * `restore()` forwards again.
 */
export async function startTcpProxy(targetHost: string, targetPort: number) {
  let up = true
  const live = new Set<Socket>()
  const server = createServer((client) => {
    live.add(client)
    client.on('close', () => live.delete(client))
    client.on('error', () => {})
    if (!up) return // accepted but never answered: a black hole
    const upstream = connect(targetPort, targetHost)
    live.add(upstream)
    upstream.on('close', () => live.delete(upstream))
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    port,
    cut() {
      up = false
      for (const socket of live) socket.destroy()
    },
    restore() {
      up = true
    },
    async stop() {
      for (const socket of live) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
