import pino, { type DestinationStream, type Level, type Logger, type LoggerOptions } from 'pino'
import pretty from 'pino-pretty'
import { createLogDestination, type LineSink } from './log-destination.ts'
import { scrubDeep } from './scrub.ts'
import { SENSITIVE_LOG_KEYS } from './sensitive.ts'

export type { Logger }
export {
  createLogDestination,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_WRITE_DELAY_MS,
  type LineSink,
  type LogDestination,
  type LogDestinationOptions,
} from './log-destination.ts'

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

/** The own properties in which database drivers hand a failed statement's parameters back. */
const STATEMENT_PARAMETER_KEYS = ['params', 'parameters'] as const

/**
 * pino's `err` serializer (pino-std-serializers `err`: type, message with its causes', stack
 * with its causes', own enumerable properties), minus what a failure carries of the customer:
 *
 * - a statement's parameters, as own properties and as the message line drizzle-orm's
 *   `DrizzleQueryError` quotes them in (`Failed query: …\nparams: +2547…,Jane`): values a
 *   request sent (phone numbers, names, key hashes), where REDACT_PATHS, which matches key
 *   names, cannot see them;
 * - then phone numbers and credentials in every remaining string (a constraint violation's
 *   `detail`, `Key (phone)=(…)`), and the password of any URL quoted
 *   (`postgres://user:password@host`), as the Sentry scrubber does (core/scrub.ts `scrubDeep`).
 *
 * Only error lines pay for it.
 */
export function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err
  const out = pino.stdSerializers.err(err) as unknown as Record<string, unknown>
  const own = err as unknown as Record<string, unknown>
  for (const key of STATEMENT_PARAMETER_KEYS) {
    if (!(key in own)) continue
    delete out[key]
    const quoted = `\nparams: ${String(own[key])}`
    for (const field of ['message', 'stack'] as const) {
      const text = out[field]
      if (typeof text === 'string') out[field] = text.replace(quoted, '\nparams: [redacted]')
    }
  }
  return scrubDeep(out)
}

export interface LoggerSettings {
  level: string
  /** Human-readable lines, formatted inside this process (no pipe to another program). */
  pretty: boolean
  name?: string
  /** Write each line synchronously (slower; for runtimes whose exit drops pending writes). */
  sync?: boolean
  /** Bound of the asynchronous stdout buffer, in bytes (DEFAULT_MAX_BUFFERED_BYTES). */
  maxBufferedBytes?: number
}

/** pino's options for the root logger (createLogger adds the destination and the fast path). */
export function loggerOptions(settings: Pick<LoggerSettings, 'level' | 'name'>): LoggerOptions {
  return {
    name: settings.name ?? 'convo-commerce',
    level: settings.level,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    base: undefined,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: serializeError },
  }
}

/**
 * Builds the root logger: JSON lines with an ISO-8601 `time`, a string `level`, the
 * component `name` and `msg`, as the original design's formatter had.
 */
export function createLogger(settings: LoggerSettings, destination?: DestinationStream): Logger {
  const options = loggerOptions(settings)
  const stream =
    destination ??
    (settings.pretty
      ? prettyDestination()
      : createLogDestination({
          fd: 1,
          sync: settings.sync,
          maxBufferedBytes: settings.maxBufferedBytes,
          name: options.name,
        }))
  return withPrimitiveFastPath(pino(options, stream))
}

type Stringifier = (value: unknown, stringifySafe?: unknown) => string | undefined

/**
 * Serialises strings, finite numbers and booleans without pino's wildcard redactor.
 *
 * Why: with `*.key` paths in REDACT_PATHS, pino 10 hands every field of every line and every
 * child binding to the wildcard redactor of `@pinojs/redact` 0.4, which clones the value and
 * re-parses all ~25 paths on each call, even for a string (pino sets `strict: false`): a
 * request's two children (ids, then tenant) cost 2.8 µs that way and 0.9 µs with this path.
 * A nested path can match nothing inside a primitive, and the top-level keys (`apiKey`, …)
 * keep their own censor, which pino consults before the wildcard one
 * (`stringifiers[key] || wildcardStringifier`, `pino/lib/tools.js`),
 * so the output is unchanged; objects, arrays and everything else still go through the
 * redactor. Installed through `pino.symbols`, pino's published integration hook; if a future
 * pino drops the wildcard stringifier, the logger is returned as it is.
 */
