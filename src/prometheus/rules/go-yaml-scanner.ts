/**
 * The token scanner of gopkg.in/yaml.v2 (2.4.0) and yaml.v3 (3.0.1), scannerc.go, ported for one
 * question: where does Go's first document end, and which error does Go meet on the way? Its
 * parser, which pulls these tokens, is go-yaml-parser.ts.
 *
 * Go decodes only the first document of a file, but its parser peeks one token past that
 * document's root node (parserc.go `yaml_parser_parse_document_end`), and the scanner fetches
 * tokens ahead of the parser (`yaml_parser_fetch_more_tokens`): until the head token is not a
 * possible simple key, and in yaml.v3 until two more tokens are queued behind the head (for its
 * comment handling). A token that fails to scan there fails the whole file, although its
 * document is never decoded: yaml.v3 (rule files) rejects `groups: []\n--- "unterminated`,
 * yaml.v2 (promtool test files) does not, since it stops at the `---`.
 *
 * Only token kinds, positions and scanner errors are ported, not scalar values or comments.
 * The reader's faults (invalid UTF-8, control characters; go-yaml-reader.ts) are met where Go
 * meets them: when the scanner first reads a character of the 512-byte block that holds one.
 * Go asks its reader for up to four characters ahead where this scanner reads one, so a fault
 * in a block that starts within three characters of where scanning stops can differ. Not
 * ported: the depth limits.
 */

import { type GoReaderFault, utf8Width } from './go-yaml-reader.ts'

export interface GoMark {
  /** Characters (code points) from the start, as Go's mark.index. */
  index: number
  /** 0-based, as Go's mark.line. */
  line: number
  column: number
}

export type TokenType =
  | 'STREAM_START'
  | 'STREAM_END'
  | 'VERSION_DIRECTIVE'
  | 'TAG_DIRECTIVE'
  | 'DOCUMENT_START'
  | 'DOCUMENT_END'
  | 'BLOCK_SEQUENCE_START'
  | 'BLOCK_MAPPING_START'
  | 'BLOCK_END'
  | 'FLOW_SEQUENCE_START'
  | 'FLOW_SEQUENCE_END'
  | 'FLOW_MAPPING_START'
  | 'FLOW_MAPPING_END'
  | 'BLOCK_ENTRY'
  | 'FLOW_ENTRY'
  | 'KEY'
  | 'VALUE'
  | 'ALIAS'
  | 'ANCHOR'
  | 'TAG'
  | 'SCALAR'

export interface Token {
  type: TokenType
  start: GoMark
  end: GoMark
}

interface SimpleKey {
  possible: boolean
  required: boolean
  tokenNumber: number
  mark: GoMark
}

/** A scanner error as Go records it: `yaml_parser_set_scanner_error`. */
export class GoScanError extends Error {
  constructor(
    readonly context: string,
    readonly contextMark: GoMark,
    readonly problem: string,
    readonly problemMark: GoMark,
    /** The offset in the text of the context mark: where the faulty token starts. */
    readonly offset: number,
    /**
     * `reader` (`yaml_READER_ERROR`): Go prints it without a line; `parser` (a parser error
     * the scanner can see coming): Go prints its 0-based line.
     */
    readonly kind: 'scanner' | 'reader' | 'parser' | 'composer' = 'scanner',
  ) {
    super(problem)
    this.name = 'GoScanError'
  }

  /**
   * The error as Go's decoder words it (decode.go `parser.fail`). yaml.v3 takes the line of the
   * context mark, else of the problem mark; yaml.v2 the problem mark's, else the context mark's
   * without the +1. A 0 line (the first) is left out.
   */
  goMessage(v3: boolean): string {
    // The reader's faults and the composer's (decode.go `failf`) are printed without a line.
    if (this.kind === 'reader' || this.kind === 'composer') return `yaml: ${this.problem}`
    // Only scanner errors have their line moved on by one (decode.go `fail`).
    const next = this.kind === 'scanner' ? 1 : 0
    let line = 0
    if (v3) {
      if (this.contextMark.line !== 0) line = this.contextMark.line + next
      else if (this.problemMark.line !== 0) line = this.problemMark.line + next
    } else if (this.problemMark.line !== 0) line = this.problemMark.line + next
    else if (this.contextMark.line !== 0) line = this.contextMark.line
    return `yaml: ${line !== 0 ? `line ${line}: ` : ''}${this.problem}`
  }
}

const isBreakChar = (c: string) =>
  c === '\r' || c === '\n' || c === '\u0085' || c === '\u2028' || c === '\u2029'
