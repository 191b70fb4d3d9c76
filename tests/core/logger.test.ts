import { describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogDestination, createLogger, fixedLineWriter, flushLogs } from '../../src/core/logger.ts'
import { captureLogs } from '../helpers/logs.ts'

const tempFile = () => join(mkdtempSync(join(tmpdir(), 'logger-test-')), 'out.log')
const flushed = (destination: { flush(done: () => void): void }) =>
  new Promise<void>((resolve) => destination.flush(resolve))

describe('the asynchronous log destination', () => {
  test('writes every line, in order, through a logger', async () => {
    const path = tempFile()
    const destination = createLogDestination({ path })
    const log = createLogger({ level: 'info', pretty: false }, destination)
    for (let i = 0; i < 500; i++) log.info({ i }, 'line')
    await flushLogs(log)
    const lines = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { i: number })
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 500 }, (_, i) => i))
    expect(destination.dropped).toBe(0)
    expect(destination.buffered).toBe(0)
  })

  test('holds at most maxBufferedChars until its write, drops and counts the rest, then says so', async () => {
    const path = tempFile()
    const destination = createLogDestination({ path, maxBufferedChars: 120, name: 'svc' })
    const line = (n: number) => `${JSON.stringify({ n, pad: 'x'.repeat(40) })}\n` // 57 characters
    // Lines of one event-loop turn leave together at its end: two fit (114 ≤ 120), a third would make 171.
    for (let n = 1; n <= 10; n++) destination.write(line(n))
    expect(destination.dropped).toBe(8)
    expect(destination.buffered).toBe(114)
    await flushed(destination)
    const written = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
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
    expect(
      readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).n ?? 'warn'),
    ).toEqual([1, 2, 'warn', 11])
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
    const destination = createLogDestination({ path, writeDelayMs: 60_000, writeChunkChars: 16 })
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

  test('sync mode writes each line before returning and never drops', () => {
    const path = tempFile()
    const destination = createLogDestination({ path, sync: true, maxBufferedChars: 1 })
    destination.write('{"a":1}\n')
    destination.write('{"a":2}\n')
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n{"a":2}\n')
    expect(destination.dropped).toBe(0)
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

  test('follows the logger level', () => {
    const { log, lines } = captureLogs('info')
    const writer = fixedLineWriter(log, 'info', 'request')
    expect(writer.enabled()).toBe(true)
    log.level = 'warn'
    expect(writer.enabled()).toBe(false)
    expect(lines).toEqual([])
  })
})
