// Preloaded by bunfig.toml before every test file.
import { afterAll, setDefaultTimeout } from 'bun:test'
import { closeSharedDatabase } from './helpers/db.ts'

// Elysia fixes its production/development behaviour when first imported; pin it to test.
process.env.NODE_ENV = 'test'

// Real PostgreSQL, PGlite start-up (about a second) and spawned server processes need more
// than bun's 5 s default. (Bun 1.4 ignores a `timeout` key in bunfig.toml, so it is set here.)
setDefaultTimeout(30_000)

// Drops the shared PostgreSQL test database (or frees PGlite) once the whole run ends.
afterAll(closeSharedDatabase)
