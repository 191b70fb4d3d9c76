import { type AnyColumn, and, eq, inArray, isNotNull, isNull, lt, lte, or, type SQL, sql } from 'drizzle-orm'
import type { Clock } from '../../core/clock.ts'
import type { Logger } from '../../core/logger.ts'
import { scrubText } from '../../core/scrub.ts'
import type { Database, Executor } from '../../db/client.ts'
import { alertOutbox, alertOutboxAttempts, alertStates, whatsappContacts } from '../../db/schema.ts'
import { parsePostgresTimestamp } from '../../db/timestamp.ts'
import { parseDuration } from '../../prometheus/duration.ts'
import { UUID_PATTERN } from '../../shared/models.ts'
import type { AlertingMetrics } from '../metrics.ts'
import type { AlertExample } from '../rules/example.ts'
import { cutText, maskPhone, whatsAppIdNumbers } from '../whatsapp/client.ts'
import { applyEarlier } from './attempts.ts'
import {
  type AlertContacts,
  quietUntil,
  type Recipient,
  type RoutingConfig,
  type RoutingResult,
  routeAlert,
} from './recipients.ts'
import {
  compareAlerts,
  DETAILED_ALERTS,
  type NotifiedAlert,
  notifiedAlert,
  type RenderedAlert,
  TEXT_LIMIT,
  topSeverity,
} from './render.ts'
import type { InboundMessage } from './whatsapp-payload.ts'

/** An alert as both sources (Alertmanager's webhook, the scheduled ruleManager) hand it over. */
export interface AlertInput {
  /** Alertmanager-compatible fingerprint of the label set (16 hex digits). */
  fingerprint: string
  status: 'firing' | 'resolved'
  labels: Record<string, string>
  annotations: Record<string, string>
  /** Start of this firing episode; identical for every re-send of the same episode. */
  startsAt: Date
  endsAt?: Date
  /** The value that made it fire, when the source knows it. */
  value?: string
  /** One request that shows the failure (firing alerts whose rule names an exemplar query). */
  example?: AlertExample
}

export interface DispatcherConfig extends RoutingConfig {
  repeatIntervalMs: number
  /** How long finished outbox rows and resolved alerts are kept (ALERT_HISTORY_RETENTION); 0 keeps them. */
  historyRetentionMs: number
  /** A firing Alertmanager alert no notification listed for this long is resolved (ALERTMANAGER_ALERT_STALE_AFTER); 0 never. */
  alertmanagerStaleAfterMs: number
}

/**
 * How far a stored `listed_at` may lag an alert's last listing: a notification leaves a newer
 * one as it is. The stale sweep may so end an alert up to this much before
 * ALERTMANAGER_ALERT_STALE_AFTER has passed since its last listing; 1 minute against the
 * setting's 30-minute margin over Alertmanager's re-post (MIN_ALERTMANAGER_STALE_AFTER_MS).
 */
export const LISTED_AT_SLACK_MS = 60_000

/** Outbox statuses no sender will touch again (a late delivery receipt only updates a row). */
const FINISHED = ['sent', 'delivered', 'read', 'failed', 'cancelled']

/** What a source knows about a notification besides its alerts. */
export interface IngestOptions {
  /** Alerts the source left out (Alertmanager's `truncatedAlerts`): shown as "+N more". */
  truncatedAlerts?: number
  /** Malformed alerts the receiver skipped: counted and logged. */
  invalidAlerts?: number
  /** The first skipped alert's problem (`alerts.3.startsAt — Expected …`), for the log line. */
  firstInvalid?: string
  /**
   * Alertmanager's aggregation group (`groupKey`): a notification of it that holds every alert
   * (no `truncatedAlerts`, none skipped) ends the alerts it listed last time and lists no more.
   * Absent for the rule manager, whose alerts only end by their own resolution.
   */
  groupKey?: string
}

const DELIVERED = ['sending', 'sent', 'delivered', 'read']

type StateRow = typeof alertStates.$inferSelect
type StateBase = Pick<
  StateRow,
  'fingerprint' | 'alertname' | 'severity' | 'tenantId' | 'labels' | 'annotations' | 'startsAt'
>

/** Rows of a raw statement, whichever driver ran it (postgres.js: an array; PGlite: `.rows`). */
const rowsOf = (result: unknown) =>
  (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<Record<string, unknown>>

/**
 * How long after this process starts the stale sweep waits (ms). While we were down,
 * Alertmanager's posts failed: its RetryStage (notify/notify.go) retries a failed post until the
 * flush's deadline, one group_interval (dispatch/dispatch.go aggrGroup.run), and a failed post is
 * not logged (SetNotifiesStage runs only after a success), so DedupStage finds it due again at
 * every later flush. A group that still fires is thus re-posted within one group_interval (5m by
 * default) of our coming back, however long we were away; sweeping before that would resolve
 * alerts that are about to be listed again (a resolution, then a new alert). 30m is the margin
 * MIN_ALERTMANAGER_STALE_AFTER_MS keeps for the same flush and retries. A grace rather than
 * counting listed_at from our start: that would put off every sweep by the whole
 * ALERTMANAGER_ALERT_STALE_AFTER after each deploy, and never sweep if we deploy more often.
 */
export const STALE_SWEEP_START_GRACE_MS = 30 * 60_000

/** `column in (the values)`, the values passed as one JSON parameter whatever their number. */
const inJsonList = (column: AnyColumn | SQL, values: string[]) =>
  sql`${column} in (select jsonb_array_elements_text(${JSON.stringify(values)}::jsonb))`

function stateBase(alert: AlertInput): StateBase {
  return {
    fingerprint: alert.fingerprint,
    alertname: alert.labels.alertname ?? 'unnamed',
    severity: (alert.labels.severity ?? 'warning').toLowerCase(),
    tenantId: UUID_PATTERN.test(alert.labels.tenant_id ?? '') ? alert.labels.tenant_id! : null,
    labels: alert.labels,
    annotations: alert.annotations,
    startsAt: alert.startsAt,
  }
}

/**
 * The resolution of a firing episode we end ourselves because Alertmanager no longer lists it
 * (its group's notification left it out, or no notification listed it for too long): ended
 * `at`, with the labels and annotations last listed.
 */
function unlistedResolution(
  state: Pick<StateRow, 'fingerprint' | 'labels' | 'annotations' | 'startsAt'>,
  at: Date,
): AlertInput {
  return {
    fingerprint: state.fingerprint,
    status: 'resolved',
    labels: state.labels,
    annotations: state.annotations,
    startsAt: state.startsAt,
    endsAt: at,
  }
}

async function digest(parts: string[]): Promise<string> {
  const bytes = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(parts.join('\n')))
  return Array.from(new Uint8Array(bytes).slice(0, 12), (b) => b.toString(16).padStart(2, '0')).join('')
}

/**
 * What a row stores of its alerts, in message order. A message shows every alert in full only
 * up to DETAILED_ALERTS, and a summary shows one detail per alert name: past the first
 * DETAILED_ALERTS of a name the detail is left out, which keeps a 10 000-alert row near
 * 1 MB instead of 4.
 */
function leanMembers(members: RenderedAlert[]): NotifiedAlert[] {
  const seen = new Map<string, number>()
  return members.map(({ transition: _, ...alert }) => {
    const n = (seen.get(alert.alertname) ?? 0) + 1
    seen.set(alert.alertname, n)
    if (n <= DETAILED_ALERTS) return alert
    const { detail: __, ...lean } = alert
    return lean
  })
}

/** Rows per upsert: bounds one statement and its JSON parameter whatever the notification size. */
const BATCH = 1000

function batches<T>(items: T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += BATCH) out.push(items.slice(i, i + BATCH))
  return out
}

/** An alert on its way into a row, with the routing key of its recipients. */
interface Pending {
  alert: NotifiedAlert
  tenantId: string | null
  cycle: number
}

/**
 * Alertmanager's dispatcher for WhatsApp: takes alerts from either source (the Alertmanager
 * receiver, the rule manager), routes them to recipients, groups them per recipient into
 * outbox rows, repeats what still fires, and answers the recipients' commands.
 */
