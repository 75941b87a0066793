/**
 * Time as a component: parts that act on the passing of time (a registry that marks silent nodes offline) take a
 * `Clock`, so a test can drive time forward instead of sleeping through it.
 */
export interface Clock {
  /** Milliseconds since the epoch, as `Date.now()`. */
  now: () => number
  /** Calls `fn` every `ms` until the returned function is called; the timer never keeps the process alive. */
  every: (ms: number, fn: () => void) => () => void
}

/** The real clock: `Date.now()` and unref'd `setInterval`. */
export const systemClock: Clock = {
  now: () => Date.now(),
  every: (ms, fn) => {
    const timer = setInterval(fn, ms)
    timer.unref()
    return () => { clearInterval(timer) }
  }
}
