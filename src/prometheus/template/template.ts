import { isIP } from 'node:net'
import { parseDuration } from '../duration.ts'
import { GoNumError, goParseFloat } from '../go-strconv.ts'
import { compareStrings } from '../promql/labels.ts'
import { compileGoRegexp, type GoRegexp } from '../promql/regex.ts'
import { goQuote } from '../promql/strings.ts'
import { goStringFromBytes, goStringToBytes } from '../rules/go-bytes.ts'
import {
  formatFloat,
  formatValue,
  GO_REFLECT,
  GoComplex,
  GoInt,
  type GoReflectable,
  type GoShape,
  goIndirect,
  goInterfaceMap,
  goTypeName,
  isGoInterfaceMap,
  sprint,
  sprintf,
  sprintln,
} from './go-fmt.ts'
import { type GoNumber, goComplexConstant, goNumber, goUnquote, type LexItem, lexTemplate } from './go-lex.ts'
import { goSplitHostPort, goTitle, goToLower, goToUpper } from './go-strings.ts'
import {
  GO_ZERO_TIME_NS,
  GoTime,
  goAddDate,
  goCivil,
  goRound,
  goTimeFormat,
  goTimeGoString,
  goTimeString,
  goTimeSub,
  goTruncate,
} from './go-time.ts'

/**
 * Expansion of Prometheus alert templates (labels and annotations): the part of Go's
 * text/template that rule files use — text, `{{ pipeline }}` with `|`, variables
 * (`$labels`, `$value`, `$externalLabels`, `$externalURL`, `$x := …`), fields (`.Labels.x`,
 * `$labels.x`), `if`/`else if`/`else`, `range` with `break`/`continue`, `with`, `define`,
 * `template` and `block`, comments and `{{-`/`-}}` trimming —
 * with Go's built-in functions and Prometheus' template functions, formatting numbers
 * exactly as Go does. Missing map keys yield "" (Prometheus sets `missingkey=zero`).
 * The whole function set of Prometheus 2.42's template package is here (template/template.go:
 * `query`, `first`, `label`, `value`, `strvalue`, `sortByLabel`, `args`, `match`,
 * `reReplaceAll`, `title`, `toUpper`, `toLower`, `safeHtml`, `stripPort`, `graphLink`,
 * `tableLink`, `pathPrefix`, `externalURL`, `parseDuration`, `toTime`, every `humanize*`),
 * with Go's argument type checks and error wording; `query` runs through a function the caller
 * injects (`AlertTemplateData.query`), so this module needs no query engine of its own.
 */

export class TemplateError extends Error {
  /**
   * `pos`: offset in the template text the error refers to, when known; `line`: Go's line
   * number of it, counted as Prometheus counts it (after its variable definitions).
   */
  constructor(
    message: string,
    readonly pos?: number,
    readonly line?: number,
  ) {
    super(message)
  }
}

type TValue = unknown

/**
 * Runs a PromQL instant query for the template function `query`, at the alert's evaluation
 * time (Prometheus' template.QueryFunc). Returns the instant vector (a scalar result as one
 * sample without labels); throws an Error whose message Prometheus would print after
 * "error calling query: ".
 */
export type TemplateQueryFunc = (expr: string) => readonly { labels: Record<string, string>; value: number }[]

export interface AlertTemplateData {
  labels: Record<string, string>
  value: number
  externalLabels?: Record<string, string>
  /** `$externalURL`. */
  externalURL?: string
  /** The engine behind `query`; without it, `query` fails with "no query engine". */
  query?: TemplateQueryFunc
  /**
   * The URL the functions `externalURL` and `pathPrefix` read; defaults to `externalURL`.
   * null reproduces promtool, whose rule manager has no external URL: both functions then fail
   * with Go's nil pointer error (while `$externalURL` still holds the test's external_url).
   */
  functionsURL?: string | null
}

/** One sample of a `query` result (Prometheus' template `*sample`): `.Labels` and `.Value`. */
export class QuerySample implements GoReflectable {
  constructor(
    readonly Labels: Record<string, string>,
    readonly Value: number,
  ) {}

  /** `*template.sample`, a pointer to `struct { Labels map[string]string; Value float64 }`. */
  [GO_REFLECT](): GoShape {
    const fields = [
      { name: 'Labels', value: this.Labels },
      { name: 'Value', value: this.Value },
    ]
    return { kind: 'struct', type: 'template.sample', pointer: true, fields }
  }
}

/**
 * What `safeHtml` returns: html/template's `HTML`, a string type of its own. It prints, compares,
 * indexes and slices as a string, but a function that takes a string refuses it (Go's
 * `wrong type for value; expected string; got template.HTML`), and so does humanize.
 */
export class GoHTML implements GoReflectable {
  constructor(readonly text: string) {}

  [GO_REFLECT](): GoShape {
    return { kind: 'string', type: 'template.HTML', value: this.text }
  }
}

/** A `query` result (Prometheus' template `queryResult`, `[]*sample`), in the engine's order. */
export class QueryResult extends Array<QuerySample> implements GoReflectable {
  /**
   * A nil slice rather than an empty one (what a nil argument of this type becomes): `%#v`
   * prints `template.queryResult(nil)` for it, `template.queryResult{}` for a query's empty result.
   */
  isNil = false;

  [GO_REFLECT](): GoShape {
    return {
      kind: 'slice',
      type: 'template.queryResult',
      elemIface: false,
      elems: [...this],
      nil: this.isNil,
    }
  }
}

/** The nil queryResult: Go's reflect.Zero of the type, what `nil` gives a queryResult parameter. */
function nilQueryResult(): QueryResult {
  const result = new QueryResult()
  result.isNil = true
  return result
}

// ---------------------------------------------------------------- lexing and parsing

type TokenKind =
  | { t: 'ident'; v: string }
  | { t: 'var'; v: string }
  | { t: 'field'; v: string }
  | { t: 'string'; v: string }
  | { t: 'number'; v: TValue; overflow?: boolean }
  | { t: 'bool'; v: boolean }
  | { t: 'nil' }
  | { t: 'dot' }
  | { t: 'char'; v: string }
  /** A literal the parser refuses when it reaches it (newNumber's or Unquote's error). */
  | { t: 'bad'; v: string }
  /** A scanner error, reported when the parser reaches it. */
  | { t: 'error'; v: string }
  | { t: '(' }
  | { t: ')' }
  | { t: '|' }
  | { t: ':=' }
  | { t: '=' }
  | { t: ',' }

/** A token with its offset in the template text, its source text and whether space preceded it. */
type Token = TokenKind & { pos: number; raw: string; spaced: boolean }

/** Where a node starts and how Go prints it in error messages (`at <…>`). */
interface NodeRef {
  pos: number
  str: string
}

interface Term extends NodeRef {
  kind: 'literal' | 'var' | 'field' | 'call' | 'pipe' | 'dot'
  value?: TValue
  /** An integer constant beyond int64 (exec.go idealConstant: "… overflows int"). */
  overflow?: boolean
  name?: string
  fields?: string[]
  args?: Term[]
  pipe?: Pipeline
}

interface Command extends NodeRef {
  terms: Term[]
}

interface Pipeline {
  str: string
  decl: string[]
  assign: boolean
  commands: Command[]
}

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipeline }
  | { kind: 'if' | 'with'; pipe: Pipeline; list: Node[]; elseList: Node[] }
  | { kind: 'range'; pipe: Pipeline; list: Node[]; elseList: Node[] }
  | TemplateNode
  | { kind: 'break' | 'continue' }

/** `{{template "name" pipeline}}` (also what `{{block}}` leaves in place); `pos` is the name's. */
interface TemplateNode extends NodeRef {
  kind: 'template'
  name: string
  pipe?: Pipeline
}

type BlockNode = Node & { kind: 'if' | 'with' | 'range' }

/** A parsed template: the main tree and those `{{define}}` and `{{block}}` name (parse.go treeSet). */
interface ParsedTemplate {
  root: Node[]
  trees: Map<string, Node[]>
}

const KEYWORDS = new Set([
  'if',
  'else',
  'end',
  'range',
  'with',
  'define',
  'template',
  'block',
  'break',
  'continue',
])

/**
 * How parse.go's item.String prints a token in "unexpected …" errors: keywords, `.` and `nil`
 * as `<if>`, other tokens quoted (cut to 10 characters), the end of the action as "}}".
 */
function tokenString(tok: Token | undefined): string {
  if (tok === undefined) return '"}}"'
  if (tok.t === 'ident' && KEYWORDS.has(tok.v)) return `<${tok.v}>`
  if (tok.t === 'dot' || tok.t === 'nil') return `<${tok.raw}>`
  if (tok.t === 'error') return tok.v
  return tok.raw.length > 10 ? `${goQuote(tok.raw.slice(0, 10))}...` : goQuote(tok.raw)
}

/**
 * parse.go unexpected: "unexpected <token> in <context>", except that a scanner error is
 * reported by its own message (which carries its "in action started at" already).
 */
function unexpected(tok: Token | undefined, context: string): string {
  return tok?.t === 'error' ? tok.v : `unexpected ${tokenString(tok)} in ${context}`
}

/** exec.go idealConstant: what a number literal is when no parameter type asks otherwise. */
function numberToken(raw: string, kind: 'number' | 'char' | 'complex'): TokenKind {
  let n: GoNumber
  try {
    n = kind === 'complex' ? goComplexConstant(raw) : goNumber(kind, raw)
  } catch (err) {
    return { t: 'bad', v: (err as Error).message }
  }
  if (n.complex) return { t: 'number', v: new GoComplex(n.complex.re, n.complex.im) }
  const isHexInt = /^0[xX]/.test(raw) && !/[pP]/.test(raw)
  if (n.isFloat && !isHexInt && kind !== 'char' && /[.eEpP]/.test(raw)) return { t: 'number', v: n.float }
  if (n.isInt) return { t: 'number', v: new GoInt(n.int, 'int', n.big) }
  return { t: 'number', v: new GoInt(n.int, 'int', n.big), overflow: true }
}

