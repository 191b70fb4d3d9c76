import type { AlertExample } from '../rules/example.ts'
import { cutText, type OutgoingMessage, sanitizeTemplateParameter } from '../whatsapp/client.ts'

/**
 * One alert inside an outbox row. A row is one notification for one recipient and holds every
 * alert of one transition that one notification (or evaluation tick) brought for them, so a
 * storm writes one row per recipient, not one per alert. Only what a message shows is kept.
 */
export interface NotifiedAlert {
  fingerprint: string
  /** ISO start of the firing episode: with the fingerprint, it names what the recipient was told. */
  startsAt: string
  alertname: string
  severity: string
  /** Where it fires: the first of instance, node, pod, host, … the labels carry. */
  where?: string
  /** The description (firing) or summary (resolved), capped at DETAIL_LIMIT characters. */
  detail?: string
  value?: string
  /** The alert's absolute `runbook_url` annotation (RUNBOOK_BASE_URL), shown with a firing alert. */
  runbook?: string
  /** A repeat of a still-firing alert. */
  repeat?: boolean
  /**
   * One failing request, from an exemplar at evaluation time (firing alerts of the rule
   * manager): kept in the row, so a retried send names the same request.
   */
  example?: AlertExample
}

/** An alert as a message shows it: with the transition of the row it came in. */
export interface RenderedAlert extends NotifiedAlert {
  transition: 'firing' | 'resolved'
}

/** Everything due for one recipient in one message. */
export interface MessageContent {
  /** Answers to commands (free text). */
  replies: string[]
  alerts: RenderedAlert[]
  /** Alerts Alertmanager left out of the notifications (`truncatedAlerts`). */
  truncatedAlerts: number
}

/** WhatsApp's limit of a text message body. */
export const TEXT_LIMIT = 4096
/** Detail kept per alert: enough for a sentence, bounded for a 10 000-alert row. */
export const DETAIL_LIMIT = 300
/** A longer runbook link is left out rather than cut (a cut link leads nowhere). */
export const RUNBOOK_LIMIT = 300
/** Up to this many alerts a message shows each on its own; more are summarised by name. */
export const DETAILED_ALERTS = 10
/**
 * Template body parameters {{1}}…{{4}} are capped so that together they stay within the
 * 1 024 characters of a template body, leaving 104 for the template's own text.
 */
export const TEMPLATE_PARAMETER_LIMITS = [20, 200, 600, 100] as const

const WHERE_LABELS = ['instance', 'node', 'pod', 'host', 'device', 'endpoint', 'route', 'service', 'job']

const SEVERITY_ORDER = ['critical', 'error', 'warning', 'info']
const severityRank = (severity: string) => {
  const rank = SEVERITY_ORDER.indexOf(severity)
  return rank === -1 ? SEVERITY_ORDER.length : rank
}

const cap = (value: string | undefined, limit: number) =>
  value && value.length > limit ? `${cutText(value, limit - 1)}…` : value || undefined

/** What a row keeps of one alert (labels and annotations as the sources hand them over). */
export function notifiedAlert(
  alert: {
    fingerprint: string
    startsAt: Date
    labels: Record<string, string>
    annotations: Record<string, string>
    value?: string
    example?: AlertExample
  },
  transition: 'firing' | 'resolved',
  repeat = false,
): NotifiedAlert {
  const { labels, annotations } = alert
  const where = WHERE_LABELS.map((name) => labels[name]).find((value) => value)
  const detail =
    transition === 'resolved'
      ? annotations.summary || annotations.description
      : annotations.description || annotations.summary
  const value = alert.value || annotations.value
  // Only an absolute link is clickable in WhatsApp; a relative path would only mislead.
  const runbook = /^https?:\/\//.test(annotations.runbook_url ?? '') ? annotations.runbook_url : undefined
  const example = transition === 'firing' ? exampleKept(alert.example) : undefined
  return {
    fingerprint: alert.fingerprint,
    startsAt: alert.startsAt.toISOString(),
    alertname: labels.alertname ?? 'unnamed',
    severity: (labels.severity ?? 'warning').toLowerCase(),
    ...(where ? { where: cap(where, 64) } : {}),
    ...(detail ? { detail: cap(detail, DETAIL_LIMIT) } : {}),
    ...(value ? { value: cap(value, 40) } : {}),
    ...(runbook && runbook.length <= RUNBOOK_LIMIT ? { runbook } : {}),
    ...(repeat ? { repeat: true } : {}),
    ...(example ? { example } : {}),
  }
}

