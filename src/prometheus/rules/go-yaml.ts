import {
  type DocumentOptions,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  type ParseOptions,
  Parser,
  parseAllDocuments,
  parseDocument,
  Scalar,
  type SchemaOptions,
  type ToJSOptions,
  visit,
} from 'yaml'
import { goQuote } from '../promql/strings.ts'
import { goStringFromBytes, goStringToBytes } from './go-bytes.ts'
import { scanGoFirstDocument } from './go-yaml-parser.ts'
import { readGoYaml } from './go-yaml-reader.ts'
import { type GoResolved, type GoResolvedValue, goResolve } from './go-yaml-resolve.ts'
import type { GoFirstDocument } from './go-yaml-scanner.ts'

/**
 * YAML read the way Prometheus' Go decoders read it (gopkg.in/yaml.v2 for promtool test files,
 * yaml.v3 for rule files): a plain scalar decoded into a Go `string` keeps its source text, so a
 * rule label `slo: 0.990` is "0.990" and `exp_labels: {quantile: 0.50}` is "0.50" — not the
 * number 0.99 or 0.5 a JavaScript YAML reader would hand back. Only the target type decides
 * what a scalar means (string, float64, int, duration), as in Go, and type mismatches are
 * collected as Go's `yaml: unmarshal errors:` with the line of the offending node.
 *
 * Merge keys (`<<`) and `!!binary` scalars are kept as written here and resolved by GoDecoder,
 * because Go resolves them only when a node is decoded into a map, struct or string, and the
 * two Go packages resolve merges differently (see GoDecoder).
 */

/**
 * A decoded YAML node: a scalar with its source text, a list or a map (keys in file order).
 * `tag` is the node's explicit tag in Go's short form (`!!float`, `!local`), which Go names in
 * its type errors instead of the tag the value resolves to.
 */
export type GoYamlValue = (GoScalar | GoYamlList | GoYamlMap) & { tag?: string }

export interface GoScalar {
  kind: 'scalar'
  /** The text as written for plain scalars, the unescaped value for quoted ones; null for YAML null. */
  text: string | null
  /**
   * A YAML null as written (`null`, `~`, `NULL`, or empty): what a yaml.Node holds as its
   * Value, which rulefmt reads for `record`, `alert` and `expr` (`alert: null` is named "null").
   */
  nullText?: string
  quoted: boolean
  /** A `!!binary` scalar: `text` is the base64 as written, decoded only when read as a string (as Go does). */
  binary?: boolean
  /** 1-based line and column of the node, for Go's `line N:` and yaml.Node positions. */
  line: number
  col: number
}

export interface GoYamlList {
  kind: 'list'
  items: GoYamlValue[]
  line: number
  col: number
  /** An alias to a collection inside that collection itself: the anchor's name (see GoYamlMap). */
  selfAlias?: string
  /** Reached through an alias: yaml.v3 merges (`<<`) an alias only to a mapping. */
  alias?: boolean
}

export interface GoYamlMapEntry {
  key: string
  keyLine: number
  /** Whether the key is a scalar (Go compares scalar keys by their text for duplicates). */
  scalarKey: boolean
  /** A key that is a collection (`? {a: b}`, `[x]: y`): no string field or map key can hold it. */
  collectionKey?: GoYamlValue
  /**
   * A key that is YAML null (`~`, `null`, nothing, `!!null ""`): its text as written. yaml.v3
   * decodes it into no string (decode.go `null` leaves it unset and reports nothing) and skips
   * the entry, in a struct as in a map; yaml.v2 decodes it as the empty string (`key` '').
   */
  nullKey?: string
  /** A scalar key's explicit tag, which its text must read as when the key is decoded. */
  keyTag?: string
  value: GoYamlValue
  /**
   * False when yaml.v3 would resolve the key to a non-string (a plain `true`, `null`, `1`…):
   * such a key does not shadow the same text merged in by `<<` (see GoDecoder `merged`).
   */
  stringKey: boolean
}

export interface GoYamlMap {
  kind: 'map'
  /** The ordinary keys, in file order. */
  entries: GoYamlMapEntry[]
  /**
   * The `<<` merge keys, in file order: `at` is how many ordinary entries precede each one (yaml.v2
   * merges in place), `keyLine` its line, `value` what it merges.
   */
  merges: { at: number; keyLine: number; value: GoYamlValue }[]
  line: number
  col: number
  /**
   * Set on an alias met inside the very collection its anchor names (`labels: &l {b: *l}`), in
   * place of the endless tree: the anchor's name. Decoding it as a collection is yaml.v3's
   * fatal `anchor 'l' value contains itself`; as a string, the usual type error.
   */
  selfAlias?: string
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
 * Parses the first YAML document of `source` (a file's bytes, or its text as the UTF-8 bytes Go
 * would be handed) into Go-decodable nodes; returns undefined for an empty document. Bytes
 * are decoded as Go's reader decodes them (go-yaml-reader.ts): UTF-8, or UTF-16 after a byte
 * order mark; a fault there (`yaml: invalid trailing UTF-8 octet`, `yaml: control characters
 * are not allowed`…) fails the file once the scanner reaches its block.
 * Throws GoYamlError `yaml: line N: …` on syntax errors: the first error of Go's scanner,
 * parser or composer (an alias before its anchor), worded and placed as Go words and places
 * it (go-yaml-scanner.ts, go-yaml-parser.ts). Only a text Go reads and YAML 1.2 does not would
 * get the JavaScript parser's words (none is known: see forJavaScriptParser).
 *
 * Like yaml.v3's Decoder.Decode and yaml.v2/v3 `Unmarshal` (decode.go `parser.parse`, which reads
 * one document node), later documents are not decoded and their parse faults are not reported.
 * But Go's scanner runs ahead of its parser (see go-yaml-scanner.ts): past the first document's
 * root it scans the next token (both packages) and, in yaml.v3, two more, so a token that does
 * not scan there (an unterminated quote right after `---`, a bad `%` directive, a tab where a
 * token should start…) fails the file. `yamlPackage` is the package that reads the file:
 * yaml.v3 for rule files, yaml.v2 for promtool test files. The first document also ends where
 * Go's scanner says: at a `%` directive line, or after a flow collection root
 * (`{groups: []} more`), whatever follows only being scanned.
 */
