/** `bun run db:migrate`: applies the committed migrations to the configured database, then exits. */
import { type Config, ConfigError, loadConfig } from '../config.ts'
import { createLogger, flushLogs } from '../core/logger.ts'
import { databaseFailureLine, openMigratedDatabase } from './open.ts'

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
  console.error(`db:migrate: ${databaseFailureLine(config.database, error)}`)
  process.exit(1)
}