/** Our tokens of one action's scanned items (lex.go items, read as parse.go reads them). */
function actionTokens(items: LexItem[], errorSuffix: (pos: number, message: string) => string): Token[] {
  return items.map((item): Token => {
    const at = { pos: item.pos, raw: item.raw, spaced: item.spaced }
    switch (item.kind) {
      case 'ident':
      case 'keyword':
        return { t: 'ident', v: item.raw, ...at }
      case 'var':
        return { t: 'var', v: item.raw, ...at }
      case 'field':
        return { t: 'field', v: item.raw.slice(1), ...at }
      case 'dot':
        return { t: 'dot', ...at }
      case 'string':
      case 'rawString':
        try {
          return { t: 'string', v: goUnquote(item.raw), ...at }
        } catch {
          return { t: 'bad', v: 'invalid syntax', ...at }
        }
      case 'number':
      case 'char':
      case 'complex':
        return { ...numberToken(item.raw, item.kind), ...at } as Token
      case 'bool':
        return { t: 'bool', v: item.raw === 'true', ...at }
      case 'nil':
        return { t: 'nil', ...at }
      case 'itemChar':
        return item.raw === ',' ? { t: ',', ...at } : { t: 'char', v: item.raw, ...at }
      case 'error':
        return { t: 'error', v: errorSuffix(item.pos, item.raw), ...at }
      default:
        return { t: item.kind, ...at } as Token
    }
  })
}

/** parse.go pipeline: the items that may start a command's operand. */
const OPERAND_START = new Set(['bool', 'number', 'dot', 'field', 'ident', 'nil', 'string', 'var', '(', 'bad'])

/**
 * Whether `tok` starts an operand (parse.go `term`). A keyword is its own token kind in Go's
 * lexer (itemTemplate, itemEnd…), which no operand starts with: after an operand it is
 * command's "unexpected <template> in operand", at a command's start pipeline's "unexpected
 * <end> in if" (the pipeline's context), never "in command" unless that is the context.
 */
function startsOperand(tok: Token): boolean {
  return OPERAND_START.has(tok.t) && !(tok.t === 'ident' && KEYWORDS.has(tok.v))
}

/**
 * Parses the pipeline of one action (text/template/parse/parse.go `pipeline`, `command`,
 * `operand`, `term`). `vars` is the tree's list of variables in scope (parse.go `Tree.vars`):
 * declarations are appended to it, and every variable used must be in it — Go refuses a
 * template that uses an undeclared variable when it is parsed, so `promtool check rules` does.
 */
class PipeParser {
  private pos = 0
  /**
   * The furthest position parse.go has read tokens to (its lookahead, `t.token[0]`): Go's
   * errorf names that token's line, which can be past the token an error is about.
   */
  private readTo = 0
  constructor(
    private readonly tokens: Token[],
    private readonly end: number,
    private readonly funcs: Record<string, TemplateFunc>,
    private readonly vars: string[],
  ) {}

  /** The next token; a scanner error is reported when the parser reaches it, as in parse.go. */
  peek(): Token | undefined {
    const tok = this.tokens[this.pos]
    if (tok?.t === 'error') throw new TemplateError(tok.v, tok.pos)
    return tok
  }

  private errorPos(): number {
    return this.peek()?.pos ?? this.end
  }

  /** `context` names the clause in Go's errors: "command", "if", "range", "template clause", … */
  pipeline(context: string, nested = false): Pipeline {
    const decl: string[] = []
    let assign = false
    // `$x :=`, `$x =` and (range only) `$k, $v :=`. parse.go appends each declared variable to
    // the scope before it parses the commands, so `{{ $x := $x }}` parses (and fails when run).
    for (;;) {
      const v = this.peek()
      const next = this.tokens[this.pos + 1]
      if (v?.t !== 'var') break
      // parse.go pipeline reads past a leading variable to the next token that is not a space,
      // to tell a declaration from a use.
      this.readTo = Math.max(this.readTo, next?.pos ?? this.end)
      if (next?.t === ':=' || next?.t === '=') {
        this.pos += 2
        decl.push(v.v)
        this.vars.push(v.v)
        assign = next.t === '='
        break
      }
      if (next?.t !== ',') break
      this.pos += 2
      decl.push(v.v)
      this.vars.push(v.v)
      if (context === 'range' && decl.length < 2) {
        const after = this.peek()
        if (after === undefined || after.t === 'var' || after.t === ')') continue
        throw new TemplateError('range can only initialize variables', after.pos)
      }
      // parse.go errorf: the line of the `,`, the token it last read.
      throw new TemplateError(`too many declarations in ${context}`, next.pos)
    }
    const commands: Command[] = []
    for (;;) {
      const terms: Term[] = []
      for (;;) {
        const tok = this.peek()
        if (tok === undefined || tok.t === '|' || tok.t === ')') break
        // parse.go command: operands are separated by space; anything else after one, or a
        // token that starts no operand, is unexpected.
        if (terms.length > 0 && (!tok.spaced || !startsOperand(tok))) {
          throw new TemplateError(unexpected(tok, 'operand'), tok.pos)
        }
        if (!startsOperand(tok)) throw new TemplateError(unexpected(tok, context), tok.pos)
        terms.push(this.operand())
      }
      if (terms.length === 0) {
        // parse.go pipeline: a `|` where a command should start is unexpected; the pipeline's
        // end after a `|` ends it (`{{ $value | }}` is `{{ $value }}`); an empty one is
        // checkPipeline's error.
        const tok = this.peek()
        if (tok?.t === '|') throw new TemplateError(`unexpected "|" in ${context}`, tok.pos)
        // A `)` ends only a parenthesized pipeline; elsewhere (`{{) $value }}`) it is
        // unexpected where the command should start, not a missing value.
        if (tok?.t === ')' && !nested) throw new TemplateError(`unexpected ")" in ${context}`, tok.pos)
        if (commands.length > 0) break
        throw new TemplateError(`missing value for ${context}`, this.errorPos())
      }
      const first = terms[0] as Term
      commands.push({ terms, pos: first.pos, str: terms.map((t) => t.str).join(' ') })
      if (this.peek()?.t === '|') {
        this.pos++
        continue
      }
      break
    }
    if (!nested && this.pos < this.tokens.length) {
      // parse.go pipeline: a `)` its command left is unexpected in the pipeline's own context.
      throw new TemplateError(`unexpected "${this.peek()?.raw}" in ${context}`, this.errorPos())
    }
    // parse.go checkPipeline: only the first stage may start with a constant or dot.
    commands.slice(1).forEach((cmd, i) => {
      const head = cmd.terms[0] as Term
      if (head.kind === 'literal' || head.kind === 'dot') {
        throw new TemplateError(`non executable command in pipeline stage ${i + 2}`, head.pos)
      }
    })
    const declStr = decl.length > 0 ? `${decl.join(', ')} ${assign ? '=' : ':='} ` : ''
    return { decl, assign, commands, str: declStr + commands.map((c) => c.str).join(' | ') }
  }

  operand(): Term {
    const tok = this.tokens[this.pos++] as Token
    let term: Term
    switch (tok.t) {
      case 'bad':
        throw new TemplateError(tok.v, tok.pos)
      case 'string':
      case 'bool':
        term = { kind: 'literal', value: tok.v, pos: tok.pos, str: tok.raw }
        break
      case 'number':
        term = { kind: 'literal', value: tok.v, pos: tok.pos, str: tok.raw, overflow: tok.overflow }
        break
      case 'dot':
        term = { kind: 'dot', pos: tok.pos, str: '.' }
        break
      case 'nil':
        term = { kind: 'literal', value: null, pos: tok.pos, str: 'nil' }
        break
      case 'var':
        // parse.go useVar: `$` and the variables Prometheus declares are always in scope.
        if (!this.vars.includes(tok.v))
          throw new TemplateError(`undefined variable "${tok.v}"`, Math.max(tok.pos, this.readTo))
        term = { kind: 'var', name: tok.v, fields: [], pos: tok.pos, str: tok.v }
        break
      case 'field':
        term = { kind: 'field', fields: [tok.v], pos: tok.pos, str: `.${tok.v}` }
        break
      case 'ident':
        if (!(tok.v in this.funcs)) throw new TemplateError(`function "${tok.v}" not defined`, tok.pos)
        term = { kind: 'call', name: tok.v, pos: tok.pos, str: tok.v }
        break
      case '(': {
        const pipe = this.pipeline('parenthesized pipeline', true)
        if (this.tokens[this.pos++]?.t !== ')') throw new TemplateError('unclosed left paren', tok.pos)
        term = { kind: 'pipe', pipe, pos: tok.pos, str: `(${pipe.str})` }
        break
      }
      default:
        throw new TemplateError(`unexpected "${tok.raw}" in operand`, tok.pos)
    }
    // Field chains after a term: $x.a.b, (pipe).a, .a.b — Go positions the chain at its first field.
    let chainPos: number | undefined
    while (this.peek()?.t === 'field' && !this.peek()?.spaced) {
      const fieldTok = this.tokens[this.pos++] as Token & { v: string }
      if (term.kind === 'literal' || term.kind === 'dot') {
        throw new TemplateError(`unexpected . after term ${goQuote(term.str)}`, fieldTok.pos)
      }
      chainPos ??= fieldTok.pos
      if (term.kind === 'var' || term.kind === 'field') {
        term = { ...term, fields: [...(term.fields ?? []), fieldTok.v], str: `${term.str}.${fieldTok.v}` }
      } else {
        term = {
          kind: 'field',
          fields: [fieldTok.v],
          args: [term],
          pos: term.pos,
          str: `${term.str}.${fieldTok.v}`,
        }
      }
    }
    // parse.go operand: a variable or field with more fields is remade at the chain's position.
    if (chainPos !== undefined && (term.kind === 'var' || (term.kind === 'field' && !term.args))) {
      term.pos = chainPos
    }
    return term
  }
}

/**
 * The variables in scope where an alert template starts: `$` and those of the definitions
 * Prometheus prepends to it (rulefmt.go testTemplateParsing, alerting.go Eval).
 */
const PROMETHEUS_VARS = ['$', '$labels', '$externalLabels', '$externalURL', '$value']

/** A tree being parsed (parse.go Tree): its variables in scope and how many ranges enclose it. */
interface TreeState {
  vars: string[]
  rangeDepth: number
}

/** An open `{{define}}`, `{{block}}`, `{{if}}`, `{{with}}` or `{{range}}`, closed by `{{end}}`. */
interface Frame {
  kind: 'root' | 'define' | 'block' | 'if' | 'with' | 'range'
  node?: BlockNode & { list: Node[]; elseList: Node[] }
  target: Node[]
  inElse: boolean
  /** parse.go popVars: variables declared in a control's pipeline and body end with it. */
  mark: number
  tree: TreeState
  /** The template a define or block names. */
  name?: string
}

