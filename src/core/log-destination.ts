import { fstatSync, openSync, write as writeAsync, writeSync } from 'node:fs'
import type { DestinationStream } from 'pino'

/**
 * Default bound of what an asynchronous destination holds while its writes are in flight:
 * 4 MiB, about 14 000 access-log lines, or most of a second of lines at the rates a single
 * process serves.
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 4 * 1024 * 1024

/**
 * How long a log line may wait to be written together with the next ones. What a write(2)
 * costs a loaded server is mostly fixed per call: measured inside the served process
 * (`GET /products/:id` on PostgreSQL under wrk, CPU of each synchronous write to the access
 * log file), about 80 µs per write plus 0.25 µs per KB (82 KB batches 103-123 µs, 295-354 KB
 * ones 154-259), where the same write in a tight loop costs 39 µs: between batches the
 * kernel's write path goes cold. At that route's 10 000-12 000 lines a second, 25 ms batches
 * cost 0.39 µs of write(2) per request, 100 ms ones 0.16-0.23. A person tailing the log does
 * not notice a tenth of a second, and a process killed outright loses at most that much
 * (an orderly exit writes what is queued).
 */
export const DEFAULT_WRITE_DELAY_MS = 100

/**
 * Queued bytes that leave at the end of the event-loop turn without waiting for the delay:
 * about 1 600 access lines. At `full`'s 65 000 requests a second that is a write every 8 ms;
 * there 512 KiB batches cost 0.43 µs of write(2) per line against 0.59 for 128 KiB ones
 * (CPU inside each write, 24 alternations of two servers), most of it the page cache the
 * file grows into (about 1.3 µs per KB at that rate, whatever the batch). To a pipe an
 * asynchronous batch of 64 lines cost 0.64 µs per line and one of 256 lines 0.33-0.45 µs:
 * the write's fixed cost spread over more lines again.
 */
const DEFAULT_WRITE_CHUNK_BYTES = 512 * 1024

/**
 * Size of the byte buffer lines are encoded into: a batch of DEFAULT_WRITE_CHUNK_BYTES and
 * the lines logged in the rest of its event-loop turn fit, so one buffer, allocated once,
 * is reused from its start batch after batch.
 */
const BUFFER_BYTES = 1024 * 1024

export interface LogDestinationOptions {
  /** File descriptor to write to (1 = standard output) when `path` is not given. */
  fd?: number
  /** File to append to; opened once, synchronously. */
  path?: string
  /** One write(2) per line, on the caller's stack; nothing is ever buffered or dropped. */
  sync?: boolean
  /** Most bytes held while a write is in flight; lines beyond are dropped and counted. */
  maxBufferedBytes?: number
  /** `name` of the line that reports dropped lines (the logger's name). */
  name?: string
  /**
   * Longest a queued line waits for its write, in milliseconds (default
   * DEFAULT_WRITE_DELAY_MS), unless `writeChunkBytes` fill up first.
   */
  writeDelayMs?: number
  /** Queued bytes that are written at the end of the event-loop turn without waiting (default 512 KiB). */
  writeChunkBytes?: number
}

/**
 * Builds one log line in a destination's buffer, piece by piece, with no JavaScript string of
 * the line's own: `beginLine()`, any number of `appendText`/`appendInteger`, `endLine()`, all
 * in one synchronous run. FixedLineWriter uses it when the logger writes to a LogDestination.
 *
 * Why: under load the access line's string (a template literal's rope of a dozen parts,
 * flattened when the batch is joined, then encoded again by `Buffer.from`) was most of what
 * the access log cost a served request: 7.9 against 4.3 µs CPU per request over the
 * uninstrumented `GET /products/:id` on PostgreSQL, paired bursts on a slow host, with the
 * same line encoded straight into a reused buffer. The work per line is about the same in a
 * tight loop; the difference is the garbage, whose allocation and collection a loaded server
 * pays for with its caches.
 */
