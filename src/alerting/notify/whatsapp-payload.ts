import type { DeliveryStatus } from './receipts.ts'

/** A message a WhatsApp user sent us (a reply, a button, a list choice, an image, a reaction). */
export interface InboundMessage {
  /** The sender's number, digits only. */
  from: string
  /**
   * The text, a quick-reply button's payload (or label), an interactive reply's id, or a
   * photo's, video's or document's caption; `''` for a kind that carries none (an image
   * without a caption, a voice note, a reaction): no command, but a
   * message all the same, which opens the 24-hour window as Meta counts it.
   */
  text: string
  /** The inbound wamid: Meta re-delivers a webhook with the same one. */
  id: string
  /** When the user sent it (the webhook's `timestamp`, Unix seconds). */
  at: Date
  /**
   * The wamid of the message this one answers: a swipe-reply's `context.id`, a reaction's
   * `reaction.message_id` (Meta's "Webhooks — messages": the `context` object, the reaction
   * message). Absent when the message quotes nothing, or quotes it in a shape we cannot read.
   */
  replyTo?: string
  /**
   * A reaction's emoji as sent (skin tone and variation selector included); `''` when the
   * reaction was removed (Meta then omits `emoji`). Absent for every other kind of message.
   */
  reaction?: string
  /**
   * True when WhatsApp marks the message forwarded (`context.forwarded` or
   * `context.frequently_forwarded`, Meta's "Webhooks — messages" `context` object): someone
   * else's words, from another chat and another time, so never taken as a command.
   */
  forwarded?: true
}

/** What one signed WhatsApp webhook (Cloud API, `whatsapp_business_account`) hands over. */
export interface WhatsAppWebhook {
  /** False when the body is not a JSON object: nothing in it was looked at. */
  object: boolean
  statuses: DeliveryStatus[]
  messages: InboundMessage[]
  /** Items skipped because they are not of the documented shape. */
  invalid: number
  /**
   * Items skipped because they were addressed to another phone number of the app
   * (`value.metadata.phone_number_id` not ours): one app's webhook receives every number's.
   */
  otherNumber: number
  /**
   * Messages skipped because they name their sender by business-scoped user id only
   * (`from_user_id`, no `from`): Meta withholds the number of a user who took a username.
   * Recipients are configured by number, so such a sender cannot be told from a stranger;
   * a documented shape, not a malformed one. Absent when there were none.
   */
  withoutNumber?: number
  /** The first skipped item's problem, `entry.0.changes.1.value.messages.0.from — Expected …`. */
  firstInvalid?: string
}

const STATUSES = new Set(['sent', 'delivered', 'read', 'failed'])
/** toMessage's answer for a message that names its sender by BSUID only. */
const WITHOUT_NUMBER = Symbol('without number')
/** Unix seconds up to 9999-12-31T23:59:59Z, the last time PostgreSQL's timestamptz takes here. */
const MAX_SECONDS = 253_402_300_799

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * Text PostgreSQL can take as a parameter (no U+0000, no unpaired surrogate) and not empty:
 * ids end up in keys and WHERE clauses.
 */
const storable = (value: unknown): value is string =>
  typeof value === 'string' && value !== '' && !value.includes('\u0000') && value.isWellFormed()

const optionalString = (value: unknown) => value === undefined || typeof value === 'string'

/** The elements of an optional array field, or why it is not one. */
function arrayAt(value: unknown): unknown[] | string {
  if (value === undefined) return []
  return Array.isArray(value) ? value : 'Expected an array'
}

/** One element of `value.statuses`, ignored (`undefined`) when its status is not one we track. */
function toStatus(raw: unknown): DeliveryStatus | undefined | string {
  if (!isObject(raw)) return ' — Expected an object'
  if (!storable(raw.id)) return '.id — Expected a message id'
  if (typeof raw.status !== 'string') return '.status — Expected a string'
  // Meta adds statuses over time (`deleted`, `warning`, …): documented shapes we do not track.
  if (!STATUSES.has(raw.status)) return undefined
  if (raw.biz_opaque_callback_data !== undefined && typeof raw.biz_opaque_callback_data !== 'string')
    return '.biz_opaque_callback_data — Expected a string'
  const errors = arrayAt(raw.errors)
  if (typeof errors === 'string') return `.errors — ${errors}`
  const first = errors[0]
  if (first !== undefined) {
    if (!isObject(first)) return '.errors.0 — Expected an object'
    if (first.code !== undefined && !Number.isSafeInteger(first.code))
      return '.errors.0.code — Expected an integer'
    if (!optionalString(first.message) || !optionalString(first.title))
      return '.errors.0 — Expected message and title strings'
  }
  const error = first as { code?: number; message?: string; title?: string } | undefined
  return {
    id: raw.id,
    status: raw.status as DeliveryStatus['status'],
    errorCode: error?.code,
    // Only recorded (the row's last_error_message), never matched: a U+0000, which PostgreSQL
    // cannot store, must not refuse the webhook, since Meta would retry it, good items and all.
    errorMessage: (error?.message ?? error?.title)?.replaceAll('\u0000', '\ufffd'),
    callbackData: raw.biz_opaque_callback_data as string | undefined,
  }
}