/** parse.go IsEmptyTree: nothing but space (and comments, which we drop). */
function isEmptyTree(nodes: Node[]): boolean {
  return nodes.every((n) => n.kind === 'text' && n.text.trim() === '')
}

/**
 * Parses a template into its main tree and the named ones (text/template/parse/parse.go
 * `Parse`, `parseDefinition`, `action`); throws TemplateError on syntax errors, unknown
 * functions and undeclared variables, with Go's wording. `name` is the main template's name:
 * a non-empty `{{define}}` of that name conflicts with it, as in Go.
 */
function parseTemplate(text: string, funcs: Record<string, TemplateFunc>, name?: string): ParsedTemplate {
  const root: Node[] = []
  const trees = new Map<string, Node[]>()
  const stack: Frame[] = [
    {
      kind: 'root',
      target: root,
      inElse: false,
      mark: 0,
      tree: { vars: [...PROMETHEUS_VARS], rangeDepth: 0 },
    },
  ]
  // parse.go Tree.add: an empty definition never replaces another; two non-empty ones conflict.
  const addTree = (treeName: string, nodes: Node[], pos: number) => {
    const old = trees.get(treeName)
    if (old === undefined || isEmptyTree(old)) trees.set(treeName, nodes)
    else if (!isEmptyTree(nodes)) {
      throw new TemplateError(`template: multiple definition of template ${JSON.stringify(treeName)}`, pos)
    }
  }
  const templateName = (tok: Token | undefined, context: string): Token & { v: string } => {
    if (tok?.t !== 'string') throw new TemplateError(unexpected(tok, context), tok?.pos)
    return tok
  }
  const emitText = (t: string) => {
    if (t !== '') (stack[stack.length - 1] as Frame).target.push({ kind: 'text', text: t })
  }
  const lineAt = (pos: number) => text.slice(0, pos).split('\n').length
  // parse.go Tree.actionLine: the line of the `{{` whose action() is running, 0 once one has
  // returned. An if, with or range returns only at its {{end}}, so until an action nested in
  // it returns, a scanner error in its body (a bad comment) names the line it started on;
  // define and block bodies are trees of their own, where it starts at 0.
  let actionLine = 0
  for (const segment of lexTemplate(text)) {
    if (segment.kind === 'text') {
      emitText(segment.text)
      continue
    }
    if (segment.kind === 'error') {
      const at = lineAt(segment.pos)
      const extra =
        actionLine !== 0 && actionLine !== at ? ` in action started at ${name ?? ''}:${actionLine}` : ''
      throw new TemplateError(segment.message + extra, segment.pos)
    }
    const { open, close } = segment
    const [lead, second] = segment.items
    const opensBlock = lead?.kind === 'keyword' && ['if', 'with', 'range'].includes(lead.raw)
    // `else if` parses its pipeline after the else's action() has returned, and parse.go reads
    // a define with a tree of its own, not through action().
    const noActionLine =
      lead?.kind === 'keyword' && ((lead.raw === 'else' && second?.raw === 'if') || lead.raw === 'define')
    actionLine = opensBlock ? lineAt(open) : 0
    // parse.go unexpected: a scanner error on a later line than its action's start says so.
    const errorSuffix = (pos: number, message: string) => {
      if (noActionLine || lineAt(pos) === lineAt(open)) return message
      const extra = ` in action started at ${name ?? ''}:${lineAt(open)}`
      return message + (message.endsWith(' action') ? extra.slice(' in action'.length) : extra)
    }
    const tokens = actionTokens(segment.items, errorSuffix)
    const first = tokens[0]
    const top = stack[stack.length - 1] as Frame
    const tree = top.tree
    const pipeline = (toks: Token[], context: string) =>
      new PipeParser(toks, close, funcs, tree.vars).pipeline(context)
    if (first?.t === 'ident' && KEYWORDS.has(first.v)) {
      const keyword = first.v
      const rest = tokens.slice(1)
      if (keyword === 'if' || keyword === 'with' || keyword === 'range') {
        const mark = tree.vars.length
        const pipe = pipeline(rest, keyword)
        const node = { kind: keyword, pipe, list: [], elseList: [] } as Frame['node'] & {}
        top.target.push(node)
        if (keyword === 'range') tree.rangeDepth++
        stack.push({ kind: keyword, node, target: node.list, inElse: false, mark, tree })
      } else if (keyword === 'else') {
        // parse.go elseControl reads to the `}}` (or an `if`) before its caller looks at where
        // the else stands.
        const next = rest[0]
        if (next !== undefined && !(next.t === 'ident' && next.v === 'if')) {
          throw new TemplateError(unexpected(next, 'else'), next.pos)
        }
        if (top.kind === 'root') throw new TemplateError('unexpected {{else}}', open)
        if (top.kind === 'define' || top.kind === 'block') {
          throw new TemplateError(`unexpected {{else}} in ${top.kind} clause`, open)
        }
        if (top.inElse) throw new TemplateError('expected end; found {{else}}', open)
        // Go 1.19 has `else if` only after `if`; after with/range the `if` is a stray token.
        if (next?.t === 'ident' && next.v === 'if' && top.kind !== 'if') {
          throw new TemplateError('unexpected <if> in input', next.pos)
        }
        // {{break}} and {{continue}} belong to a range's body, not to its else branch.
        if (top.kind === 'range') tree.rangeDepth--
        top.inElse = true
        top.target = (top.node as { elseList: Node[] }).elseList
        if (next !== undefined) {
          // `else if` is an `if` nested in the else branch, closed by the same {{end}}.
          const pipe = pipeline(rest.slice(1), 'if')
          const node = { kind: 'if', pipe, list: [], elseList: [] } as Frame['node'] & {}
          top.target.push(node)
          top.node = node
          top.target = node.list
          top.inElse = false
        }
      } else if (keyword === 'end') {
        // parse.go endControl reads to the `}}` before its caller looks at where the end stands.
        if (rest.length > 0) throw new TemplateError(unexpected(rest[0], 'end'), rest[0]?.pos)
        if (top.kind === 'root') throw new TemplateError('unexpected {{end}}', open)
        stack.pop()
        if (top.kind === 'define' || top.kind === 'block') addTree(top.name as string, top.target, close)
        else {
          if (top.kind === 'range' && !top.inElse) tree.rangeDepth--
          tree.vars.length = top.mark
        }
      } else if (keyword === 'define') {
        // parse.go only looks for define at the top level of the main template.
        if (top.kind !== 'root') throw new TemplateError('unexpected <define> in command', first.pos)
        const nameTok = templateName(rest[0], 'define clause')
        if (rest.length > 1) throw new TemplateError(unexpected(rest[1], 'define clause'), rest[1]?.pos)
        // A definition is a tree of its own: only `$` is in scope, and no range encloses it.
        const own = { vars: ['$'], rangeDepth: 0 }
        stack.push({ kind: 'define', target: [], inElse: false, mark: 0, tree: own, name: nameTok.v })
      } else if (keyword === 'template' || keyword === 'block') {
        const context = `${keyword} clause`
        const nameTok = templateName(rest[0], context)
        // Variables the pipeline declares persist after it, as after a plain action.
        const pipe = rest.length > 1 || keyword === 'block' ? pipeline(rest.slice(1), context) : undefined
        const str = `{{template ${JSON.stringify(nameTok.v)}${pipe ? ` ${pipe.str}` : ''}}}`
        top.target.push({ kind: 'template', name: nameTok.v, pipe, pos: nameTok.pos, str })
        if (keyword === 'block') {
          const own = { vars: ['$'], rangeDepth: 0 }
          stack.push({ kind: 'block', target: [], inElse: false, mark: 0, tree: own, name: nameTok.v })
        }
      } else if (keyword === 'break' || keyword === 'continue') {
        if (rest.length > 0) {
          throw new TemplateError(unexpected(rest[0], `{{${keyword}}}`), rest[0]?.pos)
        }
        if (tree.rangeDepth === 0) throw new TemplateError(`{{${keyword}}} outside {{range}}`, close)
        top.target.push({ kind: keyword })
      }
      continue
    }
    top.target.push({ kind: 'action', pipe: pipeline(tokens, 'command') })
  }
  if (stack.length !== 1) throw new TemplateError('unexpected EOF', text.length)
  // The main tree is added last (parse.go Tree.Parse), so it conflicts with a define of its name;
  // Prometheus' prepended definitions make it non-empty.
  if (name !== undefined) {
    const old = trees.get(name)
    if (old !== undefined && !isEmptyTree(old)) {
      throw new TemplateError(
        `template: multiple definition of template ${JSON.stringify(name)}`,
        text.length,
      )
    }
    trees.set(name, root)
  }
  return { root, trees }
}

// ---------------------------------------------------------------- evaluation

type TemplateFunc = (...args: TValue[]) => TValue

class ExecError extends Error {
  constructor(
    message: string,
    readonly node?: NodeRef,
  ) {
    super(message)
  }
}

/** The variable definitions Prometheus prepends to every alert template (they shift error positions). */
const TEMPLATE_DEFS =
  '{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}'

/** Go's `line:col` of an offset in the template text (col is the byte offset within the line). */
function location(text: string, pos: number): string {
  const before = TEMPLATE_DEFS + text.slice(0, pos)
  const bytes = new TextEncoder().encode(before)
  let line = 1
  let lastNewline = -1
  bytes.forEach((b, i) => {
    if (b === 10) {
      line++
      lastNewline = i
    }
  })
  return `${line}:${lastNewline === -1 ? bytes.length : bytes.length - lastNewline - 1}`
}

function lineOf(text: string, pos: number): number {
  return (TEMPLATE_DEFS + text.slice(0, pos)).split('\n').length
}

function isTrue(v: TValue): boolean {
  if (v === undefined || v === null) return false
  if (v instanceof GoTime || v instanceof QuerySample) return true
  if (typeof v === 'boolean') return v
  if (typeof v === 'number') return v !== 0
  if (v instanceof GoInt) return v.value !== 0
  if (v instanceof GoComplex) return v.re !== 0 || v.im !== 0
  if (typeof v === 'string') return v !== ''
  if (v instanceof GoHTML) return v.text !== ''
  if (Array.isArray(v)) return v.length > 0
  if (typeof v === 'object') return Object.keys(v as object).length > 0
  return true
}