export function parseGoYaml(
  source: string | Uint8Array,
  yamlPackage: GoYamlPackage = 'yaml.v3',
): GoYamlValue | undefined {
  const v3 = yamlPackage === 'yaml.v3'
  const { text, fault } = readGoYaml(source)
  const go = scanGoFirstDocument(text, v3, fault)
  const text12 = forJavaScriptParser(text, go)
  // Offsets are the same in both texts; lines and columns are counted as Go counts them.
  const lineCounter = goLineCounter(text)
  const parsed = go.end !== undefined && go.end < text12.length ? text12.slice(0, go.end) : text12
  const { doc, errors } = parseFirstDocument(parsed)
  const first = errors[0] as { message: string; pos: [number, number] } | undefined
  // Go's scanner and parser are ported: the error they stop at is Go's, wherever the
  // JavaScript parser (YAML 1.2, another grammar) finds its first fault.
  if (go.error) throw new GoYamlError(go.error.goMessage(v3))
  if (first !== undefined) {
    throw new GoYamlError(
      `yaml: line ${lineCounter.linePos(first.pos[0]).line}: ${(first.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`,
    )
  }
  if (doc === undefined) return undefined
  // A node with an anchor or a tag starts, for Go, at its first property (the JavaScript
  // parser's range starts at its content): `labels: &l` above a block mapping is the anchor's line.
  const nodeStart = (offset: number) => go.propertyStarts?.get(offset) ?? offset
  const lineOf = (offset: number | undefined) =>
    offset === undefined ? 0 : lineCounter.linePos(nodeStart(offset)).line
  const colOf = (offset: number | undefined) =>
    offset === undefined ? 0 : lineCounter.linePos(nodeStart(offset)).col
  // The collections being converted: an alias to one of them would recurse for ever.
  const converting = new Set<unknown>()
  const convert = (node: unknown): GoYamlValue => {
    if (isAlias(node)) {
      const target = node.resolve(doc)
      // yaml.v2 and v3 (composer): an alias must follow its anchor in the document.
      if (target === undefined) throw new GoYamlError(`yaml: unknown anchor '${node.source}' referenced`)
      if (!converting.has(target)) {
        const value = convert(target)
        return value.kind === 'list' ? { ...value, alias: true } : value
      }
      // Go reports the anchored collection, as for any alias.
      const line = lineOf((target as Node).range?.[0])
      const col = colOf((target as Node).range?.[0])
      return isSeq(target)
        ? { kind: 'list', items: [], line, col, selfAlias: node.source, alias: true }
        : { kind: 'map', entries: [], merges: [], line, col, selfAlias: node.source }
    }
    const n = node as Node | null
    const line = lineOf(n?.range?.[0])
    const col = colOf(n?.range?.[0])
    if (n === null || n === undefined) return { kind: 'scalar', text: null, quoted: false, line, col }
    const tagged = n.range ? go.tags?.get(n.range[0]) : undefined
    if (isScalar(n)) {
      // The non-specific `!`, which the JavaScript parser keeps on the node: yaml.v3 reads the
      // node as if untagged (node.go `ShortTag`), yaml.v2 keeps `!` as its tag, which no type
      // resolves to (resolve.go `resolvableTag`), so `value: ! 2` is the text `2`, no float.
      const bang = !v3 && n.tag === '!' ? '!' : undefined
      const value = scalar(n, line, col, tagged?.collection ? undefined : (tagged?.tag ?? bang))
      return withGoBlockText(value, n, go.blockScalars)
    }
    converting.add(n)
    try {
      return withTag(convertCollection(n, line, col), tagged?.collection ? tagged.tag : undefined)
    } finally {
      converting.delete(n)
    }
  }
  const convertCollection = (n: Node, line: number, col: number): GoYamlValue => {
    if (isSeq(n)) return { kind: 'list', items: n.items.map(convert), line, col }
    if (isMap(n)) {
      const map: GoYamlMap = { kind: 'map', line, col, entries: [], merges: [] }
      for (const pair of n.items) {
        const key = convert(pair.key)
        // The parser marks a plain `<<` (or `!!merge <<`) key with a symbol value; a quoted
        // "<<" is an ordinary string key, in Go as here (yaml.v3 decode.go `isMerge`).
        // A tag other than !!merge makes `<<` an ordinary key too (the JavaScript parser sees
        // such a tag replaced by a local one, see JAVASCRIPT_TAGS), but for the non-specific
        // `!`: yaml.v3 gives a plain `! <<` the merge tag (decode.go `parser.node`), yaml.v2
        // marks a `!` key implicit, quoted or not (parserc.go `plain_implicit`, `isMerge`).
        if (
          isScalar(pair.key) &&
          ((typeof pair.key.value === 'symbol' && (key.tag === undefined || key.tag === '!!merge')) ||
            (pair.key.tag === '!' && pair.key.value === '<<' && (!v3 || pair.key.type === Scalar.PLAIN)))
        ) {
          map.merges.push({ at: map.entries.length, keyLine: key.line, value: convert(pair.value) })
          continue
        }
        map.entries.push({
          key: key.kind === 'scalar' ? (key.text ?? '') : '',
          keyLine: key.line,
          scalarKey: key.kind === 'scalar',
          ...(key.kind === 'scalar' ? {} : { collectionKey: key }),
          ...(key.kind === 'scalar' && key.text === null && !key.binary
            ? { nullKey: key.nullText ?? '' }
            : {}),
          ...(key.kind === 'scalar' && key.tag !== undefined ? { keyTag: key.tag } : {}),
          value: convert(pair.value),
          stringKey:
            key.kind === 'scalar' &&
            (key.tag === undefined
              ? key.quoted || key.binary === true || !V3_NON_STRING_RE.test(key.text ?? '')
              : key.tag === '!!str'),
        })
      }
      return map
    }
    return { kind: 'scalar', text: null, quoted: false, line, col }
  }
  if (doc.contents === null) return undefined
  const root = convert(doc.contents)
  return root.kind === 'scalar' && root.text === null ? undefined : root
}