export interface Dispatcher {
  /**
   * Takes firing and resolved alerts from `source` and writes the outbox rows their
   * recipients are due (one row per recipient and transition, whatever the number of alerts).
   * With `tx`, in the caller's transaction. Resolves with the number of rows written.
   */
  ingest(alerts: AlertInput[], source: string, tx?: Executor, options?: IngestOptions): Promise<number>
  /** Enqueues repeats of alerts still firing past the repeat interval; resolves with the rows written. */
  enqueueRepeats(): Promise<number>
  /**
   * Resolves, as of now, each firing Alertmanager alert (one with a `group_key`) that no
   * notification listed for `alertmanagerStaleAfterMs` (ALERTMANAGER_ALERT_STALE_AFTER), by
   * the path of a group-absence resolution: those told get the resolution, the episode is
   * marked `resolved_unlisted` (listed firing again, it is a new episode), and it is counted
   * as `stale`. Alertmanager re-posts a group that still fires every `repeat_interval`
   * (notify/notify.go DedupStage.needsUpdate), and posts nothing for a group none of whose
   * alerts is left (dispatch/dispatch.go aggrGroup.flush on an empty group) or whose alerts
   * are all muted (MuteStage; TimeMuteStage mutes the whole route): so a group whose alerts
   * all ended while Alertmanager had lost them (restarted without `--storage.path`) is never
   * posted again. The rule manager's alerts are left alone. Nothing is swept in the first
   * STALE_SWEEP_START_GRACE_MS of the process: after our own downtime, Alertmanager re-posts
   * what still fires within one group_interval. Resolves with the alerts ended; 0 when the
   * setting is 0.
   */
  resolveStale(): Promise<number>
  /**
   * Handles ACK, SILENCE <duration> and STATUS from a recipient, once per message id (a
   * re-delivery changes nothing); ACK and SILENCE reach only alerts that started by `at`. A
   * reaction (👍 ✅ 👌 🙏) or a reply (`ACK`, `OK`, `SILENCE 1h`, …) to one of our alert
   * messages reaches only that message's alerts.
   */
  handleInbound(message: InboundMessage): Promise<void>
  /**
   * Deletes the history older than `historyRetentionMs` (by `updated_at`, on the injected
   * clock): finished outbox rows (replies included, which are the record that an inbound
   * message was handled) and resolved alerts. A firing row stays while any of its alerts is
   * still firing, since ACK and SILENCE reach only the alerts a number was told about. As
   * Alertmanager's `--data.retention` bounds its notification log (there 120h; here longer than
   * Meta's 7 days of webhook re-delivery). Resolves with the rows deleted; 0 and 0 when the
   * retention is 0.
   */
  pruneHistory(): Promise<{ outbox: number; alerts: number }>
}

