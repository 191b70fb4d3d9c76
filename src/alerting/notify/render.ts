import { type OutgoingMessage, sanitizeTemplateParameter } from '../whatsapp/client.ts'

/** One outbox row as the renderer sees it. */
export interface RenderItem {
  fingerprint: string
  alertname: string
  severity: string
  transition: string
  content: Record<string, unknown>
}

export const TEXT_LIMIT = 4096

const text = (value: unknown) => (typeof value === 'string' ? value : '')
const annotations = (item: RenderItem) => (item.content.annotations ?? {}) as Record<string, string>

function alertValue(item: RenderItem): string {
  return text(item.content.value) || text(annotations(item).value)
}

/** The original design's format: `🔔 *CRITICAL ALERT*: Name` + description; `✅ *RESOLVED*: Name` + summary. */
function textBlock(item: RenderItem): string {
  if (item.transition === 'reply') return text(item.content.text)
  const notes = annotations(item)
  const lines =
    item.transition === 'resolved'
      ? [`✅ *RESOLVED*: ${item.alertname}`, notes.summary || notes.description]
      : [
          `🔔 *${item.severity.toUpperCase()} ALERT*: ${item.alertname}${item.content.repeat ? ' (still firing)' : ''}`,
          notes.description || notes.summary,
        ]
  lines.push(`ref: ${item.fingerprint}`)
  return lines.filter((line) => line).join('\n')
}

/**
 * One text message for everything due for a recipient in one tick, capped at WhatsApp's
 * 4096 characters (blocks that do not fit are counted, not cut mid-way).
 */
export function renderText(items: RenderItem[]): string {
  const blocks = items.map(textBlock)
  let body = ''
  for (let i = 0; i < blocks.length; i++) {
    const next = body ? `${body}\n\n${blocks[i]}` : blocks[i]!
    const rest = blocks.length - i - 1
    const footer = rest > 0 ? `\n\n…and ${rest} more` : ''
    if (next.length + footer.length > TEXT_LIMIT) {
      const more = `\n\n…and ${blocks.length - i} more`
      return body
        ? `${body}${more}`.slice(0, TEXT_LIMIT)
        : `${blocks[i]!.slice(0, TEXT_LIMIT - more.length - 1)}…${more}`
    }
    body = next
  }
  return body
}

const SEVERITY_ORDER = ['critical', 'error', 'warning', 'info']

/**
 * Template body parameters, in this order: {{1}} severity, {{2}} alert name(s),
 * {{3}} description (firing) or summary (resolved), {{4}} value(s). Several alerts in one
 * tick are joined with " | ". Parameters are sanitised the way Meta requires.
 */
export function templateParameters(items: RenderItem[]): string[] {
  const severity =
    [...items]
      .map((i) => i.severity)
      .sort((a, b) => SEVERITY_ORDER.indexOf(a) - SEVERITY_ORDER.indexOf(b))[0] ?? 'info'
  const detail = items.map((item) => {
    const notes = annotations(item)
    return item.transition === 'resolved'
      ? notes.summary || notes.description
      : notes.description || notes.summary
  })
  return [
    sanitizeTemplateParameter(severity.toUpperCase(), 20),
    sanitizeTemplateParameter(items.map((i) => i.alertname).join(', '), 200),
    sanitizeTemplateParameter(detail.filter(Boolean).join(' | '), 700),
    sanitizeTemplateParameter(items.map(alertValue).filter(Boolean).join(' | '), 100),
  ]
}

export interface TemplateNames {
  firing?: string
  resolved?: string
  language: string
}

/**
 * Chooses text or template for a group of items that share one transition. Free text is only
 * allowed inside the 24-hour window that the recipient's own last message opened; outside it a
 * configured template is used. Replies to commands are always text (the recipient just wrote).
 */
export function renderMessage(
  items: RenderItem[],
  templates: TemplateNames,
  windowOpen: boolean,
): OutgoingMessage {
  const transition = items[0]?.transition
  const name =
    transition === 'firing' ? templates.firing : transition === 'resolved' ? templates.resolved : undefined
  if (name && !windowOpen) {
    return { kind: 'template', name, language: templates.language, parameters: templateParameters(items) }
  }
  return { kind: 'text', body: renderText(items) }
}
