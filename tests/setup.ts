// Preloaded by bunfig.toml before every test file.
import { afterAll } from 'bun:test'
import { closeSharedDatabase, sharedDatabase } from './helpers/db.ts'
import { skipReport } from './helpers/skips.ts'

// Elysia fixes its production/development behaviour when first imported; pin it to test.
process.env.NODE_ENV = 'test'

// The shared database (PGlite takes a second or more to start) is opened here, outside any
// test's timeout. Test files that start processes or fresh databases raise their own timeout
// with setDefaultTimeout: bun 1.4 ignores a bunfig `timeout` and applies a preload's
// setDefaultTimeout to the first file only.
await sharedDatabase()

// Drops the shared PostgreSQL test database (or frees PGlite) once the whole run ends.
afterAll(closeSharedDatabase)

// Which tests skipped and why, after the last file (bun's summary only counts them).
afterAll(() => {
  const report = skipReport()
  if (report) console.log(report)
})
