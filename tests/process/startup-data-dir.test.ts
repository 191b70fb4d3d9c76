import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { failedStart } from '../helpers/process.ts'

// Starts real processes: well over bun's 5 s default.
setDefaultTimeout(60_000)

/** A production start on the embedded database in `dataDir`, expected to fail. */
async function failedDataDirStart(dataDir: string) {
  const { exitCode, stderr, failures } = await failedStart(['bun', 'src/server.ts'], {
    DATABASE_URL: '',
    DATA_DIR: dataDir,
  })
  return { exitCode, stderr, failures }
}

const remedy = 'set DATA_DIR to one that is, or set DATABASE_URL for PostgreSQL'

describe('a DATA_DIR the embedded database cannot use: one line naming DATA_DIR and the remedy, exit 1, no stack', () => {
  // Before, each was the `fatal` line "cannot open the embedded database in DATA_DIR …" with the
  // mkdir error's stack under `err`: neither said that DATA_DIR was the setting to change.
  test('a file where the folder should be, a file on its path, a parent that cannot be made', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cc-datadir-'))
    try {
      const file = join(root, 'not-a-folder')
      writeFileSync(file, 'x')
      const cases: Array<[string, string]> = [
        [file, `EEXIST: file already exists, mkdir '${file}'`],
        [join(file, 'data'), `ENOTDIR: not a directory, mkdir '${join(file, 'data')}'`],
        ['/proc/no-such-folder', "ENOENT: no such file or directory, mkdir '/proc/no-such-folder'"],
      ]
      for (const [dir, cause] of cases) {
        expect(await failedDataDirStart(dir)).toEqual({
          exitCode: 1,
          stderr: '',
          failures: [
            {
              level: 'fatal',
              time: expect.any(String),
              name: 'convo-commerce',
              msg: `cannot open the embedded database: DATA_DIR ${dir} is not a folder this process can create and write (${cause}): ${remedy}`,
            },
          ],
        })
      }
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})
