import { RE2JS, RE2JSException } from 're2js'
import { GO_UNICODE_CLASSES, unicodeClassAt } from './go-unicode.ts'

/**
 * Translation of the RE2 syntax Prometheus uses (Go's `regexp`) into an equivalent
 * JavaScript RegExp with the `u` flag. Constructs whose meaning differs and cannot be
 * translated faithfully are rejected with an error naming them, so a matcher never
 * silently selects different series than Prometheus would.
 */

export class RegexError extends Error {}

const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
}

// RE2's \s is ASCII-only and excludes \v; JavaScript's is wider.
const RE2_SPACE = '\\t\\n\\f\\r '
const SYNTAX_CHARS = new Set('^$\\.*+?()[]{}|/'.split(''))
const UNICODE_CLASS = /^[A-Za-z_]+$/

function escapeLiteral(ch: string, inClass: boolean): string {
  return SYNTAX_CHARS.has(ch) || (inClass && ch === '-') ? `\\${ch}` : ch
}

/**
 * Translates an RE2 pattern into JavaScript source plus flags. `anchored` wraps it as
 * Prometheus does for label matchers: `^(?:pattern)$`.
 */
export function translateRe2(pattern: string, anchored: boolean): { source: string; flags: string } {
  let flags = 'u'
  let i = 0
  // Leading flag groups are the only form of flags we translate (as RegExp flags).
  const leading = /^\(\?([imsU]+)\)/.exec(pattern)
  if (leading) {
    for (const f of leading[1] as string) {
      if (f === 'i' && !flags.includes('i')) flags += 'i'
      else if (f === 's' && !flags.includes('s')) flags += 's'
      else if (f === 'm' && !flags.includes('m')) flags += 'm'
      else if (f === 'U') throw new RegexError('unsupported regular expression flag (?U)')
    }
    i = leading[0].length
  }
  const dotAll = flags.includes('s')
  let out = ''
  let depth = 0
  while (i < pattern.length) {
    const ch = pattern[i] as string
    if (ch === '\\') {
      const [js, len] = translateEscape(pattern, i, false)
      out += js
      i += len
      continue
    }
    if (ch === '[') {
      const [js, len] = translateClass(pattern, i)
      out += js
      i += len
      continue
    }
    if (ch === '(') {
      if (pattern[i + 1] === '?') {
        const rest = pattern.slice(i + 2)
        if (rest.startsWith(':')) {
          out += '(?:'
          i += 3
        } else if (rest.startsWith('P<') || rest.startsWith('<')) {
          const m = /^P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest)
          if (!m) throw new RegexError(`invalid named capture in ${pattern}`)
          out += `(?<${m[1]}>`
          i += 2 + m[0].length
        } else {
          throw new RegexError(`unsupported regular expression construct "(?${rest.slice(0, 2)}"`)
        }
      } else {
        out += '('
        i++
      }
      depth++
      continue
    }
    if (ch === ')') {
      if (depth === 0) throw new RegexError(`unexpected ) in ${pattern}`)
      depth--
      out += ')'
      i++
      continue
    }
    if (ch === '.') {
      out += dotAll ? '[^]' : '[^\\n]'
      i++
      continue
    }
    if (ch === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i))
      if (m && out !== '' && !/[|(]$/.test(out)) {
        if (Number(m[1]) > 1000 || (m[3] !== undefined && m[3] !== '' && Number(m[3]) > 1000)) {
          throw new RegexError(`invalid repeat count in ${pattern}`)
        }
        out += m[0]
        i += m[0].length
        continue
      }
      // RE2 treats a brace that does not start a repetition as a literal.
      out += '\\{'
      i++
      continue
    }
    if (ch === '}' || ch === ']') {
      out += `\\${ch}`
      i++
      continue
    }
    out += ch
    i++
  }
  if (depth !== 0) throw new RegexError(`missing closing ) in ${pattern}`)
  const source = anchored ? `^(?:${out})$` : out
  try {
    new RegExp(source, flags)
  } catch (err) {
    throw new RegexError(`invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`)
  }
  return { source, flags }
}

/** A compiled label-matcher regex: `test` tells whether the whole value matches. */
export interface MatcherRegex {
  test(value: string): boolean
}

/** Memoised results per compiled matcher: label values repeat across series and evaluations. */
const MEMO_LIMIT = 4096

/**
 * Compiles a regex with RE2 semantics (re2js, a port of the RE2 engine Go's `regexp`
 * mirrors), fully anchored as Prometheus anchors label matchers (`^(?:pattern)$`), so
 * flag groups such as `(?i:...)`, `(?U)`, Unicode classes and every other RE2 construct
 * mean exactly what they mean in Prometheus. Throws `RegexError` with Go's message for a
 * pattern Go refuses.
 */