/** A pipeline's value as the template writes it (exec.go printValue): past one pointer, `%v`. */
function printValue(v: TValue): string {
  if (v === undefined) return '<no value>'
  if (v === null) return '<nil>'
  return formatValue(goIndirect(v))
}

/** The Go type of Prometheus' alert template data (template.go AlertTemplateData). */
const ROOT_TYPE =
  'struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }'

/** Go's type name of a template value, Prometheus' template types included (GO_REFLECT). */
const typeName = goTypeName

/** Prometheus' convertToFloat: float64, string, int and int64 (not a byte, a time.Month or template.HTML). */
function toFloat(v: TValue): number {
  if (typeof v === 'number') return v
  if (v instanceof GoInt && (v.type === 'int' || v.type === 'int64')) return v.value
  if (typeof v === 'string') {
    try {
      return goParseFloat(v)
    } catch (err) {
      if (err instanceof GoNumError) throw new ExecError(err.message)
      throw err
    }
  }
  throw new ExecError(`can't convert ${typeName(v)} to float`)
}

/** funcs.go basicKind, by reflect.Kind: a byte is a uint, template.HTML a string. */
function basicKind(v: TValue): 'bool' | 'int' | 'uint' | 'float' | 'complex' | 'string' | 'other' {
  if (typeof v === 'boolean') return 'bool'
  if (v instanceof GoInt) return v.type === 'uint8' ? 'uint' : 'int'
  if (typeof v === 'number') return 'float'
  if (v instanceof GoComplex) return 'complex'
  if (typeof v === 'string' || v instanceof GoHTML) return 'string'
  return 'other'
}

function raw(v: TValue): unknown {
  return v instanceof GoInt ? v.value : v instanceof GoHTML ? v.text : v
}

/** The text of a value of string kind (a string or template.HTML), else undefined. */
function stringKindText(v: TValue): string | undefined {
  return typeof v === 'string' ? v : v instanceof GoHTML ? v.text : undefined
}

/** The reflect.Kind of a value that is not of a basic kind: what eq compares such values by. */
function compositeKind(v: TValue): 'invalid' | 'ptr' | 'struct' | 'slice' | 'map' {
  if (v === undefined || v === null) return 'invalid'
  if (v instanceof GoTime) return v.pointer ? 'ptr' : 'struct'
  if (v instanceof QuerySample) return 'ptr'
  if (v instanceof TemplateRoot) return 'struct'
  return Array.isArray(v) ? 'slice' : 'map'
}

/**
 * Go 1.19's `eq arg1 arg2` for one arg2 (text/template funcs.go eq): basic kinds compare by
 * value and must match; a nil interface (undefined or null here) equals nothing but nil; of the
 * other kinds only pointers compare (by identity), maps, slices and the data struct are
 * refused in Go's words.
 */
function eqPair(a: TValue, b: TValue): boolean {
  const ka = basicKind(a)
  const kb = basicKind(b)
  if (ka !== kb) {
    // Integers compare across signedness: an int equals a uint when it is not negative.
    if ((ka === 'int' && kb === 'uint') || (ka === 'uint' && kb === 'int')) return raw(a) === raw(b)
    if (a !== undefined && a !== null && b !== undefined && b !== null)
      throw new ExecError('incompatible types for comparison')
    return false
  }
  if (a instanceof GoComplex && b instanceof GoComplex) return a.re === b.re && a.im === b.im
  if (ka !== 'other') return raw(a) === raw(b)
  const ca = compositeKind(a)
  const cb = compositeKind(b)
  if (ca !== cb && ca !== 'invalid' && cb !== 'invalid') {
    throw new ExecError(sprintf('non-comparable types %s: %v, %s: %v', [a, typeName(a), typeName(b), b]))
  }
  // Template maps, slices and pointers are never nil: only a missing value is.
  if (ca === 'invalid' || cb === 'invalid') return ca === cb
  // A time.Time value is comparable (its fields are); the data struct holds maps and is not.
  if (b instanceof GoTime && !b.pointer) return a instanceof GoTime && a.ns === b.ns && a.local === b.local
  if (cb !== 'ptr') throw new ExecError(sprintf('non-comparable type %s: %v', [b, typeName(b)]))
  return a === b
}

/** Go 1.19's `lt` (funcs.go): basic kinds only, the same on both sides, and not bool. */
function ltPair(a: TValue, b: TValue): boolean {
  const ka = basicKind(a)
  const kb = basicKind(b)
  if (ka === 'other' || kb === 'other') throw new ExecError('invalid type for comparison')
  // An int and a uint compare by value (a negative int is below every uint).
  const ints = (ka === 'int' || ka === 'uint') && (kb === 'int' || kb === 'uint')
  if (ka !== kb && !ints) throw new ExecError('incompatible types for comparison')
  if (ka === 'bool' || ka === 'complex') throw new ExecError('invalid type for comparison')
  return (raw(a) as number | string) < (raw(b) as number | string)
}

function stripPort(hostPort: string): string {
  return goSplitHostPort(hostPort)?.host ?? hostPort
}

class NaNOrInf extends Error {
  constructor() {
    super('value is NaN or Inf')
  }
}

/** Prometheus' floatToTime: seconds to a time at millisecond precision (model.TimeFromUnixNano). */
function floatToTime(seconds: number): GoTime {
  if (!Number.isFinite(seconds)) throw new NaNOrInf()
  const ns = seconds * 1e9
  if (ns > 2 ** 63 || ns < -(2 ** 63)) {
    throw new Error(
      `${formatValue(seconds)} cannot be represented as a nanoseconds timestamp since it overflows int64`,
    )
  }
  return new GoTime(BigInt(Math.trunc(Math.trunc(ns) / 1e6)) * 1_000_000n)
}

function humanizeTimestamp(seconds: number): string {
  try {
    return goTimeString(floatToTime(seconds))
  } catch (err) {
    if (err instanceof NaNOrInf) return formatFloat(seconds, 'g', 4)
    throw err
  }
}

/**
 * Go's url.QueryEscape: byte by byte, A-Z a-z 0-9 `-_.~` kept, space as "+", every other byte
 * as %XX. Over the Go string's bytes, not encodeURIComponent, which throws on a byte that is
 * not UTF-8 (a lone U+DCxx from go-bytes.ts) where Go escapes it as %FF.
 */
function queryEscape(s: string): string {
  let out = ''
  for (const b of goStringToBytes(s)) {
    const c = String.fromCharCode(b)
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c
    else if (b === 0x20) out += '+'
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

function expressionLink(expr: string, tab: number): string {
  return `/graph?g0.expr=${queryEscape(expr)}&g0.tab=${tab}`
}

export function humanize(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return formatFloat(v, 'g', 4)
  if (Math.abs(v) >= 1) {
    let prefix = ''
    for (const p of ['k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y']) {
      if (Math.abs(v) < 1000) break
      prefix = p
      v /= 1000
    }
    return formatFloat(v, 'g', 4) + prefix
  }
  let prefix = ''
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1) break
    prefix = p
    v *= 1000
  }
  return formatFloat(v, 'g', 4) + prefix
}

export function humanize1024(v: number): string {
  if (Math.abs(v) <= 1 || !Number.isFinite(v)) return formatFloat(v, 'g', 4)
  let prefix = ''
  for (const p of ['ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei', 'Zi', 'Yi']) {
    if (Math.abs(v) < 1024) break
    prefix = p
    v /= 1024
  }
  return formatFloat(v, 'g', 4) + prefix
}

export function humanizeDuration(v: number): string {
  if (!Number.isFinite(v)) return formatFloat(v, 'g', 4)
  if (v === 0) return `${formatFloat(v, 'g', 4)}s`
  if (Math.abs(v) >= 1) {
    let sign = ''
    if (v < 0) {
      sign = '-'
      v = -v
    }
    // Go's int64(v): beyond int64 amd64 gives the minimum, which the divisions below keep negative.
    const whole = v >= 2 ** 63 ? -(2n ** 63n) : BigInt(Math.trunc(v))
    const seconds = whole % 60n
    const minutes = (whole / 60n) % 60n
    const hours = (whole / 3600n) % 24n
    const days = whole / 86400n
    if (days !== 0n) return `${sign}${days}d ${hours}h ${minutes}m ${seconds}s`
    if (hours !== 0n) return `${sign}${hours}h ${minutes}m ${seconds}s`
    if (minutes !== 0n) return `${sign}${minutes}m ${seconds}s`
    return `${sign}${formatFloat(v, 'g', 4)}s`
  }
  let prefix = ''
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1) break
    prefix = p
    v *= 1000
  }
  return `${formatFloat(v, 'g', 4)}${prefix}s`
}

export function humanizePercentage(v: number): string {
  return `${formatFloat(v * 100, 'g', 4)}%`
}

/** The type of what a value points to (funcs.go `indirect`), or its own type if not a pointer. */
function pointeeTypeName(v: TValue): string {
  if (basicKind(v) !== 'other' || compositeKind(v) !== 'ptr') return typeName(v)
  return typeName(v).slice(1)
}

/** Go's `len` (funcs.go length): strings in bytes, slices and maps; a pointer is followed first. */
function lenOf(v: TValue): GoInt {
  const text = stringKindText(v)
  // A Go string's length is its bytes (go-bytes.ts: a byte that is not UTF-8 is one).
  if (text !== undefined) return new GoInt(goStringToBytes(text).length)
  if (Array.isArray(v)) return new GoInt(v.length)
  // The untyped nil reaches length as the zero reflect.Value, whose Type() panics; a nil
  // interface {} (null) is a valid value, which indirect finds nil.
  if (v === undefined) throw new ExecError('reflect: call of reflect.Value.Type on zero Value')
  if (v === null) throw new ExecError('len of nil pointer')
  if (basicKind(v) === 'other' && compositeKind(v) === 'map')
    return new GoInt(Object.keys(v as object).length)
  throw new ExecError(`len of type ${pointeeTypeName(v)}`)
}

