import { describe, expect, test } from 'bun:test'
import { START_TIMEOUT_MS, waitForDocument } from '../../scripts/openapi-lint.ts'

const URL = 'http://127.0.0.1:1/swagger/json'

/** A clock that only moves when the waiter sleeps, and a fetch that answers from `readyAt` on. */
function fakeService(readyAt: number) {
  let clock = 0
  const asked: number[] = []
  return {
    asked,
    now: () => clock,
    sleep: async (ms: number) => {
      clock += ms
    },
    fetch: async () => {
      asked.push(clock)
      if (clock < readyAt) throw new TypeError('Unable to connect. Is the computer able to access the url?')
      return new Response('{"openapi":"3.0.3"}')
    },
  }
}

const running = () => new Promise<number>(() => {})

describe('docs:lint waits for the service it started', () => {
  test('a first start that takes 57 s (initdb under load) is waited for, not failed at 30 s', async () => {
    const service = fakeService(57_000)
    const doc = await waitForDocument(URL, { exited: running(), ...service })
    expect(doc).toBe('{"openapi":"3.0.3"}')
    expect(service.asked.at(-1)).toBe(57_000)
  })

  test('a service that never answers fails after START_TIMEOUT_MS (180 s), naming the URL', async () => {
    expect(START_TIMEOUT_MS).toBe(180_000)
    const service = fakeService(Number.POSITIVE_INFINITY)
    await expect(waitForDocument(URL, { exited: running(), ...service })).rejects.toThrow(
      new Error(`${URL} did not answer within 180 s`),
    )
    expect(service.now()).toBe(180_000)
  })

  test('a service that exits is reported at once with its exit code, not after the timeout', async () => {
    const service = fakeService(Number.POSITIVE_INFINITY)
    await expect(waitForDocument(URL, { exited: Promise.resolve(1), ...service })).rejects.toThrow(
      new Error(`the service exited with code 1 before serving ${URL} (its output is above)`),
    )
    expect(service.now()).toBe(250)
  })
})
