/**
 * The Go standard-library string functions Prometheus' template functions are made of, with
 * Go's semantics where JavaScript's differ: `strings.ToUpper`/`ToLower`/`Title` map one rune to
 * one rune (Unicode simple case mapping: "ß" stays "ß", "İ" lowers to "i", "ǆ" titles to "ǅ"),
 * (`strconv.ParseFloat` is ../go-strconv.ts, shared with PromQL), `regexp.ReplaceAllString`
 * (`$name` is the longest word, empty matches right after a match are not replaced) and
 * `net.SplitHostPort`.
 */

/** Go's `unicode.ToUpper` of one code point (simple mapping; JavaScript applies SpecialCasing). */
function upperRune(c: string): string {
  const u = c.toUpperCase()
  if ([...u].length === 1) return u
  // Greek with ypogegrammeni has a one-rune simple uppercase (the titlecase form): the code
  // point in the Greek Extended block that lowercases to it.
  const cp = c.codePointAt(0) as number
  if (cp >= 0x1f80 && cp <= 0x1fff) {
    for (let t = 0x1f80; t <= 0x1fff; t++) {
      const candidate = String.fromCodePoint(t)
      if (t !== cp && candidate.toLowerCase() === c) return candidate
    }
  }
  return c
}

/** Go's `unicode.ToLower` of one code point. */
function lowerRune(c: string): string {
  if (c === '\u0130') return 'i'
  const l = c.toLowerCase()
  return [...l].length === 1 ? l : c
}

/** Go's `unicode.ToTitle`: the upper case, except for the digraphs that have a titlecase form. */
function titleRune(c: string): string {
  const cp = c.codePointAt(0) as number
  if (cp >= 0x1c4 && cp <= 0x1c6) return '\u01c5'
  if (cp >= 0x1c7 && cp <= 0x1c9) return '\u01c8'
  if (cp >= 0x1ca && cp <= 0x1cc) return '\u01cb'
  if (cp >= 0x1f1 && cp <= 0x1f3) return '\u01f2'
  return upperRune(c)
}

/** strings.ToUpper */
export function goToUpper(s: string): string {
  let out = ''
  for (const c of s) out += upperRune(mappedRune(c))
  return out
}

/**
 * What strings.Map hands its function for `c`: a byte that is not UTF-8 (go-bytes.ts' U+DC00 +
 * byte) decodes as utf8.RuneError, which Map writes as U+FFFD; ToUpper and ToLower go through
 * Map as soon as a byte is not ASCII, Title always.
 */
const mappedRune = (c: string) => (c >= '\uDC80' && c <= '\uDCFF' ? '\uFFFD' : c)

/** strings.ToLower */
export function goToLower(s: string): string {
  let out = ''
  for (const c of s) out += lowerRune(mappedRune(c))
  return out
}

/** strings.Title's isSeparator: ASCII non-alphanumerics, and Unicode spaces. */
function isSeparator(c: string): boolean {
  const cp = c.codePointAt(0) as number
  if (cp <= 0x7f) return !/[0-9A-Za-z_]/.test(c)
  if (/[\p{L}\p{Nd}]/u.test(c)) return false
  return /[\s\u0085]/u.test(c)
}

/** strings.Title: the first letter of each word to title case; words split at separators. */
export function goTitle(s: string): string {
  let prev = ' '
  let out = ''
  for (const raw of s) {
    const c = mappedRune(raw)
    out += isSeparator(prev) ? titleRune(c) : c
    prev = c
  }
  return out
}

/** A Go `strconv.NumError` message. */
/**
 * Go's `Regexp.Expand` template syntax: `$$` is "$", `$name`/`${name}` a group by number or
 * name, where a bare name is the longest run of letters, digits and "_" (`$1x` is group "1x",
 * which does not exist and so is empty); a malformed `$` is literal.
 */
function expand(template: string, match: RegExpExecArray): string {
  let out = ''
  let rest = template
  for (;;) {
    const at = rest.indexOf('$')
    if (at < 0) break
    out += rest.slice(0, at)
    rest = rest.slice(at + 1)
    if (rest.startsWith('$')) {
      out += '$'
      rest = rest.slice(1)
      continue
    }
    const m = /^(?:\{([\p{L}\p{Nd}_]+)\}|([\p{L}\p{Nd}_]+))/u.exec(rest)
    if (!m) {
      out += '$'
      continue
    }
    rest = rest.slice(m[0].length)
    const name = (m[1] ?? m[2]) as string
    const num = /^(?:0|[1-9][0-9]{0,7})$/.test(name) ? Number(name) : -1
    if (num >= 0) out += match[num] ?? ''
    else out += match.groups?.[name] ?? ''
  }
  return out + rest
}

/**
 * `Regexp.ReplaceAllString(src, repl)` with `re` (which must have the g flag): leftmost matches,
 * an empty match right after the previous match is not replaced, `repl` expanded as Go does.
 */
export function goReplaceAll(re: RegExp, src: string, repl: string): string {
  let out = ''
  let lastMatchEnd = 0
  let searchPos = 0
  while (searchPos <= src.length) {
    re.lastIndex = searchPos
    const m = re.exec(src)
    if (!m) break
    const start = m.index
    const end = start + m[0].length
    out += src.slice(lastMatchEnd, start)
    if (end > lastMatchEnd || start === 0) out += expand(repl, m)
    lastMatchEnd = end
    const cp = src.codePointAt(searchPos)
    const width = cp !== undefined && cp > 0xffff ? 2 : 1
    if (searchPos + width > end) searchPos += width
    else if (searchPos + 1 > end) searchPos++
    else searchPos = end
  }
  return out + src.slice(lastMatchEnd)
}

/** net.SplitHostPort; returns undefined where Go returns an error. */
export function goSplitHostPort(hostport: string): { host: string; port: string } | undefined {
  const i = hostport.lastIndexOf(':')
  if (i < 0) return undefined
  let host: string
  let j = 0
  let k = 0
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']')
    if (end < 0 || end + 1 === hostport.length || end + 1 !== i) return undefined
    host = hostport.slice(1, end)
    j = 1
    k = end + 1
  } else {
    host = hostport.slice(0, i)
    if (host.includes(':')) return undefined
  }
  if (hostport.slice(j).includes('[') || hostport.slice(k).includes(']')) return undefined
  return { host, port: hostport.slice(i + 1) }
}

/**
 * Go's `regexp.Compile` error text for a pattern JavaScript (or the RE2 translation) refused:
 * `error parsing regexp: <code>: \`<fragment>\``, for the faults with a known Go wording.
 */
export function goRegexpError(pattern: string, message: string): string {
  if (/missing closing \)/i.test(message)) return `error parsing regexp: missing closing ): \`${pattern}\``
  if (/unexpected \)|unmatched '?\)/i.test(message))
    return `error parsing regexp: unexpected ): \`${pattern}\``
  if (/unterminated character class|missing closing \]/i.test(message)) {
    return `error parsing regexp: missing closing ]: \`${pattern.slice(pattern.lastIndexOf('['))}\``
  }
  if (/nothing to repeat/i.test(message)) {
    const op = /(?:^|[^\\])([*+?]|\{[0-9,]+\})/.exec(pattern)?.[1] ?? '*'
    return `error parsing regexp: missing argument to repetition operator: \`${op}\``
  }
  if (/trailing backslash/i.test(message))
    return 'error parsing regexp: trailing backslash at end of expression: ``'
  return `error parsing regexp: ${message}`
}