/** The JavaScript parser's first document of `source`, and its faults before that document ends. */
/**
 * The text handed to the JavaScript parser (YAML 1.2) so that it reads what Go (YAML 1.1)
 * reads, at the same offsets:
 *
 * - Go breaks lines at NEL, U+0085, and at a CR without LF, as at \n, and reads such a break
 *   in a scalar as \n (scannerc.go `read_line`); the JavaScript parser reads them as
 *   characters. Outside quoted scalars and flow collections each becomes \n.
 * - The JavaScript parser ends a quoted scalar at a continuation line indented no deeper than
 *   its key (`Missing closing "quote`), and refuses a flow collection in a block whose lines
 *   are (`must be sufficiently indented`), where Go reads both whatever their indentation. A
 *   flow collection is handed over on one line: its breaks as spaces, its comments blanked.
 *   Inside quoted scalars, and plain ones in a flow collection, each break and the blanks
 *   written around it become same-length stand-ins (`scalarBreaks`), folded after parsing as
 *   Go folds them (`foldBreaks`).
 * - Right after a closing quote or bracket, or a block scalar's indicators, `#` starts a
 *   comment for Go; YAML 1.2 refuses it there. Such a comment is blanked.
 *
 * - Go also breaks lines at U+2028 and U+2029, and keeps them in a scalar as themselves: they
 *   become \n outside scalars and stand-ins inside quoted ones and plain ones that span lines.
 * - In a flow collection a `:` ends a plain scalar for Go only before a blank (scannerc.go
 *   `yaml_parser_scan_plain_scalar`), for YAML 1.2 also before `,`, `]` and `}`: Go reads
 *   `{team:, a: b}` as the key `team:` and `{u: http://x:}` as the value `http://x:`. Such a
 *   trailing `:` becomes a stand-in (`COLON_IN_FLOW`), put back after parsing.
 *
 * Not emulated: U+2028 and U+2029 inside block scalars (`|`, `>`), where Go keeps them as the
 * line's break.
 */
function forJavaScriptParser(text: string, scan: GoFirstDocument): string {
  const { quoted, flows, plainsInFlow, multilinePlains } = scan
  const foreignTags = [...new Set(scan.tags?.values() ?? [])].filter(({ tag }) => !JAVASCRIPT_TAGS.has(tag))
  if (
    quoted.length === 0 &&
    flows.length === 0 &&
    scan.headerComments.length === 0 &&
    foreignTags.length === 0 &&
    !/[\r\u0085\u2028\u2029]/.test(text)
  )
    return text
  const units = text.split('')
  const write = (at: number, replacement: string) => {
    for (let k = 0; k < replacement.length; k++) units[at + k] = replacement[k] as string
  }
  for (let i = 0; i < units.length; i++) {
    const c = units[i]
    if (c === '\u0085' || c === '\u2028' || c === '\u2029' || (c === '\r' && units[i + 1] !== '\n'))
      units[i] = '\n'
  }
  // Both lists are in text order; one cursor walks the scalars across all flow collections.
  const scalars = [...quoted, ...plainsInFlow].sort((a, b) => a[0] - b[0])
  let next = 0
  for (const [start, end] of flows) {
    while (next < scalars.length && scalars[next]![0] < start) next++
    for (let i = start; i < end; i++) {
      if (next < scalars.length && i === scalars[next]![0]) {
        i = scalars[next]![1] - 1
        next++
        continue
      }
      const c = units[i]
      // (A `:` on a later line than its key is refused by the Go scanner's port first.)
      if (c === '\n' || c === '\r') units[i] = ' '
      else if (c === '#') {
        // A comment: in a flow collection, a `#` outside the scalars can be nothing else.
        for (; i < end && units[i] !== '\n' && units[i] !== '\r'; i++) units[i] = ' '
        i--
      }
    }
  }
  // A multi-line plain value in a block is left to the JavaScript parser's folding, which is
  // Go's, unless it breaks at U+2028 or U+2029, which Go keeps.
  const lsPlains = multilinePlains.filter(([start, end]) => /[\u2028\u2029]/.test(text.slice(start, end)))
  for (const [start, end] of [...quoted, ...plainsInFlow, ...lsPlains]) {
    write(start, scalarBreaks(text.slice(start, end)))
  }
  for (const { start, end, empty } of foreignTags) {
    // A local tag of the same length, which the JavaScript parser keeps as text (with a
    // warning) where a blank would move a block mapping's tagged key off its indentation.
    for (let i = start; i < end; i++) units[i] = i === start ? '!' : 'x'
    // An empty node: an empty quoted scalar in the tag's place (a tag is `!` and at least one
    // character more), a node where the tag is kept. An anchor after the tag, on its line,
    // moves ahead of it, blanked where it was: `!!str &a` is read as `&a ''`.
    if (empty === true) write(start, `''${' '.repeat(end - start - 2)}`)
    else if (empty !== undefined) {
      for (let i = start; i < end; i++) units[i] = ' '
      const at = empty.anchorStart
      for (let i = at; i < at + empty.anchor.length; i++) units[i] = ' '
      write(start, `${empty.anchor} ''`)
    }
  }
  for (const [, end] of plainsInFlow) {
    if (units[end - 1] === ':' && (units[end] === ',' || units[end] === ']' || units[end] === '}'))
      units[end - 1] = COLON_IN_FLOW
  }
  // Right after a closing quote or bracket, or a block scalar's indicators, a `#` starts a
  // comment for Go; YAML 1.2 wants a blank before it (`Comments must be separated from other
  // tokens`).
  for (const end of [...quoted.map(([, e]) => e), ...flows.map(([, e]) => e), ...scan.headerComments]) {
    if (units[end] !== '#') continue
    for (let i = end; i < units.length && units[i] !== '\n' && units[i] !== '\r'; i++) units[i] = ' '
  }
  return units.join('')
}

