import { appendFile, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Logger } from '../../core/logger.ts'
import { scrubText } from '../../core/scrub.ts'
import type { HttpClient } from '../../http/outbound.ts'

/** `+254 711 000 200` → `254711000200`: the Cloud API wants international digits, no `+`. */
export function toWhatsAppNumber(phone: string): string {
  return phone.replace(/[^0-9]/g, '')
}

/** A number as logs may show it: only its last 4 digits. */
export function maskPhone(phone: string): string {
  const digits = toWhatsAppNumber(phone)
  return `…${digits.slice(-4)}`
}

/**
 * The numbers (digits, no `+`) a WhatsApp id may stand for, the id itself first. The `from`
 * of an inbound message is the sender's wa_id, which is not always the E.164 number they are
 * configured under (Meta: the wa_id "may differ from the phone number input"):
 * - Brazil (55): an account registered before mobiles gained their ninth digit keeps the
 *   8-digit form, `55 11 8765 4321` for +55 11 98765 4321 (and the other way round);
 * - Mexico (52): mobiles keep the `1` dialling dropped in 2019, `52 1 55 1234 5678` for
 *   +52 55 1234 5678;
 * - Argentina (54): mobiles carry the `9` after the country code, `54 9 11 …`, that a number
 *   written as dialled inside the country leaves out.
 * Without these, a shop owner there texting ACK was a stranger, ignored in silence.
 */
export function whatsAppIdNumbers(waId: string): string[] {
  const variants = [waId]
  const brazil = /^55(\d{2})(9?)([6-9]\d{7})$/.exec(waId)
  if (brazil) variants.push(`55${brazil[1]}${brazil[2] ? '' : '9'}${brazil[3]}`)
  const prefixed = /^(52|54)(1|9)?(\d{10})$/.exec(waId)
  const mobile = prefixed?.[1] === '52' ? '1' : '9'
  if (prefixed && (prefixed[2] === undefined || prefixed[2] === mobile))
    variants.push(`${prefixed[1]}${prefixed[2] ? '' : mobile}${prefixed[3]}`)
  return variants
}

const WAMID_TAIL = 12

/**
 * A WhatsApp message id (wamid) as logs may show it: `wamid.…` and its last 12 characters.
 * Meta's wamid is `wamid.` and base64 of a record that starts with the recipient's number
 * (`HBgM` + `MjU0…`), so the whole id is the number, merely encoded. Masked without decoding
 * it, since an id in a variant the decoder refuses must not be logged whole; the tail is the
 * message's own part, enough to find the row by `wa_message_id` (which keeps the id whole).
 * Ids too short to carry a number (a fake's `wamid.7`) are logged as they are.
 */
export function loggableMessageId(id: string): string {
  return id.startsWith('wamid.') && id.length > WAMID_TAIL + 'wamid.'.length
    ? `wamid.…${id.slice(-WAMID_TAIL)}`
    : id
}

/**
 * The first `length` UTF-16 units of `text`, one fewer when the cut would fall inside a
 * surrogate pair (an emoji): a lone half is no character, and PostgreSQL refuses it in jsonb
 * (the outbox row's content), so an alert with an emoji at the cut failed its whole
 * notification with a 500, at every retry.
 */
export function cutText(text: string, length: number): string {
  const end = Math.max(0, length)
  const code = text.charCodeAt(end - 1)
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? end - 1 : end)
}

/**
 * A template body parameter Meta accepts: no newline, tab or run of 4+ spaces (Meta rejects
 * those), never empty (error 100), capped in length.
 */
export function sanitizeTemplateParameter(value: string | undefined, maxLength = 500): string {
  const cleaned = (value ?? '')
    .replace(/\p{Cc}+/gu, ' ')
    .replace(/ {2,}/g, ' ')
    .trim()
  const capped = cleaned.length > maxLength ? `${cutText(cleaned, maxLength - 1)}…` : cleaned
  return capped === '' ? '-' : capped
}

export type OutgoingMessage =
  | { kind: 'text'; body: string }
  | { kind: 'template'; name: string; language: string; parameters: string[] }

export interface SendContext {
  requestId: string
  /** Our outbox group id, echoed back by status webhooks (biz_opaque_callback_data). */
  callbackData?: string
}

