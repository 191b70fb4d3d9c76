import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino'
import pretty from 'pino-pretty'
import { SENSITIVE_LOG_KEYS } from './sensitive.ts'

export type { Logger }

/**
 * Paths whose values never reach a log line. Phone numbers and credentials are the
 * data this service must not leak; pino's redaction runs before serialisation. The key
 * names come from the service-wide list (core/sensitive.ts).
 */
export const REDACT_PATHS = [
  ...SENSITIVE_LOG_KEYS,
  ...SENSITIVE_LOG_KEYS.map((key) => `*.${key}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'customer.phone',
  '*.customer.phone',
]

export interface LoggerSettings {
  level: string
  /** Human-readable lines, formatted inside this process (no pipe to another program). */
  pretty: boolean
  name?: string
  /** Write each line synchronously (slower; for runtimes whose exit drops pending writes). */
  sync?: boolean
}

/**
 * Builds the root logger: JSON lines with an ISO-8601 `time`, a string `level`, the
 * component `name` and `msg`, as the original design's formatter had.
 */
export function createLogger(settings: LoggerSettings, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    name: settings.name ?? 'convo-commerce',
    level: settings.level,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    base: undefined,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  }
  if (destination) return pino(options, destination)
  if (settings.pretty) {
    return pino(
      options,
      pretty({ colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'name' }),
    )
  }
  return pino(options, pino.destination({ dest: 1, sync: settings.sync ?? false }))
}

/**
 * Resolves once every line logged so far has been written (or after `timeoutMs`). Call it
 * before process.exit: pino's asynchronous destination may still hold the last lines.
 */
export function flushLogs(log: Logger, timeoutMs = 1000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs)
    log.flush(() => {
      clearTimeout(timer)
      resolve()
    })
  })
}
