import { readFileSync } from 'node:fs'
import { DurationError, parseDuration } from '../duration.ts'
import { checkTemplate, TemplateError } from '../template/template.ts'
import { isValidGoUtf8, toValidUtf8 } from './go-bytes.ts'
import {
  GoDecoder,
  type GoScalar,
  GoYamlError,
  type GoYamlMap,
  type GoYamlValue,
  parseGoYaml,
} from './go-yaml.ts'

/**
 * Prometheus rule files (`groups:` of alerting and recording rules), read and checked the
 * way Prometheus 2.42's `rulefmt.ParseFile` does, with its error wording: unknown fields and
 * type mismatches are yaml's `unmarshal errors` with lines; a bad duration is fatal and bare;
 * validation errors name the node (`5:17: group "g", rule 1, "A": …`), the group and the
 * rule, and all of them are reported. Scalars keep their text as written, as Go's YAML
 * decoder keeps it for string fields: a label `slo: 0.990` is "0.990" (not 0.99), so alert
 * labels and fingerprints match Prometheus'. Expressions are not parsed here; the caller
 * compiles them with the query engine it uses and reports failures with `ruleWhere`.
 * Beyond 2.42, a group may carry `query_offset` and `labels` (Prometheus 2.53 and 3.0).
 */

export class RuleFileError extends Error {
  /** Every error, one per line of `message`, each prefixed with the file, as promtool lists them. */
  readonly errors: string[]

  constructor(message: string, errors?: string[]) {
    super(message)
    this.name = 'RuleFileError'
    this.errors = errors ?? [message]
  }
}

/** Where a rule sits in its file: its 1-based index in the group and its `expr` node. */
export interface RulePosition {
  index: number
  exprLine: number
  exprColumn: number
}

export interface AlertingRule {
  type: 'alerting'
  name: string
  expr: string
  forMs: number
  keepFiringForMs: number
  labels: Record<string, string>
  annotations: Record<string, string>
  position?: RulePosition
}

export interface RecordingRule {
  type: 'recording'
  name: string
  expr: string
  labels: Record<string, string>
  position?: RulePosition
}

export type Rule = AlertingRule | RecordingRule

export interface RuleGroup {
  file: string
  name: string
  /** Undefined means the ruleManager's default interval. */
  intervalMs: number | undefined
  limit: number
  queryOffsetMs: number
  /**
   * Labels added to every rule's output (rule labels win); in alerting rules they are
   * templates like the rule's own (Prometheus 3 merges them into each rule's at load).
   */
  labels: Record<string, string>
  rules: Rule[]
}

