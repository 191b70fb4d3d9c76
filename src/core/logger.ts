import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino'
import pretty from 'pino-pretty'

export type { Logger }

/**
 * Paths whose values never reach a log line. Phone numbers and credentials are the
 * data this service must not leak; pino's redaction runs before serialisation.
 */
export const REDACT_PATHS = [
  'apiKey',
  'token',
  'authorization',
  'password',
  'secret',
  'phone',
  'ownerPhone',
  'alertPhones',
  'recipient',
  '*.apiKey',
  '*.token',
  '*.authorization',
  '*.password',
  '*.secret',
  '*.phone',
  '*.ownerPhone',
  '*.alertPhones',
  '*.recipient',
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
  if (settings.pretty) return pino(options, prettyDestination())
  return pino(options, pino.destination({ dest: 1, sync: settings.sync ?? false }))
}

/** Log lines that carry a WhatsApp message the log transport wrote instead of sending it. */
interface LogTransportLine {
  transport?: unknown
  recipientMasked?: unknown
  message?: unknown
}

/**
 * Development logs: one line per entry, so that a request is one line instead of about seven;
 * the WhatsApp messages of the log transport are printed whole, in a frame, so that an alert
 * stands out among the request lines.
 */
export function prettyDestination(options: { colorize?: boolean; destination?: DestinationStream } = {}) {
  return pretty({
    colorize: options.colorize ?? true,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'name',
    singleLine: true,
    ...(options.destination ? { destination: options.destination } : {}),
    messageFormat(log, messageKey, _level, { colors }) {
      const line = log as LogTransportLine
      const msg = String(log[messageKey] ?? '')
      if (line.transport !== 'log' || line.message === undefined) return msg
      const body = typeof line.message === 'string' ? line.message : JSON.stringify(line.message, null, 2)
      // pino-pretty prints the remaining fields after this text; the message is shown here.
      delete line.message
      const frame = '━'.repeat(60)
      const framed = [
        `📱 ${msg} → ${String(line.recipientMasked ?? '')}`,
        frame,
        ...body.split('\n').map((text) => `┃ ${text}`),
        frame,
      ]
      return `\n${framed.map((text) => colors.bold(colors.yellow(text))).join('\n')}\n`
    },
  })
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
