import { readFileSync } from 'node:fs'
import { DurationError, parseDuration } from '../duration.ts'
import { checkTemplate, TemplateError } from '../template/template.ts'
import { goYamlPlain, parseGoYaml } from './go-yaml.ts'

/**
 * Prometheus rule files (`groups:` of alerting and recording rules), read and checked the
 * way Prometheus' `rulefmt` does: unknown fields, missing names or expressions, bad
 * durations, invalid label names and template syntax errors are errors naming the file,
 * group and rule. Scalars keep their text as written, as Go's YAML decoder keeps it for string
 * fields: a label `slo: 0.990` is "0.990" (not 0.99), so alert labels and fingerprints match
 * Prometheus'. Expressions are not parsed here; the caller compiles them with the query
 * engine it uses.
 */

export class RuleFileError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RuleFileError'
  }
}

export interface AlertingRule {
  type: 'alerting'
  name: string
  expr: string
  forMs: number
  keepFiringForMs: number
  labels: Record<string, string>
  annotations: Record<string, string>
}

export interface RecordingRule {
  type: 'recording'
  name: string
  expr: string
  labels: Record<string, string>
}

export type Rule = AlertingRule | RecordingRule

export interface RuleGroup {
  file: string
  name: string
  /** Undefined means the ruleManager's default interval. */
  intervalMs: number | undefined
  limit: number
  queryOffsetMs: number
  /** Labels added to every rule's output (rule labels win). */
  labels: Record<string, string>
  rules: Rule[]
}

