import { and, asc, count, eq, gt, inArray, lt, lte, notInArray, or, sql } from 'drizzle-orm'
import type { Clock } from '../../core/clock.ts'
import type { Logger } from '../../core/logger.ts'
import { scrubText } from '../../core/scrub.ts'
import type { Database, Executor } from '../../db/client.ts'
import { alertOutbox, whatsappContacts } from '../../db/schema.ts'
import type { AlertingMetrics } from '../metrics.ts'
import {
  loggableMessageId,
  maskPhone,
  type WhatsAppSendError,
  type WhatsAppTransport,
} from '../whatsapp/client.ts'
import { rememberUnanswered } from './attempts.ts'
import { stillFiring } from './dispatcher.ts'
import { type MessageContent, type NotifiedAlert, renderMessage, type TemplateNames } from './render.ts'

type OutboxRow = typeof alertOutbox.$inferSelect

export interface SenderConfig {
  templates: TemplateNames
  retryBaseMs: number
  maxAttempts: number
  leaseMs: number
  /** The sending number's Cloud API throughput: at most this many sends in any second. */
  messagesPerSecond: number
  /** Messages one tick may send (the throughput over one notify interval); the rest wait. */
  messagesPerTick: number
}

const MAX_BACKOFF_MS = 5 * 60_000
/** Tries at recording an accepted message as sent, RECORD_RETRY_MS·n apart: well within a lease. */
const RECORD_ATTEMPTS = 3
const RECORD_RETRY_MS = 200
const WINDOW_MS = 24 * 3_600_000
const CLAIM_LIMIT = 200
/**
 * Rows a tick may add to the messages it already claimed, beyond CLAIM_LIMIT. Alertmanager
 * posts one notification per aggregation group (dispatch/dispatch.go), and with
 * `group_by: ['...']` every alert is its own group: a 2 000-alert storm is 2 000 rows per
 * recipient, which CLAIM_LIMIT alone spread over 20 ticks, so 20 messages each, the first
 * saying "100 alerts firing" while 2 000 fired. Bounded all the same, as one message's rows.
 */
const TOP_UP_LIMIT = 10_000
/**
 * Meta's (business, consumer) pair rate limit is about one message every 6 s per recipient,
 * with short bursts allowed: a recipient who got PAIR_BUDGET messages within PAIR_WINDOW_MS
 * waits, rows queued, until the window has room again.
 */
export const PAIR_WINDOW_MS = 60_000
export const PAIR_BUDGET = 10
/**
 * Pauses after error 131056 (pair rate limit hit), growing like Meta's 4^X s advice from the 6 s
 * pair interval. Not an attempt: the message waits, it does not fail.
 */
export const PAIR_PAUSES_MS = [6_000, 16_000, 64_000, 256_000]
/**
 * The longest pause after a throttling error, a `Retry-After` included (ms): Meta's throttles
 * can last hours (131048 up to 24 h), and a critical alert asks again at least this often
 * rather than sleep through the limit lifting; a refused call costs nothing but the call.
 */
export const THROTTLE_MAX_PAUSE_MS = 15 * 60_000
/**
 * How long after its first throttling error a message keeps pausing on them without spending
 * attempts (ms): 24 h, the longest Meta's 131048 lasts. Past it a throttling error is an
 * ordinary retry, so that WHATSAPP_MAX_ATTEMPTS ends a message nothing will ever take (an
 * alert still firing by then has been queued again by its repeat).
 */
export const THROTTLE_MAX_WAIT_MS = 24 * 3_600_000
/**
 * How long a message is held after an authorization error (190 token expired, 0, 3, 10,
 * 200–299), in ms: not an attempt, since the message is fine and only the token is not; it is
 * held pending, asking again this seldom, until an operator replaces the token (a restart with
 * the new one). Alerts that resolve meanwhile are cancelled by the claim, never announced.
 */
export const TOKEN_HOLD_MS = 60_000
const SEVERITY_RANK = sql`case ${alertOutbox.severity} when 'critical' then 0 when 'error' then 1 when 'warning' then 2 else 3 end`

/**
 * Most severe first, then oldest; rows enqueued in one transaction (one alert for several
 * recipients) share `createdAt`, and without a tiebreak they went out in the heap's order,
 * which updates reshuffle: by recipient, then id, the order is the same on every replica.
 */
const CLAIM_ORDER = [
  SEVERITY_RANK,
  asc(alertOutbox.createdAt),
  asc(alertOutbox.recipient),
  asc(alertOutbox.id),
]