function indexOf(v: TValue, ...keys: TValue[]): TValue {
  let cur = v
  for (const given of keys) {
    // funcs.go index: indirectInterface makes a nil interface {} the invalid value.
    const key = given === null ? undefined : given
    const text = stringKindText(cur)
    if (text !== undefined) {
      // index of a string is its byte (a uint8) at the offset. funcs.go lets an index equal to
      // the length through indexArg, and reflect's Index panics on it with its own words.
      const bytes = goStringToBytes(text)
      const i = indexArg(key, bytes.length)
      if (i === bytes.length) throw new ExecError('reflect: string index out of range')
      cur = new GoInt(bytes[i] as number, 'uint8')
    } else if (Array.isArray(cur)) {
      const i = indexArg(key, cur.length)
      if (i === cur.length) throw new ExecError('reflect: slice index out of range')
      cur = cur[i]
    } else if (basicKind(cur) === 'other' && compositeKind(cur) === 'map') {
      if (key === undefined) throw new ExecError('value is nil; should be of type string')
      if (typeof key !== 'string') throw new ExecError(`value has type ${typeName(key)}; should be string`)
      const map = cur as Record<string, TValue>
      // A missing key gives the element type's zero value: nil in `args`' map, "" in labels.
      cur = Object.hasOwn(map, key) ? map[key] : isGoInterfaceMap(map) ? null : ''
    } else {
      throw new ExecError(`can't index item of type ${pointeeTypeName(cur)}`)
    }
  }
  return cur
}

/**
 * funcs.go indexArg: an int index within 0..cap. The invalid value (undefined) is "nil"; a nil
 * interface {} (null: a key missing from `args`' map, reached by a field, given to `slice`,
 * which unlike `index` does not indirect its indexes) is a valid value, named by its type.
 */
function indexArg(key: TValue, cap: number): number {
  if (key === undefined) throw new ExecError('cannot index slice/array with nil')
  if (key === null) throw new ExecError('cannot index slice/array with type interface {}')
  if (!(key instanceof GoInt)) throw new ExecError(`cannot index slice/array with type ${typeName(key)}`)
  if (key.value < 0 || key.value > cap) throw new ExecError(`index out of range: ${key.exact}`)
  return key.value
}

/** funcs.go slice: `slice x 1 2` is x[1:2]; strings by bytes, at most two indexes for them. */
function sliceOf(item: TValue, ...indexes: TValue[]): TValue {
  if (item === null || item === undefined) throw new ExecError('slice of untyped nil')
  if (indexes.length > 3) throw new ExecError(`too many slice indexes: ${indexes.length}`)
  let len: number
  const text = stringKindText(item)
  if (text !== undefined) {
    if (indexes.length === 3) throw new ExecError('cannot 3-index slice a string')
    len = goStringToBytes(text).length
  } else if (Array.isArray(item)) len = item.length
  else throw new ExecError(`can't slice item of type ${typeName(item)}`)
  const idx = [0, len, len]
  indexes.forEach((x, i) => {
    idx[i] = indexArg(x, len)
  })
  const [i, j, k] = idx as [number, number, number]
  if (i > j) throw new ExecError(`invalid slice index: ${i} > ${j}`)
  if (indexes.length === 3 && j > k) throw new ExecError(`invalid slice index: ${j} > ${k}`)
  if (text !== undefined) {
    // A slice of a string has the string's type: template.HTML stays template.HTML.
    const sliced = goStringFromBytes(goStringToBytes(text).slice(i, j))
    return item instanceof GoHTML ? new GoHTML(sliced) : sliced
  }
  const sliced = (item as TValue[]).slice(i, j)
  // reflect's Slice of a nil slice (only 0:0 is in range) is nil again.
  if (item instanceof QueryResult && item.isNil) (sliced as QueryResult).isNil = true
  return sliced
}

/**
 * funcs.go JSEscapeString (Go 1.19): quotes, <, >, &, = and control characters escaped, and
 * runes unicode.IsPrint refuses as \uXXXX.
 */
function jsEscape(s: string): string {
  let out = ''
  for (const c of s) {
    const cp = c.codePointAt(0) as number
    if (c === '\\') out += '\\\\'
    else if (c === "'" || c === '"') out += `\\${c}`
    else if ('<>&='.includes(c)) out += `\\u00${cp.toString(16).toUpperCase()}`
    else if (cp < 0x20) out += `\\u00${cp.toString(16).toUpperCase().padStart(2, '0')}`
    // A byte that is not UTF-8 (go-bytes.ts' lone U+DC00 + byte) decodes as utf8.RuneError,
    // which is printable, so Go copies the byte itself.
    else if (cp >= 0xdc80 && cp <= 0xdcff && c.length === 1) out += c
    else if (cp >= 0x80 && !/^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]$/u.test(c)) {
      out += `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}`
    } else out += c
  }
  return out
}

/** Prometheus' stripDomain: the first label of a host name, its port kept; IPs unchanged. */
function stripDomain(hostPort: string): string {
  const split = goSplitHostPort(hostPort)
  const host = split?.host ?? hostPort
  if (isIP(host) !== 0 && !host.includes('%')) return hostPort
  const first = host.split('.')[0] as string
  if (split && split.port !== '')
    return first.includes(':') ? `[${first}]:${split.port}` : `${first}:${split.port}`
  return first
}

/**
 * The text `html`, `js` and `urlquery` escape (funcs.go evalArgs): a lone string as it is, else
 * fmt.Sprint of the operands, each past one pointer as a pipeline's value is (exec.go
 * printableValue).
 */
function evalArgs(args: TValue[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0]
  // printableValue makes a nil operand the string "<no value>" before fmt sees it.
  return sprint(args.map((a) => (a === null || a === undefined ? '<no value>' : goIndirect(a))))
}

/** Go's message when a template function dereferences a nil pointer (runtime panic, recovered). */
const NIL_POINTER = 'runtime error: invalid memory address or nil pointer dereference'

function compileGoRegex(pattern: string): GoRegexp {
  try {
    return compileGoRegexp(pattern)
  } catch (err) {
    throw new ExecError((err as Error).message)
  }
}