/** How a failed send must be treated. */
export type FailureClass = 'retry' | 'throttled' | 'window-closed' | 'unauthorized' | 'permanent'

/** A send the Cloud API (or the network) refused; `code` is Meta's `error.code` when there was one. */
export class WhatsAppSendError extends Error {
  override name = 'WhatsAppSendError'
  constructor(
    message: string,
    readonly failure: FailureClass,
    readonly code: string,
    /** False when the request may have reached Meta but no answer came back (timeouts). */
    readonly answered: boolean,
    /** How long the API asked us to wait (its `Retry-After`), when it said. */
    readonly retryAfterMs?: number,
  ) {
    super(message)
  }
}

/**
 * Meta's "Throttling errors" (WhatsApp Cloud API error codes): 4 app call rate, 80007 WABA rate,
 * 130429 throughput, 131048 spam rate limit, 131056 pair rate limit. They lift with time, not
 * with retries, and can last hours (131048 up to 24 h): a pause, never an attempt spent.
 */
const THROTTLING_CODES = new Set([4, 80007, 130429, 131048, 131056])
/** Meta's temporary errors (1 unknown, 2 service, 131000, 131016 overloaded, 131057 maintenance). */
const RETRY_CODES = new Set([131000, 131016, 131057, 1, 2])
/**
 * Meta's "Authorization errors" (Graph API error codes): 0 AuthException, 3 capability,
 * 10 permission denied, 190 access token expired, 200–299 API permission; and the Cloud API's
 * own 131005 access denied (a permission not granted or removed). The token (or what it may
 * do) is wrong, not the message: every send fails until an operator replaces it.
 */
const isAuthorizationCode = (code: number) =>
  code === 0 || code === 3 || code === 10 || code === 190 || code === 131005 || (code >= 200 && code <= 299)
const PERMANENT_CODES = new Set([100, 131026, 131031, 131042, 368, 131049, 131009, 131051])

/**
 * The wait a `Retry-After` header asks for, in ms: delta-seconds, or an HTTP-date measured
 * against the response's own `Date` (the server's clock, so that our clock's skew does not
 * count), else `now`. Undefined when absent or unreadable; never negative.
 */
export function parseRetryAfter(value: string | null, date: string | null, now: number): number | undefined {
  const text = value?.trim()
  if (!text) return undefined
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const at = Date.parse(text)
  if (Number.isNaN(at)) return undefined
  const serverNow = date ? Date.parse(date) : Number.NaN
  return Math.max(0, at - (Number.isNaN(serverNow) ? now : serverNow))
}

/**
 * Classifies a Cloud API error by `error.code`, not by HTTP status (Meta sends the same code
 * with different statuses). Unknown codes: throttled on 429, retry on 5xx, permanent otherwise.
 */
export function classifyError(code: number | undefined, httpStatus: number): FailureClass {
  if (code !== undefined) {
    if (THROTTLING_CODES.has(code)) return 'throttled'
    if (RETRY_CODES.has(code)) return 'retry'
    if (code === 131047) return 'window-closed'
    if (isAuthorizationCode(code)) return 'unauthorized'
    if (PERMANENT_CODES.has(code) || (code >= 132000 && code < 133000)) return 'permanent'
  }
  // 429 Too Many Requests without a code we know (a proxy's, a body that is not JSON) is throttling too.
  if (httpStatus === 429) return 'throttled'
  if (httpStatus >= 500) return 'retry'
  return 'permanent'
}

export interface WhatsAppTransport {
  readonly kind: 'cloud-api' | 'log'
  /** Resolves with the WhatsApp message id (wamid); rejects with WhatsAppSendError. */
  send(to: string, message: OutgoingMessage, context: SendContext): Promise<string>
}

export interface CloudApiOptions {
  apiBase: string
  apiVersion: string
  phoneNumberId: string
  accessToken: string
  timeoutMs: number
}

function requestBody(to: string, message: OutgoingMessage, callbackData?: string) {
  const common = { messaging_product: 'whatsapp', recipient_type: 'individual', to }
  const callback = callbackData ? { biz_opaque_callback_data: callbackData } : {}
  if (message.kind === 'text') {
    return { ...common, type: 'text', text: { body: message.body, preview_url: false }, ...callback }
  }
  return {
    ...common,
    type: 'template',
    template: {
      name: message.name,
      language: { code: message.language },
      components: [{ type: 'body', parameters: message.parameters.map((text) => ({ type: 'text', text })) }],
    },
    ...callback,
  }
}