export function createDispatcher(deps: {
  db: Database
  config: DispatcherConfig
  clock: Clock
  log: Logger
  metrics: AlertingMetrics
  /** Tenants' alert phones and quiet hours (the tenants feature's port). */
  contacts: AlertContacts
}): Dispatcher {
  const { db, config, clock, log, metrics, contacts } = deps
  // This process's start, for the stale sweep's grace (STALE_SWEEP_START_GRACE_MS).
  const startedAt = clock.now()

  /**
   * Writes the rows of one transition for the recipients of some alerts: per recipient one row
   * (two when quiet hours hold back its non-critical alerts), however many alerts there are.
   * The dedupe key names the exact set of alert episodes, so writing the same set again is a
   * no-op. Returns the rows written.
   */
  async function enqueue(
    tx: Executor,
    transition: 'firing' | 'resolved',
    byRecipient: Map<string, { recipient: Recipient; alerts: Pending[] }>,
    extra: Record<string, unknown>,
  ): Promise<number> {
    const now = clock.now()
    const rows: Array<{
      dedupeKey: string
      recipient: string
      tenantId: string | null
      fingerprint: string
      alertname: string
      severity: string
      transition: string
      content: Record<string, unknown>
      nextAttemptAt: Date
    }> = []
    for (const { recipient, alerts } of byRecipient.values()) {
      const byDue = new Map<number, Pending[]>()
      for (const pending of alerts) {
        // Quiet hours hold back everything but critical alerts until the window ends.
        const deferredUntil =
          transition === 'firing' && recipient.quietHours && pending.alert.severity !== 'critical'
            ? quietUntil(now, recipient.quietHours)
            : undefined
        const due = (deferredUntil ?? now).getTime()
        const part = byDue.get(due)
        if (part) part.push(pending)
        else byDue.set(due, [pending])
      }
      for (const [due, part] of byDue) {
        const members = part.map((p) => ({ ...p.alert, transition })).sort(compareAlerts)
        const head = members[0]!
        const keys = part.map((p) => `${p.alert.fingerprint}|${p.alert.startsAt}|${p.cycle}`).sort()
        const tenants = new Set(part.map((p) => p.tenantId))
        rows.push({
          dedupeKey:
            part.length === 1
              ? [head.fingerprint, head.startsAt, transition, recipient.phone, part[0]!.cycle].join('|')
              : `set|${await digest(keys)}|${transition}|${recipient.phone}`,
          recipient: recipient.phone,
          tenantId: tenants.size === 1 ? [...tenants][0]! : null,
          fingerprint: head.fingerprint,
          alertname: head.alertname,
          severity: topSeverity(members.map((m) => m.severity)),
          transition,
          content: { alerts: leanMembers(members), ...extra },
          nextAttemptAt: new Date(due),
        })
      }
    }
    let written = 0
    // A handful of rows, but each may hold thousands of alerts: one statement per row.
    for (const row of rows) {
      // Raw, the content as one JSON text parameter: drizzle's mapping of a 10 000-alert
      // object costs more than PostgreSQL's whole insert.
      const inserted = rowsOf(
        await tx.execute(sql`
          insert into ${alertOutbox} (dedupe_key, recipient, tenant_id, fingerprint, alertname, severity, transition, content, next_attempt_at)
          values (${row.dedupeKey}, ${row.recipient}, ${row.tenantId}, ${row.fingerprint}, ${row.alertname}, ${row.severity},
            ${row.transition}, ${JSON.stringify(row.content)}::jsonb, ${row.nextAttemptAt.toISOString()}::timestamptz)
          on conflict do nothing
          returning id`),
      )
      written += inserted.length
    }
    return written
  }

  /**
   * Routing per routing key (the tenant, or none): routing only looks at `tenant_id`, so a storm
   * of one tenant's alerts is routed once and logged once; the metric still counts every alert.
   */
  async function route(
    tx: Executor,
    items: Array<{ labels: Record<string, string>; pending: Pending }>,
    byRecipient: Map<string, { recipient: Recipient; alerts: Pending[] }>,
  ) {
    const cache = new Map<string, RoutingResult>()
    for (const { labels, pending } of items) {
      const key = labels.tenant_id ?? ''
      let routed = cache.get(key)
      if (!routed) {
        routed = await routeAlert(tx, labels, config, contacts)
        cache.set(key, routed)
        if (routed.recipients.length === 0) {
          log.warn(
            { alertname: loggableLabel(labels.alertname), tenantId: loggableTenantId(labels.tenant_id) },
            "alert has no recipient: set ALERT_PHONES (on-call) or the tenant's phones",
          )
        }
        if (routed.missingTenantPhone) {
          log.error(
            { tenantId: loggableTenantId(labels.tenant_id), alertname: loggableLabel(labels.alertname) },
            routed.unknownTenant
              ? 'alert names no known tenant in its tenant_id label; notifying on-call only'
              : 'tenant has no phone configured for alerts; notifying on-call only',
          )
        }
      }
      if (routed.missingTenantPhone) metrics.missingTenantPhone()
      for (const recipient of routed.recipients) {
        let entry = byRecipient.get(recipient.phone)
        if (!entry) {
          entry = { recipient, alerts: [] }
          byRecipient.set(recipient.phone, entry)
        }
        entry.alerts.push(pending)
      }
    }
  }

  /**
   * Records the alerts and enqueues the notifications they call for, in one transaction:
   * new firing episodes go to their recipients, resolutions to those who were told.
   *
   * A notification of Alertmanager group `groupKey` with no `truncatedAlerts` (and no alert we
   * skipped) also ends, as of now, each firing alert that group listed last and no longer
   * lists: Alertmanager may never send its resolution (restarted without `--storage.path`,
   * after Prometheus' 15 minutes of re-sending resolved alerts; or `send_resolved: false`).
   * It is resolved by the path of a resolution (those told get it; nobody else), and marked
   * `resolved_unlisted`, so that listed firing again with the same startsAt it is a new episode
   * (announced again, under a later repeat cycle). Why absence means "ended", from Alertmanager
   * (v0.25–main):
   * - dispatch/dispatch.go `aggrGroup.flush` hands the notify pipeline every alert of the group
   *   (`alerts = ag.alerts.List()`), firing and resolved, and deletes a resolved one only after
   *   a notification succeeded (`DeleteIfNotModified(resolvedSlice)`).
   * - notify/notify.go `MuteStage.Exec` drops alerts the inhibitor or silencer mutes ("Do not
   *   send the alert if muted"): a silenced or inhibited alert is absent too, and ends here.
   * - notify/notify.go `RetryStage.exec`: without send_resolved it sends only the firing alerts
   *   ("if a.Status() != model.AlertResolved"), and nothing when none fires.
   * - notify/webhook/webhook.go `truncateAlerts` keeps the first `max_alerts` and counts the
   *   rest in `truncatedAlerts`: then the absent may still fire, and nothing ends.
   * - notify/notify.go `DedupStage.needsUpdate`: a firing set that is not a subset of the one
   *   last logged (nflog) is notified at the next flush. So a muted alert that ended here (its
   *   group notified without it, which the nflog recorded) is posted again when the silence
   *   ends, at the group's next flush, and starts a new episode. A firing set that only
   *   shrank is no change: a silenced alert (or, without send_resolved, an ended one) drops
   *   out of the group's next notification, at repeat_interval unless the group changes.
   * An alert in several groups (`continue: true`) is ended only by the group that listed it
   * last (`group_key`). The rule manager's alerts (no groupKey) only end by resolution.
   */
  async function ingestAll(
    tx: Executor,
    alerts: AlertInput[],
    truncatedAlerts: number,
    invalidAlerts: number,
    groupKey: string | undefined,
  ): Promise<number> {
    const now = clock.now()
    const at = now.toISOString()
    // Only a notification that holds its whole group says what the group no longer has: one
    // cut by max_alerts, or with alerts we could not read, leaves out alerts that still fire.
    const wholeGroup = groupKey !== undefined && truncatedAlerts === 0 && invalidAlerts === 0
    // The last word on a fingerprint wins when a payload repeats one. In fingerprint order, so
    // that every transaction locks the states it shares with another (replicas, Alertmanager
    // retries, the rule manager's tick) in the same order: in payload order, two concurrent
    // notifications listing the same alerts otherwise deadlock on PostgreSQL, and one is a 500.
    const unique = [...new Map(alerts.map((a) => [a.fingerprint, a])).values()].sort((a, b) =>
      a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0,
    )
    // With the alerts this group listed last time that still fire, locked in the same one
    // fingerprint-ordered statement: locked apart, two notifications of one group deadlock.
    const states = new Map(
      (
        await tx
          .select({
            fingerprint: alertStates.fingerprint,
            status: alertStates.status,
            startsAt: alertStates.startsAt,
            labels: alertStates.labels,
            annotations: alertStates.annotations,
            groupKey: alertStates.groupKey,
            resolvedUnlisted: alertStates.resolvedUnlisted,
          })
          .from(alertStates)
          .where(
            or(
              inJsonList(
                alertStates.fingerprint,
                unique.map((a) => a.fingerprint),
              ),
              // Any notification of a group also marks its firing alerts listed (a cut one may
              // show only some): they are locked here, with the rest, in one order.
              groupKey !== undefined
                ? and(eq(alertStates.groupKey, groupKey), eq(alertStates.status, 'firing'))
                : undefined,
            ),
          )
          .orderBy(alertStates.fingerprint)
          .for('update')
      ).map((s) => [s.fingerprint, s]),
    )
    const starting: Array<{ alert: AlertInput; base: StateBase }> = []
    /** Episodes ended because their group stopped listing them, listed firing again. */
    const relisted: Array<{ alert: AlertInput; base: StateBase }> = []
    const refreshed: StateBase[] = []
    const ending: Array<{ alert: AlertInput; base: StateBase }> = []
    const tombstones: Array<StateBase & { resolvedAt: Date }> = []
    /** The resolutions behind `tombstones`, by fingerprint. */
    const unseen = new Map<string, { alert: AlertInput; base: StateBase }>()
    /**
     * Fingerprints this notification lists only as an earlier episode (a retried notification
     * overtaken by a later one): old news, so it does not count as their group listing them now.
     */
    const late = new Set<string>()
    for (const alert of unique) {
      const state = states.get(alert.fingerprint)
      const base = stateBase(alert)
      if (alert.status === 'firing') {
        const sameEpisode = state !== undefined && state.startsAt.getTime() === alert.startsAt.getTime()
        // A firing alert of an episode already resolved, or of any earlier episode, is a late
        // re-send (a retried notification overtaken by the resolution or by the next episode):
        // a real return fires with a later startsAt (Prometheus' ActiveAt), so this one
        // announces nothing, and leaves the current episode's ACK and repeat cycle alone.
        // Unless we ended it ourselves because its group stopped listing it (a silence, an
        // inhibition, or our guess was early): Alertmanager lists it again with the same
        // startsAt, and it fires again as a new episode, announced like any other.
        if (
          state?.status === 'resolved' &&
          state.resolvedUnlisted &&
          alert.startsAt.getTime() === state.startsAt.getTime()
        ) {
          relisted.push({ alert, base })
          continue
        }
        if (
          (state?.status === 'resolved' && alert.startsAt.getTime() <= state.startsAt.getTime()) ||
          (state !== undefined && alert.startsAt.getTime() < state.startsAt.getTime())
        ) {
          late.add(alert.fingerprint)
          continue
        }
        // A re-send (Alertmanager repeats groups): keep annotations fresh, notify nothing new.
        if (!sameEpisode) starting.push({ alert, base })
        else if (JSON.stringify(state.annotations) !== JSON.stringify(alert.annotations)) refreshed.push(base)
      } else if (state?.status === 'firing') {
        // A resolution of an earlier episode (a retried notification that the next firing
        // overtook; Alertmanager tells episodes apart by startsAt) ends nothing that fires now.
        if (alert.startsAt.getTime() < state.startsAt.getTime()) {
          late.add(alert.fingerprint)
          continue
        }
        ending.push({ alert, base: { ...base, startsAt: state.startsAt } })
      } else if (state === undefined || state.startsAt.getTime() < alert.startsAt.getTime()) {
        // A resolution that overtook its own firing (Alertmanager retries each notification on
        // its own, so they can arrive in either order): nobody was told, so nothing is sent,
        // but the episode is recorded as resolved so that its late firing announces nothing
        // instead of firing, and repeating, forever.
        tombstones.push({ ...base, resolvedAt: alert.endsAt ?? now })
        unseen.set(alert.fingerprint, { alert, base })
      }
    }
    /** Fingerprints ended because their group's notification no longer lists them. */
    const unlisted = new Set<string>()
    if (wholeGroup) {
      const listed = new Set(unique.map((a) => a.fingerprint))
      for (const state of states.values()) {
        if (listed.has(state.fingerprint) || state.status !== 'firing' || state.groupKey !== groupKey)
          continue
        // Ended as of this notification, by the path of Alertmanager's own resolution.
        const alert = unlistedResolution(state, now)
        ending.push({ alert, base: stateBase(alert) })
        unlisted.add(state.fingerprint)
      }
      if (unlisted.size) {
        log.info(
          { groupKey: loggableLabel(groupKey), alerts: unlisted.size },
          'alerts no longer listed by their Alertmanager group resolved',
        )
      }
    }
    // Set-based statements whose rows travel as one JSON parameter: building a 10 000-row
    // VALUES list costs far more than running it.
    const fired: Array<{ alert: AlertInput; base: StateBase; cycle: number }> = []
    for (const batch of batches(starting)) {
      // Conditional upsert: only a later episode replaces a row. A replica that inserted the
      // same episode (or a later one) first wins, and this one gets nothing back for it (so
      // two receivers never both notify).
      const started = rowsOf(
        await tx.execute(sql`
          insert into ${alertStates} (fingerprint, alertname, severity, tenant_id, labels, annotations, starts_at, status, last_notified_at, repeat_cycle, updated_at)
          select r.fingerprint, r.alertname, r.severity, r."tenantId", r.labels, r.annotations, r."startsAt", 'firing', ${at}::timestamptz, 0, ${at}::timestamptz
          from jsonb_to_recordset(${JSON.stringify(batch.map(({ base }) => base))}::jsonb)
            as r(fingerprint text, alertname text, severity text, "tenantId" uuid, labels jsonb, annotations jsonb, "startsAt" timestamptz)
          on conflict (fingerprint) do update set
            alertname = excluded.alertname, severity = excluded.severity, tenant_id = excluded.tenant_id,
            labels = excluded.labels, annotations = excluded.annotations, starts_at = excluded.starts_at,
            status = 'firing', resolved_at = null, acked_at = null, repeat_cycle = 0, resolved_unlisted = false,
            last_notified_at = case when alert_states.silenced_until > ${at}::timestamptz then null else ${at}::timestamptz end,
            updated_at = ${at}::timestamptz
          where alert_states.starts_at < excluded.starts_at
          returning fingerprint, coalesce(silenced_until > ${at}::timestamptz, false) as silenced`),
      )
      const notify = new Set(started.filter((s) => s.silenced !== true).map((s) => String(s.fingerprint)))
      fired.push(...batch.filter((s) => notify.has(s.alert.fingerprint)).map((s) => ({ ...s, cycle: 0 })))
    }
    for (const batch of batches(relisted)) {
      // The same startsAt as the episode it follows, so a repeat cycle past that episode's last
      // one: the outbox keys (fingerprint, startsAt, cycle) of its messages must differ, or the
      // new firing and its resolution would be taken for the old ones and never sent.
      const restarted = rowsOf(
        await tx.execute(sql`
          update ${alertStates} as s set
            status = 'firing', resolved_at = null, acked_at = null, resolved_unlisted = false,
            repeat_cycle = s.repeat_cycle + 1, annotations = r.annotations,
            last_notified_at = case when s.silenced_until > ${at}::timestamptz then null else ${at}::timestamptz end,
            updated_at = ${at}::timestamptz
          from jsonb_to_recordset(${JSON.stringify(batch.map(({ base }) => ({ fingerprint: base.fingerprint, annotations: base.annotations, startsAt: base.startsAt })))}::jsonb)
            as r(fingerprint text, annotations jsonb, "startsAt" timestamptz)
          where s.fingerprint = r.fingerprint and s.status = 'resolved' and s.resolved_unlisted and s.starts_at = r."startsAt"
          returning s.fingerprint, s.repeat_cycle, coalesce(s.silenced_until > ${at}::timestamptz, false) as silenced`),
      )
      const cycles = new Map(
        restarted
          .filter((s) => s.silenced !== true)
          .map((s) => [String(s.fingerprint), Number(s.repeat_cycle)]),
      )
      for (const item of batch) {
        const cycle = cycles.get(item.alert.fingerprint)
        if (cycle !== undefined) fired.push({ ...item, cycle })
      }
    }
    if (refreshed.length) {
      await tx.execute(sql`
        update ${alertStates} as s set annotations = r.annotations, updated_at = ${at}::timestamptz
        from jsonb_to_recordset(${JSON.stringify(refreshed.map(({ fingerprint, annotations }) => ({ fingerprint, annotations })))}::jsonb)
          as r(fingerprint text, annotations jsonb)
        where s.fingerprint = r.fingerprint`)
    }
    for (const batch of batches(tombstones)) {
      // Only over nothing or an older resolved episode: a replica that recorded this episode
      // as firing meanwhile keeps it, and resolves it when Alertmanager re-sends the resolution.
      await tx.execute(sql`
        insert into ${alertStates} (fingerprint, alertname, severity, tenant_id, labels, annotations, starts_at, status, resolved_at, last_notified_at, repeat_cycle, updated_at)
        select r.fingerprint, r.alertname, r.severity, r."tenantId", r.labels, r.annotations, r."startsAt", 'resolved', r."resolvedAt", null, 0, ${at}::timestamptz
        from jsonb_to_recordset(${JSON.stringify(batch)}::jsonb)
          as r(fingerprint text, alertname text, severity text, "tenantId" uuid, labels jsonb, annotations jsonb, "startsAt" timestamptz, "resolvedAt" timestamptz)
        on conflict (fingerprint) do update set
          alertname = excluded.alertname, severity = excluded.severity, tenant_id = excluded.tenant_id,
          labels = excluded.labels, annotations = excluded.annotations, starts_at = excluded.starts_at,
          resolved_at = excluded.resolved_at, acked_at = null, last_notified_at = null, repeat_cycle = 0,
          resolved_unlisted = false, updated_at = ${at}::timestamptz
        where alert_states.status = 'resolved' and alert_states.starts_at < excluded.starts_at`)
    }
    if (unseen.size) {
      // A firing of the same episode (or of an earlier one) that a concurrent transaction
      // committed while the tombstone waited on its key: the tombstone did not replace it, and
      // read as "recorded", the resolution was lost. Alertmanager does not send it again after
      // a 200 (notify/notify.go DedupStage: the resolution is in its log), so that alert
      // fired, and repeated, for good. It ends that episode as a resolution of a firing alert
      // does: the firing row not sent yet is cancelled, those told get the resolution.
      const raced = await tx
        .select({ fingerprint: alertStates.fingerprint, startsAt: alertStates.startsAt })
        .from(alertStates)
        .where(and(inJsonList(alertStates.fingerprint, [...unseen.keys()]), eq(alertStates.status, 'firing')))
        .orderBy(alertStates.fingerprint)
        .for('update')
      for (const state of raced) {
        const resolution = unseen.get(state.fingerprint)!
        if (state.startsAt.getTime() > resolution.alert.startsAt.getTime()) continue
        ending.push({ alert: resolution.alert, base: { ...resolution.base, startsAt: state.startsAt } })
      }
    }
    const resolved = await endEpisodes(tx, ending, unlisted)
    const endedUnlisted = resolved.filter((r) => unlisted.has(r.alert.fingerprint)).length
    if (endedUnlisted) metrics.alertsResolvedUnlisted('group_notification', endedUnlisted)
    // A listing newer than this is kept: re-writing every listed row on each re-send of an
    // unchanged group (Alertmanager's repeat, a storm's retries) costs a row version per alert
    // per post, while staleness only needs listed_at within LISTED_AT_SLACK_MS of the truth.
    const listedSince = new Date(now.getTime() - LISTED_AT_SLACK_MS).toISOString()
    const current = unique.filter((a) => !late.has(a.fingerprint))
    if (groupKey !== undefined && current.length) {
      // The group that listed them last: only its own later notification may end them (an
      // alert routed to two groups with `continue: true` is listed by both; the other group's
      // notification, which never lists it, must not end it). Listed now: not stale.
      await tx.execute(sql`
        update ${alertStates} set group_key = ${groupKey}, listed_at = ${at}::timestamptz
        where ${inJsonList(
          alertStates.fingerprint,
          current.map((a) => a.fingerprint),
        )} and (group_key is distinct from ${groupKey} or listed_at is null
          or listed_at <= ${listedSince}::timestamptz)`)
    }
    if (groupKey !== undefined && !wholeGroup) {
      // A notification cut by max_alerts (or with alerts we could not read) may hold any firing
      // alert of its group among those it does not show: Alertmanager still posts the group,
      // so none of them is stale.
      await tx.execute(sql`
        update ${alertStates} set listed_at = ${at}::timestamptz
        where group_key = ${groupKey} and status = 'firing'
          and (listed_at is null or listed_at <= ${listedSince}::timestamptz)`)
    }
    // With the group it counts and the group's size: a message merging several notifications
    // of one group counts that group's hidden alerts once, from its latest notification (they
    // re-count the same alerts), not as their sum.
    const extra = {
      ...(truncatedAlerts > 0 ? { truncatedAlerts } : {}),
      ...(groupKey === undefined ? {} : { groupKey, groupAlerts: unique.length + truncatedAlerts }),
    }
    let enqueued = 0
    if (fired.length) {
      const byRecipient = new Map<string, { recipient: Recipient; alerts: Pending[] }>()
      await route(
        tx,
        fired.map(({ alert, base, cycle }) => ({
          labels: alert.labels,
          pending: { alert: notifiedAlert(alert, 'firing'), tenantId: base.tenantId, cycle },
        })),
        byRecipient,
      )
      enqueued += await enqueue(tx, 'firing', byRecipient, extra)
    }
    if (resolved.length) enqueued += await enqueueResolutions(tx, resolved, extra)
    return enqueued
  }

  /**
   * Ends the firing episodes of `ending` (those another transaction has not ended first), as
   * resolved at their `endsAt` (else now); `unlisted` marks those we end ourselves for not
   * being listed (`resolved_unlisted`: listed firing again, they are a new episode). Returns
   * the ended ones with their last repeat cycle, for {@link enqueueResolutions}.
   */
  async function endEpisodes(
    tx: Executor,
    ending: Array<{ alert: AlertInput; base: StateBase }>,
    unlisted: Set<string>,
  ): Promise<Array<{ alert: AlertInput; base: StateBase; cycle: number }>> {
    if (ending.length === 0) return []
    const now = clock.now()
    const ended = rowsOf(
      await tx.execute(sql`
        update ${alertStates} as s
        set status = 'resolved', resolved_at = r."resolvedAt", annotations = r.annotations,
          resolved_unlisted = r.unlisted, updated_at = ${now.toISOString()}::timestamptz
        from jsonb_to_recordset(${JSON.stringify(
          ending.map(({ alert }) => ({
            fingerprint: alert.fingerprint,
            annotations: alert.annotations,
            resolvedAt: alert.endsAt ?? now,
            unlisted: unlisted.has(alert.fingerprint),
          })),
        )}::jsonb) as r(fingerprint text, annotations jsonb, "resolvedAt" timestamptz, unlisted boolean)
        where s.fingerprint = r.fingerprint and s.status = 'firing'
        returning s.fingerprint, s.repeat_cycle`),
    )
    const done = new Map(ended.map((e) => [String(e.fingerprint), Number(e.repeat_cycle)]))
    const resolved: Array<{ alert: AlertInput; base: StateBase; cycle: number }> = []
    for (const e of ending) {
      const cycle = done.get(e.alert.fingerprint)
      if (cycle !== undefined) resolved.push({ ...e, cycle })
    }
    return resolved
  }

  /**
   * Resolutions go only to those who were told the episode was firing (rows being sent count),
   * and are never held back. Rows not sent yet whose alerts all resolved are cancelled; rows
   * that still hold a firing alert go out without the resolved ones (the sender checks).
   */
  async function enqueueResolutions(
    tx: Executor,
    resolved: Array<{ alert: AlertInput; base: StateBase; cycle: number }>,
    extra: Record<string, unknown>,
  ): Promise<number> {
    const now = clock.now()
    const episodes = new Map(
      resolved.map((r) => [`${r.base.fingerprint}|${r.base.startsAt.toISOString()}`, r]),
    )
    const told = new Map<string, { recipient: Recipient; alerts: Pending[] }>()
    const pendingRows = new Set<string>()
    const member = sql`jsonb_array_elements(${alertOutbox.content}->'alerts')`
    const rows = await tx
      .select({
        id: sql<string>`${alertOutbox.id}`,
        status: sql<string>`${alertOutbox.status}`,
        recipient: sql<string>`${alertOutbox.recipient}`,
        fingerprint: sql<string>`m->>'fingerprint'`,
        startsAt: sql<string>`m->>'startsAt'`,
      })
      .from(sql`${alertOutbox} cross join lateral ${member} as m`)
      .where(
        and(
          eq(alertOutbox.transition, 'firing'),
          inArray(alertOutbox.status, [...DELIVERED, 'pending']),
          inJsonList(
            sql`m->>'fingerprint'`,
            resolved.map((r) => r.base.fingerprint),
          ),
        ),
      )
    for (const row of rows) {
      const episode = episodes.get(`${row.fingerprint}|${row.startsAt}`)
      if (!episode) continue
      if (row.status === 'pending') {
        pendingRows.add(row.id)
        continue
      }
      let entry = told.get(row.recipient)
      if (!entry) {
        entry = { recipient: { phone: row.recipient }, alerts: [] }
        told.set(row.recipient, entry)
      }
      if (!entry.alerts.some((p) => p.alert.fingerprint === row.fingerprint)) {
        entry.alerts.push({
          alert: notifiedAlert({ ...episode.alert, startsAt: episode.base.startsAt }, 'resolved'),
          tenantId: episode.base.tenantId,
          // The episode's last repeat cycle: an episode listed again after its group stopped
          // listing it keeps its startsAt, and its resolution must not be taken for the first's.
          cycle: episode.cycle,
        })
      }
    }
    for (const id of pendingRows) {
      const [row] = await tx
        .select({ content: alertOutbox.content })
        .from(alertOutbox)
        .where(eq(alertOutbox.id, id))
      const members = (row?.content.alerts ?? []) as NotifiedAlert[]
      const firing = await stillFiring(tx, members)
      if (firing.size === 0) {
        await tx
          .update(alertOutbox)
          .set({ status: 'cancelled', updatedAt: now })
          .where(and(eq(alertOutbox.id, id), eq(alertOutbox.status, 'pending')))
      }
    }
    return enqueue(tx, 'resolved', told, extra)
  }

  return {
    /**
     * Records alerts and enqueues the notifications they call for, idempotently: the same
     * payload handed over twice (Alertmanager re-sends, two replicas) enqueues nothing new.
     * However many alerts there are, each recipient gets one outbox row per transition (two
     * when quiet hours hold back warnings). With `tx`, everything is written in the caller's
     * transaction (the rule manager's tick) and commits with it; otherwise in one transaction.
     * @returns outbox rows written
     */
    async ingest(
      alerts: AlertInput[],
      source: string,
      tx?: Executor,
      options: IngestOptions = {},
    ): Promise<number> {
      if (options.invalidAlerts) {
        metrics.invalidAlerts(options.invalidAlerts)
        log.warn(
          {
            source,
            invalid: options.invalidAlerts,
            firstInvalid: options.firstInvalid,
            valid: alerts.length,
            groupKey: loggableLabel(options.groupKey),
          },
          'skipped malformed alerts in a notification; the others are taken',
        )
      }
      if (alerts.length === 0) return 0
      const truncated = options.truncatedAlerts ?? 0
      const enqueued = tx
        ? await ingestAll(tx, alerts, truncated, options.invalidAlerts ?? 0, options.groupKey)
        : await db.transaction((own) =>
            ingestAll(own, alerts, truncated, options.invalidAlerts ?? 0, options.groupKey),
          )
      if (enqueued > 0 || truncated > 0) {
        log.info(
          { source, alerts: alerts.length, truncatedAlerts: truncated, enqueued },
          'alert notifications enqueued',
        )
      }
      return enqueued
    },

    async resolveStale(): Promise<number> {
      if (config.alertmanagerStaleAfterMs <= 0) return 0
      const now = clock.now()
      if (now.getTime() - startedAt.getTime() < STALE_SWEEP_START_GRACE_MS) return 0
      const cutoff = new Date(now.getTime() - config.alertmanagerStaleAfterMs)
      const ended = await db.transaction(async (tx) => {
        // SKIP LOCKED: a row a notification is listing right now is not stale; another replica's
        // sweep takes the rest. In fingerprint order, as every other locker of alert states.
        const stale = await tx
          .select()
          .from(alertStates)
          .where(
            and(
              eq(alertStates.status, 'firing'),
              isNotNull(alertStates.groupKey),
              lt(alertStates.listedAt, cutoff),
            ),
          )
          .orderBy(alertStates.fingerprint)
          .for('update', { skipLocked: true })
        if (stale.length === 0) return []
        const ending = stale.map((state) => {
          const alert = unlistedResolution(state, now)
          return { alert, base: stateBase(alert) }
        })
        const resolved = await endEpisodes(tx, ending, new Set(stale.map((s) => s.fingerprint)))
        if (resolved.length) await enqueueResolutions(tx, resolved, {})
        return resolved
      })
      if (ended.length) {
        metrics.alertsResolvedUnlisted('stale', ended.length)
        log.info(
          { alerts: ended.length, staleAfterMs: config.alertmanagerStaleAfterMs },
          'alerts no Alertmanager notification listed for ALERTMANAGER_ALERT_STALE_AFTER resolved',
        )
      }
      return ended.length
    },

    /**
     * Firing alerts that were never notified (silenced at the time) or whose last notification
     * is older than the repeat interval, and are neither acknowledged nor silenced, are enqueued
     * again under a new repeat cycle: all of them in one row per recipient.
     */
    async enqueueRepeats(): Promise<number> {
      const now = clock.now()
      return db.transaction(async (tx) => {
        // SKIP LOCKED: another replica claiming the same repeats takes them, this one not.
        const due = await tx
          .select()
          .from(alertStates)
          .where(
            and(
              eq(alertStates.status, 'firing'),
              isNull(alertStates.ackedAt),
              or(isNull(alertStates.silencedUntil), lte(alertStates.silencedUntil, now)),
              or(
                isNull(alertStates.lastNotifiedAt),
                lte(alertStates.lastNotifiedAt, new Date(now.getTime() - config.repeatIntervalMs)),
              ),
            ),
          )
          .for('update', { skipLocked: true })
        if (due.length === 0) return 0
        await tx
          .update(alertStates)
          .set({
            lastNotifiedAt: now,
            repeatCycle: sql`case when ${alertStates.lastNotifiedAt} is null then ${alertStates.repeatCycle} else ${alertStates.repeatCycle} + 1 end`,
            updatedAt: now,
          })
          .where(
            inJsonList(
              alertStates.fingerprint,
              due.map((s) => s.fingerprint),
            ),
          )
        const byRecipient = new Map<string, { recipient: Recipient; alerts: Pending[] }>()
        await route(
          tx,
          due.map((state) => {
            const repeat = state.lastNotifiedAt !== null
            return {
              labels: state.labels,
              pending: {
                alert: notifiedAlert(state, 'firing', repeat),
                tenantId: state.tenantId,
                cycle: repeat ? state.repeatCycle + 1 : state.repeatCycle,
              },
            }
          }),
          byRecipient,
        )
        return enqueue(tx, 'firing', byRecipient, {})
      })
    },

    /**
     * A message someone sent us on WhatsApp. From a configured recipient, `ACK` (or a button
     * payload `ACK:<fingerprint>`) stops repeats of the alerts they were notified of until
     * those resolve, `SILENCE <duration>` silences them, `STATUS` lists what is firing. Every
     * message from a recipient reopens its 24-hour window. Others are ignored.
     *
     * Answering an alert message (`message.replyTo`, the wamid of a firing message we sent this
     * number, now or in an earlier attempt) narrows a bare `ACK` or `SILENCE <duration>` to the
     * alerts of that message (the outbox rows sent under that wamid), and a `STATUS` to their
     * state, resolved ones too; `OK`, `OKAY` and `ON IT` acknowledge there too, and so
     * does a reaction with one of ACK_REACTIONS, or a reply that is only one of them. An
     * explicit ref still wins. A reply to a message that is not one of our alert messages to
     * this number (expired, a reply of ours, unknown) is read as if it quoted nothing: a
     * reaction or an `OK` then does nothing.
     * Idempotent: Meta re-delivers webhooks, and the reply is keyed by the message id.
     */
    async handleInbound(inbound: InboundMessage): Promise<void> {
      // The sender as configured: their wa_id may spell the number otherwise (Brazil's ninth
      // digit, Mexico's 521), and the outbox, the window and the replies use the configured one.
      let scope: Awaited<ReturnType<typeof recipientScope>>
      let from = inbound.from
      for (const candidate of whatsAppIdNumbers(inbound.from)) {
        scope = await recipientScope(candidate)
        from = candidate
        if (scope) break
      }
      if (!scope) {
        log.debug({ sender: maskPhone(inbound.from) }, 'ignoring a WhatsApp message from an unknown number')
        return
      }
      const message = { ...inbound, from }
      // A message cannot have been written after we got it: a sender's clock ahead of ours must
      // neither hold the 24-hour window open nor reach alerts that fire later.
      const now = clock.now()
      const at = message.at.getTime() > now.getTime() ? now : message.at
      await db
        .insert(whatsappContacts)
        .values({ phone: message.from, lastInboundAt: at })
        .onConflictDoUpdate({
          target: whatsappContacts.phone,
          set: {
            lastInboundAt: sql`greatest(${whatsappContacts.lastInboundAt}, ${at.toISOString()}::timestamptz)`,
          },
        })
      // A reaction is never read as text; other emojis and a removed reaction (`''`) are no
      // command, and get no answer: a ❤️ must not draw usage text into the on-call chat.
      const reacted = message.reaction !== undefined
      const parsed = reacted ? undefined : parseCommand(message.text, message.forwarded)
      const ackWord = !reacted && parsed === undefined && isAckWord(message.text)
      const wanted =
        parsed ?? (ackWord || (reacted && acknowledges(message.reaction ?? '')) ? ACK_QUOTED : undefined)
      if (!wanted) return
      // The outbox rows of the alert message answered, when the command is one a quote narrows
      // (a bare ACK, SILENCE or STATUS; a ref names its alert).
      const quotedRows =
        message.replyTo !== undefined &&
        (wanted.kind === 'ack' || wanted.kind === 'silence' || wanted.kind === 'status') &&
        wanted.fingerprint === undefined
          ? await alertMessageRows(message.from, message.replyTo)
          : []
      const quoted = quotedRows.length > 0 ? quotedRows : undefined
      // Only a reply to an alert message makes an `OK` or a 👍 a command: alone, or answering
      // anything else, they are what they were before, no command at all.
      if (wanted === ACK_QUOTED && quoted === undefined) return
      // An answer to an earlier attempt (a message Meta refused late, then re-queued) is its
      // `read`, whatever the command: a re-send still waiting would tell on-call again what they
      // just answered, so it is cancelled exactly as a late `read` status of that attempt would.
      if (quoted !== undefined && message.replyTo !== undefined)
        await applyEarlier(db, { metrics, log }, { id: message.replyTo, status: 'read' }, now)
      const command: Command = wanted
      await db.transaction(async (tx) => {
        // The reply row, keyed by the message id, is written first and doubles as the record
        // that this message was handled: Meta re-delivers webhooks (for days when we do not
        // answer 200), and a second ACK must not acknowledge alerts that fired since. Written
        // in the transaction that applies the command, so the sender never sees it half-done,
        // and a concurrent re-delivery waits on its key, then finds it.
        const [claimed] = await tx
          .insert(alertOutbox)
          .values({
            dedupeKey: `reply|${message.id}`,
            recipient: message.from,
            fingerprint: '-',
            alertname: 'reply',
            severity: 'info',
            transition: 'reply',
            content: { text: '' },
            nextAttemptAt: now,
          })
          .onConflictDoNothing()
          .returning({ id: alertOutbox.id })
        if (!claimed) {
          log.debug(
            { sender: maskPhone(message.from) },
            'WhatsApp message already handled; ignoring the re-delivery',
          )
          return
        }
        // ACK and SILENCE reach only what fired when the message was written; STATUS answers now.
        const firing =
          command.kind === 'usage'
            ? []
            : await firingFor(
                tx,
                message.from,
                scope,
                command.fingerprint,
                command.kind === 'status' ? undefined : at,
                // A bare ACK or SILENCE means "what you sent me": an alert held back (quiet
                // hours, a retry's wait) was never seen, and must keep its reminders. STATUS
                // lists everything that fires for the number, and a ref names its alert.
                command.kind !== 'status' && command.fingerprint === undefined,
                quoted,
              )
        const applyTo = and(
          inJsonList(
            alertStates.fingerprint,
            firing.map((s) => s.fingerprint),
          ),
          eq(alertStates.status, 'firing'),
          lte(alertStates.startsAt, at),
        )
        let reply: string
        let replyFingerprint = firing[0]?.fingerprint
        if (command.kind === 'usage') {
          reply = command.reply
        } else if (command.kind === 'status' && quoted) {
          // What became of that message's alerts, resolved ones too: "is this still on?"
          const told = await quotedStatus(tx, quoted)
          reply = quotedStatusReply(told, now)
          replyFingerprint = told[0]?.fingerprint
        } else if (command.kind === 'status') {
          reply = firing.length ? statusReply(firing) : 'Nothing is firing.'
        } else if (firing.length === 0) {
          reply = 'No firing alert to apply that to.'
        } else if (command.kind === 'ack') {
          await tx.update(alertStates).set({ ackedAt: at }).where(applyTo)
          reply = `Acknowledged: ${alertNames(firing)}. No more reminders until resolved.`
        } else {
          const until = new Date(at.getTime() + command.durationMs)
          await tx.update(alertStates).set({ silencedUntil: until }).where(applyTo)
          reply = `Silenced until ${until.toISOString()}: ${alertNames(firing)}.`
        }
        await tx
          .update(alertOutbox)
          .set({ content: { text: reply }, fingerprint: replyFingerprint ?? '-' })
          .where(eq(alertOutbox.id, claimed.id))
      })
    },

    async pruneHistory() {
      if (config.historyRetentionMs <= 0) return { outbox: 0, alerts: 0 }
      const cutoff = new Date(clock.now().getTime() - config.historyRetentionMs).toISOString()
      return db.transaction(async (tx) => {
        const outbox = rowsOf(
          await tx.execute(sql`
            delete from ${alertOutbox} as o
            where o.status in (select jsonb_array_elements_text(${JSON.stringify(FINISHED)}::jsonb))
              and o.updated_at < ${cutoff}::timestamptz
              and not (o.transition = 'firing' and exists (
                select 1 from jsonb_array_elements(o.content->'alerts') as m
                join ${alertStates} as s on s.fingerprint = m->>'fingerprint' and s.status = 'firing'))
            returning o.id`),
        ).length
        const alerts = rowsOf(
          await tx.execute(sql`
            delete from ${alertStates}
            where status = 'resolved' and updated_at < ${cutoff}::timestamptz
            returning fingerprint`),
        ).length
        return { outbox, alerts }
      })
    },
  }

  /** On-call sees every alert; a tenant's phone sees that tenant's alerts; others nothing. */
  async function recipientScope(phone: string): Promise<{ all: boolean; tenants: string[] } | undefined> {
    const tenants = await contacts.tenantsOfPhone(db, phone)
    const all = config.oncallPhones.includes(phone)
    return all || tenants.length > 0 ? { all, tenants } : undefined
  }

  /**
   * The firing outbox rows (ids) sent to `phone` as the message `waMessageId`: by the wamid of
   * their current attempt, or of an earlier one (alert_outbox_attempts). A row Meta refused late
   * is re-queued and its wamid replaced, yet that earlier message may have reached the phone
   * after all (statuses and messages are not ordered, a status may be lost): a reaction or a
   * reply quoting it is the proof that it did, since nobody answers a message they never got.
   * Empty when it is none of our alert messages to that number.
   */
  async function alertMessageRows(phone: string, waMessageId: string): Promise<string[]> {
    const rows = await db
      .select({ id: alertOutbox.id })
      .from(alertOutbox)
      .where(
        and(
          eq(alertOutbox.recipient, phone),
          eq(alertOutbox.transition, 'firing'),
          or(
            eq(alertOutbox.waMessageId, waMessageId),
            sql`${alertOutbox.id} in (select ${alertOutboxAttempts.outboxId} from ${alertOutboxAttempts} where ${alertOutboxAttempts.waMessageId} = ${waMessageId})`,
          ),
        ),
      )
    return rows.map((r) => r.id)
  }

  /**
   * Firing alerts `phone` was told about (in its scope), oldest first; with `startedBy`, only
   * those whose episode started at or before it. With `sentOnly`, only episodes of rows sent
   * (or being sent) to it: a row still pending (a warning quiet hours hold) told nobody yet.
   * With `quoted` (outbox row ids, `alertMessageRows`), only the episodes of that one message.
   */
  async function firingFor(
    tx: Executor,
    phone: string,
    scope: { all: boolean; tenants: string[] },
    fingerprint?: string,
    startedBy?: Date,
    sentOnly = false,
    quoted?: string[],
  ) {
    // The alert episodes of every firing row this number was sent (or is being sent); without
    // `sentOnly`, those of rows waiting for it too; with `quoted`, those of one message. By
    // episode: being told of an earlier one says nothing of the one firing now.
    const which = quoted
      ? sql` and ${inJsonList(sql`${alertOutbox.id}::text`, quoted)}`
      : sentOnly
        ? sql` and ${inJsonList(alertOutbox.status, DELIVERED)}`
        : sql``
    const told = sql`(select m->>'fingerprint', (m->>'startsAt')::timestamptz from ${alertOutbox} cross join lateral jsonb_array_elements(${alertOutbox.content}->'alerts') as m where ${alertOutbox.recipient} = ${phone} and ${alertOutbox.transition} = 'firing'${which})`
    const rows = await tx
      .select()
      .from(alertStates)
      .where(
        and(
          eq(alertStates.status, 'firing'),
          fingerprint ? eq(alertStates.fingerprint, fingerprint) : undefined,
          startedBy ? lte(alertStates.startsAt, startedBy) : undefined,
          scope.all
            ? undefined
            : inArray(
                alertStates.tenantId,
                scope.tenants.length ? scope.tenants : ['00000000-0000-0000-0000-000000000000'],
              ),
          sql`(${alertStates.fingerprint}, ${alertStates.startsAt}) in ${told}`,
        ),
      )
      .orderBy(alertStates.startsAt, alertStates.fingerprint)
    return rows
  }
}

