/**
 * The parser of gopkg.in/yaml.v2 (2.4.0) and yaml.v3 (3.0.1), parserc.go, ported over the token
 * scanner of go-yaml-scanner.ts for the same question: where does Go's first document end, and
 * which error does Go stop at on the way? Its state machine and its errors are Go's
 * (`did not find expected key`, `did not find expected '-' indicator`, `did not find expected
 * node content`, `did not find expected ',' or ']'`, the directives' and tag handles' errors),
 * with their context and problem marks, so a rule file with a syntax error is refused in
 * promtool's words and at promtool's line. Events are not built: only where the root node ends.
 */

import type { GoReaderFault } from './go-yaml-reader.ts'
import {
  type GoFirstDocument,
  type GoMark,
  type GoNodeTag,
  GoScanError,
  Scanner,
  type Token,
  type TokenType,
} from './go-yaml-scanner.ts'

/** parserc.go's `yaml_parser_state_t`, the states a first document can reach. */
type ParserState =
  | 'IMPLICIT_DOCUMENT_START'
  | 'DOCUMENT_CONTENT'
  | 'DOCUMENT_END'
  | 'BLOCK_NODE'
  | 'BLOCK_NODE_OR_INDENTLESS_SEQUENCE'
  | 'FLOW_NODE'
  | 'BLOCK_SEQUENCE_FIRST_ENTRY'
  | 'BLOCK_SEQUENCE_ENTRY'
  | 'INDENTLESS_SEQUENCE_ENTRY'
  | 'BLOCK_MAPPING_FIRST_KEY'
  | 'BLOCK_MAPPING_KEY'
  | 'BLOCK_MAPPING_VALUE'
  | 'FLOW_SEQUENCE_FIRST_ENTRY'
  | 'FLOW_SEQUENCE_ENTRY'
  | 'FLOW_SEQUENCE_ENTRY_MAPPING_KEY'
  | 'FLOW_SEQUENCE_ENTRY_MAPPING_VALUE'
  | 'FLOW_SEQUENCE_ENTRY_MAPPING_END'
  | 'FLOW_MAPPING_FIRST_KEY'
  | 'FLOW_MAPPING_KEY'
  | 'FLOW_MAPPING_VALUE'
  | 'FLOW_MAPPING_EMPTY_VALUE'

/** Thrown inside the walk for `yaml_parser_set_parser_error(_context)`; caught by scanGoFirstDocument. */
class ParserStop {
  constructor(readonly error: GoScanError) {}
}

const NO_MARK: GoMark = { index: 0, line: 0, column: 0 }
const YAML_TAG_PREFIX = 'tag:yaml.org,2002:'
/** Tokens that start a collection node (or an indentless sequence, with BLOCK_ENTRY). */
const OPENS: ReadonlySet<TokenType> = new Set([
  'FLOW_SEQUENCE_START',
  'FLOW_MAPPING_START',
  'BLOCK_SEQUENCE_START',
  'BLOCK_MAPPING_START',
  'BLOCK_ENTRY',
])

/**
 * A tag as written (`!!str`, `!e!x`, `!local`, `!<verbatim>`, `!`) as parse_node resolves it:
 * the handle's prefix (a %TAG directive's, or the defaults `!` and `!!`) and the suffix.
 */
function resolveTag(
  written: string,
  handle: string | undefined,
  directives: ReadonlyMap<string, string>,
): string {
  if (written.startsWith('!<')) return written.slice(2, -1)
  if (written === '!') return '!'
  const h = handle ?? '!'
  const prefix = directives.get(h) ?? (h === '!!' ? YAML_TAG_PREFIX : '!')
  return prefix + written.slice(h.length)
}
/** A tag's `!handle!` (scannerc.go `yaml_parser_scan_tag_handle`: `!`, word characters, `!`). */
const TAG_HANDLE = /^!([0-9A-Za-z_-]*)!/

/**
 * Follows `text` as Go's decoder reads its first document: the scanner fetches tokens ahead as
 * `yaml_parser_fetch_more_tokens` does each time the parser peeks, the parser's state machine
 * consumes them, and after the root node `yaml_parser_parse_document_end` peeks once more.
 * The first error met, the scanner's or the parser's, is Go's: a scanner error while fetching
 * ahead stops the parser before it sees the tokens already queued.
 *
 * @param v3 yaml.v3's lookahead (rule files) rather than yaml.v2's (promtool test files).
 * @param fault where Go's reader fails on the bytes (go-yaml-reader.ts), met when scanned.
 * @returns the root's end offset (absent when the walk stopped inside it), the error Go stops
 *   at (GoScanError; `goMessage` words it), and the scalar and collection ranges the scanner
 *   recorded. Go's errors are returned, not thrown.
 */