/** The WhatsApp Business Cloud API: POST {base}/{version}/{phone-number-id}/messages. */
export function createCloudApiTransport(options: CloudApiOptions, http: HttpClient): WhatsAppTransport {
  const url = `${options.apiBase}/${options.apiVersion}/${options.phoneNumberId}/messages`
  return {
    kind: 'cloud-api',
    async send(to, message, context) {
      let response: Response
      try {
        response = await http(url, {
          method: 'POST',
          requestId: context.requestId,
          timeoutMs: options.timeoutMs,
          headers: { authorization: `Bearer ${options.accessToken}`, 'content-type': 'application/json' },
          body: JSON.stringify(requestBody(to, message, context.callbackData)),
        })
      } catch (error) {
        const timedOut =
          error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
        throw new WhatsAppSendError(
          timedOut
            ? `no answer within ${options.timeoutMs} ms`
            : `network error: ${(error as Error).message}`,
          'retry',
          timedOut ? 'timeout' : 'network',
          false,
        )
      }
      let payload: unknown
      try {
        payload = await response.json()
      } catch {
        payload = undefined
      }
      if (response.ok) {
        const id = (payload as { messages?: Array<{ id?: string }> } | undefined)?.messages?.[0]?.id
        if (typeof id === 'string' && id !== '') return id
        throw new WhatsAppSendError('accepted without a message id', 'retry', `http_${response.status}`, true)
      }
      const error = (payload as { error?: { code?: unknown; message?: unknown } } | undefined)?.error
      const code = typeof error?.code === 'number' ? error.code : undefined
      // Our own token is never part of a reason, in whatever form the API would echo it.
      const reason =
        typeof error?.message !== 'string'
          ? `HTTP ${response.status}`
          : options.accessToken
            ? error.message.replaceAll(options.accessToken, '[Filtered]')
            : error.message
      throw new WhatsAppSendError(
        reason,
        classifyError(code, response.status),
        String(code ?? `http_${response.status}`),
        true,
        parseRetryAfter(response.headers.get('retry-after'), response.headers.get('date'), Date.now()),
      )
    },
  }
}

/** The file in DATA_DIR where the development log transport also appends each message. */
export const LOG_TRANSPORT_FILE = 'whatsapp-messages.jsonl'

/**
 * Development transport: writes the rendered message to the log (phone numbers and secrets
 * filtered, as every log line) and reports a synthetic id, so a newcomer sees what would go out
 * without WhatsApp credentials. With `file`, it
 * also appends each message as one JSON line `{ time, waMessageId, recipientMasked, message }`
 * (the number masked, as in the log), which `bun run demo:incident` reads from another process.
 */
export function createLogTransport(log: Logger, options: { file?: string } = {}): WhatsAppTransport {
  let sequence = 0
  return {
    kind: 'log',
    async send(to, message) {
      sequence++
      const id = `log.${Date.now().toString(36)}.${sequence}`
      const shown =
        message.kind === 'text' ? message.body : { template: message.name, parameters: message.parameters }
      const entry = { transport: 'log', recipientMasked: maskPhone(to), waMessageId: id, message: shown }
      // The log gets the text with phone numbers and secrets filtered (an annotation may quote
      // a customer's number); the development file, the demo's copy, keeps it exact.
      log.info(
        {
          ...entry,
          message:
            typeof shown === 'string'
              ? scrubText(shown)
              : { ...shown, parameters: shown.parameters.map((p) => scrubText(p)) },
        },
        'WhatsApp message (log transport, not sent)',
      )
      if (options.file) {
        const { transport: _, ...line } = entry
        // The copy is a convenience: failing to write it must not fail (and retry) the send.
        try {
          await mkdir(dirname(options.file), { recursive: true })
          await appendFile(options.file, `${JSON.stringify({ time: new Date().toISOString(), ...line })}\n`, {
            mode: 0o600,
          })
        } catch (error) {
          log.warn({ err: error, file: options.file }, 'log transport: cannot append the message to its file')
        }
      }
      return id
    },
  }
}
