import { fstatSync, openSync, write as writeAsync, writeSync } from 'node:fs'
import pino, { type DestinationStream, type Level, type Logger, type LoggerOptions } from 'pino'
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

/**
 * Default bound of what an asynchronous destination holds while its writes are in flight:
 * 4 Mi UTF-16 code units (at most 8 MiB), about 20 000 access-log lines, or a second of
 * lines at the rates a single process serves.
 */
export const DEFAULT_MAX_BUFFERED_CHARS = 4 * 1024 * 1024

export interface LoggerSettings {
  level: string
  /** Human-readable lines, formatted inside this process (no pipe to another program). */
  pretty: boolean
  name?: string
  /** Write each line synchronously (slower; for runtimes whose exit drops pending writes). */
  sync?: boolean
  /** Bound of the asynchronous stdout buffer, in UTF-16 code units (DEFAULT_MAX_BUFFERED_CHARS). */
  maxBufferedChars?: number
}

export interface LogDestinationOptions {
  /** File descriptor to write to (1 = standard output) when `path` is not given. */
  fd?: number
  /** File to append to; opened once, synchronously. */
  path?: string
  /** One write(2) per line, on the caller's stack; nothing is ever buffered or dropped. */
  sync?: boolean
  /** Most characters held while a write is in flight; lines beyond are dropped and counted. */
  maxBufferedChars?: number
  /** `name` of the line that reports dropped lines (the logger's name). */
  name?: string
  /**
   * Longest a queued line waits for its write, in milliseconds (default
   * DEFAULT_WRITE_DELAY_MS), unless `writeChunkChars` fill up first.
   */
  writeDelayMs?: number
  /** Queued characters that are written at the end of the event-loop turn without waiting (default 64 Ki). */
  writeChunkChars?: number
}

/**
 * How long a log line may wait to be written together with the next ones. An asynchronous
 * write(2) costs about 17 µs of CPU (the thread-pool hand-off and its callback), which at one
 * write per event-loop turn (about 20 lines under load) was close to a microsecond per
 * request; five milliseconds gather a few hundred lines into one write at the same rates,
 * and no reader of logs notices the delay.
 */
export const DEFAULT_WRITE_DELAY_MS = 5
/**
 * Queued characters that leave at the end of the event-loop turn without waiting for the
 * delay: about 250 access lines. Per line, an asynchronous batch of 64 lines cost 0.64 µs of
 * CPU and one of 256 lines 0.33-0.45 µs (the write's fixed cost spread over more lines);
 * at 60 000 requests per second that is still a write every 4 ms.
 */
const DEFAULT_WRITE_CHUNK_CHARS = 64 * 1024

/**
 * A pino destination that writes in batches and never holds more than a bounded amount; to a
 * pipe, terminal or socket the batches are written asynchronously, to a regular file on the
 * spot (see createLogDestination).
 *
 * Lines are queued as they are (an array push, no concatenation or byte counting per line,
 * unlike sonic-boom, whose per-line `Buffer.byteLength` of the growing chunk made its cost and
 * its garbage grow with the backlog); queued lines leave as one write `writeDelayMs` after the
 * first of them, or at the end of the event-loop turn once `writeChunkChars` are queued (as
 * sonic-boom's `minLength` gathers writes), and lines logged while a write is in flight leave
 * as one write once it completes. When the destination cannot keep up
 * (a slow pipe, a full disk) and the queue reaches `maxBufferedChars`, further lines are
 * dropped and counted in `dropped`, so a log flood costs a bounded amount of memory instead
 * of growing the heap until the process dies; the next line written after the backlog clears
 * says how many were lost.
 */
export interface LogDestination extends DestinationStream {
  write(line: string): void
  /** Calls `done` once every line accepted so far has been written. */
  flush(done?: (error?: Error) => void): void
  /** Writes whatever is queued synchronously (for `process.on('exit')`). */
  flushSync(): void
  /** Lines dropped because the queue was full, since the destination was created. */
  readonly dropped: number
  /** Characters queued and not yet handed to the operating system. */
  readonly buffered: number
}

