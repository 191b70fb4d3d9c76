import { AppError, invalidJson, payloadTooLarge } from '../../core/errors.ts'
import { sha256Hex } from '../../core/hash.ts'
import { MAX_JSON_DEPTH, parseJsonBody, tooDeep } from '../../http/json-body.ts'
import { fingerprint as labelSetFingerprint } from '../../prometheus/rules/alerting-rule.ts'
import { fieldError } from '../../shared/models.ts'
import type { AlertInput } from './dispatcher.ts'

/** What one Alertmanager webhook notification (version 4) hands over, once read. */
export interface AlertmanagerNotification {
  /** The alerts that passed validation, in payload order. */
  alerts: AlertInput[]
  /** Alerts in the payload that were skipped because they are malformed. */
  invalid: number
  /**
   * Alerts Alertmanager left out because of the receiver's `max_alerts`
   * (notify/webhook/webhook.go `TruncatedAlerts`); 0 when absent.
   */
  truncatedAlerts: number
  /** Alertmanager's aggregation group as sent (see {@link groupIdentity}); absent when absent or null. */
  groupKey?: string
  /** The first skipped alert's problem, `alerts.3.startsAt — Expected …`; absent when none was skipped. */
  firstInvalid?: string
}

const FINGERPRINT = /^[0-9a-f]{1,16}$/
/**
 * What `time.Parse(time.RFC3339, …)` takes (time/format.go `Parse`, the fallback of
 * time_rfc3339.go `parseStrictRFC3339`, whose stricter checks Go keeps disabled "for now",
 * go.dev/issue/54580): a one-digit hour, a fraction after `.` or `,`, and a zone offset of
 * `+24:00` or `+23:60` (range-tested with `>`), besides what RFC 3339 allows. `t` and `z` must be
 * upper case; a leap second `:60` is refused.
 */
const GO_RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:Z|([+-])(\d{2}):(\d{2}))$/

/** Days in `month` (1–12) of the proleptic Gregorian `year`. */
const daysIn = (year: number, month: number) =>
  month === 2
    ? year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
      ? 29
      : 28
    : [4, 6, 9, 11].includes(month)
      ? 30
      : 31

/** An instant as Go's time.Time holds it, to the nanosecond: epoch milliseconds and the rest. */
interface GoTime {
  /** Milliseconds since 1970-01-01T00:00:00Z, the fraction cut (not rounded) to milliseconds. */
  ms: number
  /** Nanoseconds below the millisecond (0–999 999). */
  subMs: number
}

/** Go's zero time.Time, 0001-01-01T00:00:00Z, in epoch milliseconds. */
const GO_ZERO_MS = new Date(0).setUTCFullYear(1, 0, 1)

/**
 * A time as Go's time.Time UnmarshalJSON reads the text between the quotes, or undefined where
 * it returns an error: as Prometheus' Go code sees `startsAt`, mirroring time/format.go `Parse`
 * with layout RFC3339 (see {@link GO_RFC3339}). Fields out of range are refused as Go refuses
 * them ("day out of range"…; `new Date` rolled 2026-02-30 over to March 2); digits of the
 * fraction past the ninth are dropped (`parseNanoseconds`); `+24:00` is 24 hours before UTC.
 * Year 0000 is a time here, as in Go (see {@link storableTime}).
 */
function parseGoTime(text: string): GoTime | undefined {
  const m = GO_RFC3339.exec(text)
  if (m === null) return undefined
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  const offsetHour = Number(m[9] ?? 0)
  const offsetMinute = Number(m[10] ?? 0)
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined
  if (hour > 23 || minute > 59 || second > 59 || offsetHour > 24 || offsetMinute > 60) return undefined
  const nanos = (m[7] ?? '').slice(0, 9).padEnd(9, '0')
  // setUTCFullYear, not Date.UTC, which reads years 0–99 as 1900–1999.
  const utc = new Date(0)
  utc.setUTCFullYear(year, month - 1, day)
  utc.setUTCHours(hour, minute, second, Number(nanos.slice(0, 3)))
  const offset = (offsetHour * 60 + offsetMinute) * 60_000 * (m[8] === '-' ? -1 : 1)
  return { ms: utc.getTime() - offset, subMs: Number(nanos.slice(3)) }
}

