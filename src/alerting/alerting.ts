import { join } from 'node:path'
import type { Config } from '../config.ts'
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import type { Database } from '../db/client.ts'
import type { HttpClient } from '../http/outbound.ts'
import { type AlertingMetrics, noAlertingMetrics } from './metrics.ts'
import { createDispatcher } from './notify/dispatcher.ts'
import { createReceipts } from './notify/receipts.ts'
import type { AlertContacts } from './notify/recipients.ts'
import { createSender } from './notify/sender.ts'
import { createOrphanSweep } from './rules/manager.ts'
import {
  createCloudApiTransport,
  createLogTransport,
  LOG_TRANSPORT_FILE,
  type WhatsAppTransport,
} from './whatsapp/client.ts'

const HOUR_MS = 3_600_000

export interface AlertingDeps {
  config: Pick<Config, 'env' | 'database' | 'alerts' | 'whatsapp'>
  db: Database
  http: HttpClient
  clock: Clock
  log: Logger
  metrics?: AlertingMetrics
  /** Tenants' alert phones and quiet hours (the tenants feature's port). */
  contacts: AlertContacts
  /** Overrides the transport chosen from the config (tests). */
  transport?: WhatsAppTransport
  random?: () => number
}

/**
 * Alert delivery: the dispatcher (routing, grouping, repeats, acks), the outbox sender and the
 * delivery receipts, and with the rule manager off (ALERTS_ENABLED=false) the sweep that ends
 * the alerts it stored. Pure wiring: nothing runs until the entry file calls `start()`.
 */
export function createAlerting(deps: AlertingDeps) {
  const { config, db, clock } = deps
  const log = deps.log.child({ component: 'alerts' })
  const metrics = deps.metrics ?? noAlertingMetrics
  const wa = config.whatsapp
  const transport =
    deps.transport ??
    (wa.accessToken && wa.phoneNumberId
      ? createCloudApiTransport(
          {
            apiBase: wa.apiBase,
            apiVersion: wa.apiVersion,
            phoneNumberId: wa.phoneNumberId,
            accessToken: wa.accessToken,
            timeoutMs: wa.timeoutMs,
          },
          deps.http,
        )
      : // In development the messages also go to a file, for `bun run demo:incident`.
        createLogTransport(
          log,
          config.env === 'development' ? { file: join(config.database.dataDir, LOG_TRANSPORT_FILE) } : {},
        ))
  const templates = {
    firing: wa.templateFiring,
    resolved: wa.templateResolved,
    language: wa.templateLanguage,
  }
  const dispatcher = createDispatcher({
    db,
    config: config.alerts,
    clock,
    log,
    metrics,
    contacts: deps.contacts,
  })
  const sender = createSender({
    db,
    transport,
    clock,
    log,
    metrics,
    random: deps.random,
    config: {
      templates,
      retryBaseMs: wa.retryBaseMs,
      maxAttempts: wa.maxAttempts,
      leaseMs: config.alerts.sendLeaseMs,
      messagesPerSecond: wa.messagesPerSecond,
      messagesPerTick: Math.max(
        1,
        Math.floor((wa.messagesPerSecond * config.alerts.notifyIntervalMs) / 1000),
      ),
    },
  })
  // With the rule manager off, the alerts it stored still end (see createOrphanSweep).
  const orphanSweep = config.alerts.ruleManagerEnabled
    ? undefined
    : createOrphanSweep({
        db,
        dispatcher,
        clock,
        log: log.child({ component: 'rule-manager' }),
        orphanSweepIntervalMs: config.alerts.evalIntervalMs,
      })
  const receipts = createReceipts({
    db,
    clock,
    log,
    metrics,
    templates,
    retry: { baseMs: wa.retryBaseMs, maxAttempts: wa.maxAttempts, random: deps.random ?? Math.random },
  })

  // Pruning is cheap but scans the outbox: a few times per retention period, at most hourly.
  const pruneEveryMs = Math.min(HOUR_MS, config.alerts.historyRetentionMs / 4)
  let prunedAt = Number.NEGATIVE_INFINITY

  let timer: ReturnType<typeof setTimeout> | undefined
  let running: Promise<void> | undefined
  let stopped = true
  // Set by stop() only: a pass run by tick() without start() (tests, one-off runs) is not cut short.
  let stopping = false

  /**
   * One dispatcher tick: Alertmanager alerts no notification listed for
   * ALERTMANAGER_ALERT_STALE_AFTER are resolved, repeats due, then everything due goes out,
   * then (hourly) the history past ALERT_HISTORY_RETENTION is deleted. Never throws.
   */
  async function tick() {
    try {
      // Before the repeats: an alert that has ended must not be repeated once more.
      await dispatcher.resolveStale()
      await dispatcher.enqueueRepeats()
      await sender.sendDue(() => stopping)
      const now = clock.now().getTime()
      if (config.alerts.historyRetentionMs > 0 && now - prunedAt >= pruneEveryMs) {
        prunedAt = now
        const deleted = await dispatcher.pruneHistory()
        if (deleted.outbox > 0 || deleted.alerts > 0)
          log.info({ event: 'alert_history_pruned', ...deleted }, 'alert history past its retention deleted')
      }
    } catch (error) {
      log.error({ err: error }, 'alert notifier tick failed; retrying next tick')
    }
  }

  function schedule() {
    if (stopped) return
    timer = setTimeout(() => {
      running = tick().finally(schedule)
    }, config.alerts.notifyIntervalMs)
  }

  return {
    dispatcher,
    sender,
    receipts,
    transport,
    tick,
    /** The sweep of the rule manager's stored alerts when ALERTS_ENABLED=false, else undefined. */
    orphanSweep,
    start() {
      if (!stopped) return
      stopped = false
      stopping = false
      if (transport.kind === 'log') {
        log.warn('WhatsApp credentials not set: alerts are written to the log instead of being sent')
      } else if (!templates.firing || !templates.resolved) {
        log.warn(
          'WHATSAPP_TEMPLATE_FIRING/RESOLVED not set: alerts go out as free text, which WhatsApp refuses (131047) outside the 24-hour window after the recipient last wrote',
        )
      }
      schedule()
      orphanSweep?.start()
    },
    /** Stops the loop and waits for a tick in progress. */
    async stop() {
      stopped = true
      stopping = true
      clearTimeout(timer)
      await Promise.all([running, orphanSweep?.stop()])
    },
  }
}

export type Alerting = ReturnType<typeof createAlerting>