/** The example as a row keeps it: a trace link longer than RUNBOOK_LIMIT is left out, not cut. */
function exampleKept(example: AlertExample | undefined): AlertExample | undefined {
  if (!example) return undefined
  const { traceUrl, ...rest } = example
  return traceUrl && traceUrl.length <= RUNBOOK_LIMIT ? { ...rest, traceUrl } : rest
}

/**
 * `Example request: <request_id>`, then `Trace: <link>` on its own line (a link alone on a line
 * stays clickable), or the bare trace id in parentheses when no TRACE_BASE_URL makes a link.
 */
function exampleLines(example: AlertExample): string[] {
  if (example.traceUrl) return [`Example request: ${example.requestId}`, `Trace: ${example.traceUrl}`]
  if (example.traceId) return [`Example request: ${example.requestId} (trace ${example.traceId})`]
  return [`Example request: ${example.requestId}`]
}

// One collator for every comparison: `localeCompare` with options builds one per call, which
// dominates sorting a 10 000-alert storm. Numeric, so node-2 sorts before node-10.
const collator = new Intl.Collator('en', { numeric: true })

/** Firing before resolved, then critical first, then by name and place. */
export function compareAlerts(a: RenderedAlert, b: RenderedAlert): number {
  if (a.transition !== b.transition) return a.transition === 'firing' ? -1 : 1
  return (
    severityRank(a.severity) - severityRank(b.severity) ||
    collator.compare(a.alertname, b.alertname) ||
    collator.compare(a.where ?? '', b.where ?? '')
  )
}

/** The most severe of some severities (unknown ones rank last). */
export function topSeverity(severities: Iterable<string>): string {
  let top: string | undefined
  for (const s of severities) if (top === undefined || severityRank(s) < severityRank(top)) top = s
  return top ?? 'info'
}

/** The original design's format: `🔔 *CRITICAL ALERT*: Name` + description; `✅ *RESOLVED*: Name` + summary. */
function alertBlock(alert: RenderedAlert): string {
  const lines =
    alert.transition === 'resolved'
      ? [`✅ *RESOLVED*: ${alert.alertname}`, alert.detail]
      : [
          `🔔 *${alert.severity.toUpperCase()} ALERT*: ${alert.alertname}${alert.repeat ? ' (still firing)' : ''}`,
          alert.detail,
          alert.runbook ? `Runbook: ${alert.runbook}` : undefined,
          ...(alert.example ? exampleLines(alert.example) : []),
        ]
  lines.push(`ref: ${alert.fingerprint}`)
  return lines.filter((line) => line).join('\n')
}

const truncatedNote = (n: number) => `+${n} more not shown by Alertmanager`

/** Alerts of one name (and transition and severity), as a summary line shows them. */
interface NameGroup {
  transition: 'firing' | 'resolved'
  severity: string
  alertname: string
  alerts: RenderedAlert[]
}

function groupByName(alerts: RenderedAlert[]): NameGroup[] {
  const groups = new Map<string, NameGroup>()
  for (const alert of alerts) {
    const key = `${alert.transition}\u0000${alert.severity}\u0000${alert.alertname}`
    let group = groups.get(key)
    if (!group) {
      group = {
        transition: alert.transition,
        severity: alert.severity,
        alertname: alert.alertname,
        alerts: [],
      }
      groups.set(key, group)
    }
    group.alerts.push(alert)
  }
  return [...groups.values()]
}

