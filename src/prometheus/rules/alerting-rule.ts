import type { Sample } from '../promql/engine.ts'
import { type Labels, labelsFrom, labelsKey, METRIC_NAME } from '../promql/labels.ts'
import { expandAlertTemplate, type TemplateQueryFunc } from '../template/template.ts'

export type AlertState = 'pending' | 'firing' | 'inactive'

/** One alert of a rule, as Prometheus keeps it in the rule's `active` map. Times in ms. */
export interface AlertInstance {
  /** Identity: result labels minus __name__, plus group and rule labels, plus alertname. */
  labels: Labels
  annotations: Record<string, string>
  state: AlertState
  activeAt: number
  firedAt: number | undefined
  resolvedAt: number | undefined
  keepFiringSince: number | undefined
  value: number
}

export interface AlertRuleSpec {
  name: string
  forMs: number
  keepFiringForMs: number
  labels: Record<string, string>
  annotations: Record<string, string>
}

export interface TemplateContext {
  externalLabels: Record<string, string>
  externalURL: string
  /** The engine behind the template function `query`, at this evaluation's time. */
  query?: TemplateQueryFunc
  /** The URL of the template functions `externalURL`/`pathPrefix` (AlertTemplateData.functionsURL). */
  functionsURL?: string | null
  /**
   * What the caller's storage makes of a label value or an annotation, applied to each after
   * templates and before the alert's identity is taken, so that an alert read back from
   * storage is the alert the next evaluation computes (the rule manager's `storableText`).
   * Absent (promtool's runner): the text as Prometheus holds it.
   */
  storable?: (text: string) => string
}

/** An alert's labels and annotations for one result sample, templates expanded (alerting.go Eval). */
function expandAlert(
  rule: AlertRuleSpec,
  groupLabels: Record<string, string>,
  sample: Sample,
  context: TemplateContext,
): { labels: Labels; annotations: Record<string, string> } {
  const data = {
    labels: { ...sample.labels },
    value: sample.value,
    externalLabels: context.externalLabels,
    externalURL: context.externalURL,
    query: context.query,
    functionsURL: context.functionsURL,
  }
  const expand = (text: string) => expandAlertTemplate(text, rule.name, data)
  const record: Record<string, string> = { ...sample.labels }
  delete record[METRIC_NAME]
  // Prometheus 3 merges the group's labels into each rule's (the rule's win) when it loads
  // them (rules/manager.go `LoadGroups`), so they are templates like the rule's own.
  for (const [k, v] of Object.entries(groupLabels)) if (!Object.hasOwn(rule.labels, k)) record[k] = expand(v)
  for (const [k, v] of Object.entries(rule.labels)) record[k] = expand(v)
  record.alertname = rule.name
  const annotations: Record<string, string> = {}
  for (const [k, v] of Object.entries(rule.annotations)) annotations[k] = expand(v)
  const storable = context.storable
  if (!storable) return { labels: labelsFrom(record), annotations }
  // Names too: a series' label names are any UTF-8 from Prometheus 3 on.
  const stored = (texts: Record<string, string>) => {
    const out: Record<string, string> = {}
    for (const k in texts) out[storable(k)] = storable(texts[k] as string)
    return out
  }
  return { labels: labelsFrom(stored(record)), annotations: stored(annotations) }
}

/** How many rounds of `query` calls that depend on earlier ones prefetchTemplateQueries follows. */
export const TEMPLATE_QUERY_ROUNDS = 4

/**
 * The template function `query` for a rule whose queries can only be answered asynchronously
 * (a remote Prometheus): Go templates call it synchronously, so the rule's templates are
 * expanded for every result first with a recorder in its place, the expressions it saw are
 * queried, and again, until no new expression appears (a query whose text comes from another
 * query's result) or TEMPLATE_QUERY_ROUNDS have run. Returns a function answering from those
 * results (and re-throwing a query's error, which the template then reports as Prometheus
 * does); undefined when no template of the rule mentions `query`.
 *
 * `instantQuery` answers one expression at the evaluation's time, as Prometheus' template
 * QueryFunc does (rules.EngineQueryFunc: a scalar is a one-sample vector without labels).
 */
