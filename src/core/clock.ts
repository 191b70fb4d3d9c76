/** Time, injected so that tests control it. */
export interface Clock {
  /** Wall-clock time. */
  now(): Date
  /** Monotonic milliseconds, for durations. */
  monotonic(): number
}

export const systemClock: Clock = {
  now: () => new Date(),
  monotonic: () => performance.now(),
}