/** `on node-0, node-1` or `on node-0 … node-1498` (first and last, as sorted). */
function places(alerts: RenderedAlert[]): string {
  const where = [...new Set(alerts.map((a) => a.where).filter((w): w is string => !!w))]
  if (where.length === 0) return ''
  if (where.length <= 3) return ` on ${where.join(', ')}`
  return ` on ${where[0]} … ${where[where.length - 1]}`
}

function summaryLine(group: NameGroup): string {
  const first = group.alerts[0]!
  const count = group.alerts.length
  const detail = first.detail ? ` — ${cap(first.detail, 120)}` : ''
  const ref = count === 1 ? ` — ref ${first.fingerprint}` : ''
  return `• ${group.alertname} ×${count}${places(group.alerts)}${detail}${ref}`
}

function countBySeverity(alerts: RenderedAlert[]): string {
  const counts = new Map<string, number>()
  for (const a of alerts) counts.set(a.severity, (counts.get(a.severity) ?? 0) + 1)
  return [...counts]
    .sort(([a], [b]) => severityRank(a) - severityRank(b))
    .map(([severity, n]) => `${n} ${severity}`)
    .join(', ')
}

/**
 * A storm in one message: a header with counts, then one line per alert name (critical first,
 * `StormNoise ×1499 on node-0 … node-1498`), as many as fit; the names that do not fit are
 * counted in a last line, so no alert disappears without a number.
 */
function summaryText(content: MessageContent, prefix: string): string {
  const firing = content.alerts.filter((a) => a.transition === 'firing')
  const resolved = content.alerts.filter((a) => a.transition === 'resolved')
  const header: string[] = []
  // Repeats of alerts already announced say so, as a single alert's "(still firing)" does.
  const still = firing.length > 0 && firing.every((a) => a.repeat) ? 'still firing' : 'firing'
  if (firing.length) header.push(`🔔 *${firing.length} alerts ${still}*: ${countBySeverity(firing)}`)
  if (resolved.length) header.push(`✅ *${resolved.length} resolved*`)
  const footer: string[] = []
  if (content.truncatedAlerts > 0) footer.push(truncatedNote(content.truncatedAlerts))
  footer.push('Reply STATUS for the list, ACK to acknowledge.')
  const groups = groupByName(content.alerts)
  const lines: string[] = []
  let section = ''
  let budget = TEXT_LIMIT - prefix.length - header.join('\n').length - footer.join('\n').length - 120
  let shown = 0
  for (const group of groups) {
    const title = group.transition === 'resolved' ? '✅ *RESOLVED*' : `*${group.severity.toUpperCase()}*`
    const add = [...(title !== section ? [title] : []), summaryLine(group)]
    const size = add.join('\n').length + 1
    if (size > budget) break
    budget -= size
    lines.push(...add)
    section = title
    shown++
  }
  const rest = groups.slice(shown)
  if (rest.length > 0) {
    const alerts = rest.reduce((n, g) => n + g.alerts.length, 0)
    lines.push(`…and ${alerts} more alerts under ${rest.length} more names`)
  }
  return `${prefix}${[header.join('\n'), lines.join('\n'), footer.join('\n')].join('\n\n')}`
}

/**
 * One text message for everything due for a recipient in one tick, within WhatsApp's 4 096
 * characters whatever the number of alerts: replies first, then up to DETAILED_ALERTS alerts
 * each in full; beyond that (or when they do not fit) a summary by alert name with counts.
 */