/** An alert of a quoted message, with what became of its episode (`quotedStatus`). */
interface QuotedAlert {
  fingerprint: string
  alertname: string
  severity: string
  startsAt: Date
  /** The episode the message told of still fires. */
  firing: boolean
  ackedAt: Date | null
  silencedUntil: Date | null
  /** When that episode resolved; null while it fires, or when its record is gone (pruned or superseded). */
  resolvedAt: Date | null
}

/**
 * The alerts the outbox rows `rowIds` told of (one message), each once, oldest first, with the
 * state of the episode they told of: a later episode of the same fingerprint is another alert
 * than the one the message was about, so that one counts as resolved.
 */
async function quotedStatus(tx: Executor, rowIds: string[]): Promise<QuotedAlert[]> {
  // A raw statement's timestamps are PostgreSQL's text (drizzle turns the drivers' parsing
  // off): new Date read a year 0049 as 2049 and an offset with seconds as no date at all.
  type Stamp = string | Date
  const rows = rowsOf(
    await tx.execute(sql`
      select distinct on (m.fingerprint, m."startsAt")
        m.fingerprint, m.alertname, m.severity, m."startsAt" as starts_at, s.status,
        s.starts_at as state_starts_at, s.acked_at, s.silenced_until, s.resolved_at
      from ${alertOutbox} as o
      cross join lateral jsonb_to_recordset(o.content->'alerts')
        as m(fingerprint text, alertname text, severity text, "startsAt" timestamptz)
      left join ${alertStates} as s on s.fingerprint = m.fingerprint
      where ${inJsonList(sql`o.id::text`, rowIds)}
      order by m.fingerprint, m."startsAt"`),
  ) as Array<{
    fingerprint: string
    alertname: string
    severity: string
    starts_at: Stamp
    status: string | null
    state_starts_at: Stamp | null
    acked_at: Stamp | null
    silenced_until: Stamp | null
    resolved_at: Stamp | null
  }>
  return rows
    .map((r) => {
      const startsAt = parsePostgresTimestamp(r.starts_at)
      const same =
        r.state_starts_at !== null &&
        parsePostgresTimestamp(r.state_starts_at).getTime() === startsAt.getTime()
      const firing = same && r.status === 'firing'
      return {
        fingerprint: r.fingerprint,
        alertname: r.alertname,
        severity: r.severity,
        startsAt,
        firing,
        ackedAt: firing && r.acked_at ? parsePostgresTimestamp(r.acked_at) : null,
        silencedUntil: firing && r.silenced_until ? parsePostgresTimestamp(r.silenced_until) : null,
        resolvedAt:
          same && r.status === 'resolved' && r.resolved_at ? parsePostgresTimestamp(r.resolved_at) : null,
      }
    })
    .sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime() || a.fingerprint.localeCompare(b.fingerprint))
}