export function compileRe2(pattern: string): RE2JS {
  const go = goPattern(pattern)
  return re2(`^(?:${go.source})$`, go.restore)
}

const NESTS_TOO_DEEPLY = 'expression nests too deeply'

/** A byte that is not UTF-8, as PromQL's unquote keeps it (go-bytes: U+DC80 + byte). */
const NOT_UTF8 = /[\uDC80-\uDCFF]/

function re2(source: string, restore: (message: string) => string): RE2JS {
  // regexp/syntax `checkUTF8`: the error names the pattern from the first bad byte on.
  const bad = source.search(NOT_UTF8)
  if (bad !== -1)
    throw new RegexError(restore(`error parsing regexp: invalid UTF-8: \`${source.slice(bad)}\``))
  try {
    return RE2JS.compile(source)
  } catch (err) {
    if (err instanceof RE2JSException) {
      // Go's ErrNestingDepth carries the whole expression (`regexp/syntax` checkHeight); re2js' none.
      const message = err.message.endsWith(NESTS_TOO_DEEPLY) ? `${err.message}: \`${source}\`` : err.message
      throw new RegexError(restore(message))
    }
    throw err
  }
}

/** A Unicode class Go lacks, as goPattern hands it to re2js: a name no Unicode version has. */
const LACKING_CLASS = (n: number) => `\\p{Go_lacks_${n}}`

/**
 * The pattern as the Go release behind Prometheus 2.42 reads it, where it differs from
 * re2js: `(?<name>…)` is not yet syntax there (Go 1.22 added it), so `(?<` is refused with
 * Go's message; a capture name used twice is allowed (re2js refuses it), the first
 * group keeping the name (Go's `Expand` finds the first) and the others becoming plain
 * groups; and a Unicode class Go's tables lack (GO_UNICODE_CLASSES) is handed to re2js as a
 * name it refuses too, so that the error comes where Go's parse would raise it (an earlier
 * fault of the pattern first), and `restore` puts the class's own text back in the message.
 */
function goPattern(pattern: string): { source: string; restore: (message: string) => string } {
  let out = ''
  let inClass = false
  const seen = new Set<string>()
  const lacking: string[] = []
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string
    if (ch === '\\' && pattern[i + 1] === 'Q' && !inClass) {
      // Literal text up to `\E` (regexp/syntax `parse`): no class, group or name inside.
      const end = pattern.indexOf('\\E', i + 2)
      const stop = end === -1 ? pattern.length : end + 2
      out += pattern.slice(i, stop)
      i = stop - 1
      continue
    }
    if (ch === '\\') {
      const unicode =
        pattern[i + 1] === 'p' || pattern[i + 1] === 'P' ? unicodeClassAt(pattern, i) : undefined
      if (unicode !== undefined && !GO_UNICODE_CLASSES.has(unicode.name)) {
        out += LACKING_CLASS(lacking.length)
        lacking.push(unicode.text)
        i += unicode.text.length - 1
        continue
      }
      out += pattern.slice(i, i + 2)
      i++
      continue
    }
    if (inClass) {
      if (ch === ']') inClass = false
      out += ch
      continue
    }
    if (ch === '[') {
      inClass = true
      // A `]` right after `[` or `[^` is a literal member.
      const lead = /^\[\^?\]?/.exec(pattern.slice(i))![0]
      out += lead
      i += lead.length - 1
      continue
    }
    if (pattern.startsWith('(?<', i))
      throw new RegexError('error parsing regexp: invalid or unsupported Perl syntax: `(?<`')
    const named = /^\(\?P<([^>]*)>/.exec(pattern.slice(i))
    if (named) {
      const name = named[1] as string
      out += seen.has(name) ? '(' : named[0]
      seen.add(name)
      i += named[0].length - 1
      continue
    }
    out += ch
  }
  const restore = (message: string) =>
    lacking.reduce((text, original, n) => text.replaceAll(LACKING_CLASS(n), original), message)
  return { source: out, restore }
}

/** Compiles a Prometheus label-matcher regex (fully anchored, RE2 semantics, memoised). */
export function compileMatcherRegex(pattern: string): MatcherRegex {
  const go = goPattern(pattern)
  const re = re2(`^(?:${go.source})$`, go.restore)
  // labels.NewFastRegexMatcher parses the pattern as written too, after compiling it
  // anchored: `)(` compiles as `^(?:)()$` but is refused, with the error of its own text.
  re2(go.source, go.restore)
  const memo = new Map<string, boolean>()
  return {
    test(value: string): boolean {
      let hit = memo.get(value)
      if (hit === undefined) {
        hit = re.matches(value)
        if (memo.size >= MEMO_LIMIT) memo.clear()
        memo.set(value, hit)
      }
      return hit
    },
  }
}