export interface LineSink {
  /** Starts a line. */
  beginLine(): void
  /**
   * Appends text to the line as UTF-8. The caller vouches that the result is valid JSON: a
   * constant, or a value it checked needs no escaping (or escaped with JSON.stringify). Each
   * piece is encoded on its own, so a piece must not end inside a surrogate pair.
   */
  appendText(text: string): void
  /** Appends a non-negative safe integer in decimal (other numbers as `String(value)`). */
  appendInteger(value: number): void
  /**
   * Appends `thousandths / 1000` as JSON writes it (`12.3`, `0.045`, `7`), for an integer
   * from 0 to 10^12, where the digits below are exactly what `String()` prints; other
   * values as `String(thousandths / 1000)`. One call for what took an integer, a point and
   * the fraction's digits.
   */
  appendThousandths(thousandths: number): void
  /**
   * Ends the line: it is queued whole, or dropped whole and counted when the queue would
   * pass its bound.
   */
  endLine(): void
}

/**
 * A pino destination that writes in batches and never holds more than a bounded amount; to a
 * pipe, terminal or socket the batches are written asynchronously, to a regular file on the
 * spot (see createLogDestination).
 *
 * Lines are encoded into a reused byte buffer as they arrive, whether pino hands over a line
 * or a FixedLineWriter builds one piece by piece (LineSink), so a queued line holds no
 * JavaScript string and a batch needs no join (unlike sonic-boom, whose per-line
 * `Buffer.byteLength` of the growing chunk made its cost and its garbage grow with the
 * backlog). Queued lines leave as one write `writeDelayMs` after the first of them, or at the
 * end of the event-loop turn once `writeChunkBytes` are queued (as sonic-boom's `minLength`
 * gathers writes), and lines logged while a write is in flight leave as one write once it
 * completes. When the destination cannot keep up (a slow pipe, a full disk) and the queue
 * reaches `maxBufferedBytes`, further lines are dropped and counted in `dropped`, so a log
 * flood costs a bounded amount of memory instead of growing the heap until the process dies;
 * the next batch written after the backlog clears says how many were lost.
 */
export interface LogDestination extends DestinationStream, LineSink {
  write(line: string): void
  /** Calls `done` once every line accepted so far has been written. */
  flush(done?: (error?: Error) => void): void
  /**
   * Writes whatever is queued synchronously (for `process.on('exit')`); nothing while an
   * asynchronous write is in flight, whose bytes would otherwise be interleaved.
   */
  flushSync(): void
  /** Lines dropped because the queue was full, since the destination was created. */
  readonly dropped: number
  /** Bytes queued and not yet handed to the operating system. */
  readonly buffered: number
}

/** Node's Buffer#utf8Write (Bun, Node and Deno have it), else the documented Buffer#write. */
type Utf8Write = (buffer: Buffer, text: string, offset: number) => number
const utf8Write: Utf8Write =
  typeof (Buffer.prototype as { utf8Write?: unknown }).utf8Write === 'function'
    ? (buffer, text, offset) =>
        (buffer as unknown as { utf8Write(t: string, o: number): number }).utf8Write(text, offset)
    : (buffer, text, offset) => buffer.write(text, offset)