/**
 * Stand for a line break inside a scalar, an escaped one (`\` and a break), and a blank beside
 * either: characters Go's reader refuses in any file (noncharacters, a lone surrogate).
 */
const BREAK_IN_SCALAR = '\uFFFF'
const ESCAPED_BREAK = '\uD800'
const LINE_SEPARATOR = '\uD801'
const PARAGRAPH_SEPARATOR = '\uD802'
const BLANK_BESIDE_BREAK = '\uFFFE'
/**
 * The tags handed to the JavaScript parser. Any other is replaced and kept on the node
 * (GoYamlValue `tag`), for the decoder to resolve as Go does (go-yaml-resolve.ts): a YAML
 * type's tag decides what the text is (`!!str ~` is text, `!!null ""` null) and whether it
 * reads at all (`!!timestamp x` fails the decode), and a local `!x` or a `!!x` of no YAML
 * type leaves the text as it is, named only in type errors. The JavaScript parser would
 * convert by its own rules, or refuse the tag itself (`!@!x`, `!!s]x`).
 */
const JAVASCRIPT_TAGS = new Set(['!!binary', '!!map', '!!seq', '!!merge'])
/** Stands for a `:` that ends a plain scalar in a flow collection, part of it for Go (see forJavaScriptParser). */
const COLON_IN_FLOW = '\uD803'
const BREAK_RUN = /[\uFFFE\uFFFF\uD800-\uD802]+/g

/**
 * A quoted scalar (quotes included), or a plain one, with its line breaks (\n, \r, CR LF
 * counted once, NEL) and the blanks written around them as same-length stand-ins. In double
 * quotes an escaped character (`\ `, a backslash and a tab) is no blank, and `\` and a break
 * join the lines.
 */
function scalarBreaks(scalar: string): string {
  if (!/[\n\r\u0085\u2028\u2029]/.test(scalar)) return scalar
  const chars = [...scalar]
  const escaped = chars.map(() => false)
  if (chars[0] === '"') {
    for (let i = 1; i < chars.length; i++) if (chars[i] === '\\' && !escaped[i]) escaped[i + 1] = true
  }
  const blank = (i: number) => (chars[i] === ' ' || chars[i] === '\t') && !escaped[i]
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]
    if (c !== '\n' && c !== '\r' && c !== '\u0085' && c !== '\u2028' && c !== '\u2029') continue
    const crlf = c === '\r' && chars[i + 1] === '\n'
    if (escaped[i]) {
      // `\` and a break join the lines: the blanks before the backslash stay.
      chars[i - 1] = BLANK_BESIDE_BREAK
      chars[i] = crlf ? BLANK_BESIDE_BREAK : ESCAPED_BREAK
      if (crlf) escaped[i + 1] = true
    } else {
      // CR LF is one break: the CR goes as a blank. U+2028 and U+2029 keep who they are.
      chars[i] = crlf
        ? BLANK_BESIDE_BREAK
        : c === '\u2028'
          ? LINE_SEPARATOR
          : c === '\u2029'
            ? PARAGRAPH_SEPARATOR
            : BREAK_IN_SCALAR
      for (let j = i - 1; j >= 0 && blank(j); j--) chars[j] = BLANK_BESIDE_BREAK
    }
    for (let j = i + 1; j < chars.length && blank(j); j++) chars[j] = BLANK_BESIDE_BREAK
  }
  return chars.join('')
}

/**
 * A scalar's breaks (see `scalarBreaks`) folded as Go folds them (scannerc.go
 * `yaml_parser_scan_flow_scalar`, `yaml_parser_scan_plain_scalar`): the blanks around a run of
 * breaks dropped, one break read as a space, n breaks as n − 1 newlines; after an escaped
 * break, each break as a newline.
 */
function foldBreaks(value: string): string {
  if (!/[\uFFFF\uD800-\uD803]/.test(value)) return value
  return value.replaceAll(COLON_IN_FLOW, ':').replace(BREAK_RUN, (run) => {
    // Each break as `read_line` reads it: \n, or U+2028 / U+2029 as themselves.
    const breaks = [...run.replaceAll(BLANK_BESIDE_BREAK, '')].map((b) =>
      b === LINE_SEPARATOR
        ? '\u2028'
        : b === PARAGRAPH_SEPARATOR
          ? '\u2029'
          : b === BREAK_IN_SCALAR
            ? '\n'
            : '',
    )
    const [leading = '', ...trailing] = breaks
    // An escaped break (read as '') keeps the breaks after it; a leading \n folds into a space
    // when no break follows, else gives way to them; U+2028 and U+2029 stay.
    if (leading === '\n') return trailing.length === 0 ? ' ' : trailing.join('')
    return leading + trailing.join('')
  })
}

/** Lines and columns as Go counts them: a line starts after \n, \r, CR LF, NEL, U+2028 and U+2029. */
function goLineCounter(text: string): LineCounter {
  const lines = new LineCounter()
  lines.addNewLine(0)
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '\r' && text[i + 1] === '\n') continue
    if (c === '\n' || c === '\r' || c === '\u0085' || c === '\u2028' || c === '\u2029')
      lines.addNewLine(i + 1)
  }
  return lines
}

