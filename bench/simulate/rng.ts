/*
 * The simulator's randomness: a small seeded PRNG (mulberry32) and the few distributions the trace needs. Each part of
 * the trace draws from its own stream (`fork`), so changing how one part draws does not move the others.
 */

/** A seeded source of uniform numbers in [0, 1) and the distributions built on it. */
export interface Rng {
  next (): number
  /** A whole number in [low, high]. */
  int (low: number, high: number): number
  /** True with probability `p`. */
  chance (p: number): boolean
  /** Exponentially distributed with this mean. */
  exponential (mean: number): number
  /** Log-normal with this median and sigma (of the underlying normal). */
  logNormal (median: number, sigma: number): number
  /** A new independent stream, derived from this one's seed and `salt`. */
  fork (salt: number): Rng
}

/** Creates a mulberry32 stream from a 32-bit seed. */
export function createRng (seed: number): Rng {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6D2B79F5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const normal = (): number => {
    // Box-Muller; 1 - next() keeps the logarithm finite
    return Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next())
  }
  return {
    next,
    int: (low, high) => low + Math.floor(next() * (high - low + 1)),
    chance: p => next() < p,
    exponential: mean => -mean * Math.log(1 - next()),
    logNormal: (median, sigma) => median * Math.exp(sigma * normal()),
    fork: salt => createRng(Math.imul(seed ^ 0x9E3779B9, 0x85EBCA6B) ^ Math.imul(salt + 1, 0xC2B2AE35))
  }
}

/** Draws indexes 0..n-1 with Zipf probabilities (rank r weighs 1 / (r + 1)^alpha). */
export function zipfSampler (n: number, alpha: number): (rng: Rng) => number {
  const weights = new Float64Array(n)
  for (let r = 0; r < n; r++) weights[r] = 1 / Math.pow(r + 1, alpha)
  return weightedSampler(weights)
}

/** Draws indexes with probability proportional to `weights` (binary search over the cumulative sums). */
export function weightedSampler (weights: ArrayLike<number>): (rng: Rng) => number {
  const cumulative = new Float64Array(weights.length)
  let sum = 0
  for (let i = 0; i < weights.length; i++) cumulative[i] = sum += weights[i]
  return rng => {
    const x = rng.next() * sum
    let lo = 0
    let hi = cumulative.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cumulative[mid] > x) hi = mid
      else lo = mid + 1
    }
    return lo
  }
}

/** Shuffles `items` in place (Fisher-Yates). */
export function shuffle<T> (items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1))
    const tmp = items[i]
    items[i] = items[j]
    items[j] = tmp
  }
  return items
}