export function renderText(content: MessageContent): string {
  const alerts = [...content.alerts].sort(compareAlerts)
  const replies = content.replies.map((r) => cap(r, TEXT_LIMIT) ?? '')
  const sorted = { ...content, alerts }
  const blocks = [...replies, ...alerts.map(alertBlock)]
  if (content.truncatedAlerts > 0) blocks.push(truncatedNote(content.truncatedAlerts))
  const detailed = blocks.join('\n\n')
  if (alerts.length <= DETAILED_ALERTS && detailed.length <= TEXT_LIMIT) return detailed
  if (alerts.length === 0) return cutText(detailed, TEXT_LIMIT)
  const prefix = replies.length ? `${replies.join('\n\n')}\n\n` : ''
  const text = summaryText(sorted, prefix.length > TEXT_LIMIT / 2 ? '' : prefix)
  return text.length > TEXT_LIMIT ? `${cutText(text, TEXT_LIMIT - 1)}…` : text
}

/** `HighErrorRate, StormNoise ×1499` (critical names first). */
function namesWithCounts(alerts: RenderedAlert[]): string {
  return groupByName(alerts)
    .map((g) => (g.alerts.length > 1 ? `${g.alertname} ×${g.alerts.length}` : g.alertname))
    .filter((name, i, all) => all.indexOf(name) === i)
    .join(', ')
}

/**
 * Template body parameters, in this order: {{1}} severity, {{2}} alert name(s) with counts,
 * {{3}} description (firing) or summary (resolved), {{4}} value(s). Several alerts are joined
 * with " | "; a storm's {{3}} starts with its counts, and ends with the first firing alert's
 * example request (`example request <id> <trace link>`), for which the description is cut
 * shorter. Each is sanitised the way Meta requires and capped by TEMPLATE_PARAMETER_LIMITS.
 */
export function templateParameters(content: MessageContent): string[] {
  const alerts = [...content.alerts].sort(compareAlerts)
  const [severityLimit, namesLimit, detailLimit, valueLimit] = TEMPLATE_PARAMETER_LIMITS
  const details = groupByName(alerts)
    .map((g) => g.alerts[0]!.detail)
    .filter(Boolean)
  const counts =
    alerts.length > DETAILED_ALERTS ? [`${alerts.length} alerts: ${countBySeverity(alerts)}`] : []
  const truncated = content.truncatedAlerts > 0 ? [truncatedNote(content.truncatedAlerts)] : []
  const described = [...counts, ...truncated, ...details].join(' | ')
  const example = alerts.find((a) => a.transition === 'firing' && a.example)?.example
  const exampleText = example ? exampleParameterText(example) : ''
  return [
    sanitizeTemplateParameter(topSeverity(alerts.map((a) => a.severity)).toUpperCase(), severityLimit),
    sanitizeTemplateParameter(namesWithCounts(alerts), namesLimit),
    !exampleText
      ? sanitizeTemplateParameter(described, detailLimit)
      : described.trim()
        ? `${sanitizeTemplateParameter(described, detailLimit - exampleText.length - 3)} | ${exampleText}`
        : exampleText,
    sanitizeTemplateParameter(
      alerts
        .map((a) => a.value)
        .filter(Boolean)
        .join(' | '),
      valueLimit,
    ),
  ]
}

/** `example request <id> <link>` (or `(trace <id>)` without a link), sanitised: at most 450 characters. */
function exampleParameterText(example: AlertExample): string {
  const trace = example.traceUrl ?? (example.traceId ? `(trace ${example.traceId})` : '')
  return sanitizeTemplateParameter(`example request ${example.requestId} ${trace}`, 450)
}

export interface TemplateNames {
  firing?: string
  resolved?: string
  language: string
}

/**
 * Chooses text or template for what is due for one recipient (a template carries one
 * transition). Free text is only allowed inside the 24-hour window that the recipient's own
 * last message opened; outside it a configured template is used. Replies are always text.
 */
export function renderMessage(
  content: MessageContent,
  transition: string | undefined,
  templates: TemplateNames,
  windowOpen: boolean,
): OutgoingMessage {
  const name =
    transition === 'firing' ? templates.firing : transition === 'resolved' ? templates.resolved : undefined
  if (name && !windowOpen && content.replies.length === 0) {
    return { kind: 'template', name, language: templates.language, parameters: templateParameters(content) }
  }
  return { kind: 'text', body: renderText(content) }
}