export function scanGoFirstDocument(text: string, v3: boolean, fault?: GoReaderFault): GoFirstDocument {
  const s = new Scanner(text, v3, fault)
  let head = 0
  let state: ParserState = 'IMPLICIT_DOCUMENT_START'
  const states: ParserState[] = []
  const marks: GoMark[] = []
  /** The %TAG directives of the document, handle → prefix (the defaults `!` and `!!` are always there). */
  const tagHandles = new Map<string, string>()
  const tags = new Map<number, GoNodeTag>()
  /** The anchors defined so far, which aliases may name (the composer's `anchors`). */
  const anchors = new Set<string>()
  /** A node's content start → its first property's start, for nodes with properties. */
  const propertyStarts = new Map<number, number>()
  /** Where the event just produced ends, as a text offset: the root's end once it is complete. */
  let eventEnd = 0

  const peek = (): Token => {
    s.fetchMore(head)
    return s.tokens[head] as Token
  }
  const skip = (): Token => {
    const token = s.tokens[head] as Token
    head++
    eventEnd = s.offset(token.end)
    return token
  }
  const pop = () => {
    state = states.pop() as ParserState
  }
  const emptyScalar = (mark: GoMark) => {
    eventEnd = s.offset(mark)
  }
  const fail = (context: string, contextMark: GoMark, problem: string, problemMark: GoMark): never => {
    throw new ParserStop(
      new GoScanError(
        context,
        contextMark,
        problem,
        problemMark,
        s.offset(context ? contextMark : problemMark),
        'parser',
      ),
    )
  }
  const source = (token: Token) => text.slice(s.offset(token.start), s.offset(token.end))

  /** yaml_parser_process_directives: `%YAML` once and 1.1, each `%TAG` handle once. */
  const processDirectives = () => {
    let version = false
    for (
      let token = peek();
      token.type === 'VERSION_DIRECTIVE' || token.type === 'TAG_DIRECTIVE';
      token = peek()
    ) {
      const words = source(token).split(/[ \t]+/)
      if (token.type === 'VERSION_DIRECTIVE') {
        if (version) fail('', NO_MARK, 'found duplicate %YAML directive', token.start)
        const [major, minor] = (words[1] ?? '').split('.').map((n) => Number.parseInt(n, 10))
        if (major !== 1 || minor !== 1) fail('', NO_MARK, 'found incompatible YAML document', token.start)
        version = true
      } else {
        const handle = words[1] ?? ''
        if (tagHandles.has(handle)) fail('', NO_MARK, 'found duplicate %TAG directive', token.start)
        tagHandles.set(handle, words[2] ?? '')
      }
      skip()
    }
  }

  /** yaml_parser_parse_document_start with implicit = true: the first document's start. */
  const documentStart = () => {
    const token = peek()
    if (
      token.type !== 'VERSION_DIRECTIVE' &&
      token.type !== 'TAG_DIRECTIVE' &&
      token.type !== 'DOCUMENT_START' &&
      token.type !== 'STREAM_END'
    ) {
      processDirectives()
      states.push('DOCUMENT_END')
      state = 'BLOCK_NODE'
    } else if (token.type !== 'STREAM_END') {
      processDirectives()
      const start = peek()
      if (start.type !== 'DOCUMENT_START')
        fail('', NO_MARK, 'did not find expected <document start>', start.start)
      states.push('DOCUMENT_END')
      state = 'DOCUMENT_CONTENT'
      skip()
    } else {
      // An empty stream: no document, and nothing after it.
      eventEnd = s.offset(token.start)
      state = 'DOCUMENT_END'
    }
  }

  /** yaml_parser_parse_node. */
  const node = (block: boolean, indentlessSequence: boolean) => {
    let token = peek()
    if (token.type === 'ALIAS') {
      // The composer resolves an alias as its event arrives (decode.go `parser.alias`): to an
      // anchor seen before it, else the file fails there, before any later parser error.
      const name = source(token).slice(1)
      if (!anchors.has(name))
        throw new ParserStop(
          new GoScanError(
            '',
            NO_MARK,
            `unknown anchor '${name}' referenced`,
            token.start,
            s.offset(token.start),
            'composer',
          ),
        )
      pop()
      skip()
      return
    }
    let startMark = token.start
    let tag: Token | undefined
    let lastProperty: Token | undefined
    let properties = false
    if (token.type === 'ANCHOR' || token.type === 'TAG') {
      startMark = token.start
      properties = true
      const first = token.type
      if (first === 'TAG') tag = token
      else anchors.add(source(token).slice(1))
      lastProperty = token
      skip()
      token = peek()
      const second: TokenType = first === 'ANCHOR' ? 'TAG' : 'ANCHOR'
      if (token.type === second) {
        if (second === 'TAG') tag = token
        else anchors.add(source(token).slice(1))
        lastProperty = token
        skip()
        token = peek()
      }
    }
    if (properties) propertyStarts.set(s.offset(token.start), s.offset(startMark))
    if (tag !== undefined) {
      const written = source(tag)
      const handle = TAG_HANDLE.exec(written)?.[0]
      if (handle !== undefined && handle !== '!!' && !tagHandles.has(handle))
        fail('while parsing a node', startMark, 'found undefined tag handle', tag.start)
      const full = resolveTag(written, handle, tagHandles)
      if (full !== '!') {
        const short = full.startsWith(YAML_TAG_PREFIX) ? `!!${full.slice(YAML_TAG_PREFIX.length)}` : full
        // A block mapping whose first key is tagged starts where that key does: the kind tells
        // which of the two the tag is on.
        const collection = OPENS.has(token.type)
        tags.set(s.offset(token.start), {
          tag: short,
          start: s.offset(tag.start),
          end: s.offset(tag.end),
          collection,
        })
      }
    }
    if (indentlessSequence && token.type === 'BLOCK_ENTRY') {
      state = 'INDENTLESS_SEQUENCE_ENTRY'
      return
    }
    if (token.type === 'SCALAR') {
      pop()
      skip()
      return
    }
    if (token.type === 'FLOW_SEQUENCE_START') {
      state = 'FLOW_SEQUENCE_FIRST_ENTRY'
      return
    }
    if (token.type === 'FLOW_MAPPING_START') {
      state = 'FLOW_MAPPING_FIRST_KEY'
      return
    }
    if (block && token.type === 'BLOCK_SEQUENCE_START') {
      state = 'BLOCK_SEQUENCE_FIRST_ENTRY'
      return
    }
    if (block && token.type === 'BLOCK_MAPPING_START') {
      state = 'BLOCK_MAPPING_FIRST_KEY'
      return
    }
    if (properties) {
      // An anchor or a tag with no content: an empty scalar, which ends where the next token starts.
      // The properties were recorded under the next token's start, a later node's (`rules`
      // after `interval: !!null`): they move to where the JavaScript parser gets a node for
      // this one, if it does.
      const tagged = tags.get(s.offset(token.start))
      tags.delete(s.offset(token.start))
      propertyStarts.delete(s.offset(token.start))
      if (tagged !== undefined && tag !== undefined && lastProperty !== undefined) {
        // Where the JavaScript parser is handed an empty quoted scalar: the tag's place, or
        // after the anchor that follows the tag on its line, written first (`&a ''`).
        const anchor = lastProperty === tag ? undefined : source(lastProperty)
        const anchorStart = s.offset(lastProperty.start)
        if (anchor === undefined || !/[\n\r\u0085\u2028\u2029]/.test(text.slice(tagged.end, anchorStart))) {
          tagged.empty = anchor === undefined ? true : { anchor, anchorStart }
          const at = anchor === undefined ? tagged.start : tagged.start + anchor.length + 1
          tags.set(at, tagged)
          propertyStarts.set(at, s.offset(startMark))
        }
      }
      pop()
      eventEnd = s.offset(token.start)
      return
    }
    fail(
      block ? 'while parsing a block node' : 'while parsing a flow node',
      startMark,
      'did not find expected node content',
      token.start,
    )
  }

  /** A collection's start token: its mark is the context of the collection's errors. */
  const openCollection = () => {
    marks.push(peek().start)
    skip()
  }
  /** A collection's end token. */
  const closeCollection = () => {
    pop()
    marks.pop()
    skip()
  }
  /**
   * After a block indicator (`-`, `?`, `:`, the head token): its node, or an empty scalar at the
   * indicator's end when one of `stops` follows it; then state `then`.
   */
  const afterIndicator = (then: ParserState, stops: readonly TokenType[], indentless: boolean) => {
    const mark = peek().end
    skip()
    if (!stops.includes(peek().type)) {
      states.push(then)
      return node(true, indentless)
    }
    state = then
    emptyScalar(mark)
  }
  const SEQUENCE_STOPS: readonly TokenType[] = ['BLOCK_ENTRY', 'BLOCK_END']
  const INDENTLESS_STOPS: readonly TokenType[] = ['BLOCK_ENTRY', 'KEY', 'VALUE', 'BLOCK_END']
  const MAPPING_STOPS: readonly TokenType[] = ['KEY', 'VALUE', 'BLOCK_END']

  /** yaml_parser_parse_block_sequence_entry. */
  const blockEntry = (first: boolean) => {
    if (first) openCollection()
    const token = peek()
    if (token.type === 'BLOCK_ENTRY') return afterIndicator('BLOCK_SEQUENCE_ENTRY', SEQUENCE_STOPS, false)
    if (token.type === 'BLOCK_END') return closeCollection()
    fail(
      'while parsing a block collection',
      marks.pop() as GoMark,
      "did not find expected '-' indicator",
      token.start,
    )
  }

  /** yaml_parser_parse_indentless_sequence_entry: its end is the first token that is no `-`. */
  const indentlessEntry = () => {
    const token = peek()
    if (token.type === 'BLOCK_ENTRY')
      return afterIndicator('INDENTLESS_SEQUENCE_ENTRY', INDENTLESS_STOPS, false)
    pop()
    eventEnd = s.offset(token.start)
  }

  /** yaml_parser_parse_block_mapping_key. */
  const blockMappingKey = (first: boolean) => {
    if (first) openCollection()
    const token = peek()
    if (token.type === 'KEY') return afterIndicator('BLOCK_MAPPING_VALUE', MAPPING_STOPS, true)
    if (token.type === 'BLOCK_END') return closeCollection()
    fail('while parsing a block mapping', marks.pop() as GoMark, 'did not find expected key', token.start)
  }

  /** yaml_parser_parse_block_mapping_value: a key with no `:` has an empty value. */
  const blockMappingValue = () => {
    const token = peek()
    if (token.type === 'VALUE') return afterIndicator('BLOCK_MAPPING_KEY', MAPPING_STOPS, true)
    state = 'BLOCK_MAPPING_KEY'
    emptyScalar(token.start)
  }

  /** yaml_parser_parse_flow_sequence_entry and yaml_parser_parse_flow_mapping_key. */
  const flowEntry = (mapping: boolean, first: boolean) => {
    const end: TokenType = mapping ? 'FLOW_MAPPING_END' : 'FLOW_SEQUENCE_END'
    if (first) openCollection()
    let token = peek()
    if (token.type !== end) {
      if (!first) {
        if (token.type !== 'FLOW_ENTRY')
          fail(
            mapping ? 'while parsing a flow mapping' : 'while parsing a flow sequence',
            marks.pop() as GoMark,
            `did not find expected ',' or '${mapping ? '}' : ']'}'`,
            token.start,
          )
        skip()
        token = peek()
      }
      if (token.type === 'KEY') {
        skip()
        if (!mapping) {
          state = 'FLOW_SEQUENCE_ENTRY_MAPPING_KEY'
          return
        }
        const next = peek()
        if (next.type !== 'VALUE' && next.type !== 'FLOW_ENTRY' && next.type !== 'FLOW_MAPPING_END') {
          states.push('FLOW_MAPPING_VALUE')
          return node(false, false)
        }
        state = 'FLOW_MAPPING_VALUE'
        return emptyScalar(next.start)
      }
      if (token.type !== end) {
        states.push(mapping ? 'FLOW_MAPPING_EMPTY_VALUE' : 'FLOW_SEQUENCE_ENTRY')
        return node(false, false)
      }
    }
    closeCollection()
  }

  const flowSequenceEntryMappingKey = () => {
    const token = peek()
    if (token.type !== 'VALUE' && token.type !== 'FLOW_ENTRY' && token.type !== 'FLOW_SEQUENCE_END') {
      states.push('FLOW_SEQUENCE_ENTRY_MAPPING_VALUE')
      return node(false, false)
    }
    // parserc.go skips this token (a `:`, `,` or `]` right after the `?`) before the empty key.
    const mark = token.end
    skip()
    state = 'FLOW_SEQUENCE_ENTRY_MAPPING_VALUE'
    emptyScalar(mark)
  }

  /** yaml_parser_parse_flow_sequence_entry_mapping_value and yaml_parser_parse_flow_mapping_value. */
  const flowValue = (mapping: boolean) => {
    const end: TokenType = mapping ? 'FLOW_MAPPING_END' : 'FLOW_SEQUENCE_END'
    const then: ParserState = mapping ? 'FLOW_MAPPING_KEY' : 'FLOW_SEQUENCE_ENTRY_MAPPING_END'
    let token = peek()
    if (token.type === 'VALUE') {
      skip()
      token = peek()
      if (token.type !== 'FLOW_ENTRY' && token.type !== end) {
        states.push(then)
        return node(false, false)
      }
    }
    state = then
    emptyScalar(token.start)
  }

  const machine = () => {
    switch (state) {
      case 'IMPLICIT_DOCUMENT_START':
        return documentStart()
      case 'DOCUMENT_CONTENT': {
        const token = peek()
        if (
          token.type === 'VERSION_DIRECTIVE' ||
          token.type === 'TAG_DIRECTIVE' ||
          token.type === 'DOCUMENT_START' ||
          token.type === 'DOCUMENT_END' ||
          token.type === 'STREAM_END'
        ) {
          pop()
          return emptyScalar(token.start)
        }
        return node(true, false)
      }
      case 'BLOCK_NODE':
        return node(true, false)
      case 'BLOCK_NODE_OR_INDENTLESS_SEQUENCE':
        return node(true, true)
      case 'FLOW_NODE':
        return node(false, false)
      case 'BLOCK_SEQUENCE_FIRST_ENTRY':
        return blockEntry(true)
      case 'BLOCK_SEQUENCE_ENTRY':
        return blockEntry(false)
      case 'INDENTLESS_SEQUENCE_ENTRY':
        return indentlessEntry()
      case 'BLOCK_MAPPING_FIRST_KEY':
        return blockMappingKey(true)
      case 'BLOCK_MAPPING_KEY':
        return blockMappingKey(false)
      case 'BLOCK_MAPPING_VALUE':
        return blockMappingValue()
      case 'FLOW_SEQUENCE_FIRST_ENTRY':
        return flowEntry(false, true)
      case 'FLOW_SEQUENCE_ENTRY':
        return flowEntry(false, false)
      case 'FLOW_SEQUENCE_ENTRY_MAPPING_KEY':
        return flowSequenceEntryMappingKey()
      case 'FLOW_SEQUENCE_ENTRY_MAPPING_VALUE':
        return flowValue(false)
      case 'FLOW_SEQUENCE_ENTRY_MAPPING_END':
        peek()
        state = 'FLOW_SEQUENCE_ENTRY'
        return
      case 'FLOW_MAPPING_FIRST_KEY':
        return flowEntry(true, true)
      case 'FLOW_MAPPING_KEY':
        return flowEntry(true, false)
      case 'FLOW_MAPPING_VALUE':
        return flowValue(true)
      case 'FLOW_MAPPING_EMPTY_VALUE':
        state = 'FLOW_MAPPING_KEY'
        return emptyScalar(peek().start)
      case 'DOCUMENT_END':
        return
    }
  }

  let end: number | undefined
  try {
    // The STREAM-START token (yaml_parser_parse_stream_start).
    peek()
    skip()
    while ((state as ParserState) !== 'DOCUMENT_END') machine()
    end = eventEnd
    // yaml_parser_parse_document_end peeks the token after the root, which may not scan.
    peek()
    return { end, propertyStarts, tags, ...s.ranges() }
  } catch (err) {
    if (err instanceof ParserStop) return { error: err.error, propertyStarts, tags, ...s.ranges() }
    if (!(err instanceof GoScanError)) throw err
    return { ...(end !== undefined ? { end } : {}), error: err, propertyStarts, tags, ...s.ranges() }
  }
}