export async function prefetchTemplateQueries(
  rule: AlertRuleSpec,
  groupLabels: Record<string, string>,
  results: readonly Sample[],
  context: TemplateContext,
  instantQuery: (expr: string) => Promise<ReturnType<TemplateQueryFunc>>,
): Promise<TemplateQueryFunc | undefined> {
  const texts = [...Object.values(rule.labels), ...Object.values(rule.annotations)]
  if (!texts.some((text) => text.includes('query'))) return undefined
  const answers = new Map<string, ReturnType<TemplateQueryFunc> | Error>()
  const answered: TemplateQueryFunc = (expr) => {
    const answer = answers.get(expr)
    if (answer instanceof Error) throw answer
    if (answer === undefined)
      throw new Error(
        `query ${JSON.stringify(expr)} depends on more than ${TEMPLATE_QUERY_ROUNDS} other queries`,
      )
    return answer
  }
  for (let round = 0; round < TEMPLATE_QUERY_ROUNDS; round++) {
    const wanted = new Set<string>()
    // Unknown expressions answer empty for now: what depends on them shows up next round.
    const recorder: TemplateQueryFunc = (expr) => {
      const answer = answers.get(expr)
      if (answer === undefined) wanted.add(expr)
      return answer === undefined || answer instanceof Error ? [] : answer
    }
    for (const sample of results) expandAlert(rule, groupLabels, sample, { ...context, query: recorder })
    if (wanted.size === 0) break
    await Promise.all(
      [...wanted].map(async (expr) => {
        answers.set(expr, await instantQuery(expr).catch((error: unknown) => error as Error))
      }),
    )
  }
  return answered
}

/** Resolved alerts are kept (and reported as resolved) this long, as in Prometheus. */
export const RESOLVED_RETENTION_MS = 15 * 60_000

export class DuplicateLabelSetError extends Error {
  constructor() {
    super('vector contains metrics with the same labelset after applying alert labels')
    this.name = 'DuplicateLabelSetError'
  }
}

/**
 * Applies one evaluation at `ts` to a rule's alerts, with Prometheus' semantics
 * (rules/alerting.go Eval): new results start `pending`; `pending` becomes `firing` once
 * `ts − activeAt ≥ for`; a vanished pending alert is dropped; a vanished firing alert stays
 * firing for `keep_firing_for`, then becomes `inactive` and is kept 15 minutes; a result that
 * reappears while its alert is inactive starts a new pending alert. Mutates `active` (keyed by
 * the identity labels) and returns the alerts present in this evaluation (pending or firing).
 * Two results with the same identity are an error and leave `active` untouched.
 */
export function evaluateAlerts(
  rule: AlertRuleSpec,
  groupLabels: Record<string, string>,
  active: Map<string, AlertInstance>,
  results: readonly Sample[],
  ts: number,
  context: TemplateContext,
): AlertInstance[] {
  const current = new Map<string, AlertInstance>()
  for (const sample of results) {
    const { labels, annotations } = expandAlert(rule, groupLabels, sample, context)
    const key = labelsKey(labels)
    if (current.has(key)) throw new DuplicateLabelSetError()
    current.set(key, {
      labels,
      annotations,
      state: 'pending',
      activeAt: ts,
      firedAt: undefined,
      resolvedAt: undefined,
      keepFiringSince: undefined,
      value: sample.value,
    })
  }
  for (const [key, alert] of current) {
    const existing = active.get(key)
    if (existing && existing.state !== 'inactive') {
      existing.value = alert.value
      existing.annotations = alert.annotations
      continue
    }
    active.set(key, alert)
  }
  const present: AlertInstance[] = []
  for (const [key, alert] of active) {
    if (!current.has(key)) {
      let keepFiring = false
      if (alert.state === 'firing' && rule.keepFiringForMs > 0) {
        alert.keepFiringSince ??= ts
        if (ts - alert.keepFiringSince < rule.keepFiringForMs) keepFiring = true
      }
      if (
        alert.state === 'pending' ||
        (alert.resolvedAt !== undefined && ts - alert.resolvedAt > RESOLVED_RETENTION_MS)
      ) {
        active.delete(key)
      }
      if (alert.state !== 'inactive' && !keepFiring) {
        alert.state = 'inactive'
        alert.resolvedAt = ts
      }
      if (!keepFiring) continue
    } else {
      alert.keepFiringSince = undefined
    }
    if (alert.state === 'pending' && ts - alert.activeAt >= rule.forMs) {
      alert.state = 'firing'
      alert.firedAt = ts
    }
    present.push(alert)
  }
  return present
}