/**
 * A STATUS quoting an alert message: its alerts as the unquoted STATUS lists them, each with
 * its state (`firing`, `acknowledged`, `silenced until …`, `resolved at …`), bounded alike.
 * @param now our clock: a silence that ended is no longer shown
 */
function quotedStatusReply(alerts: QuotedAlert[], now: Date): string {
  if (alerts.length === 0) return 'That message lists no alert.'
  const stateOf = (a: QuotedAlert) => {
    if (!a.firing) return a.resolvedAt ? `resolved at ${a.resolvedAt.toISOString()}` : 'resolved'
    const parts = ['firing']
    if (a.ackedAt) parts.push('acknowledged')
    if (a.silencedUntil && a.silencedUntil.getTime() > now.getTime())
      parts.push(`silenced until ${a.silencedUntil.toISOString()}`)
    return parts.join(', ')
  }
  const lines = alerts
    .slice(0, STATUS_LINES)
    .map(
      (a) =>
        `• ${a.alertname} [${a.severity}] since ${a.startsAt.toISOString()} — ref ${a.fingerprint}: ${stateOf(a)}`,
    )
  const rest = alerts.slice(STATUS_LINES)
  if (rest.length) lines.push(`…and ${rest.length} more: ${alertNames(rest)}`)
  const firing = alerts.filter((a) => a.firing).length
  const text = `That message's alerts (${alerts.length}, ${firing} firing):\n${lines.join('\n')}`
  return text.length > TEXT_LIMIT ? `${cutText(text, TEXT_LIMIT - 1)}…` : text
}

