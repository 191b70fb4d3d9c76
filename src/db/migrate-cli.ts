/** `bun run db:migrate`: applies the committed migrations to the configured database, then exits. */
import { ConfigError, loadConfig } from '../config.ts'
import { createLogger, flushLogs } from '../core/logger.ts'
import { openMigratedDatabase } from './open.ts'

try {
  const config = loadConfig(process.env)
  const log = createLogger({ level: config.logLevel, pretty: config.env === 'development' })
  const handle = await openMigratedDatabase(config.database, log)
  await handle.close()
  await flushLogs(log)
} catch (error) {
  console.error(error instanceof ConfigError ? `config error: ${error.message}` : error)
  process.exit(1)
}