/**
 * The time PostgreSQL can store of a Go time, or undefined: year 0000 (which Go takes) is out of
 * PostgreSQL's range (there is no year 0), and one such alert failed its whole notification
 * with a 500. The year that counts is the UTC one the time is stored as: the offset can move a
 * written year 1 or 9999 out of range (`0001-01-01T00:30:00+01:00` is year 0 in UTC,
 * `9999-12-31T23:30:00-01:00` year 10000), which PostgreSQL refused with a 500 too.
 */
function storableTime(time: GoTime): Date | undefined {
  const date = new Date(time.ms)
  const year = date.getUTCFullYear()
  return year < 1 || year > 9999 ? undefined : date
}

// What PostgreSQL can store of a label or annotation (kept in jsonb): no U+0000, and no
// unpaired UTF-16 surrogate, which JSON.parse lets through from a `\udc00` escape.
const storable = (text: string) => !text.includes('\u0000') && text.isWellFormed()

/** Why a decoded label or annotation set cannot be stored, or undefined when it can. */
function stringRecordProblem(value: Map<string, string>): string | undefined {
  for (const [key, text] of value) {
    if (!storable(key) || !storable(text)) return 'Expected text without U+0000 or unpaired surrogates'
  }
  return undefined
}

const TIME_PROBLEM = 'Expected an RFC 3339 time from year 1 to 9999'
const STATUS_PROBLEM = 'Expected "firing" or "resolved"'
const RECORD_PROBLEM = 'Expected an object of strings'
const FINGERPRINT_PROBLEM = 'Expected 1 to 16 hexadecimal digits, or none (computed from the labels)'

/**
 * A JSON object key as Go's encoding/json folds it to match a struct field (fold.go
 * `foldName`): ASCII letters upper-cased, and each other rune replaced by the smallest of its
 * `unicode.SimpleFold` set, which for the only two non-ASCII runes that fold into ASCII letters
 * is that letter (U+212A KELVIN SIGN → `K`, U+017F LATIN SMALL LETTER LONG S → `S`); every other
 * rune stays non-ASCII, so it can never match one of Alertmanager's ASCII field names and is
 * left as it is.
 */
function goFoldedKey(key: string): string {
  // Whole-string toUpperCase only for ASCII: elsewhere it maps runes Go does not fold into
  // ASCII letters (U+FB06 "ﬆ" becomes "ST"), and a callback per character costs 4x more.
  if (!NON_ASCII.test(key)) return key.toUpperCase()
  return key.replace(/[a-z\u212a\u017f]/g, (c) =>
    c === '\u212a' ? 'K' : c === '\u017f' ? 'S' : c.toUpperCase(),
  )
}
// biome-ignore lint/suspicious/noControlCharactersInRegex: the range starts at U+0000 on purpose
const NON_ASCII = /[^\u0000-\u007f]/

/**
 * A field of `fields` (folded name → JSON name) a key names: its exact spelling first, as Go's
 * decode.go `object` looks it up (byExactName, then byFoldedName), which also spares the
 * folding of every key Alertmanager itself sends.
 */
function fieldOf(fields: Map<string, string>, key: string): string | undefined {
  return fields.get(key) ?? fields.get(goFoldedKey(key))
}

/** JSON field names by their own spelling and by their folded one. */
const folded = (names: string[]) =>
  new Map(names.flatMap((name) => [[name, name] as const, [goFoldedKey(name), name] as const]))

/** template.Alert's fields (template/template.go), by their JSON and folded names. */
const ALERT_FIELDS = folded(['status', 'labels', 'annotations', 'startsAt', 'endsAt', 'fingerprint'])

/** One member of an alert object: its key, its value, and its JSON text when it is known. */
type Member = readonly [key: string, value: unknown, text?: string]