/** Lines a STATUS reply lists one by one; the rest are counted by name. */
const STATUS_LINES = 20

/** `HighErrorRate, StormNoise ×1499`: each name once, with its count when above one. */
function alertNames(states: Array<{ alertname: string }>): string {
  const counts = new Map<string, number>()
  for (const s of states) counts.set(s.alertname, (counts.get(s.alertname) ?? 0) + 1)
  return [...counts].map(([name, n]) => (n > 1 ? `${name} ×${n}` : name)).join(', ')
}

/** What fires, oldest first, bounded whatever the count (a reply is one text message too). */
function statusReply(firing: StateRow[]): string {
  const lines = firing
    .slice(0, STATUS_LINES)
    .map((s) => `• ${s.alertname} [${s.severity}] since ${s.startsAt.toISOString()} — ref ${s.fingerprint}`)
  const rest = firing.slice(STATUS_LINES)
  if (rest.length) lines.push(`…and ${rest.length} more: ${alertNames(rest)}`)
  const text = `Firing now (${firing.length}):\n${lines.join('\n')}`
  return text.length > TEXT_LIMIT ? `${cutText(text, TEXT_LIMIT - 1)}…` : text
}

/**
 * The alerts of a row that still fire in the episode the row was written for (fingerprints):
 * a row waiting to be sent drops the ones that resolved meanwhile.
 */