/** Builds a LogDestination (see there) on a file descriptor or a file. */
export function createLogDestination(options: LogDestinationOptions = {}): LogDestination {
  const fd = options.path ? openSync(options.path, 'a') : (options.fd ?? 1)
  // A regular file takes a write into the page cache without waiting for the disk, so its
  // batches are written on the spot, as pino.destination() writes files by default: the
  // thread-pool hand-off of an asynchronous write and its callback cost ~40 µs of CPU per
  // batch, ~3 µs per request at 6 000 requests/s (one batch per 5 ms). Pipes, terminals and
  // sockets, which fill up when their reader stalls, keep the asynchronous writes.
  const regularFile = isRegularFile(fd)
  const maxChars = options.maxBufferedChars ?? DEFAULT_MAX_BUFFERED_CHARS
  const name = JSON.stringify(options.name ?? 'convo-commerce')
  let queue: string[] = []
  let queuedChars = 0
  let inFlightLines = 0
  let writing = false
  let dropped = 0
  let droppedReported = 0
  let waiting: Array<(error?: Error) => void> = []
  // The first queued line schedules the write `delayMs` later and a full chunk brings it
  // forward to the turn's end, so that a loaded server gathers hundreds of lines per write(2)
  // instead of paying a thread-pool write and its callback every event-loop turn.
  const delayMs = options.writeDelayMs ?? DEFAULT_WRITE_DELAY_MS
  const chunkChars = options.writeChunkChars ?? DEFAULT_WRITE_CHUNK_CHARS
  let timer: ReturnType<typeof setTimeout> | undefined
  let immediate = false
  const atTurnEnd: (task: () => void) => void =
    typeof setImmediate === 'function' ? setImmediate : (task) => setTimeout(task, 0)
  function startScheduledWrite() {
    immediate = false
    if (timer !== undefined) {
      clearTimeout(timer)
      timer = undefined
    }
    if (!writing && queue.length > 0) startWrite()
  }
  function scheduleWrite() {
    if (writing || immediate) return
    if (queuedChars >= chunkChars) {
      immediate = true
      atTurnEnd(startScheduledWrite)
    } else if (timer === undefined) {
      timer = setTimeout(startScheduledWrite, delayMs)
    }
  }

  function writeAllSync(text: string) {
    const bytes = Buffer.from(text)
    let offset = 0
    while (offset < bytes.length) {
      try {
        offset += writeSync(fd, bytes, offset, bytes.length - offset)
      } catch (error) {
        // A non-blocking pipe that is full: wait for it rather than lose the lines.
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error
      }
    }
  }

  function settle(error?: Error) {
    if (writing || (queue.length > 0 && !error)) return
    const callbacks = waiting
    waiting = []
    for (const done of callbacks) done(error)
  }

  function writeBatch(bytes: Buffer, offset: number) {
    writeAsync(fd, bytes, offset, bytes.length - offset, null, (error, written) => {
      if (error && error.code !== 'EAGAIN') {
        // Nowhere left to report it: keep serving, count the batch as dropped.
        writing = false
        dropped += inFlightLines
        settle(error)
        return
      }
      const next = offset + (error ? 0 : written)
      if (next < bytes.length) {
        if (error) setTimeout(() => writeBatch(bytes, next), 10)
        else writeBatch(bytes, next)
        return
      }
      writing = false
      if (queue.length > 0) startWrite()
      else settle()
    })
  }

  function startWrite() {
    writing = true
    let text = queue.join('')
    inFlightLines = queue.length
    queue = []
    queuedChars = 0
    if (dropped > droppedReported) {
      text += `{"level":"warn","time":"${new Date().toISOString()}","name":${name},"droppedLines":${dropped - droppedReported},"msg":"log lines dropped: the log destination could not keep up"}\n`
      droppedReported = dropped
    }
    if (!regularFile) return writeBatch(Buffer.from(text), 0)
    try {
      writeAllSync(text)
    } catch (error) {
      // Nowhere left to report it (a full disk): keep serving, count the batch as dropped.
      dropped += inFlightLines
      writing = false
      return settle(error as Error)
    }
    writing = false
    settle()
  }

  const destination: LogDestination = {
    write(line: string) {
      if (options.sync) return writeAllSync(line)
      if (queuedChars + line.length > maxChars) {
        dropped++
        return
      }
      queue.push(line)
      queuedChars += line.length
      scheduleWrite()
    },
    flush(done) {
      if (done) waiting.push(done)
      if (!writing && queue.length > 0) startWrite()
      else settle()
    },
    flushSync() {
      if (queue.length === 0) return
      const text = queue.join('')
      queue = []
      queuedChars = 0
      writeAllSync(text)
    },
    get dropped() {
      return dropped
    },
    get buffered() {
      return queuedChars
    },
  }
  return destination
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
  }
}

/** Whether `fd` is a regular file (not a pipe, terminal or socket); false if it cannot be told. */
function isRegularFile(fd: number): boolean {
  try {
    return fstatSync(fd).isFile()
  } catch {
    return false
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
          maxBufferedChars: settings.maxBufferedChars,
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
 */
export interface FixedLineWriter {
  /** Whether the logger's level currently lets `level` lines through. */
  enabled(): boolean
  /**
   * Writes one line. `fields` is the JSON text of the fields between the bindings and `msg`,
   * each preceded by a comma: `,"status":200,"route":"/orders"`.
   */
  write(fields: string): void
}

/** A FixedLineWriter for `level` lines with message `msg` on `log` (see there). */
export function fixedLineWriter(log: Logger, level: Level, msg: string): FixedLineWriter {
  const stream = (log as unknown as Record<symbol, { write(line: string): void }>)[pino.symbols.streamSym]!
  const bindings = (log as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] ?? ''
  const head = `{"level":${JSON.stringify(level)},"time":"`
  const tail = `,"msg":${JSON.stringify(msg)}}\n`
  // Many lines share a millisecond under load; formatting the time is the costliest part.
  let lastMs = -1
  let lastTime = ''
  return {
    enabled: () => log.isLevelEnabled(level),
    write(fields) {
      const ms = Date.now()
      if (ms !== lastMs) {
        lastMs = ms
        lastTime = new Date(ms).toISOString()
      }
      stream.write(`${head}${lastTime}"${bindings}${fields}${tail}`)
    },
  }
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