/**
 * template.Alert as Go's encoding/json fills it from one element of `alerts`. Its maps are Maps
 * while they are filled: on a plain object a label named `__proto__` would set the prototype
 * and be lost.
 */
interface GoAlert {
  status?: string
  labels?: Map<string, string> | null
  annotations?: Map<string, string> | null
  startsAt?: GoTime
  endsAt?: GoTime
  fingerprint?: string
}

/** Problems Go's type checks give, as `.field — message`, by field. */
const TYPE_PROBLEMS: Record<string, string> = {
  status: STATUS_PROBLEM,
  fingerprint: FINGERPRINT_PROBLEM,
  labels: RECORD_PROBLEM,
  annotations: RECORD_PROBLEM,
}

/**
 * The members of an alert object decoded into template.Alert as Go's encoding/json does it
 * (decode.go `object`, `literalStore`), in document order, or the problem Go's Unmarshal would
 * return for them. A key names the field its exact or case-insensitive (folded) spelling
 * matches; keys of no field are ignored. A later string or time replaces an earlier one, and
 * `null` leaves it; a map given twice (`labels` and `Labels`, or `labels` twice) is decoded into
 * the same map, so the two merge, and `null` clears it; a null label value is `""` (the zero of
 * a Go string, set in the map). A value of the wrong type is Go's UnmarshalTypeError: decoding
 * goes on and the first such error is the one reported; a time Go's `Time.UnmarshalJSON` refuses
 * (not a string, or one `time.Parse` refuses, or written with a `\` escape, which it reads as
 * is: go.dev/issue/47353) ends the decoding at once with its error, whatever came before.
 */
function decodeGoAlert(members: Iterable<Member>): GoAlert | string {
  const alert: GoAlert = {}
  let typeProblem: string | undefined
  for (const [key, value, text] of members) {
    const field = fieldOf(ALERT_FIELDS, key)
    if (field === undefined) continue
    if (field === 'startsAt' || field === 'endsAt') {
      if (value === null) continue
      const time =
        typeof value === 'string' && (text === undefined || !text.includes('\\'))
          ? parseGoTime(value)
          : undefined
      if (time === undefined) return `.${field} — ${TIME_PROBLEM}`
      alert[field] = time
    } else if (field === 'labels' || field === 'annotations') {
      if (value === null) {
        alert[field] = null
      } else if (typeof value !== 'object' || Array.isArray(value)) {
        typeProblem ??= `.${field} — ${RECORD_PROBLEM}`
      } else {
        const map = alert[field] ?? new Map<string, string>()
        alert[field] = map
        for (const [name, text] of Object.entries(value as Record<string, unknown>)) {
          if (typeof text === 'string') map.set(name, text)
          else if (text === null) map.set(name, '')
          else typeProblem ??= `.${field} — ${RECORD_PROBLEM}`
        }
      }
    } else if (value !== null) {
      if (typeof value === 'string') alert[field as 'status' | 'fingerprint'] = value
      else typeProblem ??= `.${field} — ${TYPE_PROBLEMS[field]}`
    }
  }
  return typeProblem ?? alert
}

/**
 * The top-level members of an object's JSON text, each with its text, in document order and
 * with keys given twice kept twice (JSON.parse keeps only the last). `text` must be an object
 * JSON.parse has accepted.
 */
function objectMembers(text: string): Member[] {
  const members: Member[] = []
  let i = text.indexOf('{') + 1
  const skipSpace = () => {
    while (isSpace(text.charCodeAt(i))) i++
  }
  /** Index just past the string that starts at `i`. */
  const stringEnd = (from: number) => {
    let j = from + 1
    while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1
    return j + 1
  }
  for (;;) {
    skipSpace()
    if (text.charCodeAt(i) === 0x7d) return members
    const keyEnd = stringEnd(i)
    const key = JSON.parse(text.slice(i, keyEnd)) as string
    i = keyEnd
    skipSpace()
    i++ // the colon
    skipSpace()
    const start = i
    let depth = 0
    for (; ; i++) {
      const c = text.charCodeAt(i)
      if (c === 0x22) i = stringEnd(i) - 1
      else if (c === 0x7b || c === 0x5b) depth++
      else if (depth > 0 && (c === 0x7d || c === 0x5d)) depth--
      else if (depth === 0 && (c === 0x2c || c === 0x7d)) break
    }
    const value = text.slice(start, i).trimEnd()
    members.push([key, JSON.parse(value), value])
    if (text.charCodeAt(i) === 0x2c) i++
  }
}