export async function stillFiring(tx: Executor, alerts: NotifiedAlert[]): Promise<Set<string>> {
  const firing = new Set<string>()
  const episodes = new Map(alerts.map((a) => [a.fingerprint, a.startsAt]))
  const rows = await tx
    .select({ fingerprint: alertStates.fingerprint, startsAt: alertStates.startsAt })
    .from(alertStates)
    .where(and(eq(alertStates.status, 'firing'), inJsonList(alertStates.fingerprint, [...episodes.keys()])))
  for (const row of rows) {
    if (episodes.get(row.fingerprint) === row.startsAt.toISOString()) firing.add(row.fingerprint)
  }
  return firing
}

/**
 * An alert's `tenant_id` label as a log field: a tenant id is a UUID; anything else is whatever
 * a rule or a person put in the label (a phone number, once), and is not written to the log.
 */
function loggableTenantId(label: string | undefined): string | undefined {
  if (label === undefined) return undefined
  return UUID_PATTERN.test(label) ? label : '(not a tenant id)'
}

/** A label value others wrote (an alert name, a group key) as a log field: phone numbers and secrets filtered. */
function loggableLabel(value: string | undefined): string | undefined {
  return value === undefined ? undefined : scrubText(value)
}

type Command =
  | { kind: 'ack'; fingerprint?: string }
  | { kind: 'silence'; durationMs: number; fingerprint?: string }
  | { kind: 'status'; fingerprint?: undefined }
  | { kind: 'usage'; reply: string; fingerprint?: undefined }

