/*
 * Exponentially decayed counters: a score that halves every `halfLifeMs` without a timer. A counter is kept as its
 * value at one moment; reading or adding at a later moment decays it first. Adding at an earlier moment (reports
 * arrive out of order) decays the amount instead, so the order of additions never changes the result.
 */

/** A decayed count: its value at `at` (ms). */
export interface Decayed {
  value: number
  at: number
}

/** The factor a score is multiplied by after `elapsedMs`. */
export function decayFactor (elapsedMs: number, halfLifeMs: number): number {
  return elapsedMs <= 0 ? 1 : Math.pow(2, -elapsedMs / halfLifeMs)
}

/** `counter`'s value at `at`. */
export function valueAt (counter: Decayed | undefined, at: number, halfLifeMs: number): number {
  if (counter == null) return 0
  return counter.value * decayFactor(at - counter.at, halfLifeMs)
}

/** Adds `amount` counted at `at` to `counter` (created when absent); returns the counter. */
export function addDecayed (counter: Decayed | undefined, amount: number, at: number, halfLifeMs: number): Decayed {
  if (counter == null) return { value: amount, at }
  if (at >= counter.at) {
    counter.value = counter.value * decayFactor(at - counter.at, halfLifeMs) + amount
    counter.at = at
  } else {
    counter.value += amount * decayFactor(counter.at - at, halfLifeMs)
  }
  return counter
}
