import { systemClock } from '../clock.ts'
import { TooManyAttemptsError } from './errors.ts'
import type { Clock } from '../clock.ts'

/*
 * Slows password guessing, per account and per client address (each is a key): a few failures are free, then
 * every further attempt must wait twice as long as the one before (1 s, 2 s, 4 s ... up to 15 min) after the last
 * failure. A success clears the account's key and the address's. Failures are forgotten 15 minutes after the last
 * one. Memory is bounded: the oldest keys go first.
 */

export interface LoginLimiterInit {
  /** Failures allowed before waiting starts. @default 5 */
  freeFailures?: number
  /** The longest wait, and how long failures are remembered. @default 900000 (15 min) */
  maxDelayMs?: number
  /** Most keys kept. @default 100000 */
  maxKeys?: number
}

export interface LoginLimiter {
  /** Throws TooManyAttemptsError when any key must still wait. */
  check (keys: readonly string[]): void
  /** Counts a failed login against every key. */
  failed (keys: readonly string[]): void
  /** Clears the keys after a good login. */
  succeeded (keys: readonly string[]): void
}

/** A login limiter kept in memory. */
export function createLoginLimiter (components: { clock?: Clock } = {}, init: LoginLimiterInit = {}): LoginLimiter {
  const clock = components.clock ?? systemClock
  const free = init.freeFailures ?? 5
  const maxDelayMs = init.maxDelayMs ?? 15 * 60_000
  const maxKeys = init.maxKeys ?? 100_000
  const failures = new Map<string, { count: number, lastMs: number }>()

  function current (key: string, now: number): { count: number, lastMs: number } | undefined {
    const entry = failures.get(key)
    if (entry != null && now - entry.lastMs > maxDelayMs) {
      failures.delete(key)
      return undefined
    }
    return entry
  }

  return {
    check (keys) {
      const now = clock.now()
      let waitMs = 0
      for (const key of keys) {
        const entry = current(key, now)
        if (entry == null || entry.count < free) continue
        const delay = Math.min(maxDelayMs, 1000 * 2 ** (entry.count - free))
        waitMs = Math.max(waitMs, entry.lastMs + delay - now)
      }
      if (waitMs > 0) throw new TooManyAttemptsError('too many failed logins: wait before trying again', Math.ceil(waitMs / 1000))
    },
    failed (keys) {
      const now = clock.now()
      for (const key of keys) {
        const entry = current(key, now) ?? { count: 0, lastMs: now }
        failures.delete(key)
        failures.set(key, { count: entry.count + 1, lastMs: now })
        if (failures.size > maxKeys) failures.delete(failures.keys().next().value as string)
      }
    },
    succeeded (keys) {
      for (const key of keys) failures.delete(key)
    }
  }
}
