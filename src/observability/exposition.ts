/**
 * The two text formats Prometheus scrapes, rendered from one set of families.
 *
 * prom-client fixes the format per Registry and, when it renders OpenMetrics, renames counter
 * objects in place (it strips `_total` from `metric.name`), so one registry cannot safely
 * serve both. This module formats the data itself: our own instruments render their samples
 * directly, prom-client's collectors are read through their public `get()`.
 */
import {
  type ExpositionFormat,
  escapeLabelValue,
  exemplarText,
  formatValue,
  type PromMetricData,
  type RenderableFamily,
} from './instruments.ts'

export type { ExpositionFormat }

export const CONTENT_TYPES: Record<ExpositionFormat, string> = {
  prometheus: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
}

interface MediaRange {
  type: string
  version: string | undefined
  q: number
}

function parseAccept(accept: string): MediaRange[] {
  const ranges: MediaRange[] = []
  for (const part of accept.split(',')) {
    const [typePart, ...params] = part.split(';')
    const type = typePart!.trim().toLowerCase()
    if (!type) continue
    let q = 1
    let version: string | undefined
    for (const param of params) {
      const eq = param.indexOf('=')
      if (eq === -1) continue
      const key = param.slice(0, eq).trim().toLowerCase()
      const value = param
        .slice(eq + 1)
        .trim()
        .replace(/^"|"$/g, '')
      if (key === 'q') {
        const parsed = Number(value)
        q = Number.isFinite(parsed) ? Math.min(1, Math.max(0, parsed)) : 0
      } else if (key === 'version') version = value
    }
    ranges.push({ type, version, q })
  }
  return ranges
}

/**
 * Picks the exposition format from an Accept header, as Prometheus' content negotiation
 * describes: OpenMetrics (1.0.0, or 0.0.1 which Prometheus parses the same way) when the
 * client prefers it at least as much as plain text, otherwise the 0.0.4 text format, which
 * is also the answer to a missing or unknown Accept.
 */
export function negotiateFormat(accept: string | null | undefined): ExpositionFormat {
  if (!accept) return 'prometheus'
  let openMetrics = 0
  let text = 0
  for (const range of parseAccept(accept)) {
    if (range.type === 'application/openmetrics-text') {
      if (range.version === undefined || range.version === '1.0.0' || range.version === '0.0.1') {
        openMetrics = Math.max(openMetrics, range.q)
      }
    } else if (range.type === 'text/plain' || range.type === 'text/*' || range.type === '*/*') {
      text = Math.max(text, range.q)
    }
  }
  return openMetrics > 0 && openMetrics >= text ? 'openmetrics' : 'prometheus'
}

function escapeHelp(help: string, format: ExpositionFormat): string {
  const escaped = help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
  return format === 'openmetrics' ? escaped.replace(/"/g, '\\"') : escaped
}

/** The HELP and TYPE lines of a family; OpenMetrics names a counter family without `_total`. */
export function familyHeader(name: string, help: string, type: string, format: ExpositionFormat): string {
  const family = format === 'openmetrics' && type === 'counter' ? name.replace(/_total$/, '') : name
  return `# HELP ${family} ${escapeHelp(help, format)}\n# TYPE ${family} ${type}\n`
}

/**
 * Formats the samples of a prom-client metric's `get()` result; a sample's `exemplar` is
 * rendered in OpenMetrics only (text format 0.0.4 has no syntax for exemplars).
 */
export function renderPromData(
  data: PromMetricData,
  format: ExpositionFormat,
): { text: string; samples: number } {
  let text = ''
  for (const sample of data.values) {
    let name = sample.metricName ?? data.name
    if (format === 'openmetrics' && data.type === 'counter' && !name.endsWith('_total')) name += '_total'
    let labels = ''
    for (const [key, value] of Object.entries(sample.labels)) {
      if (value === undefined) continue
      const shown = typeof value === 'number' ? formatValue(value) : escapeLabelValue(String(value))
      labels += `${labels ? ',' : ''}${key}="${shown}"`
    }
    text += `${name}${labels ? `{${labels}}` : ''} ${formatValue(sample.value)}`
    const exemplar = format === 'openmetrics' ? sample.exemplar : undefined
    if (exemplar) text += exemplarText(exemplar.labels, exemplar.value, exemplar.timestampMs)
    text += '\n'
  }
  return { text, samples: data.values.length }
}

/** A family as the registry holds it: one of ours, or a prom-client metric read via `get()`. */
export type AnyFamily = RenderableFamily | { name: string; help: string; type: string; get(): unknown }

export function isRenderable(family: AnyFamily): family is RenderableFamily {
  return typeof (family as RenderableFamily).renderSamples === 'function'
}

export interface RenderedFamily {
  name: string
  text: string
  samples: number
}

/**
 * Renders each family (header and samples). prom-client collectors run their `collect`
 * callbacks inside `get()`, concurrently, as prom-client's own Registry does.
 */
export async function renderFamilies(
  families: AnyFamily[],
  format: ExpositionFormat,
): Promise<RenderedFamily[]> {
  const pending = families.map((family) => (isRenderable(family) ? undefined : family.get()))
  const settled = await Promise.all(pending)
  return families.map((family, i) => {
    const body = isRenderable(family)
      ? family.renderSamples(format)
      : renderPromData(settled[i] as PromMetricData, format)
    return {
      name: family.name,
      text: familyHeader(family.name, family.help, family.type, format) + body.text,
      samples: body.samples,
    }
  })
}

/** Joins rendered families into one exposition; OpenMetrics ends with `# EOF`. */
export function joinExposition(rendered: RenderedFamily[], format: ExpositionFormat): string {
  let text = ''
  for (const family of rendered) text += family.text
  return format === 'openmetrics' ? `${text}# EOF\n` : text
}