const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const GROUP_KEYS = new Set(['name', 'interval', 'limit', 'query_offset', 'labels', 'rules'])
const RULE_KEYS = new Set(['alert', 'record', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'])

type Where = string

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function durationField(value: unknown, field: string, where: Where): number {
  if (value === undefined || value === null) return 0
  const text = typeof value === 'number' ? String(value) : value
  if (typeof text !== 'string') throw new RuleFileError(`${where}: ${field} must be a duration string`)
  try {
    return parseDuration(text)
  } catch (err) {
    if (err instanceof DurationError) throw new RuleFileError(`${where}: ${field}: ${err.message}`)
    throw err
  }
}

function stringMap(value: unknown, field: string, where: Where, checkNames: boolean): Record<string, string> {
  if (value === undefined || value === null) return {}
  if (!isRecord(value)) throw new RuleFileError(`${where}: ${field} must be a map`)
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(value)) {
    if (checkNames && !LABEL_NAME_RE.test(k)) throw new RuleFileError(`${where}: invalid label name: ${k}`)
    if (checkNames && k === '__name__') throw new RuleFileError(`${where}: invalid label name: ${k}`)
    if (typeof v === 'object' && v !== null)
      throw new RuleFileError(`${where}: ${field}.${k} must be a string`)
    out[k] = v === null || v === undefined ? '' : String(v)
  }
  return out
}

function parseRule(raw: unknown, index: number, groupWhere: Where): Rule {
  if (!isRecord(raw)) throw new RuleFileError(`${groupWhere}, rule ${index + 1}: must be a map`)
  const id = typeof raw.alert === 'string' ? raw.alert : typeof raw.record === 'string' ? raw.record : ''
  const where = `${groupWhere}, rule ${index + 1}${id ? ` "${id}"` : ''}`
  for (const key of Object.keys(raw)) {
    if (!RULE_KEYS.has(key)) throw new RuleFileError(`${where}: field ${key} not found in type rulefmt.Rule`)
  }
  const hasAlert = raw.alert !== undefined && raw.alert !== null && raw.alert !== ''
  const hasRecord = raw.record !== undefined && raw.record !== null && raw.record !== ''
  if (hasAlert && hasRecord) throw new RuleFileError(`${where}: only one of 'record' and 'alert' must be set`)
  if (!hasAlert && !hasRecord) throw new RuleFileError(`${where}: one of 'record' or 'alert' must be set`)
  if (typeof raw.expr !== 'string' || raw.expr.trim() === '') {
    throw new RuleFileError(`${where}: field 'expr' must be set in rule`)
  }
  const labels = stringMap(raw.labels, 'labels', where, true)
  if (hasRecord) {
    if (typeof raw.record !== 'string' || !METRIC_NAME_RE.test(raw.record)) {
      throw new RuleFileError(`${where}: invalid recording rule name: ${String(raw.record)}`)
    }
    for (const field of ['annotations', 'for', 'keep_firing_for']) {
      if (raw[field] !== undefined)
        throw new RuleFileError(`${where}: invalid field '${field}' in recording rule`)
    }
    return { type: 'recording', name: raw.record, expr: raw.expr, labels }
  }
  const name = String(raw.alert)
  const annotations = stringMap(raw.annotations, 'annotations', where, false)
  for (const [kind, map] of [
    ['label', labels],
    ['annotation', annotations],
  ] as const) {
    for (const [k, v] of Object.entries(map)) {
      try {
        checkTemplate(v)
      } catch (err) {
        if (err instanceof TemplateError)
          throw new RuleFileError(`${where}: ${kind} ${k}: template: ${err.message}`)
        throw err
      }
    }
  }
  return {
    type: 'alerting',
    name,
    expr: raw.expr,
    forMs: durationField(raw.for, 'for', where),
    keepFiringForMs: durationField(raw.keep_firing_for, 'keep_firing_for', where),
    labels,
    annotations,
  }
}

/** Parses the text of one rule file; `file` names it in errors. */
export function parseRuleFile(text: string, file: string): RuleGroup[] {
  let doc: unknown
  try {
    doc = goYamlPlain(parseGoYaml(text))
  } catch (err) {
    throw new RuleFileError(`${file}: ${(err as Error).message}`)
  }
  if (doc === null || doc === undefined) return []
  if (!isRecord(doc)) throw new RuleFileError(`${file}: expected a map with a "groups" list`)
  for (const key of Object.keys(doc)) {
    if (key !== 'groups')
      throw new RuleFileError(`${file}: field ${key} not found in type rulefmt.RuleGroups`)
  }
  const groups = doc.groups ?? []
  if (!Array.isArray(groups)) throw new RuleFileError(`${file}: groups must be a list`)
  const seen = new Set<string>()
  return groups.map((raw, gi) => {
    if (!isRecord(raw)) throw new RuleFileError(`${file}: group ${gi + 1} must be a map`)
    const name = typeof raw.name === 'string' ? raw.name : ''
    const where = `${file}: group "${name}"`
    if (name === '') throw new RuleFileError(`${file}: group ${gi + 1}: groupname must not be empty`)
    if (seen.has(name)) throw new RuleFileError(`${where}: groupname must be unique within a file`)
    seen.add(name)
    for (const key of Object.keys(raw)) {
      if (!GROUP_KEYS.has(key))
        throw new RuleFileError(`${where}: field ${key} not found in type rulefmt.RuleGroup`)
    }
    const rules = raw.rules ?? []
    if (!Array.isArray(rules)) throw new RuleFileError(`${where}: rules must be a list`)
    const limit = raw.limit === null || raw.limit === undefined ? 0 : Number(raw.limit)
    if (!/^[0-9]*$/.test(String(raw.limit ?? '')) || !Number.isSafeInteger(limit)) {
      throw new RuleFileError(`${where}: limit must be a non-negative integer`)
    }
    return {
      file,
      name,
      intervalMs: raw.interval === undefined ? undefined : durationField(raw.interval, 'interval', where),
      limit,
      queryOffsetMs: durationField(raw.query_offset, 'query_offset', where),
      labels: stringMap(raw.labels, 'labels', where, true),
      rules: rules.map((r, i) => parseRule(r, i, where)),
    }
  })
}

/** Reads and parses a rule file from disk. */
export function loadRuleFile(file: string): RuleGroup[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new RuleFileError(`${file}: ${(err as Error).message}`)
  }
  return parseRuleFile(text, file)
}
