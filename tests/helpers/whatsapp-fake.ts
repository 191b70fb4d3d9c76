/** One scripted answer of the fake Cloud API. */
export type FakeBehaviour =
  /** Success; with `id`, that wamid instead of `wamid.<n>` (a real one encodes the number). */
  | { kind: 'ok'; id?: string }
  | { kind: 'error'; httpStatus: number; code?: number; message?: string }
  | { kind: 'delay'; ms: number }
  | { kind: 'disconnect' }
  /** Exactly this status, headers and body (HTML error pages, malformed successes). */
  | { kind: 'raw'; httpStatus: number; headers?: Record<string, string>; body: string }

export interface RecordedRequest {
  path: string
  headers: Record<string, string>
  body: Record<string, unknown>
}

/**
 * A fake of the WhatsApp Cloud API on 127.0.0.1: records every request and answers from a
 * script (default: success with wamid.1, wamid.2, …). Stop it with `stop()`.
 */
export function startWhatsAppFake() {
  const requests: RecordedRequest[] = []
  const script: FakeBehaviour[] = []
  let sequence = 0
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req, srv) {
      const body = (await req.json().catch(() => ({}))) as Record<string, unknown>
      requests.push({ path: new URL(req.url).pathname, headers: Object.fromEntries(req.headers), body })
      const behaviour = script.shift() ?? { kind: 'ok' }
      if (behaviour.kind === 'disconnect') {
        srv.timeout(req, 1)
        return new Promise<Response>(() => {})
      }
      if (behaviour.kind === 'delay') await Bun.sleep(behaviour.ms)
      if (behaviour.kind === 'raw') {
        return new Response(behaviour.body, { status: behaviour.httpStatus, headers: behaviour.headers })
      }
      if (behaviour.kind === 'error') {
        return Response.json(
          {
            error: {
              message: behaviour.message ?? `(#${behaviour.code}) scripted`,
              type: 'OAuthException',
              code: behaviour.code,
              fbtrace_id: 'AbC',
            },
          },
          { status: behaviour.httpStatus },
        )
      }
      sequence++
      const to = String(body.to ?? '')
      return Response.json({
        messaging_product: 'whatsapp',
        contacts: [{ input: to, wa_id: to }],
        messages: [{ id: (behaviour.kind === 'ok' ? behaviour.id : undefined) ?? `wamid.${sequence}` }],
      })
    },
  })
  return {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    /** Queues answers for the next requests, in order. */
    answer(...behaviours: FakeBehaviour[]) {
      script.push(...behaviours)
    },
    /** Drops the answers not used yet: from now on every request succeeds. */
    clearScript() {
      script.length = 0
    },
    stop: () => server.stop(true),
  }
}