export function withPrimitiveFastPath(logger: Logger): Logger {
  const { stringifiersSym, wildcardFirstSym } = pino.symbols
  const stringifiers = (logger as unknown as Record<symbol, Record<symbol, Stringifier> | undefined>)[
    stringifiersSym
  ]
  const redactor = stringifiers?.[wildcardFirstSym]
  if (typeof redactor !== 'function') return logger
  stringifiers![wildcardFirstSym] = (value, stringifySafe) =>
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
      ? JSON.stringify(value)
      : redactor(value, stringifySafe)
  return logger
}

/**
 * Writes log lines whose fields are fixed by the caller, with the logger's own `level`,
 * `time`, bindings (`name`, a child's bindings) and `msg`, in pino's field order, straight
 * to the logger's destination. For the one line per request: pino's per-call work (the
 * redaction of REDACT_PATHS, object serialisation) costs several µs, and the fields of such
 * a line (numbers, route templates, ids checked against a safe alphabet) can carry neither a
 * phone number nor a credential, which is the caller's obligation.
 *
 * A line is `begin()`, its fields through `text`, `integer` and `decimal`, then `end()`, in one
 * synchronous run. On a LogDestination the pieces are encoded straight into its buffer (see
 * LineSink for why); on any other pino destination they are joined into one string.
 */
export interface FixedLineWriter {
  /** Whether the logger's level currently lets `level` lines through. */
  enabled(): boolean
  /**
   * Starts a line: `{"level":…,"time":"…"`, the logger's bindings and the writer's `lead`.
   * `timeMs` is the line's time in wall-clock milliseconds when the caller has read the clock
   * already (the access line takes its request's exemplar timestamp); default `Date.now()`.
   */
  begin(timeMs?: number): void
  /**
   * Appends JSON text of the fields between the bindings and `msg`, each field preceded by a
   * comma (`,"status":200`), in as many pieces as suits the caller; no escaping is done.
   */
  text(json: string): void
  /** Appends a non-negative integer (as JSON writes it; other numbers too, less cheaply). */
  integer(value: number): void
  /** Appends `value` rounded to three decimals, exactly as JSON writes `Math.round(value * 1000) / 1000`. */
  decimal(value: number): void
  /** Ends the line with `,"msg":…}` and a newline; it is written with the destination's next batch. */
  end(): void
  /** A whole line in one call: `fields` as for `text`, e.g. `,"status":200,"route":"/orders"`. */
  write(fields: string): void
}

/** A LineSink that joins the pieces into one string, for destinations that take strings only. */
function stringLineSink(stream: { write(line: string): void }): LineSink {
  let line = ''
  return {
    beginLine() {
      line = ''
    },
    appendText(text) {
      line += text
    },
    appendInteger(value) {
      line += String(value)
    },
    appendThousandths(thousandths) {
      line += String(thousandths / 1000)
    },
    endLine() {
      stream.write(line)
      line = ''
    },
  }
}

function isLineSink(stream: object): stream is LineSink {
  return typeof (stream as Partial<LineSink>).beginLine === 'function'
}

/**
 * A FixedLineWriter for `level` lines with message `msg` on `log` (see there). `lead` is JSON
 * text every line starts its fields with (the first field's name and opening quote, e.g.
 * `,"requestId":"`): it is part of the line's start, cached per millisecond, so it costs no
 * append of its own.
 */