/** Go's zero time.Time as Alertmanager marshals it: "not set". */
const ZERO_TIME: GoTime = { ms: GO_ZERO_MS, subMs: 0 }

/**
 * One element of `alerts` as Alertmanager's template.Alert marshals it, or why it is not one,
 * as `.field — message`. It is first decoded as a receiver written in Go decodes it (see
 * {@link decodeGoAlert}: `"Status"`, `"Labels"` are read; a map given twice merges; Go's first
 * type error, or its time error, is the one named); then what Go leaves to the receiver is
 * checked, in this order: the status, the labels (required), text PostgreSQL cannot store, the
 * fingerprint, times PostgreSQL cannot store. The zero `endsAt` Alertmanager sends for firing
 * alerts (`0001-01-01T00:00:00Z`, the instant, however written) means "not set". A null
 * `endsAt` or `annotations` is read as Go's encoding/json reads it into template.Alert (a no-op:
 * the zero time, no annotations), as tools posing as Alertmanager send them; it made the alert
 * invalid and lost it. An absent or null `startsAt` is Go's zero time, as a sent
 * `0001-01-01T00:00:00Z` is, the same on every re-send of the episode.
 * An absent, null or empty `fingerprint` (Alertmanager before 0.19 sends none; hand-written
 * senders often omit it) is the one Alertmanager computes from the labels as sent
 * (prometheus/common `LabelSet.Fingerprint`), so such alerts still resolve and deduplicate;
 * one given in upper case is read as the same 64-bit number (`model.ParseFingerprint`).
 * Labels with an empty value are dropped, as Prometheus treats them as absent.
 * @param raw the element as JSON.parse gives it (a key given twice is then seen once: the
 *   receiver reads elements with {@link objectMembers} when that matters)
 */
export function toAlertInput(raw: unknown): AlertInput | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return ' — Expected an object'
  return alertInputOf(decodeGoAlert(Object.entries(raw)))
}

/** {@link toAlertInput} of an alert Go has decoded. */
function alertInputOf(a: GoAlert | string): AlertInput | string {
  if (typeof a === 'string') return a
  if (a.status !== 'firing' && a.status !== 'resolved') return `.status — ${STATUS_PROBLEM}`
  if (a.labels == null) return `.labels — ${RECORD_PROBLEM}`
  const labels = stringRecordProblem(a.labels)
  if (labels !== undefined) return `.labels — ${labels}`
  const annotations = a.annotations == null ? undefined : stringRecordProblem(a.annotations)
  if (annotations !== undefined) return `.annotations — ${annotations}`
  const fingerprint = a.fingerprint
    ? a.fingerprint.toLowerCase()
    : labelSetFingerprint(Object.fromEntries(a.labels))
  if (!FINGERPRINT.test(fingerprint)) return `.fingerprint — ${FINGERPRINT_PROBLEM}`
  const startsAt = storableTime(a.startsAt ?? ZERO_TIME)
  if (startsAt === undefined) return `.startsAt — ${TIME_PROBLEM}`
  let endsAt: Date | undefined
  if (a.endsAt !== undefined && !(a.endsAt.ms === GO_ZERO_MS && a.endsAt.subMs === 0)) {
    endsAt = storableTime(a.endsAt)
    if (endsAt === undefined) return `.endsAt — ${TIME_PROBLEM}`
  }
  return {
    fingerprint: fingerprint.padStart(16, '0'),
    status: a.status,
    // Prometheus' data model: a label with an empty value is one that is not there. Kept, an
    // empty alertname and severity made the message '🔔 * ALERT*: ' instead of 'unnamed' at
    // the default severity, and ranked it below every warning.
    labels: Object.fromEntries([...a.labels].filter(([, v]) => v !== '')),
    annotations: Object.fromEntries(a.annotations ?? []),
    startsAt,
    endsAt,
  }
}

