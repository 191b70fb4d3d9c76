import { Counter, Gauge, Histogram } from '../observability/instruments.ts'
import type { MetricsRegistry } from '../observability/metrics.ts'

/**
 * What alert delivery reports. The Prometheus implementation (whatsapp_messages_sent_total,
 * whatsapp_send_duration_seconds, alert_notifications_pending, whatsapp_token_valid,
 * alert_routing_missing_phone_total, alertmanager_receiver_invalid_alerts_total,
 * whatsapp_earlier_attempt_statuses_total, alertmanager_alerts_resolved_unlisted_total) is
 * `createAlertingMetrics`.
 */
/** What a late status of an earlier attempt found: see `AlertingMetrics.earlierAttemptStatus`. */
export type EarlierAttemptOutcome = 'resend_cancelled' | 'after_resend'

export interface AlertingMetrics {
  /** One Cloud API (or log transport) attempt and its outcome. */
  messageSent(status: 'sent' | 'failed' | 'retry'): void
  sendDuration(seconds: number): void
  /** Outbox rows waiting to be sent (pending or sending). */
  pending(count: number): void
  tokenValid(valid: boolean): void
  missingTenantPhone(): void
  /** Malformed alerts skipped inside an accepted Alertmanager notification. */
  invalidAlerts(count: number): void
  /**
   * A `sent`/`delivered`/`read` for an earlier attempt of a message we had re-queued:
   * `resend_cancelled` (it went out after all; the re-send was dropped) or `after_resend` (the
   * re-send had gone too: the recipient got it twice). One per status, not per row.
   */
  earlierAttemptStatus(outcome: EarlierAttemptOutcome): void
  /**
   * Firing Alertmanager alerts we resolved ourselves, since no resolution came:
   * `group_notification` (a complete notification of their group no longer listed them) or
   * `stale` (no notification listed them for ALERTMANAGER_ALERT_STALE_AFTER).
   */
  alertsResolvedUnlisted(reason: UnlistedReason, count: number): void
}

/** Why an Alertmanager alert was resolved without its resolution (alertsResolvedUnlisted). */
export type UnlistedReason = 'group_notification' | 'stale'

export const noAlertingMetrics: AlertingMetrics = {
  messageSent() {},
  sendDuration() {},
  pending() {},
  tokenValid() {},
  missingTenantPhone() {},
  invalidAlerts() {},
  earlierAttemptStatus() {},
  alertsResolvedUnlisted() {},
}

/** Send durations of one Cloud API call, in seconds (the same scale as a payment provider call). */
const WHATSAPP_DURATION_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10, 30] as const

/** Builds and registers the alert-delivery families in the app's registry. */
export function createAlertingMetrics(metrics: MetricsRegistry): AlertingMetrics {
  const whatsappSent = metrics.register(
    new Counter<'status'>({
      name: 'whatsapp_messages_sent_total',
      help: 'WhatsApp alert send attempts by outcome: sent, retry (will be retried), failed (given up).',
      labelNames: ['status'],
      ...metrics.budget('whatsapp_messages_sent_total'),
    }),
  )
  for (const status of ['sent', 'retry', 'failed']) whatsappSent.labels(status)
  const whatsappDuration = metrics.register(
    new Histogram({
      name: 'whatsapp_send_duration_seconds',
      help: 'Duration of one WhatsApp Cloud API call, whatever its outcome.',
      buckets: WHATSAPP_DURATION_BUCKETS,
    }),
  )
  const notificationsPending = metrics.register(
    new Gauge({
      name: 'alert_notifications_pending',
      help: 'Alert notifications waiting in the outbox (pending or sending).',
    }),
  )
  const tokenValid = metrics.register(
    new Gauge({
      name: 'whatsapp_token_valid',
      help: '0 after the Cloud API rejected the access token (error 190), 1 after a successful send.',
    }),
  )
  tokenValid.unlabelled.set(1)
  const missingPhone = metrics.register(
    new Counter({
      name: 'alert_routing_missing_phone_total',
      help: 'Alerts for a tenant that has no phone configured (sent to on-call only).',
    }),
  )
  const invalidAlerts = metrics.register(
    new Counter({
      name: 'alertmanager_receiver_invalid_alerts_total',
      help: 'Malformed alerts skipped inside accepted Alertmanager notifications (the others were taken).',
    }),
  )
  const earlierAttempt = metrics.register(
    new Counter<'outcome'>({
      name: 'whatsapp_earlier_attempt_statuses_total',
      help: 'Late sent/delivered/read statuses of an alert message attempt we had re-queued: resend_cancelled (it went out after all), after_resend (the re-send went too).',
      labelNames: ['outcome'],
      ...metrics.budget('whatsapp_earlier_attempt_statuses_total'),
    }),
  )
  for (const outcome of ['resend_cancelled', 'after_resend']) earlierAttempt.labels(outcome)
  const resolvedUnlisted = metrics.register(
    new Counter<'reason'>({
      name: 'alertmanager_alerts_resolved_unlisted_total',
      help: 'Firing Alertmanager alerts resolved without their resolution: group_notification (a complete notification of their group no longer listed them), stale (no notification listed them for ALERTMANAGER_ALERT_STALE_AFTER).',
      labelNames: ['reason'],
      ...metrics.budget('alertmanager_alerts_resolved_unlisted_total'),
    }),
  )
  for (const reason of ['group_notification', 'stale']) resolvedUnlisted.labels(reason)
  return {
    messageSent: (status) => whatsappSent.labels(status).inc(),
    sendDuration: (seconds) => whatsappDuration.unlabelled.observe(seconds),
    pending: (count) => notificationsPending.unlabelled.set(count),
    tokenValid: (valid) => tokenValid.unlabelled.set(valid ? 1 : 0),
    missingTenantPhone: () => missingPhone.unlabelled.inc(),
    invalidAlerts: (count) => invalidAlerts.unlabelled.inc(count),
    earlierAttemptStatus: (outcome) => earlierAttempt.labels(outcome).inc(),
    alertsResolvedUnlisted: (reason, count) => resolvedUnlisted.labels(reason).inc(count),
  }
}
