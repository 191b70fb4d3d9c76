/** `bun run db:migrate`: applies the committed migrations to the configured database, then exits. */
import { type Config, ConfigError, loadConfig } from '../config.ts'
import { createLogger, flushLogs } from '../core/logger.ts'
import { scrubText } from '../core/scrub.ts'
import { databaseConnectionProblem, databaseOpenProblem, openMigratedDatabase } from './open.ts'

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
  // One line, as the server's start-up says it: a setting or an outage with its cause; anything
  // else where the database was, then the driver's reason, without any URL password it quotes.
  const problem =
    databaseConnectionProblem(config.database, error) ??
    `${databaseOpenProblem(config.database, error)} — ${scrubText(String((error as Error).message ?? error))}`
  console.error(`db:migrate: ${problem}`)
  process.exit(1)
}
