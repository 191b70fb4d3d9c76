import { describe, expect, test } from 'bun:test'
import { closeSync, mkdtempSync, openSync, readFileSync, readSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { DrizzleQueryError } from 'drizzle-orm/errors'
import pino from 'pino'
import { AppError } from '../../src/core/errors.ts'
import {
  createLogDestination,
  createLogger,
  fixedLineWriter,
  flushLogs,
  loggerOptions,
  prettyDestination,
  withPrimitiveFastPath,
} from '../../src/core/logger.ts'
import { captureLogs } from '../helpers/logs.ts'

const tempFile = () => join(mkdtempSync(join(tmpdir(), 'logger-test-')), 'out.log')
/** The JSON lines of a log file, parsed. */
// biome-ignore lint/suspicious/noExplicitAny: log lines of any shape
const fileLines = (path: string): any[] =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
const flushed = (destination: { flush(done: () => void): void }) =>
  new Promise<void>((resolve) => destination.flush(resolve))

describe('the asynchronous log destination', () => {
  test('writes every line, in order, through a logger', async () => {
    const path = tempFile()
    const destination = createLogDestination({ path })
    const log = createLogger({ level: 'info', pretty: false }, destination)
    for (let i = 0; i < 500; i++) log.info({ i }, 'line')
    await flushLogs(log)
    const lines = fileLines(path) as Array<{ i: number }>
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 500 }, (_, i) => i))
    expect(destination.dropped).toBe(0)
    expect(destination.buffered).toBe(0)
  })

  test('holds at most maxBufferedBytes until its write, drops and counts the rest, then says so', async () => {
    const path = tempFile()
    const destination = createLogDestination({ path, maxBufferedBytes: 120, name: 'svc' })
    const line = (n: number) => `${JSON.stringify({ n, pad: 'x'.repeat(40) })}\n` // 57 characters
    // Lines of one event-loop turn leave together at its end: two fit (114 ≤ 120), a third would make 171.
    for (let n = 1; n <= 10; n++) destination.write(line(n))
    expect(destination.dropped).toBe(8)
    expect(destination.buffered).toBe(114)
    await flushed(destination)
    const written = fileLines(path)
    expect(written.slice(0, 2)).toEqual([
      { n: 1, pad: 'x'.repeat(40) },
      { n: 2, pad: 'x'.repeat(40) },
    ])
    expect(written[2]).toEqual({
      level: 'warn',
      time: written[2].time,
      name: 'svc',
      droppedLines: 8,
      msg: 'log lines dropped: the log destination could not keep up',
    })
    expect(written).toHaveLength(3)
    // Once the backlog is gone, lines are accepted again and the drop is not reported twice.
    destination.write(line(11))
    await flushed(destination)
    expect(fileLines(path).map((l) => l.n ?? 'warn')).toEqual([1, 2, 'warn', 11])
    expect(destination.dropped).toBe(8)
  })

  test('queued lines leave together, writeDelayMs after the first', async () => {
    const path = tempFile()
    const destination = createLogDestination({ path, writeDelayMs: 40 })
    destination.write('{"a":1}\n')
    destination.write('{"a":2}\n')
    expect(readFileSync(path, 'utf8')).toBe('')
    expect(destination.buffered).toBe(16)
    // Past the end of the event-loop turn, before the delay: still queued.
    await new Promise((resolve) => setTimeout(resolve, 5))
    destination.write('{"a":3}\n')
    expect(readFileSync(path, 'utf8')).toBe('')
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n{"a":2}\n{"a":3}\n')
    expect(destination.buffered).toBe(0)
  })

  test('a full chunk leaves at the end of the event-loop turn, without waiting for the delay', async () => {
    const path = tempFile()
    const destination = createLogDestination({ path, writeDelayMs: 60_000, writeChunkBytes: 16 })
    destination.write('{"a":1}\n')
    await new Promise((resolve) => setImmediate(resolve))
    expect(readFileSync(path, 'utf8')).toBe('')
    destination.write('{"a":2}\n')
    expect(readFileSync(path, 'utf8')).toBe('')
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n{"a":2}\n')
    // flush() writes at once whatever is queued.
    destination.write('{"a":3}\n')
    await new Promise<void>((resolve) => destination.flush(() => resolve()))
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n{"a":2}\n{"a":3}\n')
  })

  test('to a regular file a batch is written on the spot; to a pipe it is written asynchronously', async () => {
    const path = tempFile()
    const toFile = createLogDestination({ path, writeDelayMs: 60_000 })
    toFile.write('{"a":1}\n')
    let fileFlushed = false
    toFile.flush(() => {
      fileFlushed = true
    })
    expect(fileFlushed).toBe(true)
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n')

    const fifo = join(mkdtempSync(join(tmpdir(), 'logger-test-')), 'pipe')
    expect(Bun.spawnSync(['mkfifo', fifo]).exitCode).toBe(0)
    // Read-write, so that opening neither blocks nor needs a second process as the reader.
    const fd = openSync(fifo, 'r+')
    try {
      const toPipe = createLogDestination({ fd, writeDelayMs: 60_000 })
      toPipe.write('{"b":1}\n')
      toPipe.write('{"b":2}\n')
      let pipeFlushed = false
      const done = new Promise<void>((resolve) =>
        toPipe.flush(() => {
          pipeFlushed = true
          resolve()
        }),
      )
      expect(pipeFlushed).toBe(false)
      await done
      const buffer = Buffer.alloc(64)
      const read = readSync(fd, buffer, 0, buffer.length, null)
      expect(buffer.toString('utf8', 0, read)).toBe('{"b":1}\n{"b":2}\n')
      expect(toPipe.buffered).toBe(0)
    } finally {
      closeSync(fd)
    }
  })

  test('sync mode writes each line before returning and never drops', () => {
    const path = tempFile()
    const destination = createLogDestination({ path, sync: true, maxBufferedBytes: 1 })
    destination.write('{"a":1}\n')
    destination.write('{"a":2}\n')
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n{"a":2}\n')
    expect(destination.dropped).toBe(0)
  })
})