/** The code point at `i` of `text`, a lone surrogate read as U+FFFD (as UTF-8 encoders write it). */
function codePointOrReplacement(text: string, i: number): number {
  const c = text.codePointAt(i)!
  return c >= 0xd800 && c <= 0xdfff ? 0xfffd : c
}

/**
 * Go's order of label names (byte-wise on their UTF-8), where JavaScript's `<` compares UTF-16
 * code units: the two differ where a surrogate pair (U+10000 and up) meets U+E000–U+FFFF, and
 * for a lone surrogate, which UTF-8 holds as U+FFFD.
 */
function compareGoStrings(a: string, b: string): number {
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) {
    const x = codePointOrReplacement(a, i)
    const y = codePointOrReplacement(b, j)
    if (x !== y) return x - y
    i += x > 0xffff ? 2 : 1
    j += y > 0xffff ? 2 : 1
  }
  return a.length - i - (b.length - j)
}

/**
 * Alertmanager's fingerprint of a label set (prometheus/common model `labelSetToFingerprint`):
 * 64-bit FNV-1a over the label names and values, the names in Go's string order (UTF-8 bytes),
 * each name and value followed by the byte 0xFF, printed as 16 lowercase hex digits.
 *
 * The 64-bit state is two 32-bit halves: FNV's prime is 2^40 + 0x1b3, so a round is the low
 * half times 0x1b3 (at most 2^41, exact in a double), its carry, the high half times 0x1b3, and
 * the low half shifted 8 bits into the high one. A BigInt per byte cost about 50 µs per alert
 * of typical labels, which a notification of 10 000 alerts without fingerprints (or a rule
 * evaluation with as many alerts) paid in one go.
 */
export function fingerprint(labels: Readonly<Record<string, string>>): string {
  let hi = 0xcbf29ce4
  let lo = 0x84222325
  const byte = (b: number) => {
    lo = (lo ^ b) >>> 0
    const low = lo * 0x1b3
    hi = (hi * 0x1b3 + Math.floor(low / 0x100000000) + ((lo << 8) >>> 0)) >>> 0
    lo = low >>> 0
  }
  // The UTF-8 bytes of `text`, a lone surrogate as U+FFFD (as TextEncoder, and Go's JSON decoder).
  const text = (text: string) => {
    for (let i = 0; i < text.length; i++) {
      let c = text.charCodeAt(i)
      if (c < 0x80) {
        byte(c)
        continue
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = text.charCodeAt(i + 1)
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00)
          i++
        } else c = 0xfffd
      }
      if (c < 0x800) {
        byte(0xc0 | (c >> 6))
      } else if (c < 0x10000) {
        byte(0xe0 | (c >> 12))
        byte(0x80 | ((c >> 6) & 0x3f))
      } else {
        byte(0xf0 | (c >> 18))
        byte(0x80 | ((c >> 12) & 0x3f))
        byte(0x80 | ((c >> 6) & 0x3f))
      }
      byte(0x80 | (c & 0x3f))
    }
  }
  for (const name of Object.keys(labels).sort(compareGoStrings)) {
    text(name)
    byte(0xff)
    text(labels[name]!)
    byte(0xff)
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0')
}