/** Compiles an unanchored RE2 regex (template functions `match`, `reReplaceAll`). */
export function compileRegex(pattern: string, global = false): RegExp {
  const { source, flags } = translateRe2(pattern, false)
  return new RegExp(source, global ? `${flags}g` : flags)
}

function translateEscape(pattern: string, at: number, inClass: boolean): [string, number] {
  const next = pattern[at + 1]
  if (next === undefined) throw new RegexError(`trailing backslash in ${pattern}`)
  switch (next) {
    case 'd':
    case 'D':
    case 'w':
    case 'W':
      return [`\\${next}`, 2]
    case 's':
      return [inClass ? RE2_SPACE : `[${RE2_SPACE}]`, 2]
    case 'S':
      if (inClass) throw new RegexError('unsupported regular expression construct "\\S" inside a class')
      return [`[^${RE2_SPACE}]`, 2]
    case 'b':
    case 'B':
      if (inClass) throw new RegexError(`unsupported regular expression construct "\\${next}" inside a class`)
      return [`\\${next}`, 2]
    case 'A':
      return ['^', 2]
    case 'z':
      return ['$', 2]
    case 'n':
    case 't':
    case 'r':
    case 'f':
    case 'v':
      return [`\\${next}`, 2]
    case 'a':
      return ['\\x07', 2]
    case 'x': {
      const brace = /^\\x\{([0-9A-Fa-f]{1,6})\}/.exec(pattern.slice(at))
      if (brace) return [`\\u{${brace[1]}}`, brace[0].length]
      const two = /^\\x([0-9A-Fa-f]{2})/.exec(pattern.slice(at))
      if (two) return [`\\x${two[1]}`, 4]
      throw new RegexError(`invalid escape \\x in ${pattern}`)
    }
    case 'p':
    case 'P': {
      const m = /^\\[pP](\{\^?([A-Za-z_]+)\}|([A-Za-z]))/.exec(pattern.slice(at))
      if (!m) throw new RegexError(`invalid Unicode class in ${pattern}`)
      const negated = (next === 'P') !== (m[1]?.startsWith('{^') ?? false)
      const name = (m[2] ?? m[3]) as string
      if (!UNICODE_CLASS.test(name)) throw new RegexError(`invalid Unicode class in ${pattern}`)
      if (!GO_UNICODE_CLASSES.has(name)) {
        throw new RegexError(`invalid character class range: \`${m[0]}\``)
      }
      const js = name.length <= 2 ? name : `Script=${name}`
      try {
        new RegExp(`\\p{${js}}`, 'u')
      } catch {
        throw new RegexError(`unsupported Unicode class \\p{${name}}`)
      }
      return [`\\${negated ? 'P' : 'p'}{${js}}`, m[0].length]
    }
    case 'Q': {
      const end = pattern.indexOf('\\E', at + 2)
      const literal = pattern.slice(at + 2, end === -1 ? pattern.length : end)
      const js = [...literal].map((c) => escapeLiteral(c, inClass)).join('')
      return [js, (end === -1 ? pattern.length : end + 2) - at]
    }
    default:
      if (/[0-9]/.test(next)) {
        throw new RegexError(`unsupported regular expression construct "\\${next}" (backreference or octal)`)
      }
      if (/[A-Za-z]/.test(next)) throw new RegexError(`invalid escape \\${next} in ${pattern}`)
      return [escapeLiteral(next, inClass), 2]
  }
}

function translateClass(pattern: string, at: number): [string, number] {
  let i = at + 1
  let out = '['
  if (pattern[i] === '^') {
    out += '^'
    i++
  }
  let first = true
  while (i < pattern.length) {
    const ch = pattern[i] as string
    if (ch === ']' && !first) return [`${out}]`, i + 1 - at]
    first = false
    if (ch === '[' && pattern[i + 1] === ':') {
      const m = /^\[:(\^?)([a-z]+):\]/.exec(pattern.slice(i))
      const ranges = m ? POSIX_CLASSES[m[2] as string] : undefined
      if (!m || ranges === undefined) throw new RegexError(`invalid character class in ${pattern}`)
      if (m[1] === '^') throw new RegexError('unsupported regular expression construct "[:^class:]"')
      out += ranges
      i += m[0].length
      continue
    }
    if (ch === '\\') {
      const [js, len] = translateEscape(pattern, i, true)
      out += js
      i += len
      continue
    }
    if (ch === '-' && pattern[i + 1] !== ']' && out !== '[' && out !== '[^') {
      out += '-'
      i++
      continue
    }
    out += escapeLiteral(ch, true)
    i++
  }
  throw new RegexError(`missing closing ] in ${pattern}`)
}