describe('the log destination, byte by byte', () => {
  const pieces = (destination: ReturnType<typeof createLogDestination>, ...parts: Array<string | number>) => {
    destination.beginLine()
    for (const part of parts) {
      if (typeof part === 'number') destination.appendInteger(part)
      else destination.appendText(part)
    }
    destination.endLine()
  }

  test('lines built in pieces and whole lines keep their order, UTF-8 included', async () => {
    const path = tempFile()
    const destination = createLogDestination({ path, writeDelayMs: 60_000 })
    destination.write('{"a":1}\n')
    pieces(destination, '{"b":', 0, ',"c":', 9, ',"d":', 10, ',"e":', 9_007_199_254_740_991, '}\n')
    pieces(destination, '{"f":"', 'Wanjikũ ☕ 𝄞', '","g":', -1, ',"h":', 1.5, '}\n')
    destination.write('{"i":"é"}\n')
    expect(destination.buffered).toBe(Buffer.byteLength(readableQueue()))
    await flushed(destination)
    expect(readFileSync(path, 'utf8')).toBe(readableQueue())
    expect(destination.buffered).toBe(0)

    function readableQueue() {
      return '{"a":1}\n{"b":0,"c":9,"d":10,"e":9007199254740991}\n{"f":"Wanjikũ ☕ 𝄞","g":-1,"h":1.5}\n{"i":"é"}\n'
    }
  })

  test('a batch larger than one buffer, and a line larger than one, are written whole and in order', async () => {
    const path = tempFile()
    const destination = createLogDestination({
      path,
      writeDelayMs: 60_000,
      writeChunkBytes: 10 * 1024 * 1024,
    })
    const expected: string[] = []
    for (let n = 0; n < 3000; n++) {
      // ~100 bytes each, so lines cross the 256 KiB buffer's end mid-line.
      const pad = 'x'.repeat(n % 97)
      pieces(destination, '{"n":', n, ',"pad":"', pad, '"}\n')
      expected.push(`{"n":${n},"pad":"${pad}"}\n`)
      if (n === 1500) {
        const huge = 'y'.repeat(300 * 1024)
        destination.write(`{"huge":"${huge}"}\n`)
        expected.push(`{"huge":"${huge}"}\n`)
      }
    }
    await flushed(destination)
    expect(readFileSync(path, 'utf8')).toBe(expected.join(''))
  })

  test('a line built past the bound is dropped whole: no partial bytes reach the file', async () => {
    const path = tempFile()
    const destination = createLogDestination({ path, maxBufferedBytes: 40, name: 'svc' })
    pieces(destination, '{"n":', 1, ',"pad":"', 'x'.repeat(10), '"}\n') // 27 bytes
    pieces(destination, '{"n":', 2, ',"pad":"', 'x'.repeat(10), '"}\n') // would make 54
    pieces(destination, '{"n":', 3, '}\n') // 8 more: 35, fits
    expect(destination.dropped).toBe(1)
    expect(destination.buffered).toBe(35)
    await flushed(destination)
    const written = fileLines(path)
    expect(written.map((l) => l.n ?? l.droppedLines)).toEqual([1, 3, 1])
  })

  test('to a pipe, lines logged while a batch is in flight go to another buffer and follow it', async () => {
    const fifo = join(mkdtempSync(join(tmpdir(), 'logger-test-')), 'pipe')
    expect(Bun.spawnSync(['mkfifo', fifo]).exitCode).toBe(0)
    const fd = openSync(fifo, 'r+')
    try {
      const destination = createLogDestination({ fd, writeDelayMs: 60_000 })
      const expected: string[] = []
      for (let round = 0; round < 3; round++) {
        for (let n = 0; n < 50; n++) {
          pieces(destination, '{"round":', round, ',"n":', n, '}\n')
          expected.push(`{"round":${round},"n":${n}}\n`)
        }
        // Not awaited: the next round is logged while this batch is being written.
        destination.flush()
      }
      await flushed(destination)
      const bytes = Buffer.alloc(64 * 1024)
      const read = readSync(fd, bytes, 0, bytes.length, null)
      expect(bytes.toString('utf8', 0, read)).toBe(expected.join(''))
    } finally {
      closeSync(fd)
    }
  })

  test('a line abandoned mid-way (its caller threw) is discarded, not spliced into the next', async () => {
    const path = tempFile()
    const log = createLogger({ level: 'info', pretty: false }, createLogDestination({ path }))
    const writer = fixedLineWriter(log, 'info', 'request')
    const abandon = () => {
      try {
        writer.begin()
        writer.text(`,"r":${JSON.stringify({ id: 1n })}`) // a BigInt: JSON.stringify throws
        writer.end()
      } catch {}
    }
    abandon()
    log.info('next')
    abandon()
    writer.write(',"n":2')
    abandon()
    await flushLogs(log)
    const lines = readFileSync(path, 'utf8').trim().split('\n')
    expect(lines.map((line) => JSON.parse(line).msg)).toEqual(['next', 'request'])
    expect(JSON.parse(lines[1]!).n).toBe(2)
  })

  test('a drop that ends a burst is reported without waiting for another line', async () => {
    const path = tempFile()
    const destination = createLogDestination({ path, maxBufferedBytes: 1000, writeDelayMs: 5, name: 'svc' })
    destination.write(`${JSON.stringify({ pad: 'x'.repeat(2000) })}\n`)
    expect(destination.dropped).toBe(1)
    await new Promise((resolve) => setTimeout(resolve, 50))
    const [report] = fileLines(path)
    expect(report).toEqual(expect.objectContaining({ level: 'warn', name: 'svc', droppedLines: 1 }))
  })

  test('lines queued while a write fails are written or counted, not left waiting', async () => {
    const fifo = join(mkdtempSync(join(tmpdir(), 'logger-test-')), 'pipe')
    expect(Bun.spawnSync(['mkfifo', fifo]).exitCode).toBe(0)
    // A reader that leaves after 1 000 bytes: the batch in flight then fails with EPIPE.
    const reader = Bun.spawn(['sh', '-c', `head -c 1000 "${fifo}" > /dev/null`])
    const fd = openSync(fifo, 'w')
    try {
      // A short delay, so that the drop report's own attempt is over before the fd is closed
      // (whose number the next test's pipe may reuse).
      const destination = createLogDestination({ fd, writeDelayMs: 5 })
      destination.write(`${'A'.repeat(200_000)}\n`)
      destination.flush()
      destination.write('{"b":1}\n')
      await reader.exited
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(destination.buffered).toBe(0)
      expect(destination.dropped).toBe(2)
    } finally {
      closeSync(fd)
    }
  })

  test('flushSync() leaves a batch in flight alone instead of writing into the middle of it', async () => {
    const fifo = join(mkdtempSync(join(tmpdir(), 'logger-test-')), 'pipe')
    expect(Bun.spawnSync(['mkfifo', fifo]).exitCode).toBe(0)
    const out = `${fifo}.out`
    const reader = Bun.spawn(['sh', '-c', `cat "${fifo}" > "${out}"`])
    const fd = openSync(fifo, 'w')
    const big = `${'A'.repeat(4_000_000)}\n`
    try {
      const destination = createLogDestination({ fd, maxBufferedBytes: 64 * 1024 * 1024 })
      destination.write(big)
      destination.flush()
      await new Promise((resolve) => setTimeout(resolve, 1))
      destination.write('B\n')
      destination.flushSync()
      await flushed(destination)
    } finally {
      closeSync(fd)
    }
    await reader.exited
    expect(readFileSync(out, 'utf8') === `${big}B\n`).toBe(true)
  })

  test('sync mode: a line with no pieces writes nothing', () => {
    const path = tempFile()
    const destination = createLogDestination({ path, sync: true })
    destination.beginLine()
    destination.endLine()
    expect(readFileSync(path, 'utf8')).toBe('')
  })

  test('sync mode writes a line built in pieces at its end', () => {
    const path = tempFile()
    const destination = createLogDestination({ path, sync: true })
    destination.beginLine()
    destination.appendText('{"a":')
    expect(readFileSync(path, 'utf8')).toBe('')
    destination.appendInteger(1)
    destination.appendText('}\n')
    destination.endLine()
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n')
  })
})