/** Meta's media message kinds that carry an optional `caption` (Meta's "Webhooks — messages": image, video, document). */
const CAPTIONED = ['image', 'video', 'document'] as const

/**
 * What a message says, or undefined for a kind that carries no text (a voice note, a sticker,
 * a reaction). A photo, video or document's `caption` is what its sender typed with it, read
 * as a text is: a screenshot of the dashboard captioned `ACK`, sent as a reply to the alert,
 * was otherwise ignored in silence while its sender believed the alert acknowledged.
 */
function textOf(raw: Record<string, unknown>): unknown {
  const text = isObject(raw.text) ? raw.text.body : undefined
  const button = isObject(raw.button) ? raw.button : undefined
  // An interactive message's reply (`type: interactive`) is a reply button's or a list row's
  // choice: its `id` is the payload we set (`ACK:<ref>`), as Meta's "Webhooks — messages" shows.
  const interactive = isObject(raw.interactive) ? raw.interactive : undefined
  const choice = isObject(interactive?.button_reply)
    ? interactive.button_reply
    : isObject(interactive?.list_reply)
      ? interactive.list_reply
      : undefined
  // A caption is optional, and Meta omits it when none was typed: only a string counts.
  const caption = CAPTIONED.map((kind) => raw[kind])
    .filter(isObject)
    .map((media) => media.caption)
    .find((value) => typeof value === 'string')
  return text ?? button?.payload ?? choice?.id ?? button?.text ?? caption
}

/**
 * One element of `value.messages`; ignored (`undefined`) only when the user did not write it
 * (`type: system`, such as a changed number): any other opens the 24-hour window, so free text
 * (no template, no template fee) can answer it.
 */
function toMessage(raw: unknown): InboundMessage | typeof WITHOUT_NUMBER | undefined | string {
  if (!isObject(raw)) return ' — Expected an object'
  // Meta's username rollout ("Business-scoped user IDs"): `from` is omitted when the number is
  // withheld, and `from_user_id` (the BSUID, `CC.alphanumerics`) names the sender instead.
  if (raw.from === undefined && storable(raw.from_user_id)) return WITHOUT_NUMBER
  if (!storable(raw.from)) return '.from — Expected a phone number string'
  const from = raw.from.replace(/[^0-9]/g, '')
  if (from === '') return '.from — Expected a phone number string'
  if (!storable(raw.id)) return '.id — Expected a message id'
  if (typeof raw.timestamp !== 'string' || !/^[0-9]{1,12}$/.test(raw.timestamp))
    return '.timestamp — Expected Unix seconds as a string'
  const seconds = Number(raw.timestamp)
  if (seconds < 1 || seconds > MAX_SECONDS) return '.timestamp — Expected Unix seconds up to year 9999'
  const text = textOf(raw) ?? (raw.type === 'system' ? undefined : '')
  if (text === undefined) return undefined
  if (typeof text !== 'string') return '.text — Expected a string'
  const message: InboundMessage = { from, text, id: raw.id, at: new Date(seconds * 1000) }
  // What a reply or a reaction points at only narrows a command to that message's alerts: one
  // we cannot read is not a reason to skip the message (it still opens the 24-hour window).
  const reaction = isObject(raw.reaction) ? raw.reaction : undefined
  const context = isObject(raw.context) ? raw.context : undefined
  const forwarded = context?.forwarded === true || context?.frequently_forwarded === true
  if (forwarded) message.forwarded = true
  // A forwarded message answers nothing of ours, whatever its context says: it was written to
  // someone else.
  const quoted = reaction ? reaction.message_id : forwarded ? undefined : context?.id
  if (storable(quoted)) message.replyTo = quoted
  if (reaction) message.reaction = typeof reaction.emoji === 'string' ? reaction.emoji : ''
  return message
}

