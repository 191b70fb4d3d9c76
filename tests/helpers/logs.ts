import { Writable } from 'node:stream'
import { createLogger, type Logger } from '../../src/core/logger.ts'

export interface LogCapture {
  log: Logger
  lines: Array<Record<string, unknown>>
  text(): string
}

/** A real pino logger (same options as production) writing into memory. */
export function captureLogs(level = 'debug'): LogCapture {
  const raw: string[] = []
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      const text = chunk.toString()
      raw.push(text)
      for (const line of text.split('\n')) if (line.trim()) lines.push(JSON.parse(line))
      done()
    },
  })
  return { log: createLogger({ level, pretty: false }, stream), lines, text: () => raw.join('') }
}