/**
 * A `\u` escape of a character a time is written with (digits, `+`, `,`, `-`, `.`, `:`, `T`,
 * `Z`): only such an escape can make a time JSON.parse reads differ from the text Go's
 * Time.UnmarshalJSON parses. The `\u003c`, `\u003e` and `\u0026` Go's json.Marshal writes for
 * `<`, `>` and `&` in annotations are not among them.
 */
const TIME_CHAR_ESCAPE = /\\u00(?:3[0-9aA]|2[b-eB-E]|5[4aA])/

/**
 * An element of `alerts` from its JSON text: parsed once, and read member by member
 * ({@link objectMembers}) only when JSON.parse's object may differ from what Go decodes: when
 * the alert's object has more members than keys (`colons` counts its members), so that a key
 * was given twice, or when its text may write a time with an escape, which Go's
 * Time.UnmarshalJSON refuses.
 */
function alertOfText(text: string, value: unknown, colons: number): AlertInput | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return ' — Expected an object'
  if (Object.keys(value).length === colons && !TIME_CHAR_ESCAPE.test(text)) return toAlertInput(value)
  return alertInputOf(decodeGoAlert(objectMembers(text)))
}

type State =
  | 'start'
  | 'first-key'
  | 'key'
  | 'colon'
  | 'value-start'
  | 'value'
  | 'element-start'
  | 'next-element'
  | 'element'
  | 'after-value'
  | 'next-key'
  | 'done'
  /** The document is not an object: captured whole, to tell JSON (422) from not JSON (400). */
  | 'not-object'

/**
 * UTF-8 bytes up to which a groupKey is kept as sent. PostgreSQL's btree entry (the index on
 * alert_states.group_key) holds at most 2 704 bytes after compression: a longer key of varied
 * text, as Alertmanager builds from `group_by: ['...']` over long label values, failed every
 * notification of its group with a 500, Alertmanager retrying it for ever.
 */
const GROUP_KEY_MAX_BYTES = 2048

/**
 * What a notification's group is known by in the database: its groupKey, `sha256:<64 hex>` of
 * one longer than 2 048 UTF-8 bytes, or undefined (no group) for one PostgreSQL cannot store.
 * Only equality is ever asked of it (which group listed an alert last), so the digest serves;
 * the keys of Alertmanager and Grafana start with `{` (the route's matchers), so none is taken
 * for another. A key with U+0000 or an unpaired surrogate failed the whole notification (a 500,
 * or a bare 422 with its alerts uncounted); Alertmanager never sends one (it %q-quotes label
 * values in the key), and without a group the alerts are still taken and none is ended for not
 * being listed.
 */
export function groupIdentity(groupKey: string | undefined): string | undefined {
  if (groupKey === undefined || !storable(groupKey)) return undefined
  return Buffer.byteLength(groupKey, 'utf8') <= GROUP_KEY_MAX_BYTES
    ? groupKey
    : `sha256:${sha256Hex(groupKey)}`
}

/**
 * The members of Alertmanager's webhook Message (notify/webhook/webhook.go) the receiver reads,
 * by their JSON and folded names (see {@link goFoldedKey}); every other member is ignored.
 */
const MESSAGE_FIELDS = folded(['alerts', 'truncatedAlerts', 'groupKey'])

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09

/**
 * A notification refused whole, with alerts in it: 422 VALIDATION naming the problem. Carries
 * how many alerts it held and the first problem, so that the receiver counts and logs the
 * alerts it refuses (Alertmanager does not retry a 4xx: they are lost, and must show).
 */
