import type { Clock } from '../../core/clock.ts'

/** A clock that stands still until a test moves it; timers due on the way run in order, each at its own time. */
export interface ManualClock extends Clock {
  /** Moves time forward by `ms`, running every timer that falls due on the way. */
  advance: (ms: number) => void
}

interface Timer { due: number, ms: number, fn: () => void }

/** A manual clock starting at `start` ms since the epoch. */
export function manualClock (start = Date.UTC(2026, 0, 1)): ManualClock {
  let now = start
  const timers = new Set<Timer>()
  return {
    now: () => now,
    every: (ms, fn) => {
      if (!(ms > 0)) throw new RangeError('ms must be > 0')
      const timer = { due: now + ms, ms, fn }
      timers.add(timer)
      return () => { timers.delete(timer) }
    },
    advance: ms => {
      const end = now + ms
      for (;;) {
        let next: Timer | undefined
        for (const timer of timers) if (timer.due <= end && (next == null || timer.due < next.due)) next = timer
        if (next == null) break
        now = next.due
        next.due += next.ms
        next.fn()
      }
      now = end
    }
  }
}