describe('fixedLineWriter', () => {
  test('writes what pino writes for the same bindings and fields', () => {
    const { log, text } = captureLogs('info')
    const child = log.child({ component: 'x' })
    const writer = fixedLineWriter(child, 'info', 'request')
    writer.write(',"method":"GET","status":200,"durationMs":0.5')
    child.info({ method: 'GET', status: 200, durationMs: 0.5 }, 'request')
    const [fast, viaPino] = text().trim().split('\n')
    const time = (JSON.parse(fast!) as { time: string }).time
    expect(viaPino!.replace(/"time":"[^"]+"/, `"time":"${time}"`)).toBe(fast!)
  })

  test('in pieces, to the production destination, it writes what pino writes', async () => {
    const path = tempFile()
    const destination = createLogDestination({ path })
    const log = createLogger({ level: 'info', pretty: false }, destination).child({ requestId: 'r-1' })
    const writer = fixedLineWriter(log, 'info', 'request')
    writer.begin()
    writer.text(',"method":"GET","status":')
    writer.integer(201)
    writer.text(',"durationMs":')
    writer.decimal(12.3456)
    writer.text(',"route":"/café"')
    writer.end()
    log.info({ method: 'GET', status: 201, durationMs: 12.346, route: '/café' }, 'request')
    await flushLogs(log)
    const [fast, viaPino] = readFileSync(path, 'utf8').trim().split('\n')
    const time = (JSON.parse(fast!) as { time: string }).time
    expect(viaPino!.replace(/"time":"[^"]+"/, `"time":"${time}"`)).toBe(fast!)
  })

  test('decimal() writes exactly what JSON writes for Math.round(value * 1000) / 1000', () => {
    const { log, text } = captureLogs('info')
    const toFile = tempFile()
    const destination = createLogDestination({ path: toFile, sync: true })
    const fileLog = createLogger({ level: 'info', pretty: false }, destination)
    const values = [
      0,
      0.0004,
      0.0005,
      0.001,
      0.01,
      0.1,
      0.5,
      0.9995,
      1,
      1.5,
      2.25,
      31.25,
      999.9995,
      1000,
      1000.1,
      12.3456,
      // A fraction that opens with zeros or ends in them: each drop of a trailing zero.
      0.005,
      0.05,
      0.012,
      0.12,
      0.102,
      3.001,
      3.01,
      3.1,
      3.11,
      3.101,
      86_400_000.001,
      999_999_999.999,
      1e9,
      1e12,
      2 ** 53,
      -0.0004,
      -1.25,
      // Random durations over the range a request takes, at every precision.
      ...Array.from({ length: 2000 }, (_, i) => Math.random() * 10 ** (i % 10)),
    ]
    for (const target of [log, fileLog]) {
      const writer = fixedLineWriter(target, 'info', 'd')
      for (const value of values) {
        writer.begin()
        writer.text(',"v":')
        writer.decimal(value)
        writer.end()
      }
    }
    const written = (raw: string) =>
      raw
        .trim()
        .split('\n')
        .map((l) => /"v":([^,}]*)/.exec(l)![1])
    const expected = values.map((value) => String(Math.round(value * 1000) / 1000))
    expect(written(text())).toEqual(expected)
    expect(written(readFileSync(toFile, 'utf8'))).toEqual(expected)
  })

  test('follows the logger level', () => {
    const { log, lines } = captureLogs('info')
    const writer = fixedLineWriter(log, 'info', 'request')
    expect(writer.enabled()).toBe(true)
    log.level = 'warn'
    expect(writer.enabled()).toBe(false)
    expect(lines).toEqual([])
  })
})

describe("the wildcard redactor's fast path for primitives", () => {
  /** Lines written by a logger, `time` dropped (two loggers cannot share a clock). */
  function collect(
    make: (destination: { write(line: string): void }) => pino.Logger,
    use: (log: pino.Logger) => void,
  ) {
    const lines: string[] = []
    use(make({ write: (line) => lines.push(line) }))
    return lines.map((line) => {
      const { time: _time, ...rest } = JSON.parse(line) as Record<string, unknown>
      return JSON.stringify(rest)
    })
  }
  const boom = new Error('boom')
  const writes = (log: pino.Logger) => {
    const child = log.child({ requestId: 'r-1', trace_id: 'ab'.repeat(16), n: 7, ok: true })
    child.info(
      { s: 'quote " and \\ and \u2028', n: 1.5, big: 10n, inf: Number.POSITIVE_INFINITY, nan: Number.NaN },
      'primitives',
    )
    child.child({ tenantId: 't-1', customer: { phone: '+15550100001', name: 'Ann' } }).warn('nested binding')
    log.info(
      { apiKey: 'ck_live_secret', phone: '+15550100002', order: { phone: '+15550100003', id: 'o-1' } },
      'sensitive',
    )
    log.info(
      { list: ['a', 1], nothing: null, missing: undefined, customer: { phone: '+15550100004' } },
      'objects',
    )
    log.child({ token: 'tok_secret', alertPhones: ['+15550100005'] }).error({ err: boom }, 'top-level keys')
  }

  test("writes exactly what pino's own redactor writes", () => {
    const settings = { level: 'info' }
    const reference = collect((d) => pino(loggerOptions(settings), d), writes)
    const fast = collect((d) => withPrimitiveFastPath(pino(loggerOptions(settings), d)), writes)
    expect(fast).toEqual(reference)
    // The comparison is only worth something if redaction happened in it.
    const joined = fast.join('\n')
    expect(joined).not.toMatch(/\+1555010000|ck_live_secret|tok_secret/)
    expect(joined.match(/\[redacted\]/g)).toHaveLength(7)
    expect(JSON.parse(fast[0]!)).toMatchObject({
      requestId: 'r-1',
      n: 1.5,
      ok: true,
      big: 10,
      inf: null,
      nan: null,
    })
  })

  test('is installed by createLogger', () => {
    const log = createLogger({ level: 'info', pretty: false }, { write() {} })
    const stringifiers = (log as unknown as Record<symbol, Record<symbol, (v: unknown) => string>>)[
      pino.symbols.stringifiersSym
    ]!
    const wildcard = stringifiers[pino.symbols.wildcardFirstSym]!
    expect(wildcard('plain')).toBe('"plain"')
    expect(wildcard({ phone: '+15550100006' })).toBe('{"phone":"[redacted]"}')
  })
})

describe('error lines', () => {
  // A database error carries the statement's parameters: what a request sent, which redaction
  // by key name cannot see. A newcomer's order with a NUL in the name put the customer's phone
  // number on the error line three times (message, stack, params).
  const phone = '+254733444555'
  const failed = () => {
    const cause = Object.assign(new Error('duplicate key value violates unique constraint "orders_pkey"'), {
      code: '23505',
    })
    return new DrizzleQueryError(
      'insert into "orders" ("phone", "name") values ($1, $2)',
      [phone, 'Amina'],
      cause,
    )
  }

  test('a failed statement is logged without its parameters', () => {
    const logs = captureLogs()
    logs.log.error({ err: failed(), status: 500 }, 'request failed')
    expect(logs.text()).not.toContain('254733444555')
    expect(logs.text()).not.toContain('Amina')
    const err = logs.lines[0]!.err as Record<string, unknown>
    expect(Object.keys(err).sort()).toEqual(['message', 'query', 'stack', 'type'])
    expect(err.type).toBe('DrizzleQueryError')
    expect(err.message).toBe(
      'Failed query: insert into "orders" ("phone", "name") values ($1, $2)\nparams: [redacted]: duplicate key value violates unique constraint "orders_pkey"',
    )
    expect(err.stack).toStartWith(
      'Error: Failed query: insert into "orders" ("phone", "name") values ($1, $2)\nparams: [redacted]\n    at ',
    )
    expect(err.stack).toContain(
      'caused by: Error: duplicate key value violates unique constraint "orders_pkey"',
    )
  })

  test('phone numbers and credentials in any error message are scrubbed, as for Sentry', () => {
    const logs = captureLogs()
    logs.log.warn({ err: new Error(`WhatsApp refused ${phone}: Bearer EAAGabcdef123456`) }, 'send failed')
    const err = logs.lines[0]!.err as Record<string, string>
    expect(err.message).toBe('WhatsApp refused [phone]: Bearer [Filtered]')
    expect(logs.text()).not.toContain('254733444555')
    expect(logs.text()).not.toContain('EAAGabcdef123456')
  })

  test("a URL's password is cut out of every string of an error, the URL parser's `input` too", () => {
    // What postgres.js' URL parsing throws for postgres://…:99999: Node's ERR_INVALID_URL
    // carries the whole URL. Parsers read up to the authority's last @, so `p@ss` is the password.
    const logs = captureLogs()
    const invalid = Object.assign(new TypeError('Invalid URL'), {
      code: 'ERR_INVALID_URL',
      input: 'postgres://shop:p@ss-w0rd@db.internal:99999/shop',
    })
    logs.log.fatal({ err: invalid }, 'start-up failed')
    logs.log.error(
      { err: new Error('cannot reach https://bot:hunter2@hooks.example.com/x, nor http://h/a@b') },
      'x',
    )
    const [first, second] = logs.lines.map((line) => line.err as Record<string, string>)
    expect(first!.input).toBe('postgres://shop:[Filtered]@db.internal:99999/shop')
    expect(second!.message).toBe('cannot reach https://bot:[Filtered]@hooks.example.com/x, nor http://h/a@b')
    expect(second!.stack).toStartWith(
      'Error: cannot reach https://bot:[Filtered]@hooks.example.com/x, nor http://h/a@b\n    at ',
    )
    expect(logs.text()).not.toContain('ss-w0rd')
    expect(logs.text()).not.toContain('hunter2')
    // The error itself is left as it was: it may still be thrown on.
    expect(invalid.input).toBe('postgres://shop:p@ss-w0rd@db.internal:99999/shop')
  })

  test('a value that is not an Error is logged as it is', () => {
    const logs = captureLogs()
    logs.log.error({ err: 'timeout' }, 'x')
    expect(logs.lines[0]!.err).toBe('timeout')
  })
})

describe('development logs (prettyDestination)', () => {
  /** What `bun run dev` prints for these entries, colours off. */
  function printed(write: (log: ReturnType<typeof createLogger>) => void): string[] {
    const chunks: string[] = []
    const sink = new Writable({
      write(chunk, _encoding, done) {
        chunks.push(chunk.toString())
        done()
      },
    })
    const log = pino(
      loggerOptions({ level: 'info' }),
      prettyDestination({ colorize: false, destination: sink }),
    )
    write(log)
    return chunks
      .join('')
      .trimEnd()
      .split('\n')
      .map((line) => line.replace(/^\[[0-9:.]+\] /, ''))
  }

  test("an error of the service's vocabulary is part of its line: type, code, message, where", () => {
    const lines = printed((log) =>
      log.error(
        {
          err: new AppError(502, 'PROVIDER_ERROR', 'Payment provider sandbox failed', {
            payment: { id: 'p1' },
          }),
          requestId: 'r1',
        },
        'request failed',
      ),
    )
    expect(lines).toEqual([
      expect.stringMatching(
        /^ERROR: request failed — AppError PROVIDER_ERROR: Payment provider sandbox failed \(at .*tests\/core\/logger\.test\.ts:\d+:\d+\) \{"requestId":"r1"\}$/,
      ),
    ])
  })

  test('any other error keeps its stack, one frame a line, below its line', () => {
    const lines = printed((log) => {
      try {
        JSON.parse('{')
      } catch (err) {
        log.error({ err }, 'request failed')
      }
    })
    expect(lines[0]).toMatch(
      /^ERROR: request failed — SyntaxError: JSON Parse error: .* \(at .+logger\.test\.ts:\d+:\d+\)$/,
    )
    expect(lines.length).toBeGreaterThan(1)
    for (const frame of lines.slice(1, -1)) expect(frame).toMatch(/^\s+at /)
  })
})