export class RefusedNotification extends AppError {
  constructor(
    /** The alerts the notification held, valid or not: none of them is taken. */
    readonly invalid: number,
    /** `field — problem`, as the log's `firstInvalid`. */
    readonly firstInvalid: string,
    message: string,
  ) {
    const [field = firstInvalid, problem = ''] = firstInvalid.split(' — ')
    super(422, 'VALIDATION', message, { in: 'body', errors: [{ field, message: problem }] })
  }
}

/** A notification of which no alert is valid: the first one's problem is named. */
export class NoValidAlert extends RefusedNotification {
  constructor(invalid: number, firstInvalid: string) {
    super(
      invalid,
      firstInvalid,
      `Invalid body: none of the ${invalid} alerts is a valid Alertmanager alert (first: ${firstInvalid})`,
    )
  }
}

/** A member other than `alerts` is wrong (a bad `truncatedAlerts` or `groupKey`): every alert is refused with it. */
function refusedForMember(problem: AppError, alerts: number): AppError {
  const [error] = (problem.details as { errors: Array<{ field: string; message: string }> }).errors
  return alerts === 0
    ? problem
    : new RefusedNotification(alerts, `${error!.field} — ${error!.message}`, problem.message)
}

/**
 * Reads an Alertmanager webhook body from its stream without ever holding the whole document:
 * the top-level object is scanned as text arrives, each element of `alerts` is parsed and
 * validated on its own as soon as it is complete, and only the resulting alerts are kept. So a
 * 10 000-alert notification costs the alerts themselves plus one chunk, not the raw text, its
 * decoded copy and a parsed tree of everything at once.
 *
 * Malformed alerts are counted in `invalid` and skipped, never a reason to refuse the others.
 *
 * @param body the request body stream (null = empty)
 * @param limit bytes; more is refused with 413 PAYLOAD_TOO_LARGE and the stream is cancelled
 * @throws AppError 413 above `limit`; 400 INVALID_JSON when the text is not JSON; 422 VALIDATION
 *   when the document is not an object with an `alerts` array (`body — Expected object` for a
 *   JSON document that is no object, as every route's object body)
 */
export async function readAlertmanagerNotification(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
): Promise<AlertmanagerNotification> {
  const scanner = new NotificationScanner()
  if (body) {
    const reader = body.getReader()
    const decoder = new TextDecoder('utf-8', { fatal: true })
    let size = 0
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        size += value.byteLength
        if (size > limit) throw payloadTooLarge(limit)
        scanner.feed(decoder.decode(value, { stream: true }))
      }
      scanner.feed(decoder.decode())
    } catch (error) {
      await reader.cancel().catch(() => {})
      if (error instanceof TypeError) throw invalidJson('Request body is not valid UTF-8')
      throw error
    }
  }
  return scanner.end()
}

/**
 * An incremental scanner of `{ "key": value, …, "alerts": [ {…}, … ], … }`. It tracks string
 * and nesting state char by char; every value it captures is handed to JSON.parse, which checks
 * its syntax, so the scanner itself only checks the punctuation between members and elements.
 */
class NotificationScanner {
  private text = ''
  /** Index in `text` where the value being captured starts; -1 when nothing is captured. */
  private mark = -1
  /** The captured value's text from earlier chunks, when it spans chunks. */
  private before: string[] = []
  /** Index of the next element of `alerts`. */
  private element = 0
  private state: State = 'start'
  private depth = 0
  private inString = false
  private escaped = false
  /** The Message field the current member fills (matched as Go matches keys), '' for none. */
  private key = ''
  /**
   * Whether the last `alerts` member was an array. A member given twice counts as JSON.parse
   * counts it: the last one wins. (Go decodes a second array into the first one's elements,
   * decode.go `array`, so their maps merge; no sender repeats `alerts`, and that is not mirrored.)
   */
  private alertsSeen = false
  /** Members of the current alert's object so far (its `:` at depth 3), to tell a key given twice. */
  private colons = 0
  /**
   * The first member of the wrong type (a bad `truncatedAlerts` or `groupKey`, an `alerts` that
   * is no array), thrown once the body has proved to be JSON: a body that is not JSON is a 400
   * wherever its fault lies, as on every route, even when a member before the fault is already
   * wrong. The first one stays, whatever follows: Go's decoder saves the first
   * UnmarshalTypeError and returns it once the document is read (decode.go `saveError`), even
   * when a later member of the same name is right (`{"groupKey": 7, "groupKey": "g"}`).
   */
  private problem: AppError | undefined
  private readonly result: AlertmanagerNotification = { alerts: [], invalid: 0, truncatedAlerts: 0 }