function parseFirstDocument(source: string) {
  const docs = parseAllDocuments(source, {
    keepSourceTokens: true,
    // Duplicate keys are the decoder's to report, in Go's words (GoDecoder `uniqueKeys`).
    uniqueKeys: false,
    merge: true,
  })
  const doc = Array.isArray(docs) ? docs[0] : undefined
  // The JavaScript parser charges stray content after a `...` to the first document; Go never
  // reads that far, so only the faults before the first document's end count.
  const end = firstDocumentEnd(source)
  return { doc, errors: doc?.errors.filter((e) => e.pos[0] <= end) ?? [] }
}

/**
 * Plain scalars yaml.v3's `resolve` reads as something other than a string: null, bool (v3 knows
 * only true/false), and numbers. Approximate for numbers (v2's syntax); it only decides whether a
 * key shadows a merged key, which matters for keys that are valid label names: true, false, null.
 */
const V3_NON_STRING_RE =
  /^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?|[-+]?0x[0-9a-fA-F_]+|[-+]?0o[0-7_]+|[-+]?0b[01_]+)?$/

/** The offset where the first document ends: its `...`, or the start of the next document. */
function firstDocumentEnd(text: string): number {
  let seen = false
  for (const token of new Parser().parse(text)) {
    if (token.type === 'document') {
      if (seen) return token.offset
      seen = true
    } else if (seen && token.type !== 'comment' && token.type !== 'newline' && token.type !== 'space') {
      return token.offset
    }
  }
  return text.length
}

/**
 * A scalar node. Untagged, a plain `~`, `null` (any case Go knows) or nothing is YAML null;
 * tagged, whatever its tag resolves to null (`!!null ""`), and nothing else (`!!str ~` is the
 * text `~`). A tag the text does not read as (`!!int ~`) fails the decode when the node is
 * decoded (GoDecoder `resolve`), so that text stays.
 */
/**
 * A block scalar's text as Go's scanner builds it (go-yaml-scanner.ts `scanBlockScalar`), in
 * place of the JavaScript parser's: they differ where a line ends the text (Go keeps no final
 * newline there, clipped or kept) and at U+2028 and U+2029, which end a line for Go and stay in
 * the value as written, unfolded (`x\u2028` where the JavaScript parser read `x\n`).
 */
function goBlockText(n: Scalar, blocks: ReadonlyMap<number, string> | undefined): string | undefined {
  if ((n.type !== Scalar.BLOCK_LITERAL && n.type !== Scalar.BLOCK_FOLDED) || !n.range) return undefined
  return blocks?.get(n.range[0])
}

function withGoBlockText<V extends GoScalar>(
  value: V,
  n: Scalar,
  blocks: ReadonlyMap<number, string> | undefined,
): V {
  const text = goBlockText(n, blocks)
  return text === undefined || typeof value.text !== 'string' ? value : { ...value, text }
}

/**
 * `yaml`'s `parse` (its first error thrown, warnings dropped), with each block scalar's value
 * as Go reads it (goBlockText): for readers that take the JavaScript parser's values of text a
 * Go program reads, such as a Sloth spec, which Sloth trims before yaml.v2 reads it, so that a
 * block ending the spec always ends the text.
 * @throws the parser's first YAMLParseError
 */
export function parseYamlGoBlocks(
  text: string,
  options: ParseOptions & DocumentOptions & SchemaOptions & ToJSOptions = {},
): unknown {
  const doc = parseDocument(text, options)
  if (doc.errors.length > 0) throw doc.errors[0]
  const blocks = scanGoFirstDocument(text, false).blockScalars
  visit(doc, {
    Scalar(_key, node) {
      const goText = goBlockText(node, blocks)
      if (goText !== undefined && typeof node.value === 'string') node.value = goText
    },
  })
  return doc.toJS(options)
}

function scalar(n: Scalar, line: number, col: number, tag: string | undefined): GoScalar & { tag?: string } {
  const v = untaggedScalar(n, line, col)
  if (tag === undefined) return v
  const text = v.text ?? v.nullText ?? ''
  // The packages differ only in booleans, so either tells null.
  const resolved = v.binary ? undefined : goResolve(tag, text, true)
  if (resolved !== undefined && 'value' in resolved && resolved.value.kind === 'null') {
    return { ...v, text: null, nullText: text, tag }
  }
  const { nullText: _, ...rest } = v
  return { ...rest, text, tag }
}

function untaggedScalar(n: Scalar, line: number, col: number): GoScalar {
  // yaml.v3 and v2 keep a `!!binary` scalar's text and base64-decode it when it lands in a string
  // (decode.go `scalar`); the text is the value as written, even `null` (the tag wins).
  if (n.tag === 'tag:yaml.org,2002:binary') {
    return { kind: 'scalar', text: foldBreaks(n.source ?? ''), quoted: false, binary: true, line, col }
  }
  const quoted = n.type === Scalar.QUOTE_DOUBLE || n.type === Scalar.QUOTE_SINGLE
  const block = n.type === Scalar.BLOCK_LITERAL || n.type === Scalar.BLOCK_FOLDED
  if (quoted) return { kind: 'scalar', text: foldBreaks(String(n.value)), quoted: true, line, col }
  if (block) return { kind: 'scalar', text: String(n.value), quoted: true, line, col }
  const source = foldBreaks(n.source ?? (n.value === null ? '' : String(n.value)))
  if (NULL_RE.test(source)) return { kind: 'scalar', text: null, nullText: source, quoted: false, line, col }
  return { kind: 'scalar', text: source, quoted: false, line, col }
}

function withTag<V extends GoYamlValue>(v: V, tag: string | undefined): V {
  return tag === undefined ? v : { ...v, tag }
}

/**
 * Go's YAML tag of a node, as printed in `cannot unmarshal !!tag \`value\` into T`: its
 * explicit tag, else what resolve.go resolves a plain scalar's text to (`v3`: yaml.v3's
 * booleans, true and false only).
 */
function goTag(v: GoYamlValue, v3: boolean): string {
  if (v.tag !== undefined) return v.tag
  if (v.kind === 'list') return '!!seq'
  if (v.kind === 'map') return '!!map'
  if (v.binary) return '!!binary'
  if (v.text === null) return '!!null'
  if (v.quoted) return '!!str'
  const resolved = goResolve(undefined, v.text, v3)
  return 'tag' in resolved ? resolved.tag : '!!str'
}

