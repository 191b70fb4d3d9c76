import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, Scalar } from 'yaml'

/**
 * YAML read the way Prometheus' Go decoders read it (gopkg.in/yaml.v2 for promtool test files,
 * yaml.v3 for rule files): a plain scalar decoded into a Go `string` keeps its source text, so a
 * rule label `slo: 0.990` is "0.990" and `exp_labels: {quantile: 0.50}` is "0.50" — not the
 * number 0.99 or 0.5 a JavaScript YAML reader would hand back. Only the target type decides
 * what a scalar means (string, float64, int, duration), as in Go, and type mismatches are
 * collected as Go's `yaml: unmarshal errors:` with the line of the offending node.
 */

/** A decoded YAML node: a scalar with its source text, a list or a map (keys in file order). */
export type GoYamlValue = GoScalar | GoYamlList | GoYamlMap

export interface GoScalar {
  kind: 'scalar'
  /** The text as written for plain scalars, the unescaped value for quoted ones; null for YAML null. */
  text: string | null
  quoted: boolean
  /** 1-based line and column of the node, for Go's `line N:` and yaml.Node positions. */
  line: number
  col: number
}

export interface GoYamlList {
  kind: 'list'
  items: GoYamlValue[]
  line: number
  col: number
}

export interface GoYamlMap {
  kind: 'map'
  entries: { key: string; keyLine: number; value: GoYamlValue }[]
  line: number
  col: number
}

/** A YAML syntax error or unmarshal errors, worded as Go's yaml packages word them. */
export class GoYamlError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'GoYamlError'
  }
}

const NULL_RE = /^(?:~|null|Null|NULL|)$/

/**
 * Parses one YAML document into Go-decodable nodes; returns undefined for an empty document.
 * Throws GoYamlError `yaml: line N: …` on syntax errors (the line is Go's; the wording after it
 * is the JavaScript parser's, since the two parsers describe faults differently).
 */
export function parseGoYaml(text: string): GoYamlValue | undefined {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { keepSourceTokens: true, lineCounter, uniqueKeys: true, merge: true })
  const lineOf = (offset: number | undefined) => (offset === undefined ? 0 : lineCounter.linePos(offset).line)
  const colOf = (offset: number | undefined) => (offset === undefined ? 0 : lineCounter.linePos(offset).col)
  if (doc.errors.length > 0) {
    const err = doc.errors[0] as { message: string; pos: [number, number] }
    throw new GoYamlError(
      `yaml: line ${lineOf(err.pos[0])}: ${(err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`,
    )
  }
  const convert = (node: unknown): GoYamlValue => {
    if (isAlias(node)) return convert(node.resolve(doc))
    const n = node as Node | null
    const line = lineOf(n?.range?.[0])
    const col = colOf(n?.range?.[0])
    if (n === null || n === undefined) return { kind: 'scalar', text: null, quoted: false, line, col }
    if (isScalar(n)) return scalar(n, line, col)
    if (isSeq(n)) return { kind: 'list', items: n.items.map(convert), line, col }
    if (isMap(n)) {
      return {
        kind: 'map',
        line,
        col,
        entries: n.items.map((pair) => {
          const key = convert(pair.key)
          return {
            key: key.kind === 'scalar' ? (key.text ?? '') : '',
            keyLine: key.line,
            value: convert(pair.value),
          }
        }),
      }
    }
    return { kind: 'scalar', text: null, quoted: false, line, col }
  }
  if (doc.contents === null) return undefined
  const root = convert(doc.contents)
  return root.kind === 'scalar' && root.text === null ? undefined : root
}

function scalar(n: Scalar, line: number, col: number): GoScalar {
  const quoted = n.type === Scalar.QUOTE_DOUBLE || n.type === Scalar.QUOTE_SINGLE
  const block = n.type === Scalar.BLOCK_LITERAL || n.type === Scalar.BLOCK_FOLDED
  if (quoted || block) return { kind: 'scalar', text: String(n.value), quoted: true, line, col }
  const source = n.source ?? (n.value === null ? '' : String(n.value))
  return { kind: 'scalar', text: NULL_RE.test(source) ? null : source, quoted: false, line, col }
}

/** Go's YAML tag of a node, as printed in `cannot unmarshal !!tag \`value\` into T`. */
function goTag(v: GoYamlValue): string {
  if (v.kind === 'list') return '!!seq'
  if (v.kind === 'map') return '!!map'
  if (v.text === null) return '!!null'
  if (v.quoted) return '!!str'
  if (goYamlFloat(v.text) !== undefined)
    return /^[-+]?(?:0|[1-9][0-9_]*|0x[0-9a-fA-F_]+|0[0-7_]+|0b[01_]+)$/.test(v.text) ? '!!int' : '!!float'
  if (/^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/.test(v.text))
    return '!!bool'
  return '!!str'
}