/**
 * Reads a WhatsApp Cloud API webhook body (`object: whatsapp_business_account`,
 * `entry[].changes[].value.{statuses,messages}[]`, as Meta's "Webhooks — messages" reference
 * documents it). Anything not of that shape is skipped and counted in `invalid`, never a reason
 * to refuse the rest: Meta retries a webhook that is not answered 200 for up to 7 days, and
 * each retry would apply its good items again. Statuses we do not track are not malformed, just
 * ignored, and a message without text is read with `text: ''`. A forwarded message is read
 * with `forwarded: true` and quotes nothing; one that names its sender only by business-scoped
 * user id (`from_user_id`, no `from`) is counted in `withoutNumber`, not read. Never throws.
 *
 * A WhatsApp app's webhook receives the events of every phone number of the app, so with
 * `phoneNumberId` given, the statuses and messages of a change are read only when its
 * `value.metadata.phone_number_id` is that id: those of another number are counted in
 * `otherNumber` (a shop's customer line texting `ACK` must not acknowledge an alert), and a
 * change carrying statuses or messages without the id is malformed (Meta always sends it).
 * As pywa's `filter_updates` and Meta's "Webhooks — messages" `metadata` object.
 *
 * @param raw the body as signed (its signature already checked)
 * @param phoneNumberId our sending number's id (WHATSAPP_PHONE_NUMBER_ID); undefined reads every number's
 */
export function readWhatsAppWebhook(raw: string, phoneNumberId?: string): WhatsAppWebhook {
  const out: WhatsAppWebhook = { object: false, statuses: [], messages: [], invalid: 0, otherNumber: 0 }
  let body: unknown
  try {
    body = JSON.parse(raw)
  } catch {
    return out
  }
  if (!isObject(body)) return out
  out.object = true
  const skip = (where: string) => {
    out.invalid++
    out.firstInvalid ??= where
  }
  // A list item by item: an item that does not parse is skipped, one parsed to undefined ignored.
  const readList = <T>(
    where: string,
    items: unknown[] | string,
    parse: (raw: unknown) => T | undefined | string,
  ) => {
    const parsed: T[] = []
    if (typeof items === 'string') skip(`${where} — ${items}`)
    else {
      for (const [i, raw] of items.entries()) {
        const item = parse(raw)
        if (typeof item === 'string') skip(`${where}.${i}${item}`)
        else if (item !== undefined) parsed.push(item)
      }
    }
    return parsed
  }
  const entries = arrayAt(body.entry)
  if (typeof entries === 'string') {
    skip(`entry — ${entries}`)
    return out
  }
  for (const [e, entry] of entries.entries()) {
    if (!isObject(entry)) {
      skip(`entry.${e} — Expected an object`)
      continue
    }
    const changes = arrayAt(entry.changes)
    if (typeof changes === 'string') {
      skip(`entry.${e}.changes — ${changes}`)
      continue
    }
    for (const [c, change] of changes.entries()) {
      const at = `entry.${e}.changes.${c}`
      if (!isObject(change)) {
        skip(`${at} — Expected an object`)
        continue
      }
      if (change.value === undefined) continue
      if (!isObject(change.value)) {
        skip(`${at}.value — Expected an object`)
        continue
      }
      const statuses = arrayAt(change.value.statuses)
      const messages = arrayAt(change.value.messages)
      if (phoneNumberId !== undefined && (statuses.length > 0 || messages.length > 0)) {
        const metadata = change.value.metadata
        const id = isObject(metadata) ? metadata.phone_number_id : undefined
        if (typeof id !== 'string') {
          skip(`${at}.value.metadata.phone_number_id — Expected the receiving number's id`)
          continue
        }
        if (id !== phoneNumberId) {
          out.otherNumber +=
            (Array.isArray(statuses) ? statuses.length : 0) + (Array.isArray(messages) ? messages.length : 0)
          continue
        }
      }
      out.statuses.push(...readList(`${at}.value.statuses`, statuses, toStatus))
      for (const message of readList(`${at}.value.messages`, messages, toMessage)) {
        if (message === WITHOUT_NUMBER) out.withoutNumber = (out.withoutNumber ?? 0) + 1
        else out.messages.push(message)
      }
    }
  }
  return out
}