const INT64_MAX_FLOAT = 2 ** 63

/** Which Go YAML package decodes the document; they differ on merge keys. */
export type GoYamlPackage = 'yaml.v2' | 'yaml.v3'

const MERGE_WANTS_MAP = 'yaml: map merge requires map or sequence of maps as the value'
const BAD_BASE64 = 'yaml: !!binary value contains invalid base64 data'

/** Go's base64.StdEncoding: padded, and `\r`/`\n` anywhere are skipped. */
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/**
 * Decodes Go-YAML nodes into typed fields, collecting the type errors the way yaml.v2's
 * `UnmarshalStrict` does (every error, each with its line) instead of stopping at the first.
 *
 * Merge keys follow the package that decodes the file in promtool 2.42: yaml.v3 for rule files
 * (rulefmt), yaml.v2 for test files (cmd/promtool). Unless given, the package is told by the
 * first struct decoded: promtool's own types (`main.…`) are yaml.v2's, the others yaml.v3's.
 * Go's fatal decode errors (a merge of a non-map, bad `!!binary` base64) abort its decoding and
 * discard the type errors collected so far; here the first one is kept, later reads return zero
 * values, and `check` throws it alone.
 */
/** Paths of entry and item indexes in decoding order: a node before its children. */
function comparePaths(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number)
  }
  return a.length - b.length
}

export class GoDecoder {
  /** Each error with where Go meets it: the path of entry and item indexes from the root. */
  private readonly errors: { message: string; at: readonly number[] }[] = []
  /** Where each node is in Go's decoding order (see `check`). */
  private readonly paths = new WeakMap<GoYamlValue, readonly number[]>()
  private fatal: string | undefined

  constructor(private yamlPackage?: GoYamlPackage) {}

  private pathOf(v: GoYamlValue): readonly number[] {
    return this.paths.get(v) ?? []
  }

  private report(at: readonly number[], message: string): void {
    this.errors.push({ message, at })
  }

  /**
   * decode.go `terror`: a scalar longer than 10 bytes is shown by its first 7 and `...`, cut in
   * bytes as Go cuts it.
   */
  private mismatch(v: GoYamlValue, goType: string): void {
    // decode.go `terror`: the value is shown unless the tag is !!seq or !!map (a collection
    // with another tag shows its empty Value).
    // decode.go `scalar` resolves a scalar before it finds the field's type wrong: a tag the
    // text does not read as fails the whole decode first.
    if (v.kind === 'scalar' && !this.checkTag(v)) return
    const tag = goTag(v, this.yamlPackage !== 'yaml.v2')
    let shown = ''
    if (tag !== '!!seq' && tag !== '!!map') {
      const text = v.kind === 'scalar' ? (v.text ?? v.nullText ?? '') : ''
      const bytes = goStringToBytes(text)
      shown = ` \`${bytes.length > 10 ? `${goStringFromBytes(bytes.subarray(0, 7))}...` : text}\``
    }
    this.report(this.pathOf(v), `line ${v.line}: cannot unmarshal ${tag}${shown} into ${goType}`)
  }

  /**
   * decode.go `mappingStruct` and `mapping` decode each key into a string first, and skip the
   * entry when that fails: a null key silently (yaml.v3; yaml.v2 reads it as ""); a collection
   * key as `cannot unmarshal !!map into string` at its line; a tagged key its text does not
   * read as (`!!int x:`) fails the whole decode (see `resolve`).
   */
  private keyRefused(e: GoYamlMapEntry, path: number[]): boolean {
    if (e.nullKey !== undefined && this.yamlPackage !== 'yaml.v2') return true
    if (e.keyTag !== undefined) {
      const resolved = goResolve(e.keyTag, e.key, this.yamlPackage !== 'yaml.v2')
      if ('failure' in resolved) {
        this.fail(resolved.failure)
        return true
      }
    }
    if (e.collectionKey === undefined) return false
    this.paths.set(e.collectionKey, path)
    this.mismatch(e.collectionKey, 'string')
    return true
  }

  private fail(message: string): void {
    this.fatal ??= message
  }

  /** decode.go `alias`: decoding a collection through an alias inside itself fails the whole decode. */
  private containsItself(v: GoYamlMap | GoYamlList): boolean {
    if (v.selfAlias === undefined) return false
    this.fail(`yaml: anchor '${v.selfAlias}' value contains itself`)
    return true
  }

  /** A Go `string` field: the scalar as written; null is ""; `!!binary` is base64-decoded. */
  string(v: GoYamlValue | undefined): string {
    if (v === undefined || this.fatal !== undefined) return ''
    if (v.kind !== 'scalar') {
      this.mismatch(v, 'string')
      return ''
    }
    if (v.binary) return this.base64(v.text ?? '')
    if (!this.checkTag(v)) return ''
    return v.text ?? ''
  }

  /**
   * What a `model.Duration` field's UnmarshalYAML reads (`unmarshal(&s)`, so a `!!binary` is
   * decoded and an explicit tag must resolve): undefined for null, the zero duration without an
   * error (decode.go `prepare` skips the unmarshaler), and after a type or fatal error.
   */
  durationText(v: GoYamlValue | undefined): string | undefined {
    if (v === undefined || this.fatal !== undefined || (v.kind === 'scalar' && v.text === null))
      return undefined
    const errors = this.errors.length
    const text = this.string(v)
    return this.fatal === undefined && this.errors.length === errors ? text : undefined
  }