/** Exponential backoff with jitter: base·2^(attempt-1), capped at 5 minutes, then 50–100 % of it. */
export function backoffMs(attempt: number, baseMs: number, random: () => number): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.max(0, attempt - 1))
  return Math.round(ceiling * (0.5 + random() * 0.5))
}

/**
 * The pause after the (hits+1)-th throttling error other than 131056 (4, 80007, 130429, 131048,
 * HTTP 429), in ms: base·2^hits, capped at THROTTLE_MAX_PAUSE_MS, then 50–100 % of it.
 */
export function throttlePauseMs(hits: number, baseMs: number, random: () => number): number {
  const ceiling = Math.min(THROTTLE_MAX_PAUSE_MS, baseMs * 2 ** Math.max(0, hits))
  return Math.round(ceiling * (0.5 + random() * 0.5))
}

interface Group {
  id: string
  recipient: string
  rows: OutboxRow[]
  windowOpen: boolean
  /** The transition a template would carry; undefined for free text (which can mix). */
  transition: string | undefined
  content: MessageContent
}

const alertsOf = (row: OutboxRow) => (row.content.alerts ?? []) as NotifiedAlert[]

export function createSender(deps: {
  db: Database
  transport: WhatsAppTransport
  config: SenderConfig
  clock: Clock
  log: Logger
  metrics: AlertingMetrics
  random?: () => number
  newId?: () => string
  /** Waits that long (throughput pacing within a tick); real time by default. */
  sleep?: (ms: number) => Promise<void>
}) {
  const { db, transport, config, clock, log, metrics } = deps
  const random = deps.random ?? Math.random
  const newId = deps.newId ?? (() => crypto.randomUUID())
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)))

  /**
   * Claims what is due (or whose sending lease expired: its sender died), critical first, and
   * groups it per recipient: one message each, at most `messagesPerTick` messages in all.
   * Recipients at their pair-rate budget are left for a later tick. Rows are marked `sending`
   * in a committed transaction before any HTTP call, with SKIP LOCKED so that several replicas
   * never claim the same row.
   */
  async function claim(): Promise<Group[]> {
    const now = clock.now()
    return db.transaction(async (tx) => {
      const due = or(
        and(eq(alertOutbox.status, 'pending'), lte(alertOutbox.nextAttemptAt, now)),
        and(eq(alertOutbox.status, 'sending'), lt(alertOutbox.leaseUntil, now)),
      )
      const rows = await tx
        .select()
        .from(alertOutbox)
        .where(due)
        .orderBy(...CLAIM_ORDER)
        .limit(CLAIM_LIMIT)
        .for('update', { skipLocked: true })
      if (rows.length === 0) return []
      const recipients = [...new Set(rows.map((r) => r.recipient))]
      const contacts = await tx
        .select()
        .from(whatsappContacts)
        .where(
          and(
            inArray(whatsappContacts.phone, recipients),
            gt(whatsappContacts.lastInboundAt, new Date(now.getTime() - WINDOW_MS)),
          ),
        )
      const open = new Set(contacts.map((c) => c.phone))
      const busy = new Set(
        (
          await tx
            .select({ recipient: alertOutbox.recipient })
            .from(alertOutbox)
            .where(
              and(
                inArray(alertOutbox.recipient, recipients),
                gt(alertOutbox.sentAt, new Date(now.getTime() - PAIR_WINDOW_MS)),
              ),
            )
            .groupBy(alertOutbox.recipient)
            .having(sql`count(distinct ${alertOutbox.groupId}) >= ${PAIR_BUDGET}`)
        ).map((r) => r.recipient),
      )
      const templatedOf = (row: OutboxRow) =>
        !windowOpenOf(row) &&
        (row.transition === 'firing' ? config.templates.firing : config.templates.resolved)
      const windowOpenOf = (row: OutboxRow) =>
        (open.has(row.recipient) || row.transition === 'reply') && !row.content.forceTemplate
      // A template carries one transition; free text can mix firing and resolved blocks.
      const groupKey = (row: OutboxRow) => `${row.recipient}|${templatedOf(row) ? row.transition : 'text'}`
      const groups = new Map<string, Group>()
      for (const row of rows) {
        if (busy.has(row.recipient)) continue
        const windowOpen = windowOpenOf(row)
        const templated = templatedOf(row)
        const key = groupKey(row)
        let group = groups.get(key)
        if (!group) {
          if (groups.size >= config.messagesPerTick) continue
          group = {
            id: newId(),
            recipient: row.recipient,
            rows: [],
            windowOpen,
            transition: templated ? row.transition : undefined,
            content: { replies: [], alerts: [], truncatedAlerts: 0 },
          }
          groups.set(key, group)
        }
        group.rows.push(row)
      }
      // The rest of what is due for the messages claimed joins them: the bound is on messages
      // (one per recipient and tick), not on the rows that make them up, or a storm posted as
      // many small notifications reaches a phone as one message per 200 rows.
      if (groups.size > 0) {
        const more = await tx
          .select()
          .from(alertOutbox)
          .where(
            and(
              due,
              inArray(alertOutbox.recipient, [...new Set([...groups.values()].map((g) => g.recipient))]),
              notInArray(
                alertOutbox.id,
                rows.map((r) => r.id),
              ),
            ),
          )
          .orderBy(...CLAIM_ORDER)
          .limit(TOP_UP_LIMIT)
          .for('update', { skipLocked: true })
        for (const row of more) groups.get(groupKey(row))?.rows.push(row)
      }
      // Alerts that resolved while their row waited are not announced as firing.
      const firing = await stillFiring(
        tx,
        [...groups.values()].flatMap((g) =>
          g.rows.filter((r) => r.transition === 'firing').flatMap(alertsOf),
        ),
      )
      const cancelled: string[] = []
      for (const [key, group] of groups) {
        const live: OutboxRow[] = []
        // Per Alertmanager group (its groupKey): its size in its latest notification less the
        // alerts of it this message shows. A group flushed again as it fills (dispatch/dispatch.go,
        // every group_interval) re-counts the same hidden alerts in each notification, and
        // summing them said "680 alerts firing … +1561 more" of 2 000.
        const truncation = new Map<
          string,
          { at: number; count: number; total: number | undefined; shown: Set<string> }
        >()
        for (const row of group.rows) {
          if (row.transition === 'reply') {
            group.content.replies.push(String(row.content.text ?? ''))
          } else {
            const members = alertsOf(row).filter(
              (a) => row.transition !== 'firing' || firing.has(a.fingerprint),
            )
            if (members.length === 0) {
              cancelled.push(row.id)
              continue
            }
            const transition = row.transition as 'firing' | 'resolved'
            for (const alert of members) group.content.alerts.push({ ...alert, transition })
            const count = Number(row.content.truncatedAlerts ?? 0)
            // Every row of a group counts what it shows, truncated or not.
            if (count > 0 || typeof row.content.groupKey === 'string') {
              const source = typeof row.content.groupKey === 'string' ? row.content.groupKey : row.id
              const total = typeof row.content.groupAlerts === 'number' ? row.content.groupAlerts : undefined
              const at = row.createdAt.getTime()
              let seen = truncation.get(source)
              if (!seen) {
                seen = { at, count, total, shown: new Set() }
                truncation.set(source, seen)
              } else if (seen.at <= at) Object.assign(seen, { at, count, total })
              for (const alert of members) seen.shown.add(alert.fingerprint)
            }
          }
          live.push(row)
        }
        // Hidden is what the latest notification cut (max_alerts) less what this message shows
        // of it. Bounded by that cut: the group's listed alerts that are not in this message
        // (told earlier, or of the other transition) were shown by Alertmanager, not hidden.
        for (const { count, total, shown } of truncation.values())
          group.content.truncatedAlerts +=
            total === undefined ? count : Math.min(count, Math.max(0, total - shown.size))
        group.rows = live
        if (live.length === 0) groups.delete(key)
      }
      for (const part of [cancelled].filter((ids) => ids.length > 0)) {
        await tx
          .update(alertOutbox)
          .set({ status: 'cancelled', leaseUntil: null, updatedAt: now })
          .where(inArray(alertOutbox.id, part))
      }
      // The attempt a row held may have reached WhatsApp (a timed-out call, a lost lease): its
      // group id is kept before the claim overwrites it, so that its late statuses still count.
      await rememberUnanswered(
        tx,
        [...groups.values()].flatMap((g) => g.rows.map((r) => r.id)),
        now,
      )
      for (const group of groups.values()) {
        await tx
          .update(alertOutbox)
          .set({
            status: 'sending',
            groupId: group.id,
            leaseUntil: new Date(now.getTime() + config.leaseMs),
            attempts: sql`${alertOutbox.attempts} + 1`,
            updatedAt: now,
          })
          .where(
            inArray(
              alertOutbox.id,
              group.rows.map((r) => r.id),
            ),
          )
      }
      return [...groups.values()]
    })
  }

  /** Updates only rows still held by this group, so a sender whose lease expired cannot clobber a retry. */
  const ours = (group: Group) => and(eq(alertOutbox.groupId, group.id), eq(alertOutbox.status, 'sending'))

  /**
   * Puts the rows a claimed group still holds back to pending, due `afterMs` from now, their
   * attempt given back: nothing was sent for them. Used when the sender stops before their
   * turn (due at once, so the next process sends them without waiting out the lease), when the
   * token was refused (held for TOKEN_HOLD_MS, with the error recorded) and when another
   * sender took part of the group (the rest waits for a later tick).
   */
  async function giveBack(
    group: Group,
    options: { afterMs?: number; error?: Partial<OutboxRow>; executor?: Executor } = {},
  ) {
    const now = clock.now()
    await (options.executor ?? db)
      .update(alertOutbox)
      .set({
        ...options.error,
        status: 'pending',
        leaseUntil: null,
        nextAttemptAt: new Date(now.getTime() + (options.afterMs ?? 0)),
        attempts: sql`greatest(${alertOutbox.attempts} - 1, 0)`,
        updatedAt: now,
      })
      .where(ours(group))
  }

  /** `held`: the token was refused (the message waits for a new one). */
  async function sendGroup(group: Group): Promise<'sent' | 'failed' | 'retry' | 'held'> {
    const message = renderMessage(group.content, group.transition, config.templates, group.windowOpen)
    const rendered =
      message.kind === 'text'
        ? message.body
        : JSON.stringify({ template: message.name, parameters: message.parameters })
    const attempts = Math.max(...group.rows.map((r) => r.attempts + 1))
    const started = clock.monotonic()
    const alerts = group.content.alerts
    const names = new Map<string, number>()
    for (const a of alerts) names.set(a.alertname, (names.get(a.alertname) ?? 0) + 1)
    if (group.content.replies.length) names.set('reply', group.content.replies.length)
    const summary = {
      recipientMasked: maskPhone(group.recipient),
      // Label values come from whoever wrote the rule or sent the notification: a phone number
      // in an alert name or severity is the message's business, not the log's.
      alerts: [...names].map(([name, n]) => scrubText(n > 1 ? `${name} ×${n}` : name)).slice(0, 20),
      alertCount: alerts.length,
      severity: [
        ...new Set(
          alerts.map((a) => scrubText(a.severity)).concat(group.content.replies.length ? ['info'] : []),
        ),
      ],
      // A storm's message covers thousands of alerts: the log line names the first few.
      fingerprints: alerts.slice(0, 20).map((a) => a.fingerprint),
      transition: [...new Set(group.rows.map((r) => r.transition))],
      mode: message.kind,
      attempt: attempts,
    }
    let waMessageId: string
    try {
      waMessageId = await transport.send(group.recipient, message, {
        requestId: `alert-${group.id}`,
        callbackData: group.id,
      })
    } catch (raw) {
      metrics.sendDuration((clock.monotonic() - started) / 1000)
      const error = raw as WhatsAppSendError
      const failure = error.failure ?? 'retry'
      const code = error.code ?? 'internal'
      const now = clock.now()
      const base = {
        mode: message.kind,
        rendered,
        leaseUntil: null,
        lastErrorCode: code,
        // Kept for operators, who may see the row but not the number: an API error that quotes
        // the recipient (or a credential) is stored without it, as the log line is.
        lastErrorMessage: scrubText(String(error.message)).slice(0, 500),
        updatedAt: now,
      }
      // When the message was first throttled (ms, our clock): the bound counts from there.
      const throttledSince = Math.min(
        ...group.rows.map((r) => Number(r.content.throttledSince ?? now.getTime())),
      )
      if (failure === 'throttled' && now.getTime() - throttledSince < THROTTLE_MAX_WAIT_MS) {
        // A rate limit: wait, then send the same message again; neither an attempt nor a
        // failure, however long the limit lasts. 131056 (pair rate limit: too many messages to
        // this number just now) has its own schedule; a longer Retry-After is the API's word.
        const pair = code === '131056'
        const counter = pair ? 'pairLimited' : 'throttled'
        const hits = Math.max(...group.rows.map((r) => Number(r.content[counter] ?? 0)))
        const scheduled = pair
          ? PAIR_PAUSES_MS[Math.min(hits, PAIR_PAUSES_MS.length - 1)]!
          : throttlePauseMs(hits, config.retryBaseMs, random)
        const pause = Math.min(THROTTLE_MAX_PAUSE_MS, Math.max(scheduled, error.retryAfterMs ?? 0))
        await db
          .update(alertOutbox)
          .set({
            ...base,
            status: 'pending',
            nextAttemptAt: new Date(now.getTime() + pause),
            attempts: sql`greatest(${alertOutbox.attempts} - 1, 0)`,
            content: sql`${alertOutbox.content} || ${JSON.stringify({ [counter]: hits + 1, throttledSince })}::jsonb`,
          })
          .where(ours(group))
        metrics.messageSent('retry')
        log.warn(
          { ...summary, code, retryInMs: pause },
          pair
            ? 'WhatsApp pair rate limit hit; pausing this recipient'
            : 'WhatsApp rate limit hit; pausing this message (not an attempt)',
        )
        return 'retry'
      }
      if (failure === 'unauthorized') {
        await giveBack(group, { afterMs: TOKEN_HOLD_MS, error: base })
        metrics.messageSent('retry')
        metrics.tokenValid(false)
        log.error(
          { ...summary, code, retryInMs: TOKEN_HOLD_MS },
          'WhatsApp access token expired or invalid: alerts are held until it is replaced',
        )
        return 'held'
      }
      if (failure === 'window-closed' && message.kind === 'text' && canTemplate(group)) {
        // Outside the 24-hour window free text is refused: retry once as the approved template.
        await db
          .update(alertOutbox)
          .set({
            ...base,
            status: 'pending',
            nextAttemptAt: now,
            content: sql`${alertOutbox.content} || '{"forceTemplate": true}'::jsonb`,
          })
          .where(ours(group))
        metrics.messageSent('retry')
        log.warn({ ...summary, code }, 'WhatsApp window closed; retrying as a template')
        return 'retry'
      }
      if ((failure === 'retry' || failure === 'throttled') && attempts < config.maxAttempts) {
        // A Retry-After longer than our backoff is the API's own word on when it will take the
        // message: retrying sooner only spends an attempt on another 429. Capped as the backoff.
        const delay = Math.min(
          MAX_BACKOFF_MS,
          Math.max(backoffMs(attempts, config.retryBaseMs, random), error.retryAfterMs ?? 0),
        )
        await db
          .update(alertOutbox)
          .set({ ...base, status: 'pending', nextAttemptAt: new Date(now.getTime() + delay) })
          .where(ours(group))
        metrics.messageSent('retry')
        log.warn(
          { ...summary, code, retryInMs: delay, error: scrubText(error.message) },
          'WhatsApp send failed; will retry',
        )
        return 'retry'
      }
      await db
        .update(alertOutbox)
        .set({ ...base, status: 'failed' })
        .where(ours(group))
      metrics.messageSent('failed')
      log.error(
        { ...summary, code, error: scrubText(error.message) },
        'WhatsApp alert delivery failed permanently',
      )
      return 'failed'
    }
    metrics.sendDuration((clock.monotonic() - started) / 1000)
    // Outside the try: WhatsApp took the message, so a failure from here on is ours, and must
    // never be handled as a failed send (retried, i.e. sent a second time).
    await recordSent(group, waMessageId, message.kind, rendered, summary.recipientMasked)
    metrics.messageSent('sent')
    if (transport.kind === 'cloud-api') metrics.tokenValid(true)
    // The audit line of the original design, with the number masked to its last 4 digits.
    log.info(
      { ...summary, waMessageId: loggableMessageId(waMessageId) },
      `Alert sent to ${summary.recipientMasked}: ${summary.alerts.join(', ')} (${summary.severity.join(', ')})`,
    )
    return 'sent'
  }

  /**
   * Records a message WhatsApp accepted as `sent`, trying again on a database error (a dropped
   * connection, a failover): until it is recorded, the row's lease expiring means a second send.
   * When it still cannot be recorded, the row stays `sending`: the `sent` status webhook (our
   * group id as callback data) can still record it; failing that, it is re-sent after the lease,
   * the at-least-once window.
   */
  async function recordSent(
    group: Group,
    waMessageId: string,
    mode: 'text' | 'template',
    rendered: string,
    recipientMasked: string,
  ) {
    for (let attempt = 1; ; attempt++) {
      const now = clock.now()
      try {
        await db
          .update(alertOutbox)
          .set({
            status: 'sent',
            waMessageId,
            sentAt: now,
            mode,
            rendered,
            leaseUntil: null,
            lastErrorCode: null,
            lastErrorMessage: null,
            updatedAt: now,
          })
          .where(ours(group))
        return
      } catch (error) {
        if (attempt >= RECORD_ATTEMPTS) {
          log.error(
            { err: error, recipientMasked, waMessageId: loggableMessageId(waMessageId) },
            'WhatsApp accepted an alert but it could not be recorded as sent; it may be sent again after its lease',
          )
          return
        }
        await sleep(RECORD_RETRY_MS * attempt)
      }
    }
  }

  /**
   * Renews the group's sending lease just before its call, so that the lease covers the call
   * itself rather than running from the claim: a tick sends its groups one after another, and
   * a tick slower than ALERT_SEND_LEASE (slow or timing-out calls, pacing) would let another
   * replica take over a group still to be sent here, or being sent, and both would send it.
   * True when every row is still this group's; a group of which another sender took rows is
   * not sent here, and the rows it still holds go back to pending (not an attempt) for a
   * later tick to send with what they belong with.
   */
  async function renewLease(group: Group): Promise<boolean> {
    const now = clock.now()
    return db.transaction(async (tx) => {
      const renewed = await tx
        .update(alertOutbox)
        .set({ leaseUntil: new Date(now.getTime() + config.leaseMs) })
        .where(ours(group))
        .returning({ id: alertOutbox.id })
      if (renewed.length === group.rows.length) return true
      if (renewed.length > 0) await giveBack(group, { executor: tx })
      log.warn(
        { recipientMasked: maskPhone(group.recipient), rows: group.rows.length, held: renewed.length },
        'another sender took over a message whose lease expired before its turn; not sending it here',
      )
      return false
    })
  }

  function canTemplate(group: Group) {
    return group.rows.every((r) =>
      r.transition === 'firing'
        ? config.templates.firing
        : r.transition === 'resolved'
          ? config.templates.resolved
          : undefined,
    )
  }

  return {
    /**
     * One dispatcher tick: everything due for one recipient goes out as one message (one per
     * template transition), never more than `messagesPerSecond` sends in a second. Once
     * `stopping()` says so, the groups not yet sent are given back instead: each call may take
     * WHATSAPP_TIMEOUT_MS, and a shutdown waiting for a whole pass of them outlasted any
     * supervisor's grace period (then SIGKILL, and the last log lines lost).
     */
    async sendDue(
      stopping: () => boolean = () => false,
    ): Promise<Record<'sent' | 'failed' | 'retry', number>> {
      const outcome = { sent: 0, failed: 0, retry: 0 }
      let windowStart = clock.monotonic()
      let inWindow = 0
      // Once the token is refused, the pass's other groups would be refused too: they are held
      // without a call, rather than each asking Meta to refuse it again.
      let tokenRefused = 0
      for (const group of await claim()) {
        // Each group on its own: a database error in one (its lease renewal, its failure-path
        // update) must not leave the pass's other groups `sending` until their leases expire.
        // The failed group's rows keep their lease and are taken again after it, as after a crash.
        try {
          if (stopping()) {
            await giveBack(group)
            outcome.retry++
            continue
          }
          if (tokenRefused > 0) {
            await giveBack(group, { afterMs: TOKEN_HOLD_MS })
            metrics.messageSent('retry')
            tokenRefused++
            outcome.retry++
            continue
          }
          if (inWindow >= config.messagesPerSecond) {
            const elapsed = clock.monotonic() - windowStart
            if (elapsed < 1000) await sleep(1000 - elapsed)
            windowStart = clock.monotonic()
            inWindow = 0
          }
          if (!(await renewLease(group))) continue
          inWindow++
          const result = await sendGroup(group)
          if (result === 'held') tokenRefused = 1
          outcome[result === 'held' ? 'retry' : result]++
        } catch (error) {
          outcome.retry++
          log.error(
            { err: error, recipientMasked: maskPhone(group.recipient), rows: group.rows.length },
            'sending an alert message failed on our side; it is retried after its lease, the others go on',
          )
        }
      }
      if (tokenRefused > 1)
        log.warn(
          { held: tokenRefused - 1, retryInMs: TOKEN_HOLD_MS },
          'WhatsApp access token refused: the other messages of this pass are held without a call',
        )
      const [pending] = await db
        .select({ n: count() })
        .from(alertOutbox)
        .where(inArray(alertOutbox.status, ['pending', 'sending']))
      metrics.pending(pending?.n ?? 0)
      return outcome
    },
  }
}

export type Sender = ReturnType<typeof createSender>
