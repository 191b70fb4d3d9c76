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