const isBlankOrBreak = (c: string) => c === ' ' || c === '\t' || isBreakChar(c)
const isDigitChar = (c: string) => c >= '0' && c <= '9'
const isAlphaChar = (c: string) =>
  (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c === '_' || c === '-'
const isHexChar = (c: string) => (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f')
const PLAIN_STOPPERS = new Set([...'-?:,[]{}#&*!|>\'"%@`'])
const URI_CHARS = new Set([...";/?:@&=+$,.!~*'()[]%"])
const ANCHOR_END = new Set([...'?:,]}%@`'])

export class Scanner {
  /** The characters after a leading BOM (the reader drops it), and each one's offset in the text. */
  private readonly chars: string[]
  private readonly offsets: number[]
  private i = 0
  private line = 0
  private column = 0
  private newlines = 0
  readonly tokens: Token[] = []
  /** Text offsets [start, end) of the quoted scalars scanned, quotes included. */
  readonly quoted: Array<[number, number]> = []
  /** Text offsets [start, end) of the outermost flow collections scanned, brackets included. */
  readonly flows: Array<[number, number]> = []
  /** Text offsets [start, end) of the plain scalars scanned inside flow collections. */
  readonly plainsInFlow: Array<[number, number]> = []
  /** Text offsets [start, end) of the plain scalars scanned in block context that span lines. */
  readonly multilinePlains: Array<[number, number]> = []
  private flowStart = 0
  /** Text offsets of comments right after a block scalar's indicators (`|#`, `>-#`). */
  readonly headerComments: number[] = []
  /** Each block scalar scanned to its end: its indicator's text offset → its value as Go reads it. */
  readonly blockScalars = new Map<number, string>()

  /** What the scan recorded of the text's quoted scalars and flow collections. */
  ranges(): Pick<
    GoFirstDocument,
    'quoted' | 'flows' | 'plainsInFlow' | 'multilinePlains' | 'headerComments' | 'blockScalars'
  > {
    return {
      blockScalars: this.blockScalars,
      headerComments: this.headerComments,
      quoted: this.quoted,
      flows: this.flows,
      plainsInFlow: this.plainsInFlow,
      multilinePlains: this.multilinePlains,
    }
  }
  private flowLevel = 0
  /** The parser's head when it last asked for tokens: Go's `tokens_parsed`. */
  private head = 0
  private indent = -1
  private readonly indents: number[] = []
  private simpleKeyAllowed = false
  private readonly simpleKeys: SimpleKey[] = []
  private readonly simpleKeysByTok = new Map<number, number>()
  private streamStarted = false

  /** Index of the first character Go cannot decode without meeting the reader's fault. */
  private readonly faultAt: number

  constructor(
    text: string,
    private readonly v3: boolean,
    private readonly fault?: GoReaderFault,
  ) {
    this.faultAt = fault?.at ?? Number.POSITIVE_INFINITY
    const bom = text.startsWith('\uFEFF') ? 1 : 0
    this.chars = []
    this.offsets = []
    let offset = bom
    for (const c of text.slice(bom)) {
      this.chars.push(c)
      this.offsets.push(offset)
      offset += c.length
    }
    this.offsets.push(offset)
  }

  /** The offset in the text of a mark. */
  offset(m: GoMark): number {
    return this.offsets[Math.min(m.index, this.offsets.length - 1)] as number
  }

  private mark(): GoMark {
    return { index: this.i, line: this.line, column: this.column }
  }

  /** The character k ahead; Go's buffer reads NUL past the end. */
  private ch(k = 0): string {
    const at = this.i + k
    if (at >= this.faultAt) {
      const m = this.mark()
      throw new GoScanError(
        '',
        m,
        this.fault!.problem,
        m,
        this.offset({ index: this.faultAt, line: 0, column: 0 }),
        'reader',
      )
    }
    return this.chars[at] ?? '\0'
  }
  private isZ(k = 0) {
    return this.ch(k) === '\0'
  }
  private isBlank(k = 0) {
    const c = this.ch(k)
    return c === ' ' || c === '\t'
  }
  private isBreak(k = 0) {
    return isBreakChar(this.ch(k))
  }
  private isBreakz(k = 0) {
    return this.isBreak(k) || this.isZ(k)
  }
  private isBlankz(k = 0) {
    return this.isBlank(k) || this.isBreakz(k)
  }

  private skip(): void {
    if (!this.isBlank()) this.newlines = 0
    this.i++
    this.column++
  }

  /** skip_line and read_line: a CR LF pair is one break of two characters. */
  private skipLine(): void {
    if (this.ch() === '\r' && this.ch(1) === '\n') {
      this.i += 2
    } else if (this.isBreak()) {
      this.i++
    } else return
    this.column = 0
    this.line++
    this.newlines++
  }

  private error(context: string, contextMark: GoMark, problem: string): never {
    throw new GoScanError(context, contextMark, problem, this.mark(), this.offset(contextMark))
  }

  /**
   * yaml_insert_token at token `number` (-1: at the end). Go places it relative to the
   * parser's head (`number - tokens_parsed`), and a place the parser has already passed is
   * negative: the token is then appended instead, after the ones queued. `[{}name: g]` under a
   * key is such a case: the parser is past the `{` when the `:` makes it a simple key, so the
   * KEY comes after `name`, and Go reports the flow sequence's `did not find expected ',' or
   * ']'`; inserted where the key began, the parser met the `{` a second time.
   */
  private insertToken(number: number, token: Token): void {
    if (number < 0 || number < this.head) this.tokens.push(token)
    else this.tokens.splice(number, 0, token)
  }

  private append(type: TokenType, start: GoMark): void {
    this.tokens.push({ type, start, end: this.mark() })
  }

  /** yaml_parser_fetch_more_tokens, with the parser's head at token `head`. */
  fetchMore(head: number): void {
    this.head = head
    for (;;) {
      const queued = this.v3 ? head < this.tokens.length - 2 : head !== this.tokens.length
      if (queued) {
        const k = this.simpleKeysByTok.get(head)
        if (k === undefined || !this.simpleKeyIsValid(this.simpleKeys[k] as SimpleKey)) break
      }
      this.fetchNextToken()
    }
  }

  private fetchNextToken(): void {
    if (!this.streamStarted) {
      this.indent = -1
      this.simpleKeys.push({ possible: false, required: false, tokenNumber: 0, mark: this.mark() })
      this.simpleKeyAllowed = true
      this.streamStarted = true
      this.append('STREAM_START', this.mark())
      return
    }
    this.scanToNextToken()
    this.unrollIndent(this.column)
    const c = this.ch()
    const column0 = this.column === 0
    if (this.isZ()) this.fetchStreamEnd()
    else if (column0 && c === '%') this.fetchDirective()
    else if (this.atDocumentIndicator())
      this.fetchDocumentIndicator(c === '-' ? 'DOCUMENT_START' : 'DOCUMENT_END')
    else {
      this.dispatch(c)
      // yaml.v3 reads a comment on the rest of the token's line (deferred in fetch_next_token).
      if (this.v3 && this.tokens[this.tokens.length - 1]?.type !== 'BLOCK_ENTRY') this.scanLineComment()
    }
  }

  /** The token fetchers of fetch_next_token after the stream's end, directives and `---`/`...`. */
  private dispatch(c: string): void {
    const flow = this.flowLevel > 0
    if (c === '[') this.fetchFlowCollectionStart('FLOW_SEQUENCE_START')
    else if (c === '{') this.fetchFlowCollectionStart('FLOW_MAPPING_START')
    else if (c === ']') this.fetchFlowCollectionEnd('FLOW_SEQUENCE_END')
    else if (c === '}') this.fetchFlowCollectionEnd('FLOW_MAPPING_END')
    else if (c === ',') this.fetchFlowEntry()
    else if (c === '-' && this.isBlankz(1)) this.fetchBlockEntry()
    else if (c === '?' && (flow || this.isBlankz(1))) this.fetchKey()
    else if (c === ':' && (flow || this.isBlankz(1))) this.fetchValue()
    else if (c === '*') this.fetchAnchor('ALIAS')
    else if (c === '&') this.fetchAnchor('ANCHOR')
    else if (c === '!') this.fetchTag()
    else if ((c === '|' || c === '>') && !flow) this.fetchBlockScalar()
    else if (c === "'" || c === '"') this.fetchFlowScalar(c === "'")
    else if (
      !(this.isBlankz() || PLAIN_STOPPERS.has(c)) ||
      (c === '-' && !this.isBlank(1)) ||
      (!flow && (c === '?' || c === ':') && !this.isBlankz(1))
    ) {
      this.fetchPlainScalar()
    } else {
      this.error(
        'while scanning for the next token',
        this.mark(),
        'found character that cannot start any token',
      )
    }
  }

  private simpleKeyIsValid(key: SimpleKey): boolean {
    if (!key.possible) return false
    if (key.mark.line < this.line || key.mark.index + 1024 < this.i) {
      if (key.required) this.error('while scanning a simple key', key.mark, "could not find expected ':'")
      key.possible = false
      return false
    }
    return true
  }

  private saveSimpleKey(): void {
    const required = this.flowLevel === 0 && this.indent === this.column
    if (!this.simpleKeyAllowed) return
    const key = { possible: true, required, tokenNumber: this.tokens.length, mark: this.mark() }
    this.removeSimpleKey()
    this.simpleKeys[this.simpleKeys.length - 1] = key
    this.simpleKeysByTok.set(key.tokenNumber, this.simpleKeys.length - 1)
  }

  private removeSimpleKey(): void {
    const key = this.simpleKeys[this.simpleKeys.length - 1] as SimpleKey
    if (!key.possible) return
    if (key.required) this.error('while scanning a simple key', key.mark, "could not find expected ':'")
    key.possible = false
    this.simpleKeysByTok.delete(key.tokenNumber)
  }

  private rollIndent(column: number, number: number, type: TokenType, mark: GoMark): void {
    if (this.flowLevel > 0 || this.indent >= column) return
    this.indents.push(this.indent)
    this.indent = column
    this.insertToken(number, { type, start: mark, end: mark })
  }

  private unrollIndent(column: number): void {
    if (this.flowLevel > 0) return
    while (this.indent > column) {
      this.append('BLOCK_END', this.mark())
      this.indent = this.indents.pop() as number
    }
  }

  private fetchStreamEnd(): void {
    if (this.column !== 0) {
      this.column = 0
      this.line++
    }
    this.unrollIndent(-1)
    this.removeSimpleKey()
    this.simpleKeyAllowed = false
    this.append('STREAM_END', this.mark())
  }

  private fetchDirective(): void {
    this.unrollIndent(-1)
    this.removeSimpleKey()
    this.simpleKeyAllowed = false
    const start = this.mark()
    this.append(this.scanDirective(), start)
  }

  private fetchDocumentIndicator(type: TokenType): void {
    this.unrollIndent(-1)
    this.removeSimpleKey()
    this.simpleKeyAllowed = false
    const start = this.mark()
    this.skip()
    this.skip()
    this.skip()
    this.append(type, start)
  }

  private fetchFlowCollectionStart(type: TokenType): void {
    this.saveSimpleKey()
    this.simpleKeys.push({
      possible: false,
      required: false,
      tokenNumber: this.tokens.length,
      mark: this.mark(),
    })
    if (this.flowLevel === 0) this.flowStart = this.offset(this.mark())
    this.flowLevel++
    this.simpleKeyAllowed = true
    this.oneCharToken(type)
  }

  private fetchFlowCollectionEnd(type: TokenType): void {
    this.removeSimpleKey()
    const closes = this.flowLevel === 1
    if (this.flowLevel > 0) {
      this.flowLevel--
      const last = this.simpleKeys.pop() as SimpleKey
      this.simpleKeysByTok.delete(last.tokenNumber)
    }
    this.simpleKeyAllowed = false
    this.oneCharToken(type)
    if (closes) this.flows.push([this.flowStart, this.offset(this.mark())])
  }

  /** The token of the one indicator character at the cursor (`[`, `,`, `-`, `?`, `:`): read, then queued. */
  private oneCharToken(type: TokenType): void {
    const start = this.mark()
    this.skip()
    this.append(type, start)
  }

  private fetchFlowEntry(): void {
    this.removeSimpleKey()
    this.simpleKeyAllowed = true
    this.oneCharToken('FLOW_ENTRY')
  }

  private fetchBlockEntry(): void {
    if (this.flowLevel === 0) {
      if (!this.simpleKeyAllowed)
        this.error('', this.mark(), 'block sequence entries are not allowed in this context')
      this.rollIndent(this.column, -1, 'BLOCK_SEQUENCE_START', this.mark())
    }
    this.removeSimpleKey()
    this.simpleKeyAllowed = true
    this.oneCharToken('BLOCK_ENTRY')
  }

  private fetchKey(): void {
    if (this.flowLevel === 0) {
      if (!this.simpleKeyAllowed) this.error('', this.mark(), 'mapping keys are not allowed in this context')
      this.rollIndent(this.column, -1, 'BLOCK_MAPPING_START', this.mark())
    }
    this.removeSimpleKey()
    this.simpleKeyAllowed = this.flowLevel === 0
    this.oneCharToken('KEY')
  }

  private fetchValue(): void {
    const key = this.simpleKeys[this.simpleKeys.length - 1] as SimpleKey
    if (this.simpleKeyIsValid(key)) {
      this.insertToken(key.tokenNumber, { type: 'KEY', start: key.mark, end: key.mark })
      this.rollIndent(key.mark.column, key.tokenNumber, 'BLOCK_MAPPING_START', key.mark)
      key.possible = false
      this.simpleKeysByTok.delete(key.tokenNumber)
      this.simpleKeyAllowed = false
    } else {
      if (this.flowLevel === 0) {
        if (!this.simpleKeyAllowed)
          this.error('', this.mark(), 'mapping values are not allowed in this context')
        this.rollIndent(this.column, -1, 'BLOCK_MAPPING_START', this.mark())
      }
      this.simpleKeyAllowed = this.flowLevel === 0
    }
    this.oneCharToken('VALUE')
  }

  private fetchAnchor(type: 'ALIAS' | 'ANCHOR'): void {
    this.saveSimpleKey()
    this.simpleKeyAllowed = false
    const start = this.mark()
    this.skip()
    let n = 0
    while (isAlphaChar(this.ch())) {
      this.skip()
      n++
    }
    const end = this.mark()
    if (n === 0 || !(this.isBlankz() || ANCHOR_END.has(this.ch()))) {
      this.error(
        type === 'ALIAS' ? 'while scanning an alias' : 'while scanning an anchor',
        start,
        'did not find expected alphabetic or numeric character',
      )
    }
    this.tokens.push({ type, start, end })
  }

  private fetchTag(): void {
    this.saveSimpleKey()
    this.simpleKeyAllowed = false
    const start = this.mark()
    if (this.ch(1) === '<') {
      this.skip()
      this.skip()
      this.scanTagUri(false, '', start)
      if (this.ch() !== '>') this.error('while scanning a tag', start, "did not find the expected '>'")
      this.skip()
    } else {
      const handle = this.scanTagHandle(false, start)
      if (handle.length > 1 && handle.endsWith('!')) this.scanTagUri(false, '', start)
      else this.scanTagUri(false, handle, start)
    }
    if (!this.isBlankz())
      this.error('while scanning a tag', start, 'did not find expected whitespace or line break')
    this.append('TAG', start)
  }

  private fetchBlockScalar(): void {
    this.removeSimpleKey()
    this.simpleKeyAllowed = true
    const start = this.mark()
    this.scanBlockScalar(start)
    this.append('SCALAR', start)
  }

  private fetchFlowScalar(single: boolean): void {
    this.fetchKeyableScalar((start) => {
      this.scanFlowScalar(single, start)
      this.quoted.push([this.offset(start), this.offset(this.mark())])
    })
  }

  private fetchPlainScalar(): void {
    this.fetchKeyableScalar((start) => {
      this.scanPlainScalar(start)
      // The scan stops past the blanks and breaks it looked through; the scalar ends before them.
      let end = this.i
      while (end > start.index && isBlankOrBreak(this.chars[end - 1] as string)) end--
      const range: [number, number] = [this.offset(start), this.offset({ index: end, line: 0, column: 0 })]
      if (this.flowLevel > 0) this.plainsInFlow.push(range)
      else if (this.chars.slice(start.index, end).some(isBreakChar)) this.multilinePlains.push(range)
    })
  }

  /** A flow or plain scalar, which may be a simple key: `scan` reads it from `start`. */
  private fetchKeyableScalar(scan: (start: GoMark) => void): void {
    this.saveSimpleKey()
    this.simpleKeyAllowed = false
    const start = this.mark()
    scan(start)
    this.append('SCALAR', start)
  }

  private scanToNextToken(): void {
    for (;;) {
      if (this.column === 0 && this.ch() === '\uFEFF') this.skip()
      while (this.ch() === ' ' || ((this.flowLevel > 0 || !this.simpleKeyAllowed) && this.ch() === '\t'))
        this.skip()
      if (this.ch() === '#') {
        if (this.v3) this.scanComments()
        else while (!this.isBreakz()) this.skip()
      }
      if (!this.isBreak()) return
      this.skipLine()
      if (this.flowLevel === 0) this.simpleKeyAllowed = true
    }
  }

  /**
   * yaml.v3 `yaml_parser_scan_comments`, for where it leaves the scanner: past a run of comment
   * lines, across blank lines and blanks (tabs too) between them, at the end of the last one.
   */
  private scanComments(): void {
    for (let peek = 0; peek < 512; peek++) {
      if (this.isBlank(peek)) continue
      const c = this.ch(peek)
      if ((this.flowLevel > 0 && (c === ']' || c === '}')) || this.isBreakz(peek)) {
        if (!this.isBreak(peek)) break
        continue
      }
      if (c !== '#') break
      this.consumeComment(this.i + peek)
      peek = 0
    }
  }

  /** yaml.v3 `yaml_parser_scan_line_comment`: a comment after the token, on its line. */
  private scanLineComment(): void {
    if (this.newlines > 0) return
    for (let peek = 0; peek < 512; peek++) {
      if (this.isBlank(peek)) continue
      if (this.ch(peek) === '#') this.consumeComment(this.i + peek)
      break
    }
  }

  /** Skips to the '#' at index `seen` and through its comment, up to the line break. */
  private consumeComment(seen: number): void {
    for (;;) {
      if (this.isBreakz()) {
        if (this.i >= seen) return
        this.skipLine()
      } else this.skip()
    }
  }

  private scanDirective(): TokenType {
    const start = this.mark()
    this.skip()
    let name = ''
    while (isAlphaChar(this.ch())) {
      name += this.ch()
      this.skip()
    }
    if (name === '') this.error('while scanning a directive', start, 'could not find expected directive name')
    if (!this.isBlankz())
      this.error('while scanning a directive', start, 'found unexpected non-alphabetical character')
    let type: TokenType
    if (name === 'YAML') {
      while (this.isBlank()) this.skip()
      this.scanVersionNumber(start)
      if (this.ch() !== '.')
        this.error('while scanning a %YAML directive', start, "did not find expected digit or '.' character")
      this.skip()
      this.scanVersionNumber(start)
      type = 'VERSION_DIRECTIVE'
    } else if (name === 'TAG') {
      while (this.isBlank()) this.skip()
      this.scanTagHandle(true, start)
      if (!this.isBlank())
        this.error('while scanning a %TAG directive', start, 'did not find expected whitespace')
      while (this.isBlank()) this.skip()
      this.scanTagUri(true, '', start)
      if (!this.isBlankz())
        this.error('while scanning a %TAG directive', start, 'did not find expected whitespace or line break')
      type = 'TAG_DIRECTIVE'
    } else {
      this.error('while scanning a directive', start, 'found unknown directive name')
    }
    while (this.isBlank()) this.skip()
    if (this.ch() === '#') while (!this.isBreakz()) this.skip()
    if (!this.isBreakz())
      this.error('while scanning a directive', start, 'did not find expected comment or line break')
    this.skipLine()
    return type
  }

  private scanVersionNumber(start: GoMark): void {
    let length = 0
    while (isDigitChar(this.ch())) {
      if (++length > 2)
        this.error('while scanning a %YAML directive', start, 'found extremely long version number')
      this.skip()
    }
    if (length === 0)
      this.error('while scanning a %YAML directive', start, 'did not find expected version number')
  }

  private tagError(directive: boolean, start: GoMark, problem: string): never {
    this.error(directive ? 'while parsing a %TAG directive' : 'while parsing a tag', start, problem)
  }

  private scanTagHandle(directive: boolean, start: GoMark): string {
    if (this.ch() !== '!') this.tagError(directive, start, "did not find expected '!'")
    let handle = '!'
    this.skip()
    while (isAlphaChar(this.ch())) {
      handle += this.ch()
      this.skip()
    }
    if (this.ch() === '!') {
      handle += '!'
      this.skip()
    } else if (directive && handle !== '!') {
      this.tagError(directive, start, "did not find expected '!'")
    }
    return handle
  }

  private scanTagUri(directive: boolean, head: string, start: GoMark): void {
    let hasTag = head.length > 0
    while (isAlphaChar(this.ch()) || URI_CHARS.has(this.ch())) {
      if (this.ch() === '%') this.scanUriEscapes(directive, start)
      else this.skip()
      hasTag = true
    }
    if (!hasTag) this.tagError(directive, start, 'did not find expected tag URI')
  }

  private scanUriEscapes(directive: boolean, start: GoMark): void {
    let w = 1024
    while (w > 0) {
      if (!(this.ch() === '%' && isHexChar(this.ch(1)) && isHexChar(this.ch(2))))
        this.tagError(directive, start, 'did not find URI escaped octet')
      const octet = Number.parseInt(this.ch(1) + this.ch(2), 16)
      if (w === 1024) {
        w = utf8Width(octet)
        if (w === 0) this.tagError(directive, start, 'found an incorrect leading UTF-8 octet')
      } else if ((octet & 0xc0) !== 0x80) {
        this.tagError(directive, start, 'found an incorrect trailing UTF-8 octet')
      }
      this.skip()
      this.skip()
      this.skip()
      w--
    }
  }

  /**
   * yaml_parser_scan_block_scalar, value included (recorded in `blockScalars`). A line ends at
   * any break, U+2028 and U+2029 too, which the value keeps as written where the others become
   * `\n` (read_line), and which a folded scalar never folds into a space; the last line's
   * break is kept unless chomped, so a last line that ends the text leaves no final newline.
   */
  private scanBlockScalar(start: GoMark): void {
    const literal = this.ch() === '|'
    this.skip()
    let increment = 0
    let chomping = 0
    const indicator = () => {
      if (this.ch() === '0')
        this.error('while scanning a block scalar', start, 'found an indentation indicator equal to 0')
      increment = Number(this.ch())
      this.skip()
    }
    const chompingIndicator = () => {
      chomping = this.ch() === '+' ? 1 : -1
      this.skip()
    }
    if (this.ch() === '+' || this.ch() === '-') {
      chompingIndicator()
      if (isDigitChar(this.ch())) indicator()
    } else if (isDigitChar(this.ch())) {
      indicator()
      if (this.ch() === '+' || this.ch() === '-') chompingIndicator()
    }
    const headerEnd = this.i
    while (this.isBlank()) this.skip()
    if (this.ch() === '#') {
      // Go needs no blank before this comment; YAML 1.2 does (see `headerComments`).
      if (this.i === headerEnd) this.headerComments.push(this.offset(this.mark()))
      if (this.v3) this.scanLineComment()
      while (!this.isBreakz()) this.skip()
    }
    if (!this.isBreakz())
      this.error('while scanning a block scalar', start, 'did not find expected comment or line break')
    this.skipLine()
    let indent = increment > 0 ? (this.indent >= 0 ? this.indent + increment : increment) : 0
    const breaks = { trailing: '' }
    indent = this.scanBlockScalarBreaks(indent, start, breaks)
    let value = ''
    let leadingBreak = ''
    let leadingBlank = false
    while (this.column === indent && !this.isZ()) {
      const trailingBlank = this.isBlank()
      if (!literal && leadingBreak.startsWith('\n') && !leadingBlank && !trailingBlank) {
        if (breaks.trailing === '') value += ' '
      } else value += leadingBreak
      value += breaks.trailing
      breaks.trailing = ''
      leadingBlank = this.isBlank()
      while (!this.isBreakz()) {
        value += this.ch()
        this.skip()
      }
      leadingBreak = this.readLine()
      indent = this.scanBlockScalarBreaks(indent, start, breaks)
    }
    if (chomping !== -1) value += leadingBreak
    if (chomping === 1) value += breaks.trailing
    this.blockScalars.set(this.offset(start), value)
  }

  /** read_line: the break at the cursor as the value holds it (`\n`, or U+2028 or U+2029 as written). */
  private readLine(): string {
    const c = this.ch()
    if (!this.isBreak()) return ''
    this.skipLine()
    return c === '\u2028' || c === '\u2029' ? c : '\n'
  }

  /** yaml_parser_scan_block_scalar_breaks; the breaks it passes are added to `breaks.trailing`. */
  private scanBlockScalarBreaks(indent: number, start: GoMark, breaks: { trailing: string }): number {
    let maxIndent = 0
    for (;;) {
      while ((indent === 0 || this.column < indent) && this.ch() === ' ') this.skip()
      if (this.column > maxIndent) maxIndent = this.column
      if ((indent === 0 || this.column < indent) && this.ch() === '\t') {
        this.error(
          'while scanning a block scalar',
          start,
          'found a tab character where an indentation space is expected',
        )
      }
      if (!this.isBreak()) break
      breaks.trailing += this.readLine()
    }
    if (indent === 0) indent = Math.max(maxIndent, this.indent + 1, 1)
    return indent
  }

  /** At a `---` or `...` line start followed by a blank or the end (scannerc.go's check in both scalar scanners). */
  private atDocumentIndicator(): boolean {
    const c = this.ch()
    return (
      this.column === 0 &&
      (c === '-' || c === '.') &&
      this.ch(1) === c &&
      this.ch(2) === c &&
      this.isBlankz(3)
    )
  }

  private scanFlowScalar(single: boolean, start: GoMark): void {
    this.skip()
    for (;;) {
      if (this.atDocumentIndicator()) {
        this.error('while scanning a quoted scalar', start, 'found unexpected document indicator')
      }
      if (this.isZ()) this.error('while scanning a quoted scalar', start, 'found unexpected end of stream')
      while (!this.isBlankz()) {
        const c = this.ch()
        if (single && c === "'" && this.ch(1) === "'") {
          this.skip()
          this.skip()
        } else if ((single && c === "'") || (!single && c === '"')) {
          break
        } else if (!single && c === '\\' && this.isBreak(1)) {
          this.skip()
          this.skipLine()
          break
        } else if (!single && c === '\\') {
          const codeLength = this.escape(this.ch(1), start)
          this.skip()
          this.skip()
          if (codeLength > 0) {
            let value = 0
            for (let k = 0; k < codeLength; k++) {
              if (!isHexChar(this.ch(k)))
                this.error('while parsing a quoted scalar', start, 'did not find expected hexdecimal number')
              value = value * 16 + Number.parseInt(this.ch(k), 16)
            }
            if ((value >= 0xd800 && value <= 0xdfff) || value > 0x10ffff)
              this.error(
                'while parsing a quoted scalar',
                start,
                'found invalid Unicode character escape code',
              )
            for (let k = 0; k < codeLength; k++) this.skip()
          }
        } else {
          this.skip()
        }
      }
      if (this.ch() === (single ? "'" : '"')) break
      while (this.isBlank() || this.isBreak()) {
        if (this.isBlank()) this.skip()
        else this.skipLine()
      }
    }
    this.skip()
  }

  /** The length of a `\x`, `\u`, `\U` escape's code; 0 for the one-character escapes. */
  private escape(c: string, start: GoMark): number {
    if (c === 'x') return 2
    if (c === 'u') return 4
    if (c === 'U') return 8
    if (!'0abt\tnvfre "\'\\N_LP'.includes(c))
      this.error('while parsing a quoted scalar', start, 'found unknown escape character')
    return 0
  }

  private scanPlainScalar(start: GoMark): void {
    const indent = this.indent + 1
    let leadingBlanks = false
    for (;;) {
      if (this.atDocumentIndicator()) {
        break
      }
      if (this.ch() === '#') break
      while (!this.isBlankz()) {
        const c = this.ch()
        if (
          (c === ':' && this.isBlankz(1)) ||
          (this.flowLevel > 0 && (c === ',' || c === '?' || c === '[' || c === ']' || c === '{' || c === '}'))
        ) {
          break
        }
        leadingBlanks = false
        this.skip()
      }
      if (!(this.isBlank() || this.isBreak())) break
      while (this.isBlank() || this.isBreak()) {
        if (this.isBlank()) {
          if (leadingBlanks && this.column < indent && this.ch() === '\t')
            this.error(
              'while scanning a plain scalar',
              start,
              'found a tab character that violates indentation',
            )
          this.skip()
        } else {
          this.skipLine()
          leadingBlanks = true
        }
      }
      if (this.flowLevel === 0 && this.column < indent) break
    }
    if (leadingBlanks) this.simpleKeyAllowed = true
  }
}

/** Where Go's first document ends, and the scanner error Go stops at, if any. */
/** A node's tag as Go's parser reads it (GoFirstDocument `tags`). */
export interface GoNodeTag {
  tag: string
  start: number
  end: number
  collection: boolean
  /** On an empty node: true, or the anchor written after the tag (see `tags`). */
  empty?: true | { anchor: string; anchorStart: number }
}

export interface GoFirstDocument {
  /**
   * The offset where the first document's root node ends (its last token's end; for a block
   * collection, where the next token or the stream's end starts): the text after it is Go's next
   * document or stray content, which Go only scans. Undefined when the scan stopped inside the
   * root, or the root could not be followed (Go's parser would refuse it).
   */
  end?: number
  /** The first scanner error met before the parser was done with the first document. */
  error?: GoScanError
  /** Text offsets [start, end) of the quoted scalars scanned, in order, quotes included. */
  quoted: ReadonlyArray<readonly [number, number]>
  /** Text offsets [start, end) of the outermost flow collections scanned to their end. */
  flows: ReadonlyArray<readonly [number, number]>
  /** Text offsets [start, end) of the plain scalars scanned inside flow collections. */
  plainsInFlow: ReadonlyArray<readonly [number, number]>
  /** Each block scalar scanned to its end: its indicator's offset → its value as Go reads it. */
  blockScalars?: ReadonlyMap<number, string>
  /** Text offsets [start, end) of the plain scalars scanned in block context that span lines. */
  multilinePlains: ReadonlyArray<readonly [number, number]>
  /** Text offsets of comments right after a block scalar's indicators, with no blank before them. */
  headerComments: readonly number[]
  /**
   * For a node with an anchor or a tag: its content's start offset → where its first property
   * starts, which is the node's position for Go (the event's start mark; yaml.v3 `Node.Line`).
   */
  propertyStarts?: ReadonlyMap<number, number>
  /**
   * For a node with a tag: its content's start offset → the tag in Go's short form (`!!str`,
   * `!local`; parserc.go resolves the handle, yaml.v3 `shortTag`) and where the tag is written.
   * The non-specific tag `!` is left out. A tag that is the last property of an empty node
   * (`labels: !!str`) is `empty`, and also kept under its own start, where the JavaScript
   * parser is handed an empty quoted scalar in its place (see go-yaml.ts `forJavaScriptParser`).
   */
  tags?: ReadonlyMap<number, GoNodeTag>
}