  /**
   * decode.go `scalar` → resolve.go `resolve` (go-yaml-resolve.ts): a scalar's Go value. A
   * quoted or block scalar without a tag is a string as written. A scalar whose explicit tag is
   * a YAML type must read as that type (a !!float may hold an int), quoted or not; else the
   * decode fails outright, `yaml: cannot decode !!str \`x\` as a !!int`, and this returns
   * undefined.
   */
  private resolve(v: GoScalar & { tag?: string }): GoResolved | undefined {
    if (v.binary) return { tag: '!!binary', value: { kind: 'string' } }
    if (v.quoted && v.tag === undefined) return { tag: '!!str', value: { kind: 'string' } }
    const resolved = goResolve(v.tag, v.text ?? v.nullText ?? '', this.yamlPackage !== 'yaml.v2')
    if ('failure' in resolved) {
      this.fail(resolved.failure)
      return undefined
    }
    return resolved
  }

  private checkTag(v: GoScalar & { tag?: string }): boolean {
    return v.tag === undefined || this.resolve(v) !== undefined
  }

  /**
   * yaml.v3/v2 decode.go `scalar` on `!!binary`: base64.StdEncoding.DecodeString, whose failure
   * is fatal. Go keeps the bytes as they are, UTF-8 or not; so does the string here, each byte
   * that is not UTF-8 as a lone surrogate (see go-bytes.ts).
   */
  private base64(text: string): string {
    const clean = text.replace(/[\r\n]/g, '')
    if (!BASE64_RE.test(clean)) {
      this.fail(BAD_BASE64)
      return ''
    }
    return goStringFromBytes(Buffer.from(clean, 'base64'))
  }

  /**
   * A Go `float64` field: decode.go `scalar` takes any resolved int or float; a null leaves
   * the zero value without an error.
   */
  float(v: GoYamlValue | undefined): number {
    return this.number(v, 'float64', (value) =>
      value.kind === 'float'
        ? value.value
        : value.kind === 'int' || value.kind === 'uint'
          ? Number(value.value)
          : undefined,
    )
  }

  /**
   * A Go `int` field (64-bit): decode.go `scalar` takes a resolved int64, and a float up to
   * 2^63 converted as Go converts on amd64 (truncated; out of int64's range, -2^63); a null
   * leaves the zero value without an error.
   */
  int(v: GoYamlValue | undefined): number {
    return this.number(v, 'int', (value) => {
      if (value.kind === 'int') return Number(value.value)
      if (value.kind !== 'float' || !(value.value <= INT64_MAX_FLOAT)) return undefined
      const f = value.value
      return f >= -INT64_MAX_FLOAT && f < INT64_MAX_FLOAT ? Math.trunc(f) + 0 : -INT64_MAX_FLOAT
    })
  }

  /** A numeric field of `goType`: `convert` takes the resolved value or says it does not fit (a type error). */
  private number(
    v: GoYamlValue | undefined,
    goType: string,
    convert: (value: GoResolvedValue) => number | undefined,
  ): number {
    if (v === undefined || this.fatal !== undefined) return 0
    if (v.kind === 'scalar') {
      const resolved = this.resolve(v)
      if (resolved === undefined || resolved.value.kind === 'null') return 0
      const n = convert(resolved.value)
      if (n !== undefined) return n
    }
    this.mismatch(v, goType)
    return 0
  }

  /** A `[]T` field; null is an empty list. */
  list(v: GoYamlValue | undefined, goType: string): GoYamlValue[] {
    if (v === undefined || this.fatal !== undefined || (v.kind === 'scalar' && v.text === null)) return []
    if (v.kind === 'list' && this.containsItself(v)) return []
    if (v.kind !== 'list') {
      this.mismatch(v, goType)
      return []
    }
    const base = this.pathOf(v)
    for (const [i, item] of v.items.entries()) this.paths.set(item, [...base, i])
    return v.items
  }

  /** A `map[string]string` field; null is an empty map. */
  stringMap(v: GoYamlValue | undefined): Record<string, string> {
    const out: Record<string, string> = {}
    if (v === undefined || this.fatal !== undefined || (v.kind === 'scalar' && v.text === null)) return out
    if (v.kind !== 'map') {
      this.mismatch(v, 'map[string]string')
      return out
    }
    const v2 = this.yamlPackage === 'yaml.v2'
    const base = this.pathOf(v)
    for (const [i, e] of this.merged(v).entries()) {
      this.paths.set(e.value, [...base, i])
      if (this.keyRefused(e, [...base, i])) continue
      const value = this.string(e.value)
      if (this.fatal !== undefined) return {}
      // A value that does not decode sets nothing, so it cannot clash (yaml.v2 `setMapIndex`
      // runs only after a successful unmarshal).
      if (v2 && e.value.kind !== 'scalar') continue
      if (v2 && Object.hasOwn(out, e.key)) {
        // yaml.v2 decode.go `setMapIndex` under UnmarshalStrict: a key set twice, written twice
        // or through `<<`, is an error at the later value.
        this.report([...base, i], `line ${e.value.line}: key ${JSON.stringify(e.key)} already set in map`)
        continue
      }
      out[e.key] = value
    }
    return out
  }

