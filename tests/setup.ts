// Preloaded by bunfig.toml before every test file.
import { afterAll } from 'bun:test'
import { closeSharedDatabase } from './helpers/db.ts'

// Elysia fixes its production/development behaviour when first imported; pin it to test.
process.env.NODE_ENV = 'test'

// Drops the shared PostgreSQL test database (or frees PGlite) once the whole run ends.
afterAll(closeSharedDatabase)