const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const GROUP_KEYS = ['name', 'interval', 'limit', 'query_offset', 'labels', 'rules']
const RULE_KEYS = ['record', 'alert', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations']

/** Prometheus' rulefmt.Error text: `[line:col: [line:col: ]]group "g", rule n, "name": err`. */
function ruleError(
  group: string,
  index: number,
  name: string,
  err: string,
  node?: { line: number; col: number },
  alt?: { line: number; col: number },
): string {
  const at = (n: { line: number; col: number }) => `${n.line}:${n.col}: `
  return `${node ? at(node) : ''}${alt ? at(alt) : ''}group ${JSON.stringify(group)}, rule ${index}, ${JSON.stringify(name)}: ${err}`
}

/** How a rule's expression error is reported (rulefmt's `could not parse expression`). */
export function ruleWhere(group: RuleGroup, rule: Rule): string {
  const p = rule.position
  return `${group.file}: ${ruleError(group.name, p?.index ?? 0, rule.name, 'could not parse expression', p ? { line: p.exprLine, col: p.exprColumn } : undefined)}`
}

class FatalDuration extends Error {}

function durationField(d: GoDecoder, value: GoYamlValue | undefined): number {
  const text = d.durationText(value)
  if (text === undefined) return 0
  try {
    return parseDuration(text)
  } catch (err) {
    if (err instanceof DurationError) throw new FatalDuration(err.message)
    throw err
  }
}

export interface RuleFileOptions {
  /**
   * Checks an expression as Prometheus' rulefmt does while validating (parser.ParseExpr):
   * returns the error text, or undefined when the engine accepts it. Without it, expressions
   * are left to the caller.
   */
  checkExpr?: (expr: string) => string | undefined
  /**
   * Keeps strings that are not UTF-8 (from `!!binary`) with their bytes (see go-bytes.ts), as
   * promtool compares and prints them. Without it they become U+FFFD per byte, the text
   * Prometheus' JSON (API, notifications) shows for them.
   */
  keepGoBytes?: boolean
}

/**
 * A `yaml.Node` field's `Value`, as rulefmt.RuleNode keeps `record`, `alert` and `expr`: any node
 * decodes, a collection's Value is "" (so `expr: [x]` is no unmarshal error but an empty expr),
 * and a `!!binary` scalar keeps its base64 text.
 */
function nodeValue(v: GoYamlValue | undefined): string {
  return v?.kind === 'scalar' ? (v.text ?? v.nullText ?? '') : ''
}

/**
 * Parses one rule file, its bytes or its text (see `parseGoYaml`); `file` names it in errors.
 * Throws RuleFileError.
 */
export function parseRuleFile(
  text: string | Uint8Array,
  file: string,
  options: RuleFileOptions = {},
): RuleGroup[] {
  const fail = (errors: string[]): never => {
    const prefixed = errors.map((e) => `${file}: ${e}`)
    throw new RuleFileError(prefixed.join('\n'), prefixed)
  }
  let doc: GoYamlValue | undefined
  try {
    doc = parseGoYaml(text)
  } catch (err) {
    // rulefmt.Parse reads the file twice, with yaml.v3's Decoder and with Unmarshal into its
    // node types, and reports a syntax error from each.
    if (err instanceof GoYamlError) fail([err.message, err.message])
    throw err
  }
  const d = new GoDecoder('yaml.v3')
  const decoded: { node: GoYamlMap | undefined; group: RuleGroup; ruleNodes: Map<string, GoYamlValue>[] }[] =
    []
  try {
    const top = d.struct(doc, 'rulefmt.RuleGroups', ['groups'])
    for (const raw of d.list(top.get('groups'), '[]rulefmt.RuleGroup')) {
      const g = d.struct(raw, 'rulefmt.RuleGroup', GROUP_KEYS)
      const ruleNodes = d
        .list(g.get('rules'), '[]rulefmt.RuleNode')
        .map((r) => d.struct(r, 'rulefmt.RuleNode', RULE_KEYS))
      const group: RuleGroup = {
        file,
        name: d.string(g.get('name')),
        // A null interval is the default one; a map or list there is decoded all the same
        // (model.Duration's UnmarshalYAML into a string: "cannot unmarshal !!map into string").
        intervalMs:
          g.has('interval') &&
          !(g.get('interval')?.kind === 'scalar' && (g.get('interval') as GoScalar).text === null)
            ? durationField(d, g.get('interval'))
            : undefined,
        limit: d.int(g.get('limit')),
        queryOffsetMs: durationField(d, g.get('query_offset')),
        labels: d.stringMap(g.get('labels')),
        rules: [],
      }
      group.rules = ruleNodes.map((r, i): Rule => {
        const record = nodeValue(r.get('record'))
        const alert = nodeValue(r.get('alert'))
        const exprNode = r.get('expr')
        const position = { index: i + 1, exprLine: exprNode?.line ?? 0, exprColumn: exprNode?.col ?? 0 }
        const labels = d.stringMap(r.get('labels'))
        const forMs = durationField(d, r.get('for'))
        const keepFiringForMs = durationField(d, r.get('keep_firing_for'))
        const annotations = d.stringMap(r.get('annotations'))
        const expr = nodeValue(exprNode)
        return alert !== '' || record === ''
          ? { type: 'alerting', name: alert, expr, forMs, keepFiringForMs, labels, annotations, position }
          : { type: 'recording', name: record, expr, labels, position }
      })
      decoded.push({ node: raw.kind === 'map' ? raw : undefined, group, ruleNodes })
    }
  } catch (err) {
    if (err instanceof FatalDuration) fail([err.message])
    throw err
  }
  // rulefmt.Parse's second reading, `yaml.Unmarshal` into its node types (`ruleGroups`, whose
  // `groups` is a []yaml.Node), reports a document that is not a map, or groups that are not a
  // list, a second time in those types' names.
  const nodes = new GoDecoder('yaml.v3')
  nodes.list(nodes.struct(doc, 'rulefmt.ruleGroups', ['groups'], false).get('groups'), '[]yaml.Node')
  const unmarshalErrors = [d, nodes].flatMap((decoder) => {
    try {
      decoder.check()
      return []
    } catch (err) {
      return [(err as Error).message]
    }
  })
  if (unmarshalErrors.length > 0) fail(unmarshalErrors)
  const errors: string[] = []
  const seen = new Set<string>()
  for (const { node, group, ruleNodes } of decoded) {
    const at = `${node?.line ?? 0}:${node?.col ?? 0}`
    if (group.name === '') errors.push(`${at}: Groupname must not be empty`)
    if (seen.has(group.name)) errors.push(`${at}: groupname: "${group.name}" is repeated in the same file`)
    seen.add(group.name)
    group.rules.forEach((rule, i) => {
      const nodes = ruleNodes[i] as Map<string, GoYamlValue>
      const pos = (key: string) => {
        const n = nodes.get(key)
        return n ? { line: n.line, col: n.col } : { line: 0, col: 0 }
      }
      const hasRecord = nodeValue(nodes.get('record')) !== ''
      const hasAlert = nodeValue(nodes.get('alert')) !== ''
      const err = (message: string, n?: { line: number; col: number }, alt?: { line: number; col: number }) =>
        errors.push(ruleError(group.name, i + 1, rule.name, message, n, alt))
      if (hasRecord && hasAlert)
        err("only one of 'record' and 'alert' must be set", pos('record'), pos('alert'))
      if (!hasRecord && !hasAlert) err("one of 'record' or 'alert' must be set", pos('record'))
      const exprError = rule.expr === '' ? undefined : options.checkExpr?.(rule.expr)
      if (rule.expr === '') err("field 'expr' must be set in rule", pos('expr'))
      else if (exprError !== undefined) err(`could not parse expression: ${exprError}`, pos('expr'))
      if (hasRecord) {
        if (Object.keys(d.stringMap(nodes.get('annotations'))).length > 0)
          err("invalid field 'annotations' in recording rule", pos('record'))
        if (durationField(d, nodes.get('for')) !== 0)
          err("invalid field 'for' in recording rule", pos('record'))
        if (durationField(d, nodes.get('keep_firing_for')) !== 0)
          err("invalid field 'keep_firing_for' in recording rule", pos('record'))
        if (!METRIC_NAME_RE.test(rule.name)) err(`invalid recording rule name: ${rule.name}`, pos('record'))
      }
      for (const [k, v] of Object.entries(rule.labels)) {
        if (!LABEL_NAME_RE.test(k) || k === '__name__') err(`invalid label name: ${k}`)
        if (!isValidGoUtf8(v)) err(`invalid label value: ${v}`)
      }
      // rulefmt.go RuleNode.Validate checks annotation names whatever the rule's kind: a
      // recording rule's annotations are refused, and their bad names reported besides.
      const annotations = rule.type === 'alerting' ? rule.annotations : d.stringMap(nodes.get('annotations'))
      for (const k of Object.keys(annotations))
        if (!LABEL_NAME_RE.test(k)) err(`invalid annotation name: ${k}`)
      if (rule.type === 'alerting') {
        if (hasAlert) {
          for (const [kind, map] of [
            ['label', rule.labels],
            ['annotation', rule.annotations],
          ] as const) {
            for (const [k, v] of Object.entries(map)) {
              try {
                checkTemplate(v, rule.name)
              } catch (e) {
                if (!(e instanceof TemplateError)) throw e
                err(
                  `${kind} ${JSON.stringify(k)}: template: __alert_${rule.name}:${e.line ?? 1}: ${e.message}`,
                )
              }
            }
          }
        }
      }
    })
  }
  if (errors.length > 0) fail(errors)
  const groups = decoded.map((x) => x.group)
  return options.keepGoBytes ? groups : groups.map(withValidUtf8)
}

/** A group with its strings as valid UTF-8: each byte that is not UTF-8 as U+FFFD. */
function withValidUtf8(group: RuleGroup): RuleGroup {
  const map = (m: Record<string, string>) =>
    Object.fromEntries(Object.entries(m).map(([k, v]) => [toValidUtf8(k), toValidUtf8(v)]))
  return {
    ...group,
    name: toValidUtf8(group.name),
    labels: map(group.labels),
    rules: group.rules.map((rule): Rule => {
      const common = { name: toValidUtf8(rule.name), expr: toValidUtf8(rule.expr), labels: map(rule.labels) }
      return rule.type === 'alerting'
        ? { ...rule, ...common, annotations: map(rule.annotations) }
        : { ...rule, ...common }
    }),
  }
}

/** Reads and parses a rule file from disk. */
export function loadRuleFile(file: string, options: RuleFileOptions = {}): RuleGroup[] {
  // The bytes, not a UTF-8 decoding of them: Go refuses a file that is not UTF-8 (or UTF-16).
  let text: Uint8Array
  try {
    text = readFileSync(file)
  } catch (err) {
    throw new RuleFileError(`${file}: ${(err as Error).message}`)
  }
  return parseRuleFile(text, file, options)
}