  /**
   * A struct: returns its fields by YAML key; unknown keys are errors (`UnmarshalStrict`,
   * `KnownFields`), worded `field x not found in type T`, unless `strict` is false (plain
   * `Unmarshal`, which skips them).
   */
  struct(
    v: GoYamlValue | undefined,
    goType: string,
    known: readonly string[],
    strict = true,
  ): Map<string, GoYamlValue> {
    this.yamlPackage ??= goType.startsWith('main.') ? 'yaml.v2' : 'yaml.v3'
    const fields = new Map<string, GoYamlValue>()
    if (v === undefined || this.fatal !== undefined || (v.kind === 'scalar' && v.text === null)) return fields
    if (v.kind !== 'map') {
      this.mismatch(v, goType)
      return fields
    }
    // yaml.v2 UnmarshalStrict (decode.go `mappingStruct`): a field the mapping itself sets twice
    // is an error at the later key, which is skipped; merged fields are set by a nested decode
    // and may overwrite (yaml.v3 refuses any duplicate key first, in `merged`).
    const base = this.pathOf(v)
    const again = new Set<GoYamlMapEntry>()
    if (this.yamlPackage === 'yaml.v2' && strict) {
      const set = new Set<string>()
      for (const e of v.entries) {
        if (!e.scalarKey || !known.includes(e.key)) continue
        if (set.has(e.key)) again.add(e)
        set.add(e.key)
      }
    }
    for (const [i, e] of this.merged(v).entries()) {
      this.paths.set(e.value, [...base, i])
      if (this.keyRefused(e, [...base, i])) continue
      if (again.has(e)) {
        this.report([...base, i], `line ${e.keyLine}: field ${e.key} already set in type ${goType}`)
        continue
      }
      if (!known.includes(e.key)) {
        if (strict) this.report([...base, i], `line ${e.keyLine}: field ${e.key} not found in type ${goType}`)
        continue
      }
      // yaml.v3's list holds each key once; in yaml.v2's the last write wins, as there.
      fields.set(e.key, e.value)
    }
    return fields
  }

  /** A mapping's entries with its `<<` merges resolved, as the decoding package sees them. */
  private merged(m: GoYamlMap): GoYamlMapEntry[] {
    return (this.yamlPackage ?? 'yaml.v3') === 'yaml.v2' ? this.mergedV2(m) : this.mergedV3(m)
  }

  /**
   * yaml.v2 decode.go `mapping`/`mappingStruct` and `merge`: each `<<` is decoded where it
   * stands, into the same map or struct, so it and the keys around it are set in file order
   * (the later write wins in a struct; a map under UnmarshalStrict refuses the second). A
   * sequence is merged from its last map to its first, so that the earlier maps win.
   */
  private mergedV2(m: GoYamlMap): GoYamlMapEntry[] {
    if (this.containsItself(m)) return []
    const out: GoYamlMapEntry[] = []
    let next = 0
    for (const merge of m.merges) {
      out.push(...m.entries.slice(next, merge.at))
      next = merge.at
      const value = merge.value
      const maps = value.kind === 'list' ? [...value.items].reverse() : [value]
      if (maps.some((x) => x.kind !== 'map')) {
        this.fail(MERGE_WANTS_MAP)
        return []
      }
      for (const x of maps) out.push(...this.mergedV2(x as GoYamlMap))
    }
    out.push(...m.entries.slice(next))
    return out
  }

  /**
   * yaml.v3 decode.go `mapping`/`mappingStruct` and `merge`: the mapping's own keys first, then
   * the one `<<` value (two `<<` keys are a duplicate key, and the mapping decodes to nothing);
   * a key already set is not set again, so the mapping's own keys win over merged ones, and in
   * a sequence of maps the earlier maps win, each map's own keys before its nested merges. The
   * mapping's own keys are remembered as Go values (`mergedFields` of interface{}), so a plain
   * `true:` does not shadow a merged `true` (a string), which then wins.
   */
  private mergedV3(m: GoYamlMap, seen?: Set<string>): GoYamlMapEntry[] {
    if (this.containsItself(m) || !this.uniqueKeys(m)) return []
    let out: GoYamlMapEntry[]
    if (seen === undefined) {
      out = [...m.entries]
      if (m.merges.length === 0) return out
      seen = new Set(m.entries.filter((e) => e.stringKey).map((e) => e.key))
    } else {
      const marked = seen
      out = m.entries.filter((e) => !marked.has(e.key))
      for (const e of out) marked.add(e.key)
    }
    const merge = m.merges[m.merges.length - 1]
    if (merge === undefined) return out
    if (merge.value.kind === 'list' && merge.value.alias) {
      this.fail(MERGE_WANTS_MAP)
      return []
    }
    const maps = merge.value.kind === 'list' ? merge.value.items : [merge.value]
    for (const x of maps) {
      if (x.kind !== 'map') {
        this.fail(MERGE_WANTS_MAP)
        return []
      }
      out.push(...this.mergedV3(x, seen))
    }
    return out
  }

  /** yaml.v3 decode.go `mapping` (uniqueKeys): `<<` twice is `mapping key "<<" already defined`. */
  /**
   * yaml.v3 decode.go `mapping`/`mappingStruct` with `uniqueKeys`: every pair of keys with the
   * same text, `<<` included, is an error at the later one, and the mapping decodes to nothing.
   */
  private uniqueKeys(m: GoYamlMap): boolean {
    const keys: { key: string; line: number }[] = []
    let next = 0
    const own = (upTo: number) => {
      for (; next < upTo; next++) {
        const e = m.entries[next] as GoYamlMapEntry
        if (e.scalarKey) keys.push({ key: e.nullKey ?? e.key, line: e.keyLine })
      }
    }
    for (const merge of m.merges) {
      own(merge.at)
      keys.push({ key: '<<', line: merge.keyLine })
    }
    own(m.entries.length)
    const before = this.errors.length
    keys.forEach((a, i) => {
      for (const b of keys.slice(i + 1)) {
        if (b.key === a.key)
          this.report(
            this.pathOf(m),
            `line ${b.line}: mapping key ${goQuote(b.key)} already defined at line ${a.line}`,
          )
      }
    })
    return this.errors.length === before
  }

  /** Throws the first fatal decode error, else the collected errors as `unmarshal errors:`, if any. */
  check(): void {
    if (this.fatal !== undefined) throw new GoYamlError(this.fatal)
    if (this.errors.length > 0) {
      // Go meets them decoding each mapping's entries in its order (own keys, then merged ones,
      // in yaml.v3); the callers here decode a struct's fields in their own order, so the errors
      // are put back in Go's by the path of the node each concerns (stably).
      const ordered = [...this.errors].sort((a, b) => comparePaths(a.at, b.at)).map((e) => e.message)
      throw new GoYamlError(`yaml: unmarshal errors:\n  ${ordered.join('\n  ')}`)
    }
  }
}
