/**
 * What alert delivery reports. The Prometheus implementation (whatsapp_messages_sent_total,
 * whatsapp_send_duration_seconds, alert_notifications_pending, whatsapp_token_valid,
 * alert_routing_missing_phone_total, alertmanager_receiver_invalid_alerts_total) lives with the metrics registry.
 */
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
}

export const noAlertingMetrics: AlertingMetrics = {
  messageSent() {},
  sendDuration() {},
  pending() {},
  tokenValid() {},
  missingTenantPhone() {},
  invalidAlerts() {},
}
