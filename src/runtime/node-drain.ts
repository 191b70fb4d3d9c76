/**
 * Keeps a Node connection usable after a response that left its request body unread.
 *
 * Node discards such a body itself once the response has finished (`resOnFinish` →
 * `IncomingMessage._dump()` in lib/_http_server.js), unless the body has started to be
 * consumed (`_consuming`). srvx's request (under `@elysiajs/node`) turns it into a web stream
 * (`Readable.toWeb`) as soon as anything touches `request.body`, which counts as consuming; a
 * 413 for a declared length over MAX_BODY_BYTES then left the rest of the body unread and
 * paused. The connection stayed open advertising keep-alive, but its next request was never
 * parsed: no answer until the keep-alive timeout closed it, and a client that had reused it
 * (as fetch does) lost that request to ECONNRESET. Bun drains such a body; this does the same.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'

/**
 * Once each response has finished, discards whatever its request body still holds, as Node's
 * own `_dump()` does: the stream's `data` listeners (the abandoned web stream's) are removed
 * and it is resumed, so the bytes are read and dropped, never buffered, and the connection
 * goes on to its next request.
 */
export function discardUnreadBodies(server: Pick<Server, 'on'>): void {
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    response.once('finish', () => {
      if (request.complete || request.destroyed) return
      request.removeAllListeners('data')
      request.resume()
    })
  })
}
