/** `bun run db:migrate`: applies the committed migrations to the configured database, then exits. */
import { type Config, ConfigError, loadConfig } from '../config.ts'
import { createLogger, flushLogs } from '../core/logger.ts'
import { databaseOpenProblem, openMigratedDatabase } from './open.ts'

let config: Config
try {
  config = loadConfig(process.env)
} catch (error) {
  console.error(error instanceof ConfigError ? `config error: ${error.message}` : error)
  process.exit(1)
}
const log = createLogger({ level: config.logLevel, pretty: config.env === 'development' })
try {
  const handle = await openMigratedDatabase(config.database, log)
  await handle.close()
  await flushLogs(log)
} catch (error) {
  // One line, as the server's start-up says it: where the database was, then the driver's reason.
  console.error(
    `db:migrate: ${databaseOpenProblem(config.database, error)} — ${(error as Error).message ?? error}`,
  )
  process.exit(1)
}