/** url.URL.Path of an absolute URL: the decoded path, "" when there is none. */
function urlPath(url: string): string {
  const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*([^?#]*)/.exec(url)
  const raw = m ? (m[1] as string) : (url.split(/[?#]/)[0] as string)
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

interface FuncOptions {
  query: TemplateQueryFunc | undefined
  functionsURL: string | null
}

function baseFuncs(opts: FuncOptions): Record<string, TemplateFunc> {
  const float = (name: string, f: (v: number) => string): TemplateFunc => {
    return (v) => {
      try {
        return f(toFloat(v))
      } catch (err) {
        if (isStackOverflow(err)) throw err
        throw new ExecError(`error calling ${name}: ${(err as Error).message}`)
      }
    }
  }
  return {
    // Go text/template built-ins.
    and: () => undefined,
    or: () => undefined,
    not: (v) => !isTrue(v),
    len: (v) => lenOf(v),
    index: (v, ...keys) => {
      if (v === null || v === undefined) throw new ExecError('index of untyped nil')
      return indexOf(v, ...keys)
    },
    slice: (v, ...indexes) => sliceOf(v, ...indexes),
    js: (...args) => jsEscape(evalArgs(args)),
    // No template value is a function, so call always fails as Go's does on a non-function.
    call: (fn) => {
      if (fn === null || fn === undefined) throw new ExecError('call of nil')
      throw new ExecError(`non-function of type ${typeName(fn)}`)
    },
    print: (...args) => sprint(args),
    println: (...args) => sprintln(args),
    printf: (format, ...args) => sprintf(String(format), args),
    eq: (a, ...rest) => {
      if (rest.length === 0) throw new ExecError('missing argument for comparison')
      return rest.some((b) => eqPair(a, b))
    },
    ne: (a, b) => !eqPair(a, b),
    lt: (a, b) => ltPair(a, b),
    le: (a, b) => ltPair(a, b) || eqPair(a, b),
    gt: (a, b) => !(ltPair(a, b) || eqPair(a, b)),
    ge: (a, b) => !ltPair(a, b),
    urlquery: (...args) => queryEscape(evalArgs(args)),
    // Go's HTMLEscapeString, NUL included.
    html: (...args) =>
      evalArgs(args)
        .replace(/\0/g, '\uFFFD')
        .replace(/&/g, '&amp;')
        .replace(/</g, '&lt;')
        .replace(/>/g, '&gt;')
        .replace(/"/g, '&#34;')
        .replace(/'/g, '&#39;'),
    // Prometheus template functions.
    humanize: float('humanize', humanize),
    humanize1024: float('humanize1024', humanize1024),
    humanizeDuration: float('humanizeDuration', humanizeDuration),
    humanizePercentage: float('humanizePercentage', humanizePercentage),
    humanizeTimestamp: float('humanizeTimestamp', humanizeTimestamp),
    toTime: (v) => {
      try {
        return floatToTime(toFloat(v))
      } catch (err) {
        if (isStackOverflow(err)) throw err
        throw new ExecError(`error calling toTime: ${(err as Error).message}`)
      }
    },
    title: (s) => goTitle(s as string),
    toUpper: (s) => goToUpper(s as string),
    toLower: (s) => goToLower(s as string),
    stripPort: (s) => stripPort(s as string),
    stripDomain: (s) => stripDomain(s as string),
    match: (pattern, text) => compileGoRegex(pattern as string).matchString(text as string),
    reReplaceAll: (pattern, repl, text) => {
      let re: GoRegexp
      try {
        re = compileGoRegex(pattern as string)
      } catch (err) {
        if (isStackOverflow(err)) throw err
        // MustCompile panics; text/template recovers it with the panic's text.
        throw new ExecError(`regexp: Compile(\`${pattern as string}\`): ${(err as Error).message}`)
      }
      return re.replaceAllString(text as string, repl as string)
    },
    safeHtml: (s) => new GoHTML(s as string),
    graphLink: (expr) => expressionLink(expr as string, 0),
    tableLink: (expr) => expressionLink(expr as string, 1),
    externalURL: () => {
      if (opts.functionsURL === null) throw new ExecError(NIL_POINTER)
      return opts.functionsURL
    },
    pathPrefix: () => {
      if (opts.functionsURL === null) throw new ExecError(NIL_POINTER)
      return urlPath(opts.functionsURL)
    },
    query: (expr) => {
      if (!opts.query) throw new ExecError('no query engine')
      const result = new QueryResult()
      for (const s of opts.query(expr as string)) result.push(new QuerySample({ ...s.labels }, s.value))
      return result
    },
    first: (v) => {
      const result = v as QueryResult | null
      if (result && result.length > 0) return result[0]
      throw new ExecError('first() called on vector with no elements')
    },
    label: (name, s) => {
      if (s === null) throw new ExecError(NIL_POINTER)
      return (s as QuerySample).Labels[name as string] ?? ''
    },
    value: (s) => {
      if (s === null) throw new ExecError(NIL_POINTER)
      return (s as QuerySample).Value
    },
    strvalue: (s) => {
      if (s === null) throw new ExecError(NIL_POINTER)
      return (s as QuerySample).Labels.__value__ ?? ''
    },
    sortByLabel: (name, v) => {
      // checkArg made any nil the nil queryResult, which sorts (and stays nil) in place.
      const result = v as QueryResult
      const key = (s: QuerySample) => s.Labels[name as string] ?? ''
      // sort.Stable with Less on Go strings (byte order), in place, as Prometheus does.
      const sorted = [...result].sort((a, b) => compareStrings(key(a), key(b)))
      sorted.forEach((s, i) => {
        result[i] = s
      })
      return result
    },
    parseDuration: (s) => {
      try {
        return parseDuration(s as string) / 1000
      } catch (err) {
        if (isStackOverflow(err)) throw err
        throw new ExecError(`error calling parseDuration: ${(err as Error).message}`)
      }
    },
    // Prometheus' `args` builds a map[string]interface{}, whatever the values.
    args: (...values) => goInterfaceMap(Object.fromEntries(values.map((v, i) => [`arg${i}`, v]))),
  }
}

/**
 * Go parameter types of the template functions, for text/template's argument checks. `any` is
 * interface {}: nil in any form reaches the function as a nil interface (null). `reflect.Value`
 * is what Go's built-ins take: the value itself, so an untyped nil stays the invalid value
 * (undefined) and a nil interface {} (null) stays a valid value of that type, as Go keeps them.
 */
type ParamType =
  | 'string'
  | 'queryResult'
  | '*sample'
  | 'any'
  | 'reflect.Value'
  | 'int'
  | 'time.Duration'
  | 'time.Time'

const GO_PARAM_NAMES: Record<ParamType, string> = {
  string: 'string',
  queryResult: 'template.queryResult',
  '*sample': '*template.sample',
  any: 'interface {}',
  'reflect.Value': 'reflect.Value',
  int: 'int',
  'time.Duration': 'time.Duration',
  'time.Time': 'time.Time',
}

/** The arguments a command gives the method it ends with: `(toTime 1).Format "2006"`. */
interface MethodCall {
  terms: Term[]
  piped?: { value: TValue }
}

interface TimeMethod {
  params: ParamType[]
  /** Methods with more than one result, which a template cannot call. */
  results?: number
  call?: (t: GoTime, args: TValue[]) => TValue
}

const civilInt = (field: keyof ReturnType<typeof goCivil>) => ({
  params: [],
  call: (t: GoTime) => new GoInt(goCivil(t)[field]),
})
const timeOf = (t: GoTime, ns: bigint) => new GoTime(ns, false, t.local)
const int64 = (v: bigint) => GoInt.of(v, 'int64')
const floorDivBig = (a: bigint, b: bigint) => (a >= 0n ? a / b : -((-a + b - 1n) / b))

/**
 * The methods of Go 1.19's time.Time a template can call on what `toTime` returns (value
 * receivers; AppendFormat, In and the encoders take arguments no template can make and are
 * left out). Results keep Go's types: int64 from Unix, time.Month, time.Duration from Sub.
 */
const TIME_METHODS: Record<string, TimeMethod> = {
  Add: {
    params: ['time.Duration'],
    call: (t, [d]) => timeOf(t, t.ns + (d as GoInt).exact),
  },
  AddDate: {
    params: ['int', 'int', 'int'],
    call: (t, [y, m, d]) =>
      timeOf(t, goAddDate(t, (y as GoInt).value, (m as GoInt).value, (d as GoInt).value)),
  },
  After: { params: ['time.Time'], call: (t, [u]) => t.ns > (u as GoTime).ns },
  Before: { params: ['time.Time'], call: (t, [u]) => t.ns < (u as GoTime).ns },
  Equal: { params: ['time.Time'], call: (t, [u]) => t.ns === (u as GoTime).ns },
  Clock: { params: [], results: 3 },
  Date: { params: [], results: 3 },
  ISOWeek: { params: [], results: 2 },
  Zone: { params: [], results: 2 },
  ZoneBounds: { params: [], results: 2 },
  Year: civilInt('year'),
  Day: civilInt('day'),
  Hour: civilInt('hour'),
  Minute: civilInt('minute'),
  Second: civilInt('second'),
  Nanosecond: civilInt('nanosecond'),
  YearDay: civilInt('yearDay'),
  Month: { params: [], call: (t) => new GoInt(goCivil(t).month, 'time.Month') },
  Weekday: { params: [], call: (t) => new GoInt(goCivil(t).weekday, 'time.Weekday') },
  Format: { params: ['string'], call: (t, [layout]) => goTimeFormat(t, layout as string) },
  String: { params: [], call: (t) => goTimeString(t) },
  GoString: { params: [], call: (t) => goTimeGoString(t) },
  IsDST: { params: [], call: () => false },
  IsZero: { params: [], call: (t) => t.ns === GO_ZERO_TIME_NS },
  // Prometheus runs in UTC: Local is the same clock, though GoString names time.Local.
  Local: { params: [], call: (t) => t.value(true) },
  UTC: { params: [], call: (t) => t.value(false) },
  Round: { params: ['time.Duration'], call: (t, [d]) => timeOf(t, goRound(t, (d as GoInt).exact)) },
  Truncate: { params: ['time.Duration'], call: (t, [d]) => timeOf(t, goTruncate(t, (d as GoInt).exact)) },
  Sub: { params: ['time.Time'], call: (t, [u]) => GoInt.of(goTimeSub(t, u as GoTime), 'time.Duration') },
  Unix: { params: [], call: (t) => int64(floorDivBig(t.ns, 1_000_000_000n)) },
  UnixMilli: { params: [], call: (t) => int64(floorDivBig(t.ns, 1_000_000n)) },
  UnixMicro: { params: [], call: (t) => int64(floorDivBig(t.ns, 1_000n)) },
  UnixNano: { params: [], call: (t) => int64(t.ns) },
}

const SIGNATURES: Record<string, ParamType[]> = {
  query: ['string'],
  first: ['queryResult'],
  label: ['string', '*sample'],
  value: ['*sample'],
  strvalue: ['*sample'],
  sortByLabel: ['string', 'queryResult'],
  reReplaceAll: ['string', 'string', 'string'],
  safeHtml: ['string'],
  match: ['string', 'string'],
  title: ['string'],
  toUpper: ['string'],
  toLower: ['string'],
  graphLink: ['string'],
  tableLink: ['string'],
  stripPort: ['string'],
  stripDomain: ['string'],
  // text/template built-ins with fixed arity (funcs.go); they take reflect.Value.
  not: ['reflect.Value'],
  len: ['reflect.Value'],
  ne: ['reflect.Value', 'reflect.Value'],
  lt: ['reflect.Value', 'reflect.Value'],
  le: ['reflect.Value', 'reflect.Value'],
  gt: ['reflect.Value', 'reflect.Value'],
  ge: ['reflect.Value', 'reflect.Value'],
  parseDuration: ['string'],
  humanize: ['any'],
  humanize1024: ['any'],
  humanizeDuration: ['any'],
  humanizePercentage: ['any'],
  humanizeTimestamp: ['any'],
  toTime: ['any'],
  pathPrefix: [],
  externalURL: [],
}

/** Variadic built-ins and how many arguments each needs before its `...` (funcs.go). */
const AT_LEAST: Record<string, number> = { eq: 1, index: 1, slice: 1, call: 1, printf: 1 }

/**
 * The parameter types of the variadic functions (funcs.go builtins, Prometheus' `args`): the
 * fixed ones, then the type of each `...` argument. `and` and `or` evaluate their own.
 */
const VARIADIC: Record<string, { fixed: ParamType[]; rest: ParamType }> = {
  index: { fixed: [], rest: 'reflect.Value' },
  slice: { fixed: [], rest: 'reflect.Value' },
  eq: { fixed: [], rest: 'reflect.Value' },
  call: { fixed: [], rest: 'reflect.Value' },
  printf: { fixed: ['string'], rest: 'any' },
  print: { fixed: [], rest: 'any' },
  println: { fixed: [], rest: 'any' },
  html: { fixed: [], rest: 'any' },
  js: { fixed: [], rest: 'any' },
  urlquery: { fixed: [], rest: 'any' },
  args: { fixed: [], rest: 'any' },
}

/** The Go type of parameter `i` of function `name`, undefined for a function without one. */
function paramType(name: string, i: number): ParamType | undefined {
  const fixed = SIGNATURES[name]
  if (fixed) return fixed[i]
  const variadic = VARIADIC[name]
  return variadic ? (variadic.fixed[i] ?? variadic.rest) : undefined
}

function fitsType(v: TValue, type: ParamType): boolean {
  switch (type) {
    case 'string':
      return typeof v === 'string'
    case 'queryResult':
      return v instanceof QueryResult
    case '*sample':
      return v instanceof QuerySample
    case 'any':
    case 'reflect.Value':
      return true
    case 'int':
    case 'time.Duration':
      return v instanceof GoInt && v.type === type
    case 'time.Time':
      return v instanceof GoTime
  }
}

/**
 * text/template's checks of one argument against a Go parameter type (exec.go evalArg and
 * validateType): a constant of the wrong kind, nil where nil cannot go, a computed value of the
 * wrong type. Returns the value to pass (nil becomes an empty queryResult, as a nil slice).
 */
function checkArg(v: TValue, type: ParamType, term: Term | undefined, at: NodeRef): TValue {
  const goType = GO_PARAM_NAMES[type]
  if (term?.kind === 'literal') {
    if (term.value === null) {
      // exec.go evalArg: reflect.Zero of the parameter type; reflect.Value's zero is invalid.
      if (type === 'reflect.Value') return undefined
      if (type === 'queryResult') return nilQueryResult()
      if (type === '*sample' || type === 'any') return null
      throw new ExecError(`cannot assign nil to ${goType}`, term)
    }
    if (type === 'string' && typeof term.value !== 'string')
      throw new ExecError(`expected string; found ${term.str}`, term)
    if (type === 'int' || type === 'time.Duration') {
      // evalInteger: an integer constant, which a float constant with an integral value is too,
      // and a complex one without an imaginary part within int64 (node.go simplifyComplex).
      const c = term.value
      // An integer beyond int64 is no int, nor is a float that int64 cannot hold (Go's
      // float64(int64(f)) == f fails there).
      if (c instanceof GoInt && !term.overflow) return GoInt.of(c.exact, type)
      const n = term.overflow ? undefined : c instanceof GoComplex ? (c.im === 0 ? c.re : undefined) : c
      if (typeof n !== 'number' || !Number.isInteger(n) || n < -(2 ** 63) || n >= 2 ** 63)
        throw new ExecError(`expected integer; found ${term.str}`, term)
      return GoInt.of(BigInt(n), type)
    }
    if (type === 'queryResult' || type === '*sample' || type === 'time.Time') {
      throw new ExecError(`can't handle ${term.str} for arg of type ${goType}`, term)
    }
    return v
  }
  // exec.go validateType: the invalid value becomes the zero value of a type that can be nil
  // (a reflect.Value parameter's is the invalid value itself, interface {}'s a nil interface).
  if (v === undefined) {
    if (type === 'string') throw new ExecError(`invalid value; expected ${goType}`, at)
    if (type === 'reflect.Value') return undefined
    return type === 'queryResult' ? nilQueryResult() : null
  }
  if (!fitsType(v, type)) {
    // null is a nil interface {} (a missing key of `args`' map, reached by a field).
    const got = v === null ? 'interface {}' : typeName(v)
    throw new ExecError(`wrong type for value; expected ${goType}; got ${got}`, at)
  }
  return v
}

/** A JavaScript stack overflow, which no function's error message may wrap. */
function isStackOverflow(err: unknown): boolean {
  return err instanceof RangeError && err.message.startsWith('Maximum call stack size exceeded')
}

/** exec.go maxExecDepth: how deep `{{template}}` calls may nest. */
const MAX_EXEC_DEPTH = 100000

/** Thrown by `{{break}}` and `{{continue}}` up to their range (exec.go walkBreak, walkContinue). */
const BREAK = { signal: 'break' }
const CONTINUE = { signal: 'continue' }

/**
 * Executes a parsed template (text/template/exec.go). Output goes to one buffer as Go writes
 * to its writer, so what a range iteration printed before `{{break}}` stays printed.
 */
class Exec {
  private out = ''
  /** The template being executed: Go names it in errors (`executing "x" at <…>`). */
  private current: string
  /** Active `{{template}}` calls, outermost first, with the template that made each. */
  private readonly calls: { node: TemplateNode; caller: string }[] = []
  /** The node evaluated last (exec.go state.node, set by `at`): where some errors are reported. */
  private last: NodeRef | undefined

  constructor(
    private readonly funcs: Record<string, TemplateFunc>,
    private readonly name: string,
    private readonly text: string,
    private readonly trees: Map<string, Node[]>,
  ) {
    this.current = name
  }

  list(nodes: Node[], dot: TValue, vars: Map<string, TValue>[]): void {
    for (const node of nodes) this.node(node, dot, vars)
  }

  lookupVar(name: string, vars: Map<string, TValue>[]): TValue {
    for (let i = vars.length - 1; i >= 0; i--) {
      const scope = vars[i] as Map<string, TValue>
      if (scope.has(name)) return scope.get(name)
    }
    throw new ExecError(`undefined variable: ${name}`)
  }

  setVar(name: string, value: TValue, vars: Map<string, TValue>[], assign: boolean): void {
    if (assign) {
      for (let i = vars.length - 1; i >= 0; i--) {
        const scope = vars[i] as Map<string, TValue>
        if (scope.has(name)) {
          scope.set(name, value)
          return
        }
      }
      throw new ExecError(`undefined variable: ${name}`)
    }
    ;(vars[vars.length - 1] as Map<string, TValue>).set(name, value)
  }

  node(node: Node, dot: TValue, vars: Map<string, TValue>[]): void {
    switch (node.kind) {
      case 'text':
        this.out += node.text
        return
      case 'action': {
        const v = this.pipeline(node.pipe, dot, vars)
        if (node.pipe.decl.length === 0) this.out += printValue(v)
        return
      }
      case 'if':
      case 'with': {
        // exec.go walkIfOrWith: the pipeline's variables are in scope in both branches.
        const scope = [...vars, new Map<string, TValue>()]
        const v = this.pipeline(node.pipe, dot, scope)
        if (isTrue(v)) this.list(node.list, node.kind === 'with' ? v : dot, scope)
        else this.list(node.elseList, dot, scope)
        return
      }
      case 'range': {
        // exec.go walkRange: evalPipeline first gives the declared variables the collection
        // (what an else branch sees); each iteration then sets them to key and element.
        const scope = [...vars, new Map<string, TValue>()]
        const decl = node.pipe.decl
        const v = this.pipeline(node.pipe, dot, scope)
        const items: [TValue, TValue][] = Array.isArray(v)
          ? v.map((x, i) => [new GoInt(i), x])
          : basicKind(v) === 'other' && compositeKind(v) === 'map'
            ? Object.keys(v as object)
                .sort()
                .map((k) => [k, (v as Record<string, TValue>)[k]])
            : v === undefined || v === null
              ? []
              : (() => {
                  // exec.go reports it at the node evaluated last (state.node).
                  throw new ExecError(`range can't iterate over ${printValue(v)}`, this.last)
                })()
        if (items.length === 0) {
          this.list(node.elseList, dot, scope)
          return
        }
        for (const [k, x] of items) {
          const inner = new Map<string, TValue>()
          if (decl.length === 1) inner.set(decl[0] as string, x)
          if (decl.length === 2) {
            inner.set(decl[0] as string, k)
            inner.set(decl[1] as string, x)
          }
          try {
            this.list(node.list, x, [...scope, inner])
          } catch (signal) {
            if (signal === BREAK) break
            if (signal !== CONTINUE) throw signal
          }
        }
        return
      }
      case 'break':
        throw BREAK
      case 'continue':
        throw CONTINUE
      case 'template': {
        // exec.go walkTemplate: lookup, depth check, then the pipeline in the caller's scope
        // (its variables persist there); the callee sees only `$`, set to its dot.
        const tree = this.trees.get(node.name)
        if (tree === undefined) throw new ExecError(`template ${JSON.stringify(node.name)} not defined`, node)
        if (this.calls.length === MAX_EXEC_DEPTH) {
          throw new ExecError(`exceeded maximum template depth (${MAX_EXEC_DEPTH})`, node)
        }
        const value = node.pipe ? this.pipeline(node.pipe, dot, vars) : undefined
        const caller = this.current
        this.calls.push({ node, caller })
        this.current = node.name
        this.list(tree, value, [new Map([['$', value]])])
        // Restored only on success: an error ends the execution, and run() reads the state
        // at the point of failure.
        this.current = caller
        this.calls.pop()
        return
      }
    }
  }

  /**
   * Go's stack grows until exec.go's depth limit stops endless `{{template}}` recursion; ours
   * overflows first. When the calls at the overflow repeat with a short period, the call at
   * depth MAX_EXEC_DEPTH is known, and so is the error Go reports there.
   */
  private depthExceeded(): ExecError | undefined {
    const chain = this.calls
    const n = chain.length
    for (let p = 1; p <= 64 && 3 * p <= n; p++) {
      let periodic = true
      for (let j = n - 2 * p; j < n && periodic; j++) periodic = chain[j]?.node === chain[j - p]?.node
      if (!periodic) continue
      const at = chain[n - p + ((MAX_EXEC_DEPTH - (n - p)) % p)] as (typeof chain)[number]
      this.current = at.caller
      return new ExecError(`exceeded maximum template depth (${MAX_EXEC_DEPTH})`, at.node)
    }
    return undefined
  }

  pipeline(pipe: Pipeline, dot: TValue, vars: Map<string, TValue>[]): TValue {
    let value: TValue
    let first = true
    for (const cmd of pipe.commands) {
      value = this.command(cmd, dot, vars, first ? undefined : { value })
      // exec.go evalPipeline digs into an interface {}: a nil one becomes the invalid value,
      // which prints as <no value> (and reaches a function as nil again).
      if (value === null) value = undefined
      first = false
    }
    try {
      for (const name of pipe.decl) this.setVar(name, value, vars, pipe.assign)
    } catch (err) {
      // Go reports a failed `$x = …` at the node it evaluated last: the last command's last term.
      const last = pipe.commands[pipe.commands.length - 1]?.terms.at(-1)
      if (err instanceof ExecError && !err.node && last) throw new ExecError(err.message, last)
      throw err
    }
    return value
  }

  command(
    cmd: Command,
    dot: TValue,
    vars: Map<string, TValue>[],
    piped: { value: TValue } | undefined,
  ): TValue {
    const [head, ...rest] = cmd.terms as [Term, ...Term[]]
    if (head.kind === 'call') {
      this.last = head
      const name = head.name as string
      const fn = this.funcs[name] as TemplateFunc
      if (name === 'and' || name === 'or') {
        const operands: (() => TValue)[] = rest.map((t) => () => this.term(t, dot, vars))
        if (piped) operands.push(() => piped.value)
        if (operands.length === 0)
          throw new ExecError(`wrong number of args for ${name}: want at least 1 got 0`)
        let v: TValue
        for (const get of operands) {
          v = get()
          if (name === 'and' ? !isTrue(v) : isTrue(v)) return v
        }
        return v
      }
      // exec.go evalCall: the argument count first, then each argument evaluated and checked
      // in turn, so the first bad one is reported, at the node evaluated last (state.node).
      const given = rest.length + (piped ? 1 : 0)
      const least = AT_LEAST[name]
      if (least !== undefined && given < least) {
        // exec.go evalCall counts the arguments without the piped value in this message.
        throw new ExecError(
          `wrong number of args for ${name}: want at least ${least} got ${rest.length}`,
          head,
        )
      }
      const params = SIGNATURES[name]
      if (params && given !== params.length) {
        throw new ExecError(`wrong number of args for ${name}: want ${params.length} got ${given}`, head)
      }
      const args: TValue[] = []
      for (const [i, t] of rest.entries()) {
        const type = paramType(name, i)
        const v = this.argTerm(t, type, dot, vars)
        args.push(type ? checkArg(v, type, t, this.last ?? t) : v)
      }
      if (piped) {
        // A piped value has no node of its own: it is checked at the node evaluated last.
        const type = paramType(name, args.length)
        args.push(type ? checkArg(piped.value, type, undefined, this.last ?? head) : piped.value)
      }
      try {
        return fn(...args)
      } catch (err) {
        // Our stack ends before Go's depth limit does: run() turns the overflow into Go's error.
        if (isStackOverflow(err)) throw err
        const message = (err as Error).message
        throw new ExecError(
          message.startsWith('error calling') ? message : `error calling ${name}: ${message}`,
          cmd,
        )
      }
    }
    if (rest.length > 0 || piped) {
      // exec.go evalFieldChain: the last name of a field chain gets the arguments (a method's).
      if ((head.kind === 'var' || head.kind === 'field') && (head.fields?.length ?? 0) > 0)
        return this.term(head, dot, vars, { terms: rest, piped })
      throw new ExecError(`can't give argument to non-function ${head.str}`, head)
    }
    // exec.go evalCommand: nil is a value only as an argument.
    if (head.kind === 'literal' && head.value === null) throw new ExecError('nil is not a command', head)
    return this.term(head, dot, vars)
  }

  /**
   * An argument's value for a parameter of `type`. exec.go evalArg reads a constant by the
   * parameter's kind and makes it an int only for interface {} (idealConstant): an integer
   * beyond int64 given where a string or int is wanted is refused by checkArg as the wrong
   * kind, not as an overflow.
   */
  private argTerm(t: Term, type: ParamType | undefined, dot: TValue, vars: Map<string, TValue>[]): TValue {
    if (
      t.kind === 'literal' &&
      t.overflow &&
      type !== undefined &&
      type !== 'any' &&
      type !== 'reflect.Value'
    ) {
      this.last = t
      return t.value
    }
    return this.term(t, dot, vars)
  }

  /** One operand's value; `call` gives a field chain's last name its command's arguments. */
  term(term: Term, dot: TValue, vars: Map<string, TValue>[], call?: MethodCall): TValue {
    this.last = term
    try {
      switch (term.kind) {
        case 'literal':
          if (term.overflow) throw new ExecError(`${term.str} overflows int`)
          return term.value
        case 'dot':
          return dot
        case 'var':
          return this.fields(this.lookupVar(term.name as string, vars), term.fields ?? [], call, dot, vars)
        case 'field': {
          if (!term.args) return this.fields(dot, term.fields ?? [], call, dot, vars)
          const base = this.term(term.args[0] as Term, dot, vars)
          try {
            return this.fields(base, term.fields ?? [], call, dot, vars)
          } catch (err) {
            // exec.go evalChainNode: a field of `(pipe)` fails at the node the pipe evaluated last.
            if (err instanceof ExecError && !err.node && this.last)
              throw new ExecError(err.message, this.last)
            throw err
          }
        }
        case 'pipe':
          // A parenthesized pipeline's variables persist after it (exec.go evalPipeline).
          return this.pipeline(term.pipe as Pipeline, dot, vars)
        case 'call':
          return this.command({ terms: [term], pos: term.pos, str: term.str }, dot, vars, undefined)
      }
    } catch (err) {
      if (err instanceof ExecError && !err.node) throw new ExecError(err.message, term)
      throw err
    }
  }

  /**
   * exec.go evalFieldChain: each name a field, map key or method of what the previous one gave;
   * the last one gets the command's arguments (`call`), which only a method may take.
   */
  fields(
    base: TValue,
    names: string[],
    call?: MethodCall,
    dot?: TValue,
    vars?: Map<string, TValue>[],
  ): TValue {
    let cur = base
    names.forEach((name, i) => {
      const args = i === names.length - 1 ? call : undefined
      // exec.go evalField: a field of the invalid value (a nil a pipeline or variable holds) is
      // the invalid value again, before any argument is looked at; only a nil interface {} fails.
      if (cur === undefined) return
      if (basicKind(cur) === 'other' && cur !== undefined && cur !== null && !Array.isArray(cur)) {
        const record = cur as Record<string, TValue>
        if (record instanceof GoTime) {
          cur = this.timeMethod(record, name, args, dot, vars ?? [])
          return
        }
        const struct =
          record instanceof QuerySample
            ? '*template.sample'
            : record instanceof TemplateRoot
              ? ROOT_TYPE
              : undefined
        if (struct !== undefined) {
          if (!Object.hasOwn(record, name))
            throw new ExecError(`can't evaluate field ${name} in type ${struct}`)
          if (args) throw new ExecError(`${name} has arguments but cannot be invoked as function`)
          cur = record[name]
          return
        }
        if (args) throw new ExecError(`${name} is not a method but has arguments`)
        // missingkey=zero (Prometheus' Expand): the element type's zero value, nil in `args`'
        // map[string]interface {}. Own keys only: `constructor` is a label name like any other.
        cur = Object.hasOwn(record, name) ? record[name] : isGoInterfaceMap(record) ? null : ''
      } else if (cur === null) {
        throw new ExecError(`nil pointer evaluating interface {}.${name}`)
      } else {
        throw new ExecError(`can't evaluate field ${name} in type ${goTypeName(cur)}`)
      }
    })
    return cur
  }

  /**
   * A method of time.Time called from a template (exec.go evalField, then evalCall): the
   * argument count, then results other than one value, then each argument against its
   * parameter type, as Go checks them.
   */
  timeMethod(
    t: GoTime,
    name: string,
    call: MethodCall | undefined,
    dot: TValue,
    vars: Map<string, TValue>[],
  ): TValue {
    const method = Object.hasOwn(TIME_METHODS, name) ? TIME_METHODS[name] : undefined
    if (method === undefined) {
      if (name === 'wall' || name === 'ext' || name === 'loc')
        throw new ExecError(`${name} is an unexported field of struct type ${typeName(t)}`)
      throw new ExecError(`can't evaluate field ${name} in type ${typeName(t)}`)
    }
    const given = (call?.terms.length ?? 0) + (call?.piped ? 1 : 0)
    if (given !== method.params.length)
      throw new ExecError(`wrong number of args for ${name}: want ${method.params.length} got ${given}`)
    if (method.results !== undefined)
      throw new ExecError(`can't call method/function ${JSON.stringify(name)} with ${method.results} results`)
    const args: TValue[] = []
    for (const [i, term] of (call?.terms ?? []).entries()) {
      const v = this.argTerm(term, method.params[i], dot, vars)
      args.push(checkArg(v, method.params[i] as ParamType, term, this.last ?? term))
    }
    if (call?.piped)
      args.push(
        checkArg(call.piped.value, method.params[args.length] as ParamType, undefined, this.last as NodeRef),
      )
    return (method.call as (t: GoTime, args: TValue[]) => TValue)(t, args)
  }

  run(nodes: Node[], data: TemplateRoot): string {
    const vars = new Map<string, TValue>([
      ['$', data],
      ['$labels', data.Labels],
      ['$externalLabels', data.ExternalLabels],
      ['$externalURL', data.ExternalURL],
      ['$value', data.Value],
    ])
    try {
      this.list(nodes, data, [vars])
      // The output is bytes in Go: pieces that are each not UTF-8 (`{{ "\xc3" }}{{ "\xa9" }}`)
      // can be UTF-8 together.
      return /[\uDC80-\uDCFF]/.test(this.out) ? goStringFromBytes(goStringToBytes(this.out)) : this.out
    } catch (thrown) {
      const err = isStackOverflow(thrown) ? (this.depthExceeded() ?? thrown) : thrown
      if (err instanceof ExecError) {
        // exec.go errorf: the location names the main template (ParseName), "executing" the
        // template that was running.
        const name = this.name
        const where = err.node
          ? `template: ${name}:${location(this.text, err.node.pos)}: executing ${JSON.stringify(this.current)} at <${err.node.str}>: `
          : `template: ${this.current}: `
        throw new TemplateError(`error executing template ${name}: ${where}${err.message}`)
      }
      throw err
    }
  }
}

/** The data Prometheus gives alert templates (`.Labels`, `.Value`, …): a struct value, ROOT_TYPE. */
class TemplateRoot implements GoReflectable {
  constructor(
    readonly Labels: Record<string, string>,
    readonly ExternalLabels: Record<string, string>,
    readonly ExternalURL: string,
    readonly Value: number,
  ) {}

  [GO_REFLECT](): GoShape {
    const fields = [
      { name: 'Labels', value: this.Labels },
      { name: 'ExternalLabels', value: this.ExternalLabels },
      { name: 'ExternalURL', value: this.ExternalURL },
      { name: 'Value', value: this.Value },
    ]
    return { kind: 'struct', type: ROOT_TYPE, pointer: false, fields }
  }
}

/**
 * Checks a label or annotation template when rules are loaded, as rulefmt.go
 * testTemplateParsing does by parsing it: throws TemplateError for syntax errors, functions the
 * expander does not provide, undeclared variables and misplaced `{{break}}`/`{{continue}}`.
 * With `alertName`, a non-empty `{{define "__alert_<alertName>"}}` is refused as Go refuses it.
 */
export function checkTemplate(text: string, alertName?: string): void {
  try {
    const name = alertName === undefined ? undefined : `__alert_${alertName}`
    parseTemplate(text, baseFuncs({ query: undefined, functionsURL: '' }), name)
  } catch (err) {
    if (err instanceof TemplateError)
      throw new TemplateError(err.message, err.pos, lineOf(text, err.pos ?? text.length))
    throw err
  }
}

/**
 * Expands one alert label/annotation template as Prometheus does for an alert of rule
 * `alertName`; on any error the result is `<error expanding template: …>`, as in Prometheus.
 */
export function expandAlertTemplate(text: string, alertName: string, data: AlertTemplateData): string {
  const name = `__alert_${alertName}`
  try {
    const funcs = baseFuncs({
      query: data.query,
      functionsURL: data.functionsURL === undefined ? (data.externalURL ?? '') : data.functionsURL,
    })
    const parsed = parseTemplate(text, funcs, name)
    const root = new TemplateRoot(data.labels, data.externalLabels ?? {}, data.externalURL ?? '', data.value)
    return new Exec(funcs, name, text, parsed.trees).run(parsed.root, root)
  } catch (err) {
    const message =
      err instanceof TemplateError && !err.message.startsWith('error executing')
        ? `error parsing template ${name}: template: ${name}:${lineOf(text, err.pos ?? text.length)}: ${err.message}`
        : (err as Error).message
    return `<error expanding template: ${message}>`
  }
}