  feed(chunk: string) {
    if (chunk === '') return
    if (this.mark >= 0) {
      // A value spans chunks: keep its text so far as a piece, joined once when it completes.
      // (Re-joining it with every chunk made one 8 MB value cost 6 s: quadratic in its size.)
      this.before.push(this.text.slice(this.mark))
      this.mark = 0
    }
    this.text = chunk
    this.scan(0)
  }

  /** The text of the value being captured, from its mark to index `end` of the current chunk. */
  private captured(end: number): string {
    const tail = this.text.slice(this.mark, end)
    this.mark = -1
    if (this.before.length === 0) return tail
    this.before.push(tail)
    const whole = this.before.join('')
    this.before = []
    return whole
  }

  end(): AlertmanagerNotification {
    if (this.state === 'start') throw invalidJson('Request body is empty; expected a JSON document')
    if (this.state === 'not-object') {
      // `[]`, `null`, `"x"`: JSON, so the same 422 as any route's object body gets; else 400.
      parseJsonBody(this.captured(this.text.length))
      throw fieldError('body', 'Expected object')
    }
    if (this.state !== 'done') throw invalidJson('Request body ends before the JSON document does')
    if (this.problem !== undefined)
      throw refusedForMember(this.problem, this.result.alerts.length + this.result.invalid)
    if (!this.alertsSeen) throw fieldError('alerts', 'Expected an array of alerts')
    const first = this.result.firstInvalid
    if (this.result.alerts.length === 0 && first !== undefined)
      throw new NoValidAlert(this.result.invalid, first)
    return this.result
  }

  private fail(): never {
    throw invalidJson()
  }

  private scan(from: number) {
    const text = this.text
    for (let i = from; i < text.length; i++) {
      const c = text.charCodeAt(i)
      switch (this.state) {
        case 'start':
          if (isSpace(c)) continue
          if (c !== 0x7b) {
            this.mark = i
            this.state = 'not-object'
            return
          }
          this.depth = 1
          this.state = 'first-key'
          continue
        case 'not-object':
          return
        case 'first-key':
        case 'next-key':
          if (isSpace(c)) continue
          if (c === 0x7d && this.state === 'first-key') {
            this.state = 'done'
            continue
          }
          if (c !== 0x22) this.fail()
          this.mark = i
          this.inString = true
          this.state = 'key'
          continue
        case 'key':
          if (this.stringChar(c)) continue
          // The member a Go receiver would fill: `"Alerts"`, `"GROUPKEY"` are its alerts and groupKey.
          this.key = fieldOf(MESSAGE_FIELDS, this.parse(this.captured(i + 1)) as string) ?? ''
          this.state = 'colon'
          continue
        case 'colon':
          if (isSpace(c)) continue
          if (c !== 0x3a) this.fail()
          this.state = 'value-start'
          continue
        case 'value-start':
          if (isSpace(c)) continue
          if (this.key === 'alerts' && c === 0x5b) {
            this.alertsSeen = true
            this.result.alerts = []
            this.result.invalid = 0
            delete this.result.firstInvalid
            this.element = 0
            this.depth = 2
            this.state = 'element-start'
            continue
          }
          this.mark = i
          this.state = 'value'
          this.structural(c)
          continue
        case 'value':
          if (this.inString) {
            this.stringChar(c)
            continue
          }
          if (this.depth === 1 && (c === 0x2c || c === 0x7d)) {
            const text = this.captured(i)
            this.member(this.parse(text), text)
            this.state = c === 0x2c ? 'next-key' : 'done'
            continue
          }
          this.structural(c)
          continue
        case 'element-start':
        case 'next-element':
          if (isSpace(c)) continue
          if (c === 0x5d && this.state === 'element-start') {
            this.depth = 1
            this.state = 'after-value'
            continue
          }
          this.mark = i
          this.state = 'element'
          this.colons = 0
          this.structural(c)
          continue
        case 'element':
          if (this.inString) {
            this.stringChar(c)
            continue
          }
          if (this.depth === 2 && (c === 0x2c || c === 0x5d)) {
            const text = this.captured(i)
            const alert = alertOfText(text, this.parse(text), this.colons)
            if (typeof alert === 'object') this.result.alerts.push(alert)
            else {
              this.result.invalid++
              this.result.firstInvalid ??= `alerts.${this.element}${alert}`
            }
            this.element++
            if (c === 0x2c) this.state = 'next-element'
            else {
              this.depth = 1
              this.state = 'after-value'
            }
            continue
          }
          this.structural(c)
          continue
        case 'after-value':
          if (isSpace(c)) continue
          if (c === 0x2c) this.state = 'next-key'
          else if (c === 0x7d) this.state = 'done'
          else this.fail()
          continue
        case 'done':
          if (!isSpace(c)) this.fail()
          continue
      }
    }
  }

