import { readdirSync, statSync } from 'node:fs'
import { isAbsolute, join, sep } from 'node:path'

/**
 * Go's `filepath.Glob`, which Prometheus applies to `rule_files` and promtool to a test file's
 * `rule_files`: wildcards (`*`, `?`, `[...]`) in any path segment, never across a separator;
 * matches sorted per folder; no match is an empty list (not an error). A pattern without
 * wildcards is returned when the file exists.
 */
export function glob(pattern: string): string[] {
  if (!/[*?[]/.test(pattern)) {
    try {
      statSync(pattern)
      return [pattern]
    } catch {
      return []
    }
  }
  const absolute = isAbsolute(pattern)
  const parts = pattern.split(sep).filter((p, i) => p !== '' || i === 0)
  let current = [absolute ? sep : '']
  for (const part of parts) {
    if (part === '') continue
    const next: string[] = []
    for (const base of current) {
      if (!/[*?[]/.test(part)) {
        next.push(base === '' ? part : join(base, part))
        continue
      }
      const re = new RegExp(
        `^${part
          .replace(/[.+^${}()|\\]/g, '\\$&')
          .replace(/\*/g, '[^/]*')
          .replace(/\?/g, '[^/]')}$`,
      )
      let entries: string[] = []
      try {
        entries = readdirSync(base === '' ? '.' : base).sort()
      } catch {
        entries = []
      }
      for (const entry of entries) if (re.test(entry)) next.push(base === '' ? entry : join(base, entry))
    }
    current = next
  }
  return current.filter((p) => {
    try {
      statSync(p)
      return true
    } catch {
      return false
    }
  })
}
