import { readFileSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'

const SHA = /^[0-9a-f]{40}$/

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch {
    return undefined
  }
}

/**
 * The commit checked out in `dir`, read from `.git` without running git (which the
 * container image does not have); undefined when there is no repository. Handles worktrees
 * (`.git` is a file pointing elsewhere) and packed refs.
 */
export function readGitCommit(dir: string): string | undefined {
  let gitDir = join(dir, '.git')
  try {
    if (statSync(gitDir).isFile()) {
      const pointer = read(gitDir)?.match(/^gitdir:\s*(.+)$/)?.[1]
      if (!pointer) return undefined
      gitDir = resolve(dir, pointer)
    }
  } catch {
    return undefined
  }
  const common = read(join(gitDir, 'commondir'))
  const commonDir = common ? resolve(gitDir, common) : gitDir
  const head = read(join(gitDir, 'HEAD'))
  if (!head) return undefined
  if (SHA.test(head)) return head
  const ref = head.match(/^ref:\s*(\S+)$/)?.[1]
  if (!ref) return undefined
  const loose = read(join(gitDir, ref)) ?? read(join(commonDir, ref))
  if (loose && SHA.test(loose)) return loose
  for (const line of (read(join(commonDir, 'packed-refs')) ?? '').split('\n')) {
    const [sha, name] = line.split(' ')
    if (name === ref && sha && SHA.test(sha)) return sha
  }
  return undefined
}