  /** Inside a string: true while it goes on, false on its closing quote. */
  private stringChar(c: number): boolean {
    if (this.escaped) this.escaped = false
    else if (c === 0x5c) this.escaped = true
    else if (c === 0x22) {
      this.inString = false
      return false
    }
    return true
  }

  /** Outside strings: nesting and the start of strings. */
  private structural(c: number) {
    if (c === 0x22) this.inString = true
    else if (c === 0x3a) {
      if (this.depth === 3) this.colons++
    } else if (c === 0x7b || c === 0x5b) {
      // As every JSON body: past the bound the parse and the checks of a captured value recurse too deep.
      if (++this.depth > MAX_JSON_DEPTH) throw tooDeep()
    } else if (c === 0x7d || c === 0x5d) {
      this.depth--
      if (this.depth < 1) this.fail()
    }
  }

  private parse(text: string): unknown {
    try {
      return JSON.parse(text)
    } catch {
      this.fail()
    }
  }

  /**
   * A top-level member other than `alerts`: only the few the receiver uses are kept, typed as
   * Alertmanager's Message (notify/webhook/webhook.go: `GroupKey string`, `TruncatedAlerts
   * uint64`) and read as Go's encoding/json reads them into it: a uint64 takes only the
   * literal digits strconv.ParseUint(item, 10, 64) takes (no `3.0`, `3e0`, `-1`, `"3"`), a
   * string only a string, and `null` leaves either as it was (decode.go literalStore). A value of
   * another type is Go's UnmarshalTypeError: the notification is refused with it, rather than
   * read as something it did not say (a group with no key, "3 more" from `3.5`).
   * @param text the member's JSON text, as sent
   */
  private member(value: unknown, text: string) {
    if (this.key === 'alerts') {
      // null is Go's nil slice; anything else that is no array, its UnmarshalTypeError.
      this.alertsSeen = false
      if (value !== null) this.problem ??= fieldError('alerts', 'Expected an array of alerts')
    } else if (this.key === 'truncatedAlerts') {
      if (value === null) return
      // Alertmanager's count is a uint64; past 2^53 − 1 ours would no longer be exact, and a
      // message saying "+1e+300 more" tells the on-call person nothing.
      if (!/^(?:0|[1-9][0-9]*)$/.test(text.trim()) || !Number.isSafeInteger(value)) {
        this.problem ??= fieldError(
          'truncatedAlerts',
          'Expected a non-negative integer up to 9007199254740991',
        )
      } else {
        this.result.truncatedAlerts = value as number
      }
    } else if (this.key === 'groupKey') {
      if (value === null) return
      if (typeof value === 'string') this.result.groupKey = value
      else this.problem ??= fieldError('groupKey', 'Expected a string')
    }
  }
}
