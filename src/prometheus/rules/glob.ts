import { lstatSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** Go's `filepath.ErrBadPattern`, thrown for a malformed pattern. */
export class GlobPatternError extends Error {
  constructor() {
    super('syntax error in pattern')
    this.name = 'GlobPatternError'
  }
}

/** What `glob` treats as a pattern rather than a plain path (Go's `hasMeta` on Unix). */
export function hasMeta(path: string): boolean {
  return /[*?[\\]/.test(path)
}

/**
 * Go 1.19's `filepath.Glob` on Unix, which Prometheus applies to `rule_files` and promtool to a
 * test file's `rule_files` (path/filepath/match.go): `*`, `?` and `[...]` classes (`^` negates,
 * `lo-hi` ranges) within a path segment, `\` escaping the next character; matches sorted per
 * folder; no match is an empty list. A pattern without meta characters is returned when the
 * path exists (`os.Lstat`).
 *
 * @throws GlobPatternError for a malformed pattern (`[`, `[]`, `[z-`, a trailing `\`), checked
 *   before anything is read, as Go 1.19 does.
 */
export function glob(pattern: string): string[] {
  return globWithLimit(pattern, 0)
}

/** Go's `filepath.Match`: whether all of `name` matches `pattern`. @throws GlobPatternError */
export function match(pattern: string, name: string): boolean {
  let rest = pattern
  chunks: while (rest.length > 0) {
    const { star, chunk, after } = scanChunk(rest)
    rest = after
    if (star && chunk === '') return !name.includes('/')
    const here = matchChunk(chunk, name)
    if (here !== undefined && (here.length === 0 || rest.length > 0)) {
      name = here
      continue
    }
    if (star) {
      for (let i = 0; i < name.length && name[i] !== '/'; i++) {
        const t = matchChunk(chunk, name.slice(i + 1))
        if (t !== undefined) {
          if (rest.length === 0 && t.length > 0) continue
          name = t
          continue chunks
        }
      }
    }
    // Before answering no, the rest of the pattern must still be well-formed.
    while (rest.length > 0) {
      const next = scanChunk(rest)
      rest = next.after
      matchChunk(next.chunk, '')
    }
    return false
  }
  return name.length === 0
}

/** scanChunk: the next run of non-`*` terms, and whether stars came before it. */
function scanChunk(pattern: string): { star: boolean; chunk: string; after: string } {
  let star = false
  while (pattern.startsWith('*')) {
    pattern = pattern.slice(1)
    star = true
  }
  let inRange = false
  let i = 0
  scan: for (; i < pattern.length; i++) {
    switch (pattern[i]) {
      case '\\':
        if (i + 1 < pattern.length) i++
        break
      case '[':
        inRange = true
        break
      case ']':
        inRange = false
        break
      case '*':
        if (!inRange) break scan
    }
  }
  return { star, chunk: pattern.slice(0, i), after: pattern.slice(i) }
}

/**
 * matchChunk: what is left of `s` once `chunk` matched its start, or undefined. After a failed
 * match the chunk is still read through, so that a malformed one throws whatever `s` is.
 */
function matchChunk(chunk: string, s: string): string | undefined {
  let failed = false
  let c = chunk
  while (c.length > 0) {
    if (!failed && s.length === 0) failed = true
    const head = c[0]
    if (head === '[') {
      let r = -1
      if (!failed) {
        r = s.codePointAt(0) as number
        s = s.slice(r > 0xffff ? 2 : 1)
      }
      c = c.slice(1)
      let negated = false
      if (c.startsWith('^')) {
        negated = true
        c = c.slice(1)
      }
      let matched = false
      let ranges = 0
      for (;;) {
        if (c.startsWith(']') && ranges > 0) {
          c = c.slice(1)
          break
        }
        const lo = classChar(c)
        c = lo.rest
        let hi = lo.code
        if (c.startsWith('-')) {
          const high = classChar(c.slice(1))
          hi = high.code
          c = high.rest
        }
        if (lo.code <= r && r <= hi) matched = true
        ranges++
      }
      if (matched === negated) failed = true
    } else if (head === '?') {
      if (!failed) {
        if (s[0] === '/') failed = true
        const code = s.codePointAt(0) as number
        s = s.slice(code > 0xffff ? 2 : 1)
      }
      c = c.slice(1)
    } else {
      if (head === '\\') {
        c = c.slice(1)
        if (c.length === 0) throw new GlobPatternError()
      }
      if (!failed) {
        if (c[0] !== s[0]) failed = true
        s = s.slice(1)
      }
      c = c.slice(1)
    }
  }
  return failed ? undefined : s
}

/** getEsc: a possibly escaped character of a class, and the chunk after it. */
function classChar(chunk: string): { code: number; rest: string } {
  if (chunk.length === 0 || chunk[0] === '-' || chunk[0] === ']') throw new GlobPatternError()
  let c = chunk
  if (c[0] === '\\') {
    c = c.slice(1)
    if (c.length === 0) throw new GlobPatternError()
  }
  const code = c.codePointAt(0) as number
  const rest = c.slice(code > 0xffff ? 2 : 1)
  if (rest.length === 0) throw new GlobPatternError()
  return { code, rest }
}

/** Go's Glob beyond the pattern check: a folder pattern is globbed first (at most 10 000 deep). */
function globWithLimit(pattern: string, depth: number): string[] {
  if (depth === 10_000) throw new GlobPatternError()
  match(pattern, '')
  if (!hasMeta(pattern)) {
    try {
      lstatSync(pattern)
      return [pattern]
    } catch {
      return []
    }
  }
  const slash = pattern.lastIndexOf('/')
  const file = pattern.slice(slash + 1)
  // cleanGlobPath: no folder is `.`, the root stays, any other loses its trailing slash.
  const dir = slash < 0 ? '.' : slash === 0 ? '/' : pattern.slice(0, slash)
  if (!hasMeta(dir)) return globIn(dir, file, [])
  if (dir === pattern) throw new GlobPatternError()
  let matches: string[] = []
  for (const d of globWithLimit(dir, depth + 1)) matches = globIn(d, file, matches)
  return matches
}

/** Go's `glob`: the names of folder `dir` that match, sorted, appended to `matches`. */
function globIn(dir: string, pattern: string, matches: string[]): string[] {
  let names: string[]
  try {
    if (!statSync(dir).isDirectory()) return matches
    names = readdirSync(dir)
  } catch {
    return matches
  }
  // Go sorts names as byte strings; JavaScript's default sort compares UTF-16 code units,
  // which orders the same for every character below U+10000.
  names.sort()
  for (const name of names) if (match(pattern, name)) matches.push(join(dir, name))
  return matches
}
