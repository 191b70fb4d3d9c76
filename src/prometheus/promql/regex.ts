import { RE2JS, RE2JSException } from 're2js'
import { goExpand } from './functions.ts'
import { GO_UNICODE_CLASSES, unicodeClassAt } from './go-unicode.ts'

/**
 * Go's `regexp` (RE2) for PromQL and the templates, on re2js: label matchers, label_replace
 * and the template functions `match` and `reReplaceAll` all read a pattern as Prometheus
 * 2.42 does, and refuse what it refuses with Go's message.
 */

export class RegexError extends Error {}

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
const TRAILING_BACKSLASH = 'trailing backslash at end of expression'

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
      const message = err.message.endsWith(NESTS_TOO_DEEPLY)
        ? `${err.message}: \`${source}\``
        : // Go's ErrTrailingBackslash carries an empty expression, printed as ": ``"; re2js' none.
          err.message.endsWith(TRAILING_BACKSLASH)
          ? `${err.message}: \`\``
          : err.message
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

/** An unanchored Go `*regexp.Regexp`, for the template functions `match` and `reReplaceAll`. */
export interface GoRegexp {
  /** `Regexp.MatchString`: whether `text` holds a match anywhere. */
  matchString(text: string): boolean
  /** `Regexp.ReplaceAllString`: every leftmost match replaced by `repl` expanded (`$1`, `${name}`). */
  replaceAllString(src: string, repl: string): string
}

/**
 * Compiles `pattern` as Go's `regexp.Compile` does (RE2 through re2js, with the Go 1.19
 * differences goPattern mirrors), unanchored: the templates' `match` and `reReplaceAll` use
 * Go's `regexp` itself, so every construct it accepts must work there too (`(?i:…)`, `(?U)`,
 * `[\S]`, `[[:^alpha:]]`, `[\d-z]`), which a translation to JavaScript RegExp refused.
 * Throws `RegexError` with Go's message (`error parsing regexp: …`) for a pattern Go refuses.
 */
export function compileGoRegexp(pattern: string): GoRegexp {
  const go = goPattern(pattern)
  const re = re2(go.source, go.restore)
  const groups = re.groupCount()
  const named = re.namedGroups()
  return {
    matchString: (text) => re.matcher(text).find(),
    replaceAllString: (src, repl) => {
      // regexp.go `replaceAll`: an empty match right after the previous match is not
      // replaced, and the search always moves on by at least one character.
      const m = re.matcher(src)
      let out = ''
      let lastMatchEnd = 0
      let searchPos = 0
      while (searchPos <= src.length && m.find(searchPos)) {
        const start = m.start()
        const end = m.end()
        out += src.slice(lastMatchEnd, start)
        if (end > lastMatchEnd || start === 0) {
          out += goExpand(repl, (name) => {
            if (typeof name === 'number') return name <= groups ? (m.group(name) ?? '') : undefined
            return Object.hasOwn(named, name) ? (m.group(name) ?? '') : undefined
          })
        }
        lastMatchEnd = end
        const cp = src.codePointAt(searchPos)
        const width = cp !== undefined && cp > 0xffff ? 2 : 1
        if (searchPos + width > end) searchPos += width
        else if (searchPos + 1 > end) searchPos++
        else searchPos = end
      }
      return out + src.slice(lastMatchEnd)
    },
  }
}