/** A bare ACK that only a reply to an alert message makes one (a reaction, `OK`). */
const ACK_QUOTED: Command = { kind: 'ack', fingerprint: undefined }

/**
 * The reactions that acknowledge the alerts of the message reacted to: 👍 ✅ 👌 🙏, in any
 * skin tone (U+1F3FB–U+1F3FF) and with or without a variation selector. A small explicit set:
 * a ❤️ or a 😱 says nothing about who handles the alert, and is ignored without an answer.
 */
const ACK_REACTIONS: readonly string[] = ['👍', '✅', '👌', '🙏']

/** One of ACK_REACTIONS as typed: any skin tone, with or without a variation selector. */
const ACK_EMOJI = `(?:[${ACK_REACTIONS.join('')}][\\u{1F3FB}-\\u{1F3FF}\\uFE0E\\uFE0F]*)`
/** A character that is neither spacing nor part of an ACK_EMOJI. */
const NOT_ACK_EMOJI = `[^\\s${ACK_REACTIONS.join('')}\\u{1F3FB}-\\u{1F3FF}\\uFE0E\\uFE0F]`
/** ACK_EMOJI (one or more, spaced or not) before or after some other text. */
const ACK_EMOJI_AROUND = new RegExp(
  `(?<=${NOT_ACK_EMOJI}[^\\s]*)\\s*${ACK_EMOJI}+$|^${ACK_EMOJI}+\\s*(?=[^\\s]*${NOT_ACK_EMOJI})`,
  'gu',
)

/** Whether a reaction's emoji is one of ACK_REACTIONS; `''` (a removed reaction) is not. */
function acknowledges(emoji: string): boolean {
  return ACK_REACTIONS.includes(emoji.replace(/[\u{1F3FB}-\u{1F3FF}\uFE0E\uFE0F]/gu, ''))
}

/**
 * The words that acknowledge in a reply to an alert message, besides ACK itself and an emoji of
 * ACK_REACTIONS alone: the whole message must be one of them (read as commands are: case,
 * formatting, a closing `.`/`!`/`?`, spacing), so `okay, looking` or `ok but not mine` is
 * free text, not an ACK.
 */
const ACK_WORDS = new Set(['OK', 'OKAY', 'ON IT'])

function isAckWord(text: string): boolean {
  const command = commandText(text)
  // A swipe-reply of only 👍 (any skin tone) is a text message, not a reaction, and means the same.
  return ACK_WORDS.has(command.toUpperCase().split(/\s+/).join(' ')) || acknowledges(command)
}

/** What `ACK <ref>` with a ref that is not one is told (the text sent is not echoed back). */
export const ACK_USAGE =
  'ACK takes an alert ref of 16 hexadecimal digits, as in the alert message, or nothing for every firing alert. Nothing was acknowledged.'
/** What `SILENCE` with a duration or ref that is not one is told. */
export const SILENCE_USAGE =
  'SILENCE takes a duration from 1s to 7d (such as 30m, 2h or 1d), then optionally an alert ref of 16 hexadecimal digits. Nothing was silenced.'
/** What a forwarded command is told: forwarding is not typing it. */
export const FORWARDED_USAGE =
  'A forwarded message is not taken as a command: type ACK, SILENCE or STATUS yourself. Nothing was changed.'
const MIN_SILENCE_MS = 1000
const MAX_SILENCE_MS = 7 * 86_400_000

/**
 * `ACK`, `ACK <fp>`, `ACK:<fp>`, `SILENCE 2h [fp]`, `SILENCE:2h:<fp>`, `STATUS` (any case);
 * undefined for text that is not a command. A command verb with an argument that is not one
 * is `usage` (`SILENCE` with anything but a duration of 1s to 7d and an optional ref; `ACK`
 * with one word that is no ref; either ending in `:` with no ref): a mistyped ref must not
 * fall back to every alert, and gets told why. Read as typed (commandText): a closing `,` or
 * `;` and an acknowledging emoji beside the command (`ACK,`, `ACK 👍`) are taken off.
 *
 * @param forwarded the message was forwarded (InboundMessage.forwarded): a command in it is
 *   `usage` with FORWARDED_USAGE, never applied
 */
export function parseCommand(text: string, forwarded?: boolean): Command | undefined {
  const command = parseTyped(text)
  // A forwarded `ACK` is someone else's, written in another chat about who knows which alert;
  // its sender may believe it applied, so they are told, never ignored in silence.
  return forwarded && command ? { kind: 'usage', reply: FORWARDED_USAGE } : command
}

/** parseCommand for a message its sender typed. */
function parseTyped(text: string): Command | undefined {
  const trimmed = commandText(text)
  // `ACK, thanks` is the verb and a word after it, as `ACK thanks` is.
  const words = trimmed.split(/[\s:,;]+/).filter(Boolean)
  const verb = words[0]?.toUpperCase()
  const isRef = (value: string) => /^[0-9a-f]{16}$/i.test(value)
  // `ACK:` and `SILENCE:2h:` (a button payload that lost its ref) announce a ref they lack:
  // read as no ref, they would reach every firing alert.
  const missingRef = trimmed.endsWith(':')
  if (verb === 'ACK' && words.length <= 2) {
    if (words[1] === undefined)
      return missingRef ? { kind: 'usage', reply: ACK_USAGE } : { kind: 'ack', fingerprint: undefined }
    return isRef(words[1])
      ? { kind: 'ack', fingerprint: words[1].toLowerCase() }
      : { kind: 'usage', reply: ACK_USAGE }
  }
  if (verb === 'STATUS' && words.length === 1) return { kind: 'status' }
  if (verb === 'SILENCE') {
    // Whatever follows SILENCE is meant as its arguments: anything but a duration and an
    // optional ref is told the form, never ignored.
    const ref = words[2]
    let durationMs = Number.NaN
    try {
      durationMs = parseDuration((words[1] ?? '').toLowerCase())
    } catch {
      // told below
    }
    if (
      words.length > 3 ||
      !(durationMs >= MIN_SILENCE_MS && durationMs <= MAX_SILENCE_MS) ||
      (ref !== undefined && !isRef(ref)) ||
      (ref === undefined && missingRef)
    )
      return { kind: 'usage', reply: SILENCE_USAGE }
    return { kind: 'silence', durationMs, fingerprint: ref?.toLowerCase() }
  }
  return undefined
}

/**
 * The text a phone actually sends, read as the command it was typed as: compatibility forms
 * folded (a full-width `ＳＴＡＴＵＳ`, NFKC), invisible format characters dropped (zero-width
 * and bidi marks a keyboard or a copy inserts, `\p{Cf}`), WhatsApp's own formatting around it
 * (`*STATUS*`, `_ack_`, `~…~`, backticks), a sentence's end (`ACK!`, `STATUS.`, `ACK,`,
 * `ack;`), an acknowledging emoji beside the command (`ACK 👍`) and a leading slash (`/ack`)
 * taken off,
 * and a Turkish keyboard's dotted `İ`/dotless `ı` read as `I`/`i`. Unrecognised, each of
 * these was ignored in silence, and an owner believed an alert acknowledged that was not.
 */
function commandText(text: string): string {
  return (
    text
      .normalize('NFKC')
      .replace(/\p{Cf}/gu, '')
      .replace(/[İı]/g, (c) => (c === 'İ' ? 'I' : 'i'))
      .trim()
      // `ACK 👍`, `ok ✅`, `👍 ack`: the emoji only repeats the acknowledgement. Taken off only
      // beside other text, so a reply of 👍 alone still reads as one (isAckWord).
      .replace(ACK_EMOJI_AROUND, '')
      .replace(/^[*_~`]+|[*_~`]+$/g, '')
      // `,` and `;` end a typed command as `.` does (`ACK,` was ignored in silence); `:` does
      // not, since `ACK:` is a button payload that lost its ref (parseCommand).
      .replace(/[.!?,;]+$/, '')
      // A chat-bot habit (`/ack`, `/status`): the slash is no part of the command.
      .replace(/^\//, '')
      .trim()
  )
}