export function fixedLineWriter(log: Logger, level: Level, msg: string, lead = ''): FixedLineWriter {
  const stream = (log as unknown as Record<symbol, { write(line: string): void }>)[pino.symbols.streamSym]!
  const sink = isLineSink(stream) ? stream : stringLineSink(stream)
  const bindings = (log as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] ?? ''
  const tail = `,"msg":${JSON.stringify(msg)}}\n`
  // Many lines share a millisecond under load; formatting the time is the costliest part, so
  // the line's whole start (level, time, bindings) is one string per millisecond.
  let lastMs = -1
  let head = ''
  const writer: FixedLineWriter = {
    enabled: () => log.isLevelEnabled(level),
    begin(timeMs) {
      const ms = timeMs ?? Date.now()
      if (ms !== lastMs) {
        lastMs = ms
        head = `{"level":${JSON.stringify(level)},"time":"${new Date(ms).toISOString()}"${bindings}${lead}`
      }
      sink.beginLine()
      sink.appendText(head)
    },
    text: (json) => sink.appendText(json),
    integer: (value) => sink.appendInteger(value),
    // One call into the sink with the digits computed there: the fraction used to be one of
    // 999 cached strings, which in a served process is cold memory by the time the next
    // request reads it (its cell, its substring, the base string it slices): 0.45 µs of the
    // access line's 1.1 (median in place, GET /products/:id on PostgreSQL under wrk),
    // against 0.03 in a loop.
    decimal: (value) => sink.appendThousandths(Math.round(value * 1000)),
    end() {
      sink.appendText(tail)
      sink.endLine()
    },
    write(fields) {
      writer.begin()
      sink.appendText(fields)
      writer.end()
    },
  }
  return writer
}

/** Log lines that carry a WhatsApp message the log transport wrote instead of sending it. */
interface LogTransportLine {
  transport?: unknown
  recipientMasked?: unknown
  message?: unknown
}

/** A serialized `err` as serializeError writes it. */
interface SerializedError {
  type?: unknown
  code?: unknown
  message?: unknown
  stack?: unknown
}

const CAUSED_BY = 'caused by: '

/**
 * An error in one line for development logs: `ProviderError PROVIDER_ERROR: message (at
 * src/payments/service.ts:120:15)`, the frame the first of the project's own (not a
 * dependency's). An error of the service's vocabulary (a string `code`) is expected and says
 * enough so; any other (a TypeError, a driver's) keeps its whole stack on the lines below.
 * Causes follow as `caused by: …` lines (a failed query's database error) in both cases.
 */
export function compactError(err: SerializedError): string {
  const stack = typeof err.stack === 'string' ? err.stack.split('\n') : []
  const frames = stack.filter((line) => /^\s+at /.test(line))
  // pino writes each cause into the stack as `caused by: Type: message`: for a failed query
  // that is the database's own words (`relation "x" does not exist`), the line that matters.
  const causes = stack.filter((line) => line.startsWith(CAUSED_BY))
  // Not a dependency's, and not the runtime's own (`at <parse> (:0)`, `at parse (unknown)`).
  const own = frames.find((line) => !/node_modules|\(native\)|\(unknown\)|\(:0\)$/.test(line)) ?? frames[0]
  const where = own
    ?.trim()
    .replace(/^at /, '')
    .replace(/^.*\((.*)\)$/, '$1')
  const code = typeof err.code === 'string' || typeof err.code === 'number' ? ` ${err.code}` : ''
  const message = String(err.message ?? '').split('\n')[0]
  const head = `${String(err.type ?? 'Error')}${code}: ${message}${where ? ` (at ${where})` : ''}`
  return (typeof err.code === 'string' && /^[A-Z][A-Z_]+$/.test(err.code)) || frames.length === 0
    ? [head, ...causes.map((line) => `  ${line}`)].join('\n')
    : `${head}\n${stack.filter((line) => /^\s+at /.test(line) || line.startsWith(CAUSED_BY)).join('\n')}`
}

/**
 * Development logs: one line per entry, so that a request is one line instead of about seven;
 * an error is part of its line (compactError), not a 45-line object; the WhatsApp messages of
 * the log transport are printed whole, in a frame, so that an alert stands out among the
 * request lines.
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
      const line = log as LogTransportLine & { err?: unknown }
      let msg = String(log[messageKey] ?? '')
      if (line.err !== null && typeof line.err === 'object') {
        msg = `${msg} — ${compactError(line.err as SerializedError)}`
        // pino-pretty prints the remaining fields after this text; the error is shown here.
        delete line.err
      }
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
 * before process.exit: an asynchronous destination may still hold the last lines.
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