/**
 * YAML 1.1 numbers as gopkg.in/yaml.v2 resolves a plain scalar: decimal, 0x hex, 0 octal,
 * 0b binary integers (underscores allowed) and floats including `.inf`/`.nan`.
 */
export function goYamlFloat(text: string): number | undefined {
  const plain = text.replaceAll('_', '')
  if (/^[-+]?\.(?:inf|Inf|INF)$/.test(text)) return text.startsWith('-') ? -Infinity : Infinity
  if (/^\.(?:nan|NaN|NAN)$/.test(text)) return Number.NaN
  if (/^[-+]?(?:0|[1-9][0-9]*)$/.test(plain)) return Number(plain)
  if (/^[-+]?0b[01]+$/.test(plain)) return signed(plain, (s) => Number.parseInt(s.slice(2), 2))
  if (/^[-+]?0x[0-9a-fA-F]+$/.test(plain)) return signed(plain, (s) => Number.parseInt(s.slice(2), 16))
  if (/^[-+]?0[0-7]+$/.test(plain)) return signed(plain, (s) => Number.parseInt(s.slice(1), 8))
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/.test(plain)) return Number(plain)
  return undefined
}

function signed(text: string, parse: (s: string) => number): number {
  const neg = text.startsWith('-')
  const v = parse(text.replace(/^[-+]/, ''))
  return neg ? -v : v
}

/**
 * Decodes Go-YAML nodes into typed fields, collecting the type errors the way yaml.v2's
 * `UnmarshalStrict` does (every error, each with its line) instead of stopping at the first.
 */
export class GoDecoder {
  readonly errors: string[] = []

  private mismatch(v: GoYamlValue, goType: string): void {
    const shown = v.kind === 'scalar' ? ` \`${v.text ?? ''}\`` : ''
    this.errors.push(`line ${v.line}: cannot unmarshal ${goTag(v)}${shown} into ${goType}`)
  }

  /** A Go `string` field: the scalar as written; null is "". */
  string(v: GoYamlValue | undefined): string {
    if (v === undefined) return ''
    if (v.kind !== 'scalar') {
      this.mismatch(v, 'string')
      return ''
    }
    return v.text ?? ''
  }

  /** A Go `float64` field. */
  float(v: GoYamlValue | undefined): number {
    if (v === undefined || (v.kind === 'scalar' && v.text === null)) return 0
    if (v.kind === 'scalar' && !v.quoted) {
      const f = goYamlFloat(v.text as string)
      if (f !== undefined) return f
    }
    this.mismatch(v, 'float64')
    return 0
  }

  /** A Go `int` field. */
  int(v: GoYamlValue | undefined): number {
    if (v === undefined || (v.kind === 'scalar' && v.text === null)) return 0
    if (
      v.kind === 'scalar' &&
      !v.quoted &&
      /^[-+]?(?:0|[1-9][0-9_]*|0x[0-9a-fA-F_]+|0[0-7_]+|0b[01_]+)$/.test(v.text as string)
    ) {
      return goYamlFloat(v.text as string) as number
    }
    this.mismatch(v, 'int')
    return 0
  }

  /** A `[]T` field; null is an empty list. */
  list(v: GoYamlValue | undefined, goType: string): GoYamlValue[] {
    if (v === undefined || (v.kind === 'scalar' && v.text === null)) return []
    if (v.kind !== 'list') {
      this.mismatch(v, goType)
      return []
    }
    return v.items
  }

  /** A `map[string]string` field; null is an empty map. */
  stringMap(v: GoYamlValue | undefined): Record<string, string> {
    const out: Record<string, string> = {}
    if (v === undefined || (v.kind === 'scalar' && v.text === null)) return out
    if (v.kind !== 'map') {
      this.mismatch(v, 'map[string]string')
      return out
    }
    for (const e of v.entries) out[e.key] = this.string(e.value)
    return out
  }

  /**
   * A struct: returns its fields by YAML key; unknown keys are errors (`UnmarshalStrict`,
   * `KnownFields`), worded `field x not found in type T`.
   */
  struct(v: GoYamlValue | undefined, goType: string, known: readonly string[]): Map<string, GoYamlValue> {
    const fields = new Map<string, GoYamlValue>()
    if (v === undefined || (v.kind === 'scalar' && v.text === null)) return fields
    if (v.kind !== 'map') {
      this.mismatch(v, goType)
      return fields
    }
    for (const e of v.entries) {
      if (!known.includes(e.key)) {
        this.errors.push(`line ${e.keyLine}: field ${e.key} not found in type ${goType}`)
        continue
      }
      fields.set(e.key, e.value)
    }
    return fields
  }

  /** Throws the collected errors as yaml's `unmarshal errors:` report, if any. */
  check(): void {
    if (this.errors.length > 0) {
      throw new GoYamlError(`yaml: unmarshal errors:\n  ${this.errors.join('\n  ')}`)
    }
  }
}
