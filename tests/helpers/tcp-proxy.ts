import { connect, createServer, type Socket } from 'node:net'

/**
 * A TCP proxy on 127.0.0.1 that a test can cut and restore, to take a dependency (PostgreSQL)
 * away from a running service without touching the shared server.
 * `cut()` kills live connections and makes new ones hang (like a dropped network);
 * `refuse()` kills them and stops listening, so new ones are refused (like a stopped server
 * on a live host); `restore()` forwards again, on the same port.
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
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
  const close = () => {
    for (const socket of live) socket.destroy()
    return new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))
  }
  await listen(0)
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    port,
    cut() {
      up = false
      for (const socket of live) socket.destroy()
    },
    refuse: close,
    async restore() {
      up = true
      if (!server.listening) await listen(port)
    },
    stop: close,
  }
}