/** Whether `fd` is a regular file (not a pipe, terminal or socket); false if it cannot be told. */
function isRegularFile(fd: number): boolean {
  try {
    return fstatSync(fd).isFile()
  } catch {
    return false
  }
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
  const maxBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES
  const name = JSON.stringify(options.name ?? 'convo-commerce')
  const delayMs = options.writeDelayMs ?? DEFAULT_WRITE_DELAY_MS
  const chunkBytes = options.writeChunkBytes ?? DEFAULT_WRITE_CHUNK_BYTES

  // The queue: buffers filled before `buffer` (only when a batch outgrew one), then `buffer`
  // up to `used`. A line being built starts at `lineStart` of `buffer`.
  let full: Buffer[] = []
  let fullBytes = 0
  let buffer: Buffer | undefined
  let used = 0
  let lineStart = 0
  let queuedLines = 0
  // A buffer handed to an asynchronous write, reused once the write has completed.
  let spare: Buffer | undefined
  let inFlightLines = 0
  let writing = false
  let dropped = 0
  let droppedReported = 0
  let waiting: Array<(error?: Error) => void> = []
  let timer: ReturnType<typeof setTimeout> | undefined
  let immediate = false
  const atTurnEnd: (task: () => void) => void =
    typeof setImmediate === 'function' ? setImmediate : (task) => setTimeout(task, 0)

  /** Makes room for `bytes` more bytes of the current line, which moves along if it must. */
  function reserve(bytes: number): Buffer {
    if (buffer !== undefined && used + bytes <= buffer.length) return buffer
    const lineBytes = used - lineStart
    const next = spare !== undefined && lineBytes + bytes <= spare.length ? spare : undefined
    spare = undefined
    const fresh = next ?? Buffer.allocUnsafe(Math.max(BUFFER_BYTES, lineBytes + bytes))
    if (buffer !== undefined) {
      if (lineBytes > 0) buffer.copy(fresh, 0, lineStart, used)
      if (lineStart > 0) {
        full.push(buffer.subarray(0, lineStart))
        fullBytes += lineStart
      }
    }
    buffer = fresh
    used = lineBytes
    lineStart = 0
    return fresh
  }

  /** Writes a non-negative safe integer's decimal digits at `used` of `target` (room reserved). */
  function writeDigits(target: Buffer, value: number) {
    if (value < 10) {
      target[used++] = 48 + value
      return
    }
    let digits = 1
    for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++
    let at = used + digits
    used = at
    for (let rest = value; at > used - digits; rest = Math.floor(rest / 10)) target[--at] = 48 + (rest % 10)
  }

  function append(text: string) {
    // At most three UTF-8 bytes per UTF-16 code unit.
    const target = reserve(text.length * 3)
    used += utf8Write(target, text, used)
  }

  const queuedBytes = () => fullBytes + used
  /** Whether a write has something to do: queued lines, or a drop not yet reported. */
  const pending = () => queuedLines > 0 || dropped > droppedReported

  function writeAllSync(bytes: Uint8Array) {
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
    if (writing || (pending() && !error)) return
    const callbacks = waiting
    waiting = []
    for (const done of callbacks) done(error)
  }

  /** Takes the queue as one byte array, the dropped-lines report appended; its lines in `takenLines`. */
  let takenLines = 0
  function takeQueue(): Uint8Array {
    // Bytes after the last complete line belong to a line abandoned mid-way (its caller threw).
    used = lineStart
    if (dropped > droppedReported) {
      lineStart = used
      append(
        `{"level":"warn","time":"${new Date().toISOString()}","name":${name},"droppedLines":${dropped - droppedReported},"msg":"log lines dropped: the log destination could not keep up"}\n`,
      )
      droppedReported = dropped
    }
    const current = buffer === undefined ? new Uint8Array(0) : buffer.subarray(0, used)
    const bytes = full.length === 0 ? current : Buffer.concat([...full, current])
    takenLines = queuedLines
    queuedLines = 0
    full = []
    fullBytes = 0
    used = 0
    lineStart = 0
    return bytes
  }

  function writeBatch(bytes: Uint8Array, offset: number, owner: Buffer | undefined) {
    writeAsync(fd, bytes, offset, bytes.length - offset, null, (error, written) => {
      if (error && error.code !== 'EAGAIN') {
        // Nowhere left to report it: keep serving, count the batch as dropped.
        writing = false
        dropped += inFlightLines
        settle(error)
        // Lines logged during the failed write found a write in flight and scheduled none.
        if (pending()) scheduleWrite()
        return
      }
      const next = offset + (error ? 0 : written)
      if (next < bytes.length) {
        if (error) setTimeout(() => writeBatch(bytes, next, owner), 10)
        else writeBatch(bytes, next, owner)
        return
      }
      writing = false
      // A buffer grown for an outsized line is not kept: it goes with the write.
      if (owner !== undefined && owner.length <= BUFFER_BYTES) spare ??= owner
      if (pending()) startWrite()
      else settle()
    })
  }

  /** A buffer grown for an outsized line is not kept once its bytes are written. */
  function releaseOutsizedBuffer() {
    if (buffer !== undefined && buffer.length > BUFFER_BYTES) buffer = undefined
  }

  function startWrite() {
    writing = true
    if (!regularFile) {
      // The written buffer stays the write's until its callback; new lines go to another.
      const owner = full.length === 0 ? buffer : undefined
      const bytes = takeQueue()
      inFlightLines = takenLines
      buffer = undefined
      return writeBatch(bytes, 0, owner)
    }
    try {
      const bytes = takeQueue()
      inFlightLines = takenLines
      writeAllSync(bytes)
      releaseOutsizedBuffer()
    } catch (error) {
      // Nowhere left to report it (a full disk): keep serving, count the batch as dropped.
      dropped += inFlightLines
      writing = false
      return settle(error as Error)
    }
    writing = false
    settle()
  }

  function startScheduledWrite() {
    immediate = false
    if (timer !== undefined) {
      clearTimeout(timer)
      timer = undefined
    }
    if (!writing && pending()) startWrite()
  }

  // The first queued line schedules the write `delayMs` later and a full chunk brings it
  // forward to the turn's end, so that a loaded server gathers hundreds of lines per write(2)
  // instead of paying a thread-pool write and its callback every event-loop turn.
  function scheduleWrite() {
    if (writing || immediate) return
    if (queuedBytes() >= chunkBytes) {
      immediate = true
      atTurnEnd(startScheduledWrite)
    } else if (timer === undefined) {
      timer = setTimeout(startScheduledWrite, delayMs)
    }
  }

  /** The line built since `lineStart` is complete: queue it, write it (sync) or drop it. */
  function lineDone() {
    if (options.sync) {
      if (buffer === undefined) return
      const bytes = buffer.subarray(lineStart, used)
      used = lineStart
      writeAllSync(bytes)
      releaseOutsizedBuffer()
      return
    }
    if (queuedBytes() > maxBytes) {
      used = lineStart
      dropped++
      // The report goes out with the next batch, which this schedules if nothing else does.
      scheduleWrite()
      return
    }
    lineStart = used
    queuedLines++
    scheduleWrite()
  }

  return {
    write(line: string) {
      // A line begun and never ended (its caller threw mid-way) is discarded.
      used = lineStart
      append(line)
      lineDone()
    },
    beginLine() {
      used = lineStart
    },
    appendText: append,
    appendInteger(value: number) {
      if (!Number.isSafeInteger(value) || value < 0) return append(String(value))
      writeDigits(reserve(16), value)
    },
    appendThousandths(thousandths: number) {
      if (!(Number.isInteger(thousandths) && thousandths >= 0 && thousandths <= 1e12)) {
        return append(String(thousandths / 1000))
      }
      const fraction = thousandths % 1000
      const target = reserve(24)
      writeDigits(target, (thousandths - fraction) / 1000)
      if (fraction === 0) return
      // Three digits after the point, then the trailing zeros taken back (JSON writes none).
      const tenths = Math.floor(fraction / 100)
      const hundredths = Math.floor(fraction / 10) % 10
      const last = fraction % 10
      target[used] = 46
      target[used + 1] = 48 + tenths
      target[used + 2] = 48 + hundredths
      target[used + 3] = 48 + last
      used += last !== 0 ? 4 : hundredths !== 0 ? 3 : 2
    },
    endLine: lineDone,
    flush(done) {
      if (done) waiting.push(done)
      if (!writing && pending()) startWrite()
      else settle()
    },
    flushSync() {
      // Bytes written now would land inside a batch still being written asynchronously.
      if (writing || !pending()) return
      writeAllSync(takeQueue())
    },
    get dropped() {
      return dropped
    },
    get buffered() {
      return queuedBytes()
    },
  }
}
